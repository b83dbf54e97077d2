"""Exact answers with their evidence: the front door to the DP, CP-SAT and brute force.

Three questions, for a stream, ``alpha`` and (where needed) a TTFT bound ``T``:

- :func:`decide`: is there an order with every TTFT ``<= T``? FEASIBLE (with the order),
  INFEASIBLE (a proof: CP-SAT INFEASIBLE, the DP's exhausted state space, or every permutation), or
  UNKNOWN (time-out or state cap: never reported as infeasible);
- :func:`minimize_max_ttft`: the least max TTFT: OPTIMAL with an order reaching it, FEASIBLE with
  the best order found and a proven lower ``bound``, or UNKNOWN;
- :func:`minimize_violations`: the fewest queries over ``T`` (the percentile question), likewise.

Solvers: ``dp`` (:mod:`~prefix_sched.solvers.dp`; the least max TTFT by exact bisection over the
integer time grid; it does not answer the violations question), ``cpsat``
(:mod:`~prefix_sched.solvers.cpsat`), ``brute`` (n <= 8), and ``auto``: the DP first with half
the time limit and a state cap, CP-SAT with the rest if the DP ran out. For violations: brute force
for n <= 8; else the incumbent is the best of the k-LPM runs and the drop DP's order
(:mod:`~prefix_sched.solvers.drops`: the fewest queries to serve last so the rest meet ``T``), the
feasibility DP proves or refutes "zero violations" (a lower bound of 1 when it refutes), and CP-SAT,
hinted with the incumbent and capped by it, closes the gap or reports the best order with its
proven bound. Every order a solver returns is scored by the Definition 2 evaluator
before it is reported; a solver's claim the evaluator contradicts raises an AssertionError. The
best online policy (k-LPM for k in 0, 1, 2, 3, inf) is the warm start: a hint and an upper bound.
For feasibility with ``auto`` and ``n <= 13`` the DP's whole worst-case state space
(``n 2^(n-1) <= 53,248`` states) is smaller than what the warm start could save, so the DP runs
first and the warm start is computed only if CP-SAT is needed after all.

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> r = minimize_max_ttft(s, solver="cpsat")
>>> r.status, r.objective, r.evaluation.max_ttft
('OPTIMAL', 30, 30)
>>> decide(s, 29, solver="dp").status
'INFEASIBLE'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.provenance import package_versions
from prefix_sched.solvers import brute, dp, drops
from prefix_sched.solvers.cpsat import solve_cpsat
from prefix_sched.solvers.policies import parse_policy
from prefix_sched.solvers.simulate import simulate
from prefix_sched.theory.evaluator import Evaluation, evaluate, integer_timebase, prefill_cost
from prefix_sched.theory.exact import Exact, exact_int, exact_number, normalize
from prefix_sched.theory.prompt import overlap
from prefix_sched.theory.stream import Stream

SOLVERS = ("auto", "cpsat", "dp", "brute")
FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN = "FEASIBLE", "INFEASIBLE", "OPTIMAL", "UNKNOWN"
AUTO_DP_STATES = 3_000_000
WARM_START_KS = (0, 1, 2, 3, "inf")
AUTO_DP_ONLY_N = 13  # n 2^(n-1) DP states at most: decide with the DP before any warm start


@dataclass(frozen=True)
class ExactResult:
    """An answer with its evidence.

    Attributes
    ----------
    status : {"FEASIBLE", "INFEASIBLE", "OPTIMAL", "UNKNOWN"}
    order : tuple of int or None
        The schedule (query indices), checked by ``evaluation``.
    evaluation : Evaluation or None
        The evaluator's times for ``order``.
    objective : exact number or None
        ``max TTFT`` or the number of violations of ``order`` (minimisation questions).
    bound : exact number or None
        A proven lower bound on the optimum (equal to ``objective`` when OPTIMAL).
    wall_time_s : float
    solver : str
        Which engine produced the answer (``auto`` names the one that finished).
    settings : dict
        Time limit, workers, seed, question, versions.
    """

    status: str
    order: tuple[int, ...] | None
    evaluation: Evaluation | None
    objective: Exact | None
    bound: Exact | None
    wall_time_s: float
    solver: str
    settings: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[str], None]


def decide(stream: Stream, ttft: object, *, alpha: object = 0, solver: str = "auto",
           time_limit: float = 60.0, workers: int = 1, seed: int = 0, shortcut: bool = True,
           progress: Progress | None = None) -> ExactResult:
    """Is there an order of ``stream`` with every TTFT ``<= ttft``? See the module docstring.

    With ``shortcut`` (default) a warm-start order that already meets ``ttft`` is the answer;
    ``shortcut=False`` makes the chosen engine decide on its own (benchmarks measure engines so).
    ``progress(message)`` is called as each engine starts (all three questions take it).
    """
    job = _Job(stream, "feasible", ttft, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_decide(shortcut))


def minimize_max_ttft(stream: Stream, *, alpha: object = 0, solver: str = "auto",
                      time_limit: float = 60.0, workers: int = 1, seed: int = 0,
                      progress: Progress | None = None) -> ExactResult:
    """The least max TTFT over all orders of ``stream``."""
    job = _Job(stream, "max-ttft", None, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_max_ttft())


def minimize_violations(stream: Stream, ttft: object, *, alpha: object = 0, solver: str = "auto",
                        time_limit: float = 60.0, workers: int = 1, seed: int = 0,
                        progress: Progress | None = None) -> ExactResult:
    """The fewest queries with TTFT ``> ttft`` over all orders of ``stream``."""
    job = _Job(stream, "violations", ttft, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_violations())


def warm_start(stream: Stream, alpha: Exact = 0, ttft: Exact | None = None) -> Evaluation:
    """The best online k-LPM run over k in 0, 1, 2, 3, inf: least max TTFT, or with ``ttft`` the
    fewest queries over it (then the least max TTFT)."""
    runs = [simulate(stream, parse_policy("k-lpm", k=k), alpha=alpha).evaluation for k in WARM_START_KS]
    if ttft is None:
        return min(runs, key=lambda ev: ev.max_ttft)
    return min(runs, key=lambda ev: (ev.violations(ttft), ev.max_ttft))


class _Job:
    """One question: validated inputs, the clock, and the evidence checks."""

    def __init__(self, stream, question, ttft, alpha, solver, time_limit, workers, seed, progress=None):
        if solver not in SOLVERS:
            raise InputError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
        limit = exact_number(time_limit, "time limit")
        if limit <= 0:
            raise InputError(f"time limit must be > 0 seconds, got {time_limit!r}")
        self.stream, self.question, self.solver = stream, question, solver
        self.ttft = None if ttft is None else exact_number(ttft, "TTFT bound T", minimum=0)
        self.alpha = exact_number(alpha, "alpha", minimum=0)
        self.time_limit = float(limit)
        self.workers = exact_int(workers, "workers", minimum=1)
        self.seed = exact_int(seed, "seed", minimum=0)
        self.say = progress or (lambda message: None)
        self.started = time.perf_counter()

    def remaining(self) -> float:
        return max(self.time_limit - (time.perf_counter() - self.started), 0.01)

    def _run_warm_start(self, ttft: Exact | None = None) -> Evaluation:
        goal = "" if ttft is None else f", fewest over T = {ttft}"
        self.say(f"warm start: online k-LPM for k in {', '.join(map(str, WARM_START_KS))}{goal}")
        return warm_start(self.stream, self.alpha, ttft)

    def _run_dp(self, ttft, max_states, time_limit) -> dp.DPResult:
        self.say(f"DP at T = {ttft} (up to {max_states:,} states, {time_limit:.1f} s)")
        return dp.feasible_endings(self.stream, ttft, alpha=self.alpha, max_states=max_states, time_limit=time_limit)

    def cpsat(self, objective, hint=None, upper=None, limit=None, max_violations=None):
        self.say(f"CP-SAT, {objective} ({limit or self.remaining():.1f} s left)")
        return solve_cpsat(self.stream, objective, ttft=self.ttft, alpha=self.alpha, hint=hint,
                           upper_bound=upper, max_violations=max_violations, time_limit=limit or self.remaining(),
                           workers=self.workers, seed=self.seed)

    # -- feasibility ---------------------------------------------------------------------------
    def run_decide(self, shortcut: bool):
        if self.solver == "auto" and self.stream.n <= AUTO_DP_ONLY_N:
            result = self._run_dp(self.ttft, dp.DEFAULT_MAX_STATES, self.remaining() / 2)
            if result.status != UNKNOWN:
                return result.status, result.best_order(), None, None, "dp"
            return self._decided(self.cpsat("feasible", hint=self._run_warm_start().order))
        hint = self._run_warm_start()
        if shortcut and hint.max_ttft <= self.ttft:
            return FEASIBLE, hint.order, None, None, "warm start"
        if self.solver == "brute":
            value, order = self._run_brute()
            return (FEASIBLE, order, None, None, "brute") if value <= self.ttft else (INFEASIBLE, None, None, None, "brute")
        if self.solver in ("dp", "auto"):
            share = self.remaining() / 2 if self.solver == "auto" else self.remaining()
            states = AUTO_DP_STATES if self.solver == "auto" else dp.DEFAULT_MAX_STATES
            result = self._run_dp(self.ttft, states, share)
            if result.status != UNKNOWN or self.solver == "dp":
                return result.status, result.best_order(), None, None, "dp"
        return self._decided(self.cpsat("feasible", hint=hint.order))

    @staticmethod
    def _decided(outcome):
        """CP-SAT's feasibility verdict: OPTIMAL and FEASIBLE found an order, INFEASIBLE is a proof."""
        status = {"OPTIMAL": FEASIBLE, "FEASIBLE": FEASIBLE, "INFEASIBLE": INFEASIBLE}.get(outcome.status, UNKNOWN)
        return status, outcome.order, None, None, "cpsat"

    # -- least max TTFT ------------------------------------------------------------------------
    def _run_brute(self, violations: bool = False):
        self.say(f"brute force over the {self.stream.n}! orders")
        if violations:
            return brute.fewest_violations(self.stream, self.ttft, alpha=self.alpha)
        return brute.best_max_ttft(self.stream, alpha=self.alpha)

    def run_max_ttft(self):
        hint = self._run_warm_start()
        if self.solver == "brute":
            value, order = self._run_brute()
            return OPTIMAL, order, value, value, "brute"
        if self.solver in ("dp", "auto"):
            share = self.remaining() / 2 if self.solver == "auto" else self.remaining()
            found = self._bisect(hint, time.perf_counter() + share)
            if found[0] == OPTIMAL or self.solver == "dp":
                return found
            hint_order, upper, lower = found[1], found[2], found[3]
        else:
            hint_order, upper, lower = hint.order, hint.max_ttft, None
        outcome = self.cpsat("max-ttft", hint=hint_order, upper=upper)
        if outcome.order is None:
            return FEASIBLE, hint_order, upper, lower, "cpsat"
        status = OPTIMAL if outcome.status == "OPTIMAL" else FEASIBLE
        bound = outcome.bound if lower is None else max(outcome.bound, lower)
        return status, outcome.order, normalize(outcome.objective), normalize(bound), "cpsat"

    def _bisect(self, hint: Evaluation, deadline: float):
        """Exact bisection on the grid of multiples of 1/D between a lower bound and the hint."""
        scale = integer_timebase(self.stream, self.alpha)[0]
        low = math.ceil(_trivial_lower_bound(self.stream, self.alpha) * scale)
        high = int(hint.max_ttft * scale)
        best_order = hint.order
        while low < high:
            middle = (low + high) // 2
            left = deadline - time.perf_counter()
            if left <= 0:
                return FEASIBLE, best_order, Fraction(high, scale), Fraction(low, scale), "dp"
            self.say(f"bisection: least max TTFT in [{normalize(Fraction(low, scale))}, "
                     f"{normalize(Fraction(high, scale))}]")
            result = self._run_dp(normalize(Fraction(middle, scale)), AUTO_DP_STATES, left)
            if result.status == UNKNOWN:
                return FEASIBLE, best_order, Fraction(high, scale), Fraction(low, scale), "dp"
            if result.status == FEASIBLE:
                best_order = result.best_order()
                high = int(evaluate(self.stream, best_order, alpha=self.alpha).max_ttft * scale)
            else:
                low = middle + 1
        value = normalize(Fraction(high, scale))
        return OPTIMAL, best_order, value, value, "dp"

    # -- fewest violations ---------------------------------------------------------------------
    def run_violations(self):
        if self.solver == "dp":
            raise InputError("the DP answers feasibility and max TTFT; use --solver cpsat, brute or auto for violations")
        if self.solver == "brute" or (self.solver == "auto" and self.stream.n <= brute.MAX_N):
            value, order = self._run_brute(violations=True)
            return OPTIMAL, order, value, value, "brute"
        incumbent = self._run_warm_start(self.ttft)
        order, best, engine, lower = incumbent.order, incumbent.violations(self.ttft), "warm start", 0
        if self.solver == "auto":
            self.say(f"drop DP: fewest queries served last so the rest meet T (at most {best})")
            dropped = drops.fewest_drops(self.stream, self.ttft, alpha=self.alpha, cap=best,
                                         time_limit=self.remaining() / 3)
            if dropped.order is not None:
                value = evaluate(self.stream, dropped.order, alpha=self.alpha).violations(self.ttft)
                if value < best:
                    order, best, engine = dropped.order, value, "drop DP"
            if best > 0:  # is zero possible? The feasibility DP answers exactly.
                zero = self._run_dp(self.ttft, AUTO_DP_STATES, self.remaining() / 3)
                if zero.status == FEASIBLE:
                    order, best, engine = zero.best_order(), 0, "dp"
                elif zero.status == INFEASIBLE:
                    lower = 1
            if best == lower:
                return OPTIMAL, order, best, lower, engine
        outcome = self.cpsat("violations", hint=order, max_violations=best if self.solver == "auto" else None)
        if outcome.status == "INFEASIBLE":
            raise AssertionError(f"CP-SAT found no order with at most {best} violations, but the evaluator "
                                 f"counts {best} for the {engine} order")
        if outcome.order is None:
            if self.solver == "cpsat":
                return UNKNOWN, None, None, None, "cpsat"
            return FEASIBLE, order, best, max(lower, int(outcome.bound or 0)), engine
        value = int(outcome.objective)  # auto capped CP-SAT at the incumbent: never worse than it
        if outcome.status == "OPTIMAL":
            return OPTIMAL, outcome.order, value, value, "cpsat"
        return FEASIBLE, outcome.order, value, max(lower, int(outcome.bound)), "cpsat"

    # -- evidence ------------------------------------------------------------------------------
    def finish(self, status, order, objective, bound, engine) -> ExactResult:
        evaluation = None
        if order is not None:
            evaluation = evaluate(self.stream, order, alpha=self.alpha)
            self._check(status, evaluation, objective)
        elif status in (FEASIBLE, OPTIMAL):
            raise AssertionError(f"{engine} reported {status} without a schedule")
        if status == UNKNOWN:
            order = evaluation = None
        settings = {
            "question": self.question, "solver": self.solver, "engine": engine, "time_limit_s": self.time_limit,
            "workers": self.workers, "seed": self.seed, "alpha": str(self.alpha),
            "ttft": None if self.ttft is None else str(self.ttft), "versions": package_versions("ortools", "prefix-sched"),
        }
        return ExactResult(status, tuple(order) if order is not None else None, evaluation, objective, bound,
                           time.perf_counter() - self.started, engine, settings)

    def _check(self, status, evaluation, objective) -> None:
        if self.question == "feasible" and status == FEASIBLE and evaluation.max_ttft > self.ttft:
            raise AssertionError(f"a schedule reported feasible has max TTFT {evaluation.max_ttft} > T = {self.ttft}")
        if self.question == "max-ttft" and objective is not None and evaluation.max_ttft != objective:
            raise AssertionError(f"solver objective {objective} but the evaluator says {evaluation.max_ttft}")
        if self.question == "violations" and objective is not None and evaluation.violations(self.ttft) != objective:
            raise AssertionError(f"solver counts {objective} violations, the evaluator {evaluation.violations(self.ttft)}")


def _trivial_lower_bound(stream: Stream, alpha: Exact) -> Exact:
    """A floor for max TTFT: every query costs at least its cheapest cost after any predecessor."""
    floors = []
    for j, query in enumerate(stream.queries):
        shared = max((overlap(query.prompt, other.prompt) for i, other in enumerate(stream.queries) if i != j),
                     default=0)
        floors.append(prefill_cost(query.length, shared, alpha))
    return max(floors)
