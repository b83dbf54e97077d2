"""Benchmark: exact TTFT feasibility with CP-SAT, the DP, auto, and the MIP peer (HiGHS), one run.

Streams (:mod:`benchmark_streams`): groups of 4 prompts sharing a 300-token prefix with 30-token
unique suffixes, Poisson arrivals at offered load ``rho`` (rate = rho / mean prompt length), the
first n arrivals; one instance per (load, seed). For each instance: the optimum max TTFT ``T*``
(``minimize_max_ttft``, auto), then the feasible case ``T = T*`` and the infeasible case
``T = T* - 1`` decided by every solver with the same time limit (CP-SAT and the DP on their own,
without the warm-start shortcut; auto as the toolkit runs it). The MIP is skipped for larger n
once it has timed out. Reports, per n and case, the median time over instances of each solver
with its statuses, and the ratio MIP / auto of the medians (the baseline runs in the same process).

Run: ``python benchmarks/exact_solvers.py`` (defaults: n = 8 .. 60, loads 1 and 1.5, seeds 0 and 1,
60 s limit per decision).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmark_streams import bench_stream
from prefix_sched.solvers.exact import decide, minimize_max_ttft
from prefix_sched.solvers.exact.mip import decide_mip

COLUMNS = ("cpsat", "dp", "auto", "mip")  # three solver names of the front door, then the MIP peer


def timed(call):
    started = time.perf_counter()
    status = call()
    return status, time.perf_counter() - started


def duration(seconds: float) -> str:
    """Seconds in a unit that keeps three significant digits."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,12,16,20,24,30,40,60")
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--loads", default="1,1.5")
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    instances = [(load, int(seed)) for load in args.loads.split(",") for seed in args.seeds.split(",")]
    mip_alive = True
    print(f"limit {args.limit:.0f} s per decision; instances (load, seed): {instances}")
    print(f"{'n':>3} {'case':<10} {'inst':>4} " + " ".join(f"{name:>22}" for name in COLUMNS) + f" {'mip/auto':>9}")
    for n in (int(x) for x in args.sizes.split(",")):
        cases = {"feasible": {name: [] for name in COLUMNS}, "infeasible": {name: [] for name in COLUMNS}}
        for load, seed in instances:
            stream = bench_stream(n, load, seed)
            optimum = minimize_max_ttft(stream, time_limit=args.limit)
            if optimum.status != "OPTIMAL":
                print(f"{n:>3} load {load} seed {seed}: optimum unknown within {args.limit:.0f} s "
                      f"(best {optimum.objective}, bound {optimum.bound}); instance skipped")
                continue
            for case, bound in (("feasible", optimum.objective), ("infeasible", optimum.objective - 1)):
                results = cases[case]
                for name in ("cpsat", "dp"):
                    results[name].append(timed(lambda: decide(stream, bound, solver=name, time_limit=args.limit,
                                                              shortcut=False).status))
                results["auto"].append(timed(lambda: decide(stream, bound, time_limit=args.limit).status))
                if mip_alive:
                    results["mip"].append(timed(lambda: decide_mip(stream, bound, time_limit=args.limit).status))
        for case, results in cases.items():
            if not results["auto"]:
                continue
            cells, medians = [], {}
            for name in COLUMNS:
                runs = results[name]
                if not runs:
                    cells.append("skipped")
                    continue
                medians[name] = statistics.median(seconds for _, seconds in runs)
                statuses = "/".join(sorted({status[:5] for status, _ in runs}))
                cells.append(f"{duration(medians[name])} {statuses}")
            ratio = f"{medians['mip'] / medians['auto']:.0f}x" if "mip" in medians else "-"
            print(f"{n:>3} {case:<10} {len(results['auto']):>4} " + " ".join(f"{c:>22}" for c in cells)
                  + f" {ratio:>9}", flush=True)
        if any(status == "UNKNOWN" for runs in (c["mip"] for c in cases.values()) for status, _ in runs):
            mip_alive = False


if __name__ == "__main__":
    main()
