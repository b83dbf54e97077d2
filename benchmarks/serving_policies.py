"""Benchmark: every serving policy (issue 13) on the Mooncake conversation trace, and each index
against its naive rescan.

Run: ``python benchmarks/serving_policies.py`` (the issue's sizes; ``--quick`` for a smoke run).

1. The whole conversation trace (``--trace``, 12,031 requests read by ``read_mooncake`` at
   ``--tokens-per-ms`` 20) through every registered policy under ``last`` and under
   ``lru:1000000``, online, in one run: seconds per run (simulation and evaluation), P99 TTFT,
   the most decisions a query waited and Jain's index of slowdown; the total must stay under
   120 s.
2. Each indexed policy against its naive reference at n = ``--n`` (2 * 10^4) on a backed-up
   Definition 4 stream (r = 4, u = 1000, d = 100, Delta = 100, far below the 350-1100
   token-times a query takes; output lengths ``(37 i) mod 500``), under ``--caches`` (``last``
   and ``lru:100000``). The indexed policy is timed over the whole run (``simulate``). Both queues
   are then replayed through the first ``--naive-decisions`` online decisions of that run (every
   decision checked equal), and the naive time over all ``n`` decisions is EXTRAPOLATED from that
   prefix in proportion to the summed queue length (a rescan costs one pass over the waiting
   queries; the queue grows as the stream backs up, so a per-decision extrapolation would flatter
   the index). The replayed prefix ratio (same decisions) is printed too.

Times are wall-clock (``time.perf_counter``) in this one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from prefix_sched.solvers.online.policies import POLICIES, POLICY_EXAMPLES, make_policy_queue, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.cost import integer_timebase
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.formats import read_mooncake
from prefix_sched.studies.data import MOONCAKE_TRACE, find_shared

TRACE = find_shared(MOONCAKE_TRACE)
INDEXED = tuple(row.example_policy for row in POLICIES if not row.algorithm_one)
"""The policies beyond Algorithm 1 (whose LPM index benchmarks/online_policies.py and cache_policies.py time)."""


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def trace_through_every_policy(trace: Path, tokens_per_ms: str, limit: int | None) -> None:
    stream, read_s = _timed(lambda: read_mooncake(trace, tokens_per_ms, limit=limit))
    print(f"1. {trace.name}: {stream.n} requests (read in {read_s:.1f} s); online, alpha = 0")
    total = 0.0
    for cache in ("last", "lru:1000000"):
        for name in POLICY_EXAMPLES:
            run, seconds = _timed(lambda: simulate(stream, parse_policy(name), cache=cache, seed=0))
            total += seconds
            print(f"   {cache:12s} {run.policy.label:36s} {seconds:6.2f} s  P99 {float(run.evaluation.percentile(99)):.4g}"
                  f"  max waited {run.max_waited:6d}  Jain {run.jain_slowdown:.3f}")
    print(f"   total {total:.1f} s for {2 * len(POLICY_EXAMPLES)} runs (limit 120 s)")


def replay(stream: Stream, run, kind: str, cache: str, decisions: int) -> tuple[float, list[int]]:
    """Replay the first ``decisions`` online decisions of ``run`` through a fresh queue of
    ``kind``: admit what has arrived by each decision's start, pop, check, serve. Returns the
    seconds taken and the queue length at each decision."""
    scale, alpha, scaled = integer_timebase(stream, 0)
    ranked = stream.arrival_order
    prompts = [stream.queries[i].prompt for i in ranked]
    arrivals = [scaled[i] for i in ranked]
    outputs = [stream.queries[i].output_length for i in ranked]
    state = parse_cache(cache).new_state()
    queue = make_policy_queue(run.policy, kind, prompts, arrivals, outputs, state, scale, alpha)
    rng = None
    if run.policy.randomized:
        import numpy as np

        rng = np.random.default_rng(run.seed)
    admitted, lengths, n = 0, [], stream.n
    start_clock = time.perf_counter()
    for position in range(decisions):
        decided_at = run.evaluation.start[position] * scale
        while admitted < n and arrivals[admitted] <= decided_at:
            queue.add(admitted, position, decided_at)
            admitted += 1
        lengths.append(len(queue))
        rank = queue.pop(position, decided_at, rng)
        if ranked[rank] != run.order[position]:
            raise AssertionError(f"{kind} queue decided {ranked[rank]} at position {position}, "
                                 f"the run {run.order[position]}")
        state.serve(prompts[rank])
    return time.perf_counter() - start_clock, lengths


def indexed_vs_naive(n: int, caches: list[str], decisions: int) -> None:
    base = regular_arrival_shuffled_queue(n=n, r=4, u=1000, d=100, delta=100, seed=0)
    stream = Stream(tuple(dataclasses.replace(q, output_length=(37 * i) % 500) for i, q in enumerate(base.queries)),
                    base.meta)
    print(f"2. indexed against naive, Definition 4 n={n} r=4 u=1000 d=100 Delta=100 (backed up); "
          f"naive replayed over the first {decisions} decisions and EXTRAPOLATED to all {n}")
    for cache in caches:
        for name in INDEXED:
            spec = parse_policy(name)
            run, run_s = _timed(lambda: simulate(stream, spec, cache=cache, seed=0))
            _, lengths = replay(stream, run, "indexed", cache, n)
            count = min(decisions, n)
            indexed_s, _ = replay(stream, run, "indexed", cache, count)
            naive_s, _ = replay(stream, run, "naive", cache, count)
            naive_total = naive_s * sum(lengths) / sum(lengths[:count])
            print(f"   {cache:11s} {run.policy.label:36s} queue mean {sum(lengths) / n:6.0f} max {max(lengths):6d};"
                  f" indexed simulate {run_s:5.2f} s; prefix: indexed {indexed_s:.3f} s naive {naive_s:6.2f} s"
                  f" ({naive_s / indexed_s:5.0f}x); naive all ~{naive_total:6.0f} s: ~{naive_total / run_s:5.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--tokens-per-ms", default="20")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--caches", nargs="+", default=["last", "lru:100000"])
    parser.add_argument("--naive-decisions", type=int, default=1000)
    parser.add_argument("--skip-trace", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 600 trace requests, n = 1500")
    args = parser.parse_args()
    if not args.skip_trace:
        trace_through_every_policy(args.trace, args.tokens_per_ms, 600 if args.quick else None)
    indexed_vs_naive(1500 if args.quick else args.n, args.caches, 200 if args.quick else args.naive_decisions)


if __name__ == "__main__":
    main()
