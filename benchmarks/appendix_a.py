"""Benchmark: the repaired Appendix A algorithm from n = 10^3 to 10^5 with T and L fixed.

Streams: ``poisson_prefix_tree`` with groups of 4 prompts sharing a ``--prefix``-token prefix and
``--suffix``-token unique suffixes (so every prompt has ``L = prefix + suffix`` tokens), Poisson
arrivals at offered load ``--load`` (rate = load / L), integer arrival times. For each n: the time
of ``approx`` (T, eps), and as the in-process baseline the time of an FCFS simulation of the same
stream (the cheapest thing a user could run on it). Reports the status, dropped queries, DP states,
blocks, both times and their ratio, and the exponent of a least-squares fit of log time against
log n (Theorem 4 claims linear time for fixed T and L).

Run: ``python benchmarks/appendix_a.py`` (defaults: T = 80, L = 6 + 2, load 0.3, eps 0.1,
n = 1000, 3000, 10000, 30000, 100000, seed 0).
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import numpy as np

from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.generators import poisson_prefix_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    parser.add_argument("--ttft", type=int, default=80)
    parser.add_argument("--prefix", type=int, default=6)
    parser.add_argument("--suffix", type=int, default=2)
    parser.add_argument("--load", default="0.3")
    parser.add_argument("--eps", default="0.1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    length = args.prefix + args.suffix
    rate = Fraction(args.load) / length
    print(f"T = {args.ttft}, L = {length} ({args.prefix} shared in groups of 4 + {args.suffix}), "
          f"load {args.load}, eps {args.eps}, seed {args.seed}")
    print(f"{'n':>7} {'status':<11} {'dropped':>7} {'states':>9} {'blocks':>6} {'approx s':>9} "
          f"{'fcfs s':>7} {'ratio':>6}")
    sizes, seconds = [], []
    for n in (int(x) for x in args.sizes.split(",")):
        stream = poisson_prefix_tree(groups=-(-n // 4), group_size=4, prefix_len=args.prefix,
                                     suffix_len=args.suffix, rate=rate, seed=args.seed)
        started = time.perf_counter()
        simulate(stream, parse_policy("fcfs"))
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        result = approx(stream, args.ttft, args.eps)
        elapsed = time.perf_counter() - started
        sizes.append(stream.n)
        seconds.append(elapsed)
        print(f"{stream.n:>7} {result.status:<11} {len(result.dropped):>7} {result.states:>9} "
              f"{len(result.blocks):>6} {elapsed:>9.2f} {baseline:>7.2f} {elapsed / baseline:>6.1f}", flush=True)
    if len(sizes) > 1:
        slope = np.polyfit(np.log(sizes), np.log(seconds), 1)[0]
        print(f"fitted exponent of approx time in n: {slope:.3f}")


if __name__ == "__main__":
    main()
