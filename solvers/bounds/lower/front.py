"""Certified lower bounds on the least possible max TTFT ``T*`` of a stream, for streams of any size.

Three bounds, each proved below, each returned with the window of arrivals that certifies it:

- the **per-query bound**: no query can cost less than its prompt beyond the longest prefix it
  shares with any other prompt (trivial, reported for comparison; the window bound dominates it);
- the **window bound** (every cache model): the queries arriving in a window ``[x, y]`` must all
  be prefilled inside ``[x, y + T]``; their distinct prefixes weigh ``work``, of which the cache
  can hold at most ``credit`` at time ``x``, so ``T* >= work - credit - (y - x)``. It is computed
  over **all** windows that start and end at arrival times;
- the **runs bound** (Definition 2's one-prompt cache only): under ``last`` a prefix shared by
  two queries is computed once only if they are served in one unbroken run of queries sharing it,
  a group served in ``b`` runs pays its shared core ``b`` times, and a run that has to wait across
  arrivals more than ``T`` apart idles; evaluated on a
  family of windows (the whole stream, the window bound's window, a grid, a hill climb of the
  window's ends), as any window gives a valid bound.

Plus a lower bound on the fewest queries over a given ``T`` (:func:`violations_lower_bound`).

Notation
--------
Query ``q`` has prompt ``p_q`` and arrival ``t_q``. A *prefix* is a nonempty token prefix
``p[:j]``; position ``j`` (1-based) weighs ``w(j) = 1 + alpha (2j - 1)``, a set ``P`` of prefixes
weighs ``w(P) = sum of w(|pi|)``. Definition 2's cost is exactly the weight of the prefixes of
``p`` longer than its reuse ``m``: ``(|p| - m) + alpha (|p|^2 - m^2) = sum_{j=m+1}^{|p|} w(j)``
(``j^2 - (j-1)^2 = 2j - 1``). A prompt alone weighs ``|p| + alpha |p|^2``.

For arrival times ``x <= y`` let ``W`` be the queries with ``x <= t_q <= y``, ``trie(W)`` the set
of prefixes of their prompts (the radix trie of the window), ``work = w(trie(W))``, and ``E_x`` the
prefixes of prompts of queries arriving strictly before ``x``. The credit, per cache model
(:mod:`~prefix_sched.theory.cache`):

- ``last``: ``max over q with t_q < x of w(trie(W) & prefixes(p_q))`` (0 if none): the heaviest
  single earlier prompt's share of the window trie, i.e. the weight ``D(v) = |v| + alpha |v|^2`` of
  the deepest node ``v`` of ``trie(W)`` that an earlier prompt also has;
- ``unbounded``: ``w(trie(W) & E_x)``: every window prefix any earlier prompt has;
- ``lru:C``: ``min(w(trie(W) & E_x), C + alpha C^2)``.

Theorem 1 (window bound)
------------------------
For every order, every cache model above, any batch size, and every window:
``max TTFT >= work - credit - (y - x)``. Hence ``T* >= max over windows of (work - credit - (y - x))``.

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

Theorem 2 (runs bound, ``last`` only)
--------------------------------------
Fix a window ``W`` and an antichain ``A`` of nodes of ``trie(W)`` (here: the ``k``-th segment of
every prompt with at least ``k`` segments, for a depth ``k``). For ``v in A`` let ``a_1 <= ... <=
a_m`` be the arrivals of the window queries whose prompts pass through ``v``. For a run ``S`` of
consecutive indices let ``work_v(S)`` be the weight of the prefixes through ``v`` (``v`` and
below) of their prompts, ``core_v(S)`` the weight of the part of those prefixes that every member
of ``S`` has (from ``v`` down to their longest common prefix), ``span(S) = a_last - a_first``,
``idle_T(S) = sum over consecutive i, i+1 in S of (a_{i+1} - a_i - T)+``, and

    c_T(S) = min over 1 <= b <= |S| of max(work_v(S) + (b - 1) core_v(S), span(S) - b T, idle_T(S)).

Let ``outside`` be the weight of the nodes of ``trie(W)`` comparable with no node of ``A``, and
``demand(T) = sum_v min over partitions of 1..m into runs S of sum_S c_T(S) + outside -
credit_last``. If an order has max TTFT ``<= T`` then ``demand(T) <= y - x + T``.

*Proof.* Take ``k0``, ``k1`` as before. A *block* of ``v`` is a maximal range of consecutive
positions in ``[k0, k1]`` whose prompts pass through ``v``; its span is ``[s_first, c_last]``.
Spans of blocks are disjoint (for one ``v``, and for two nodes of ``A``, which no prompt passes
through both) and lie in ``[s_{k0}, c_{k1}]``; positions outside every block lie outside every span.
Call gap ``i`` *crossed* if some block holds window queries arriving ``<= a_i`` and ``>= a_{i+1}``;
the maximal runs of crossed gaps cut ``1..m`` into runs ``S``, and each block's window queries lie
in one run. Let run ``S`` meet ``b >= 1`` blocks. (i) Under ``last`` a block starts with a cache
that does not pass through ``v`` (but possibly at ``k0``), so every prefix through ``v`` of a
prompt in the block is computed inside it; each block computes the core of ``S`` (its members all
have it) and every other prefix counted in ``work_v(S)`` is computed at least once: the blocks do
work ``>= work_v(S) + (b - 1) core_v(S)``. (ii) A block crossing gap ``i`` contains a query done by
``a_i + T`` and one started at ``>= a_{i+1}``, and every position between: its span covers
``(a_i + T, a_{i+1})``; these intervals are disjoint, so the blocks span ``>= idle_T(S)``. More
generally a block whose window queries arrive from ``lo`` to ``hi`` spans ``>= hi - lo - T``
(its ``lo`` query ends by ``lo + T``, its ``hi`` query starts after ``hi``); the ``b`` ranges
``[lo, hi]`` cover ``[a_first, a_last]`` (every gap of ``S`` is crossed), so the spans add up to
``>= span(S) - b T``. Since a span holds its block's work, the blocks of ``S`` span ``>= c_T(S)``
whatever ``b`` is. (iii) A node comparable with no node of ``A`` is charged at a position whose
prompt passes through no node of ``A``, outside every span. (iv) The cache at ``k0`` is one
earlier prompt; it lowers the total by at most ``credit_last``. Summing,
``demand(T) <= c_{k1} - s_{k0} <= y + T - x``. QED. So ``T*`` is at least the least ``T`` on the
time grid (``T*`` is a multiple of ``1 / D``, ``D`` the scale of
:func:`~prefix_sched.theory.evaluator.integer_timebase`) with ``demand(T) <= y - x + T``;
``demand`` does not increase with ``T``, so a search on the grid finds it. The bound does **not**
hold for ``lru`` or ``unbounded``: a radix cache keeps ``v`` across blocks, so (i) fails.

Theorem 3 (violations)
----------------------
For a bound ``T`` and a window with ``excess = work - credit - (y - x) - T > 0``, at least
``c`` queries of the window have TTFT ``> T``, ``c`` the least number of window queries whose
whole weights ``|p| + alpha |p|^2`` sum to ``>= excess``. *Proof:* let ``M`` be the window queries
meeting ``T``; Theorem 1's proof for ``M`` (its last query ends by ``y + T``) gives
``w(trie(M)) - credit(M) <= y + T - x``; ``credit(M) <= credit(W)`` and
``w(trie(W)) - w(trie(M)) <= sum over the others of their whole weights``. For windows with
``y_i + T < x_{i+1}`` the position ranges ``[k0, k1]`` of the proofs are disjoint, so the counts
add; :func:`violations_lower_bound` takes the best such family by dynamic programming.

Computation
-----------
Windows start at the first and end at the last of a group of equal arrivals. For each start ``x``
(a sweep from the last arrival down) a segment tree over ends ``y`` holds
``w(trie(x..y)) - t_y``: adding query ``x`` adds the weight of each node of its prompt to the ends
before that node's next occurrence (range adds, nodes with one next occurrence merged), so the
no-credit maximum over all ``y`` is one lookup. Under ``unbounded`` the credit cancels every node
that occurred before ``x``: ``work - credit`` is the sum of each query's *new* nodes, a prefix sum,
so the bound is a maximum-subarray pass. Under ``lru:C`` it is the larger of that and the
no-credit maximum less ``C + alpha C^2``. Under ``last`` a second tree holds, per end ``p``, the
weight ``sh_x(p)`` of the deepest node of ``p``'s prompt that an earlier prompt also has (updated
as ``x`` passes each node's first occurrence); the credit of ``[x, y]`` is the running maximum of
``sh_x``, a step function, and the exact maximum for start ``x`` is found step by step (range
maxima between records), only for starts whose no-credit maximum beats the best so far. Integers
throughout (times scaled by ``D``); the winning window is then recomputed from scratch with a
plain trie (:func:`window_value`) and must agree. The whole Mooncake conversation trace (12,031
requests) takes about 2 s for the window bound and 15 s with the runs bound (``benchmarks/gap.py``).
The runs bound's search evaluates ``demand`` (a dynamic program over each group's runs, quadratic
in the group's size) at ``O(log)`` grid points per window: the whole stream at depths 1 to 3, then
with the best depth the window bound's window and the windows between the ``i / RUN_GRID``
quantiles of the arrivals, longest first, then a hill climb of the window's ends from the window
bound's window and from the best runs window (``time_limit`` stops it; every window tried gives a
valid bound, so stopping early only weakens it).

What it leaves out: windows that do not start and end at arrivals (never better), antichains
other than one segment depth for the runs bound, groups of more than :data:`MAX_RUN_GROUP`
queries in the runs bound (that depth is skipped), and cache models other than the three above.

Examples
--------
Two 10-token queries arrive together; they share nothing, so one of them waits for the other:
``work = 20``, no credit, ``T* >= 20 - 0``:

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("x", 10),), 0), ("b", (("y", 10),), 0)])
>>> lb = lower_bound(s)
>>> lb.value, lb.source, lb.window.work, lb.per_query
(20, 'window', 20, 10)

Section 4.2's toy example (T* = 30 by the exact solver): the trie of all four prompts weighs
``5 + 5 + 5 + 5 + 5 + 5 = 30`` (two users, four docs), all arriving at 0:

>>> t = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> lower_bound(t).value
30

A later query that extends an earlier one gets the earlier prompt as credit: ``b`` (15 tokens)
arrives at 10, after ``a`` (its first 10 tokens) was served; under ``last`` the window ``{b}``
gives ``15 - 10 = 5`` (``T* = 10``, from ``a`` itself):

>>> u = Stream.from_records([("a", (("p", 10),), 0), ("b", (("p", 10), ("q", 5)), 10)])
>>> window_value(u, 10, 10).credit, lower_bound(u).value
(10, 10)
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sortedcontainers import SortedList

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.cost import integer_timebase
from prefix_sched.theory.numbers import Exact, exact_number, normalize, to_json
from prefix_sched.theory.stream import Stream

MAX_RUN_GROUP = 600   # the runs bound's DP is quadratic in a group's size: larger groups skip the depth
RUN_DEPTHS = (1, 2, 3)
RUN_GRID = 6          # the runs bound also tries windows between the i/RUN_GRID quantiles of arrivals
CLIMB_MIN_STEP = 8    # the runs bound's window climb: steps (in arrivals) from CLIMB_MAX_STEP or
CLIMB_MAX_STEP = 512  # the window's length, whichever is less, halving down to CLIMB_MIN_STEP
NEG = float("-inf")


# --- results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowBound:
    """Theorem 1 for one window: ``value = work - credit - (last_arrival - first_arrival)``.

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


