"""``random``: a uniformly random waiting query.

At each decision the ``j``-th oldest waiting query, ``j`` drawn uniformly from the run's seeded
generator (``rng.integers(waiting)``, one draw per decision); a run needs a seed.

Indexed (:class:`RandomQueue`): the waiting ranks in a sorted list, the ``j``-th oldest in
``O(log n)``. Naive: the waiting ranks sorted at every decision. A peek draws ``j`` from a copy of
the generator, so the run's draws are those of its pops alone.
"""

from __future__ import annotations

import numpy as np
from sortedcontainers import SortedList

from prefix_sched.solvers.online.queues import NaivePolicyQueue, QueueInputs, peek_generator


def indexed_queue(spec, run: QueueInputs) -> RandomQueue:
    return RandomQueue()


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    return NaivePolicyQueue(lambda ranks, step, clock, rng, entered: ranks[int(rng.integers(len(ranks)))])


class RandomQueue:
    """``random``: the ``j``-th oldest waiting query, ``j = rng.integers(len)``."""

    def __init__(self) -> None:
        self._waiting = SortedList()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, rank: int, step: int, clock: int) -> None:
        self._waiting.add(rank)

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        return self._waiting.pop(int(rng.integers(len(self._waiting))))

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop` would serve now, left waiting: its draw made on a copy of ``rng``
        (:func:`~prefix_sched.solvers.online.queues.buckets.peek_generator`), which does not move."""
        if not self._waiting:
            raise IndexError("peek at an empty waiting queue")
        return self._waiting[int(peek_generator(rng).integers(len(self._waiting)))]
