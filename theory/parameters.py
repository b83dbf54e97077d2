"""The one reader of a number written as text: a parameter in a name or a value of an option or a spec.

Every number a user writes as text goes through :func:`read_count` (an integer ``>= 0``) or
:func:`read_number` (an exact number): the parameter of a name (``k-lpm:3``, ``lpm-aging:64``,
``sglang-lpm:128``, ``lru:100000``, ``slai-fcfs:10``, ``rad-fixed:1/4``, ``prefix-aware:abs=64``,
a cost ``c0=15200,cp=57.4``, classes ``strict=0.05:100ms``, durations ``500ms``), a command-line
value (``--alpha 1/100``) and a string value of a sweep spec (``rate = "1/4000"``). The CLI and the
sweep spec read the same text the same way.

The text is ASCII, without spaces:

- a count is decimal digits ``0-9``, nothing else (no sign, no ``_``);
- a number is an optional ``-``, then digits with an optional fraction part (``2.5``, ``.5``) and
  an optional exponent (``1e-3``), or a ratio of digits (``7/3``); it is read exactly
  (:func:`~prefix_sched.theory.numbers.exact_number`: at most 4300 digits and an exponent within
  +-4300).

Anything else is refused by name, naming the text: a leading ``+`` ("written without a sign"), a
``-`` where a count is read (">= 0"), a superscript (``'²'``), a full-width digit (``'３'``, which
Python's ``int`` would silently read as 3), any other character not an ASCII digit.

What it leaves out: the bounds of each parameter (the caller checks ``> 0``, ``<= 1``, ...), and
names (each registry parses its own).

Examples
--------
>>> read_count("128", "T"), read_number("7/3", "rate"), read_number("2.5e-1", "share")
(128, Fraction(7, 3), Fraction(1, 4))
>>> read_count("²", "K")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: K must be written in ASCII digits: '²' (SUPERSCRIPT TWO) is not one, got '²'
>>> read_number("+3", "offset")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: offset is written without a sign, got '+3'
>>> read_count("-1", "N")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: N must be >= 0, got '-1'
"""

from __future__ import annotations

import re
import unicodedata

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief, exact_number

SEED_MAX = 2 ** 63 - 1
"""The largest seed: seeds are stored as 64-bit signed integers (the sweep's Parquet schema)."""
INT64_MAX = 2 ** 63 - 1
"""The largest integer a stored count (a 64-bit signed column) holds."""

_COUNT = re.compile(r"[0-9]+\Z")
_NUMBER = re.compile(r"-?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+/[0-9]+)\Z")


def read_count(text: object, what: str) -> int:
    """Read an integer ``>= 0`` written in decimal digits (see the module docstring).

    Raises
    ------
    InputError
        Naming ``what`` and the text.
    """
    _ascii(text, what)
    if text.startswith("-") and _COUNT.match(text[1:]):
        raise InputError(f"{what} must be >= 0, got {brief(text)}")
    if not _COUNT.match(text):
        raise InputError(f"{what} must be a non-negative integer written in digits 0-9, got {brief(text)}")
    return int(exact_number(text, what))


def read_number(text: object, what: str) -> Exact:
    """Read an exact number: ``3``, ``-2``, ``2.5``, ``.5``, ``1e-3`` or ``7/3`` (see the module docstring).

    Raises
    ------
    InputError
        Naming ``what`` and the text.
    """
    _ascii(text, what)
    if not _NUMBER.match(text):
        raise InputError(f"{what} must be a number like 3, 2.5 or 7/3, got {brief(text)}")
    return exact_number(text, what)


def _ascii(text: object, what: str) -> None:
    if not isinstance(text, str):
        raise InputError(f"{what} must be written in ASCII digits, got {brief(text)}")
    for char in text:
        if not char.isascii():
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise InputError(f"{what} must be written in ASCII digits: {char!r} ({name}) is not one, "
                             f"got {brief(text)}")
    if text.startswith("+"):
        raise InputError(f"{what} is written without a sign, got {brief(text)}")
    if not text:
        raise InputError(f"{what} is missing (an empty text)")
