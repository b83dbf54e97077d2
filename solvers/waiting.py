"""Waiting queues for the online policies: an indexed one and a naive rescanning reference.

Queries are identified by their *rank* in arrival order (0 = oldest), so "oldest" is "smallest
rank". Both queues answer the same two questions and must make identical decisions:

- ``pop_oldest()``: remove and return the oldest waiting query (an FCFS step);
- ``pop_lpm(cached, rng)``: remove and return a waiting query with the longest prefix overlap with
  the cached prompt; among ties the oldest (``rng is None``) or the ``r``-th oldest with
  ``r = rng.integers(ties)`` (uniformly random, one draw per decision in both queues).

:class:`RadixQueue` keeps the waiting prompts in a radix tree over segments. Each node holds the
waiting queries whose prompt passes through it (a lazily cleaned heap of ranks, or a sorted list
for random ties) and how many there are. The queries in the subtree of the deepest node on the
cached prompt's path that still has a waiting query are exactly those of longest overlap, so a
decision walks that path once: ``O(segments of the cached prompt + log n)`` amortised.
:class:`NaiveQueue` rescans every waiting query with :func:`~prefix_sched.theory.prompt.overlap`.

Examples
--------
>>> prompts = [(("u1", 5), ("d1", 5)), (("u2", 5), ("d3", 5)), (("u1", 5), ("d2", 5))]
>>> for queue in (RadixQueue(prompts), NaiveQueue(prompts)):
...     for rank in range(3):
...         queue.add(rank)
...     print(queue.pop_lpm((("u1", 5), ("d1", 5)), None), queue.pop_oldest(), len(queue))
0 1 1
0 1 1
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
from sortedcontainers import SortedList

from prefix_sched.theory.prompt import Prompt, overlap


class _Node:
    __slots__ = ("children", "members", "count")

    def __init__(self, sorted_members: bool) -> None:
        self.children: dict[object, _Node] = {}
        self.members: list[int] | SortedList = SortedList() if sorted_members else []
        self.count = 0


class RadixQueue:
    """Waiting queries indexed by a radix tree over prompt segments.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    random_ties : bool
        Keep sorted member lists so that the ``r``-th oldest tied query can be drawn.
    """

    def __init__(self, prompts: Sequence[Prompt], random_ties: bool = False) -> None:
        self._prompts = prompts
        self._sorted = random_ties
        self._root = _Node(random_ties)
        self._paths: list[list[_Node] | None] = [None] * len(prompts)
        self._waiting = bytearray(len(prompts))

    def __len__(self) -> int:
        return self._root.count

    def add(self, rank: int) -> None:
        """Make the query of arrival rank ``rank`` wait."""
        node = self._root
        path = [node]
        for sid, _ in self._prompts[rank]:
            child = node.children.get(sid)
            if child is None:
                child = node.children[sid] = _Node(self._sorted)
            node = child
            path.append(node)
        for node in path:
            node.count += 1
            if self._sorted:
                node.members.add(rank)
            else:
                heapq.heappush(node.members, rank)
        self._paths[rank] = path
        self._waiting[rank] = 1

    def pop_oldest(self) -> int:
        """Remove and return the oldest waiting query."""
        return self._take(self._root, None)

    def pop_lpm(self, cached: Prompt, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query of longest overlap with ``cached``."""
        node = self._root
        for sid, _ in cached:
            child = node.children.get(sid)
            if child is None or child.count == 0:
                break
            node = child
        return self._take(node, rng)

    def _take(self, node: _Node, rng: np.random.Generator | None) -> int:
        if node.count == 0:
            raise IndexError("pop from an empty waiting queue")
        if self._sorted:
            rank = node.members[0 if rng is None else int(rng.integers(node.count))]
        else:
            heap = node.members
            while not self._waiting[heap[0]]:
                heapq.heappop(heap)
            rank = heap[0]
        self._waiting[rank] = 0
        path, self._paths[rank] = self._paths[rank], None
        for member in path:
            member.count -= 1
            if self._sorted:
                member.members.remove(rank)
        return rank


class NaiveQueue:
    """The reference: a plain set of waiting ranks, rescanned at every LPM decision."""

    def __init__(self, prompts: Sequence[Prompt], random_ties: bool = False) -> None:
        self._prompts = prompts
        self._waiting: set[int] = set()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, rank: int) -> None:
        """Make the query of arrival rank ``rank`` wait."""
        self._waiting.add(rank)

    def pop_oldest(self) -> int:
        """Remove and return the oldest waiting query."""
        rank = min(self._waiting)
        self._waiting.remove(rank)
        return rank

    def pop_lpm(self, cached: Prompt, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query of longest overlap with ``cached``."""
        best, ties = -1, []
        for rank in self._waiting:
            shared = overlap(self._prompts[rank], cached)
            if shared > best:
                best, ties = shared, [rank]
            elif shared == best:
                ties.append(rank)
        ties.sort()
        rank = ties[0 if rng is None else int(rng.integers(len(ties)))]
        self._waiting.remove(rank)
        return rank


QUEUES = {"radix": RadixQueue, "naive": NaiveQueue}