@dataclass(frozen=True)
class RunsBound:
    """Theorem 2 for one window and antichain depth: ``value`` is the least ``T`` on the time grid
    with ``demand(T) <= y - x + T``; one grid step below it the demand exceeds the room.

    Attributes
    ----------
    first_arrival, last_arrival : exact numbers
    queries : tuple of int
        Stream indices of the window's queries.
    depth : int
        The antichain: every prompt's ``depth``-th segment node.
    value : exact number
    below : exact number
        ``value - 1/D``, the grid value under it.
    demand_below : exact number
        ``demand(below)``, which is ``> room_below``.
    room_below : exact number
        ``y - x + below``.
    """

    first_arrival: Exact
    last_arrival: Exact
    queries: tuple[int, ...]
    depth: int
    value: Exact
    below: Exact
    demand_below: Exact
    room_below: Exact

    def as_json(self) -> dict[str, Any]:
        """The certificate for a result file."""
        return {"first_arrival": to_json(self.first_arrival), "last_arrival": to_json(self.last_arrival),
                "queries": len(self.queries), "depth": self.depth, "value": to_json(self.value),
                "below": to_json(self.below), "demand_below": to_json(self.demand_below),
                "room_below": to_json(self.room_below)}


@dataclass(frozen=True)
class LowerBound:
    """A certified lower bound on ``T*`` with its evidence.

    Attributes
    ----------
    value : exact number
        ``max(window.value, runs.value, per_query, 0)``.
    source : {"window", "runs", "query"}
        Which bound gives ``value``.
    window : WindowBound
        The best window of Theorem 1 (over all windows).
    runs : RunsBound or None
        The best runs bound found (``last`` only; None when none beat the window bound or it was
        not asked for).
    per_query : exact number
        The largest least possible cost of one query.
    per_query_index : int
        The query attaining it.
    cache : str
    alpha : exact number
    starts_checked : int
        Window starts whose credit was computed exactly (``last``).
    runs_windows : int
        Windows the runs bound was evaluated on.
    wall_time_s : float
    """

    value: Exact
    source: str
    window: WindowBound
    runs: RunsBound | None
    per_query: Exact
    per_query_index: int
    cache: str
    alpha: Exact
    starts_checked: int
    runs_windows: int
    wall_time_s: float

    def as_json(self, stream: Stream) -> dict[str, Any]:
        """The bound and its certificates for a result file."""
        return {"value": to_json(self.value), "source": self.source, "cache": self.cache,
                "alpha": to_json(self.alpha), "window": self.window.as_json(stream),
                "runs": None if self.runs is None else self.runs.as_json(),
                "per_query": to_json(self.per_query),
                "per_query_id": stream.queries[self.per_query_index].qid,
                "wall_time_s": round(self.wall_time_s, 3)}


