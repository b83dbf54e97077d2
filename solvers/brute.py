"""Brute force over every order, for n <= 8: the reference the exact solvers are checked against.

Every permutation is scored by the Definition 2 evaluator, so nothing here can disagree with it.

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("v", 5),), 0), ("c", (("u", 5), ("y", 5)), 0)])
>>> best_max_ttft(s)
(20, (0, 2, 1))
>>> fewest_violations(s, 15)
(1, (0, 1, 2))
"""

from __future__ import annotations

from itertools import permutations

from prefix_sched.errors import InputError
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.exact import Exact, exact_number
from prefix_sched.theory.stream import Stream

MAX_N = 8


def _orders(stream: Stream):
    if stream.n > MAX_N:
        raise InputError(f"brute force enumerates n! orders and stops at n = {MAX_N}; got n = {stream.n}")
    return permutations(range(stream.n))


def best_max_ttft(stream: Stream, *, alpha: object = 0) -> tuple[Exact, tuple[int, ...]]:
    """The least max TTFT over all orders and the first order (lexicographically) reaching it."""
    best = None
    for order in _orders(stream):
        value = evaluate(stream, order, alpha=alpha).max_ttft
        if best is None or value < best[0]:
            best = (value, order)
    return best


def fewest_violations(stream: Stream, ttft: object, *, alpha: object = 0) -> tuple[int, tuple[int, ...]]:
    """The least number of queries with TTFT > ``ttft`` over all orders, and an order reaching it."""
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    best = None
    for order in _orders(stream):
        value = evaluate(stream, order, alpha=alpha).violations(bound)
        if best is None or value < best[0]:
            best = (value, order)
    return best
