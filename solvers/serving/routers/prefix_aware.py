"""``prefix-aware``: SGLang's cache-aware router, read from its source and written out here.

Source (read, not copied): github sgl-project/sglang, ``sgl-router/src/policies/cache_aware.rs``
(``CacheAwarePolicy::select_worker``) and ``sgl-router/src/policies/tree.rs`` (the approximate
multi-tenant radix tree: ``insert``, ``prefix_match``, ``get_smallest_tenant``,
``evict_tenant_by_size``); defaults from ``sgl-router/py_src/sglang_router/router_args.py``.

The router keeps one radix tree of the text it has routed, each node tagged with the engines
("tenants") it sent that text to and, per engine, a last-access time; every engine is a tenant of
the root from the start, holding 0 tokens. Its own size per engine is the number of tokens of the
nodes tagged with it. For a request with prompt ``p`` arriving at ``a``, with ``L_g`` the number of
unfinished requests of engine ``g`` (its load, at its state at ``a``), ``L_max`` and ``L_min`` the
largest and smallest:

1. **Balance check.** If ``L_max - L_min > abs`` *and* ``L_max > rel * L_min`` (both strict), the
   loads are out of balance: the request goes to the least loaded engine (the lowest index among
   them) and its prompt is inserted into the tree for that engine.
2. **Otherwise, prefix match.** Walk the tree along ``p`` as far as it matches: ``m`` tokens, ending
   at node ``v``. The engines tagged on ``v`` are exactly those whose routed text shares the
   longest prefix (``m`` tokens) with ``p``; take the first of them (SGLang takes the first key of a
   hash map, an arbitrary one; here the lowest index) and stamp ``v`` and its ancestors with ``a``
   for it. If the match rate ``m / |p| > cache`` (strict), the request goes to that engine; else
   to the engine with the smallest tree (fewest tokens; ties: lowest index). Either way its prompt is
   inserted into the tree for the chosen engine (every node on its path tagged and stamped ``a``).
3. **Eviction.** At every multiple of ``interval`` (from time 0; applied at the first arrival at or
   after it), each engine whose tree holds more than ``max-tree`` tokens loses its least recently
   stamped leaves (nodes tagged with it none of whose children is), whole nodes, oldest first, until
   it holds at most ``max-tree``; a node tagged with nobody is removed.

Defaults (``router_args.py``): ``cache = 0.3``, ``abs = 64``, ``rel = 1.5``, ``interval = 120 s``,
``max-tree = 2^26``. (The Rust ``CacheAwareConfig::default`` has 0.5, 32, 1.1, 30 s and 10,000; the
launcher's values are what a user of ``sglang_router.launch_router`` runs.)

Where this reading differs from SGLang: SGLang's tree holds characters of the request text; here it
holds the prompt's tokens as segments (a segment is atomic: a stream gives each id one length), so a
match rate is in tokens, and ``max-tree`` counts tokens. A request with no segments (a length-only
trace) is a segment of its own, shared with no other. SGLang's timestamps are wall-clock
milliseconds; here arrival times, ties broken by the order of the stamps. The load is the
router's count of requests sent and not yet answered, which here is the engine's unfinished count.

Examples
--------
Two engines, budget 64, ``abs = 1`` and ``rel = 1``. A = ``s8 x2`` at 0: no match (rate 0), both
trees empty: engine 0. B = ``t8 y2`` at 0: the loads are 1 and 0 (1 - 0 is not > 1): no match,
smallest tree engine 1. C = ``s8 z2`` at 0: loads 1, 1; the match is ``s8`` (8 of 10 tokens, rate
4/5 > 3/10) on engine 0: engine 0. D = ``s8 w2`` at 0: loads 2, 1 (2 - 1 is not > 1): the match
``s8`` again: engine 0. E = ``s8 v2`` at 0: loads 3, 1: 3 - 1 > 1 and 3 > 1: out of balance, to the
least loaded, engine 1 (which now holds ``s8 v2`` too).

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.solvers.serving.engine import serve
>>> prompts = [(("s", 8), (x, 2)) for x in "x"] + [(("t", 8), ("y", 2))] + [(("s", 8), (x, 2)) for x in "zwv"]
>>> w = Workload.from_lengths([10] * 5, [4] * 5, [0] * 5, prompts=prompts)
>>> run = serve(w, "sarathi", budget=64, cost="c0=10,cp=1,cd=1", engines=2, router="prefix-aware:abs=1,rel=1")
>>> run.timeline.engine.tolist()
[0, 1, 0, 0, 1]
"""

from __future__ import annotations

from heapq import heappop, heappush
from itertools import count


