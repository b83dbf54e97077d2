"""Exact answers with their evidence: the front door to the DP, CP-SAT and brute force.

Three questions, for a stream, ``alpha`` and (where needed) a TTFT bound ``T``:

- :func:`decide`: is there an order with every TTFT ``<= T``? FEASIBLE (with the order),
  INFEASIBLE (a proof: CP-SAT INFEASIBLE, the DP's exhausted state space, or every permutation), or
  UNKNOWN (time-out or state cap: never reported as infeasible);
- :func:`minimize_max_ttft`: the least max TTFT: OPTIMAL with an order reaching it, FEASIBLE with
  the best order found and a proven lower ``bound``, or UNKNOWN;
- :func:`minimize_violations`: the fewest queries over ``T`` (the percentile question), likewise.

Solvers: ``dp`` (:mod:`~prefix_sched.solvers.exact.dp`; the least max TTFT by exact bisection over the
integer time grid; it does not answer the violations question), ``cpsat``
(:mod:`~prefix_sched.solvers.exact.cpsat`), ``brute`` (n <= 8), and ``auto``: the DP first with half
the time limit and a state cap, CP-SAT with the rest if the DP ran out. For violations: brute force
for n <= 8; else the incumbent is the best of the k-LPM runs and the drop DP's order
(:mod:`~prefix_sched.solvers.exact.drops`: the fewest queries to serve last so the rest meet ``T``), the
feasibility DP proves or refutes "zero violations" (a lower bound of 1 when it refutes), and CP-SAT,
hinted with the incumbent and capped by it, closes the gap or reports the best order with its
proven bound. Every order a solver returns is scored by the Definition 2 evaluator
before it is reported; a solver's claim the evaluator contradicts raises an AssertionError. The
best online policy (k-LPM for k in 0, 1, 2, 3, inf) is the warm start: a hint and an upper bound.
For feasibility with ``auto`` and ``n <= 13`` the DP's whole worst-case state space
(``n 2^(n-1) <= 53,248`` states) is smaller than what the warm start could save, so the DP runs
first and the warm start is computed only if CP-SAT is needed after all.

Time: ``time_limit`` (seconds, or a :class:`~prefix_sched.solvers.deadline.Deadline` shared with a
caller) is one deadline for the whole call: the warm start, each bisection probe, the drop DP and
CP-SAT's model building and search each get what is *left* of it (auto's shares are fractions of
what is left), so the call ends within a few tenths of a second of the limit
(``benchmarks/time_limits.py`` measures it). A time-out is UNKNOWN, never INFEASIBLE.

Big numbers: CP-SAT needs the scaled data in 64-bit integers
(:func:`~prefix_sched.solvers.exact.cpsat.int64_problem`). ``solver="cpsat"`` refuses larger data with an
InputError naming the value; ``auto`` skips CP-SAT, says why in ``settings["skipped"]``, and answers
with the DP alone (UNKNOWN where the DP cannot decide). Messages name a parameter and its value
(``solver dp``); the command line maps the parameter to its option.

Cache model: the three questions are about Definition 2's one-prompt cache. ``cache`` (default
``"last"``) is checked by :func:`~prefix_sched.theory.cache.require_last_prompt`: any other model
(``lru:TOKENS``, ``unbounded``) is an InputError, never solved as if it were ``last``; the result's
settings record ``"cache": "last"``.

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> r = minimize_max_ttft(s, solver="cpsat")
>>> print(r.status, r.objective, r.evaluation.max_ttft)
OPTIMAL 30 30
>>> print(decide(s, 29, solver="dp").status)
INFEASIBLE
>>> decide(s, 29, cache="unbounded")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: the exact solvers hold for Definition 2's one-prompt cache (cache 'last') only, not for cache 'unbounded'
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
from prefix_sched.solvers.exact import brute, dp, drops
from prefix_sched.theory.cost import cost_floors
from prefix_sched.solvers.exact.cpsat import CpSatOutcome, int64_problem, solve_cpsat
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.solvers.status import Objective, Solver, Status, parse_solver
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.cost import integer_timebase, prefill_cost
from prefix_sched.theory.numbers import Exact, exact_int, exact_number, normalize
from prefix_sched.theory.stream import Stream

FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN = Status.FEASIBLE, Status.INFEASIBLE, Status.OPTIMAL, Status.UNKNOWN
AUTO_DP_STATES = 3_000_000
WARM_START_KS = (0, 1, 2, 3, "inf")
EXACT_SOLVERS = "the exact solvers"  # what require_last_prompt names when it refuses another cache model
AUTO_DP_ONLY_N = 13  # n 2^(n-1) DP states at most: decide with the DP before any warm start


@dataclass(frozen=True)
class ExactResult:
    """An answer with its evidence.

    Attributes
    ----------
    status : Status
        FEASIBLE, INFEASIBLE, OPTIMAL or UNKNOWN.
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
        Time limit, workers, seed, question, versions, and ``skipped``: engines left out and why.
    """

    status: Status
    order: tuple[int, ...] | None
    evaluation: Evaluation | None
    objective: Exact | None
    bound: Exact | None
    wall_time_s: float
    solver: str
    settings: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[str], None]
TimeLimit = float | Deadline | None


def decide(stream: Stream, ttft: object, *, alpha: object = 0, solver: str = "auto",
           time_limit: TimeLimit = 60.0, workers: int = 1, seed: int = 0, shortcut: bool = True,
           progress: Progress | None = None, cache: object = DEFAULT_CACHE) -> ExactResult:
    """Is there an order of ``stream`` with every TTFT ``<= ttft``? See the module docstring.

    With ``shortcut`` (default) a warm-start order that already meets ``ttft`` is the answer;
    ``shortcut=False`` makes the chosen engine decide on its own (benchmarks measure engines so).
    ``progress(message)`` is called as each engine starts (all three questions take it).
    ``cache`` must be ``"last"`` (module docstring; all three questions take it).
    """
    require_last_prompt(cache, EXACT_SOLVERS)
    job = _Job(stream, Objective.FEASIBLE, ttft, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_decide(shortcut))


def minimize_max_ttft(stream: Stream, *, alpha: object = 0, solver: str = "auto",
                      time_limit: TimeLimit = 60.0, workers: int = 1, seed: int = 0,
                      progress: Progress | None = None, cache: object = DEFAULT_CACHE) -> ExactResult:
    """The least max TTFT over all orders of ``stream``."""
    require_last_prompt(cache, EXACT_SOLVERS)
    job = _Job(stream, Objective.MAX_TTFT, None, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_max_ttft())


def minimize_violations(stream: Stream, ttft: object, *, alpha: object = 0, solver: str = "auto",
                        time_limit: TimeLimit = 60.0, workers: int = 1, seed: int = 0,
                        progress: Progress | None = None, cache: object = DEFAULT_CACHE) -> ExactResult:
    """The fewest queries with TTFT ``> ttft`` over all orders of ``stream``."""
    require_last_prompt(cache, EXACT_SOLVERS)
    job = _Job(stream, Objective.VIOLATIONS, ttft, alpha, solver, time_limit, workers, seed, progress)
    return job.finish(*job.run_violations())


def warm_start(stream: Stream, alpha: Exact = 0, ttft: Exact | None = None,
               time_limit: TimeLimit = None) -> Evaluation:
    """The best online k-LPM run over k in 0, 1, 2, 3, inf: least max TTFT, or with ``ttft`` the
    fewest queries over it (then the least max TTFT). With a ``time_limit`` the runs stop when it
    passes (the first, FCFS, always runs)."""
    stop = Deadline.of(time_limit)
    runs = []
    for k in WARM_START_KS:
        if runs and stop.expired():
            break
        runs.append(simulate(stream, parse_policy("k-lpm", k=k), alpha=alpha).evaluation)
    if ttft is None:
        return min(runs, key=lambda ev: ev.max_ttft)
    return min(runs, key=lambda ev: (ev.violations(ttft), ev.max_ttft))


class _Job:
    """One question: validated inputs, the one deadline, and the evidence checks."""

    def __init__(self, stream, question, ttft, alpha, solver, time_limit, workers, seed, progress=None):
        self.deadline = Deadline.of(time_limit)  # first: every step below counts against it
        self.started = time.monotonic()
        self.stream, self.question, self.solver = stream, question, parse_solver(solver)
        self.ttft = None if ttft is None else exact_number(ttft, "TTFT bound T", minimum=0)
        self.alpha = exact_number(alpha, "alpha", minimum=0)
        self.time_limit = self.deadline.limit_s
        self.workers = exact_int(workers, "workers", minimum=1)
        self.seed = exact_int(seed, "seed", minimum=0)
        self.say = progress or (lambda message: None)
        self.skipped: dict[str, str] = {}
        self.cpsat_refusal = None
        if self.solver in (Solver.AUTO, Solver.CPSAT):
            self.cpsat_refusal = int64_problem(stream, self.alpha, self.ttft)
            if self.cpsat_refusal is not None and self.solver is Solver.CPSAT:
                raise InputError(self.cpsat_refusal)

    def _run_warm_start(self, ttft: Exact | None = None) -> Evaluation:
        goal = "" if ttft is None else f", fewest over T = {ttft}"
        self.say(f"warm start: online k-LPM for k in {', '.join(map(str, WARM_START_KS))}{goal}")
        return warm_start(self.stream, self.alpha, ttft, self.deadline)

    def _run_dp(self, ttft, max_states, stop: Deadline) -> dp.DPResult:
        self.say(f"DP at T = {ttft} (up to {max_states:,} states, {stop.remaining():.1f} s)")
        return dp.feasible_endings(self.stream, ttft, alpha=self.alpha, max_states=max_states, time_limit=stop)

    def cpsat(self, objective, hint=None, upper=None, max_violations=None) -> CpSatOutcome | None:
        """CP-SAT with what is left of the deadline; None when the data do not fit its integers."""
        if self.cpsat_refusal is not None:
            self.skipped["cpsat"] = self.cpsat_refusal
            self.say(f"CP-SAT skipped: {self.cpsat_refusal}")
            return None
        self.say(f"CP-SAT, {objective} ({self.deadline.remaining():.1f} s left)")
        return solve_cpsat(self.stream, objective, ttft=self.ttft, alpha=self.alpha, hint=hint,
                           upper_bound=upper, max_violations=max_violations, time_limit=self.deadline,
                           workers=self.workers, seed=self.seed)

    # -- feasibility ---------------------------------------------------------------------------
    def run_decide(self, shortcut: bool):
        if self.solver is Solver.AUTO and self.stream.n <= AUTO_DP_ONLY_N:
            result = self._run_dp(self.ttft, dp.DEFAULT_MAX_STATES, self.deadline.share(0.5))
            if result.status != UNKNOWN:
                return result.status, result.best_order(), None, None, "dp"
            return self._decided(self.cpsat(Objective.FEASIBLE, hint=self._run_warm_start().order))
        hint = self._run_warm_start()
        if shortcut and hint.max_ttft <= self.ttft:
            return FEASIBLE, hint.order, None, None, "warm start"
        if self.solver is Solver.BRUTE:
            found = self._run_brute()
            if found is None:
                return UNKNOWN, None, None, None, "brute"
            return (FEASIBLE, found[1], None, None, "brute") if found[0] <= self.ttft else (INFEASIBLE, None, None, None, "brute")
        if self.solver in (Solver.DP, Solver.AUTO):
            auto = self.solver is Solver.AUTO
            share = self.deadline.share(0.5) if auto else self.deadline
            result = self._run_dp(self.ttft, AUTO_DP_STATES if auto else dp.DEFAULT_MAX_STATES, share)
            if result.status != UNKNOWN or not auto:
                return result.status, result.best_order(), None, None, "dp"
        return self._decided(self.cpsat(Objective.FEASIBLE, hint=hint.order))

    @staticmethod
    def _decided(outcome: CpSatOutcome | None):
        """CP-SAT's feasibility verdict: OPTIMAL and FEASIBLE found an order, INFEASIBLE is a proof."""
        if outcome is None:  # skipped (its integers): the DP that ran before it could not decide
            return UNKNOWN, None, None, None, "dp"
        status = {OPTIMAL: FEASIBLE, FEASIBLE: FEASIBLE, INFEASIBLE: INFEASIBLE}.get(outcome.status, UNKNOWN)
        return status, outcome.order, None, None, "cpsat"

    # -- least max TTFT ------------------------------------------------------------------------
    def _run_brute(self, violations: bool = False):
        self.say(f"brute force over the {self.stream.n}! orders")
        if violations:
            return brute.fewest_violations(self.stream, self.ttft, alpha=self.alpha, time_limit=self.deadline)
        return brute.best_max_ttft(self.stream, alpha=self.alpha, time_limit=self.deadline)

    def run_max_ttft(self):
        hint = self._run_warm_start()
        floor = _trivial_lower_bound(self.stream, self.alpha)
        if self.solver is Solver.BRUTE:
            found = self._run_brute()
            if found is None:
                return FEASIBLE, hint.order, hint.max_ttft, floor, "warm start"
            return OPTIMAL, found[1], found[0], found[0], "brute"
        if self.solver in (Solver.DP, Solver.AUTO):
            auto = self.solver is Solver.AUTO
            found = self._bisect(hint, floor, self.deadline.share(0.5) if auto else self.deadline)
            if found[0] == OPTIMAL or not auto:
                return found
            hint_order, upper, lower = found[1], found[2], found[3]
        else:
            hint_order, upper, lower = hint.order, hint.max_ttft, floor
        outcome = self.cpsat(Objective.MAX_TTFT, hint=hint_order, upper=upper)
        if outcome is None:
            return FEASIBLE, hint_order, upper, lower, "dp"
        if outcome.order is None:
            return FEASIBLE, hint_order, upper, lower, "cpsat"
        status = OPTIMAL if outcome.status == OPTIMAL else FEASIBLE
        return status, outcome.order, normalize(outcome.objective), normalize(max(outcome.bound, lower)), "cpsat"

    def _bisect(self, hint: Evaluation, floor: Exact, stop: Deadline):
        """Exact bisection on the grid of multiples of 1/D between a lower bound and the hint."""
        scale = integer_timebase(self.stream, self.alpha)[0]
        low = math.ceil(floor * scale)
        high = int(hint.max_ttft * scale)
        best_order = hint.order
        while low < high:
            middle = (low + high) // 2
            if stop.expired():
                return FEASIBLE, best_order, Fraction(high, scale), Fraction(low, scale), "dp"
            self.say(f"bisection: least max TTFT in [{normalize(Fraction(low, scale))}, "
                     f"{normalize(Fraction(high, scale))}]")
            result = self._run_dp(normalize(Fraction(middle, scale)), AUTO_DP_STATES, stop)
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
        if self.solver is Solver.DP:
            raise InputError("the DP answers feasibility and max TTFT; use solver cpsat, brute or auto for violations")
        if self.solver is Solver.BRUTE or (self.solver is Solver.AUTO and self.stream.n <= brute.MAX_N):
            found = self._run_brute(violations=True)
            if found is not None:
                return OPTIMAL, found[1], found[0], found[0], "brute"
            incumbent = self._run_warm_start(self.ttft)
            return FEASIBLE, incumbent.order, incumbent.violations(self.ttft), 0, "warm start"
        incumbent = self._run_warm_start(self.ttft)
        order, best, engine, lower = incumbent.order, incumbent.violations(self.ttft), "warm start", 0
        if self.solver is Solver.AUTO:
            self.say(f"drop DP: fewest queries served last so the rest meet T (at most {best})")
            dropped = drops.fewest_drops(self.stream, self.ttft, alpha=self.alpha, cap=best,
                                         time_limit=self.deadline.share(1 / 3))
            if dropped.order is not None:
                value = evaluate(self.stream, dropped.order, alpha=self.alpha).violations(self.ttft)
                if value < best:
                    order, best, engine = dropped.order, value, "drop DP"
            if best > 0:  # is zero possible? The feasibility DP answers exactly.
                zero = self._run_dp(self.ttft, AUTO_DP_STATES, self.deadline.share(1 / 3))
                if zero.status == FEASIBLE:
                    order, best, engine = zero.best_order(), 0, "dp"
                elif zero.status == INFEASIBLE:
                    lower = 1
            if best == lower:
                return OPTIMAL, order, best, lower, engine
        outcome = self.cpsat(Objective.VIOLATIONS, hint=order,
                             max_violations=best if self.solver is Solver.AUTO else None)
        if outcome is None:
            return FEASIBLE, order, best, lower, engine
        if outcome.status == INFEASIBLE:
            raise AssertionError(f"CP-SAT found no order with at most {best} violations, but the evaluator "
                                 f"counts {best} for the {engine} order")
        if outcome.order is None:
            if self.solver is Solver.CPSAT:
                return UNKNOWN, None, None, None, "cpsat"
            return FEASIBLE, order, best, max(lower, int(outcome.bound or 0)), engine
        value = int(outcome.objective)  # auto capped CP-SAT at the incumbent: never worse than it
        if outcome.status == OPTIMAL:
            return OPTIMAL, outcome.order, value, value, "cpsat"
        return FEASIBLE, outcome.order, value, max(lower, int(outcome.bound)), "cpsat"

    # -- evidence ------------------------------------------------------------------------------
    def finish(self, status, order, objective, bound, engine) -> ExactResult:
        status = Status(status)
        evaluation = None
        if order is not None:
            evaluation = evaluate(self.stream, order, alpha=self.alpha)
            objective = self._check(status, evaluation, objective)
        elif status in (FEASIBLE, OPTIMAL):
            raise AssertionError(f"{engine} reported {status} without a schedule")
        if status == UNKNOWN:
            order = evaluation = None
        settings = {
            "question": self.question.value, "solver": self.solver.value, "engine": engine,
            "time_limit_s": self.time_limit, "workers": self.workers, "seed": self.seed, "alpha": str(self.alpha),
            "cache": DEFAULT_CACHE, "ttft": None if self.ttft is None else str(self.ttft),
            "skipped": dict(self.skipped),
            "versions": package_versions("ortools", "prefix-sched"),
        }
        return ExactResult(status, tuple(order) if order is not None else None, evaluation, objective, bound,
                           time.monotonic() - self.started, engine, settings)

    def _check(self, status, evaluation, objective):
        """Hold the engine's claim to the evaluator; return the objective the evaluator confirms.

        A CP-SAT schedule that is FEASIBLE but not proven optimal may start queries later than they
        could (its model allows idle time), so Definition 2's earliest-start evaluation of its order
        can be better than the engine's objective, never worse: the evaluator's value is reported.
        An OPTIMAL claim must match the evaluator exactly.
        """
        if self.question is Objective.FEASIBLE and status == FEASIBLE and evaluation.max_ttft > self.ttft:
            raise AssertionError(f"a schedule reported feasible has max TTFT {evaluation.max_ttft} > T = {self.ttft}")
        if objective is None or self.question is Objective.FEASIBLE:
            return objective
        if self.question is Objective.MAX_TTFT:
            measured, what = evaluation.max_ttft, "max TTFT"
        else:
            measured, what = evaluation.violations(self.ttft), "violations"
        if measured > objective or (status == OPTIMAL and measured != objective):
            raise AssertionError(f"solver {what} {objective} ({status}) but the evaluator says {measured}")
        return measured


def _trivial_lower_bound(stream: Stream, alpha: Exact) -> Exact:
    """A floor for max TTFT: every query costs at least its cheapest cost after any predecessor
    (its longest overlap with another prompt, from the trie of
    :func:`~prefix_sched.solvers.approx.blocks.cost_floors`, in time linear in the segments)."""
    floors = cost_floors(stream)
    return max(prefill_cost(length, length - floor, alpha) for length, floor in zip(stream.lengths, floors))
