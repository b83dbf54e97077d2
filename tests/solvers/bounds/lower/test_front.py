"""The lower bound's front door (solvers/bounds/lower/front.py) against exact optima.

The reference is written from the definitions, independently of the package: ``optimum``, the
least max TTFT by depth-first search over every order, served through the cache model's own state
(:mod:`prefix_sched.theory.cache`), pruned when a partial order already reaches the best max found.
The window, runs and violations bounds have their own tests beside this one.

Hand-worked examples are in the test docstrings.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower import lower_bound, per_query_bound, window_value
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.prompt import expand_tokens
from prefix_sched.theory.stream import Query, Stream
from strategies import streams

ALPHAS = (0, Fraction(1, 10), Fraction(1, 3))


def optimum(stream: Stream, alpha=0, cache="last"):
    """The least max TTFT over all orders (depth-first search with pruning), exact."""
    model = parse_cache(cache)
    queries = stream.queries
    best = [None]

    def visit(left: frozenset, state, clock, worst):
        if best[0] is not None and worst >= best[0]:
            return
        if not left:
            best[0] = worst
            return
        for i in sorted(left):
            query = queries[i]
            trial = state.copy()
            reused = trial.serve(query.prompt)
            length = len(expand_tokens(query.prompt))
            done = max(clock, query.arrival) + (length - reused) + alpha * (length ** 2 - reused ** 2)
            visit(left - {i}, trial, done, max(worst, done - query.arrival))

    visit(frozenset(range(stream.n)), model.new_state(), 0, 0)
    return best[0]


def test_two_queries_by_hand():
    """a = (p:4)(x:2) at 0 and b = (p:4)(y:3) at 1, alpha = 0.

    Window [0, 1]: the trie holds p (4), x (2), y (3): work 9, nothing earlier, room 1: 8.
    Serving a then b: b completes at 6 + 3 = 9, TTFT 8; b then a: b at 1..8, a done 10, TTFT 10.
    So T* = 8 and the bound is tight.
    """
    s = Stream.from_records([("a", (("p", 4), ("x", 2)), 0), ("b", (("p", 4), ("y", 3)), 1)])
    lb = lower_bound(s)
    assert (lb.value, lb.window.work, lb.window.credit) == (8, 9, 0)
    assert optimum(s) == 8
    assert lb.window.queries == (0, 1)


def test_toy_example_is_tight():
    """Section 4.2 (all at 0): the trie weighs 30 = T* (LPM's order is optimal)."""
    s = Stream.from_records([
        ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
        ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
    assert lower_bound(s).value == optimum(s) == 30


@pytest.mark.parametrize("alpha", ALPHAS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_n=6, fractional=True))
def test_bound_never_exceeds_the_optimum_last(stream, alpha):
    """Definition 2 (last): window, runs and per-query bounds all stay <= T*."""
    lb = lower_bound(stream, alpha=alpha)
    best = optimum(stream, alpha)
    assert lb.value <= best
    assert lb.per_query <= lb.window.value
    if lb.runs is not None:
        assert lb.runs.demand_below > lb.runs.room_below


@pytest.mark.parametrize("cache", ("unbounded", "lru:8"))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_n=6), alpha=st.sampled_from(ALPHAS))
def test_bound_never_exceeds_the_optimum_radix(stream, cache, alpha):
    """Radix caches: the window bound stays <= the optimum under that cache."""
    if cache.startswith("lru") and max(stream.lengths) > 8:
        return
    assert lower_bound(stream, alpha=alpha, cache=cache).value <= optimum(stream, alpha, cache)


def _corpus(count: int, seed: int = 7) -> list[Stream]:
    """A fixed corpus of small streams: 2-4 users with 1-3 queries each, arrivals 0..30."""
    rng = random.Random(seed)
    out = []
    for number in range(count):
        n = rng.randint(2, 6)
        users = [rng.choice((2, 5, 8)) for _ in range(3)]
        queries = []
        for i in range(n):
            user = rng.randint(0, 2)
            prompt = ((f"u{user}", users[user]), (f"d{number}.{i}", rng.randint(1, 3)))
            queries.append(Query(f"q{i}", prompt, rng.randint(0, 30)))
        out.append(Stream(tuple(queries)))
    return out


def test_bound_is_attained_on_part_of_a_fixed_corpus():
    """On 60 fixed streams the bound never exceeds T* and equals it on most of them (47 when written)."""
    corpus = _corpus(60)
    tight = 0
    for stream in corpus:
        lb, best = lower_bound(stream).value, optimum(stream)
        assert lb <= best
        tight += lb == best
    assert tight >= 40, f"the bound is tight on only {tight} of 60 streams"


def test_per_query_bound_by_hand():
    """a = (p:4)(x:2), b = (p:4): a costs at least 2 after b; b costs 0 after a."""
    s = Stream.from_records([("a", (("p", 4), ("x", 2)), 0), ("b", (("p", 4),), 9)])
    assert per_query_bound(s) == (2, 0)


def test_bad_input_is_refused():
    s = Stream.from_records([("a", (("x", 10),), 0)])
    with pytest.raises(InputError, match="cache"):
        lower_bound(s, cache="lru")
    with pytest.raises(InputError, match="capacity"):
        lower_bound(s, cache="lru:5")
    with pytest.raises(InputError, match="alpha"):
        lower_bound(s, alpha=-1)
    with pytest.raises(InputError, match="no query arrives"):
        window_value(s, 1, 2)
    with pytest.raises(InputError, match="upper bound"):
        lower_bound(Stream.from_records([("a", (("u", 10), ("x", 1)), 0), ("b", (("u", 10), ("y", 1)), 0),
                                         ("c", (("v", 10), ("z", 1)), 0)]), upper=1)