# --- the prepared trie ----------------------------------------------------------------------

class _Trie:
    """The stream's segment-level radix trie in integers (times and weights times ``scale``).

    Ranks are positions in arrival order. ``paths[r]`` lists the node ids of rank ``r``'s prompt,
    root first; ``weight[v]`` is the node's prefix weight, ``reach[v] = D(v)`` the weight of the
    whole prefix ending at ``v``; ``first[v]`` the first rank through ``v``.
    """

    def __init__(self, stream: Stream, alpha: Exact) -> None:
        scale, alpha_scaled, arrivals = integer_timebase(stream, alpha)
        self.scale, self.alpha_scaled = scale, alpha_scaled
        self.ranks = stream.arrival_order
        self.t = [arrivals[i] for i in self.ranks]
        nodes: dict[tuple[int, object], int] = {}
        weight, reach, first, count, depth_of = [], [], [], [], []
        paths = []
        for rank, index in enumerate(self.ranks):
            parent, depth, path = -1, 0, []
            for segment in stream.queries[index].prompt:
                key = (parent, segment)
                node = nodes.get(key)
                end = depth + segment[1]
                if node is None:
                    node = nodes[key] = len(weight)
                    weight.append(scale * segment[1] + alpha_scaled * (end * end - depth * depth))
                    reach.append(scale * end + alpha_scaled * end * end)
                    first.append(rank)
                    count.append(0)
                    depth_of.append(len(path) + 1)
                count[node] += 1
                path.append(node)
                parent, depth = node, end
            paths.append(path)
        self.paths, self.weight, self.reach, self.first, self.count = paths, weight, reach, first, count
        self.full = [reach[path[-1]] for path in paths]
        n = len(self.t)
        self.group_first = [r == 0 or self.t[r - 1] != self.t[r] for r in range(n)]
        self.group_last = [r == n - 1 or self.t[r + 1] != self.t[r] for r in range(n)]

    def exact(self, value: int) -> Exact:
        """A scaled integer back in token-times."""
        return normalize(Fraction(value, self.scale))

    def shared_depth_weight(self, rank: int, before: int) -> int:
        """``D`` of the deepest node of ``rank``'s prompt whose first rank is ``< before`` (0 if none)."""
        path, first = self.paths[rank], self.first
        lo, hi = 0, len(path)  # first[] does not decrease along a path
        while lo < hi:
            mid = (lo + hi) // 2
            if first[path[mid]] < before:
                lo = mid + 1
            else:
                hi = mid
        return self.reach[path[lo - 1]] if lo else 0


