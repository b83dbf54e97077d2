"""Waiting ranks filed under an integer key: serve the largest key, ties to the oldest or drawn.

The structure under every keyed index (LPM's match buckets under a radix cache, ``lpm-aging``,
``spf``, ``shortest-prompt``, ``lof``): ``O(log n)`` amortised per file, unfile, pop and peek.
Also :func:`peek_generator`, how every queue's ``peek`` draws.
"""

from __future__ import annotations

import copy
import heapq

import numpy as np
from sortedcontainers import SortedList


def peek_generator(rng: np.random.Generator | None) -> np.random.Generator | None:
    """A copy of ``rng`` (None stays None): it draws what ``rng`` would draw next, and ``rng`` is
    left as it is.

    Every waiting queue's ``peek(step, clock, rng)`` answers what ``pop(step, clock, rng)`` would
    serve now without serving it; a random choice (a random tie, the ``random`` policy) is drawn
    from this copy, so peeking never moves the run's seeded draws: a ``pop`` after any number of
    peeks draws, and serves, exactly what it would have without them.

    >>> rng = np.random.default_rng(5)
    >>> int(peek_generator(rng).integers(100)) == int(rng.integers(100))
    True
    """
    return None if rng is None else copy.deepcopy(rng)


class KeyBuckets:
    """Waiting ranks filed under an integer key each: serve the largest key, ties to the oldest
    rank (or the ``r``-th oldest, ``r = rng.integers(ties)``).

    Per key a heap of ranks (a sorted list for random ties) and a heap of the keys in use, so a
    file, an unfile and a pop are ``O(log n)`` amortised. A heap is cleaned lazily: a rank in
    bucket ``v`` is current iff its key is ``v``; a rank that leaves and re-enters a bucket may
    appear twice, and both copies are current until it is unfiled.

    Parameters
    ----------
    size : int
        Ranks are ``0 .. size - 1``.
    random_ties : bool
        Keep each bucket as a sorted list, so that the ``r``-th oldest tied rank can be drawn.

    Attributes
    ----------
    key_of : list of int or None
        ``key_of[rank]``: the key of a filed rank, ``None`` for one not filed (read-only).

    Examples
    --------
    >>> buckets = KeyBuckets(3, random_ties=False)
    >>> for rank, key in [(0, 1), (1, 5), (2, 5)]:
    ...     buckets.file(rank, key)
    >>> buckets.peek(None), buckets.pop(None), buckets.pop(None), len(buckets)
    (1, 1, 2, 1)
    """

    def __init__(self, size: int, random_ties: bool) -> None:
        self._sorted = random_ties
        self.key_of: list[int | None] = [None] * size
        self._count = 0
        self._buckets: dict[int, list[int] | SortedList] = {}
        self._sizes: dict[int, int] = {}  # key -> ranks filed with it (no entry if none)
        self._keys: list[int] = []  # -key of every bucket created (lazily cleaned)

    def __len__(self) -> int:
        return self._count

    def file(self, rank: int, value: int) -> None:
        """File ``rank`` (not filed now) under key ``value``."""
        self.key_of[rank] = value
        self._count += 1
        size = self._sizes.get(value)
        if size:
            self._sizes[value] = size + 1
            if self._sorted:
                self._buckets[value].add(rank)
            else:
                heapq.heappush(self._buckets[value], rank)
        else:
            self._sizes[value] = 1
            self._buckets[value] = SortedList([rank]) if self._sorted else [rank]
            heapq.heappush(self._keys, -value)

    def unfile(self, rank: int) -> None:
        """Take the filed ``rank`` out."""
        value, self.key_of[rank] = self.key_of[rank], None
        self._count -= 1
        size = self._sizes[value] - 1
        if size:
            self._sizes[value] = size
            if self._sorted:
                self._buckets[value].remove(rank)
        else:
            del self._sizes[value], self._buckets[value]

    def pop(self, rng: np.random.Generator | None) -> int:
        """Unfile and return a rank of the largest key (see the class docstring for ties)."""
        rank = self._choose(rng, False)
        self.unfile(rank)
        return rank

    def peek(self, rng: np.random.Generator | None) -> int:
        """The rank :meth:`pop` would unfile now, left filed; a random tie is drawn from
        :func:`peek_generator` (``rng`` does not move)."""
        return self._choose(rng, True)

    def _choose(self, rng: np.random.Generator | None, peeking: bool) -> int:
        if not self._count:
            raise IndexError(f"{'peek at' if peeking else 'pop from'} an empty waiting queue")
        keys, sizes = self._keys, self._sizes
        while -keys[0] not in sizes:
            heapq.heappop(keys)
        value = -keys[0]
        bucket = self._buckets[value]
        if self._sorted:
            if rng is None:
                return bucket[0]
            return bucket[int((peek_generator(rng) if peeking else rng).integers(len(bucket)))]
        key_of = self.key_of
        while key_of[bucket[0]] != value:
            heapq.heappop(bucket)
        return bucket[0]
