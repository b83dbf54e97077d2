"""Brute force over every order, for n <= 8: the reference the exact solvers are checked against.

Every permutation is scored by the Definition 2 evaluator, so nothing here can disagree with it.
With a ``time_limit`` (seconds or a shared :class:`~prefix_sched.solvers.deadline.Deadline`) the
enumeration stops when it passes and the answer is None (no claim); without one it always finishes.

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
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.numbers import Exact, exact_number
from prefix_sched.theory.stream import Stream

MAX_N = 8
CHECK_ORDERS = 64  # orders evaluated between two clock reads


def best_max_ttft(stream: Stream, *, alpha: object = 0, time_limit: float | Deadline | None = None,
                  cache: object = DEFAULT_CACHE) -> tuple[Exact, tuple[int, ...]] | None:
    """The least max TTFT over all orders and the first order (lexicographically) reaching it.

    ``cache`` must be ``"last"`` (brute force answers the exact solvers' questions, which are
    about Definition 2's one-prompt cache); another model is refused (InputError).
    """
    require_last_prompt(cache, "the exact solvers")
    return _least(stream, lambda order: evaluate(stream, order, alpha=alpha).max_ttft, time_limit)


def fewest_violations(stream: Stream, ttft: object, *, alpha: object = 0, time_limit: float | Deadline | None = None,
                      cache: object = DEFAULT_CACHE) -> tuple[int, tuple[int, ...]] | None:
    """The least number of queries with TTFT > ``ttft`` over all orders, and an order reaching it (``cache``
    as in :func:`best_max_ttft`)."""
    require_last_prompt(cache, "the exact solvers")
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    return _least(stream, lambda order: evaluate(stream, order, alpha=alpha).violations(bound), time_limit)


def _least(stream: Stream, score, time_limit):
    """The first order of least ``score``, or None when the time limit passed first."""
    stop = Deadline.of(time_limit)
    if stream.n > MAX_N:
        raise InputError(f"brute force enumerates n! orders and stops at n = {MAX_N}; got n = {stream.n}")
    best = None
    for count, order in enumerate(permutations(range(stream.n))):
        if not count % CHECK_ORDERS and stop.expired():
            return None
        value = score(order)
        if best is None or value < best[0]:
            best = (value, order)
    return best
