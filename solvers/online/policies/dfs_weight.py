"""Waiting queues for the policies beyond Algorithm 1: indexed ones and a naive rescanning reference.

Each policy of :mod:`~prefix_sched.solvers.online.policies` is served by a queue with ``add(rank, step,
clock)`` (the query of arrival rank ``rank`` starts waiting before decision ``step``, at scaled
time ``clock``), ``pop(step, clock, rng)`` (decision ``step`` at scaled time ``clock``: remove and
return the query the rule serves) and ``len()``. :func:`make_policy_queue` builds the queue of a
spec; ``kind="naive"`` gives :class:`NaivePolicyQueue`, the reference that rescans every waiting
query at every decision with ``state.reuse``, and the indexed queues must decide exactly as it
does. Times and costs are the simulator's scaled integers (:func:`integer_timebase`), so every
comparison is exact.

The indexes:

- :class:`~prefix_sched.solvers.online.waiting.MatchTracker` (shared with LPM's index) keeps every
  waiting query's cached prefix ``m_q`` current without a rescan, from the cache's insert and
  evict events (radix caches) or the change of cached prompt (``last``), through a trie of the
  waiting prompts. Work per decision: the queries sharing the changed leading segments, not the
  queue.
- :class:`KeyedQueue`: a static key per query and ``m_q`` (``lpm-aging``, ``spf``,
  ``shortest-prompt``, ``lof``) in :class:`~prefix_sched.solvers.online.waiting.KeyBuckets`: per key a
  heap of ranks (a sorted list for random ties) and a heap of the keys in use; ``O(log n)`` per
  decision and per change of ``m_q``.
- :class:`HrrnQueue`: a kinetic tournament tree over the ranks. Query ``q``'s ratio at time
  ``t`` is the line ``(t - a_q) / c_q``; every internal node keeps the winner of its two children
  at the current time and the first integer time its loser overtakes it (ties go to the older).
  The clock never goes back, so advancing it replays only the certificates that fail; an add, a
  removal or a new cost recomputes one leaf-to-root path. ``O(log n)`` per update plus the
  certificate failures (amortised ``O(log^2 n)`` per update for lines).
- ``dfs-weight``. SGLang matches each waiting request against the tree before it sorts, and its
  match splits a node where the match ends, so a query is attached exactly at its match point.
  Hence a child ``c`` of a node weighs the number of waiting queries whose match enters ``c`` (its
  first segment, given its parent's path), and a child that nobody matches whole is a chain of
  split points whose deepest holds the queries the walk reaches first. Under ``last`` the tree is
  one node (the previous prompt) and the walk is LPM's choice (longest match, oldest first), so
  LPM's index serves it. :class:`DfsRadixQueue` serves radix caches: one descent of the cache
  tree, reading every child's weight and oldest query from the trie of waiting prompts (a count
  and a heap of ranks per trie node). Work per decision: the children looked at along the
  descent (the fewer of the cache node's children and the trie node's), each walked over its
  segments; not the queue.
- :class:`RandomQueue`: the waiting ranks in a sorted list; the ``j``-th oldest in ``O(log n)``.

Examples
--------
>>> from prefix_sched.solvers.online.policies import parse_policy
>>> from prefix_sched.theory.cache import parse_cache
>>> prompts = [(("a", 4),), (("a", 4), ("b", 2)), (("c", 1),)]
>>> orders = []
>>> for kind in ("radix", "naive"):
...     state = parse_cache("last").new_state()
...     _ = state.serve((("a", 4), ("b", 2)))
...     queue = make_policy_queue(parse_policy("spf"), kind, prompts, [0, 0, 0], None, state, 1, 0)
...     for rank in range(3):
...         queue.add(rank, 0, 0)
...     orders.append([queue.pop(0, 0, None) for _ in range(3)])
>>> orders
[[0, 1, 2], [0, 1, 2]]
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate

import numpy as np
from sortedcontainers import SortedList

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import INFINITY, LPM_FAMILY, PolicyName, PolicySpec
from prefix_sched.solvers.online.waiting import KeyBuckets, MatchTracker, make_queue
from prefix_sched.theory.cache import LastPromptState
from prefix_sched.theory.cost import scaled_cost
from prefix_sched.theory.prompt import Prompt, prompt_length


def make_policy_queue(
    spec: PolicySpec, kind: str, prompts: Sequence[Prompt], arrivals: Sequence[int],
    outputs: Sequence[int] | None, state, scale: int, alpha: int,
):
    """The waiting queue of ``spec`` (``kind``: ``"radix"`` for the index, ``"naive"``).

    ``arrivals`` are scaled integer times, ``outputs`` the output lengths (``lof`` only),
    ``scale`` and ``alpha`` the integer timebase of the cost ``scale (|p| - m) + alpha (|p|^2 - m^2)``.
    """
    random_ties = spec.tie_break == "random"
    if spec.name in LPM_FAMILY or spec.name is PolicyName.SGLANG_LPM:
        return AlgorithmOneQueue(spec, make_queue(kind, prompts, state, random_ties))
    if kind == "naive":
        return NaivePolicyQueue(spec, prompts, arrivals, outputs, state, scale, alpha)
    lengths, size = [prompt_length(p) for p in prompts], len(prompts)
    name = spec.name
    if name is PolicyName.SPF:
        return KeyedQueue(size, lambda rank, m: m - lengths[rank], MatchTracker(prompts, state), random_ties)
    if name is PolicyName.LPM_AGING:
        weight, entered = spec.param, [0] * len(prompts)
        return KeyedQueue(size, lambda rank, m: m - weight * entered[rank], MatchTracker(prompts, state),
                          random_ties, entered)
    if name is PolicyName.SHORTEST_PROMPT:
        return KeyedQueue(size, lambda rank, m: -lengths[rank], None, random_ties)
    if name is PolicyName.LOF:
        return KeyedQueue(size, lambda rank, m: outputs[rank], None, random_ties)
    if name is PolicyName.HRRN:
        return HrrnQueue(prompts, arrivals, state, scale, alpha)
    if name is PolicyName.RANDOM:
        return RandomQueue()
    if isinstance(state, LastPromptState):  # a one-node tree: the walk is LPM's choice
        return AlgorithmOneQueue(PolicySpec(PolicyName.LPM, INFINITY), make_queue(kind, prompts, state, False))
    return DfsRadixQueue(prompts, state)


class AlgorithmOneQueue:
    """FCFS, LPM, k-LPM and ``sglang-lpm`` over the queues of :mod:`~prefix_sched.solvers.online.waiting`.

    ``fallbacks`` counts ``sglang-lpm``'s decisions taken by FCFS because more than ``T`` waited.
    """

    def __init__(self, spec: PolicySpec, queue) -> None:
        self._queue = queue
        self._threshold = spec.param if spec.name is PolicyName.SGLANG_LPM else None
        self._is_fcfs_step = spec.is_fcfs_step
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
        buckets = self._buckets
        if not buckets:
            raise IndexError("pop from an empty waiting queue")
        if self._tracker is not None:
            for rank, match in self._tracker.refresh():
                buckets.unfile(rank)
                buckets.file(rank, self._key(rank, match))
        rank = buckets.pop(rng)
        if self._tracker is not None:
            self._tracker.remove(rank)
        return rank


class HrrnQueue:
    """HRRN by a kinetic tournament tree: serve the largest ``(t - a_q) / c_q`` (``c_q = 0`` first),
    ties to the oldest; see the module docstring."""

    def __init__(self, prompts: Sequence[Prompt], arrivals: Sequence[int], state, scale: int, alpha: int) -> None:
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
        if not self._count:
            raise IndexError("pop from an empty waiting queue")
        self._advance(clock)
        for rank, match in self._tracker.refresh():
            self._cost[rank] = self._cost_of(rank, match)
            self._set(rank, rank)
        rank = self._win[1]
        self._tracker.remove(rank)
        self._count -= 1
        self._set(rank, -1)
        return rank

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


class _HeapTrie:
    __slots__ = ("children", "members", "count")

    def __init__(self) -> None:
        self.children: dict[object, _HeapTrie] = {}
        self.members: list[int] = []
        self.count = 0


class DfsRadixQueue:
    """``dfs-weight`` under a radix cache: one descent of the cache tree guided by the trie of
    waiting prompts with a heap of ranks per trie node (see the module docstring)."""

    def __init__(self, prompts: Sequence[Prompt], state) -> None:
        self._prompts = prompts
        self._state = state
        self._root = _HeapTrie()
        self._paths: list[list[_HeapTrie] | None] = [None] * len(prompts)
        self._waiting = bytearray(len(prompts))

    def __len__(self) -> int:
        return self._root.count

    def add(self, rank: int, step: int, clock: int) -> None:
        node, path = self._root, [self._root]
        for sid, _ in self._prompts[rank]:
            child = node.children.get(sid)
            if child is None:
                child = node.children[sid] = _HeapTrie()
            node = child
            path.append(node)
        for member in path:
            member.count += 1
            heapq.heappush(member.members, rank)
        self._paths[rank] = path
        self._waiting[rank] = 1

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        if not self._root.count:
            raise IndexError("pop from an empty waiting queue")
        cache_node, trie_node = self._state.root, self._root
        while True:
            best = None
            children = cache_node.children
            if len(children) <= len(trie_node.children):
                pairs = ((child, trie_node.children.get(child.prompt[child.seg][0])) for child in children.values())
            else:
                pairs = ((children.get((sid, 0)), below) for sid, below in trie_node.children.items())
            for child, below in pairs:
                if child is not None and below is not None and below.count:
                    key = (-below.count, self._oldest(below))
                    if best is None or key < best[0]:
                        best = (key, child)
            if best is None:  # nobody enters a child: the queries attached here
                return self._take(trie_node)
            cache_node = best[1]
            deepest, full = self._walk(trie_node, cache_node)
            if not full:  # nobody matches the whole child: the deepest split point's queries
                return self._take(deepest)
            trie_node = deepest

    @staticmethod
    def _walk(trie_node: _HeapTrie, child) -> tuple[_HeapTrie, bool]:
        """Follow cache node ``child``'s segments down the trie from ``trie_node`` (``child`` hangs
        below its path): the deepest trie node reached with a waiting query, and whether that is
        ``child``'s whole path."""
        prompt, cum, index, end = child.prompt, child.cum, child.seg, child.end
        if cum[index] != child.start:
            raise AssertionError("a radix node starts inside a segment")
        node = trie_node
        while cum[index] < end:
            below = node.children.get(prompt[index][0])
            if below is None or not below.count:
                return node, False
            node = below
            index += 1
        if cum[index] != end:
            raise AssertionError("a radix node ends inside a segment")
        return node, True

    def _oldest(self, node: _HeapTrie) -> int:
        heap = node.members
        while not self._waiting[heap[0]]:
            heapq.heappop(heap)
        return heap[0]

    def _take(self, node: _HeapTrie) -> int:
        rank = self._oldest(node)
        self._waiting[rank] = 0
        path, self._paths[rank] = self._paths[rank], None
        parent, emptied = None, None
        for member, segment in zip(path, (None, *self._prompts[rank])):
            member.count -= 1
            if emptied is None and parent is not None and not member.count:
                emptied = parent, segment[0]  # nobody waits below: drop the branch
            parent = member
        if emptied is not None:
            del emptied[0].children[emptied[1]]
        return rank


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


