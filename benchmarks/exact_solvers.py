"""Benchmark: exact TTFT feasibility with CP-SAT, the DP, auto, and the MIP peer (HiGHS), one run.

Streams: groups of 4 prompts sharing a 300-token prefix with 30-token unique suffixes, Poisson
arrivals at offered load ``--load`` (rate = load / mean prompt length), the first n arrivals. For
each n: the optimum max TTFT ``T*`` (``minimize_max_ttft``, auto), then the feasible case
``T = T*`` and the infeasible case ``T = T* - 1`` decided by every solver with the same time limit (CP-SAT and the DP on their own,
without the warm-start shortcut; auto as the toolkit runs it, shortcut included).
The MIP is skipped for larger n once it has timed out. Reports the median time over seeds per
solver and case, the statuses, and the auto / MIP ratio at each n.

Run: ``python benchmarks/exact_solvers.py`` (defaults: n = 8 .. 60, 60 s limit, seed 0).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmark_streams import bench_stream
from prefix_sched.solvers.exact import decide, minimize_max_ttft
from prefix_sched.solvers.mip import decide_mip

def timed(call):
    started = time.perf_counter()
    status = call()
    return status, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,12,16,20,24,30,40,60")
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--load", default="1.25")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    mip_alive = True
    print(f"limit {args.limit:.0f} s per decision; load {args.load}; seeds {seeds}")
    print(f"{'n':>3} {'case':<10} {'T':>6} {'cpsat':>16} {'dp':>16} {'auto':>16} {'mip':>16}")
    for n in (int(x) for x in args.sizes.split(",")):
        for case in ("feasible", "infeasible"):
            results = {name: [] for name in ("cpsat", "dp", "auto", "mip")}
            shown_t = []
            for seed in seeds:
                stream = bench_stream(n, args.load, seed)
                optimum = minimize_max_ttft(stream, time_limit=args.limit)
                if optimum.status != "OPTIMAL":
                    print(f"{n:>3} {case:<10} optimum unknown within {args.limit:.0f} s "
                          f"(best {optimum.objective}, bound {optimum.bound}); skipped")
                    continue
                bound = optimum.objective if case == "feasible" else optimum.objective - 1
                shown_t.append(bound)
                for name in ("cpsat", "dp"):
                    results[name].append(timed(lambda: decide(stream, bound, solver=name, time_limit=args.limit,
                                                              shortcut=False).status))
                results["auto"].append(timed(lambda: decide(stream, bound, time_limit=args.limit).status))
                if mip_alive:
                    results["mip"].append(timed(lambda: decide_mip(stream, bound, time_limit=args.limit).status))
            if not shown_t:
                continue
            cells = []
            for name in ("cpsat", "dp", "auto", "mip"):
                runs = results[name]
                if not runs:
                    cells.append("skipped")
                    continue
                median = statistics.median(seconds for _, seconds in runs)
                cells.append(f"{median:7.2f}s {'/'.join(sorted({s for s, _ in runs}))[:8]}")
            print(f"{n:>3} {case:<10} {shown_t[0]:>6} " + " ".join(f"{c:>16}" for c in cells))
            if results["mip"] and results["auto"]:
                ratio = statistics.median(s for _, s in results["mip"]) / statistics.median(s for _, s in results["auto"])
                print(f"{'':>3} {'':<10} {'':>6} auto is {ratio:.0f}x faster than the MIP")
            if results["mip"] and any(s == "UNKNOWN" for s, _ in results["mip"]):
                mip_alive = False


if __name__ == "__main__":
    main()
