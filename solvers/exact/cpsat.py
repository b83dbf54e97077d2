"""CP-SAT models of the TTFT scheduling problem: feasibility, least max TTFT, fewest violations.

Data: times scaled to integers (``D`` = least common denominator of alpha, the arrivals and ``T``),
``c[i][j]`` the scaled Definition 2 cost of query ``j`` right after ``i`` (row ``n``: the empty cache).

Model (the order is a Hamiltonian path, closed into a circuit through a depot node):

- arc literals ``arc[i->j]``, ``first[j]``, ``last[i]`` under ``AddCircuit``;
- ``p[j] = sum_i c[i][j] arc[i->j] + c[n][j] first[j]`` (duration set by the predecessor);
- ``S[j] >= t_j``, ``C[j] = S[j] + p[j]``, and ``S[j] >= C[i]`` when ``arc[i->j]``;
- redundant: ``NoOverlap`` of the intervals ``[S[j], C[j])`` (valid: one server, non-preemptive);
- symmetry: queries with identical prompts and arrival times are served in index order;
- bounds from the data: ``C[j] <= t_j + T`` (feasibility), horizons from arrivals and costs;
- arc pruning: with a deadline ``D_j = t_j + T`` (or ``t_j +`` the upper bound when minimising the
  max TTFT) and ``m_i = min_k c[k][i]``, ``i`` ends no earlier than ``E_i = t_i + m_i``, so
  ``arc[i->j]`` is created only if ``max(E_i, t_j) + c[i][j] <= D_j`` and ``first[j]`` only if
  ``t_j + c[n][j] <= D_j``. Triples: a query ``k`` that can neither precede ``i``
  (``max(t_k + m_k, t_i) + m_i > D_i``) nor follow ``j`` (``max(t_j + m_j, t_k) + m_k > D_k``) runs
  between them, so ``i`` and ``j`` are not adjacent. The arcs left out cannot be used by any
  schedule meeting the deadlines.

Objectives: none (``feasible``), ``Z >= C[j] - t_j`` minimised (``max-ttft``; ``upper_bound`` caps
``Z``), or the number of ``v[j]`` with ``C[j] <= t_j + T`` enforced unless ``v[j]`` (``violations``;
``max_violations`` caps ``sum v``). A hint (an order, e.g.
from the best online policy) fills every variable. The caller reads the status first and checks
every returned order with the evaluator (:mod:`prefix_sched.solvers.exact`).

The server may wait (``S[j]`` is only bounded below), and any order is allowed; among the optimal
schedules there is always one without waiting, which is what Definition 2 evaluates. No completion
passes the horizon (last arrival plus every full cost), so deadlines and caps beyond it are clamped to
it (exact).

Limits: the scaled times must be integers a double holds exactly (below 2^53) and the model's
sums must fit CP-SAT's 64-bit integers (below 2^62), :func:`int64_problem`; larger data are an
InputError naming the value, before any model is built (the DP works in Python integers and has
no such limit). Objective values and bounds are read from the integer variables, not from
CP-SAT's double ``ObjectiveValue``. The time limit covers the model's
construction: the build reads the clock as it goes and CP-SAT gets only what is left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ortools.sat.python import cp_model

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import CHECK_EVERY, Deadline
from prefix_sched.solvers.status import Objective, Status, parse_objective
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.cost import integer_timebase, scaled_cost, scaled_cost_matrix
from prefix_sched.theory.numbers import Exact, exact_number
from prefix_sched.theory.prompt import prompt_length
from prefix_sched.theory.stream import Stream

OBJECTIVES = tuple(o.value for o in Objective)
INT_LIMIT = 2 ** 62  # CP-SAT's integers are int64: the sum of all variable bounds stays below this
EXACT_DOUBLE = 2 ** 53  # and every time below this: CP-SAT's objective handling uses doubles


@dataclass(frozen=True)
class CpSatOutcome:
    """What CP-SAT said, unchecked: the caller evaluates ``order`` before trusting it.

    ``wall_time_s`` is CP-SAT's own search time, ``build_time_s`` the time spent building the model
    before it (both within the time limit). A model whose build ran out of time is UNKNOWN.
    """

    status: Status
    order: tuple[int, ...] | None
    objective: Fraction | None
    bound: Fraction | None
    conflicts: int
    wall_time_s: float
    build_time_s: float = 0.0


class _OutOfTime(Exception):
    """The time limit passed while the model was being built."""


def int64_problem(stream: Stream, alpha: Exact = 0, ttft: Exact | None = None,
                  upper_bound: Exact | None = None) -> str | None:
    """Why the scaled data do not fit CP-SAT's 64-bit integers, or None when they do.

    Every time goes into the model in units of ``1 / D``. Every start, completion and the max-TTFT
    variable lie in ``[0, H]``, with the horizon ``H`` the last arrival plus every query's full cost
    (deadlines beyond it are clamped to it), and the durations sum to at most ``H``. Two limits:

    - ``H < 2^53`` (:data:`EXACT_DOUBLE`): CP-SAT minimises through doubles; with times just above
      2^53 it proved a max TTFT one unit above the true optimum "OPTIMAL"
      (``tests/solvers/exact/test_big_numbers.py``), so times must be integers a double holds exactly;
    - ``(2n + 2) H + n (n + 3) < 2^62`` (:data:`INT_LIMIT`): CP-SAT refuses a model whose variable
      bounds summed over all variables overflow int64 (one per Boolean); this sum also bounds
      every linear expression (a duration's is at most ``n`` times a cost).

    >>> from prefix_sched.theory.stream import Stream
    >>> print(int64_problem(Stream.from_records([("a", (("x", 10 ** 30),), 0)])))
    CP-SAT cannot take this stream exactly: its scaled horizon (last arrival plus every full cost) is 1000000000000000000000000000000 >= 2^53 (units of token-time; longest query 'a', 10^30 tokens); use the DP (solver dp)
    >>> int64_problem(Stream.from_records([("a", (("x", 10),), 0)])) is None
    True
    """
    n = stream.n
    scale, t, alpha_s = _timebase(stream, alpha, ttft, upper_bound)
    lengths = [prompt_length(q.prompt) for q in stream.queries]
    horizon = max(t) + sum(scaled_cost(length, 0, scale, alpha_s) for length in lengths)
    total = (2 * n + 2) * horizon + n * (n + 3)
    if horizon < EXACT_DOUBLE and total < INT_LIMIT:
        return None
    what = (f"horizon (last arrival plus every full cost) is {horizon} >= 2^53" if horizon >= EXACT_DOUBLE
            else f"sum of variable bounds, (2n + 2) x the horizon {horizon}, is {total} >= 2^62")
    unit = "token-time" if scale == 1 else f"1/{scale} token-time"
    longest = max(range(n), key=lambda i: lengths[i])
    return (f"CP-SAT cannot take this stream exactly: its scaled {what} (units of {unit}; longest query "
            f"{stream.queries[longest].qid!r}, {_tokens(lengths[longest])} tokens); use the DP (solver dp)")


def _tokens(count: int) -> str:
    """A token count, powers of ten shown as such (``10^30``).

    >>> _tokens(10 ** 30), _tokens(1234)
    ('10^30', '1234')
    """
    text = str(count)
    return f"10^{len(text) - 1}" if len(text) > 6 and text.strip("0") == "1" else text


def _timebase(stream, alpha, ttft, upper_bound):
    """``(D, [t_j D], alpha D)``: ``D`` the least common denominator of alpha, arrivals, T, the cap."""
    base, alpha_scaled, arrivals = integer_timebase(stream, alpha)
    extra = [Fraction(x).denominator for x in (ttft, upper_bound) if x is not None]
    scale = math.lcm(base, *extra)
    factor = scale // base
    return scale, [a * factor for a in arrivals], alpha_scaled * factor


def solve_cpsat(
    stream: Stream,
    objective: str,
    *,
    ttft: Exact | None = None,
    alpha: Exact = 0,
    hint: Sequence[int] | None = None,
    upper_bound: Exact | None = None,
    time_limit: float | Deadline | None = 60.0,
    workers: int = 1,
    seed: int = 0,
    no_overlap: bool = True,
    symmetry: bool = True,
    prune_arcs: bool = True,
    max_violations: int | None = None,
    cache: object = DEFAULT_CACHE,
) -> CpSatOutcome:
    """Build and solve one model; statuses are CP-SAT's (OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN).

    ``objective`` is ``"feasible"``, ``"max-ttft"`` or ``"violations"`` (the first and last need
    ``ttft``). ``time_limit`` (seconds or a shared
    :class:`~prefix_sched.solvers.deadline.Deadline`) covers building the model too: CP-SAT gets
    what the build left, and a build that uses it all is UNKNOWN. ``no_overlap``, ``symmetry`` and
    ``prune_arcs`` switch the redundant constraint, the symmetry breaking and the arc pruning off,
    for the ablation benchmark (``benchmarks/cpsat_ablation.py``); the answers are valid either way.

    Raises
    ------
    InputError
        An unknown objective, a missing ``ttft``, a negative ``ttft`` or ``alpha``, a time limit that
        is not > 0, data whose scaled values CP-SAT cannot hold exactly (:func:`int64_problem`), or
        a ``cache`` other than ``"last"`` (the arc costs ``c[i][j]`` are Definition 2's one-prompt
        cache).
    """
    require_last_prompt(cache, "the CP-SAT model's arc costs")
    stop = Deadline.of(time_limit)
    objective = parse_objective(objective)
    if objective is not Objective.MAX_TTFT and ttft is None:
        raise InputError(f"the {objective} objective needs a TTFT bound T (ttft)")
    alpha = exact_number(alpha, "alpha", minimum=0)
    if ttft is not None:
        ttft = exact_number(ttft, "TTFT bound T", minimum=0)
    if upper_bound is not None:
        upper_bound = exact_number(upper_bound, "upper bound", minimum=0)
    problem = int64_problem(stream, alpha, ttft, upper_bound)
    if problem is not None:
        raise InputError(problem)
    started = time.monotonic()
    try:
        model, literal, goal, scale, n = _build(stream, objective, ttft, alpha, hint, upper_bound, no_overlap,
                                                symmetry, prune_arcs, max_violations, stop)
    except _OutOfTime:
        return CpSatOutcome(Status.UNKNOWN, None, None, None, 0, 0.0, time.monotonic() - started)
    build_s = time.monotonic() - started
    left = stop.remaining()
    if left <= 0:
        return CpSatOutcome(Status.UNKNOWN, None, None, None, 0, 0.0, build_s)
    solver = cp_model.CpSolver()
    if left != math.inf:
        solver.parameters.max_time_in_seconds = left
    solver.parameters.num_search_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    code = solver.Solve(model)
    if code == cp_model.MODEL_INVALID:  # pragma: no cover - the model is built from checked data
        raise AssertionError(f"CP-SAT rejected the model: {model.Validate()}")
    status = Status(solver.StatusName(code))
    order = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        order = _read_order(solver, literal, n)
    objective_value = best_bound = None
    if objective is not Objective.FEASIBLE and code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        divisor = scale if objective is Objective.MAX_TTFT else 1
        # the value from the integer variables; the bound is a double, exact below 2^53 (int64_problem)
        value = solver.Value(goal)
        objective_value = Fraction(value, divisor)
        best_bound = Fraction(min(value, math.ceil(solver.BestObjectiveBound() - 1e-9)), divisor)
    return CpSatOutcome(status, order, objective_value, best_bound, solver.NumConflicts(), solver.WallTime(), build_s)


def _tick(stop: Deadline) -> None:
    if stop.expired():
        raise _OutOfTime


def _build(stream, objective, ttft, alpha, hint, upper_bound, no_overlap, symmetry, prune_arcs, max_violations,
           stop):
    """The model (module docstring); raises :class:`_OutOfTime` when ``stop`` passes meanwhile."""
    n = stream.n
    scale, t, a_s = _timebase(stream, alpha, ttft, upper_bound)
    cost = scaled_cost_matrix([q.prompt for q in stream.queries], (), scale, a_s)
    _tick(stop)
    worst = [max(cost[i][j] for i in range(n + 1) if i != j) for j in range(n)]
    cheapest = [min(cost[i][j] for i in range(n + 1) if i != j) for j in range(n)]
    horizon = max(t) + sum(worst)
    # A completion never passes the horizon, so a deadline beyond it is the horizon (exact).
    bound = None if ttft is None else min(int(ttft * scale), horizon)
    cap = None if upper_bound is None else min(int(upper_bound * scale), horizon)
    _tick(stop)

    model = cp_model.CpModel()
    start, end, dur, intervals = [], [], [], []
    for j in range(n):
        s = model.NewIntVar(t[j], max(t[j], horizon), f"start[{j}]")
        p = model.NewIntVar(cheapest[j], worst[j], f"duration[{j}]")
        c = model.NewIntVar(t[j] + cheapest[j], max(t[j] + cheapest[j], horizon), f"end[{j}]")
        if objective is Objective.FEASIBLE:
            model.Add(c <= t[j] + bound)
        elif objective is Objective.MAX_TTFT and cap is not None:
            model.Add(c <= t[j] + cap)
        intervals.append(model.NewIntervalVar(s, p, c, f"run[{j}]"))
        start.append(s), dur.append(p), end.append(c)
    if no_overlap:
        model.AddNoOverlap(intervals)

    limit = {Objective.FEASIBLE: bound, Objective.MAX_TTFT: cap}.get(objective) if prune_arcs else None
    due = None if limit is None else [t[j] + limit for j in range(n)]
    earliest = [t[i] + cheapest[i] for i in range(n)] + [0]  # the depot (empty cache) "ends" at 0

    between = _forced_between(t, cheapest, due, stop) if due is not None else None

    def usable(i: int, j: int) -> bool:
        if due is None:
            return True
        if i < n and between(i, j):
            return False
        return max(earliest[i], t[j]) + cost[i][j] <= due[j]

    arcs, literal = [], {}
    for j in range(n):
        _tick(stop)
        last = model.NewBoolVar(f"last[{j}]")
        arcs.append((j + 1, 0, last))
        if usable(n, j):
            first = model.NewBoolVar(f"first[{j}]")
            arcs.append((0, j + 1, first))
            literal[(n, j)] = first
        for i in range(n):
            if i != j and usable(i, j):
                arc = model.NewBoolVar(f"arc[{i}->{j}]")
                arcs.append((i + 1, j + 1, arc))
                literal[(i, j)] = arc
                model.Add(start[j] >= end[i]).OnlyEnforceIf(arc)
    model.AddCircuit(arcs)
    incoming: list[list] = [[] for _ in range(n)]
    for (i, j), lit in literal.items():
        incoming[j].append(cost[i][j] * lit)
    for j in range(n):
        if not j & (CHECK_EVERY - 1):
            _tick(stop)
        model.Add(dur[j] == sum(incoming[j]))  # no usable predecessor: 0, below the domain: infeasible
    if symmetry:
        _break_symmetry(model, stream, t, start)

    violated, goal = [], None
    if objective is Objective.MAX_TTFT:
        goal = model.NewIntVar(max(cheapest), cap if cap is not None else horizon, "max_ttft")
        for j in range(n):
            model.Add(goal >= end[j] - t[j])
        model.Minimize(goal)
    elif objective is Objective.VIOLATIONS:
        for j in range(n):
            v = model.NewBoolVar(f"violated[{j}]")
            model.Add(end[j] <= t[j] + bound).OnlyEnforceIf(v.Not())
            violated.append(v)
        goal = sum(violated)
        if max_violations is not None:
            model.Add(goal <= max_violations)
        model.Minimize(goal)

    if hint is not None:
        _add_hint(model, hint, t, cost, start, end, dur, literal, violated, bound, stop)
    _tick(stop)
    return model, literal, goal, scale, n


def _forced_between(t: list[int], least: list[int], due: list[int], stop: Deadline):
    """``between(i, j)``: is some third query forced to run after ``i`` and before ``j``?

    ``k`` cannot precede ``i`` when, served before it, ``i`` would end after ``D_i``; ``k`` cannot
    follow ``j`` when, served after it, ``k`` would end after ``D_k``. Bitsets make each test O(1).
    """
    n = len(t)
    not_before, not_after = [], []
    for i in range(n):
        _tick(stop)
        not_before.append(sum(1 << k for k in range(n) if k != i and max(t[k] + least[k], t[i]) + least[i] > due[i]))
        not_after.append(sum(1 << k for k in range(n) if k != i and max(t[i] + least[i], t[k]) + least[k] > due[k]))

    def between(i: int, j: int) -> bool:
        return bool(not_before[i] & not_after[j] & ~(1 << i | 1 << j))

    return between


def _break_symmetry(model: cp_model.CpModel, stream: Stream, t: list[int], start) -> None:
    """Identical prompts arriving together are interchangeable: serve them in index order."""
    seen: dict[tuple, int] = {}
    for j, query in enumerate(stream.queries):
        key = (query.prompt, t[j])
        if key in seen:
            model.Add(start[seen[key]] <= start[j])
        seen[key] = j


def _add_hint(model, order, t, cost, start, end, dur, literal, violated, bound, stop) -> None:
    n = len(order)
    clock, previous = 0, n
    position = {j: k for k, j in enumerate(order)}
    for j in order:
        begin = max(clock, t[j])
        clock = begin + cost[previous][j]
        model.AddHint(start[j], begin)
        model.AddHint(dur[j], cost[previous][j])
        model.AddHint(end[j], clock)
        if violated:
            model.AddHint(violated[j], int(clock > t[j] + bound))
        previous = j
    for count, ((i, j), lit) in enumerate(literal.items()):
        if not count & (CHECK_EVERY - 1):
            _tick(stop)
        if i == n:
            model.AddHint(lit, int(position[j] == 0))
        else:
            model.AddHint(lit, int(position[j] == position[i] + 1))


def _read_order(solver: cp_model.CpSolver, literal, n: int) -> tuple[int, ...]:
    successor = {}
    for (i, j), lit in literal.items():
        if solver.BooleanValue(lit):
            successor[i] = j
    order, node = [], n
    while node in successor and len(order) < n:
        node = successor[node]
        order.append(node)
    return tuple(order)
