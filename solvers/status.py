"""The solvers' vocabulary: one status enum with its exit status, and one parse point for names.

- :class:`Status`: every verdict an engine can give (FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN, and
  Appendix A's PERCENTILE, the drop DP's NONE_WITHIN_CAP). It is a ``str`` enum whose values are
  the names, so ``status == "OPTIMAL"``, f-strings and JSON see the plain name. ``exit_code`` is
  the command-line exit status of the verdict, defined here once (``prefix_sched.errors``'s codes).
- :class:`Objective` (``feasible``, ``max-ttft``, ``violations``) and :class:`Solver` (``auto``,
  ``cpsat``, ``dp``, ``brute``): the names the engines and the commands accept;
  :func:`parse_objective` and :func:`parse_solver` are the only places they are read, and a
  misspelt name is an :class:`~prefix_sched.errors.InputError` naming it and the valid ones.

What it leaves out: policy names (:mod:`~prefix_sched.solvers.online.policies` parses those) and the
engines themselves.

Examples
--------
>>> Status.OPTIMAL == "OPTIMAL", f"{Status.INFEASIBLE}", Status.UNKNOWN.exit_code
(True, 'INFEASIBLE', 3)
>>> parse_objective("max-ttft") is Objective.MAX_TTFT
True
>>> parse_objective("max_ttft")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: unknown objective 'max_ttft'; valid: feasible, max-ttft, violations
>>> parse_solver("cpsat", allowed=(Solver.DP, Solver.CPSAT)), parse_solver("brute")
(<Solver.CPSAT: 'cpsat'>, <Solver.BRUTE: 'brute'>)
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from prefix_sched.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN, InputError


class Status(StrEnum):
    """An engine's verdict; the value is the name.

    FEASIBLE: a schedule meeting the question (for a minimisation: the best found, with a proven
    bound); OPTIMAL: a schedule proven optimal; INFEASIBLE: a proof that none exists; UNKNOWN: no
    claim either way (time limit or state cap); PERCENTILE: Appendix A's schedule meeting the
    ``(1 - eps)`` percentile; NONE_WITHIN_CAP: the drop DP found no schedule within its cap of
    dropped queries (a "no" about that restricted class only).
    """

    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    OPTIMAL = "OPTIMAL"
    UNKNOWN = "UNKNOWN"
    PERCENTILE = "PERCENTILE"
    NONE_WITHIN_CAP = "NONE_WITHIN_CAP"

    @property
    def exit_code(self) -> int:
        """0 a schedule was found, 1 proven "no", 3 unknown.

        >>> [s.exit_code for s in Status]
        [0, 1, 0, 3, 0, 1]
        """
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Status.FEASIBLE: EXIT_OK, Status.OPTIMAL: EXIT_OK, Status.PERCENTILE: EXIT_OK,
    Status.INFEASIBLE: EXIT_CHECK_FAILED, Status.NONE_WITHIN_CAP: EXIT_CHECK_FAILED,
    Status.UNKNOWN: EXIT_UNKNOWN,
}


class Objective(StrEnum):
    """The three questions: feasibility of a TTFT bound, least max TTFT, fewest queries over T."""

    FEASIBLE = "feasible"
    MAX_TTFT = "max-ttft"
    VIOLATIONS = "violations"


class Solver(StrEnum):
    """The exact engines behind :mod:`~prefix_sched.solvers.exact`; ``auto`` combines them."""

    AUTO = "auto"
    CPSAT = "cpsat"
    DP = "dp"
    BRUTE = "brute"


OBJECTIVES = tuple(o.value for o in Objective)
MINIMIZE = (Objective.MAX_TTFT.value, Objective.VIOLATIONS.value)  # the objectives that minimise
SOLVERS = tuple(s.value for s in Solver)


def parse_objective(text: object, allowed: Iterable[Objective] = tuple(Objective)) -> Objective:
    """The :class:`Objective` named ``text``; InputError naming ``text`` and the valid names."""
    return _parse(Objective, "objective", text, allowed)


def parse_solver(text: object, allowed: Iterable[Solver] = tuple(Solver)) -> Solver:
    """The :class:`Solver` named ``text`` (one of ``allowed``); InputError naming ``text`` otherwise."""
    return _parse(Solver, "solver", text, allowed)


def _parse(kind, what: str, text: object, allowed):
    allowed = tuple(allowed)
    if isinstance(text, str):
        for member in allowed:
            if text == member.value:
                return member
    raise InputError(f"unknown {what} {text!r}; valid: {', '.join(m.value for m in allowed)}")
