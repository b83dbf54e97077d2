"""The engine's prefix cache: SGLang's radix tree of computed prompt tokens, sharing the KV pool with
the running requests (``serve --prefix-cache lru|unbounded``).

The tree is the one of Part 1's ``lru`` model (:mod:`prefix_sched.theory.cache.radix`: nodes are
token ranges of the prompt that inserted them, split where prompts diverge, never merged; LRU
eviction of whole unlocked leaves, oldest last access first), driven by the engine's events instead
of one ``serve`` per query (SGLang's ``RadixCache`` with its ``match_prefix``, ``inc_lock_ref`` /
``dec_lock_ref``, ``cache_unfinished_req``, ``cache_finished_req`` and ``evict``). Every walk down
the tree compares segments with that model's own walk
(:func:`~prefix_sched.theory.cache.radix.reach`), and a prompt's segment offsets are its
:func:`~prefix_sched.theory.cache.radix.segment_offsets`:

- :meth:`match` at a request's admission: the longest cached prefix, at most ``limit`` tokens (the
  engine asks ``|p'| - 1``: one token is always computed, as SGLang's ``len - 1``); every node the
  walk enters is stamped, and a node entered only in part is split at the match point (both pieces
  keep the stamp). The engine then locks the node the match ends in (:meth:`lock`: a reference count
  on it and each ancestor).
- :meth:`insert` after each prefill chunk: the chunk's prompt tokens enter the tree below the
  request's node; tokens already there (another request computed them meanwhile) are walked over
  and counted as *duplicates* (the engine frees their memory, as SGLang frees the duplicate KV), the
  rest becomes one new node; the request's lock moves to the new end of its path, and the nodes
  below its old end are stamped. (SGLang stamps the whole path; the nodes above are locked by the
  request until its release stamps them again, and a stamp is only read once a node is unlocked, so
  the two give the same evictions.) So a prompt still being prefilled is matchable up to its last
  finished chunk.
- :meth:`release` when a request finishes or is preempted: its path is stamped and unlocked; its
  prompt stays cached until evicted.
- :meth:`evict` (``lru`` only): the oldest unlocked leaves, whole nodes, until enough tokens are freed.

Stamps are one counter per cache, increasing with the engine's events (which happen in time order),
so "oldest" is "least recently matched, inserted or released". Only prompt tokens are cached:
Definition 2 and Part 1's models leave the generated tokens out (SGLang also caches them, but with
prompts given as segments a later prompt never matches an output).

As a :class:`~prefix_sched.theory.cache.base.CacheState` it answers Part 1's policies:
:meth:`reuse` (read-only), :meth:`watch` (every node insertion or eviction, reported as
``(prompt, k)``: the prompts whose first ``k + 1`` segment ids are the node's may have changed
reuse) and :meth:`tree` (the root; nodes carry ``children``, ``prompt``, ``cum``, ``seg``,
``start``, ``end``, ``key`` as :class:`~prefix_sched.theory.cache.radix.RadixNode` does), so the
waiting queues of :mod:`prefix_sched.solvers.online` order the engine's new prefills under it.
:meth:`serve` runs Part 1's five steps with ``capacity`` (for tests: the same reuse as ``lru:C``).

Examples
--------
A request matching ``s4`` of a cached ``s4 x2``: the node splits at 4 tokens; the request's chunk
``y2`` enters below ``s4``; released, everything is evictable, oldest leaf first (``x2``).

>>> cache = EngineCache(evicts=True)
>>> node, m = cache.match((("s", 4), ("x", 2)), 5); cache.lock(node)
>>> node, dup = cache.insert(node, (("s", 4), ("x", 2)), [0, 4, 6], 0, 6); cache.release(node)
>>> node, m = cache.match((("s", 4), ("y", 2)), 5); m
4
>>> cache.lock(node); node, dup = cache.insert(node, (("s", 4), ("y", 2)), [0, 4, 6], 4, 6)
>>> cache.tokens, cache.locked_tokens, dup
(8, 6, 0)
>>> cache.release(node); cache.evict(1), cache.tokens
(2, 6)
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import heappop, heappush
from itertools import count

from prefix_sched.errors import InputError
from prefix_sched.theory.cache import CacheState, Listener
from prefix_sched.theory.cache.radix import cached_depth, reach, segment_offsets
from prefix_sched.theory.prompt import Prompt


class Node:
    """A node of the engine's tree: tokens ``[start, end)`` of ``prompt`` (``cum`` its segment
    offsets, ``seg`` the segment holding ``start``, ``key`` its first token ``(id, offset)``), its
    last stamp ``time`` and its lock count ``lock``."""

    __slots__ = ("children", "cum", "end", "key", "lock", "parent", "prompt", "seg", "start", "time")

    def __init__(self, parent, prompt, cum, seg, start, end, time) -> None:
        self.parent = parent
        self.children: dict = {}
        self.prompt = prompt
        self.cum = cum
        self.seg = seg
        self.start = start
        self.end = end
        self.time = time
        self.lock = 0
        self.key = (prompt[seg][0], start - cum[seg]) if prompt else None


class EngineCache(CacheState):
    """The radix tree of the module docstring; ``evicts``: ``lru`` (True) or ``unbounded`` (False).

    Attributes
    ----------
    tokens : int
        Tokens cached.
    locked_tokens : int
        Tokens in locked nodes (in use by running requests).
    """

    __slots__ = ("_clock", "_heap", "_pushes", "capacity", "evicts", "listener", "locked_tokens", "root", "tokens")

    def __init__(self, evicts: bool, capacity: int | None = None) -> None:
        self.evicts = evicts
        self.capacity = capacity  # serve() only
        self.tokens = 0
        self.locked_tokens = 0
        self.listener: Listener | None = None
        self.root = Node(None, (), [0], 0, 0, 0, 0)
        self.root.lock = 1  # never evicted
        self._heap: list = []
        self._clock = count(1)
        self._pushes = count()

    # --- CacheState ----------------------------------------------------------------------------

    def reuse(self, prompt: Prompt) -> int:
        """The tokens of ``prompt`` cached as a prefix; nothing changes."""
        return cached_depth(self.root, prompt)

    def watch(self, listener: Listener) -> None:
        self.listener = listener

    def tree(self) -> Node:
        return self.root

    def copy(self) -> CacheState:
        raise InputError("the engine's prefix cache is the engine's state: it cannot be copied")

    def serve(self, prompt: Prompt) -> int:
        """Part 1's five steps (match, lock, evict to ``capacity``, insert, unlock); the reuse."""
        cum = segment_offsets(prompt)
        total = cum[-1]
        node, depth = self.match(prompt, total)
        self.lock(node)
        if self.evicts and self.capacity is not None:
            shortfall = (total - depth) - (self.capacity - self.tokens)
            if shortfall > 0 and self.evict(shortfall) < shortfall:
                raise InputError(f"a prompt of {total} tokens does not fit the cache capacity of {self.capacity}")
        node, _ = self.insert(node, prompt, cum, depth, total)
        self.release(node)
        return depth

    # --- what the engine calls -----------------------------------------------------------------

    @property
    def evictable(self) -> int:
        """Tokens that eviction could free (``lru``): every unlocked node."""
        return self.tokens - self.locked_tokens if self.evicts else 0

    @property
    def counted(self) -> int:
        """Tokens the cache takes from the KV pool: all of them (``lru``), the locked ones (``unbounded``)."""
        return self.tokens if self.evicts else self.locked_tokens

    def probe(self, prompt: Prompt, limit: int) -> tuple[int, int]:
        """``(m, u)``: the match :meth:`match` would give (at most ``limit`` tokens) and the tokens
        of its path that are unlocked now (locking them takes them from the evictable or free tokens);
        nothing changes."""
        node, depth, j, base, n, unlocked = self.root, 0, 0, 0, len(prompt), 0
        while j < n and depth < limit:
            child = node.children.get((prompt[j][0], depth - base))
            if child is None:
                break
            start = depth
            depth, j, base = reach(child, prompt, j, base)
            depth = min(depth, limit)
            if not child.lock:
                unlocked += depth - start
            if depth < child.end:
                break
            node = child
        return depth, unlocked

    def match(self, prompt: Prompt, limit: int) -> tuple[Node, int]:
        """Match ``prompt`` (at most ``limit`` tokens), stamping and splitting (module docstring);
        return the node the match ends in (the root for none) and the tokens matched."""
        stamp = next(self._clock)
        node, depth, j, base, n = self.root, 0, 0, 0, len(prompt)
        while j < n and depth < limit:
            child = node.children.get((prompt[j][0], depth - base))
            if child is None:
                break
            child.time = stamp
            depth, j, base = reach(child, prompt, j, base)
            depth = min(depth, limit)
            if depth < child.end:
                node = self._split(child, depth)
                break
            node = child
        return node, depth

    def lock(self, node: Node) -> None:
        """Lock ``node`` and its ancestors (one more reference each)."""
        while node is not None:
            if not node.lock:
                self.locked_tokens += node.end - node.start
            node.lock += 1
            node = node.parent

    def release(self, node: Node) -> None:
        """Stamp ``node``'s path and unlock it (a request finished or was preempted)."""
        self._stamp(node)
        self._unlock(node)

    def insert(self, node: Node, prompt: Prompt, cum: list[int], start: int, end: int) -> tuple[Node, int]:
        """Tokens ``[start, end)`` of ``prompt`` enter the tree below ``node`` (locked, ending at
        ``start`` on ``prompt``'s path); the lock moves to the new end of the path, which is stamped.
        Returns that node and the tokens that were already cached (duplicates)."""
        old = node
        depth = start
        j = bisect_right(cum, start) - 1 if start < cum[-1] else len(prompt)
        base = cum[j] if j < len(prompt) else cum[-1]
        while depth < end:
            child = node.children.get((prompt[j][0], depth - base))
            if child is None:
                break
            depth, j, base = reach(child, prompt, j, base)
            depth = min(depth, end)
            if depth < child.end:
                node = self._split(child, depth)
                break
            node = child
        duplicates = depth - start
        if depth < end:
            leaf = Node(node, prompt, cum, bisect_right(cum, depth) - 1, depth, end, 0)
            node.children[leaf.key] = leaf
            self.tokens += end - depth
            node = leaf
            if self.listener is not None:
                self.listener(prompt, leaf.seg)
        stamp = next(self._clock)
        below = node  # the lock moves down from old to node: one more on each node below old, stamped
        while below is not old:
            if not below.lock:
                self.locked_tokens += below.end - below.start
            below.lock += 1
            below.time = stamp
            below = below.parent
        return node, duplicates

    def evict(self, amount: int) -> int:
        """Evict the oldest unlocked leaves, whole nodes, until ``amount`` tokens are freed or none
        is left; return the tokens freed."""
        freed, heap, root = 0, self._heap, self.root
        while freed < amount and heap:
            time, _, leaf = heappop(heap)
            if leaf.parent is None or leaf.children or leaf.lock or leaf.time != time:
                continue
            parent = leaf.parent
            del parent.children[leaf.key]
            leaf.parent = None
            size = leaf.end - leaf.start
            freed += size
            self.tokens -= size
            if self.listener is not None:
                self.listener(leaf.prompt, leaf.seg)
            if not parent.children and parent is not root and not parent.lock:
                self._push(parent)
        return freed

    # --- internals -----------------------------------------------------------------------------

    def _stamp(self, node: Node) -> None:
        stamp = next(self._clock)
        leaf = node
        while node is not None:
            node.time = stamp
            node = node.parent
        if not leaf.lock and not leaf.children:
            self._push(leaf)

    def _unlock(self, node: Node) -> None:
        leaf = node
        while node is not None:
            node.lock -= 1
            if not node.lock:
                self.locked_tokens -= node.end - node.start
            node = node.parent
        if not leaf.lock and not leaf.children and leaf is not self.root:
            self._push(leaf)

    def _push(self, node: Node) -> None:
        if self.evicts:
            heappush(self._heap, (node.time, next(self._pushes), node))

    def _split(self, child: Node, at: int) -> Node:
        """Split ``child`` at token depth ``at``: a new upper node takes ``[start, at)`` with
        ``child``'s stamp and lock; ``child`` keeps its identity, children and the lower tokens."""
        parent = child.parent
        upper = Node(parent, child.prompt, child.cum, child.seg, child.start, at, child.time)
        upper.lock = child.lock
        parent.children[child.key] = upper
        child.seg = bisect_right(child.cum, at) - 1
        child.start = at
        child.key = (child.prompt[child.seg][0], at - child.cum[child.seg])
        child.parent = upper
        upper.children[child.key] = child
        if not child.children and not child.lock:
            self._push(child)  # its stamp may be new (a match stamps before it splits)
        return upper