class _AddMaxTree:
    """Range add, point activation and range maximum over ``size`` leaves (all ``-inf`` at first)."""

    def __init__(self, size: int) -> None:
        self.n = 1
        while self.n < max(size, 1):
            self.n *= 2
        self.h = self.n.bit_length() - 1
        self.t = [NEG] * (2 * self.n)
        self.d = [0] * (2 * self.n)

    def _build(self, i: int) -> None:
        t, d = self.t, self.d
        i >>= 1
        while i:
            a, b = t[2 * i], t[2 * i + 1]
            t[i] = (a if a > b else b) + d[i]
            i >>= 1

    def _push(self, leaf: int) -> None:
        t, d = self.t, self.d
        for s in range(self.h, 0, -1):
            i = leaf >> s
            v = d[i]
            if v:
                for c in (2 * i, 2 * i + 1):
                    t[c] += v
                    if c < self.n:
                        d[c] += v
                d[i] = 0

    def set(self, i: int, value: int) -> None:
        leaf = i + self.n
        self._push(leaf)
        self.t[leaf] = value
        self._build(leaf)

    def add(self, lo: int, hi: int, value: int) -> None:
        """Add ``value`` to leaves ``lo..hi`` (inclusive)."""
        t, d, n = self.t, self.d, self.n
        l, r = lo + n, hi + n + 1
        l0, r0 = l, r - 1
        while l < r:
            if l & 1:
                t[l] += value
                if l < n:
                    d[l] += value
                l += 1
            if r & 1:
                r -= 1
                t[r] += value
                if r < n:
                    d[r] += value
            l >>= 1
            r >>= 1
        self._build(l0)
        self._build(r0)

    def top(self) -> float | int:
        return self.t[1]

    def max(self, lo: int, hi: int) -> float | int:
        """Maximum over leaves ``lo..hi`` (inclusive)."""
        if lo > hi:
            return NEG
        n, t = self.n, self.t
        l, r = lo + n, hi + n + 1
        self._push(l)
        self._push(r - 1)
        best = NEG
        while l < r:
            if l & 1:
                if t[l] > best:
                    best = t[l]
                l += 1
            if r & 1:
                r -= 1
                if t[r] > best:
                    best = t[r]
            l >>= 1
            r >>= 1
        return best


class _MaxTree:
    """Point assignment and "first leaf at or after ``lo`` above ``k``" over ``size`` leaves."""

    def __init__(self, size: int) -> None:
        self.n = 1
        while self.n < max(size, 1):
            self.n *= 2
        self.t = [-1] * (2 * self.n)

    def set(self, i: int, value: int) -> None:
        t = self.t
        i += self.n
        t[i] = value
        i >>= 1
        while i:
            a, b = t[2 * i], t[2 * i + 1]
            t[i] = a if a > b else b
            i >>= 1

    def get(self, i: int) -> int:
        return self.t[i + self.n]

    def first_above(self, lo: int, k: int) -> int:
        """The first leaf ``>= lo`` whose value is ``> k``, or ``self.n``."""
        t, i = self.t, lo + self.n
        if lo >= self.n:
            return self.n
        while t[i] <= k:
            while i & 1:
                i >>= 1
            if i == 0:
                return self.n
            i += 1
        while i < self.n:
            i = 2 * i if t[2 * i] > k else 2 * i + 1
        return i - self.n


# --- the public bounds ----------------------------------------------------------------------

