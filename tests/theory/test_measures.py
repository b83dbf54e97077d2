"""The one vocabulary of a run's figures: every measure recomputed from the TTFTs, by hand.

Worked example (Section 4.2's toy stream, alpha = 0, all arrivals at 0, order u1d1 u1d2 u2d3 u2d4):
TTFTs 10, 15, 25, 30; reused 0, 5, 0, 5 (10 of 40 tokens); mean 20; p50 = 20 (halfway between 15
and 25); max = makespan = 30; with T = 20 two queries are over. Slowdowns are TTFT / 10 per query
(1, 1.5, 2.5, 3): Jain's index (8^2) / (4 * 18.5) = 64/74.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from prefix_sched.errors import InputError
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.measures import (
    MEASURES, RUN_FIGURES, jain_index, measure, parse_measure, slowdowns,
)

from strategies import streams, toy_stream

EVALUATION_MEASURES = [name for name in MEASURES if name not in RUN_FIGURES]


def _reference(name, stream, ev, ttft):
    """Each measure from first principles (no Evaluation helper)."""
    ttfts = [Fraction(x) for x in ev.ttft]
    lengths = [stream.lengths[i] for i in ev.order]
    return {
        "count": len(ttfts),
        "mean": sum(ttfts) / len(ttfts),
        "p50": _linear(ttfts, 50), "p90": _linear(ttfts, 90), "p99": _linear(ttfts, 99),
        "max": max(ttfts),
        "makespan": max(Fraction(c) for c in ev.completion),
        "reused": sum(ev.reused),
        "reused_share": Fraction(sum(ev.reused), sum(lengths)),
        "violations": sum(1 for x in ttfts if x > ttft),
        "jain_slowdown": _jain([x / (p + ev.alpha * p * p) for x, p in zip(ttfts, lengths)]),
    }[name]


def _linear(values, q):
    """numpy's ``linear`` percentile, exactly: rank (n - 1) q / 100, interpolated."""
    ordered = sorted(values)
    rank = Fraction(len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _jain(values):
    if not any(values):
        return 1.0
    return float(sum(values) ** 2 / (len(values) * sum(x * x for x in values)))


def test_the_worked_example():
    stream = toy_stream()
    ev = evaluate(stream, [0, 2, 1, 3])
    got = measure(ev, stream, EVALUATION_MEASURES, ttft=20)
    assert got == {"count": 4, "mean": 20, "p50": 20, "p90": Fraction(57, 2), "p99": Fraction(597, 20), "max": 30,
                   "makespan": 30, "reused": 10, "reused_share": Fraction(1, 4), "violations": 2,
                   "jain_slowdown": pytest.approx(64 / 74, rel=1e-15)}


@settings(max_examples=60, deadline=None)
@given(streams(max_n=6, fractional=True))
@pytest.mark.parametrize("alpha", [0, Fraction(1, 7)])
@pytest.mark.parametrize("cache", ["last", "unbounded"])
def test_every_measure_is_its_definition(alpha, cache, stream):
    order = list(reversed(range(stream.n)))
    ev = evaluate(stream, order, alpha=alpha, cache=cache)
    ttft = sorted(ev.ttft)[stream.n // 2]
    got = measure(ev, stream, EVALUATION_MEASURES, ttft=ttft)
    for name in EVALUATION_MEASURES:
        expected = _reference(name, stream, ev, ttft)
        if MEASURES[name].kind == "float":
            assert got[name] == pytest.approx(expected, rel=1e-12), name
        else:
            assert got[name] == expected, name
            assert type(got[name]) is int or (not MEASURES[name].integer and got[name].denominator > 1), name


def test_percentiles_are_numpys_linear_method():
    stream = toy_stream(delta=3)
    ev = evaluate(stream, [3, 0, 2, 1])
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert float(measure(ev, stream, [name])[name]) == pytest.approx(float(np.percentile(ev.ttft, q)))


def test_run_figures_come_from_the_run_and_a_given_figure_wins():
    stream = toy_stream()
    ev = evaluate(stream, [0, 1, 2, 3])
    assert RUN_FIGURES == ("max_waited", "fcfs_fallbacks")
    assert measure(ev, stream, ["max_waited", "fcfs_fallbacks"], figures={"max_waited": 3, "fcfs_fallbacks": None}) \
        == {"max_waited": 3, "fcfs_fallbacks": None}
    assert measure(ev, stream, ["jain_slowdown"], figures={"jain_slowdown": 0.5}) == {"jain_slowdown": 0.5}
    assert list(measure(ev, stream, ["p99", "count", "mean"])) == ["p99", "count", "mean"]  # the order asked


@pytest.mark.parametrize("call, message", [
    (lambda ev, s: measure(ev, s, ["max_ttft"]), "unknown measure 'max_ttft'; valid: count, mean, p50"),
    (lambda ev, s: measure(ev, s, ["violations"]), "measure 'violations' (queries with TTFT above the bound T) "
                                                   "needs the bound T"),
    (lambda ev, s: measure(ev, s, ["max_waited"]), "is a figure of a policy run, not of an evaluation"),
    (lambda ev, s: parse_measure(["p99"]), "unknown measure"),
])
def test_bad_requests_name_the_measure(call, message):
    stream = toy_stream()
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(evaluate(stream, [0, 1, 2, 3]), stream)


def test_the_table_is_whole():
    for name, found in MEASURES.items():
        assert found.name == name and found.kind in ("int", "exact", "float") and found.meaning
    assert [name for name, found in MEASURES.items() if found.higher_is_better] == \
        ["reused", "reused_share", "jain_slowdown"]
    assert [name for name, found in MEASURES.items() if found.needs_ttft] == ["violations"]


def test_jain_index_and_slowdowns():
    assert jain_index([2, 2]) == 1.0 and jain_index([0, 0]) == 1.0 and jain_index([1, 0]) == 0.5
    stream = toy_stream()
    ev = evaluate(stream, [0, 2, 1, 3], alpha=Fraction(1, 10))
    # each prompt is 10 tokens: own cost 10 + 10^2 / 10 = 20
    assert slowdowns(stream, ev) == [float(Fraction(x) / 20) for x in ev.ttft]
