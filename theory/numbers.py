"""Exact numbers: parse user values into ``int`` or :class:`fractions.Fraction`, never floats.

Feasibility under a TTFT bound can hinge on one unit of time, so every time and cost in the toolkit
is an ``int`` or a ``Fraction``. A float given by a user is read as the decimal it prints as
(``0.1`` is ``1/10``), a string may be an integer, a decimal or a ratio ``"p/q"``. A string is
read only if it is short enough to be read fast: at most :data:`MAX_DIGITS` digits and an exponent
of at most :data:`MAX_DIGITS` (``"1e999999999"`` would take minutes and gigabytes as a Fraction).

:func:`brief` is how error messages show a value: shortened by :mod:`reprlib`, on one line.

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
>>> exact_number("1e999999999", "arrival")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: arrival: the exponent of '1e999999999' is beyond +-4300, too large to read exactly
"""

from __future__ import annotations

import math
import re
import reprlib
from fractions import Fraction
from numbers import Rational

from prefix_sched.errors import InputError

Exact = int | Fraction

MAX_DIGITS = 4300
"""The most digits a number read from text may have, and the largest exponent it may carry: the
limit Python itself sets on reading an ``int`` from a string (``sys.get_int_max_str_digits``)."""

_EXPONENT = re.compile(r"[eE]([-+]?[0-9_]+)\s*\Z")
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = _SHOW.maxlong = 60
_SHOW.maxlevel = 3


def brief(value: object) -> str:
    """Return ``repr(value)`` shortened to a readable size on one line, for error messages.

    >>> len(brief("x" * 10**6))
    60
    >>> print(brief("two" + chr(10) + "lines"))
    'two\\nlines'
    >>> brief([[[[1]]]]), brief(Fraction(1, 3))
    ('[[[[...]]]]', 'Fraction(1, 3)')
    """
    if type(value) is str and len(value) <= 40 or type(value) is int and -10**40 < value < 10**40:
        return repr(value)  # the common case, fast
    return _SHOW.repr(value)


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
        number = _from_text(value, name)
    else:
        raise InputError(f"{name} must be a number, got {brief(value)} of type {type(value).__name__}")
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {brief(value)}")
    return normalize(number)


def _from_text(value: str, name: str) -> Fraction:
    """Read an integer, decimal or ratio string, refusing one too large to read quickly."""
    text = value.strip()
    digits = sum(char.isdigit() for char in text)
    if digits > MAX_DIGITS:
        raise InputError(f"{name}: {brief(value)} has {digits} digits, more than the {MAX_DIGITS} "
                         "read from text")
    exponent = _EXPONENT.search(text)
    if exponent is not None:
        try:
            power = int(exponent.group(1))
        except ValueError:
            power = None  # not a number at all: Fraction says so below
        if power is not None and abs(power) > MAX_DIGITS:
            raise InputError(f"{name}: the exponent of {brief(value)} is beyond +-{MAX_DIGITS}, "
                             "too large to read exactly")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError) as err:
        raise InputError(f"{name} must be a number like 3, 2.5 or 7/3, got {brief(value)}") from err


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
        raise InputError(f"{name} must be an integer, got {brief(value)}")
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {brief(value)}")
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
