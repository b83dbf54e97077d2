"""Benchmark: the serving engine on the second seed's run, every token's time kept.

Run: ``python benchmarks/serving_engine.py`` (``--quick`` for a smoke run of 2,048 requests).

Workload (the seed's experiment): the first ``--requests`` (16,384) rows of the ShareGPT length
trace (``../shared/data/sharegpt_lengths_llama2.csv`` beside the checkout, or ``--lengths``), the
seed's truncated-exponential arrivals at ``--rate`` (1.6) requests/s, classes
``strict=0.05:100ms,relaxed=0.95:500ms``, seed 0; engine: budget 512, max_num_seqs 128, the ``seed``
cost preset, KV memory ``--kv-tokens`` (unbounded by default).

For each scheduler (``--schedulers``, default ``sarathi,slai``): the wall time of ``serve`` (the run
alone; reading the trace and the summary are timed apart), iterations and how many of them the
decode-only stretch path advanced, the bytes of the per-token time array (int64, one per output
token) and the peak resident memory of the process so far. Then, as the in-process baseline, the
same engine with the stretch path switched off (one iteration at a time, the path the reference
engine of the tests reproduces) on the first ``--baseline-requests`` (4,096) requests, against the
stretch path on the same requests: the speed-up and a check that every token time is equal.
Times are wall-clock (``time.perf_counter``) in this one process.

``--mooncake`` (issue 22): the Mooncake conversation trace (12,031 requests, prompts as 512-token
hash blocks, its own timestamps; found with ``prefix_sched.studies.data.find_shared``) through one
``sarathi`` engine with ``--prefix-cache lru`` sharing ``--mooncake-kv`` (219,104 tokens: Mistral-7B
on a 48 GB card at 90%, the seed's setting) tokens of KV memory and new prefills in ``k-lpm:3``
order, budget 512, the ``seed`` preset: the wall and CPU time of ``serve`` alone (limit: 15 s), the
reuse and the iterations.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from prefix_sched.solvers.serving.engine import loop as engine_module
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.theory.serving.measures import summarize
from prefix_sched.theory.serving.requests import parse_classes
from prefix_sched.theory.serving.traces import load_workload

CHECKOUT = Path(__file__).resolve().parents[1]
LENGTHS = CHECKOUT.parent / "shared" / "data" / "sharegpt_lengths_llama2.csv"
CLASSES = "strict=0.05:100ms,relaxed=0.95:500ms"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(workload, scheduler, args, stretch=True):
    saved = engine_module._stretch_length
    if not stretch:
        engine_module._stretch_length = lambda *a: 1
    try:
        started = time.perf_counter()
        result = serve(workload, scheduler, budget=args.budget, kv_tokens=args.kv_tokens, max_seqs=args.max_seqs)
        return result, time.perf_counter() - started
    finally:
        engine_module._stretch_length = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=Path, default=LENGTHS)
    parser.add_argument("--requests", type=int, default=16384)
    parser.add_argument("--rate", default="1.6")
    parser.add_argument("--schedulers", default="sarathi,slai")
    parser.add_argument("--budget", type=int, default=512)
    parser.add_argument("--max-seqs", type=int, default=128)
    parser.add_argument("--kv-tokens", type=int, default=None)
    parser.add_argument("--baseline-requests", type=int, default=4096)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mooncake", action="store_true", help="only the Mooncake prefix-cache run")
    parser.add_argument("--mooncake-kv", type=int, default=219_104)
    parser.add_argument("--mooncake-order", default="k-lpm:3")
    args = parser.parse_args()
    if args.mooncake:
        mooncake(args)
        return
    if args.quick:
        args.requests, args.baseline_requests = 2048, 512
    if not args.lengths.exists():
        sys.exit(f"no ShareGPT length trace at {args.lengths} (give --lengths)")
    started = time.perf_counter()
    workload = load_workload(args.lengths, "sharegpt", rate=args.rate, arrivals="truncated-exp", limit=args.requests,
                             classes=parse_classes(CLASSES), seed=0)
    print(f"workload: {workload.n} requests, {workload.total_output_tokens:,} output tokens, "
          f"{workload.total_prompt_tokens:,} prompt tokens; read and arrivals in {time.perf_counter() - started:.2f} s")
    print(f"engine: budget {args.budget}, max_num_seqs {args.max_seqs}, KV "
          f"{'unbounded' if args.kv_tokens is None else args.kv_tokens}, cost preset seed, rate {args.rate}/s "
          "(truncated-exp)")
    for scheduler in args.schedulers.split(","):
        result, seconds = run(workload, scheduler, args)
        t0 = time.perf_counter()
        summary = summarize(result.timeline)["all"]
        summary_seconds = time.perf_counter() - t0
        times = result.timeline.token_times
        print(f"{scheduler:>10}: serve {seconds:6.2f} s; {result.iterations:,} iterations "
              f"({result.stretched_iterations / max(result.iterations, 1):.0%} in stretches), "
              f"{result.preemptions} preemptions; token times {times.nbytes / 2**20:.1f} MiB "
              f"({len(times):,} int64); peak RSS {peak_rss_mb():.0f} MiB; summary {summary_seconds:.2f} s; "
              f"median TTFT {float(summary['ttft_p50']) / 1000:.1f} ms, "
              f"P99 TBT {float(summary['tbt_p99']) / 1000:.1f} ms")
    base = load_workload(args.lengths, "sharegpt", rate=args.rate, arrivals="truncated-exp",
                         limit=args.baseline_requests, classes=parse_classes(CLASSES), seed=0)
    for scheduler in args.schedulers.split(","):
        fast, fast_seconds = run(base, scheduler, args)
        slow, slow_seconds = run(base, scheduler, args, stretch=False)
        same = np.array_equal(fast.timeline.token_times, slow.timeline.token_times)
        print(f"{scheduler:>10}: {base.n} requests, one iteration at a time {slow_seconds:.2f} s, with stretches "
              f"{fast_seconds:.2f} s: {slow_seconds / fast_seconds:.1f}x; token times equal: {same}")
        if not same:
            sys.exit("the stretch path changed a token time")


def mooncake(args) -> None:
    from prefix_sched.studies.data import MOONCAKE_TRACE, find_shared

    path = find_shared(MOONCAKE_TRACE, CHECKOUT)
    if path is None:
        sys.exit(f"no {MOONCAKE_TRACE} in ../shared beside the checkout")
    started = time.perf_counter()
    workload = load_workload(path, "mooncake")
    print(f"workload: {workload.n} Mooncake requests, {workload.total_prompt_tokens:,} prompt tokens, "
          f"{workload.total_output_tokens:,} output tokens; read in {time.perf_counter() - started:.2f} s")
    wall, cpu = time.perf_counter(), time.process_time()
    run = serve(workload, "sarathi", order=args.mooncake_order, budget=args.budget, max_seqs=args.max_seqs,
                prefix_cache="lru", kv_tokens=args.mooncake_kv)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cached = int(run.timeline.cached_tokens.sum())
    print(f"sarathi, order {args.mooncake_order}, prefix cache lru in {args.mooncake_kv:,} tokens of KV memory: "
          f"serve {wall:.2f} s wall, {cpu:.2f} s CPU (limit 15 s); {run.iterations:,} iterations "
          f"({run.stretched_iterations / max(run.iterations, 1):.0%} in stretches), {run.preemptions} preemptions; "
          f"reuse {cached / workload.total_prompt_tokens:.3f} ({cached:,} cached prompt tokens); "
          f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
