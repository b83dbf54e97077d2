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
  cache reports each such event (its ``listener``), the queue's :class:`MatchTracker` (also the
  tracker of :mod:`~prefix_sched.solvers.online.priority`'s policies) finds the waiting queries with
  those leading segments in a trie of waiting prompts, and recomputes exactly their matches
  before the next decision; the buckets are a :class:`KeyBuckets` keyed by match length. Work per served query: ``O((1 + a) * (segments + log n))`` with ``a`` the
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
    """A node of :class:`MatchTracker`'s trie of waiting prompts over segment ids."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.children: dict[object, _Trie] = {}
        self.members: set[int] = set()


class MatchTracker:
    """Every waiting query's cached prefix ``m_q``, kept current by the cache's changes.

    Under a radix cache the tracker is the cache's ``listener``: an inserted or evicted node can
    change ``m_q`` only for prompts that start with the node's leading segments, which a trie of
    the waiting prompts finds. Under ``last`` a change of cached prompt from ``old`` to ``new``,
    agreeing on their first ``c`` segments, changes ``m_q`` only for the queries whose first
    ``c + 1`` segments are ``old``'s or ``new``'s (any other query agrees with both on the same
    leading segments). ``refresh()`` recomputes exactly those queries' matches.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : LastPromptState or RadixState
        The run's cache (a radix state gets the tracker as its ``listener``).

    Attributes
    ----------
    match : list of int
        ``match[rank]`` is ``m_q`` as last reported (``-1``: not waiting).

    Examples
    --------
    >>> from prefix_sched.theory.cache import parse_cache
    >>> state = parse_cache("unbounded").new_state()
    >>> tracker = MatchTracker([(("a", 3), ("b", 1)), (("c", 2),)], state)
    >>> tracker.add(0), tracker.add(1), tracker.refresh()
    (0, 0, [])
    >>> _ = state.serve((("a", 3), ("x", 1)))
    >>> tracker.refresh(), tracker.match
    ([(0, 3)], [3, 0])
    """

    def __init__(self, prompts: Sequence[Prompt], state) -> None:
        self._prompts = prompts
        self._state = state
        self._last = isinstance(state, LastPromptState)
        self._seen = state.prompt if self._last else None
        if not self._last:
            state.listener = self._changed
        self._root = _Trie()
        self._paths: list[list[_Trie] | None] = [None] * len(prompts)
        self.match = [-1] * len(prompts)
        self._dirty: list[_Trie] = []

    def add(self, rank: int) -> int:
        """Make the query of arrival rank ``rank`` wait; return its ``m_q``."""
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
        value = self.match[rank] = self._state.reuse(prompt)
        return value

    def remove(self, rank: int) -> None:
        """The query of arrival rank ``rank`` stops waiting."""
        path, self._paths[rank] = self._paths[rank], None
        self.match[rank] = -1
        parent, emptied = self._root, None
        for node, (sid, _) in zip(path, self._prompts[rank]):
            node.members.discard(rank)
            if emptied is None and not node.members:  # nobody waits below: drop the branch
                emptied = parent, sid
            parent = node
        if emptied is not None:
            del emptied[0].children[emptied[1]]

    def refresh(self) -> list[tuple[int, int]]:
        """The ``(rank, m_q)`` of the waiting queries whose match changed since last reported."""
        if self._last:
            old, new = self._seen, self._state.prompt
            if old is new:
                return []
            self._seen = new
            common = 0
            for (a, _), (b, _) in zip(old, new):
                if a != b:
                    break
                common += 1
            for prompt in (old, new):
                if len(prompt) > common:
                    self._changed(prompt, common)
        dirty = self._dirty
        if not dirty:
            return []
        ranks = dirty[0].members if len(dirty) == 1 else set().union(*(node.members for node in dirty))
        reuse, match, prompts, changed = self._state.reuse, self.match, self._prompts, []
        for rank in ranks:
            value = reuse(prompts[rank])
            if value != match[rank]:
                match[rank] = value
                changed.append((rank, value))
        dirty.clear()
        return changed

    def _changed(self, prompt: Prompt, k: int) -> None:
        """The cache's listener: a node whose first token lies in ``prompt``'s segment ``k`` was
        inserted or evicted; remember the waiting queries that share segments ``0..k``."""
        node = self._root
        for index in range(k + 1):
            node = node.children.get(prompt[index][0])
            if node is None:
                return
        self._dirty.append(node)


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
    >>> buckets.pop(None), buckets.pop(None), len(buckets)
    (1, 2, 1)
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
        if not self._count:
            raise IndexError("pop from an empty waiting queue")
        keys, sizes = self._keys, self._sizes
        while -keys[0] not in sizes:
            heapq.heappop(keys)
        value = -keys[0]
        bucket = self._buckets[value]
        if self._sorted:
            rank = bucket[0 if rng is None else int(rng.integers(len(bucket)))]
        else:
            key_of = self.key_of
            while key_of[bucket[0]] != value:
                heapq.heappop(bucket)
            rank = bucket[0]
        self.unfile(rank)
        return rank


class MatchIndexQueue:
    """Waiting queries bucketed by their match against a radix cache: a :class:`MatchTracker`
    (kept current by the cache's events) and :class:`KeyBuckets` keyed by match length.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : RadixState
        The run's cache; the queue's tracker becomes its ``listener``.
    random_ties : bool
        Keep each bucket as a sorted list, so that the ``r``-th oldest tied query can be drawn.
    """

    def __init__(self, prompts: Sequence[Prompt], state, random_ties: bool = False) -> None:
        self._tracker = MatchTracker(prompts, state)
        self._buckets = KeyBuckets(len(prompts), random_ties)
        self._arrived: list[int] = []  # waiting ranks (lazily cleaned)

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, rank: int) -> None:
        """Make the query of arrival rank ``rank`` wait."""
        self._buckets.file(rank, self._tracker.add(rank))
        heapq.heappush(self._arrived, rank)

    def pop_oldest(self) -> int:
        """Remove and return the oldest waiting query."""
        arrived, key_of = self._arrived, self._buckets.key_of
        while arrived and key_of[arrived[0]] is None:
            heapq.heappop(arrived)
        if not arrived:
            raise IndexError("pop from an empty waiting queue")
        rank = heapq.heappop(arrived)
        self._buckets.unfile(rank)
        self._tracker.remove(rank)
        return rank

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query with the longest cached prefix."""
        buckets = self._buckets
        if not buckets:
            raise IndexError("pop from an empty waiting queue")
        for rank, value in self._tracker.refresh():
            buckets.unfile(rank)
            buckets.file(rank, value)
        rank = buckets.pop(rng)
        self._tracker.remove(rank)
        return rank


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
