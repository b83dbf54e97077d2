"""Exact numbers: parse user values into ``int`` or :class:`fractions.Fraction`, never floats.

Feasibility under a TTFT bound can hinge on one unit of time, so every time and cost in the toolkit
is an ``int`` or a ``Fraction``. A float given by a user is read as the decimal it prints as
(``0.1`` is ``1/10``), a string may be an integer, a decimal or a ratio ``"p/q"``.

Examples
--------
>>> exact_number("3/2", "alpha")
Fraction(3, 2)
>>> exact_number(0.1, "alpha")
Fraction(1, 10)
>>> exact_number(4.0, "T")
4
>>> exact_number(-1, "arrival", minimum=0)
Traceback (most recent call last):
...
prefix_sched.errors.InputError: arrival must be >= 0, got -1
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Rational

from prefix_sched.errors import InputError

Exact = int | Fraction


def exact_number(value: object, name: str, *, minimum: Exact | None = None) -> Exact:
    """Return ``value`` as an exact ``int`` (when integral) or ``Fraction``.

    Parameters
    ----------
    value : int, Fraction, float or str
        The value to read. Booleans, NaN and infinities are rejected.
    name : str
        What the value is, for the error message.
    minimum : int or Fraction, optional
        Smallest allowed value.

    Raises
    ------
    InputError
        If ``value`` is not a finite number or is below ``minimum``.
    """
    if isinstance(value, bool) or value is None:
        raise InputError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Rational):
        number = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{name} must be finite, got {value!r}")
        number = Fraction(repr(value))
    elif isinstance(value, str):
        try:
            number = Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as err:
            raise InputError(f"{name} must be a number like 3, 2.5 or 7/3, got {value!r}") from err
    else:
        raise InputError(f"{name} must be a number, got {value!r} of type {type(value).__name__}")
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value!r}")
    return normalize(number)


def exact_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int``, rejecting fractions, floats with a fraction part and NaN.

    >>> exact_int("12", "n")
    12
    >>> exact_int(2.5, "n")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: n must be an integer, got 2.5
    """
    number = exact_number(value, name)
    if not isinstance(number, int):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value!r}")
    return number


def normalize(number: Exact) -> Exact:
    """Return an integral Fraction as ``int``; leave other values unchanged.

    >>> normalize(Fraction(6, 3)), normalize(Fraction(1, 3))
    (2, Fraction(1, 3))
    """
    if isinstance(number, Fraction) and number.denominator == 1:
        return int(number.numerator)
    return number


def to_json(number: Exact) -> int | str:
    """Encode an exact number for JSON: an ``int`` stays, a Fraction becomes ``"p/q"``.

    >>> to_json(3), to_json(Fraction(7, 2))
    (3, '7/2')
    """
    number = normalize(number)
    return number if isinstance(number, int) else f"{number.numerator}/{number.denominator}"
