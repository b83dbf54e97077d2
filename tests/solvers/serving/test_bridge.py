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
