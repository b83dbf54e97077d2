"""The violations lemma (solvers/bounds/lower/violations.py) against brute force.

``fewest`` (the fewest queries over ``T``) and ``least_max_ttft`` (the least max TTFT) go over every
order, each scored by the Definition 2 evaluator. Hand-worked examples are in the test docstrings.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.bounds.lower import violations_lower_bound
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.stream import Stream
from strategies import streams

ALPHAS = (0, Fraction(1, 10), Fraction(1, 3))


def least_max_ttft(stream: Stream, alpha=0):
    """The least max TTFT over all orders (Definition 2), by brute force."""
    return min(evaluate(stream, order, alpha=alpha).max_ttft for order in permutations(range(stream.n)))


def _fewest(stream, ttft, alpha=0):
    return min(evaluate(stream, order, alpha=alpha).violations(ttft) for order in permutations(range(stream.n)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_n=6), alpha=st.sampled_from(ALPHAS),
       share=st.sampled_from((Fraction(1, 3), Fraction(2, 3), 1)))
def test_violations_bound_never_exceeds_the_fewest(stream, alpha, share):
    """The violations lemma: the count is <= the fewest queries over T (brute force), at T below T*."""
    ttft = least_max_ttft(stream, alpha) * share
    bound = violations_lower_bound(stream, ttft, alpha=alpha)
    assert bound.count <= _fewest(stream, ttft, alpha)
    assert bound.complete
    assert sum(w[3] for w in bound.windows) == bound.count
    for (x1, y1, _, _), (x2, _, _, _) in zip(bound.windows, bound.windows[1:]):
        assert y1 + ttft < x2


def test_violations_bound_by_hand():
    """Three 10-token queries at 0 (alpha = 0): T = 15 leaves room 15 for work 30, excess 15,
    so two whole queries (10 + 10 >= 15) must be late: exactly the truth (10, 20, 30)."""
    s = Stream.from_records([(q, ((q, 10),), 0) for q in "abc"])
    assert violations_lower_bound(s, 15).count == 2 == _fewest(s, 15)
    assert violations_lower_bound(s, 30).count == 0
