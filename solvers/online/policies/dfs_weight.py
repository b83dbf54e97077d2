"""``dfs-weight``: SGLang's depth-first walk of the cache tree by subtree weight.

Each waiting query is attached to the deepest cache node on its path, the node ending exactly at
its match point (SGLang's match splits a node there: ``match_prefix`` -> ``_split_node``); a node's
weight is the number of waiting queries attached in its subtree; the tree is walked in post-order,
children by decreasing weight (ties: the child whose subtree holds the oldest waiting query, where
SGLang's sort is stable over the children's insertion order), a node's own queries in arrival
order; the first query of the walk is served. Under ``last`` the tree is one node, the previous
prompt; split at every match point it is a chain, and the walk picks exactly LPM's query. SGLang
caps a request's match at ``len - 1`` tokens (one token must be computed); Definition 2 does not,
and neither does this model.

Hence a child ``c`` of a node weighs the number of waiting queries whose match enters ``c`` (its
first segment, given its parent's path), and a child that nobody matches whole is a chain of split
points whose deepest holds the queries the walk reaches first.

Indexed: under a one-prompt cache (``state.single_prompt()``) LPM's index (the walk is LPM's
choice, longest match, oldest first); otherwise :class:`DfsWeightQueue` (the state shows itself as
a radix tree, ``state.tree()``): one descent of the cache tree, reading every child's weight and
oldest query from the trie of waiting prompts (a count and a heap of ranks per trie node). Work per
decision: the children looked at along the descent (the fewer of the cache node's children and the
trie node's), each walked over its segments; not the queue. Naive: the walk rebuilt over the whole
cache tree at every decision, every waiting query's match recomputed.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from prefix_sched.solvers.online.queues import LpmStepQueue, NaivePolicyQueue, QueueInputs, make_lpm_queue
from prefix_sched.theory.cache import CacheState, RadixNode
from prefix_sched.theory.prompt import Prompt


def indexed_queue(spec, run: QueueInputs):
    """LPM's index under a one-prompt cache (a one-node tree: the walk is LPM's choice), else
    :class:`DfsWeightQueue`."""
    if run.state.single_prompt() is not None:
        return LpmStepQueue(make_lpm_queue("indexed", run.prompts, run.state, False), lambda step: False)
    return DfsWeightQueue(run.prompts, run.state)


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    prompts, state = run.prompts, run.state

    def choose(ranks, step, clock, rng, entered):
        """SGLang's walk, its match splitting a node at each query's match point: a query is
        attached where its match ends. A child's weight is the number of queries whose match
        enters it; a child nobody matches whole is a chain of split points, whose deepest holds
        the queries served first."""
        root = state.tree()
        walks = {rank: _match_walk(root, prompts[rank], state.reuse(prompts[rank])) for rank in ranks}
        entering: dict[int, list[int]] = {}
        for rank in ranks:
            for node in walks[rank][0]:
                entering.setdefault(id(node), []).append(rank)
        node, here = root, ranks  # the root: every query has matched its (empty) path
        while True:
            heavy = [child for child in node.children.values() if entering.get(id(child))]
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

    return NaivePolicyQueue(choose)


def _match_walk(root: RadixNode, prompt: Prompt, match: int) -> tuple[list[RadixNode], int]:
    """The cache nodes below ``root`` that ``prompt``'s match of ``match`` tokens enters (at least
    one token), and ``match``.

    The match covers ``prompt``'s first ``match`` tokens, so from the root it enters, while the
    current node ends before that, the child keyed by the next token.
    """
    cum = list(accumulate((length for _, length in prompt), initial=0))
    node, entered = root, []
    while node.end < match:
        j = bisect_right(cum, node.end) - 1
        node = node.children[(prompt[j][0], node.end - cum[j])]
        entered.append(node)
    return entered, match


class _HeapTrie:
    __slots__ = ("children", "members", "count")

    def __init__(self) -> None:
        self.children: dict[object, _HeapTrie] = {}
        self.members: list[int] = []
        self.count = 0


class DfsWeightQueue:
    """``dfs-weight`` under a cache that shows itself as a radix tree: one descent of the cache tree
    guided by the trie of waiting prompts with a heap of ranks per trie node (see the module
    docstring)."""

    def __init__(self, prompts: Sequence[Prompt], state: CacheState) -> None:
        self._prompts = prompts
        self._tree = state.tree
        state.tree()  # a state that cannot show its tree is refused now, not at the first decision
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
        return self._take(self._descend("pop from"))

    def peek(self, step: int, clock: int, rng: np.random.Generator | None) -> int:
        """The query :meth:`pop` would serve now, left waiting."""
        return self._oldest(self._descend("peek at"))

    def _descend(self, doing: str) -> _HeapTrie:
        """The walk's first trie node: the oldest query attached there is served.

        The walk's position is a cache node and the trie node whose queries match its whole path.
        A cache node may end inside a segment (the serving engine's cache splits at chunk ends and
        at capped matches); then the trie node holds that whole segment, every query below it
        matches the node whole, and the one child it can enter is the one keyed by the rest of that
        segment (``inside``).
        """
        if not self._root.count:
            raise IndexError(f"{doing} an empty waiting queue")
        cache_node, trie_node, inside = self._tree(), self._root, None
        while True:
            best = None
            children = cache_node.children
            if inside is not None:
                pairs = ((children.get(inside), trie_node),)
            elif len(children) <= len(trie_node.children):
                pairs = ((child, trie_node.children.get(child.prompt[child.seg][0])) for child in children.values())
            else:
                pairs = ((children.get((sid, 0)), below) for sid, below in trie_node.children.items())
            for child, below in pairs:
                if child is not None and below is not None and below.count:
                    key = (-below.count, self._oldest(below))
                    if best is None or key < best[0]:
                        best = (key, child)
            if best is None:  # nobody enters a child: the queries attached here
                return trie_node
            cache_node = best[1]
            deepest, full, inside = self._walk(trie_node, inside is not None, cache_node)
            if not full:  # nobody matches the whole child: the deepest split point's queries
                return deepest
            trie_node = deepest

    @staticmethod
    def _walk(trie_node: _HeapTrie, inside: bool, child) -> tuple[_HeapTrie, bool, tuple | None]:
        """Follow cache node ``child``'s segments down the trie from ``trie_node`` (``child`` hangs
        below its path; ``inside``: ``trie_node`` already holds the segment ``child`` starts in):
        the deepest trie node reached with a waiting query, whether that is ``child``'s whole path,
        and, when ``child`` ends inside a segment, the key of the child that would continue it."""
        prompt, cum, index, end = child.prompt, child.cum, child.seg, child.end
        node = trie_node
        if inside:
            if cum[index + 1] >= end:
                return node, True, (prompt[index][0], end - cum[index]) if cum[index + 1] > end else None
            index += 1
        elif cum[index] != child.start:
            raise AssertionError("a radix node starts inside a segment the walk has not entered")
        while True:  # node's path ends at cum[index], a segment boundary before end
            below = node.children.get(prompt[index][0])
            if below is None or not below.count:
                return node, False, None
            node = below
            if cum[index + 1] >= end:
                return node, True, (prompt[index][0], end - cum[index]) if cum[index + 1] > end else None
            index += 1

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
