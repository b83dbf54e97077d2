"""The upper bound side: grouped EDF, the exact window re-optimizer and the local search.

The window DP is checked against brute force over every order of the window (last query fixed,
finishing no later), each scored by the Definition 2 evaluator on the whole order; the local
search is checked to return a permutation the evaluator accepts that is never worse than its
start; the upper bound never goes below the exact optimum nor above any policy it ran.
"""

from __future__ import annotations

import time
from fractions import Fraction
from itertools import permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.upper import (
    _Timeline, default_policies, grouped_edf, improve, reorder_window, upper_bound,
)
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream
from strategies import streams


def _key(stream, order, alpha=0):
    ev = evaluate(stream, order, alpha=alpha)
    return ev.max_ttft, sum(ev.ttft)


def _brute_window(stream, order, first, last, alpha=0):
    """The best (max, sum) over reorders of positions first..last-1, order[last] kept last and
    finishing no later than before, by enumeration and the evaluator."""
    base = evaluate(stream, order, alpha=alpha)
    limit = base.completion[last]
    best = (base.max_ttft, sum(base.ttft))
    for middle in permutations(order[first:last]):
        trial = list(order)
        trial[first:last] = middle
        ev = evaluate(stream, trial, alpha=alpha)
        if ev.completion[last] <= limit:
            best = min(best, (ev.max_ttft, sum(ev.ttft)))
    return best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(min_n=2, max_n=7, fractional=True), alpha=st.sampled_from((0, Fraction(1, 4))),
       data=st.data())
def test_window_dp_matches_brute_force(stream, alpha, data):
    order = data.draw(st.permutations(range(stream.n)))
    first = data.draw(st.integers(0, stream.n - 2))
    last = data.draw(st.integers(first + 1, min(stream.n - 1, first + 5)))
    state = _Timeline(stream, alpha, order)
    proposal = reorder_window(state, first, last)
    best = _brute_window(stream, order, first, last, alpha)
    if proposal is None:
        assert best == _key(stream, order, alpha)
    else:
        trial = list(order)
        trial[first:last + 1] = proposal
        assert sorted(proposal) == sorted(order[first:last + 1]) and proposal[-1] == order[last]
        assert _key(stream, trial, alpha) == best < _key(stream, order, alpha)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(min_n=1, max_n=9), alpha=st.sampled_from((0, Fraction(1, 3))), data=st.data(),
       window=st.integers(2, 5))
def test_local_search_never_worse_and_always_valid(stream, alpha, data, window):
    order = data.draw(st.permutations(range(stream.n)))
    found = improve(stream, order, alpha=alpha, window=window)
    again = evaluate(stream, found.evaluation.order, alpha=alpha)   # the evaluator accepts it
    assert again == found.evaluation
    assert sorted(found.evaluation.order) == list(range(stream.n))
    assert (again.max_ttft, sum(again.ttft)) <= _key(stream, order, alpha)
    assert found.start.order == tuple(order)
    assert list(found.history) == sorted(found.history, reverse=True)
    assert found.stopped == "local optimum"


def test_grouped_edf_by_hand():
    """Users u0, u1 alternate, 10 apart (u = d = 5). Span 20: u0's pair {q0, q2} is one cluster
    (released at 20), then {q1, q3}: the order q0, q2, q1, q3. Definition 2 serves it without idling:
    q0 0..10, q2 20..25 (reuses u0), q1 25..35, q3 35..40 (reuses u1): TTFTs 10, 5, 25, 10.
    Span 0: arrival order, no reuse, each query alone: TTFT 10 each."""
    s = Stream.from_records([(f"q{i}", ((f"u{i % 2}", 5), (f"d{i}", 5)), 10 * i) for i in range(4)])
    wide = grouped_edf(s, 20, 1)
    assert wide.order == (0, 2, 1, 3)
    assert wide.ttft == (10, 5, 25, 10)
    assert grouped_edf(s, 0, 1).ttft == (10, 10, 10, 10)
    eager = grouped_edf(s, 20, 1, eager=True)
    assert eager.order == (0, 1, 2, 3)   # never idles while a query waits: serves each on arrival
    assert grouped_edf(s, 20, 1, cache="unbounded").cache == "unbounded"


def test_upper_bound_sits_between_the_optimum_and_the_policies():
    for seed in range(4):
        s = regular_arrival_shuffled_queue(n=6, r=2, u=8, d=2, delta=3, seed=seed)
        ub = upper_bound(s, time_limit=10)
        optimum = min(evaluate(s, order).max_ttft for order in permutations(range(s.n)))
        policies = [simulate(s, spec).evaluation.max_ttft for spec in default_policies()]
        assert optimum <= ub.value <= min(policies)
        assert evaluate(s, ub.evaluation.order) == ub.evaluation


def test_local_search_keeps_its_time_limit():
    """A 3000-query stream from FCFS's order with a 1 s limit: it stops (generous wall bound)."""
    s = regular_arrival_shuffled_queue(n=3000, r=4, u=100, d=5, delta=30, seed=0)
    order = simulate(s, default_policies()[0]).order
    started = time.perf_counter()
    found = improve(s, order, window=6, time_limit=1)
    assert time.perf_counter() - started < 15
    assert found.stopped in ("time limit", "local optimum")
    assert found.evaluation.max_ttft <= evaluate(s, order).max_ttft


def test_bad_window_is_refused():
    s = Stream.from_records([("a", (("x", 1),), 0), ("b", (("y", 1),), 0)])
    with pytest.raises(InputError, match="window"):
        improve(s, [0, 1], window=1)
    with pytest.raises(InputError, match="window"):
        improve(s, [0, 1], window=99)
    with pytest.raises(InputError, match="permutation"):
        improve(s, [0, 0])
