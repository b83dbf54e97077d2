"""SGLang's radix tree cache (``RadixCache`` in ``python/sglang/srt/mem_cache/radix_cache.py``,
page size 1): the state of the ``lru:TOKENS`` and ``unbounded`` models.

:class:`RadixState` is RadixAttention's radix tree with a token capacity and LRU eviction, or
without a capacity (nothing is evicted). Serving prompt ``p`` as the ``i``-th query:

1. its reuse ``m`` is its longest cached prefix; every node the match enters, including one
   matched only in part, gets last-access time ``2i - 1``; a node matched only in part is
   split at the match point (both pieces keep that time);
2. the matched path is locked;
3. while the free capacity is below ``|p| - m``, the unlocked leaf with the oldest last-access
   time is evicted, a whole node at a time (its parent may then become an evictable leaf);
4. the uncached rest of ``p`` is inserted as ONE new node, and every node on ``p``'s path gets
   last-access time ``2i`` (after the match's, as SGLang's insertion after the prefill);
5. the path is unlocked.

Nodes split only where prompts diverge and are never merged again (as in SGLang). The models that
own such a state are :class:`~prefix_sched.theory.cache.lru.LruCache` and
:class:`~prefix_sched.theory.cache.unbounded.UnboundedCache`; the tree also serves
:class:`~prefix_sched.theory.cache.last.LastPromptState` as a one-node view (:class:`RadixNode`).

Token granularity. A segment ``(s, l)`` stands for the tokens ``(s, 0) .. (s, l - 1)``, so a
node of the tree is a token range ``[start, end)`` of the prompt that inserted it, and may hold
part of a segment; matches, splits and child keys (a node's first token ``(s, offset)``) are at
token level, while the walk compares whole segments, so a Definition 4 prompt (two segments) or a
Mooncake request (512-token blocks) costs ``O(segments)``, not ``O(tokens)``. Within one stream
each segment id has one length, and then every node boundary falls on a segment boundary; two
lengths for one id (``("a", 3)`` is a prefix of ``("a", 5)``) are handled too.

Eviction order (proofs).

- *Ties cannot happen.* After query ``i`` the nodes stamped ``2i`` are the path of ``p_i`` (a
  chain from the root) and the one stamped ``2i - 1`` is at most the lower piece of the node its
  match split. A later match or insertion restamps whole root paths (it walks from the root), a
  split gives both pieces the new stamp, and eviction removes leaves; so the nodes still holding
  a stamp form the lower part of one chain, of which only the deepest can be a leaf. Hence at
  any moment distinct leaves have distinct last-access times and "the oldest leaf" is unique; the
  heap entries end in a push counter only so that they never compare nodes.
- *Eviction always succeeds when* ``|p| <= capacity``. The locked nodes are the matched path,
  ``m`` tokens. If the free capacity ``C - size`` is below ``|p| - m`` then
  ``size > C - |p| + m >= m``, so an unlocked node exists; the locked set is closed under taking
  ancestors, so every descendant of an unlocked node is unlocked and a deepest descendant is an
  unlocked leaf. A prompt longer than the capacity is refused as bad input.
- *The lock never binds when queries are served one at a time.* Step 1 stamps the matched path
  ``2i - 1``, newer than every other node except the split's lower piece, which is a child of
  the path's end. So a locked node could only be chosen once every unlocked node is gone, and
  then ``C - m >= |p| - m`` tokens are free and eviction has stopped. The lock is kept because it
  is SGLang's rule (it binds there for requests running concurrently); tests/theory/cache/test_radix.py
  checks the claim against a reference without it.

What it leaves out: page sizes above one, SGLang's other eviction policies (LFU, FIFO, ...), the
tokens a query generates (only prompts are cached, as in Definition 2), and batches (the
evaluator serves the batch-size-one order and cuts it into bins afterwards).

Examples
--------
A hand-worked run of ``lru:8`` (times: query ``i`` matches at ``2i - 1``, inserts at ``2i``):

1. ``s4 x2`` (segments ``("s", 4), ("x", 2)``): nothing cached, reuse 0; one node ``s4 x2``
   (6 tokens, time 2).
2. ``s4 y2``: the match enters node ``s4 x2`` and ends inside it after 4 tokens: reuse 4, split
   into ``s4`` and ``x2`` (both time 3); 2 tokens needed, 2 free; insert ``y2``; the path
   ``s4``, ``y2`` gets time 4. Cached: ``s4`` (4), ``x2`` (3), ``y2`` (4); 8 tokens.
3. ``t3``: reuse 0, 3 tokens needed, 0 free: evict the oldest leaf ``x2`` (time 3; 2 free), then
   ``y2`` (time 4; 4 free; ``s4`` is now a leaf, but enough is free); insert ``t3`` (time 6).
4. ``s4 x2``: reuse 4 (``s4``, time 7, locked), 2 needed, 1 free. ``s4`` (time 7) is locked, so
   the only evictable leaf is ``t3``: evicted; ``x2`` is inserted; the path gets time 8.

>>> state = RadixState(8)
>>> [state.serve(p) for p in [(("s", 4), ("x", 2)), (("s", 4), ("y", 2))]]
[0, 4]
>>> state.nodes()
[((('s', 4),), 0, 4), ((('s', 4), ('x', 2)), 4, 3), ((('s', 4), ('y', 2)), 4, 4)]
>>> state.serve((("t", 3),)), state.nodes()
(0, [((('s', 4),), 0, 4), ((('t', 3),), 0, 6)])
>>> state.serve((("s", 4), ("x", 2))), state.nodes(), state.size
(4, [((('s', 4),), 0, 8), ((('s', 4), ('x', 2)), 4, 8)], 6)
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from heapq import heappop, heappush
from itertools import count

from prefix_sched.errors import InputError
from prefix_sched.theory.cache.base import CacheState, Listener
from prefix_sched.theory.prompt import EMPTY_PROMPT, Prompt


class RadixNode:
    """A radix node: the tokens ``[start, end)`` of ``prompt`` (``cum`` its segment offsets),
    ``seg`` the index of the segment holding token ``start``, ``key`` that first token
    ``(segment id, offset)`` (its key among its siblings; ``None`` for the root).

    Outside this module the attributes ``children`` (key -> child), ``prompt``, ``cum``, ``seg``,
    ``start``, ``end`` and ``key`` are read-only (reached from :attr:`RadixState.root`): only
    :class:`RadixState` changes its tree."""

    __slots__ = ("parent", "children", "prompt", "cum", "seg", "start", "end", "time", "locked", "key")

    def __init__(self, parent, prompt, cum, seg, start, end, time) -> None:
        self.parent: RadixNode | None = parent
        self.children: dict[tuple[object, int], RadixNode] = {}
        self.prompt: Prompt = prompt
        self.cum: list[int] = cum
        self.seg = seg
        self.start = start
        self.end = end
        self.time = time
        self.locked = False
        self.key = (prompt[seg][0], start - cum[seg]) if prompt else None


def segment_offsets(prompt: Prompt) -> list[int]:
    """``[0, l_1, l_1 + l_2, ...]``: where each segment starts, then ``|p|``."""
    offsets, total = [0], 0
    for _, length in prompt:
        total += length
        offsets.append(total)
    return offsets


def reach(node: RadixNode, prompt: Prompt, j: int, base: int) -> tuple[int, int, int]:
    """How deep ``prompt`` agrees with ``node``, entering it at ``node.start`` inside its segment
    ``j`` (which starts at token ``base``); returns that depth, the index of ``prompt``'s segment
    holding it (``len(prompt)`` at its end) and where that segment starts.

    The one segment walk of the radix trees: this state's, and the serving engine's prefix cache
    (``solvers/serving/prefix_cache.py``), whose nodes carry the same ``prompt`` and ``end``.
    ``O(segments walked)``.

    ``prompt`` and ``node.prompt`` agree on every token before ``node.start`` and on the first
    token of the node, so they agree segment for segment before ``j`` (ids and lengths) and their
    segment ``j`` has one id; segments then agree while id and length agree.
    """
    end, other, n = node.end, node.prompt, len(prompt)
    while True:
        length, other_length = prompt[j][1], other[j][1]
        stop = base + length
        if length != other_length:
            depth = min(base + min(length, other_length), end)
            return (depth, j, base) if depth < stop else (depth, j + 1, stop)
        if stop >= end:
            return (end, j, base) if end < stop else (end, j + 1, stop)
        j += 1
        base = stop
        if j == n or prompt[j][0] != other[j][0]:
            return stop, j, stop


def cached_depth(root: RadixNode, prompt: Prompt) -> int:
    """The tokens of ``prompt`` on a path from ``root`` of a radix tree (this module's, or the
    serving engine's prefix cache, whose nodes carry the same ``children``, ``prompt`` and ``end``):
    its longest cached prefix. Walks segment by segment (:func:`reach`); nothing changes.
    """
    node, depth, j, base, n = root, 0, 0, 0, len(prompt)
    while j < n:
        child = node.children.get((prompt[j][0], depth - base))
        if child is None:
            break
        depth, j, base = reach(child, prompt, j, base)
        if depth < child.end:
            break
        node = child
    return depth


def _prefix(prompt: Prompt, tokens: int) -> Prompt:
    """The first ``tokens`` tokens of ``prompt`` as a prompt (its last segment possibly cut)."""
    out, depth = [], 0
    for sid, length in prompt:
        if depth >= tokens:
            break
        out.append((sid, min(length, tokens - depth)))
        depth += length
    return tuple(out)


@contextmanager
def paused_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a long run over a radix cache (and restore it).

    A radix state of a long stream is millions of live nodes linked both ways (parent and
    children), and every full collection re-traverses all of them: on k-LPM at n = 10^6 that was
    half of the run. Serving creates no cyclic garbage (an evicted node is unlinked, its children
    are gone; split nodes stay live), so reference counting frees everything meanwhile; the state
    itself is collected once the pause is over and it is dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def serve_all(state: CacheState, prompts: Sequence[Prompt]) -> list[int]:
    """Serve ``prompts`` in this order into ``state`` and return each reuse, the GC paused
    (:func:`paused_cyclic_gc`): the ``reuse_along`` of the radix tree models."""
    with paused_cyclic_gc():
        serve = state.serve
        return [serve(prompt) for prompt in prompts]


class RadixState(CacheState):
    """A radix-tree cache: the state of :class:`~prefix_sched.theory.cache.lru.LruCache` (a
    capacity) and :class:`~prefix_sched.theory.cache.unbounded.UnboundedCache` (``None``).

    Attributes
    ----------
    capacity : int or None
        Token capacity (``None``: unbounded, nothing is evicted).
    size : int
        Tokens cached now.
    listener : callable or None
        If set, called as ``listener(prompt, k)`` after each node insertion or eviction (see
        :data:`~prefix_sched.theory.cache.base.Listener`; set by :meth:`watch`); the indexed
        waiting queues use it to find the waiting queries whose reuse may have changed.
    """

    def __init__(self, capacity: int | None) -> None:
        self.capacity = capacity
        self.size = 0
        self.listener: Listener | None = None
        self._root = RadixNode(None, EMPTY_PROMPT, [0], 0, 0, 0, 0)
        self._served = 0
        self._leaves: list[tuple[int, int, RadixNode]] = []
        self._pushes = count()

    def reuse(self, prompt: Prompt) -> int:
        """The longest prefix of ``prompt`` that is cached, in tokens; the state is unchanged."""
        return cached_depth(self._root, prompt)

    @property
    def root(self) -> RadixNode:
        """The root of the tree (an empty node); read-only, see :class:`RadixNode`.

        >>> state = RadixState(None)
        >>> _ = state.serve((("a", 2), ("b", 3))), state.serve((("a", 2), ("c", 1)))
        >>> [(child.key, child.start, child.end) for child in state.root.children.values()]
        [(('a', 0), 0, 2)]
        """
        return self._root

    def tree(self) -> RadixNode:
        """The root of the tree (:attr:`root`): the cache as a radix tree."""
        return self._root

    def watch(self, listener: Listener) -> None:
        """Call ``listener(prompt, k)`` after each node insertion or eviction from now on (one
        listener: it replaces :attr:`listener`)."""
        self.listener = listener

    def serve(self, prompt: Prompt) -> int:
        """Serve ``prompt`` (steps 1-5 of the module docstring) and return its reuse.

        Raises
        ------
        InputError
            If ``prompt`` is longer than the capacity.
        """
        cum = segment_offsets(prompt)
        total = cum[-1]
        capacity = self.capacity
        if capacity is not None and total > capacity:
            raise InputError(
                f"a prompt of {total} tokens does not fit the cache capacity of {capacity} tokens"
            )
        self._served += 1
        matched_at = 2 * self._served - 1
        node, depth, j, base, n, path = self._root, 0, 0, 0, len(prompt), []
        while j < n:  # 1. match, stamping and splitting
            child = node.children.get((prompt[j][0], depth - base))
            if child is None:
                break
            child.time = matched_at
            depth, j, base = reach(child, prompt, j, base)
            partial = depth < child.end
            if partial:
                child = self._split(child, depth)
            path.append(child)
            node = child
            if partial:
                break
        if capacity is not None:
            for member in path:  # 2. lock
                member.locked = True
            shortfall = (total - depth) - (capacity - self.size)
            if shortfall > 0:  # 3. evict
                self._evict(shortfall)
        inserted_at = matched_at + 1
        for member in path:  # 4. insert
            member.time = inserted_at
            member.locked = False  # 5. unlock (nothing else is locked between serves)
        if depth < total:
            leaf = RadixNode(node, prompt, cum, j, depth, total, inserted_at)
            node.children[leaf.key] = leaf
            self.size += total - depth
            self._push(leaf)
            if self.listener is not None:
                self.listener(prompt, j)
        elif path and not node.children:
            self._push(node)
        return depth

    def copy(self) -> RadixState:
        """An independent snapshot of the cache (the listener is not copied).

        >>> state = RadixState(10)
        >>> _ = state.serve((("a", 4),))
        >>> snapshot = state.copy()
        >>> state.serve((("b", 8),)), snapshot.reuse((("a", 4),)), state.reuse((("a", 4),))
        (0, 4, 0)
        """
        clone = RadixState(self.capacity)
        clone.size, clone._served = self.size, self._served
        stack = [(self._root, clone._root)]
        while stack:
            original, copied = stack.pop()
            for key, child in original.children.items():
                twin = RadixNode(copied, child.prompt, child.cum, child.seg, child.start, child.end, child.time)
                copied.children[key] = twin
                stack.append((child, twin))
                if not child.children:
                    clone._push(twin)
        return clone

    def nodes(self) -> list[tuple[Prompt, int, int]]:
        """Every cached node as ``(path, start, last_access)``, depth first in insertion order.

        ``path`` is the prompt from the root to the node's end (its last segment possibly cut) and
        the node holds its tokens ``[start, |path|)``.
        """
        out, stack = [], list(reversed(self._root.children.values()))
        while stack:
            node = stack.pop()
            out.append((_prefix(node.prompt, node.end), node.start, node.time))
            stack.extend(reversed(node.children.values()))
        return out

    def _push(self, node: RadixNode) -> None:
        if self.capacity is not None:
            heappush(self._leaves, (node.time, next(self._pushes), node))

    def _split(self, child: RadixNode, at: int) -> RadixNode:
        """Split ``child`` at token depth ``at``: a new upper node takes ``[start, at)``; ``child``
        keeps its identity, its children and the lower tokens (as SGLang's ``_split_node``)."""
        parent = child.parent
        upper = RadixNode(parent, child.prompt, child.cum, child.seg, child.start, at, child.time)
        parent.children[child.key] = upper
        child.seg = bisect_right(child.cum, at) - 1
        child.start = at
        child.key = (child.prompt[child.seg][0], at - child.cum[child.seg])
        child.parent = upper
        upper.children[child.key] = child
        if not child.children:
            self._push(child)
        return upper

    def _evict(self, amount: int) -> None:
        """Evict oldest unlocked leaves, whole nodes, until ``amount`` tokens are free.

        A heap entry is current iff its node is cached, childless, unlocked and still has the
        entry's time; every unlocked childless node has a current entry, so by the module's proof
        the heap never runs dry here.
        """
        freed, leaves, root = 0, self._leaves, self._root
        while freed < amount:
            time, _, leaf = heappop(leaves)
            if leaf.parent is None or leaf.children or leaf.locked or leaf.time != time:
                continue
            parent = leaf.parent
            del parent.children[leaf.key]
            leaf.parent = None
            freed += leaf.end - leaf.start
            self.size -= leaf.end - leaf.start
            if self.listener is not None:
                self.listener(leaf.prompt, leaf.seg)
            if not parent.children and parent is not root:
                self._push(parent)
