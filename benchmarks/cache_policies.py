"""Benchmark: LPM and k-LPM under radix caches (issue 12), and the ``last`` fast path.

Run: ``python benchmarks/cache_policies.py`` (defaults are the issue's sizes; ``--quick`` for a
smoke run). Every stream is Definition 4 with r = 4, u = 1000, d = 100, seed 0.

1. LPM under ``lru:CAPACITY`` (``--lpm-capacity``, default 100,000 tokens, about 90 prompts) on a
   backed-up stream (``--lpm-delta``, default 100, far below the ~350 token-times LPM needs per
   query), n = ``--lpm-n`` (20,000): the simulator with the indexed queue
   (:class:`~prefix_sched.solvers.online.queues.lpm.MatchIndexQueue`) against the simulator with the naive
   rescan, orders checked equal (``--naive-decisions all``, the default). With a number instead,
   both queues are replayed through the indexed run's online decisions for that many decisions
   (each checked), and the naive time over the whole run is extrapolated from that prefix in
   proportion to the summed queue length (the naive rescan costs one ``state.reuse`` per waiting
   query, and the queue grows as it backs up, so a per-decision extrapolation would flatter the
   index).
2. k-LPM (k = 3) under ``lru:1000000`` at n = ``--klpm-n`` (10^6), Delta = 300, end to end
   (the simulation and its evaluation).
3. ``last``: k-LPM (k = 3) at n = ``--last-n`` (2 * 10^5), Delta = 300, against the code of git
   revision ``--baseline-rev`` (the evaluator, waiting queues and simulator before the cache
   models; loaded from ``git show`` into private modules), same stream, same process, orders and
   TTFTs checked equal; skipped without ``--baseline-rev``.

Times are wall-clock (``time.perf_counter``), best of ``--repeat`` for the ratio in part 3.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.solvers.online.queues import make_lpm_queue
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(r=4, u=1000, d=100, seed=0)


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def replay_lpm(stream, run, kind: str, cache: str, decisions: int) -> tuple[float, list[int]]:
    """Replay the first ``decisions`` online LPM decisions of ``run`` through a fresh queue of
    ``kind``: admit what has arrived by each decision's start, pop, check, serve. Returns the
    seconds taken and the queue length at each decision."""
    ranked = stream.arrival_order
    prompts = [stream.queries[i].prompt for i in ranked]
    arrivals = [stream.queries[i].arrival for i in ranked]
    state = parse_cache(cache).new_state()
    queue = make_lpm_queue(kind, prompts, state, random_ties=False)
    admitted, lengths, n = 0, [], stream.n
    start_clock = time.perf_counter()
    for position in range(decisions):
        decided_at = run.evaluation.start[position]
        while admitted < n and arrivals[admitted] <= decided_at:
            queue.add(admitted)
            admitted += 1
        lengths.append(len(queue))
        rank = queue.pop_lpm(None)
        if ranked[rank] != run.order[position]:
            raise AssertionError(
                f"{kind} queue decided {ranked[rank]} at position {position}, the run {run.order[position]}"
            )
        state.serve(prompts[rank])
    return time.perf_counter() - start_clock, lengths


def lpm_indexed_vs_naive(n: int, delta: str, capacity: int, decisions: str) -> None:
    cache = f"lru:{capacity}"
    stream = regular_arrival_shuffled_queue(n=n, delta=delta, **PARAMS)
    lpm = parse_policy("lpm")
    run, run_s = _timed(lambda: simulate(stream, lpm, cache=cache))
    _, lengths = replay_lpm(stream, run, "indexed", cache, n)
    print(f"1. LPM under {cache}, Definition 4 n={n} Delta={delta}: queue length mean {sum(lengths) / n:.0f}, "
          f"max {max(lengths)}; indexed simulate {run_s:.2f} s")
    if decisions == "all":
        naive, naive_s = _timed(lambda: simulate(stream, lpm, cache=cache, queue="naive"))
        assert naive.order == run.order, "indexed and naive LPM disagree"
        print(f"   naive simulate {naive_s:.1f} s (identical order): speed-up {naive_s / run_s:.0f}x")
        return
    count = min(int(decisions), n)
    indexed_s, _ = replay_lpm(stream, run, "indexed", cache, count)
    naive_s, _ = replay_lpm(stream, run, "naive", cache, count)
    naive_total = naive_s * sum(lengths) / sum(lengths[:count])
    print(f"   replayed first {count} decisions (identical): indexed {indexed_s:.3f} s, naive {naive_s:.2f} s, "
          f"measured speed-up {naive_s / indexed_s:.0f}x")
    print(f"   naive over all {n} decisions EXTRAPOLATED by summed queue length: ~{naive_total:.0f} s, "
          f"against the indexed simulate {run_s:.2f} s: ~{naive_total / run_s:.0f}x")


def klpm_at_scale(n: int) -> None:
    stream, generate_s = _timed(lambda: regular_arrival_shuffled_queue(n=n, delta=300, **PARAMS))
    run, run_s = _timed(lambda: simulate(stream, parse_policy("k-lpm", k=3), cache="lru:1000000"))
    print(f"2. k-LPM(k=3) under lru:1000000, n={n}, Delta=300 (generated in {generate_s:.1f} s): {run_s:.1f} s "
          f"end to end (max TTFT {run.evaluation.max_ttft}, reused {run.evaluation.total_reused} tokens)")


def load_baseline(revision: str) -> types.ModuleType:
    """The simulator of ``revision`` with that revision's waiting queues and evaluator."""
    modules: dict[str, types.ModuleType] = {}
    for name, path in (("evaluator", "theory/evaluator.py"), ("waiting", "solvers/online/waiting.py"),
                       ("simulate", "solvers/online/simulate.py")):
        code = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"],
                              capture_output=True, text=True, check=True).stdout
        for other in modules:
            for layer in ("theory", "solvers"):
                code = code.replace(f"prefix_sched.{layer}.{other}", f"_baseline_{other}")
        module = types.ModuleType(f"_baseline_{name}")
        sys.modules[module.__name__] = module
        exec(compile(code, f"{revision}:{path}", "exec"), module.__dict__)
        modules[name] = module
    return modules["simulate"]


