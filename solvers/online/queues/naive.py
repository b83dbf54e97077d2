"""The naive reference of a policy: every decision rescans every waiting query.

A policy's naive queue is :class:`NaivePolicyQueue` with the policy's choice written plainly
(``choose``); a key rule needs only its key (:meth:`NaivePolicyQueue.by_key`). The indexed queues
must decide exactly as these do; property tests check it for every policy, cache model, tie rule
and view (tests/solvers/online/policies/test_registry.py).

Examples
--------
>>> queue = NaivePolicyQueue.by_key(lambda rank, step, entered: -rank % 2, random_ties=False)
>>> for rank in range(3):
...     queue.add(rank, 0, 0)
>>> queue.peek(0, 0, None), [queue.pop(0, 0, None) for _ in range(3)]
(1, [1, 0, 2])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from prefix_sched.solvers.online.queues.buckets import peek_generator

Choose = Callable[[list[int], int, int, "np.random.Generator | None", dict[int, int]], int]
"""``choose(ranks, step, clock, rng, entered)``: the rank to serve among the waiting ``ranks`` (in
arrival order) at decision ``step`` made at scaled time ``clock``; ``entered[rank]`` is the
decision at which a query started waiting."""


class NaivePolicyQueue:
    """The waiting ranks (with the decision each entered at), rescanned by ``choose`` at each decision."""

    def __init__(self, choose: Choose) -> None:
        self._choose = choose
        self._entered: dict[int, int] = {}

    @classmethod
    def by_key(cls, key: Callable[[int, int, dict[int, int]], int], random_ties: bool) -> NaivePolicyQueue:
        """Serve the largest ``key(rank, step, entered)``, ties to the oldest, or with
        ``random_ties`` the ``r``-th oldest tied query, ``r = rng.integers(ties)``."""

        def choose(ranks, step, clock, rng, entered):
            keys = {rank: key(rank, step, entered) for rank in ranks}
            best = max(keys.values())
            ties = [rank for rank in ranks if keys[rank] == best]
            return ties[0 if rng is None or not random_ties else int(rng.integers(len(ties)))]

        return cls(choose)

    def __len__(self) -> int:
        return len(self._entered)

    def add(self, rank: int, step: int, clock: int) -> None:
        self._entered[rank] = step

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        if not self._entered:
            raise IndexError("pop from an empty waiting queue")
        rank = self._choose(sorted(self._entered), step, clock, rng, self._entered)
        del self._entered[rank]
        return rank

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The rank :meth:`pop` would serve now, left waiting: the same choice, its draws from
        :func:`~prefix_sched.solvers.online.queues.buckets.peek_generator`."""
        if not self._entered:
            raise IndexError("peek at an empty waiting queue")
        return self._choose(sorted(self._entered), step, clock, peek_generator(rng), self._entered)
