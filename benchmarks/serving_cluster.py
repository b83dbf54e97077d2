"""Benchmark: a cluster of engines behind SGLang's cache-aware router, on the shared-prefix workload
scaled up (issue 22: 64 engines, 10^6 requests, in at most 10 minutes on this machine).

Run: ``python benchmarks/serving_cluster.py`` (``--quick`` for 20,000 requests; ``--requests``,
``--engines``, ``--rate``, ``--router``, ... to change the run).

Workload (:func:`prefix_sched.theory.serving.generators.shared_prefix_workload`, SGLang
bench_serving's generated-shared-prefix at scale): ``--groups`` (1,000) system prompts of 1,024
tokens, ``requests / groups`` requests each (a 64-token question of its own, 16 output tokens),
shuffled, Poisson arrivals at ``--rate`` (2,000) requests/s, seed 0. Engines: ``--engines`` (64),
each ``sglang`` with new prefills in ``lpm`` order and an ``lru`` prefix cache sharing
``--kv-tokens`` (219,104: Mistral-7B on a 48 GB card at 90%, the seed's setting) tokens of KV
memory, budget 512, max_num_seqs 128, the ``seed`` cost preset; router ``prefix-aware`` (SGLang's
launcher defaults). Every token's time is kept.

Printed: the time to generate the workload; the wall and CPU time of ``serve`` alone (the engines,
the router and the timeline); iterations and how many the decode stretches advanced; the peak
resident memory of the process; the reuse (cached prompt tokens / prompt tokens); the requests per
engine (min, max, imbalance = max / mean); TTFT p50 and p99 and TBT p99 (ms).
"""

from __future__ import annotations

import argparse
import resource
import time
from fractions import Fraction

import numpy as np
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.theory.evaluator import percentile
from prefix_sched.theory.serving.generators import shared_prefix_workload


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--engines", type=int, default=64)
    parser.add_argument("--rate", default="2000")
    parser.add_argument("--router", default="prefix-aware")
    parser.add_argument("--scheduler", default="sglang")
    parser.add_argument("--order", default="lpm")
    parser.add_argument("--prefix-cache", default="lru")
    parser.add_argument("--kv-tokens", type=int, default=219_104)
    parser.add_argument("--system", type=int, default=1024)
    parser.add_argument("--question", type=int, default=64)
    parser.add_argument("--output", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.groups = 20_000, 100
    per_group = args.requests // args.groups
    started = time.perf_counter()
    workload = shared_prefix_workload(groups=args.groups, prompts_per_group=per_group, system_prompt_len=args.system,
                                      question_len=args.question, output_len=args.output, rate=args.rate, seed=0)
    print(f"workload: {workload.n:,} requests ({args.groups} groups of {per_group}; prompt {args.system} + "
          f"{args.question} tokens, output {args.output}), Poisson at {args.rate}/s, seed 0; generated in "
          f"{time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mb():.0f} MiB")
    order = None if args.order == "fcfs" else args.order
    print(f"cluster: {args.engines} x {args.scheduler} (order {args.order}, prefix cache {args.prefix_cache}, KV "
          f"{args.kv_tokens:,} tokens), router {args.router}, budget 512, max_num_seqs 128, cost preset seed")
    wall, cpu = time.perf_counter(), time.process_time()
    run = serve(workload, args.scheduler, order=order, engines=args.engines, router=args.router,
                prefix_cache=args.prefix_cache, kv_tokens=args.kv_tokens)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    t = run.timeline
    counts = np.bincount(t.engine, minlength=args.engines)
    reuse = Fraction(int(t.cached_tokens.sum()), workload.total_prompt_tokens)
    ttft = np.sort(t.ttft())
    D = t.ticks_per_us
    tbt = t.tbt()
    print(f"serve: {wall:.1f} s wall, {cpu:.1f} s CPU; {run.iterations:,} iterations "
          f"({run.stretched_iterations / max(run.iterations, 1):.0%} in stretches), {run.preemptions} preemptions; "
          f"peak RSS {peak_rss_mb():.0f} MiB")
    print(f"reuse {float(reuse):.3f}; requests per engine {counts.min()}..{counts.max()} (imbalance "
          f"{counts.max() / counts.mean():.3f}); TTFT p50 {float(percentile(ttft, 50, presorted=True)) / D / 1000:.1f}"
          f" ms, p99 {float(percentile(ttft, 99, presorted=True)) / D / 1000:.1f} ms; TBT p99 "
          f"{float(percentile(tbt, 99)) / D / 1000:.1f} ms")


if __name__ == "__main__":
    main()
