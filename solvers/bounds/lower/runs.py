"""The runs lemma: a certified lower bound under Definition 2's one-prompt cache, from runs of a prefix group.

Under ``last`` a prefix shared by two queries is computed once only if they are served in one
unbroken run of queries sharing it; a group served in ``b`` runs pays its shared core ``b`` times,
and a run that has to wait across arrivals more than ``T`` apart idles. Notation, weights (each one
Definition 2's cost) and windows as in :mod:`~prefix_sched.solvers.bounds.lower.trie` and
:mod:`~prefix_sched.solvers.bounds.lower.window`.

Runs lemma (``last`` only)
--------------------------
(This toolkit's lemma, not one of the paper's theorems.) Fix a window ``W`` and an antichain ``A``
of nodes of ``trie(W)`` (here: the ``k``-th segment of every prompt with at least ``k`` segments,
for a depth ``k``). For ``v in A`` let ``a_1 <= ... <= a_m`` be the arrivals of the window queries
whose prompts pass through ``v``. For a run ``S`` of consecutive indices let ``work_v(S)`` be the
weight of the prefixes through ``v`` (``v`` and below) of their prompts, ``core_v(S)`` the weight
of the part of those prefixes that every member of ``S`` has (from ``v`` down to their longest
common prefix), ``span(S) = a_last - a_first``, ``idle_T(S) = sum over consecutive i, i+1 in S of
(a_{i+1} - a_i - T)+``, and

    c_T(S) = min over 1 <= b <= |S| of max(work_v(S) + (b - 1) core_v(S), span(S) - b T, idle_T(S)).

Let ``outside`` be the weight of the nodes of ``trie(W)`` comparable with no node of ``A``, and
``demand(T) = sum_v min over partitions of 1..m into runs S of sum_S c_T(S) + outside -
credit_last``. If an order has max TTFT ``<= T`` then ``demand(T) <= y - x + T``.

*Proof.* Take ``k0``, ``k1`` as in the window lemma's proof. A *block* of ``v`` is a maximal range
of consecutive positions in ``[k0, k1]`` whose prompts pass through ``v``; its span is
``[s_first, c_last]``. Spans of blocks are disjoint (for one ``v``, and for two nodes of ``A``,
which no prompt passes through both) and lie in ``[s_{k0}, c_{k1}]``; positions outside every
block lie outside every span. Call gap ``i`` *crossed* if some block holds window queries arriving
``<= a_i`` and ``>= a_{i+1}``; the maximal runs of crossed gaps cut ``1..m`` into runs ``S``, and
each block's window queries lie in one run. Let run ``S`` meet ``b >= 1`` blocks. (i) Under
``last`` a block starts with a cache that does not pass through ``v`` (but possibly at ``k0``), so
every prefix through ``v`` of a prompt in the block is computed inside it; each block computes the
core of ``S`` (its members all have it) and every other prefix counted in ``work_v(S)`` is computed
at least once: the blocks do work ``>= work_v(S) + (b - 1) core_v(S)``. (ii) A block crossing gap
``i`` contains a query done by ``a_i + T`` and one started at ``>= a_{i+1}``, and every position
between: its span covers ``(a_i + T, a_{i+1})``; these intervals are disjoint, so the blocks span
``>= idle_T(S)``. More generally a block whose window queries arrive from ``lo`` to ``hi`` spans
``>= hi - lo - T`` (its ``lo`` query ends by ``lo + T``, its ``hi`` query starts after ``hi``); the
``b`` ranges ``[lo, hi]`` cover ``[a_first, a_last]`` (every gap of ``S`` is crossed), so the spans
add up to ``>= span(S) - b T``. Since a span holds its block's work, the blocks of ``S`` span
``>= c_T(S)`` whatever ``b`` is. (iii) A node comparable with no node of ``A`` is charged at a
position whose prompt passes through no node of ``A``, outside every span. (iv) The cache at ``k0``
is one earlier prompt; it lowers the total by at most ``credit_last``. Summing,
``demand(T) <= c_{k1} - s_{k0} <= y + T - x``. QED. So ``T*`` is at least the least ``T`` on the
time grid (``T*`` is a multiple of ``1 / D``, ``D`` the scale of
:func:`~prefix_sched.theory.cost.integer_timebase`) with ``demand(T) <= y - x + T``; ``demand``
does not increase with ``T``, so a search on the grid finds it. The bound does **not** hold for
``lru`` or ``unbounded``: a radix cache keeps ``v`` across blocks, so (i) fails.

Computation
-----------
The search evaluates ``demand`` (a dynamic program over each group's runs, quadratic in the
group's size) at ``O(log)`` grid points per window: the whole stream at depths 1 to 3, then with
the best depth the window bound's window and the windows between the ``i / RUN_GRID`` quantiles of
the arrivals, longest first, then a hill climb of the window's ends from the window bound's window
and from the best runs window (``time_limit`` stops it; every window tried gives a valid bound, so
stopping early only weakens it). The whole Mooncake conversation trace (12,031 requests) takes
about 15 s (``benchmarks/gap.py``).

What it leaves out: antichains other than one segment depth, and groups of more than
:data:`MAX_RUN_GROUP` queries (that depth is skipped).

Examples
--------
Two queries share a 10-token prefix 30 apart: at ``T = 5`` one run would idle 25, more than its
work 12, so they are two runs (11 + 11); at ``T = 30`` one run costs 12:

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 10), ("x", 1)), 0), ("b", (("u", 10), ("y", 1)), 30)])
>>> runs_demand(s, 0, 30, 1, 5), runs_demand(s, 0, 30, 1, 30)
(22, 12)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower.trie import SegmentTrie
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.numbers import Exact, exact_number, to_json
from prefix_sched.theory.stream import Stream

MAX_RUN_GROUP = 600   # the runs bound's DP is quadratic in a group's size: larger groups skip the depth
RUN_DEPTHS = (1, 2, 3)
RUN_GRID = 6          # the runs bound also tries windows between the i/RUN_GRID quantiles of arrivals
CLIMB_MIN_STEP = 8    # the runs bound's window climb: steps (in arrivals) from CLIMB_MAX_STEP or
CLIMB_MAX_STEP = 512  # the window's length, whichever is less, halving down to CLIMB_MIN_STEP


@dataclass(frozen=True)
class RunsBound:
    """The runs lemma for one window and antichain depth: ``value`` is the least ``T`` on the time grid
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


