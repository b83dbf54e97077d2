"""Benchmark: online k-LPM at scale, and the indexed LPM queue against the naive rescan.

Run: ``python benchmarks/online_policies.py`` (defaults are the foundation issue's sizes).

1. k-LPM (k = 3) on a Definition 4 stream with n = 10^6, u = 1000, d = 100, r = 4 and Delta = 300,
   so that the queue backs up (LPM needs about u/r + d = 350 token-times per query). FCFS on the same
   stream, in the same process, is the baseline.
2. LPM with the indexed queue against the naive rescanning queue on the same kind of stream,
   n = 20,000; both must produce the same order, and the ratio of their times is reported.
"""

from __future__ import annotations

import argparse
import time

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--n-naive", type=int, default=20_000)
    parser.add_argument("--delta", default="300")
    args = parser.parse_args()
    params = dict(r=4, u=1000, d=100, delta=args.delta, seed=0)

    stream, generate_s = _timed(lambda: regular_arrival_shuffled_queue(n=args.n, **params))
    klpm, klpm_s = _timed(lambda: simulate(stream, parse_policy("k-lpm", k=3)))
    fcfs, fcfs_s = _timed(lambda: simulate(stream, parse_policy("fcfs")))
    print(f"Definition 4 stream n={args.n} {params}: generated in {generate_s:.1f} s")
    print(f"  k-LPM(k=3): {klpm_s:.1f} s (max TTFT {klpm.evaluation.max_ttft})")
    print(f"  FCFS      : {fcfs_s:.1f} s (max TTFT {fcfs.evaluation.max_ttft})")
    print(f"  k-LPM / FCFS time ratio: {klpm_s / fcfs_s:.2f}")

    small = regular_arrival_shuffled_queue(n=args.n_naive, **params)
    lpm = parse_policy("lpm")
    indexed, indexed_s = _timed(lambda: simulate(small, lpm, queue="indexed"))
    naive, naive_s = _timed(lambda: simulate(small, lpm, queue="naive"))
    assert indexed.order == naive.order, "indexed and naive LPM disagree"
    print(f"LPM n={args.n_naive}: indexed {indexed_s:.2f} s, naive {naive_s:.2f} s, "
          f"speed-up {naive_s / indexed_s:.0f}x (identical orders)")


if __name__ == "__main__":
    main()
