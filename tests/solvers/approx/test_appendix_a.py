"""The repaired Appendix A algorithm against the exact DP, brute force, the reduction and by hand.

Every answer is recomputed independently: schedules by the Definition 2 evaluator and a sorted
list of TTFTs (the percentile count), "infeasible" by the exact DP of solvers/exact/dp.py.
"""

from __future__ import annotations

import math
from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import given, settings, strategies as st
from strategies import streams

from prefix_sched.errors import InputError
from prefix_sched.reductions.construction import construct
from prefix_sched.reductions.three_partition import certified_no, planted_yes
from prefix_sched.solvers.exact import brute
from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.approx.blocks import counting_certificate, plan_blocks
from prefix_sched.theory.cost import cost_floors
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import overlap
from prefix_sched.theory.stream import Stream


def _recheck(stream: Stream, result, ttft: int, eps: Fraction) -> None:
    """What a returned schedule must satisfy, recomputed from scratch."""
    order = result.evaluation.order
    assert sorted(order) == list(range(stream.n))
    again = evaluate(stream, order)
    assert again.ttft == result.evaluation.ttft
    late = sorted(i for i, t in zip(order, again.ttft) if t > ttft)
    assert set(late) <= set(result.dropped)
    assert len(late) <= math.floor(eps * stream.n)
    ranked = sorted(again.ttft)  # nearest rank: the ceil((1 - eps) n)-th smallest TTFT
    assert ranked[max(math.ceil((1 - eps) * stream.n), 1) - 1] <= ttft
    assert result.percentile == ranked[max(math.ceil((1 - eps) * stream.n), 1) - 1]
    assert list(order[len(order) - len(result.dropped):]) == list(result.dropped)


@settings(max_examples=150, deadline=None)
@given(stream=streams(max_n=8), ttft=st.integers(1, 16), block_size=st.integers(1, 3),
       eps=st.sampled_from([Fraction(1, 10), Fraction(1, 3), Fraction(1, 2)]))
def test_agrees_with_the_exact_dp_on_random_streams(stream, ttft, block_size, eps):
    truth = feasible_endings(stream, ttft).status
    exact = approx(stream, ttft, eps, exact=True, block_size=block_size)
    assert exact.status == truth
    result = approx(stream, ttft, eps, block_size=block_size)
    if truth == "FEASIBLE":
        assert result.status == "FEASIBLE"  # the exact pass runs first: nothing is dropped
        assert result.evaluation.max_ttft <= ttft
    else:
        assert result.status in ("INFEASIBLE", "PERCENTILE")
    if result.evaluation is not None:
        _recheck(stream, result, ttft, eps)
    else:
        assert result.certificate


@settings(max_examples=60, deadline=None)
@given(stream=streams(max_n=7), block_size=st.integers(1, 3))
def test_decides_exactly_at_the_optimum_and_one_below(stream, block_size):
    optimum = brute.best_max_ttft(stream)[0]
    assert approx(stream, optimum, "1/2", exact=True, block_size=block_size).status == "FEASIBLE"
    if optimum > 1:
        assert approx(stream, optimum - 1, "1/2", exact=True, block_size=block_size).status == "INFEASIBLE"


def _bridge_stream() -> Stream:
    """The stream of tests/solvers/approx/test_theorem4_drop_step.py with one more early query, so that X lands in a zone."""
    return Stream.from_records([
        ("A", (("a", 1),), 0), ("C", (("c", 1),), 3),
        ("X", (("p", 3), ("x", 1)), 7), ("B", (("p", 3), ("b", 3)), 10),
    ])


def test_the_query_the_paper_drops_still_bridges_the_boundary():
    """Blocks {A, C, X} | {B} with boundary 10 and T = 4: X arrives in [6, 10), the zone the paper
    drops. Without X, B costs 6 > 4; the repaired search keeps X as a bridge: A, C, X, B with TTFTs
    1, 1, 4, 4 (X runs 7-11, B reuses p and runs 11-14)."""
    stream = _bridge_stream()
    blocks = plan_blocks(stream, 4, 3, None)
    assert [b.zone for b in blocks] == [(stream.index_of("X"),), ()]
    kept = [i for b in blocks for i in b.kept]
    assert feasible_endings(stream, 4, subset=kept).status == "INFEASIBLE"  # the paper's restriction
    result = approx(stream, 4, "1/2", block_size=3)
    assert result.status == "FEASIBLE" and result.dropped == ()
    assert [stream.queries[i].qid for i in result.evaluation.order] == ["A", "C", "X", "B"]
    assert result.evaluation.ttft == (1, 1, 4, 4)


def test_a_percentile_schedule_worked_by_hand():
    """T = 3: q2 (1 token) at 0, q3 = (s0:3) at 9, q0 = (s2:2) at 10, q1 = (s0:3) at 12.
    Serving everyone on time is impossible: q3 runs 9-12 at the earliest, then q0 ends at 14 (TTFT
    4), or q0 first and q3 ends at >= 15. Dropping q0 (a zone query of the boundary 12): q3 9-12,
    q1 reuses all of s0 and ends at 12 (TTFT 0), q0 last 12-14 (TTFT 4): one query over T, within
    floor(n / 2) = 2."""
    stream = Stream.from_records([("q0", (("s2", 2),), 10), ("q1", (("s0", 3),), 12),
                                  ("q2", (("s6", 1),), 0), ("q3", (("s0", 3),), 9)])
    assert feasible_endings(stream, 3).status == "INFEASIBLE"
    assert approx(stream, 3, "1/2", exact=True, block_size=1).status == "INFEASIBLE"
    result = approx(stream, 3, "1/2", block_size=1)
    assert result.status == "PERCENTILE"
    assert [stream.queries[i].qid for i in result.dropped] == ["q0"]
    assert result.evaluation.ttft_by_query() == {2: 1, 3: 3, 1: 0, 0: 4}
    assert result.percentile == 1  # sorted TTFTs 0, 1, 3, 4: the 2nd is the 50th percentile
    _recheck(stream, result, 3, Fraction(1, 2))


