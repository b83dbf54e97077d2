"""Capacity: the largest arrival rate whose run meets an objective, by bisection on the rate.

Each probe builds the workload at a rate (``rate -> Workload``: generated arrivals at that rate from
the same seed, or a trace's timestamps rescaled to it), serves it and checks the objective
(:mod:`prefix_sched.theory.serving.objectives`) on the summary. From the start rate the search
doubles (while the objective holds) or halves (while it fails) until it has a bracket ``[low, high]``
with ``low`` meeting and ``high`` failing, then bisects until ``high - low <= tolerance * low`` or
the probes run out. Rates are exact rationals. Bisection assumes that meeting the objective is
monotone in the rate (true of the expected figures, not of every sample): the result is a bracket of
two probed rates, each with its figures, never a claim about rates not probed.

Against the capacity bound (:mod:`prefix_sched.theory.serving.capacity_bound`): :func:`against_bound`
puts a bracket beside the bound ``Lambda``, as ``low / Lambda`` and ``high / Lambda``, each rate
taken as *realised* (``(n - 1) / (a_n - a_1)``, in a probe's ``extra["realised_rate"]`` when the
probe recorded it, else the rate asked for): generated arrivals realise a rate other than the one
asked (the seed's truncated exponential about 1.052 times it). A ratio above 1 is possible: an
objective on a finite run (a median TTFT) does not test stability.

Examples
--------
>>> calls = []
>>> def probe(rate):
...     calls.append(rate)
...     return rate <= 3, []
>>> result = find_capacity(probe, start=1, tolerance=Fraction(1, 4), max_probes=10)
>>> result.low, result.high, [str(p.rate) for p in result.probes]
(Fraction(3, 1), Fraction(7, 2), ['1', '2', '4', '3', '7/2'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief, exact_number


@dataclass(frozen=True)
class Probe:
    """One probed rate: whether the objective held, and the rows ``(what, value, bound, holds)``."""

    rate: Fraction
    holds: bool
    rows: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Capacity:
    """The bracket: ``low`` the largest probed rate that met the objective (None: none did), ``high``
    the smallest probed rate above it that failed (None: none did), and every probe in order."""

    low: Fraction | None
    high: Fraction | None
    probes: tuple[Probe, ...]


def find_capacity(probe: Callable[[Fraction], tuple[bool, list] | tuple[bool, list, dict]], *, start: Exact = 1,
                  tolerance: Exact = Fraction(1, 50), max_probes: int = 16,
                  on_probe: Callable[[Probe], None] | None = None) -> Capacity:
    """Bisect on the rate; ``probe(rate)`` returns ``(holds, rows)`` (or with a dict of extras)."""
    start = Fraction(exact_number(start, "start rate"))
    tolerance = Fraction(exact_number(tolerance, "tolerance"))
    if start <= 0:
        raise InputError(f"the start rate must be > 0, got {brief(start)}")
    if tolerance <= 0:
        raise InputError(f"the tolerance must be > 0, got {brief(tolerance)}")
    if type(max_probes) is not int or max_probes < 2:
        raise InputError(f"max_probes must be an integer >= 2, got {brief(max_probes)}")
    probes: list[Probe] = []

    def run(rate: Fraction) -> bool:
        out = probe(rate)
        holds, rows = out[0], out[1]
        extra = out[2] if len(out) > 2 else {}
        result = Probe(rate, bool(holds), list(rows), dict(extra))
        probes.append(result)
        if on_probe is not None:
            on_probe(result)
        return result.holds

    low: Fraction | None = None
    high: Fraction | None = None
    rate = start
    if run(rate):
        low = rate
        while len(probes) < max_probes:
            rate *= 2
            if run(rate):
                low = rate
            else:
                high = rate
                break
    else:
        high = rate
        while len(probes) < max_probes:
            rate /= 2
            if run(rate):
                low = rate
                break
            high = rate
    while low is not None and high is not None and high - low > tolerance * low and len(probes) < max_probes:
        mid = (low + high) / 2
        if run(mid):
            low = mid
        else:
            high = mid
    return Capacity(low, high, tuple(probes))


@dataclass(frozen=True)
class AgainstBound:
    """A scheduler's bracket beside the bound: the rates asked for, the realised ones, and the
    realised ones over ``bound`` (None where a side or the bound is missing)."""

    scheduler: str
    low: Fraction | None
    high: Fraction | None
    low_realised: Fraction | None
    high_realised: Fraction | None
    bound: Fraction | None
    low_ratio: Fraction | None
    high_ratio: Fraction | None


def against_bound(scheduler: str, capacity: Capacity, bound: Exact | None) -> AgainstBound:
    """``capacity`` beside the capacity bound ``bound`` (requests/s; None: no bound).

    >>> result = Capacity(Fraction(2), Fraction(3), (Probe(Fraction(2), True, [], {"realised_rate": Fraction(21, 10)}),
    ...                                                 Probe(Fraction(3), False)))
    >>> row = against_bound("sarathi", result, 4)
    >>> row.low_realised, row.low_ratio, row.high_ratio
    (Fraction(21, 10), Fraction(21, 40), Fraction(3, 4))
    """
    realised = {p.rate: Fraction(p.extra.get("realised_rate", p.rate)) for p in capacity.probes}
    low = None if capacity.low is None else realised.get(capacity.low, capacity.low)
    high = None if capacity.high is None else realised.get(capacity.high, capacity.high)
    bound = None if bound is None else Fraction(bound)

    def ratio(value):
        return None if value is None or bound is None else value / bound

    return AgainstBound(scheduler, capacity.low, capacity.high, low, high, bound, ratio(low), ratio(high))


def describe(capacity: Capacity) -> dict[str, Any]:
    """The bracket and probes as plain data (rates as ``"p/q"`` or int), for files and notebooks."""
    from prefix_sched.theory.numbers import to_json
    return {"low": None if capacity.low is None else to_json(capacity.low),
            "high": None if capacity.high is None else to_json(capacity.high),
            "probes": [{"rate": to_json(p.rate), "holds": p.holds} for p in capacity.probes]}
