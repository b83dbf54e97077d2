"""Benchmark: the percentile question (fewest queries over T) with CP-SAT alone and with auto.

Streams: the exact-solver family (:mod:`benchmark_streams`: groups of 4 prompts sharing a 300-token
prefix, 30-token suffixes, Poisson arrivals; one instance per (load, seed)). ``T`` is 3/4 of the
least max TTFT (found first by auto), so some queries must be late. Each instance is answered by
plain CP-SAT (hinted with the best k-LPM run: the baseline, in the same process) and by auto (k-LPM,
the drop DP, the feasibility DP's zero test, then CP-SAT capped by the incumbent). Reports per
instance the violations found, the proven lower bound, the status and the time of each.

Run: ``python benchmarks/violations.py`` (defaults: n = 12, 20, 30, 40, 60; loads 1.25 and 1.5;
seed 0; 30 s per question).
"""

from __future__ import annotations

import argparse
import statistics

from benchmark_streams import bench_stream
from prefix_sched.solvers.exact import minimize_max_ttft, minimize_violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="12,20,30,40,60")
    parser.add_argument("--loads", default="1.25,1.5")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--limit", type=float, default=30.0)
    args = parser.parse_args()
    print(f"limit {args.limit:.0f} s per question; T = 3/4 of the least max TTFT")
    print(f"{'n':>3} {'load':>5} {'seed':>4} {'T':>6} | {'cpsat: found / bound, status, time':<38} | "
          f"{'auto: found / bound, status, time (engine)':<44}")
    gaps = {"cpsat": [], "auto": []}
    for n in (int(x) for x in args.sizes.split(",")):
        for load in args.loads.split(","):
            for seed in (int(x) for x in args.seeds.split(",")):
                stream = bench_stream(n, load, seed)
                optimum = minimize_max_ttft(stream, time_limit=args.limit)
                ttft = int(optimum.objective * 3 / 4)
                cells = []
                for solver in ("cpsat", "auto"):
                    result = minimize_violations(stream, ttft, solver=solver, time_limit=args.limit)
                    if result.objective is None:
                        cells.append(f"none, {result.status}, {result.wall_time_s:.2f} s")
                        continue
                    gaps[solver].append(result.objective - result.bound)
                    engine = "" if solver == "cpsat" else f" ({result.solver})"
                    cells.append(f"{result.objective} / {result.bound}, {result.status}, "
                                 f"{result.wall_time_s:.2f} s{engine}")
                print(f"{n:>3} {load:>5} {seed:>4} {ttft:>6} | {cells[0]:<38} | {cells[1]:<44}", flush=True)
    for solver, values in gaps.items():
        if values:
            print(f"{solver}: median gap (found - bound) {statistics.median(values)}, "
                  f"closed (gap 0) on {sum(v == 0 for v in values)} of {len(values)}")


if __name__ == "__main__":
    main()