def lower_bound(stream: Stream, *, alpha: object = 0, cache: str | CacheModel = "last", runs: bool = True,
                time_limit: float | None = None, upper: object = None) -> LowerBound:
    """A certified lower bound on the least possible max TTFT of ``stream`` (see the module docstring).

    Parameters
    ----------
    stream : Stream
    alpha : exact number, default 0
    cache : str or CacheModel, default "last"
        ``"last"``, ``"lru:TOKENS"`` or ``"unbounded"``; the bound holds for that model.
    runs : bool, default True
        Also try Theorem 2's runs bound (``last`` only; ignored for other models).
    time_limit : seconds or Deadline, optional
        For the runs bound's windows (the window bound always runs to the end); whatever
        is found by then is valid.
    upper : exact number, optional
        A known upper bound on ``T*`` (a schedule's max TTFT): the runs bound searches below it.

    Raises
    ------
    InputError
        For a bad ``alpha`` or cache spec, or a prompt longer than an ``lru`` capacity.
    """
    started = time.perf_counter()
    stop = Deadline.of(time_limit)
    alpha = exact_number(alpha, "alpha", minimum=0)
    model = parse_cache(cache)
    model.check_stream(stream)
    trie = _Trie(stream, alpha)
    floor_index, floor_scaled = _per_query(trie)
    starts = 0
    if model.is_last_prompt:
        best, x, y, starts = _sweep_last(trie, floor_scaled)
    else:
        best, x, y = _unbounded_window(trie)
        if model.capacity is not None:
            cap = trie.scale * model.capacity + trie.alpha_scaled * model.capacity ** 2
            plain, px, py = _sweep_plain(trie)
            if plain - cap > best:
                best, x, y = plain - cap, px, py
    window = window_value(stream, trie.exact(trie.t[x]), trie.exact(trie.t[y]), alpha=alpha, cache=model)
    if trie.exact(best) != window.value:  # pragma: no cover - the sweep and the plain trie must agree
        raise AssertionError(f"window sweep found {trie.exact(best)}, the window recomputes to {window.value}")
    per_query = trie.exact(floor_scaled)
    found = None
    checked = 0
    if runs and model.is_last_prompt:
        ceiling = None if upper is None else math.ceil(exact_number(upper, "upper bound") * trie.scale)
        found, checked = _best_runs(trie, max(best, floor_scaled, 0), (x, y), ceiling, stop)
    candidates = [(window.value, 2, "window"), (per_query, 1, "query")]
    if found is not None:
        candidates.append((found.value, 0, "runs"))
    value, _, source = max(candidates)
    if upper is not None and exact_number(upper, "upper bound") < value:
        raise InputError(f"the given upper bound {upper} is not one: every order's max TTFT is >= {value} "
                         f"({source} bound)")
    return LowerBound(value, source, window, found, per_query, trie.ranks[floor_index], model.spec,
                      alpha, starts, checked, time.perf_counter() - started)


def per_query_bound(stream: Stream, *, alpha: object = 0) -> tuple[Exact, int]:
    """The largest least possible cost of one query, and the query (stream index).

    A query's least cost is its prompt beyond the longest prefix it shares with any other prompt,
    under every cache model (a cache holds only prefixes of other served prompts).

    >>> from prefix_sched.theory.stream import Stream
    >>> per_query_bound(Stream.from_records([("a", (("p", 4), ("x", 2)), 0), ("b", (("p", 4),), 9)]))
    (2, 0)
    """
    trie = _Trie(stream, exact_number(alpha, "alpha", minimum=0))
    rank, value = _per_query(trie)
    return trie.exact(value), trie.ranks[rank]


def _per_query(trie: _Trie) -> tuple[int, int]:
    best, best_rank = -1, 0
    for rank, path in enumerate(trie.paths):
        shared = 0
        for node in path:
            if trie.count[node] >= 2:
                shared = trie.reach[node]
            else:
                break
        value = trie.full[rank] - shared
        if value > best:
            best, best_rank = value, rank
    return best_rank, best