class NaivePolicyQueue:
    """The reference for the policies beyond Algorithm 1: each decision rescans every waiting query
    with ``state.reuse`` (``dfs-weight``: rebuilds the weights over the whole cache tree)."""

    def __init__(self, spec: PolicySpec, prompts: Sequence[Prompt], arrivals: Sequence[int],
                 outputs: Sequence[int] | None, state, scale: int, alpha: int) -> None:
        if spec.name is PolicyName.LOF and outputs is None:
            raise InputError("policy 'lof' needs output lengths")
        self._spec = spec
        self._prompts = prompts
        self._arrivals = arrivals
        self._outputs = outputs
        self._state = state
        self._scale, self._alpha = scale, alpha
        self._entered: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._entered)

    def add(self, rank: int, step: int, clock: int) -> None:
        self._entered[rank] = step

    def pop(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        if not self._entered:
            raise IndexError("pop from an empty waiting queue")
        name, ranks = self._spec.name, sorted(self._entered)
        if name is PolicyName.RANDOM:
            rank = ranks[int(rng.integers(len(ranks)))]
        elif name is PolicyName.HRRN:
            rank = self._hrrn(ranks, clock)
        elif name is PolicyName.DFS_WEIGHT:
            rank = self._dfs_weight(ranks)
        else:
            keys = {rank: self._key(rank, step) for rank in ranks}
            best = max(keys.values())
            ties = [rank for rank in ranks if keys[rank] == best]
            rank = ties[0 if rng is None or self._spec.tie_break != "random" else int(rng.integers(len(ties)))]
        del self._entered[rank]
        return rank

    def _key(self, rank: int, step: int) -> int:
        name, prompt = self._spec.name, self._prompts[rank]
        if name is PolicyName.SHORTEST_PROMPT:
            return -prompt_length(prompt)
        if name is PolicyName.LOF:
            return self._outputs[rank]
        match = self._state.reuse(prompt)
        if name is PolicyName.SPF:
            return match - prompt_length(prompt)
        return match + self._spec.param * (step - self._entered[rank])  # lpm-aging

    def _hrrn(self, ranks: list[int], clock: int) -> int:
        best = None
        for rank in ranks:
            length, match = prompt_length(self._prompts[rank]), self._state.reuse(self._prompts[rank])
            cost = scaled_cost(length, match, self._scale, self._alpha)
            wait = clock - self._arrivals[rank]
            if cost == 0:
                return rank  # the oldest fully cached query
            if best is None or wait * best[1] > best[0] * cost:
                best = (wait, cost, rank)
        return best[2]

    def _dfs_weight(self, ranks: list[int]) -> int:
        """SGLang's walk, its match splitting a node at each query's match point: a query is
        attached where its match ends. A child's weight is the number of queries whose match
        enters it; a child nobody matches whole is a chain of split points, whose deepest holds
        the queries served first."""
        if isinstance(self._state, LastPromptState):
            cached = self._state.prompt
            tree = _OneNode(cached) if cached else None
            walks = {rank: ([tree] if tree and self._state.reuse(self._prompts[rank]) else [],
                            self._state.reuse(self._prompts[rank])) for rank in ranks}
            root_children = [tree] if tree else []
        else:
            walks = {rank: _match_walk(self._state, self._prompts[rank]) for rank in ranks}
            root_children = None
        entering: dict[int, list[int]] = {}
        for rank in ranks:
            for node in walks[rank][0]:
                entering.setdefault(id(node), []).append(rank)
        node, here = None, ranks  # the root: every query has matched its (empty) path
        while True:
            if root_children is not None:  # last: the root's one child, which has none
                children = root_children if node is None else []
            else:
                children = list((self._state.root if node is None else node).children.values())
            heavy = [child for child in children if entering.get(id(child))]
            if not heavy:
                return here[0]
            child = min(heavy, key=lambda c: (-len(entering[id(c)]), entering[id(c)][0]))
            members = entering[id(child)]
            end = child.end
            full = [rank for rank in members if walks[rank][1] >= end]
            if not full:
                deepest = max(walks[rank][1] for rank in members)
                return next(rank for rank in members if walks[rank][1] == deepest)
            node, here = child, full


class _OneNode:
    """The ``last`` cache as a radix tree: one node holding the previous prompt."""

    def __init__(self, prompt: Prompt) -> None:
        self.end = prompt_length(prompt)
        self.children: dict = {}


def _match_walk(state, prompt: Prompt) -> tuple[list, int]:
    """The radix cache nodes ``prompt``'s match enters (at least one token), and its match length.

    The match covers ``prompt``'s first ``state.reuse(prompt)`` tokens, so from the root it
    enters, while the current node ends before that, the child keyed by the next token.
    """
    match, cum = state.reuse(prompt), list(accumulate((length for _, length in prompt), initial=0))
    node, entered = state.root, []
    while node.end < match:
        j = bisect_right(cum, node.end) - 1
        node = node.children[(prompt[j][0], node.end - cum[j])]
        entered.append(node)
    return entered, match
