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
schedules there is always one without waiting, which is what Definition 2 evaluates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ortools.sat.python import cp_model

from prefix_sched.theory.evaluator import integer_timebase, scaled_cost_matrix
from prefix_sched.theory.exact import Exact
from prefix_sched.theory.stream import Stream

OBJECTIVES = ("feasible", "max-ttft", "violations")


@dataclass(frozen=True)
class CpSatOutcome:
    """What CP-SAT said, unchecked: the caller evaluates ``order`` before trusting it."""

    status: str
    order: tuple[int, ...] | None
    objective: Fraction | None
    bound: Fraction | None
    conflicts: int
    wall_time_s: float


def solve_cpsat(
    stream: Stream,
    objective: str,
    *,
    ttft: Exact | None = None,
    alpha: Exact = 0,
    hint: Sequence[int] | None = None,
    upper_bound: Exact | None = None,
    time_limit: float = 60.0,
    workers: int = 1,
    seed: int = 0,
    no_overlap: bool = True,
    symmetry: bool = True,
    prune_arcs: bool = True,
    max_violations: int | None = None,
) -> CpSatOutcome:
    """Build and solve one model; statuses are CP-SAT's names (OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN).

    ``no_overlap``, ``symmetry`` and ``prune_arcs`` switch the redundant constraint, the symmetry
    breaking and the arc pruning off, for the ablation benchmark (``benchmarks/cpsat_ablation.py``);
    the answers are valid either way.
    """
    n = stream.n
    base, alpha_scaled, arrivals = integer_timebase(stream, alpha)
    extra = [Fraction(x).denominator for x in (ttft, upper_bound) if x is not None]
    scale = math.lcm(base, *extra)
    factor = scale // base
    t = [a * factor for a in arrivals]
    a_s = alpha_scaled * factor
    cost = scaled_cost_matrix([q.prompt for q in stream.queries], (), scale, a_s)
    bound = None if ttft is None else int(ttft * scale)
    cap = None if upper_bound is None else int(upper_bound * scale)
    worst = [max(cost[i][j] for i in range(n + 1) if i != j) for j in range(n)]
    cheapest = [min(cost[i][j] for i in range(n + 1) if i != j) for j in range(n)]
    horizon = max(t) + sum(worst)

    model = cp_model.CpModel()
    start, end, dur, intervals = [], [], [], []
    for j in range(n):
        s = model.NewIntVar(t[j], max(t[j], horizon), f"start[{j}]")
        p = model.NewIntVar(cheapest[j], worst[j], f"duration[{j}]")
        c = model.NewIntVar(t[j] + cheapest[j], max(t[j] + cheapest[j], horizon), f"end[{j}]")
        if objective == "feasible":
            model.Add(c <= t[j] + bound)
        elif objective == "max-ttft" and cap is not None:
            model.Add(c <= t[j] + cap)
        intervals.append(model.NewIntervalVar(s, p, c, f"run[{j}]"))
        start.append(s), dur.append(p), end.append(c)
    if no_overlap:
        model.AddNoOverlap(intervals)

    limit = {"feasible": bound, "max-ttft": cap}.get(objective) if prune_arcs else None
    due = None if limit is None else [t[j] + limit for j in range(n)]
    earliest = [t[i] + cheapest[i] for i in range(n)] + [0]  # the depot (empty cache) "ends" at 0

    between = _forced_between(t, cheapest, due) if due is not None else None

    def usable(i: int, j: int) -> bool:
        if due is None:
            return True
        if i < n and between(i, j):
            return False
        return max(earliest[i], t[j]) + cost[i][j] <= due[j]

    arcs, literal = [], {}
    for j in range(n):
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
        model.Add(dur[j] == sum(incoming[j]))  # no usable predecessor: 0, below the domain: infeasible
    if symmetry:
        _break_symmetry(model, stream, t, start)

    violated = []
    if objective == "max-ttft":
        peak = model.NewIntVar(max(cheapest), cap if cap is not None else horizon, "max_ttft")
        for j in range(n):
            model.Add(peak >= end[j] - t[j])
        model.Minimize(peak)
    elif objective == "violations":
        for j in range(n):
            v = model.NewBoolVar(f"violated[{j}]")
            model.Add(end[j] <= t[j] + bound).OnlyEnforceIf(v.Not())
            violated.append(v)
        if max_violations is not None:
            model.Add(sum(violated) <= max_violations)
        model.Minimize(sum(violated))

    if hint is not None:
        _add_hint(model, hint, t, cost, start, end, dur, literal, violated, bound)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_search_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    code = solver.Solve(model)
    status = solver.StatusName(code)
    order = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        order = _read_order(solver, literal, n)
    objective_value = best_bound = None
    if objective != "feasible" and code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        divisor = scale if objective == "max-ttft" else 1
        objective_value = Fraction(round(solver.ObjectiveValue()), divisor)
        best_bound = Fraction(math.ceil(solver.BestObjectiveBound() - 1e-9), divisor)
    return CpSatOutcome(status, order, objective_value, best_bound, solver.NumConflicts(), solver.WallTime())


def _forced_between(t: list[int], least: list[int], due: list[int]):
    """``between(i, j)``: is some third query forced to run after ``i`` and before ``j``?

    ``k`` cannot precede ``i`` when, served before it, ``i`` would end after ``D_i``; ``k`` cannot
    follow ``j`` when, served after it, ``k`` would end after ``D_k``. Bitsets make each test O(1).
    """
    n = len(t)
    not_before = [sum(1 << k for k in range(n) if k != i and max(t[k] + least[k], t[i]) + least[i] > due[i])
                  for i in range(n)]
    not_after = [sum(1 << k for k in range(n) if k != j and max(t[j] + least[j], t[k]) + least[k] > due[k])
                 for j in range(n)]

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


def _add_hint(model, order, t, cost, start, end, dur, literal, violated, bound) -> None:
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
    for (i, j), lit in literal.items():
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
