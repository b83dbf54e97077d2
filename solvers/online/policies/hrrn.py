"""``hrrn``: highest response ratio next (SGLang).

At decision time ``t``, for a waiting query ``q`` of arrival ``a_q``, prompt ``p_q`` and cached prefix
``m_q``, with Definition 2 cost ``c_q = (|p_q| - m_q) + alpha (|p_q|^2 - m_q^2)`` under the current
cache: serve ``argmax (t - a_q) / c_q``, compared exactly (by cross-multiplication in the
simulator's scaled integers, :func:`~prefix_sched.theory.cost.scaled_cost`), ties to the oldest. A
query with ``c_q = 0`` (fully cached) has an infinite ratio and ranks above every other; several of
them go oldest first. The classic ratio ``(W + S) / S = 1 + W / S`` orders as ``W / S``; ``W = t -
a_q`` is negative before an arrival, in the fixed view.

Indexed (:class:`HrrnQueue`): a kinetic tournament tree over the ranks. Query ``q``'s ratio at time
``t`` is the line ``(t - a_q) / c_q``; every internal node keeps the winner of its two children at
the current time and the first integer time its loser overtakes it (ties go to the older). The
clock never goes back, so advancing it replays only the certificates that fail; an add, a removal
or a new cost (``m_q`` from a :class:`~prefix_sched.solvers.online.queues.tracker.MatchTracker`)
recomputes one leaf-to-root path. ``O(log n)`` per update plus the certificate failures
(amortised ``O(log^2 n)`` per update for lines). Naive: every waiting query's ratio at every
decision.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from prefix_sched.solvers.online.queues import MatchTracker, NaivePolicyQueue, QueueInputs
from prefix_sched.theory.cache import CacheState
from prefix_sched.theory.cost import scaled_cost
from prefix_sched.theory.prompt import Prompt, prompt_length


def indexed_queue(spec, run: QueueInputs) -> HrrnQueue:
    return HrrnQueue(run.prompts, run.arrivals, run.state, run.scale, run.alpha)


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    prompts, arrivals, reuse, scale, alpha = run.prompts, run.arrivals, run.state.reuse, run.scale, run.alpha

    def choose(ranks, step, clock, rng, entered):
        best = None
        for rank in ranks:
            length, match = prompt_length(prompts[rank]), reuse(prompts[rank])
            cost = scaled_cost(length, match, scale, alpha)
            wait = clock - arrivals[rank]
            if cost == 0:
                return rank  # the oldest fully cached query
            if best is None or wait * best[1] > best[0] * cost:
                best = (wait, cost, rank)
        return best[2]

    return NaivePolicyQueue(choose)


class HrrnQueue:
    """HRRN by a kinetic tournament tree: serve the largest ``(t - a_q) / c_q`` (``c_q = 0`` first),
    ties to the oldest; see the module docstring."""

    def __init__(self, prompts: Sequence[Prompt], arrivals: Sequence[int], state: CacheState, scale: int,
                 alpha: int) -> None:
        self._tracker = MatchTracker(prompts, state)
        self._lengths = [prompt_length(p) for p in prompts]
        self._arrivals = arrivals
        self._scale, self._alpha = scale, alpha
        size = 1
        while size < max(1, len(prompts)):
            size *= 2
        self._size = size
        self._cost = [0] * len(prompts)
        self._win = [-1] * (2 * size)
        self._fail = [None] * (2 * size)
        self._events: list[tuple[int, int]] = []
        self._time = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, rank: int, step: int, clock: int) -> None:
        self._advance(clock)
        self._cost[rank] = self._cost_of(rank, self._tracker.add(rank))
        self._count += 1
        self._set(rank, rank)

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        rank = self._winner(clock, "pop from")
        self._tracker.remove(rank)
        self._count -= 1
        self._set(rank, -1)
        return rank

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop` would serve at ``clock``, left waiting (the tree is advanced to
        ``clock``, as the pop would)."""
        return self._winner(clock, "peek at")

    def _winner(self, clock: int, doing: str) -> int:
        """The tree at ``clock`` with every changed cost refiled; its winner."""
        if not self._count:
            raise IndexError(f"{doing} an empty waiting queue")
        self._advance(clock)
        for rank, match in self._tracker.refresh():
            self._cost[rank] = self._cost_of(rank, match)
            self._set(rank, rank)
        return self._win[1]

    def _cost_of(self, rank: int, match: int) -> int:
        length = self._lengths[rank]
        return scaled_cost(length, match, self._scale, self._alpha)

    def _beats(self, i: int, j: int, t: int) -> bool:
        """Whether waiting query ``i`` ranks above ``j`` at time ``t`` (``-1``: nobody)."""
        if j < 0:
            return True
        if i < 0:
            return False
        ci, cj = self._cost[i], self._cost[j]
        if ci == 0 or cj == 0:
            return ci == 0 and (cj != 0 or i < j)
        left, right = (t - self._arrivals[i]) * cj, (t - self._arrivals[j]) * ci
        return left > right or (left == right and i < j)

    def _certificate(self, w: int, loser: int) -> int | None:
        """The first integer time at which ``loser`` ranks above the winner ``w``, or None."""
        if loser < 0 or w < 0:
            return None
        cw, cl = self._cost[w], self._cost[loser]
        if cw == 0 or cw <= cl:
            return None  # w's ratio grows at least as fast (or is infinite): it stays ahead
        numerator = self._arrivals[loser] * cw - self._arrivals[w] * cl
        denominator = cw - cl
        if loser < w:  # the older loser wins the tie at the crossing
            return -((-numerator) // denominator)
        return numerator // denominator + 1

    def _recompute(self, node: int) -> None:
        left, right = self._win[2 * node], self._win[2 * node + 1]
        t = self._time
        w, loser = (left, right) if self._beats(left, right, t) else (right, left)
        self._win[node] = w
        fail = self._certificate(w, loser)
        self._fail[node] = fail
        if fail is not None:
            heapq.heappush(self._events, (fail, node))

    def _set(self, rank: int, value: int) -> None:
        node = self._size + rank
        self._win[node] = value
        node //= 2
        while node:
            self._recompute(node)
            node //= 2

    def _advance(self, clock: int) -> None:
        if self._time is not None and clock < self._time:
            raise AssertionError(f"HRRN's clock went back from {self._time} to {clock}")
        self._time = clock
        events, fail = self._events, self._fail
        while events and events[0][0] <= clock:
            when, node = heapq.heappop(events)
            if fail[node] != when:
                continue
            while node:
                self._recompute(node)
                node //= 2
