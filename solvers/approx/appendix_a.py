"""Appendix A (Theorem 4), repaired: a block-decomposition DAG that certifies or schedules.

Input: a stream with alpha = 0 and integer lengths and arrivals, a TTFT bound ``T`` and
``eps`` in (0, 1). Output (:class:`ApproxResult`): either a certificate that no schedule meets
``T`` for all queries, naming the block where every path breaks (or a counting window), or a
schedule, checked by the Definition 2 evaluator, whose ``(1 - eps)`` percentile TTFT
(nearest rank) is at most ``T``.

Why a repair. The paper drops the latest-arriving queries of each block and claims the kept ones
stay feasible; a dropped query can be the cache bridge of a kept one across idle time, so that
claim is false (THEORY.md, ``tests/solvers/approx/test_theorem4_drop_step.py``). Here the dropped queries stay in the
search: they are *optional* members of both neighbouring blocks (served on time if served at all),
and the DAG's vertices remember which of them were served before the boundary.

The algorithm
-------------
Blocks ``[t_i, t_{i+1})`` of at least ``M = ceil((2T - 1)/eps)`` queries and span ``>= T``
(:mod:`~prefix_sched.solvers.approx.blocks`). The zone ``Z_{i+1}`` of boundary ``t_{i+1}`` is block ``i``'s
arrivals in ``[t_{i+1} - T, t_{i+1})``, the queries the paper drops; the kept ``R_i`` arrive before
``t_{i+1} - T``. For block ``i`` a layered DP over (served set, last query) keeping the earliest
completion (the subset DP of :mod:`~prefix_sched.solvers.exact.subset_dp`, as the exact DP of
:mod:`~prefix_sched.solvers.exact.dp` runs it, restricted to the block's queries
``Z_i ∪ R_i ∪ Z_{i+1}`` and to starts before ``t_{i+1}``) runs from every DAG vertex of boundary
``t_i``: a vertex is (last query served, which zone queries of ``Z_i`` were served, the clock). Each
way to serve all of ``R_i`` gives an edge to a vertex of boundary ``t_{i+1}``, weighted by the zone
queries it leaves unserved (those are dropped, served after all blocks). The edges form a networkx
DiGraph from the empty-prompt vertex; the path of least dropped queries is the schedule.

:func:`approx` runs two passes. The exact pass gives zone queries their deadlines too (nothing is
dropped): its answer is a schedule meeting ``T`` for every query or a proof that none exists. Only
when it proves infeasibility does the percentile pass (zone queries optional, the paper's drop)
look for a schedule with at most ``floor(eps n)`` queries over ``T``; its "no path" is the
certificate. ``exact=True`` stops after the exact pass.

Proof (both directions)
-----------------------
Let ``σ`` meet ``T`` for every query and cut it by start time: segment ``i`` is the queries starting
in ``[t_i, t_{i+1})``. A kept query of ``R_i`` arrives by ``t_{i+1} - T - 1`` and completes by
``t_{i+1} - 1``, so it is in segment ``i``; a zone query of ``Z_i`` arrives at ``>= t_i - T >=
t_{i-1}`` and completes by ``t_i + T - 1 < t_{i+1}``, so it is in segment ``i - 1`` or ``i``; a later
block's query starts at or after ``t_{i+1}``. So segment ``i`` consists of ``R_i`` and some of
``Z_i ∪ Z_{i+1}``, it starts with the cache and clock left by segment ``i - 1``, and all its queries
meet ``T``: it is one of the block DP's runs, and ``σ`` is a path (the DP keeps the earliest
completion per state, which dominates). Hence "no path" proves that no schedule meets ``T``.
Conversely a path is a real schedule: consecutive segments share the clock and the cache; every
non-dropped query meets ``T``; the dropped ones, at most ``sum |Z_i|`` queries, come last. A zone
holds at most ``2T - 1`` queries of cost ``>= 1`` (they are processed inside
``[t - T, t + T - 1]``; more is a counting certificate), the boundaries number at most ``n / M``, so
at most ``(2T - 1) n / M <= eps n`` queries are dropped and the ``(1 - eps)`` percentile is ``<= T``
(zones with zero-cost queries are capped by merging blocks).

Zero-cost queries (a prompt that is a token prefix of another, like the reduction's ``y_j = x_j``)
are admitted: the proof above never uses costs ``>= 1`` except for the running time; the counting
certificate uses each query's least cost ``lb_q`` (:func:`~prefix_sched.solvers.approx.blocks.cost_floors`).

Running time: at a live DP state with clock ``c`` every query arriving before ``c - T`` is served
and none arriving after ``c`` is, and at most ``2T + 1`` queries of cost ``>= 1`` arrive in
``[c - T, c]``; so the served set is an arrival-order prefix plus a subset of ``O(T)`` queries:
``O(n · T · 4^T)`` states, each expanded in ``O(T²)`` steps, linear in ``n`` for fixed ``T``
(``L`` enters only through the cost of an overlap). A last query that no query able to come next
shares a prefix with is merged with the empty prompt (exact), which keeps real counts far lower. The paper's count was
``O(n (T/eps)!)`` per block enumeration. Without the precondition the bound is void (the answer
stays exact); a ``max_states`` cap or ``time_limit`` gives UNKNOWN, never INFEASIBLE (the clock
is read every :data:`~prefix_sched.solvers.deadline.CHECK_EXPANSIONS` DP states expanded, and
while the counting certificate scans its windows).

Examples
--------
The stream that breaks the paper's drop step (A at 0, X at 7, B at 10, T = 4; X bridges to B):
it is scheduled, not certified infeasible; with T = 3 the exact mode proves that nothing works.

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("A", (("a", 1),), 0), ("X", (("p", 3), ("x", 1)), 7),
...                          ("B", (("p", 3), ("b", 3)), 10)])
>>> r = approx(s, 4, "1/3", block_size=1)
>>> print(r.status, [len(b.kept) + len(b.zone) for b in r.blocks], r.evaluation.ttft)
FEASIBLE [1, 2] (1, 4, 4)
>>> print(approx(s, 3, "1/3", block_size=1, exact=True).status)
INFEASIBLE
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import networkx as nx

from prefix_sched.errors import InputError
from prefix_sched.provenance import package_versions
from prefix_sched.solvers.approx.blocks import Block, counting_certificate, default_block_size, plan_blocks
from prefix_sched.theory.cost import cost_floors, prefill_cost
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.subset_dp import STATE_CAP, TIME_LIMIT, run_levels
from prefix_sched.solvers.status import Status
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.numbers import Exact, exact_int, exact_number
from prefix_sched.theory.prompt import overlap
from prefix_sched.theory.stream import Stream

FEASIBLE, PERCENTILE, INFEASIBLE, UNKNOWN = Status.FEASIBLE, Status.PERCENTILE, Status.INFEASIBLE, Status.UNKNOWN
START, END = "start", "end"
DEFAULT_MAX_STATES = 2_000_000  # per block
EDF_WINDOW = 32  # unserved queries the deadline test looks at (fewer: weaker, still valid)
APPENDIX_A = "Appendix A's algorithm and Theorem 4"
"""What :func:`~prefix_sched.theory.cache.require_last_prompt` names when it refuses a cache model."""


@dataclass(frozen=True)
class ApproxResult:
    """The answer of :func:`approx` with its evidence.

    Attributes
    ----------
    status : Status
        FEASIBLE: every TTFT ``<= T``; PERCENTILE: the ``(1 - eps)`` percentile is ``<= T`` and the
        ``dropped`` queries may exceed it; INFEASIBLE: ``certificate`` proves no schedule meets
        ``T`` for all queries; UNKNOWN: the state cap or time limit was hit in ``broken_block``.
    evaluation : Evaluation or None
        The schedule as the evaluator scores it (dropped queries last).
    dropped : tuple of int
        Stream indices served after all blocks, in arrival order.
    percentile : exact number or None
        The ``(1 - eps)`` percentile TTFT, nearest rank (``inverted_cdf``).
    violation_budget : int
        ``floor(eps n)``: how many queries may exceed ``T``.
    certificate : str or None
        Why no schedule meets ``T`` (INFEASIBLE) or where the search stopped (UNKNOWN).
    broken_block : int or None
        The block where every path breaks (None for a counting certificate or a schedule).
    blocks : tuple of Block
    dag : networkx.DiGraph
        Vertices ``(boundary, last, served zone queries, clock)`` plus ``"start"``, ``"end"``.
    states : int
        DP states over all blocks.
    wall_time_s : float
    settings : dict
        T, eps, exact, block size, caps, zero-cost queries, versions.
    """

    status: Status
    evaluation: Evaluation | None
    dropped: tuple[int, ...]
    percentile: Exact | None
    violation_budget: int
    certificate: str | None
    broken_block: int | None
    blocks: tuple[Block, ...]
    dag: nx.DiGraph = field(repr=False)
    states: int
    wall_time_s: float
    settings: dict[str, Any]



def approx(
    stream: Stream,
    ttft: object,
    eps: object,
    *,
    exact: bool = False,
    max_length: object = None,
    block_size: int | None = None,
    max_states: int = DEFAULT_MAX_STATES,
    time_limit: object = None,
    progress: Callable[[int, int], None] | None = None,
    cache: object = DEFAULT_CACHE,
) -> ApproxResult:
    """Run the repaired Appendix A algorithm (see the module docstring for the proof).

    Parameters
    ----------
    stream : Stream
        Integer arrivals; alpha is 0 (Theorem 4's model).
    ttft : int
        The bound ``T >= 1``.
    eps : exact number in (0, 1)
        At most ``floor(eps n)`` queries may exceed ``T`` in a returned schedule.
    exact : bool, default False
        Keep every deadline: FEASIBLE or INFEASIBLE, nothing dropped.
    max_length : int, optional
        Theorem 4's ``L``; a longer prompt is an error naming the query.
    block_size : int, optional
        Queries per block, default ``ceil((2T - 1) / eps)``.
    max_states : int
        DP states per block before giving up (UNKNOWN).
    time_limit : seconds or Deadline, optional
        Wall-clock limit for the whole call, or a
        :class:`~prefix_sched.solvers.deadline.Deadline` shared with a caller (UNKNOWN when hit).
    progress : callable, optional
        Called as ``progress(blocks_done, blocks)``.
    cache : str or CacheModel, default "last"
        Must be ``"last"``: Theorem 4 and the block DP are about Definition 2's one-prompt cache.

    Raises
    ------
    InputError
        Non-integer ``T`` or arrivals, ``eps`` outside (0, 1), a prompt longer than ``max_length``,
        a ``cache`` other than ``"last"``.
    """
    require_last_prompt(cache, APPENDIX_A)
    stop = Deadline.of(time_limit)
    started = time.monotonic()
    ttft = exact_int(ttft, "TTFT bound T", minimum=1)
    eps = exact_number(eps, "eps")
    if not 0 < eps < 1:
        raise InputError(f"eps must lie strictly between 0 and 1, got {eps}")
    for query in stream.queries:
        if not isinstance(query.arrival, int):
            raise InputError(f"Theorem 4 needs integer arrival times; query {query.qid!r} arrives at {query.arrival}")
    if max_length is not None:
        max_length = exact_int(max_length, "max prompt length L", minimum=1)
        for query, length in zip(stream.queries, stream.lengths):
            if length > max_length:
                raise InputError(f"query {query.qid!r} has {length} tokens, more than L = {max_length}")
    max_states = exact_int(max_states, "max_states", minimum=1)
    size = default_block_size(ttft, eps) if block_size is None else exact_int(block_size, "block size", minimum=1)

    floors = cost_floors(stream)
    budget = math.floor(eps * stream.n)
    settings = {"ttft": ttft, "eps": str(eps), "exact": exact, "block_size": size, "max_states": max_states,
                "time_limit_s": stop.limit_s, "max_length": max_length,
                "cache": DEFAULT_CACHE,
                "zero_cost_queries": [stream.queries[i].qid for i, f in enumerate(floors) if f == 0][:20],
                "versions": package_versions("networkx", "prefix-sched")}

    def finish(status, blocks, **fields) -> ApproxResult:
        values = dict(evaluation=None, dropped=(), percentile=None, certificate=None, broken_block=None,
                      dag=nx.DiGraph(), states=0)
        values.update(fields)
        return ApproxResult(status=status, violation_budget=budget, blocks=blocks,
                            wall_time_s=time.monotonic() - started, settings=settings, **values)

    certificate = counting_certificate(stream, ttft, floors, time_limit=stop)
    if certificate is not None:
        return finish(INFEASIBLE, (), certificate="counting: " + certificate.explain(stream))
    # Pass 1 keeps every deadline (nothing dropped, an exact answer); when it proves infeasibility,
    # pass 2 drops zone queries as Theorem 4 allows, for a schedule meeting the percentile.
    states = 0
    for drop in (False,) if exact else (False, True):
        blocks = plan_blocks(stream, ttft, size, budget if drop else None)
        search = _BlockSearch(stream, blocks, ttft, floors, not drop, max_states, stop)
        verdict = None
        for block in blocks:
            verdict = search.advance(block)
            if progress is not None:
                progress(block.index + 1, len(blocks))
            if verdict is not None:
                break
        states += search.states
        settings["passes"] = ["exact", "percentile"][:1 + drop]
        if verdict is None:
            break
        settings["exact_pass"] = verdict[1]
        if verdict[0] == UNKNOWN or drop or exact:
            return finish(verdict[0], blocks, certificate=verdict[1], broken_block=block.index,
                          dag=search.dag, states=states)
    order = search.best_path()
    served = set(order)
    dropped = tuple(i for i in stream.arrival_order if i not in served)
    evaluation = evaluate(stream, order + list(dropped))
    _check(evaluation, dropped, ttft, budget, stream)
    value = evaluation.percentile(100 * (1 - Fraction(eps)), "inverted_cdf")
    status = FEASIBLE if evaluation.max_ttft <= ttft else PERCENTILE
    return finish(status, blocks, evaluation=evaluation, dropped=dropped, percentile=value, dag=search.dag,
                  states=states)


class _BlockSearch:
    """The block DPs and the DAG they build, one block at a time."""

    def __init__(self, stream: Stream, blocks: tuple[Block, ...], ttft: int, floors: tuple[int, ...], exact: bool,
                 max_states: int, stop: Deadline):
        self.prompts = [q.prompt for q in stream.queries]
        self.lengths = stream.lengths
        self.arrivals = [q.arrival for q in stream.queries]
        self.ttft, self.floors, self.exact = ttft, floors, exact
        self.max_states, self.stop = max_states, stop
        self.first_segment = [p[0] for p in self.prompts]
        self.sharing: dict[object, list[int]] = {}  # per first segment: arrivals of the queries with it
        for segment, arrival in zip(self.first_segment, self.arrivals):
            self.sharing.setdefault(segment, []).append(arrival)
        for arrivals in self.sharing.values():
            arrivals.sort()
        # Per block: the earliest deadline among binding queries of later blocks (None: none).
        self.later_due: list[int | None] = [None] * len(blocks)
        for block in reversed(blocks[1:]):
            binding = block.kept + (block.zone if exact else ())
            due = min((self.arrivals[g] for g in binding), default=None)
            due = None if due is None else due + ttft
            after = self.later_due[block.index]
            self.later_due[block.index - 1] = due if after is None or (due is not None and due < after) else after
        self.dag = nx.DiGraph()
        self.dag.add_node(START)
        first = min(self.arrivals)
        self.frontier: dict[object, tuple[int | None, frozenset, int]] = {START: (None, frozenset(), first)}
        self.leftover: tuple[int, ...] = ()
        self.states = 0

    def advance(self, block: Block) -> tuple[str, str] | None:
        """Run block ``block``'s DP from every frontier vertex; None, or (status, sentence) to stop."""
        dp = _BlockDP(self, block)
        verdict = dp.run()
        self.states += dp.states
        if verdict is not None:
            return verdict
        if not dp.vertices:
            return INFEASIBLE, (
                f"block {block.index} (arrivals in [{block.start}, {'end' if block.end is None else block.end})): "
                f"from none of the {len(self.frontier)} cache states the earlier blocks can leave does an "
                f"order serve its {len(block.kept)} kept queries within T = {self.ttft} "
                + ("(every query keeps its deadline)" if self.exact else "(zone queries optional)")
                + "; so no schedule of the stream meets T")
        self.frontier = dp.vertices
        self.leftover = block.zone
        return None

    def best_path(self) -> list[int]:
        """The stream indices served by the blocks along the path of fewest dropped queries."""
        path = nx.shortest_path(self.dag, START, END, weight="dropped")
        order: list[int] = []
        for u, v in zip(path, path[1:]):
            segment, cell = [], self.dag.edges[u, v]["run"]
            while cell is not None:
                segment.append(cell[0])
                cell = cell[1]
            order.extend(reversed(segment))
        return order


class _BlockDP:
    """One block's layered DP over (done set, last query) from the frontier vertices.

    Local indices follow arrival order over the block's scope: the previous zone (leftovers), the
    kept queries, this block's zone. A bit of ``done`` is set when the query is served or (optional
    queries only) can no longer meet its deadline, so it is dropped.
    """

    def __init__(self, search: _BlockSearch, block: Block):
        self.search, self.block = search, block
        scope = list(search.leftover) + list(block.kept) + list(block.zone)
        self.scope = scope
        self.local = {g: k for k, g in enumerate(scope)}
        n_left, n_kept = len(search.leftover), len(block.kept)
        bits = lambda lo, hi: ((1 << hi) - 1) ^ ((1 << lo) - 1)  # noqa: E731
        self.left_mask = bits(0, n_left)
        kept_mask = bits(n_left, n_left + n_kept)
        self.zone_mask = bits(n_left + n_kept, len(scope))
        self.full = (1 << len(scope)) - 1
        self.close_mask = kept_mask | (self.left_mask if search.exact else 0)
        self.binding = self.full if search.exact else kept_mask
        self.optional = self.full ^ self.binding
        self.arr = [search.arrivals[g] for g in scope]
        self.due = [a + search.ttft for a in self.arr]
        self.floor = [search.floors[g] for g in scope]
        self.costs: dict[tuple[int | None, int], int] = {}
        self.partners: dict[object, int] = {}  # per first segment: mask of scope queries sharing it
        for k, g in enumerate(scope):
            segment = search.first_segment[g]
            self.partners[segment] = self.partners.get(segment, 0) | 1 << k
        self.vertices: dict[object, tuple[int | None, frozenset, int]] = {}
        self.levels: dict[int, dict] = {}  # level (done count) -> state -> (clock, dropped, origin, run)
        self.states = 0

    def cost(self, last: int | None, g: int) -> int:
        key = (last, g)
        value = self.costs.get(key)
        if value is None:
            search = self.search
            shared = 0 if last is None else overlap(search.prompts[g], search.prompts[last])
            value = self.costs[key] = prefill_cost(search.lengths[g], shared)  # alpha = 0 (Theorem 4)
        return value

    def cache_key(self, g: int, done: int) -> int | None:
        """``g``, or None when no query that can come next shares a prefix with ``g``.

        The next query arrives by the earliest deadline ``H`` of the unserved binding queries
        (here or in later blocks; a later arrival would make that one late). If none of the
        unserved queries arriving by ``H`` shares ``g``'s first segment, ``g``'s cache saves nothing
        (the next cost is the full length, as after the empty prompt, and then the cache is
        replaced), so states that differ only in such a last query are merged: exact, and it keeps
        the state count near the number of served sets.
        """
        horizon = self.search.later_due[self.block.index]
        binding = self.binding & ~done
        if binding:
            due = self.due[(binding & -binding).bit_length() - 1]
            horizon = due if horizon is None or due < horizon else horizon
        segment = self.search.first_segment[g]
        rest = self.partners[segment] & ~done
        if rest and (horizon is None or self.arr[(rest & -rest).bit_length() - 1] <= horizon):
            return g  # the earliest unserved partner can come next
        end = self.block.end
        if end is not None:
            arrivals = self.search.sharing[segment]
            later = bisect.bisect_left(arrivals, end)
            if later < len(arrivals) and (horizon is None or arrivals[later] <= horizon):
                return g
        return None

    def alive(self, done: int, clock: int) -> bool:
        """EDF test over the unserved binding queries (deadlines ascend with arrivals)."""
        rest, checked = self.binding & ~done, 0
        while rest and checked < EDF_WINDOW:
            low = rest & -rest
            k = low.bit_length() - 1
            if self.arr[k] >= clock and checked:
                return True  # idle before k: what follows does not depend on this state
            clock = max(clock, self.arr[k]) + self.floor[k]
            if clock > self.due[k]:
                return False
            rest ^= low
            checked += 1
        return True

    def expire(self, done: int, clock: int) -> tuple[int, int]:
        """Mark optional queries that can no longer be served on time; return (done, newly dropped)."""
        rest, dropped = self.optional & ~done, 0
        while rest:
            low = rest & -rest
            k = low.bit_length() - 1
            if max(clock, self.arr[k]) + self.floor[k] > self.due[k]:
                done |= low
                dropped += 1
            rest ^= low
        return done, dropped

    def run(self) -> tuple[str, str] | None:
        """The layered search (:func:`~prefix_sched.solvers.exact.subset_dp.run_levels`) from every
        frontier vertex; None, or (UNKNOWN, why) when the state cap or the time limit stopped it."""
        levels = self.levels
        for vertex, (last, served_zone, clock) in self.search.frontier.items():
            done = 0
            for g in served_zone:
                done |= 1 << self.local[g]
            done, dropped = self.expire(done, clock)
            self.offer(levels, (done, last), (clock, dropped, vertex, None))
        run = run_levels(levels, self.expand, stop=self.search.stop, max_states=self.search.max_states, keep=False)
        self.states = run.states
        if run.stopped == STATE_CAP:
            return UNKNOWN, (f"block {self.block.index}: more than {self.search.max_states} DP states; "
                             "no claim either way")
        if run.stopped == TIME_LIMIT:
            return UNKNOWN, f"time limit reached in block {self.block.index}; no claim either way"
        return None

    def expand(self, key: tuple[int, int | None], value: tuple, following: dict) -> None:
        """Close the block from this state if it can; serve each query that may come next. A move
        that gives up optional queries skips levels, so moves are offered to ``self.levels``."""
        done, last = key
        clock, dropped, origin, run = value
        if not self.alive(done, clock):
            return
        undone = self.full & ~done
        if not undone & self.close_mask:
            self.close(done, last, value)
        end = self.block.end
        if end is not None and clock >= end:
            return
        binding = self.binding & undone
        horizon = self.due[(binding & -binding).bit_length() - 1] if binding else None
        rest = undone
        while rest:
            low = rest & -rest
            k = low.bit_length() - 1
            rest ^= low
            arrival = self.arr[k]
            if (horizon is not None and arrival > horizon) or (end is not None and arrival >= end):
                break
            g = self.scope[k]
            finish = (clock if clock > arrival else arrival) + self.cost(last, g)
            if finish > self.due[k]:
                continue
            after, newly = self.expire(done | low, finish) if self.optional else (done | low, 0)
            self.offer(self.levels, (after, self.cache_key(g, after)), (finish, dropped + newly, origin, (g, run)))

    @staticmethod
    def offer(levels: dict[int, dict], key: tuple[int, int | None], value: tuple) -> None:
        """Keep the least (clock, dropped) per state, on the state's level (its done count)."""
        layer = levels.setdefault(key[0].bit_count(), {})
        known = layer.get(key)
        if known is None or value[:2] < known[:2]:
            layer[key] = value

    def close(self, done, last, value) -> None:
        clock, dropped, origin, run = value
        dropped += (self.left_mask & ~done).bit_count()
        end = self.block.end
        served = self.zone_mask & done
        served_zone = frozenset(self.scope[k] for k in range(len(self.scope)) if served >> k & 1)
        if end is None:
            vertex = END
        else:
            clock = max(clock, end - self.search.ttft)
            vertex = (self.block.index + 1, last, served_zone, clock)
        self.vertices[vertex] = (last, served_zone, clock)
        dag = self.search.dag
        if dag.has_edge(origin, vertex) and dag.edges[origin, vertex]["dropped"] <= dropped:
            return
        dag.add_edge(origin, vertex, dropped=dropped, block=self.block.index, run=run)


def _check(evaluation: Evaluation, dropped: tuple[int, ...], ttft: int, budget: int, stream: Stream) -> None:
    """The evaluator must confirm what the DAG promised; a contradiction is a bug, not an answer."""
    late = set(dropped)
    for index, value in evaluation.ttft_by_query().items():
        if index not in late and value > ttft:
            raise AssertionError(f"query {stream.queries[index].qid!r} was scheduled within T = {ttft} "
                                 f"by the block DP but the evaluator gives TTFT {value}")
    if len(dropped) > budget:
        raise AssertionError(f"{len(dropped)} dropped queries exceed the budget floor(eps n) = {budget}")