def test_counting_certificate_is_a_real_proof():
    """Three 5-token prompts at 0 with T = 7: 15 token-times of work, 7 of room."""
    stream = Stream.from_records([(f"q{i}", ((f"s{i}", 5),), 0) for i in range(3)])
    certificate = counting_certificate(stream, 7)
    assert (certificate.work, certificate.room) == (15, 7)
    result = approx(stream, 7, "1/10")
    assert result.status == "INFEASIBLE" and result.certificate.startswith("counting")
    assert feasible_endings(stream, 7).status == "INFEASIBLE"
    assert approx(stream, 15, "1/10").status == "FEASIBLE"


def test_certificate_names_the_block_where_every_path_breaks():
    """Four spread-out 2-token queries are easy. At 40 four 7-token prompts arrive, two sharing p
    and two sharing r (6 tokens each), T = 8. Counting sees 4 tokens of work (each can cost 1
    after its partner) and no contradiction, but some group is served first: 7 + 1 tokens, then the
    other group's first query ends at 40 + 15 (TTFT 15 > 8). The certificate names the burst's
    block, not the first."""
    records = [(f"e{i}", ((f"e{i}", 2),), 10 * i) for i in range(4)]
    records += [(f"{g}{k}", ((g, 6), (f"{g}{k}", 1)), 40) for g in ("p", "r") for k in (1, 2)]
    stream = Stream.from_records(records)
    assert counting_certificate(stream, 8) is None
    result = approx(stream, 8, "1/2", exact=True, block_size=2)
    assert result.status == "INFEASIBLE"
    broken = result.blocks[result.broken_block]
    assert stream.index_of("p1") in broken.kept + broken.zone
    assert result.broken_block == len(result.blocks) - 1 and result.broken_block > 0
    assert f"block {result.broken_block}" in result.certificate
    assert feasible_endings(stream, 8).status == "INFEASIBLE"
    assert approx(stream, 16, "1/2", exact=True, block_size=2).status == "FEASIBLE"  # 7, 8, 15, 16


def test_the_dag_holds_the_returned_path():
    stream = _bridge_stream()
    result = approx(stream, 4, "1/2", block_size=3)
    dag = result.dag
    assert nx.is_directed_acyclic_graph(dag)
    path = nx.shortest_path(dag, "start", "end", weight="dropped")
    assert len(path) == len(result.blocks) + 1
    assert [dag.edges[u, v]["block"] for u, v in zip(path, path[1:])] == list(range(len(result.blocks)))


@pytest.mark.parametrize("m", [2, 3])
def test_consistent_with_the_reduction(m):
    """Theorem 1's streams (with the zero-cost copies y_j = x_j, which the repaired algorithm
    admits): yes-instances schedule, no-instances are certified, as verify-reduction decides."""
    for instance, answer in ((planted_yes(m, seed=m), "FEASIBLE"), (certified_no(m, seed=m), "INFEASIBLE")):
        construction = construct(instance)
        stream = construction.stream
        assert any(f == 0 for f in cost_floors(stream))  # y_j costs nothing after x_j
        result = approx(stream, construction.ttft, "1/10", exact=True)
        assert result.status == answer
        if answer == "FEASIBLE":
            assert result.evaluation.max_ttft <= construction.ttft


def test_cost_floors_match_pairwise_overlaps():
    stream = Stream.from_records([("a", (("u", 3), ("x", 1)), 0), ("b", (("u", 3), ("y", 2)), 1),
                                  ("c", (("u", 3),), 2), ("d", (("v", 2),), 3)])
    expected = tuple(
        q.length - max((overlap(q.prompt, o.prompt) for o in stream.queries if o is not q), default=0)
        for q in stream.queries)
    assert cost_floors(stream) == expected == (1, 2, 0, 2)


def test_time_out_and_state_cap_are_unknown():
    stream = Stream.from_records([(f"q{i}", ((f"s{i}", 1),), i // 3) for i in range(12)])
    result = approx(stream, 30, "1/2", max_states=3)
    assert result.status == "UNKNOWN" and result.evaluation is None
    assert "no claim" in result.certificate


@pytest.mark.parametrize("kwargs, message", [
    (dict(ttft=0, eps="1/2"), "TTFT bound T must be >= 1"),
    (dict(ttft="2.5", eps="1/2"), "TTFT bound T must be an integer"),
    (dict(ttft=4, eps=0), "eps must lie strictly between 0 and 1, got 0"),
    (dict(ttft=4, eps=1), "eps must lie strictly between 0 and 1, got 1"),
    (dict(ttft=4, eps="nan"), "eps must be a number"),
    (dict(ttft=4, eps="1/2", max_length=3), "has 4 tokens, more than L = 3"),
    (dict(ttft=4, eps="1/2", block_size=0), "block size must be >= 1"),
])
def test_bad_input_names_the_value(kwargs, message):
    stream = Stream.from_records([("a", (("u", 4),), 0)])
    with pytest.raises(InputError, match=message):
        approx(stream, **kwargs)


def test_fractional_arrivals_are_refused():
    stream = Stream.from_records([("a", (("u", 1),), "1/2")])
    with pytest.raises(InputError, match="integer arrival times; query 'a' arrives at 1/2"):
        approx(stream, 4, "1/2")