class RunsDemand:
    """``demand(T)`` of the runs lemma for ranks ``x..y`` and a segment depth, in scaled integers."""

    def __init__(self, trie: SegmentTrie, x: int, y: int, depth: int) -> None:
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
    """``c_T(S) = min over 1 <= k <= |S| of max(work + (k - 1) core, span - k T, idle)`` (the runs lemma),
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


def _window_credit(trie: SegmentTrie, x: int, y: int) -> int:
    return max((trie.shared_depth_weight(rank, x) for rank in range(x, y + 1)), default=0)


def runs_demand(stream: Stream, first_arrival: object, last_arrival: object, depth: int, ttft: object, *,
                alpha: object = 0) -> Exact:
    """The runs lemma's ``demand(T)`` for the window ``[first_arrival, last_arrival]`` (exact).

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([("a", (("u", 10), ("x", 1)), 0), ("b", (("u", 10), ("y", 1)), 30)])
    >>> runs_demand(s, 0, 30, 1, 5), runs_demand(s, 0, 30, 1, 30)   # idle 25 or split (22) / one run 12
    (22, 12)
    """
    alpha = exact_number(alpha, "alpha", minimum=0)
    trie = SegmentTrie(stream, alpha)
    x, y = _window_ranks(trie, exact_number(first_arrival, "first arrival"), exact_number(last_arrival, "last arrival"))
    demand = RunsDemand(trie, x, y, depth)
    if demand.size > MAX_RUN_GROUP:
        raise InputError(f"a group of {demand.size} queries at depth {depth} exceeds {MAX_RUN_GROUP}")
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    scaled = bound * trie.scale
    if Fraction(scaled).denominator != 1:
        raise InputError(f"T = {bound} is not on the stream's time grid 1/{trie.scale}")
    return trie.exact(demand(int(scaled)))


def _window_ranks(trie: SegmentTrie, x: Exact, y: Exact) -> tuple[int, int]:
    t = trie.t
    lo = bisect.bisect_left(t, x * trie.scale)
    hi = bisect.bisect_right(t, y * trie.scale) - 1
    if lo > hi:
        raise InputError(f"no query arrives in the window [{x}, {y}]")
    return lo, hi


def _runs_value(demand: RunsDemand, room: int, floor: int, ceiling: int | None) -> int | None:
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


def best_runs(trie: SegmentTrie, floor: int, window: tuple[int, int], ceiling: int | None,
               stop: Deadline) -> tuple[RunsBound | None, int]:
    """The runs lemma on the whole stream (every depth); then, with the depth that did best there, on
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

    def __init__(self, trie: SegmentTrie, floor: int, ceiling: int | None, stop: Deadline) -> None:
        self.trie, self.best, self.ceiling, self.stop = trie, floor, ceiling, stop
        self.found: RunsBound | None = None
        self.where: tuple[int, int, int] | None = None
        self.checked = 0

    def try_window(self, x: int, y: int, depth: int) -> int | None:
        """Raise the bound with window ``x..y`` if it can; return its violation at the bound
        (``demand - room - best``, ``<= 0`` after any raise), or None for an unusable depth."""
        demand = RunsDemand(self.trie, x, y, depth)
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


def _runs_bound(trie: SegmentTrie, x: int, y: int, depth: int, demand: RunsDemand, value: int) -> RunsBound:
    below = value - 1
    return RunsBound(trie.exact(trie.t[x]), trie.exact(trie.t[y]), tuple(trie.ranks[r] for r in range(x, y + 1)),
                     depth, trie.exact(value), trie.exact(below), trie.exact(demand(below)),
                     trie.exact(trie.t[y] - trie.t[x] + below))
