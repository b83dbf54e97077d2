"""The window local search (solvers/bounds/upper/local_search.py): the exact window DP and the search.

The window DP is checked against brute force over every order of the window (last query fixed,
finishing no later), each scored by the Definition 2 evaluator on the whole order; the local
search is checked to return a permutation the evaluator accepts that is never worse than its
start.
"""

from __future__ import annotations

import time
from fractions import Fraction
from itertools import permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.upper import default_policies, improve, reorder_window
from prefix_sched.solvers.bounds.upper.local_search import _Timeline
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
