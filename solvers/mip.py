"""The MIP peer: TTFT feasibility as a mixed-integer program solved by HiGHS (highspy).

What a user would otherwise reach for, kept as the benchmark's baseline and as one more
cross-check. Formulation (times scaled to integers as in :mod:`~prefix_sched.solvers.cpsat`):
adjacency binaries ``x[i->j]``, ``first[j]``, ``last[i]`` (each query has one predecessor and one
successor, one first and one last); Miller-Tucker-Zemlin positions ``u[j]`` against subtours;
``C[j] = S[j] + sum_i c[i][j] x[i->j] + c[n][j] first[j]``; ``S[j] >= C[i] - M (1 - x[i->j])``;
``t_j <= S[j]``, ``C[j] <= t_j + T``; ``M`` = latest deadline. It answers feasibility only.

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("v", 5),), 0), ("c", (("u", 5), ("y", 5)), 0)])
>>> decide_mip(s, 20).status, decide_mip(s, 19).status
('FEASIBLE', 'INFEASIBLE')
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import highspy
import numpy as np

from prefix_sched.theory.evaluator import integer_timebase, scaled_cost_matrix
from prefix_sched.theory.exact import exact_number
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class MipOutcome:
    """HiGHS's answer, unchecked: FEASIBLE with an order, INFEASIBLE, or UNKNOWN (time-out)."""

    status: str
    order: tuple[int, ...] | None
    wall_time_s: float


def decide_mip(stream: Stream, ttft: object, *, alpha: object = 0, time_limit: float = 60.0) -> MipOutcome:
    """Decide TTFT feasibility with HiGHS."""
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    alpha = exact_number(alpha, "alpha", minimum=0)
    base, alpha_scaled, arrivals = integer_timebase(stream, alpha)
    scale = math.lcm(base, Fraction(bound).denominator)
    t = [a * (scale // base) for a in arrivals]
    cost = scaled_cost_matrix([q.prompt for q in stream.queries], (), scale, alpha_scaled * (scale // base))
    deadline = int(bound * scale)
    n = stream.n
    big = max(t) + deadline

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    columns = {}

    def column(name, low, high, integer=False):
        h.addVar(low, high)
        columns[name] = len(columns)
        if integer:
            h.changeColIntegrality(columns[name], highspy.HighsVarType.kInteger)
        return columns[name]

    def row(low, high, terms):
        h.addRow(low, high, len(terms), np.array([c for c, _ in terms], dtype=np.int32),
                 np.array([v for _, v in terms], dtype=np.float64))

    inf = highspy.kHighsInf
    for j in range(n):
        column(("S", j), t[j], big)
        column(("C", j), t[j], t[j] + deadline)
        column(("u", j), 1, n)
        column(("first", j), 0, 1, True)
        column(("last", j), 0, 1, True)
        for i in range(n):
            if i != j:
                column(("x", i, j), 0, 1, True)
    row(1, 1, [(columns[("first", j)], 1) for j in range(n)])
    row(1, 1, [(columns[("last", j)], 1) for j in range(n)])
    for j in range(n):
        row(1, 1, [(columns[("first", j)], 1)] + [(columns[("x", i, j)], 1) for i in range(n) if i != j])
        row(1, 1, [(columns[("last", j)], 1)] + [(columns[("x", j, k)], 1) for k in range(n) if k != j])
        duration = [(columns[("x", i, j)], -cost[i][j]) for i in range(n) if i != j]
        row(0, 0, [(columns[("C", j)], 1), (columns[("S", j)], -1), (columns[("first", j)], -cost[n][j])] + duration)
        for i in range(n):
            if i != j:
                x = columns[("x", i, j)]
                row(-big, inf, [(columns[("S", j)], 1), (columns[("C", i)], -1), (x, -big)])
                row(1 - n, inf, [(columns[("u", j)], 1), (columns[("u", i)], -1), (x, -n)])
    started = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - started
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return MipOutcome("INFEASIBLE", None, seconds)
    if status != highspy.HighsModelStatus.kOptimal:
        return MipOutcome("UNKNOWN", None, seconds)
    values = h.getSolution().col_value
    starts = {j: values[columns[("S", j)]] for j in range(n)}
    order = tuple(sorted(range(n), key=lambda j: (values[columns[("u", j)]], starts[j])))
    return MipOutcome("FEASIBLE", order, seconds)
