"""The window lemma (solvers/bounds/lower/window.py): the sweep over all windows against a naive recount.

The reference is written from the definitions, independently of the package:
``naive_window_bound`` recomputes the window lemma at token level for every pair of arrival times
(prefixes as token tuples, the credit by its definition for each cache model, read from the
cache spec). Hand-worked examples are in the test docstrings.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower import lower_bound, window_value
from prefix_sched.theory.prompt import expand_tokens
from prefix_sched.theory.stream import Stream
from strategies import streams

ALPHAS = (0, Fraction(1, 10), Fraction(1, 3))
CACHES = ("last", "unbounded", "lru:6")


def _weight(length: int, alpha) -> Fraction:
    """Weight of token position ``length`` (1-based): 1 + alpha (2j - 1)."""
    return 1 + alpha * (2 * length - 1)


def naive_window_bound(stream: Stream, alpha=0, cache="last"):
    """max over windows [x, y] of work - credit - (y - x), from token tuples."""
    capacity = int(cache.split(":")[1]) if cache.startswith("lru:") else None
    tokens = {q.qid: tuple(expand_tokens(q.prompt)) for q in stream.queries}
    prefixes = {qid: {toks[:j] for j in range(1, len(toks) + 1)} for qid, toks in tokens.items()}
    times = sorted({q.arrival for q in stream.queries})
    best = None
    for x in times:
        for y in (t for t in times if t >= x):
            trie = set().union(*(prefixes[q.qid] for q in stream.queries if x <= q.arrival <= y))
            work = sum(_weight(len(p), alpha) for p in trie)
            earlier = [prefixes[q.qid] & trie for q in stream.queries if q.arrival < x]
            if cache == "last":
                credit = max((sum(_weight(len(p), alpha) for p in held) for held in earlier), default=0)
            else:
                held = set().union(*earlier) if earlier else set()
                credit = sum(_weight(len(p), alpha) for p in held)
                if capacity is not None:
                    credit = min(credit, capacity + alpha * capacity ** 2)
            value = work - credit - (y - x)
            best = value if best is None else max(best, value)
    return best


def test_credit_by_cache_model_by_hand():
    """a = (p:4) and e = (r:3) at 0, then b = (p:4)(q:2) and c = (r:3) at 10; window [10, 10].

    work = 4 + 2 + 3 = 9 and the room is 0. ``last`` holds one earlier prompt: credit 4 (a),
    bound 5; ``unbounded`` holds both: credit 7, bound 2; ``lru:6`` holds at most 6 tokens:
    credit 6, bound 3. With alpha = 1/2 the prefix p weighs 4 + 16/2 = 12, q 2 + (36 - 16)/2 = 12,
    r 3 + 9/2: work 63/2, ``last`` credit 12.
    """
    s = Stream.from_records([("a", (("p", 4),), 0), ("e", (("r", 3),), 0),
                             ("b", (("p", 4), ("q", 2)), 10), ("c", (("r", 3),), 10)])
    for cache, credit in (("last", 4), ("unbounded", 7), ("lru:6", 6)):
        w = window_value(s, 10, 10, cache=cache)
        assert (w.work, w.credit, w.value) == (9, credit, 9 - credit)
    w = window_value(s, 10, 10, alpha=Fraction(1, 2))
    assert (w.work, w.credit) == (Fraction(63, 2), 12)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("cache", CACHES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_n=6))
def test_sweep_equals_naive_recount(stream, alpha, cache):
    """The sweep's window bound is exactly the best window recomputed at token level."""
    if cache.startswith("lru") and max(stream.lengths) > 6:
        with pytest.raises(InputError):
            lower_bound(stream, alpha=alpha, cache=cache)
        return
    lb = lower_bound(stream, alpha=alpha, cache=cache, runs=False)
    assert lb.window.value == naive_window_bound(stream, alpha, cache)
    assert lb.window == window_value(stream, lb.window.first_arrival, lb.window.last_arrival,
                                     alpha=alpha, cache=cache)
