"""The MIP peer: TTFT feasibility as a mixed-integer program solved by HiGHS (highspy).

What a user would otherwise reach for, kept as the benchmark's baseline and as one more
cross-check. Formulation (times scaled to integers as in :mod:`~prefix_sched.solvers.exact.cpsat`):
adjacency binaries ``x[i->j]``, ``first[j]``, ``last[i]`` (each query has one predecessor and one
successor, one first and one last); Miller-Tucker-Zemlin positions ``u[j]`` against subtours;
``C[j] = S[j] + sum_i c[i][j] x[i->j] + c[n][j] first[j]``; ``S[j] >= C[i] - M (1 - x[i->j])``;
``t_j <= S[j]``, ``C[j] <= t_j + T``; ``M`` = latest deadline. It answers feasibility only.

Limits. HiGHS computes in doubles, so every scaled value must be an integer a double holds exactly:
data whose horizon (last arrival plus every full cost; deadlines beyond it are clamped to it, which
is exact) or big-M rows reach 2^53 are an InputError naming the value. Even below that, HiGHS's
tolerances make its INFEASIBLE a peer's opinion, not a proof; its orders are checked by the caller
with the evaluator. The time limit (seconds or a shared
:class:`~prefix_sched.solvers.deadline.Deadline`) covers building the model; HiGHS gets what is left.

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("v", 5),), 0), ("c", (("u", 5), ("y", 5)), 0)])
>>> print(decide_mip(s, 20).status, decide_mip(s, 19).status)
FEASIBLE INFEASIBLE
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import highspy
import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.status import Status
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.cost import integer_timebase, scaled_cost, scaled_cost_matrix
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.prompt import prompt_length
from prefix_sched.theory.stream import Stream

EXACT_DOUBLE = 2 ** 53  # doubles hold every integer below this exactly


@dataclass(frozen=True)
class MipOutcome:
    """HiGHS's answer, unchecked: FEASIBLE with an order, INFEASIBLE, or UNKNOWN (time-out).

    ``wall_time_s`` is HiGHS's run, ``build_time_s`` the model's construction before it.
    """

    status: Status
    order: tuple[int, ...] | None
    wall_time_s: float
    build_time_s: float = 0.0


def decide_mip(stream: Stream, ttft: object, *, alpha: object = 0,
               time_limit: float | Deadline | None = 60.0, cache: object = DEFAULT_CACHE) -> MipOutcome:
    """Decide TTFT feasibility with HiGHS.

    Raises
    ------
    InputError
        A negative or non-numeric ``ttft`` or ``alpha``, a time limit that is not > 0, or scaled
        values of 2^53 or more (module docstring); a ``cache`` other than ``"last"`` (the model's
        arc costs are Definition 2's one-prompt cache).
    """
    require_last_prompt(cache, "the MIP model's arc costs")
    stop = Deadline.of(time_limit)
    started = time.monotonic()
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    alpha = exact_number(alpha, "alpha", minimum=0)
    base, alpha_scaled, arrivals = integer_timebase(stream, alpha)
    scale = math.lcm(base, Fraction(bound).denominator)
    t = [a * (scale // base) for a in arrivals]
    alpha_s = alpha_scaled * (scale // base)
    full = [scaled_cost(prompt_length(q.prompt), 0, scale, alpha_s) for q in stream.queries]
    n = stream.n
    horizon = max(t) + sum(full)
    deadline = min(int(bound * scale), horizon)  # no no-wait completion passes the horizon: exact
    big = max(t) + deadline
    for name, value in (("big-M row (latest start bound plus the big M)", 2 * big),
                        ("largest duration sum (n times the largest query cost)", n * max(full))):
        if value >= EXACT_DOUBLE:
            unit = "token-time" if scale == 1 else f"1/{scale} token-time"
            raise InputError(f"HiGHS works in doubles and this stream's scaled {name} is {value} (in units of "
                             f"{unit}) >= 2^53, beyond the integers a double holds exactly; use the DP")
    cost = scaled_cost_matrix([q.prompt for q in stream.queries], (), scale, alpha_s)

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
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
        if stop.expired():
            return MipOutcome(Status.UNKNOWN, None, 0.0, time.monotonic() - started)
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
        if stop.expired():
            return MipOutcome(Status.UNKNOWN, None, 0.0, time.monotonic() - started)
        row(1, 1, [(columns[("first", j)], 1)] + [(columns[("x", i, j)], 1) for i in range(n) if i != j])
        row(1, 1, [(columns[("last", j)], 1)] + [(columns[("x", j, k)], 1) for k in range(n) if k != j])
        duration = [(columns[("x", i, j)], -cost[i][j]) for i in range(n) if i != j]
        row(0, 0, [(columns[("C", j)], 1), (columns[("S", j)], -1), (columns[("first", j)], -cost[n][j])] + duration)
        for i in range(n):
            if i != j:
                x = columns[("x", i, j)]
                row(-big, inf, [(columns[("S", j)], 1), (columns[("C", i)], -1), (x, -big)])
                row(1 - n, inf, [(columns[("u", j)], 1), (columns[("u", i)], -1), (x, -n)])
    built = time.monotonic()
    left = stop.remaining()
    if left <= 0:
        return MipOutcome(Status.UNKNOWN, None, 0.0, built - started)
    if left != math.inf:
        h.setOptionValue("time_limit", left)
    h.run()
    seconds = time.monotonic() - built
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return MipOutcome(Status.INFEASIBLE, None, seconds, built - started)
    if status != highspy.HighsModelStatus.kOptimal:
        return MipOutcome(Status.UNKNOWN, None, seconds, built - started)
    values = h.getSolution().col_value
    starts = {j: values[columns[("S", j)]] for j in range(n)}
    order = tuple(sorted(range(n), key=lambda j: (values[columns[("u", j)]], starts[j])))
    return MipOutcome(Status.FEASIBLE, order, seconds, built - started)
