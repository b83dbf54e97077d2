"""Waiting queues for the online policies: indexed ones and a naive rescanning reference.

Queries are identified by their *rank* in arrival order (0 = oldest), so "oldest" is "smallest
rank". A queue is built over the prompts (by rank), the run's cache state (from
:mod:`~prefix_sched.theory.cache`) and the tie rule; every queue answers the same two questions
and all must make identical decisions:

- ``pop_oldest()``: remove and return the oldest waiting query (an FCFS step);
- ``pop_lpm(rng)``: remove and return a waiting query whose prompt has the longest cached prefix
  under the cache state (``state.reuse``); among ties the oldest (``rng is None``) or the
  ``r``-th oldest with ``r = rng.integers(ties)`` (uniformly random, one draw per decision).

The queues (:func:`make_queue` picks one):

- :class:`RadixQueue`, the index for the ``last`` cache (Definition 2): the waiting prompts in a
  radix tree over segments, each node holding the waiting queries whose prompt passes through it.
  The queries in the subtree of the deepest node on the cached prompt's path that still has a
  waiting query are exactly those of longest overlap, so a decision walks that path once:
  ``O(segments of the cached prompt + log n)`` amortised.
- :class:`MatchIndexQueue`, the index for radix caches (``lru:TOKENS``, ``unbounded``), where the
  match is against a whole tree. It keeps every waiting query's match ``m_q`` in buckets (per
  match length a heap of ranks, or a sorted list for random ties; and a heap of the lengths in
  use), so a decision is ``O(log n)`` amortised. A match changes only when the cache inserts or evicts a node (a split changes no
  cached token), and only for prompts that start with the node's path up to its first token; the
  cache reports each such event (its ``listener``), the queue finds the waiting queries with
  those leading segments in a trie of its own, and recomputes exactly their matches before the
  next decision. Work per served query: ``O((1 + a) * (segments + log n))`` with ``a`` the
  number of waiting queries that share a changed node's leading segments; it does not grow with
  the queue length unless a node shared by the whole queue is inserted or evicted. There is no
  cap on the queue (SGLang's LPM turns into FCFS above 128 waiting requests).
- :class:`NaiveQueue`, the reference for every cache model: a plain set of waiting ranks,
  rescanned with ``state.reuse`` at every LPM decision.

Examples
--------
>>> from prefix_sched.theory.cache import parse_cache
>>> prompts = [(("u1", 5), ("d1", 5)), (("u2", 5), ("d3", 5)), (("u1", 5), ("d2", 5))]
>>> for kind in ("radix", "naive"):
...     state = parse_cache("last").new_state()
...     _ = state.serve((("u1", 5), ("d1", 5)))
...     queue = make_queue(kind, prompts, state, random_ties=False)
...     for rank in range(3):
...         queue.add(rank)
...     print(queue.pop_lpm(None), queue.pop_oldest(), len(queue))
0 1 1
0 1 1

Under a radix cache LPM sees every cached prefix, not only the last prompt's:

>>> state = parse_cache("unbounded").new_state()
>>> [state.serve(p) for p in [(("u2", 5), ("d9", 5)), (("u1", 5), ("d8", 5))]]
[0, 0]
>>> queue = make_queue("radix", prompts, state, random_ties=False)
>>> for rank in range(3):
...     queue.add(rank)
>>> queue.pop_lpm(None), queue.pop_lpm(None), queue.pop_lpm(None)
(0, 1, 2)
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
from sortedcontainers import SortedList

from prefix_sched.errors import InputError
from prefix_sched.theory.cache import LastPromptState
from prefix_sched.theory.prompt import Prompt

QUEUES = ("radix", "naive")
"""Queue kinds: ``radix`` is the index for the run's cache model, ``naive`` the rescan."""


def make_queue(kind: str, prompts: Sequence[Prompt], state, random_ties: bool):
    """Return the waiting queue ``kind`` (``"radix"``: the index for ``state``'s model, or
    ``"naive"``) over ``prompts`` and the cache ``state``.

    Raises
    ------
    InputError
        If ``kind`` is not a queue kind.
    """
    if kind == "naive":
        return NaiveQueue(prompts, state, random_ties)
    if kind != "radix":
        raise InputError(f"unknown queue {kind!r}; valid: {', '.join(QUEUES)}")
    if isinstance(state, LastPromptState):
        return RadixQueue(prompts, state, random_ties)
    return MatchIndexQueue(prompts, state, random_ties)


class _Node:
    __slots__ = ("children", "members", "count")

    def __init__(self, sorted_members: bool) -> None:
        self.children: dict[object, _Node] = {}
        self.members: list[int] | SortedList = SortedList() if sorted_members else []
        self.count = 0


class RadixQueue:
    """Waiting queries indexed by a radix tree over prompt segments, for the ``last`` cache.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : LastPromptState
        The run's cache; LPM matches against ``state.prompt``.
    random_ties : bool
        Keep sorted member lists so that the ``r``-th oldest tied query can be drawn.
    """

    def __init__(self, prompts: Sequence[Prompt], state: LastPromptState, random_ties: bool = False) -> None:
        self._prompts = prompts
        self._state = state
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

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query of longest overlap with the cached prompt."""
        node = self._root
        for sid, _ in self._state.prompt:
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


class _Trie:
    """A node of :class:`MatchIndexQueue`'s trie of waiting prompts over segment ids."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.children: dict[object, _Trie] = {}
        self.members: set[int] = set()


