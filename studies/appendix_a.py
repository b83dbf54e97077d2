"""Appendix A against the exact solvers: the comparisons notebook 05 shows, as plain functions.

- :func:`study_stream`: small Poisson prefix-tree streams (groups of 3 prompts sharing a 4-token
  prefix, 2-token suffixes, so ``L = 6``) at an offered load, integer arrivals.
- :func:`cross_check`: per stream, the least max TTFT ``T*`` proven by the exact engine (DP, then
  CP-SAT), then Appendix A's exact pass at ``T*`` (must schedule) and ``T* - 1`` (must certify), and
  CP-SAT's own verdict at ``T* - 1``.
- :func:`percentile_check`: per stream, a bound ``T`` below ``T*`` (so no schedule serves all), the
  percentile pass's violations against CP-SAT's proven least number of violations and the budget
  ``floor(eps n)``.

Examples
--------
>>> rows = cross_check(sizes=(6,), seeds=(0,))
>>> print(rows[0].agrees, rows[0].at_optimum, rows[0].below_optimum)
True FEASIBLE INFEASIBLE
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.exact import decide, minimize_max_ttft, minimize_violations
from prefix_sched.solvers.status import Status
from prefix_sched.theory.generators import poisson_prefix_tree
from prefix_sched.theory.stream import Stream

GROUP, PREFIX, SUFFIX = 3, 4, 2


@dataclass(frozen=True)
class CrossCheckRow:
    """One stream: the proven optimum and both solvers' verdicts around it."""

    seed: int
    n: int
    optimum: int
    at_optimum: Status
    below_optimum: Status
    cpsat_below: Status
    approx_s: float
    exact_s: float

    @property
    def agrees(self) -> bool:
        """Appendix A schedules at ``T*`` and certifies at ``T* - 1``, as CP-SAT proves."""
        return (self.at_optimum is Status.FEASIBLE and self.below_optimum is Status.INFEASIBLE
                and self.cpsat_below is Status.INFEASIBLE)


@dataclass(frozen=True)
class PercentileRow:
    """One stream at a bound below its optimum: the percentile pass against the least violations."""

    seed: int
    n: int
    ttft: int
    budget: int
    status: Status
    violations: int | None
    least_violations: int | None


def study_stream(n: int, seed: int, load: str = "1.2") -> Stream:
    """The first ``n`` arrivals of a seeded Poisson stream of 3-prompt groups (``L = 6``)."""
    full = poisson_prefix_tree(groups=-(-n // GROUP), group_size=GROUP, prefix_len=PREFIX, suffix_len=SUFFIX,
                               rate=Fraction(load) / (PREFIX + SUFFIX), seed=seed)
    return Stream(tuple(full.queries[i] for i in full.arrival_order[:n]), {**full.meta, "n": n})


def cross_check(sizes=(8, 12, 16), seeds=(0, 1, 2), eps: str = "1/10", time_limit: float = 30) -> list[CrossCheckRow]:
    """Compare Appendix A's exact pass with the exact engine at and below the proven optimum."""
    rows = []
    for n in sizes:
        for seed in seeds:
            stream = study_stream(n, seed)
            started = time.perf_counter()
            optimum = minimize_max_ttft(stream, time_limit=time_limit)
            exact_s = time.perf_counter() - started
            if optimum.status is not Status.OPTIMAL:
                continue
            best = int(optimum.objective)
            started = time.perf_counter()
            at = approx(stream, best, eps, exact=True).status
            below = approx(stream, best - 1, eps, exact=True).status if best > 1 else Status.INFEASIBLE
            approx_s = time.perf_counter() - started
            cpsat = (decide(stream, best - 1, solver="cpsat", time_limit=time_limit).status if best > 1
                     else Status.INFEASIBLE)
            rows.append(CrossCheckRow(seed, n, best, at, below, cpsat, approx_s, exact_s))
    return rows


def percentile_check(sizes=(10, 12), seeds=(0, 1, 2), eps: str = "1/4", shrink: str = "3/4",
                     block_size: int | None = None, time_limit: float = 30) -> list[PercentileRow]:
    """At ``T = ceil(shrink * T*)``: Appendix A's percentile schedule against CP-SAT's least violations.

    ``block_size`` None is the proof's ``ceil((2T - 1)/eps)``, which for small n is one block: no
    zone, nothing to drop, so the percentile pass can only repeat the exact pass's certificate.
    """
    rows = []
    for n in sizes:
        for seed in seeds:
            stream = study_stream(n, seed)
            optimum = minimize_max_ttft(stream, time_limit=time_limit)
            if optimum.status is not Status.OPTIMAL:
                continue
            bound = max(1, -(-int(optimum.objective) * Fraction(shrink).numerator // Fraction(shrink).denominator))
            result = approx(stream, bound, eps, block_size=block_size)
            violations = None if result.evaluation is None else result.evaluation.violations(bound)
            least = minimize_violations(stream, bound, solver="cpsat", time_limit=time_limit)
            rows.append(PercentileRow(seed, n, bound, result.violation_budget, result.status, violations,
                                      int(least.objective) if least.status is Status.OPTIMAL else None))
    return rows