class _Node:
    """A node of the router's tree: one segment (its key ``(id, length)``), its children by key,
    its tenants (engine -> last stamp) and its parent."""

    __slots__ = ("children", "key", "length", "parent", "tenants")

    def __init__(self, key, length: int, parent) -> None:
        self.key = key
        self.length = length
        self.children: dict = {}
        self.tenants: dict[int, tuple[int, int]] = {}
        self.parent = parent


class RouterTree:
    """The approximate multi-tenant radix tree of the module docstring, over segments."""

    def __init__(self, engines: int) -> None:
        self.root = _Node(None, 0, None)
        self.size = [0] * engines
        self._clock = count()
        for g in range(engines):
            self.root.tenants[g] = (0, next(self._clock))

    def match(self, prompt) -> tuple[int, _Node]:
        """``(m, v)``: the tokens of ``prompt`` the tree holds as a prefix, and the node the walk ends in."""
        node = self.root
        matched = 0
        for key in prompt:
            child = node.children.get(key)
            if child is None:
                break
            node = child
            matched += child.length
        return matched, node

    def stamp_path(self, node: _Node, g: int, now: int) -> None:
        """Stamp ``node`` and its ancestors with ``now`` for engine ``g`` (SGLang's ``prefix_match``)."""
        stamp = (now, next(self._clock))
        while node is not None:
            node.tenants[g] = stamp
            node = node.parent

    def insert(self, prompt, g: int, now: int) -> None:
        """Tag every node on ``prompt``'s path with engine ``g`` (creating the missing ones), stamped ``now``."""
        stamp = (now, next(self._clock))
        node = self.root
        node.tenants[g] = stamp
        size = self.size
        for key in prompt:
            child = node.children.get(key)
            if child is None:
                child = _Node(key, key[1], node)
                node.children[key] = child
            if g not in child.tenants:
                size[g] += child.length
            child.tenants[g] = stamp
            node = child

    def smallest(self) -> int:
        """The engine whose tree holds the fewest tokens (ties: the lowest index)."""
        size = self.size
        return size.index(min(size))

    def evict(self, limit: int) -> None:
        """Each engine over ``limit`` tokens loses its oldest leaves until it is at most ``limit``."""
        over = {g for g, s in enumerate(self.size) if s > limit}
        if not over:
            return
        heaps: dict[int, list] = {g: [] for g in over}
        stack = [self.root]
        while stack:  # every node tagged with g none of whose children is: g's leaves
            node = stack.pop()
            stack.extend(node.children.values())
            for g in over.intersection(node.tenants):
                if node is not self.root and not any(g in c.tenants for c in node.children.values()):
                    heappush(heaps[g], (node.tenants[g], id(node), node))
        for g in sorted(over):
            heap = heaps[g]
            while heap and self.size[g] > limit:
                _, _, node = heappop(heap)
                del node.tenants[g]
                self.size[g] -= node.length
                parent = node.parent
                if not node.tenants and not node.children:
                    del parent.children[node.key]
                if parent is not self.root and g in parent.tenants and not any(
                        g in c.tenants for c in parent.children.values()):
                    heappush(heap, (parent.tenants[g], id(parent), parent))


class PrefixAware:
    """The router of the module docstring."""

    def __init__(self, spec, table, engines, rng) -> None:
        self.engines = engines
        self.table = table
        self.cache = spec.param("cache")
        self.abs = spec.param("abs")
        self.rel = spec.param("rel")
        self.limit = spec.param("max-tree")
        interval = spec.param("interval")
        self.interval = interval * table.D if interval else 0  # ticks
        self.next_eviction = self.interval if self.interval else None
        self.tree = RouterTree(len(engines))

    def prompt(self, k: int):
        prompt = self.table.prompts[k]
        if prompt is None:  # a length only: a segment of its own
            return ((("#request", k), int(self.table.prompt[k])),)
        return prompt

    def choose(self, k: int, now: int) -> int:
        tree = self.tree
        if self.next_eviction is not None and now >= self.next_eviction:
            tree.evict(self.limit)
            self.next_eviction = (now // self.interval + 1) * self.interval
        prompt = self.prompt(k)
        loads = [e.outstanding for e in self.engines]
        high, low = max(loads), min(loads)
        if high - low > self.abs and high * self.rel.denominator > self.rel.numerator * low:
            g = loads.index(low)
        else:
            matched, node = tree.match(prompt)
            first = min(node.tenants)
            tree.stamp_path(node, first, now)
            length = int(self.table.prompt[k])
            if matched * self.cache.denominator > self.cache.numerator * length:
                g = first
            else:
                g = tree.smallest()
        tree.insert(prompt, g, now)
        return g
