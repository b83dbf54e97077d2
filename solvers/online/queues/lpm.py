"""LPM's waiting queues: the index for each kind of cache, the naive rescan, and Algorithm 1's steps.

Queries are identified by their *rank* in arrival order (0 = oldest), so "oldest" is "smallest
rank". An LPM queue is built over the prompts (by rank), the run's cache state (from
:mod:`~prefix_sched.theory.cache`) and the tie rule; every LPM queue answers the same two
questions and all must make identical decisions:

- ``pop_oldest()``: remove and return the oldest waiting query (an FCFS step);
- ``pop_lpm(rng)``: remove and return a waiting query whose prompt has the longest cached prefix
  under the cache state (``state.reuse``); among ties the oldest (``rng is None``) or the
  ``r``-th oldest with ``r = rng.integers(ties)`` (uniformly random, one draw per decision);
- ``peek_oldest()`` and ``peek_lpm(rng)``: the query the pop would return now, left waiting (a
  random tie drawn from :func:`~prefix_sched.solvers.online.queues.buckets.peek_generator`: ``rng``
  does not move).

The queues (:func:`make_lpm_queue` picks one, asking the state what it offers, never its class):

- :class:`LpmIndex`, the index for a one-prompt cache (``last``, Definition 2; the state gives its
  prompt, ``state.single_prompt()``): the waiting prompts in a trie over segments, each node
  holding the waiting queries whose prompt passes through it. The queries in the subtree of the
  deepest node on the cached prompt's path that still has a waiting query are exactly those of
  longest overlap, so a decision walks that path once: ``O(segments of the cached prompt + log n)``
  amortised.
- :class:`MatchIndexQueue`, the index for any cache that reports its changes (``state.watch``:
  ``lru:TOKENS``, ``unbounded``), where the match is against a whole tree. It keeps every waiting
  query's match ``m_q`` in buckets (per match length a heap of ranks, or a sorted list for random
  ties; and a heap of the lengths in use), so a decision is ``O(log n)`` amortised. A match
  changes only when the cache inserts or evicts a node (a split changes no cached token), and
  only for prompts that start with the node's path up to its first token; the cache reports each
  such event, the queue's :class:`~prefix_sched.solvers.online.queues.tracker.MatchTracker` finds
  the waiting queries with those leading segments in a trie of waiting prompts, and recomputes
  exactly their matches before the next decision; the buckets are a
  :class:`~prefix_sched.solvers.online.queues.buckets.KeyBuckets` keyed by match length. Work per
  served query: ``O((1 + a) * (segments + log n))`` with ``a`` the number of waiting queries that
  share a changed node's leading segments; it does not grow with the queue length unless a node
  shared by the whole queue is inserted or evicted. There is no cap on the queue (SGLang's LPM
  turns into FCFS above 128 waiting requests: that is ``sglang-lpm``).
- :class:`NaiveLpmQueue`, the reference for every cache model: a plain set of waiting ranks,
  rescanned with ``state.reuse`` at every LPM decision.

:class:`LpmStepQueue` serves the policies built from these two steps: FCFS, LPM and k-LPM
(Algorithm 1: which decisions are FCFS steps) and ``sglang-lpm`` (an FCFS step whenever more than
``T`` wait).

Examples
--------
>>> from prefix_sched.theory.cache import parse_cache
>>> prompts = [(("u1", 5), ("d1", 5)), (("u2", 5), ("d3", 5)), (("u1", 5), ("d2", 5))]
>>> for kind in ("indexed", "naive"):
...     state = parse_cache("last").new_state()
...     _ = state.serve((("u1", 5), ("d1", 5)))
...     queue = make_lpm_queue(kind, prompts, state, random_ties=False)
...     for rank in range(3):
...         queue.add(rank)
...     print(queue.peek_lpm(None), queue.pop_lpm(None), queue.peek_oldest(), queue.pop_oldest(), len(queue))
0 0 1 1 1
0 0 1 1 1

Under a radix cache LPM sees every cached prefix, not only the last prompt's:

>>> state = parse_cache("unbounded").new_state()
>>> [state.serve(p) for p in [(("u2", 5), ("d9", 5)), (("u1", 5), ("d8", 5))]]
[0, 0]
>>> queue = make_lpm_queue("indexed", prompts, state, random_ties=False)
>>> for rank in range(3):
...     queue.add(rank)
>>> queue.pop_lpm(None), queue.pop_lpm(None), queue.pop_lpm(None)
(0, 1, 2)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

import numpy as np
from sortedcontainers import SortedList

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.queues.buckets import KeyBuckets, peek_generator
from prefix_sched.solvers.online.queues.tracker import MatchTracker
from prefix_sched.theory.cache import CacheState
from prefix_sched.theory.prompt import Prompt

QUEUES = ("indexed", "naive")
"""Queue kinds: ``indexed`` is the index for the run's cache model, ``naive`` the rescan."""