class MatchIndexQueue:
    """Waiting queries bucketed by their match against a radix cache, kept current by its events.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : RadixState
        The run's cache; the queue becomes its ``listener``.
    random_ties : bool
        Keep each bucket as a sorted list, so that the ``r``-th oldest tied query can be drawn;
        otherwise a bucket is a heap of ranks, cleaned lazily (a rank in bucket ``m`` is current
        iff its match is ``m``; a rank that leaves and re-enters a bucket may appear twice, and
        both copies are current until it is served).
    """

    def __init__(self, prompts: Sequence[Prompt], state, random_ties: bool = False) -> None:
        self._prompts = prompts
        self._state = state
        state.listener = self._changed
        self._sorted = random_ties
        self._root = _Trie()
        self._paths: list[list[_Trie] | None] = [None] * len(prompts)
        self._match = [-1] * len(prompts)  # -1: not waiting
        self._buckets: dict[int, list[int] | SortedList] = {}
        self._sizes: dict[int, int] = {}  # match -> waiting queries with it (no key if none)
        self._lengths: list[int] = []  # -match of every bucket created (lazily cleaned)
        self._arrived: list[int] = []  # waiting ranks (lazily cleaned)
        self._dirty: list[_Trie] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, rank: int) -> None:
        """Make the query of arrival rank ``rank`` wait."""
        prompt = self._prompts[rank]
        node, path = self._root, []
        for sid, _ in prompt:
            child = node.children.get(sid)
            if child is None:
                child = node.children[sid] = _Trie()
            child.members.add(rank)
            path.append(child)
            node = child
        self._paths[rank] = path
        self._file(rank, self._state.reuse(prompt))
        heapq.heappush(self._arrived, rank)
        self._count += 1

    def pop_oldest(self) -> int:
        """Remove and return the oldest waiting query."""
        arrived, match = self._arrived, self._match
        while arrived and match[arrived[0]] < 0:
            heapq.heappop(arrived)
        if not arrived:
            raise IndexError("pop from an empty waiting queue")
        rank = heapq.heappop(arrived)
        self._remove(rank)
        return rank

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query with the longest cached prefix."""
        if not self._count:
            raise IndexError("pop from an empty waiting queue")
        if self._dirty:
            self._refresh()
        lengths, sizes = self._lengths, self._sizes
        while -lengths[0] not in sizes:
            heapq.heappop(lengths)
        value = -lengths[0]
        bucket = self._buckets[value]
        if self._sorted:
            rank = bucket[0 if rng is None else int(rng.integers(len(bucket)))]
        else:
            match = self._match
            while match[bucket[0]] != value:
                heapq.heappop(bucket)
            rank = bucket[0]
        self._remove(rank)
        return rank

    def _changed(self, prompt: Prompt, k: int) -> None:
        """The cache's listener: a node whose first token lies in ``prompt``'s segment ``k`` was
        inserted or evicted; remember the waiting queries that share segments ``0..k``."""
        node = self._root
        for index in range(k + 1):
            node = node.children.get(prompt[index][0])
            if node is None:
                return
        self._dirty.append(node)

    def _refresh(self) -> None:
        """Recompute the matches of the queries the cache's events may have changed."""
        dirty = self._dirty
        ranks = dirty[0].members if len(dirty) == 1 else set().union(*(node.members for node in dirty))
        reuse, match, prompts = self._state.reuse, self._match, self._prompts
        for rank in list(ranks):
            value = reuse(prompts[rank])
            if value != match[rank]:
                self._unfile(rank)
                self._file(rank, value)
        dirty.clear()

    def _file(self, rank: int, value: int) -> None:
        self._match[rank] = value
        size = self._sizes.get(value)
        if size:
            self._sizes[value] = size + 1
            bucket = self._buckets[value]
            if self._sorted:
                bucket.add(rank)
            else:
                heapq.heappush(bucket, rank)
        else:
            self._sizes[value] = 1
            self._buckets[value] = SortedList([rank]) if self._sorted else [rank]
            heapq.heappush(self._lengths, -value)

    def _unfile(self, rank: int) -> None:
        value = self._match[rank]
        size = self._sizes[value] - 1
        if size:
            self._sizes[value] = size
            if self._sorted:
                self._buckets[value].remove(rank)
        else:
            del self._sizes[value], self._buckets[value]

    def _remove(self, rank: int) -> None:
        self._unfile(rank)
        self._match[rank] = -1
        self._count -= 1
        path, self._paths[rank] = self._paths[rank], None
        parent, emptied = self._root, None
        for node, (sid, _) in zip(path, self._prompts[rank]):
            node.members.discard(rank)
            if emptied is None and not node.members:  # nobody waits below: drop the branch
                emptied = parent, sid
            parent = node
        if emptied is not None:
            del emptied[0].children[emptied[1]]


class NaiveQueue:
    """The reference: a plain set of waiting ranks, rescanned at every LPM decision."""

    def __init__(self, prompts: Sequence[Prompt], state, random_ties: bool = False) -> None:
        self._prompts = prompts
        self._state = state
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

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query with the longest cached prefix."""
        best, ties = -1, []
        for rank in self._waiting:
            shared = self._state.reuse(self._prompts[rank])
            if shared > best:
                best, ties = shared, [rank]
            elif shared == best:
                ties.append(rank)
        ties.sort()
        rank = ties[0 if rng is None else int(rng.integers(len(ties)))]
        self._waiting.remove(rank)
        return rank
