"""The bridge to Part 1: with ``c0 = cd = ckv = 0``, ``cp = 1``, ``catt = 2 alpha``, one request per
iteration (``max_num_seqs = 1``), a budget above every prompt and one output token each, the engine
serves Definition 2 exactly: every TTFT equals the evaluator's for the FCFS order (prompts that share
nothing, so no reuse under the ``last`` cache either), whichever FCFS scheduler runs it.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.serving.engine import serve
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.serving.costs import IterationCost
from prefix_sched.theory.serving.requests import Workload
from prefix_sched.theory.stream import Query, Stream

FCFS_SCHEDULERS = ["sarathi", "vllm", "vllm-v0", "sglang", "sglang-mixed", "slai-fcfs"]


@st.composite
def disjoint_streams(draw):
    n = draw(st.integers(1, 12))
    queries = []
    for i in range(n):
        arrival = Fraction(draw(st.integers(0, 300)), draw(st.sampled_from([1, 1, 2, 3, 7])))
        length = draw(st.integers(1, 40))
        queries.append(Query(f"q{i}", ((f"only-q{i}", length),), arrival if arrival.denominator > 1 else int(arrival)))
    return Stream(tuple(queries))


@pytest.mark.parametrize("scheduler", FCFS_SCHEDULERS)
@settings(max_examples=80, deadline=None)
@given(stream=disjoint_streams(), alpha=st.fractions(0, 2, max_denominator=9))
def test_engine_reproduces_definition_2_ttfts(scheduler, stream, alpha):
    order = list(stream.arrival_order)
    expected = evaluate(stream, order, alpha=alpha)
    ttft_by_query = {order[k]: expected.ttft[k] for k in range(stream.n)}
    workload = Workload.from_lengths([q.length for q in stream.queries], [1] * stream.n,
                                     [q.arrival for q in stream.queries], ids=[q.qid for q in stream.queries],
                                     prompts=[q.prompt for q in stream.queries])
    cost = IterationCost(c0=0, cp=1, cd=0, ckv=0, catt=2 * alpha)
    run = serve(workload, scheduler, budget=max(stream.lengths), cost=cost, max_seqs=1)
    got = run.timeline.ttft()
    assert [run.timeline.us(int(t)) for t in got] == [ttft_by_query[i] for i in range(stream.n)]


def test_the_bridge_by_hand():
    """Section 4.2's numbers without reuse: prompts of 10 at 0, 0, 0: TTFTs 10, 20, 30 (alpha = 0);
    with alpha = 1/10 each prefill costs 10 + 10 = 20: 20, 40, 60."""
    w = Workload.from_lengths([10, 10, 10], [1, 1, 1], [0, 0, 0])
    for alpha, expected in ((0, [10, 20, 30]), (Fraction(1, 10), [20, 40, 60])):
        run = serve(w, "sarathi", budget=10, max_seqs=1, cost=IterationCost(cp=1, catt=2 * alpha))
        assert [run.timeline.us(int(t)) for t in run.timeline.ttft()] == expected


# --- the bridge with the prefix cache on ---------------------------------------------------------

from prefix_sched.solvers.online.policies import parse_policy  # noqa: E402
from prefix_sched.solvers.online.simulate import simulate  # noqa: E402
from prefix_sched.solvers.serving.registry import SCHEDULERS, SchedulerName  # noqa: E402

SEGMENTS = {"a": 3, "b": 5, "c": 2, "d": 7}


@st.composite
def sharing_streams(draw, max_n=12):
    """Prompts sharing prefixes from a small pool, each ending in a segment of its own (never wholly
    cached: the engine computes at least one token, as SGLang)."""
    n = draw(st.integers(1, max_n))
    queries = []
    for i in range(n):
        arrival = Fraction(draw(st.integers(0, 300)), draw(st.sampled_from([1, 1, 2, 3])))
        head = tuple((x, SEGMENTS[x]) for x in draw(st.lists(st.sampled_from(sorted(SEGMENTS)), max_size=3)))
        prompt = head + ((f"own{i}", draw(st.integers(1, 4))),)
        queries.append(Query(f"q{i}", prompt, arrival if arrival.denominator > 1 else int(arrival)))
    return Stream(tuple(queries))


def _workload(stream):
    return Workload.from_lengths([q.length for q in stream.queries], [1] * stream.n,
                                 [q.arrival for q in stream.queries], ids=[q.qid for q in stream.queries],
                                 prompts=[q.prompt for q in stream.queries])


@pytest.mark.parametrize("scheduler", FCFS_SCHEDULERS)
@pytest.mark.parametrize("cache", ["unbounded", "lru"])
@settings(max_examples=60, deadline=None)
@given(stream=sharing_streams(), alpha=st.fractions(0, 2, max_denominator=9), data=st.data())
def test_engine_with_a_prefix_cache_reproduces_definition_2(scheduler, cache, stream, alpha, data):
    """c0 = cd = 0, cp = 1, catt = 2 alpha, one request at a time, one output token, a budget above
    every prompt: each TTFT is Definition 2's under the evaluator's cache (unbounded, or lru:C with
    the engine's KV memory C tokens), for the FCFS order."""
    longest = max(stream.lengths)
    kv = data.draw(st.integers(longest, longest + 30)) if cache == "lru" else None
    spec = "unbounded" if cache == "unbounded" else f"lru:{kv}"
    order = list(stream.arrival_order)
    expected = evaluate(stream, order, alpha=alpha, cache=spec)
    ttft = {order[k]: expected.ttft[k] for k in range(stream.n)}
    reused = {order[k]: expected.reused[k] for k in range(stream.n)}
    run = serve(_workload(stream), scheduler, budget=longest, cost=IterationCost(cp=1, catt=2 * alpha), max_seqs=1,
                kv_tokens=kv, prefix_cache=cache)
    assert [run.timeline.us(int(t)) for t in run.timeline.ttft()] == [ttft[i] for i in range(stream.n)]
    assert run.timeline.cached_tokens.tolist() == [reused[i] for i in range(stream.n)]


ORDERS = ["lpm", "k-lpm:1", "k-lpm:3", "sglang-lpm:2", "lpm-aging:2", "spf", "hrrn", "dfs-weight"]
ORDERED = [s.value for s, row in SCHEDULERS.items() if row.fixed_order is None and s is not SchedulerName.RAD_FIXED]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("cache", ["unbounded", "lru"])
@settings(max_examples=40, deadline=None)
@given(stream=sharing_streams(), data=st.data())
def test_engine_orders_new_prefills_as_part_1s_simulator(order, cache, stream, data):
    """The same bridge with a Part 1 policy ordering new prefills: the engine serves the queries in
    the order Part 1's online simulator chooses under the same cache, with the same TTFTs (alpha = 0,
    as the engine's HRRN cost is the uncached prompt)."""
    scheduler = data.draw(st.sampled_from(ORDERED))
    longest = max(stream.lengths)
    kv = data.draw(st.integers(longest, longest + 30)) if cache == "lru" else None
    spec = "unbounded" if cache == "unbounded" else f"lru:{kv}"
    policy = simulate(stream, parse_policy(order), cache=spec)
    ttft = {policy.order[k]: policy.evaluation.ttft[k] for k in range(stream.n)}
    run = serve(_workload(stream), scheduler, order=order, budget=longest, cost=IterationCost(cp=1), max_seqs=1,
                kv_tokens=kv, prefix_cache=cache)
    served = sorted(range(stream.n), key=lambda i: (run.timeline.first_scheduled[i], i))
    assert tuple(served) == policy.order
    assert [run.timeline.us(int(t)) for t in run.timeline.ttft()] == [ttft[i] for i in range(stream.n)]
