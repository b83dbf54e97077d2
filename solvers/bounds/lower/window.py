"""The window lemma: a certified lower bound on the least max TTFT from one window of arrivals.

For arrival times ``x <= y`` let ``W`` be the queries with ``x <= t_q <= y``, ``trie(W)`` the set
of prefixes of their prompts (the radix trie of the window), ``work = w(trie(W))`` (weights and
notation: :mod:`~prefix_sched.solvers.bounds.lower.trie`; a weight is Definition 2's cost), and
``E_x`` the prefixes of prompts of queries arriving strictly before ``x``. The credit, per cache
model (:mod:`~prefix_sched.theory.cache`, read by :mod:`~prefix_sched.solvers.bounds.lower.credit`):

- ``last``: ``max over q with t_q < x of w(trie(W) & prefixes(p_q))`` (0 if none): the heaviest
  single earlier prompt's share of the window trie, i.e. the weight ``D(v) = |v| + alpha |v|^2`` of
  the deepest node ``v`` of ``trie(W)`` that an earlier prompt also has;
- ``unbounded``: ``w(trie(W) & E_x)``: every window prefix any earlier prompt has;
- ``lru:C``: ``min(w(trie(W) & E_x), C + alpha C^2)``.

Window lemma
------------
(This toolkit's lemma, not one of the paper's theorems.) For every order, every cache model
above, any batch size, and every window: ``max TTFT >= work - credit - (y - x)``. Hence
``T* >= max over windows of (work - credit - (y - x))``.

What the proof uses of a cache model: (A1) the cache is a prefix-closed set of prefixes; a prompt
reuses its longest cached prefix and is charged the weight of its longer prefixes (Definition 2's
cost with ``ov`` the reuse); (A2) serving ``p`` changes the cache only by adding prefixes of ``p``
and removing prefixes: the state after ``p`` is within the state before it plus ``prefixes(p)``;
the cache starts empty; (A3, ``lru:C`` only) it never holds more than ``C`` tokens. ``last``
(the cache is ``prefixes(previous prompt)``), SGLang's radix tree with LRU eviction (a prompt longer
than ``C`` is refused, so the size stays ``<= C``) and the unbounded tree satisfy them.

*Proof.* Fix an order with max TTFT ``T`` (batch size one; with bins every completion is the bin's
last, which is no earlier, so the bound carries over). Positions ``k`` have start ``s_k``,
completion ``c_k = s_k + cost_k`` and ``s_{k+1} >= c_k``. Let ``k0`` be the first position with
``s_k >= x`` and ``k1`` the last position holding a query of ``W``. A query of ``W`` starts no
earlier than it arrives, ``>= x``; starts do not decrease along the order; so every query of ``W``
sits in ``[k0, k1]``. (The query in service at time ``x``, if any, started before ``x``: it is at
a position ``< k0`` and its cost is not counted; what it leaves in the cache is the credit.)
Since the positions do not overlap in time,
``sum_{k=k0}^{k1} cost_k <= c_{k1} - s_{k0} <= (t + T) - x <= y + T - x``, ``t <= y`` the arrival
of the query at ``k1``. This sum counts every query served in the interval, in the window or not:
a query from outside ``W`` that computes a shared prefix (a *bridge*) pays for it here.

Let ``S_k`` be the cache before position ``k`` and ``charged(k)`` the prefixes charged there. By
(A1) the prefixes of ``p_{pi(k)}`` are charged at ``k`` or lie in ``S_k``; by (A2) and (A1),
``S_{k+1} <= S_k | prefixes(p_{pi(k)}) <= S_k | charged(k)``; by induction
``S_k <= S_{k0} | charged(k0) | ... | charged(k-1)``. Every prefix in ``trie(W)`` is a prefix of a
prompt at some position ``k in [k0, k1]``, so it is in ``S_{k0}`` or charged in ``[k0, k1]``:
``sum cost_k >= w(trie(W) - S_{k0}) = work - w(trie(W) & S_{k0})``. By (A2) from the empty cache,
``S_{k0}`` holds only prefixes of prompts served at positions ``< k0``, which started before ``x``
and so arrived before ``x``: ``S_{k0} <= E_x``, the unbounded credit. Under ``last``,
``S_{k0} = prefixes(p_{pi(k0 - 1)})`` for one query arriving before ``x``: the ``last`` credit.
Under ``lru:C``, ``trie(W) & S_{k0}`` is a prefix-closed set of at most ``C`` prefixes; sorted by
length, its ``i``-th element has length ``<= i`` (its shorter prefixes precede it), and ``w`` grows
with the length, so it weighs at most ``sum_{i<=C} w(i) = C + alpha C^2``. Together:
``work - credit <= y + T - x``. QED.

The same proof holds for any subset of the window's queries; the whole window is never worse
(adding a query adds its new prefixes to ``work`` and at most those to ``credit``). A window of
one query at ``x = y = t_q`` gives ``w(p_q) - credit``, at least the per-query bound's least cost.

Computation
-----------
Windows start at the first and end at the last of a group of equal arrivals. For each start ``x``
(a sweep from the last arrival down) a segment tree over ends ``y``
(:class:`~prefix_sched.solvers.bounds.lower.segment_trees.AddMaxTree`) holds
``w(trie(x..y)) - t_y``: adding query ``x`` adds the weight of each node of its prompt to the ends
before that node's next occurrence (range adds, nodes with one next occurrence merged), so the
no-credit maximum over all ``y`` is one lookup. Under ``unbounded`` the credit cancels every node
that occurred before ``x``: ``work - credit`` is the sum of each query's *new* nodes, a prefix sum,
so the bound is a maximum-subarray pass. Under ``lru:C`` it is the larger of that and the
no-credit maximum less ``C + alpha C^2``. Under ``last`` a second tree
(:class:`~prefix_sched.solvers.bounds.lower.segment_trees.MaxTree`) holds, per end ``p``, the
weight ``sh_x(p)`` of the deepest node of ``p``'s prompt that an earlier prompt also has (updated
as ``x`` passes each node's first occurrence); the credit of ``[x, y]`` is the running maximum of
``sh_x``, a step function, and the exact maximum for start ``x`` is found step by step (range
maxima between records), only for starts whose no-credit maximum beats the best so far. Integers
throughout (times scaled by ``D``); the winning window is then recomputed from scratch with a
plain trie (:func:`window_value`) and must agree. The whole Mooncake conversation trace (12,031
requests) takes about 2 s (``benchmarks/gap.py``).

What it leaves out: windows that do not start and end at arrivals (never better), and the front
door that picks the best bound (:mod:`~prefix_sched.solvers.bounds.lower.front`).

Examples
--------
A later query that extends an earlier one gets the earlier prompt as credit: ``b`` (15 tokens)
arrives at 10, after ``a`` (its first 10 tokens) was served; under ``last`` the window ``{b}``
gives ``15 - 10 = 5``:

>>> from prefix_sched.theory.stream import Stream
>>> u = Stream.from_records([("a", (("p", 10),), 0), ("b", (("p", 10), ("q", 5)), 10)])
>>> w = window_value(u, 10, 10)
>>> w.work, w.credit, w.value
(15, 10, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower.credit import credit_rule
from prefix_sched.solvers.bounds.lower.segment_trees import AddMaxTree, MaxTree
from prefix_sched.solvers.bounds.lower.trie import SegmentTrie
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.cost import prefill_cost
from prefix_sched.theory.numbers import Exact, exact_number, normalize, to_json
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class WindowBound:
    """The window lemma for one window: ``value = work - credit - (last_arrival - first_arrival)``.

    Attributes
    ----------
    first_arrival, last_arrival : exact numbers
        The window ``[x, y]`` (token-times).
    queries : tuple of int
        Stream indices of the queries arriving in it, by arrival.
    work : exact number
        The weight of the window's radix trie (its distinct prefixes).
    credit : exact number
        What the cache model can hold of it at time ``x``.
    cache : str
        The cache model's spec.
    """

    first_arrival: Exact
    last_arrival: Exact
    queries: tuple[int, ...]
    work: Exact
    credit: Exact
    cache: str

    @property
    def value(self) -> Exact:
        """The bound this window certifies."""
        return normalize(self.work - self.credit - (self.last_arrival - self.first_arrival))

    def as_json(self, stream: Stream) -> dict[str, Any]:
        """The certificate for a result file (exact numbers as :func:`~prefix_sched.theory.numbers.to_json`)."""
        return {"first_arrival": to_json(self.first_arrival), "last_arrival": to_json(self.last_arrival),
                "queries": [stream.queries[i].qid for i in self.queries], "work": to_json(self.work),
                "credit": to_json(self.credit), "value": to_json(self.value), "cache": self.cache}


def window_value(stream: Stream, first_arrival: object, last_arrival: object, *, alpha: object = 0,
                 cache: str | CacheModel = "last") -> WindowBound:
    """The window lemma for the window ``[first_arrival, last_arrival]``, computed from scratch (exact).

    A plain dictionary trie of the window's prompts gives ``work``; the credit walks every earlier
    prompt down that trie (the ``last`` credit is the heaviest walk, the unbounded one the union).

    Raises
    ------
    InputError
        If no query arrives in the window, or ``first_arrival > last_arrival``.
    """
    alpha = exact_number(alpha, "alpha", minimum=0)
    x = exact_number(first_arrival, "first arrival")
    y = exact_number(last_arrival, "last arrival")
    model = parse_cache(cache)
    model.check_stream(stream)
    rule = credit_rule(model)
    if x > y:
        raise InputError(f"a window needs first arrival <= last arrival, got [{x}, {y}]")
    members = [i for i in stream.arrival_order if x <= stream.queries[i].arrival <= y]
    if not members:
        raise InputError(f"no query arrives in the window [{x}, {y}]")
    root: dict = {}  # segment -> (weight of the node, its children)
    work = 0
    for i in members:
        node, depth = root, 0
        for segment in stream.queries[i].prompt:
            end = depth + segment[1]
            if segment not in node:
                node[segment] = (prefill_cost(end, depth, alpha), {})
                work += node[segment][0]
            node, depth = node[segment][1], end
    single, union, held = 0, set(), 0
    for query in stream.queries:
        if query.arrival >= x:
            continue
        node, mine = root, 0
        for segment in query.prompt:
            if segment not in node:
                break
            weight, child = node[segment]
            mine += weight
            if id(child) not in union:
                union.add(id(child))
                held += weight
            node = child
        single = max(single, mine)
    if rule.last:
        credit = single
    elif rule.capacity is None:
        credit = held
    else:
        credit = min(held, rule.cap_weight(alpha))
    return WindowBound(x, y, tuple(members), normalize(Fraction(work)), normalize(Fraction(credit)), model.spec)


# --- the sweeps over all windows ----------------------------------------------------------

def unbounded_window(trie: SegmentTrie) -> tuple[int, int, int]:
    """Max over windows of (new weight of its queries) - (y - x): a maximum-subarray pass."""
    first, weight, t = trie.first, trie.weight, trie.t
    best, bx, by = None, 0, 0
    total, low, low_rank = 0, None, 0
    for rank, path in enumerate(trie.paths):
        if trie.group_first[rank]:
            value = total - t[rank]
            if low is None or value < low:
                low, low_rank = value, rank
        total += sum(weight[v] for v in path if first[v] == rank)
        if trie.group_last[rank]:
            value = total - t[rank] - low
            if best is None or value > best:
                best, bx, by = value, low_rank, rank
    return best, bx, by


def range_adds(trie: SegmentTrie, tree: AddMaxTree, rank: int, following: list[int]) -> None:
    """Add query ``rank``'s nodes to the ends before each node's next occurrence."""
    run_end, run_weight = None, 0
    weight = trie.weight
    for node in trie.paths[rank]:
        end = following[node]
        if end != run_end:
            if run_weight:
                tree.add(rank, run_end - 1, run_weight)
            run_end, run_weight = end, 0
        run_weight += weight[node]
        following[node] = rank
    if run_weight:
        tree.add(rank, run_end - 1, run_weight)


def sweep_plain(trie: SegmentTrie) -> tuple[int, int, int]:
    """Max over windows of ``work - (y - x)`` (no credit), with its window."""
    n = len(trie.t)
    tree = AddMaxTree(n)
    following = [n] * len(trie.weight)
    best, bx = None, 0
    for rank in range(n - 1, -1, -1):
        if trie.group_last[rank]:
            tree.set(rank, -trie.t[rank])
        range_adds(trie, tree, rank, following)
        if trie.group_first[rank]:
            value = trie.t[rank] + tree.top()
            if best is None or value > best:
                best, bx = value, rank
    by = best_end(trie, bx, lambda rank, work, credit: work)
    return best, bx, by


def best_end(trie: SegmentTrie, x: int, score) -> int:
    """The end ``y`` maximising ``score(y, work(x..y), credit) - t_y`` for start ``x``, scanning.

    ``credit`` is the running ``last`` credit (max of ``sh_x``); the score decides what counts.
    """
    seen, work, credit = set(), 0, 0
    best, by = None, x
    for rank in range(x, len(trie.t)):
        for node in trie.paths[rank]:
            if node not in seen:
                seen.add(node)
                work += trie.weight[node]
        credit = max(credit, trie.shared_depth_weight(rank, x))
        if trie.group_last[rank]:
            value = score(rank, work, credit) - trie.t[rank]
            if best is None or value > best:
                best, by = value, rank
    return by


def sweep_last(trie: SegmentTrie, floor: int) -> tuple[int, int, int, int]:
    """Exact max over windows of ``work - credit_last - (y - x)``; returns it, the window and the
    number of starts whose credit was needed (module docstring, Computation)."""
    n = len(trie.t)
    t, first, reach = trie.t, trie.first, trie.reach
    plain = AddMaxTree(n)
    shared = MaxTree(n)
    following = [n] * len(trie.weight)
    events: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for rank, path in enumerate(trie.paths):  # sh_x(rank) drops when x reaches a node's first rank
        deepest = 0
        for position, node in enumerate(path):
            gamma = first[node]
            if gamma >= rank:
                break
            if position == 0 or first[path[position - 1]] != gamma:
                events[gamma].append((rank, deepest))
            deepest = reach[node]
    best, best_x, checked = max(floor, 0) - 1, None, 0
    for x in range(n - 1, -1, -1):
        for rank, value in events[x]:
            shared.set(rank, value)
        shared.set(x, trie.shared_depth_weight(x, x))
        if trie.group_last[x]:
            plain.set(x, -t[x])
        range_adds(trie, plain, x, following)
        if not trie.group_first[x] or t[x] + plain.top() <= best:
            continue
        checked += 1
        current, credit = x, shared.get(x)
        while current < n:
            nxt = shared.first_above(current + 1, credit)
            nxt = min(nxt, n)
            value = t[x] + plain.max(current, nxt - 1) - credit
            if value > best:
                best, best_x = value, x
            if nxt >= n or t[x] + plain.max(nxt, n - 1) - shared.get(nxt) <= best:
                break
            current, credit = nxt, shared.get(nxt)
    # A window of one arrival group is worth at least its queries' least costs, so some start
    # beats floor - 1 and best_x is set.
    by = best_end(trie, best_x, lambda rank, work, credit: work - credit)
    return best, best_x, by, checked
