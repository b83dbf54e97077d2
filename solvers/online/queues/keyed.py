"""The keyed waiting queue: serve the largest ``key(rank, m_q)`` over :class:`KeyBuckets`.

The index of the policies whose key is a fixed number per query, plus possibly its cached prefix
``m_q`` (``lpm-aging``, ``spf``, ``shortest-prompt``, ``lof``): ``O(log n)`` per decision and per
change of ``m_q``, which a :class:`MatchTracker` reports.

Examples
--------
>>> queue = KeyedQueue(3, lambda rank, m: -rank % 2, None, random_ties=False)
>>> for rank in range(3):
...     queue.add(rank, 0, 0)
>>> queue.peek(0, 0, None), [queue.pop(0, 0, None) for _ in range(3)]
(1, [1, 0, 2])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from prefix_sched.solvers.online.queues.buckets import KeyBuckets
from prefix_sched.solvers.online.queues.tracker import MatchTracker


class KeyedQueue:
    """Serve the largest ``key(rank, m_q)``, ties to the oldest (or a uniformly random tied query).

    Parameters
    ----------
    size : int
        The number of queries (their ranks are ``0 .. size - 1``).
    key : callable
        ``key(rank, m)``; with ``tracker=None`` it must not depend on ``m`` (it is passed 0).
    tracker : MatchTracker or None
    random_ties : bool
    entered : list of int, optional
        Filled with the decision at which each query started waiting (``lpm-aging``'s ``s_q``),
        before ``key`` is asked.
    """

    def __init__(self, size: int, key: Callable[[int, int], int], tracker: MatchTracker | None,
                 random_ties: bool, entered: list[int] | None = None) -> None:
        self._key = key
        self._tracker = tracker
        self._entered = entered
        self._buckets = KeyBuckets(size, random_ties)

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, rank: int, step: int, clock: int) -> None:
        if self._entered is not None:
            self._entered[rank] = step
        match = 0 if self._tracker is None else self._tracker.add(rank)
        self._buckets.file(rank, self._key(rank, match))

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        self._refresh("pop from")
        rank = self._buckets.pop(rng)
        if self._tracker is not None:
            self._tracker.remove(rank)
        return rank

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The rank :meth:`pop` would serve now, left waiting (``rng`` does not move)."""
        self._refresh("peek at")
        return self._buckets.peek(rng)

    def _refresh(self, doing: str) -> None:
        """Refile the queries whose ``m_q`` changed since the last decision."""
        buckets = self._buckets
        if not buckets:
            raise IndexError(f"{doing} an empty waiting queue")
        if self._tracker is not None:
            for rank, match in self._tracker.refresh():
                buckets.unfile(rank)
                buckets.file(rank, self._key(rank, match))
