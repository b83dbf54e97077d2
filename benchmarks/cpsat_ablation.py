"""Ablation of the CP-SAT model's ideas: arc pruning, the redundant NoOverlap, symmetry breaking, the hint.

For each stream (the exact-solver benchmark's family, ``benchmarks/exact_solvers.py``) the optimum
``T*`` is found first (auto); then CP-SAT decides ``T*`` and ``T* - 1`` with every idea on (the
baseline, run in the same process) and with one idea off at a time. Reports the median time per
variant and its ratio to the baseline.

Run: ``python benchmarks/cpsat_ablation.py`` (defaults: n = 16, 20, 24; load 2; seeds 0-2; 30 s).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmark_streams import bench_stream
from prefix_sched.solvers.exact.cpsat import solve_cpsat
from prefix_sched.solvers.exact import minimize_max_ttft, warm_start

VARIANTS = {
    "all on": dict(),
    "no arc pruning": dict(prune_arcs=False),
    "no NoOverlap": dict(no_overlap=False),
    "no symmetry": dict(symmetry=False),
    "no hint": dict(hint=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16,20,24")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--load", default="2")
    parser.add_argument("--limit", type=float, default=30.0)
    args = parser.parse_args()
    times = {name: [] for name in VARIANTS}
    for n in (int(x) for x in args.sizes.split(",")):
        for seed in (int(x) for x in args.seeds.split(",")):
            stream = bench_stream(n, args.load, seed)
            optimum = minimize_max_ttft(stream, time_limit=args.limit)
            if optimum.status != "OPTIMAL":
                print(f"n={n} seed={seed}: optimum unknown, skipped")
                continue
            hint = warm_start(stream).order
            for bound in (optimum.objective, optimum.objective - 1):
                row = []
                for name, options in VARIANTS.items():
                    options = dict(options)
                    use_hint = options.pop("hint", True)
                    started = time.perf_counter()
                    outcome = solve_cpsat(stream, "feasible", ttft=bound, hint=hint if use_hint else None,
                                          time_limit=args.limit, **options)
                    seconds = time.perf_counter() - started
                    times[name].append(seconds)
                    row.append(f"{name}: {seconds:6.2f}s {outcome.status}")
                print(f"n={n} seed={seed} T={bound}: " + " | ".join(row))
    base = statistics.median(times["all on"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>14}: median {median:6.2f} s, total {sum(values):7.2f} s, median ratio to all-on {median / base:5.2f}")


if __name__ == "__main__":
    main()