def make_lpm_queue(kind: str, prompts: Sequence[Prompt], state: CacheState, random_ties: bool):
    """Return the LPM queue ``kind`` (``"indexed"``: the index for what ``state`` offers, or
    ``"naive"``) over ``prompts`` and the cache ``state``.

    Raises
    ------
    InputError
        If ``kind`` is not a queue kind, or the indexed queue is asked of a state that neither
        holds one prompt nor reports its changes.
    """
    if kind == "naive":
        return NaiveLpmQueue(prompts, state, random_ties)
    if kind != "indexed":
        raise InputError(f"unknown queue {kind!r}; valid: {', '.join(QUEUES)}")
    if state.single_prompt() is not None:
        return LpmIndex(prompts, state, random_ties)
    return MatchIndexQueue(prompts, state, random_ties)


class _Node:
    __slots__ = ("children", "members", "count")

    def __init__(self, sorted_members: bool) -> None:
        self.children: dict[object, _Node] = {}
        self.members: list[int] | SortedList = SortedList() if sorted_members else []
        self.count = 0


class LpmIndex:
    """Waiting queries indexed by a trie over prompt segments, for a one-prompt cache (``last``).

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : CacheState
        The run's cache, holding one prompt; LPM matches against ``state.single_prompt()``.
    random_ties : bool
        Keep sorted member lists so that the ``r``-th oldest tied query can be drawn.
    """

    def __init__(self, prompts: Sequence[Prompt], state: CacheState, random_ties: bool = False) -> None:
        self._prompts = prompts
        self._cached = state.single_prompt
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
        return self._take(self._choose(self._root, None, "pop from"))

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query of longest overlap with the cached prompt."""
        return self._take(self._choose(self._deepest(), rng, "pop from"))

    def peek_oldest(self) -> int:
        """The oldest waiting query, left waiting."""
        return self._choose(self._root, None, "peek at")

    def peek_lpm(self, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop_lpm` would return now, left waiting (``rng`` does not move)."""
        return self._choose(self._deepest(), peek_generator(rng) if self._sorted else None, "peek at")

    def _deepest(self) -> _Node:
        """The deepest node on the cached prompt's path with a waiting query below."""
        node = self._root
        for sid, _ in self._cached():
            child = node.children.get(sid)
            if child is None or child.count == 0:
                break
            node = child
        return node

    def _choose(self, node: _Node, rng: np.random.Generator | None, doing: str) -> int:
        if node.count == 0:
            raise IndexError(f"{doing} an empty waiting queue")
        if self._sorted:
            return node.members[0 if rng is None else int(rng.integers(node.count))]
        heap = node.members
        while not self._waiting[heap[0]]:
            heapq.heappop(heap)
        return heap[0]

    def _take(self, rank: int) -> int:
        self._waiting[rank] = 0
        path, self._paths[rank] = self._paths[rank], None
        for member in path:
            member.count -= 1
            if self._sorted:
                member.members.remove(rank)
        return rank


