"""Arrival times for traces without them, and rescaling traces with them to a rate.

Generated arrivals (the ShareGPT length trace has no timestamps), each seeded through a numpy
Generator and named in every result header:

- ``poisson``: gaps ``Exp(rate)``;
- ``truncated-exp``: the seed's runs, gaps ``min(Exp(rate), 3 / rate)`` (Sarathi-Serve's
  ``PoissonRequestIntervalGenerator`` in github agrimUT/SLAI caps each gap at three means; the
  realised rate is about ``1.052 rate``).

As in that generator the first request arrives one gap after 0 and each next one a gap later. The
gaps are drawn as float64 seconds and summed in float64; each arrival is then rounded to the nearest
whole microsecond (ties to even), so arrivals are exact integers of microseconds.

Rescaling (:func:`rescale_to_rate`, the Azure trace and any trace given ``--rate``): arrival ``i``
becomes ``(t_i - t_0) (n - 1) / (rate (t_{n-1} - t_0))`` seconds, computed exactly, so the first
request arrives at 0, the last at ``(n - 1) / rate`` and the mean gap is ``1 / rate`` exactly; then
each is rounded to the nearest microsecond (ties up). Rounding is monotone, so the order is kept.

Examples
--------
>>> rescale_to_rate([0, 10, 30, 40], 1)   # 3 gaps of 1 s on average
(0, 750000, 2250000, 3000000)
>>> a = generate_arrivals(1000, 2, "truncated-exp", np.random.default_rng(0))
>>> len(a), a[0] > 0, all(x <= y for x, y in zip(a, a[1:])), max(y - x for x, y in zip(a, a[1:])) <= 1500000
(1000, True, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.generators import show_rate
from prefix_sched.theory.numbers import Exact, brief, exact_number

ARRIVAL_PROCESSES = ("poisson", "truncated-exp")
TRUNCATION = 3
"""``truncated-exp`` caps each gap at ``TRUNCATION / rate`` (the seed's runs)."""


def check_rate(rate: object) -> Exact:
    """Return ``rate`` (requests per second) exactly; it must be a finite number > 0 whose mean gap
    in microseconds, ``10^6 / rate``, a float holds (generated gaps are floats)."""
    value = exact_number(rate, "rate")
    if value <= 0:
        raise InputError(f"rate must be > 0 requests per second, got {brief(rate)}")
    try:
        mean = 1_000_000 / float(value)
    except (OverflowError, ZeroDivisionError):
        mean = float("inf")
    if not 0 < mean < float("inf"):
        raise InputError(f"rate {show_rate(rate)}: its mean gap 10^6 / rate microseconds is beyond a float's range; "
                         "use a rate between 1e-300 and 1e300 requests per second")
    return value


def generate_arrivals(n: int, rate: object, process: str, rng: np.random.Generator) -> tuple[int, ...]:
    """``n`` arrival times in whole microseconds at ``rate`` requests per second; see the module docstring."""
    if process not in ARRIVAL_PROCESSES:
        raise InputError(f"unknown arrival process {process!r}; valid: {', '.join(ARRIVAL_PROCESSES)}")
    if type(n) is not int or n < 1:
        raise InputError(f"the number of arrivals must be an integer >= 1, got {brief(n)}")
    value = float(check_rate(rate))
    gaps = rng.exponential(1.0 / value, size=n)
    if process == "truncated-exp":
        gaps = np.minimum(gaps, TRUNCATION / value)
    with np.errstate(over="ignore"):  # an overflow to inf is refused below
        seconds = np.cumsum(gaps)
    if not seconds[-1] * 1e6 < 2 ** 63:  # also NaN and inf
        raise InputError(f"rate {show_rate(rate)}: the arrival times of {n} requests reach {float(seconds[-1]):.3g} s, "
                         "beyond a signed 64-bit count of microseconds; use a larger rate")
    return tuple(int(x) for x in np.rint(seconds * 1e6).astype(np.int64))


def rescale_to_rate(times: Sequence[Exact], rate: object) -> tuple[int, ...]:
    """Rescale ``times`` (any exact unit; non-decreasing not required) to ``rate`` requests per
    second, in whole microseconds; see the module docstring.

    Raises InputError when fewer than two times are given or they are all equal (no rate to set).
    """
    value = Fraction(check_rate(rate))
    if len(times) < 2:
        raise InputError(f"rescaling to a rate needs at least two requests, got {len(times)}")
    first, last = min(times), max(times)
    span = Fraction(last) - Fraction(first)
    if span == 0:
        raise InputError("rescaling to a rate needs arrivals that are not all equal")
    scale = Fraction(len(times) - 1) * 1_000_000 / (value * span)
    out = []
    for t in times:
        exact = (Fraction(t) - first) * scale
        out.append((2 * exact.numerator + exact.denominator) // (2 * exact.denominator))  # nearest, ties up
    return tuple(out)