def window_value(stream: Stream, first_arrival: object, last_arrival: object, *, alpha: object = 0,
                 cache: str | CacheModel = "last") -> WindowBound:
    """Theorem 1 for the window ``[first_arrival, last_arrival]``, computed from scratch (exact).

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
                node[segment] = (segment[1] + alpha * (end * end - depth * depth), {})
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
    if model.is_last_prompt:
        credit = single
    elif model.capacity is None:
        credit = held
    else:
        credit = min(held, model.capacity + alpha * model.capacity ** 2)
    return WindowBound(x, y, tuple(members), normalize(Fraction(work)), normalize(Fraction(credit)), model.spec)


# --- Theorem 1: the sweeps ------------------------------------------------------------------

def _unbounded_window(trie: _Trie) -> tuple[int, int, int]:
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


def _range_adds(trie: _Trie, tree: _AddMaxTree, rank: int, following: list[int]) -> None:
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


def _sweep_plain(trie: _Trie) -> tuple[int, int, int]:
    """Max over windows of ``work - (y - x)`` (no credit), with its window."""
    n = len(trie.t)
    tree = _AddMaxTree(n)
    following = [n] * len(trie.weight)
    best, bx = None, 0
    for rank in range(n - 1, -1, -1):
        if trie.group_last[rank]:
            tree.set(rank, -trie.t[rank])
        _range_adds(trie, tree, rank, following)
        if trie.group_first[rank]:
            value = trie.t[rank] + tree.top()
            if best is None or value > best:
                best, bx = value, rank
    by = _best_end(trie, bx, lambda rank, work, credit: work)
    return best, bx, by


def _best_end(trie: _Trie, x: int, score) -> int:
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


def _sweep_last(trie: _Trie, floor: int) -> tuple[int, int, int, int]:
    """Exact max over windows of ``work - credit_last - (y - x)``; returns it, the window and the
    number of starts whose credit was needed (module docstring, Computation)."""
    n = len(trie.t)
    t, first, reach = trie.t, trie.first, trie.reach
    plain = _AddMaxTree(n)
    shared = _MaxTree(n)
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
        _range_adds(trie, plain, x, following)
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
    by = _best_end(trie, best_x, lambda rank, work, credit: work - credit)
    return best, best_x, by, checked


# --- Theorem 2: runs ------------------------------------------------------------------------

class _RunsDemand:
    """``demand(T)`` of Theorem 2 for ranks ``x..y`` and a segment depth, in scaled integers."""

    def __init__(self, trie: _Trie, x: int, y: int, depth: int) -> None:
        groups: dict[int, list[int]] = {}
        outside: set[int] = set()
        above: set[int] = set()
        for rank in range(x, y + 1):
            path = trie.paths[rank]
            if len(path) >= depth:
                groups.setdefault(path[depth - 1], []).append(rank)
                above.update(path[:depth - 1])
            else:
                outside.update(path)
        self.size = max((len(g) for g in groups.values()), default=0)
        self.fixed = sum(trie.weight[v] for v in outside - above)
        self.credit = _window_credit(trie, x, y)
        self.multi: list[tuple[list[list[int]], list[int], list[list[int]]]] = []
        if self.size > MAX_RUN_GROUP:
            return
        weight, t = trie.weight, trie.t
        for members in groups.values():
            if len(members) == 1:
                self.fixed += sum(weight[v] for v in trie.paths[members[0]][depth - 1:])
                continue
            table, cores = [], []
            for a in range(len(members)):
                seen, work, row = set(), 0, []
                base = trie.paths[members[a]][depth - 1:]
                core, core_row = len(base), []
                for b in range(a, len(members)):
                    path = trie.paths[members[b]][depth - 1:]
                    for node in path:
                        if node not in seen:
                            seen.add(node)
                            work += weight[node]
                    shared = 0
                    while shared < core and shared < len(path) and path[shared] == base[shared]:
                        shared += 1
                    core = shared
                    row.append(work)
                    core_row.append(sum(weight[node] for node in base[:core]))
                table.append(row)
                cores.append(core_row)
            arrivals = [t[r] for r in members]
            self.multi.append((table, arrivals, cores))

    @property
    def usable(self) -> bool:
        return self.size <= MAX_RUN_GROUP

    def __call__(self, ttft: int) -> int:
        total = self.fixed - self.credit
        for table, arrivals, cores in self.multi:
            m = len(table)
            idle = [0]
            for a, b in zip(arrivals, arrivals[1:]):
                idle.append(idle[-1] + (b - a - ttft if b - a > ttft else 0))
            best = [0] * (m + 1)
            for j in range(1, m + 1):
                low = None
                for i in range(j):
                    cost = best[i] + _run_cost(table[i][j - 1 - i], cores[i][j - 1 - i], arrivals[j - 1] - arrivals[i],
                                               idle[j - 1] - idle[i], j - i, ttft)
                    if low is None or cost < low:
                        low = cost
                best[j] = low
            total += best[m]
        return total


def _run_cost(work: int, head: int, span: int, idle: int, size: int, ttft: int) -> int:
    """``c_T(S) = min over 1 <= k <= |S| of max(work + (k - 1) core, span - k T, idle)`` (Theorem 2),
    ``head`` the weight of the run's core.

    The first term grows with ``k`` and the second falls, so the minimum is at their crossing.

    >>> _run_cost(work=120, head=100, span=400, idle=0, size=4, ttft=100)   # k = 2: max(220, 200)
    220
    """
    if ttft == 0:
        return max(work, span, idle)
    k = -(-(span - work + head) // (head + ttft))   # the least k with work + (k-1) head >= span - k T
    k = min(max(k, 1), size)
    cost = max(work + (k - 1) * head, span - k * ttft)
    if k > 1:
        cost = min(cost, max(work + (k - 2) * head, span - (k - 1) * ttft))
    return max(cost, idle)


def _window_credit(trie: _Trie, x: int, y: int) -> int:
    return max((trie.shared_depth_weight(rank, x) for rank in range(x, y + 1)), default=0)


def runs_demand(stream: Stream, first_arrival: object, last_arrival: object, depth: int, ttft: object, *,
                alpha: object = 0) -> Exact:
    """Theorem 2's ``demand(T)`` for the window ``[first_arrival, last_arrival]`` (exact).

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([("a", (("u", 10), ("x", 1)), 0), ("b", (("u", 10), ("y", 1)), 30)])
    >>> runs_demand(s, 0, 30, 1, 5), runs_demand(s, 0, 30, 1, 30)   # idle 25 or split (22) / one run 12
    (22, 12)
    """
    alpha = exact_number(alpha, "alpha", minimum=0)
    trie = _Trie(stream, alpha)
    x, y = _window_ranks(trie, exact_number(first_arrival, "first arrival"), exact_number(last_arrival, "last arrival"))
    demand = _RunsDemand(trie, x, y, depth)
    if demand.size > MAX_RUN_GROUP:
        raise InputError(f"a group of {demand.size} queries at depth {depth} exceeds {MAX_RUN_GROUP}")
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    scaled = bound * trie.scale
    if Fraction(scaled).denominator != 1:
        raise InputError(f"T = {bound} is not on the stream's time grid 1/{trie.scale}")
    return trie.exact(demand(int(scaled)))


def _window_ranks(trie: _Trie, x: Exact, y: Exact) -> tuple[int, int]:
    t = trie.t
    lo = bisect.bisect_left(t, x * trie.scale)
    hi = bisect.bisect_right(t, y * trie.scale) - 1
    if lo > hi:
        raise InputError(f"no query arrives in the window [{x}, {y}]")
    return lo, hi


def _runs_value(demand: _RunsDemand, room: int, floor: int, ceiling: int | None) -> int | None:
    """The least grid ``T > floor`` with ``demand(T) <= room + T``, or None if ``floor`` meets it.

    ``slack(T) = demand(T) - room - T`` decreases strictly in ``T``; the search alternates false
    position and bisection on the integer grid, so it takes at most twice the bisection steps.
    """
    def slack(value: int) -> int:
        return demand(value) - room - value   # > 0: no order has max TTFT <= value

    low, low_slack = floor, slack(floor)
    if low_slack <= 0:
        return None
    if ceiling is not None:
        high, high_slack = ceiling, slack(ceiling)
        if high_slack > 0:
            raise InputError(f"the given upper bound {ceiling} (scaled) is not one: the runs bound proves "
                             "every order's max TTFT is larger")
    else:
        high = max(2 * floor, floor + 1)
        while (high_slack := slack(high)) > 0:
            low, low_slack, high = high, high_slack, 2 * high
    step = 0
    while high - low > 1:
        if step % 2 == 0:
            middle = low + (high - low) * low_slack // (low_slack - high_slack)
            middle = min(max(middle, low + 1), high - 1)
        else:
            middle = (low + high) // 2
        value = slack(middle)
        if value > 0:
            low, low_slack = middle, value
        else:
            high, high_slack = middle, value
        step += 1
    return high


def _best_runs(trie: _Trie, floor: int, window: tuple[int, int], ceiling: int | None,
               stop: Deadline) -> tuple[RunsBound | None, int]:
    """Theorem 2 on the whole stream (every depth); then, with the depth that did best there, on
    the window bound's window and the grid windows, longest first; then a climb of the window's
    ends from the window bound's window and from the best runs window; all until ``stop``."""
    n = len(trie.t)
    starts = [r for r in range(n) if trie.group_first[r]]
    ends = [r for r in range(n) if trie.group_last[r]]
    grid = [(starts[i * len(starts) // RUN_GRID], ends[j * len(ends) // RUN_GRID - 1])
            for i in range(RUN_GRID) for j in range(i + 1, RUN_GRID + 1)]
    windows = [window] + sorted((w for w in dict.fromkeys(grid) if w[0] <= w[1] and w != window
                                 and w != (0, n - 1)), key=lambda w: (w[0] - w[1], w[0]))
    search = _RunsSearch(trie, floor, ceiling, stop)
    scores = []
    for depth in RUN_DEPTHS:
        value = search.try_window(0, n - 1, depth)
        if value is not None:
            scores.append((search.best if search.where == (0, n - 1, depth) else 0, value, depth))
        if stop.expired():
            return search.found, search.checked
    if not scores:
        return search.found, search.checked
    depth = max(scores)[2]
    for x, y in windows:
        if stop.expired():
            break
        if (x, y) != (0, n - 1):
            search.try_window(x, y, depth)
    for start in dict.fromkeys([window] + ([search.where[:2]] if search.where else [])):
        search.climb(start, depth)
    return search.found, search.checked


class _RunsSearch:
    """The best runs bound found so far over the windows tried (scaled integers)."""

    def __init__(self, trie: _Trie, floor: int, ceiling: int | None, stop: Deadline) -> None:
        self.trie, self.best, self.ceiling, self.stop = trie, floor, ceiling, stop
        self.found: RunsBound | None = None
        self.where: tuple[int, int, int] | None = None
        self.checked = 0

    def try_window(self, x: int, y: int, depth: int) -> int | None:
        """Raise the bound with window ``x..y`` if it can; return its violation at the bound
        (``demand - room - best``, ``<= 0`` after any raise), or None for an unusable depth."""
        demand = _RunsDemand(self.trie, x, y, depth)
        if not demand.usable:
            return None
        self.checked += 1
        room = self.trie.t[y] - self.trie.t[x]
        value = _runs_value(demand, room, self.best, self.ceiling)
        if value is not None:
            self.best, self.where = value, (x, y, depth)
            self.found = _runs_bound(self.trie, x, y, depth, demand, value)
        return demand(self.best) - room - self.best

    def climb(self, start: tuple[int, int], depth: int) -> None:
        """Hill-climb the window's ends (in ranks; steps halve from :data:`CLIMB_MAX_STEP` or the
        window's length down to :data:`CLIMB_MIN_STEP`) on the violation at the best bound; a window
        that violates it raises the bound and becomes the new position."""
        trie, n = self.trie, len(self.trie.t)

        def snap(x: int, y: int) -> tuple[int, int] | None:
            x, y = min(max(x, 0), n - 1), min(max(y, 0), n - 1)
            while not trie.group_first[x]:
                x -= 1
            while not trie.group_last[y]:
                y += 1
            return (x, y) if x <= y else None

        x, y = start
        current = self.try_window(x, y, depth)
        if current is None:
            return
        step = min(max(y - x + 1, CLIMB_MIN_STEP), CLIMB_MAX_STEP)
        while step >= CLIMB_MIN_STEP and not self.stop.expired():
            moved = False
            for dx, dy in ((-step, 0), (0, step), (step, 0), (0, -step), (-step, step), (step, -step)):
                candidate = snap(x + dx, y + dy)
                if candidate is None or candidate == (x, y):
                    continue
                before = self.best
                value = self.try_window(*candidate, depth)
                if value is not None and (self.best > before or value > current):
                    (x, y), current, moved = candidate, value, True
                    break
                if self.stop.expired():
                    return
            if not moved:
                step //= 2


def _runs_bound(trie: _Trie, x: int, y: int, depth: int, demand: _RunsDemand, value: int) -> RunsBound:
    below = value - 1
    return RunsBound(trie.exact(trie.t[x]), trie.exact(trie.t[y]), tuple(trie.ranks[r] for r in range(x, y + 1)),
                     depth, trie.exact(value), trie.exact(below), trie.exact(demand(below)),
                     trie.exact(trie.t[y] - trie.t[x] + below))


# --- Theorem 3: violations ------------------------------------------------------------------

@dataclass(frozen=True)
class ViolationsBound:
    """At least ``count`` queries have TTFT ``> ttft`` in every order (Theorem 3).

    ``windows`` lists the certifying windows ``(first_arrival, last_arrival, excess, count)``, with
    ``last_arrival + ttft < next first_arrival``.
    """

    count: int
    ttft: Exact
    windows: tuple[tuple[Exact, Exact, Exact, int], ...]
    complete: bool


def violations_lower_bound(stream: Stream, ttft: object, *, alpha: object = 0,
                           cache: str | CacheModel = "last", time_limit: float | None = None) -> ViolationsBound:
    """A lower bound on the fewest queries with TTFT above ``ttft`` (Theorem 3).

    Every window is scanned (``O(n^2)`` trie insertions: meant for streams of a few thousand
    queries); with ``time_limit`` the starts not reached are skipped (``complete`` is False) and the
    count is still valid.

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([(q, ((q, 10),), 0) for q in "abc"])
    >>> violations_lower_bound(s, 15).count     # 30 token-times of work, room 15: two must wait
    2
    >>> violations_lower_bound(s, 9).count      # not even the first fits in 9
    3
    """
    stop = Deadline.of(time_limit)
    alpha = exact_number(alpha, "alpha", minimum=0)
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    model = parse_cache(cache)
    model.check_stream(stream)
    trie = _Trie(stream, alpha)
    scaled = bound * trie.scale
    limit = math.floor(scaled)  # arrivals are integers: t > t_y + T iff t > t_y + floor(T)
    n = len(trie.t)
    t = trie.t
    capacity = None if model.is_last_prompt else model.capacity
    cap = None if capacity is None else trie.scale * capacity + trie.alpha_scaled * capacity ** 2
    best_from = [0] * (n + 1)
    choice: list[tuple[int, int, int, int] | None] = [None] * (n + 1)
    complete = True
    for x in range(n - 1, -1, -1):
        best_from[x], choice[x] = best_from[x + 1], None
        if not trie.group_first[x]:
            continue
        if stop.expired():
            complete = False
            continue
        seen, work, credit_last, credit_union = set(), 0, 0, 0
        weights = SortedList()
        for y in range(x, n):
            for node in trie.paths[y]:
                if node not in seen:
                    seen.add(node)
                    work += trie.weight[node]
                    if trie.first[node] < x:
                        credit_union += trie.weight[node]
            credit_last = max(credit_last, trie.shared_depth_weight(y, x))
            weights.add(-trie.full[y])
            if not trie.group_last[y]:
                continue
            if model.is_last_prompt:
                credit = credit_last
            else:
                credit = credit_union if cap is None else min(credit_union, cap)
            excess = work - credit - (t[y] - t[x]) - scaled
            if excess <= 0:
                continue
            count, total = 0, 0
            for w in weights:
                count += 1
                total -= w
                if total >= excess:
                    break
            nxt = bisect.bisect_right(t, t[y] + limit)  # the first arrival after y + T
            value = count + best_from[nxt]
            if value > best_from[x]:
                best_from[x], choice[x] = value, (y, nxt, excess, count)
    windows, x = [], 0
    while x < n:
        if choice[x] is None:
            x += 1
            continue
        y, nxt, excess, count = choice[x]
        windows.append((trie.exact(t[x]), trie.exact(t[y]), trie.exact(excess), count))
        x = nxt
    return ViolationsBound(best_from[0], bound, tuple(windows), complete)