class MatchIndexQueue:
    """Waiting queries bucketed by their match against a cache that reports its changes (a radix
    cache): a :class:`MatchTracker` (kept current by the cache's events) and :class:`KeyBuckets`
    keyed by match length.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : CacheState
        The run's cache; the queue's tracker watches it (``state.watch``).
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
        rank = self._oldest("pop from")
        heapq.heappop(self._arrived)
        self._buckets.unfile(rank)
        self._tracker.remove(rank)
        return rank

    def pop_lpm(self, rng: np.random.Generator | None) -> int:
        """Remove and return a waiting query with the longest cached prefix."""
        self._refresh("pop from")
        rank = self._buckets.pop(rng)
        self._tracker.remove(rank)
        return rank

    def peek_oldest(self) -> int:
        """The oldest waiting query, left waiting."""
        return self._oldest("peek at")

    def peek_lpm(self, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop_lpm` would return now, left waiting (``rng`` does not move)."""
        self._refresh("peek at")
        return self._buckets.peek(rng)

    def _oldest(self, doing: str) -> int:
        arrived, key_of = self._arrived, self._buckets.key_of
        while arrived and key_of[arrived[0]] is None:
            heapq.heappop(arrived)
        if not arrived:
            raise IndexError(f"{doing} an empty waiting queue")
        return arrived[0]

    def _refresh(self, doing: str) -> None:
        """Refile the queries whose match changed since the last decision."""
        buckets = self._buckets
        if not buckets:
            raise IndexError(f"{doing} an empty waiting queue")
        for rank, value in self._tracker.refresh():
            buckets.unfile(rank)
            buckets.file(rank, value)


class NaiveLpmQueue:
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
        rank = self._lpm(rng)
        self._waiting.remove(rank)
        return rank

    def peek_oldest(self) -> int:
        """The oldest waiting query, left waiting."""
        if not self._waiting:
            raise IndexError("peek at an empty waiting queue")
        return min(self._waiting)

    def peek_lpm(self, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop_lpm` would return now, left waiting (``rng`` does not move)."""
        if not self._waiting:
            raise IndexError("peek at an empty waiting queue")
        return self._lpm(peek_generator(rng))

    def _lpm(self, rng: np.random.Generator | None) -> int:
        best, ties = -1, []
        for rank in self._waiting:
            shared = self._state.reuse(self._prompts[rank])
            if shared > best:
                best, ties = shared, [rank]
            elif shared == best:
                ties.append(rank)
        ties.sort()
        return ties[0 if rng is None else int(rng.integers(len(ties)))]


class LpmStepQueue:
    """Each decision an FCFS step (``pop_oldest``) or an LPM step (``pop_lpm``) of an LPM queue.

    Parameters
    ----------
    queue
        An LPM queue (:func:`make_lpm_queue`).
    fcfs_step : callable, optional
        ``fcfs_step(step)``: whether decision ``step`` (from 0) is an FCFS step (Algorithm 1's cycle).
    threshold : int, optional
        Instead, an FCFS step at every decision where more than ``threshold`` queries wait
        (``sglang-lpm``); ``fallbacks`` counts those decisions.
    """

    def __init__(self, queue, fcfs_step: Callable[[int], bool] | None = None, threshold: int | None = None) -> None:
        self._queue = queue
        self._threshold = threshold
        self._is_fcfs_step = fcfs_step
        self.fallbacks = 0

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, rank: int, step: int, clock: int) -> None:
        self._queue.add(rank)

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        queue = self._queue
        if self._threshold is not None:
            if len(queue) > self._threshold:
                self.fallbacks += 1
                return queue.pop_oldest()
            return queue.pop_lpm(rng)
        return queue.pop_oldest() if self._is_fcfs_step(step) else queue.pop_lpm(rng)

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop` would serve now, left waiting (no fallback is counted; ``rng``
        does not move)."""
        queue = self._queue
        if self._threshold is not None:
            return queue.peek_oldest() if len(queue) > self._threshold else queue.peek_lpm(rng)
        return queue.peek_oldest() if self._is_fcfs_step(step) else queue.peek_lpm(rng)