def last_against_baseline(n: int, revision: str, repeat: int) -> None:
    baseline = load_baseline(revision)
    stream = regular_arrival_shuffled_queue(n=n, delta=300, **PARAMS)
    spec = parse_policy("k-lpm", k=3)
    old_times, new_times = [], []
    for _ in range(repeat):
        old, old_s = _timed(lambda: baseline.simulate(stream, spec))
        new, new_s = _timed(lambda: simulate(stream, spec, cache="last"))
        assert old.order == new.order and old.evaluation.ttft == new.evaluation.ttft
        old_times.append(old_s)
        new_times.append(new_s)
    print(f"3. k-LPM(k=3) under last, n={n}: {revision} {min(old_times):.2f} s, now {min(new_times):.2f} s "
          f"(best of {repeat}); now / {revision} = {min(new_times) / min(old_times):.3f} (identical orders and TTFTs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lpm-n", type=int, default=20_000)
    parser.add_argument("--lpm-delta", default="100")
    parser.add_argument("--lpm-capacity", type=int, default=100_000)
    parser.add_argument("--naive-decisions", default="all")
    parser.add_argument("--klpm-n", type=int, default=1_000_000)
    parser.add_argument("--last-n", type=int, default=200_000)
    parser.add_argument("--baseline-rev", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.lpm_n, args.naive_decisions, args.klpm_n, args.last_n, args.repeat = 2000, "200", 20_000, 20_000, 1
    lpm_indexed_vs_naive(args.lpm_n, args.lpm_delta, args.lpm_capacity, args.naive_decisions)
    klpm_at_scale(args.klpm_n)
    if args.baseline_rev is not None:
        last_against_baseline(args.last_n, args.baseline_rev, args.repeat)


if __name__ == "__main__":
    main()
