"""The value checks a sweep spec is read with: every error names the file, the table and the key.

:class:`Reader` holds the spec's name (for messages) and folder (for relative paths) and reads one
value at a time: a list (``values``: non-empty, a scalar standing for a list of one where allowed),
an integer, an exact number (a TOML integer or float, or a string read by the one reader of numbers
in text, :func:`~prefix_sched.theory.parameters.read_number`: ASCII digits only), a choice, a seed
(``0 .. 2^63 - 1``: seeds are stored as 64-bit integers), a file (a regular file: a named pipe or a
device would block the sweep, or never end), unknown keys and values given twice. Each raises a
:class:`~prefix_sched.errors.FormatError` ``FILE: [TABLE] KEY: MESSAGE``.

:data:`MAX_CELLS` bounds a grid: the spec modules count it from the lengths of its lists before
anything is expanded or built (:meth:`Reader.check_size`).

What it leaves out: what the keys mean (:mod:`~prefix_sched.studies.sweep.spec` for policy cells,
:mod:`~prefix_sched.studies.sweep.serving_spec` for serving cells).

Examples
--------
>>> reader = Reader("s.toml", Path("."))
>>> reader.number("[streams.d]", "delta", "7/3"), reader.number("", "alpha", 0.1)
(Fraction(7, 3), Fraction(1, 10))
>>> reader.number("[streams.d]", "delta", "７")
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: s.toml: [streams.d] delta: must be written in ASCII digits: '７' (FULLWIDTH DIGIT SEVEN) is not one, got '７'
>>> reader.check_size(10 ** 7)
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: s.toml: the grid has 10000000 cells, more than the 1000000 a sweep runs; split the spec
"""

from __future__ import annotations

import itertools
import math
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prefix_sched.errors import FormatError, InputError, PrefixSchedError
from prefix_sched.theory.limits import FLOAT_MAX
from prefix_sched.theory.numbers import Exact, brief, exact_number
from prefix_sched.theory.parameters import INT64_MAX, SEED_MAX, read_number

NAME = re.compile(r"[A-Za-z0-9_-]+")
"""What a table's name may be (a stream's, a trace's)."""
MAX_CELLS = 1_000_000
"""The most cells a spec may have: each is a row kept in memory and rewritten with every file."""


class Reader:
    """Checks one spec's values; every error names ``self.name``, the table and the key."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder

    def error(self, where: str, key: str, message: str) -> FormatError:
        place = f"{where} " if where else ""
        return FormatError(f"{self.name}: {place}{key}: {message}")

    def check_size(self, cells: int) -> None:
        """Refuse a grid of more than :data:`MAX_CELLS` cells, with its count."""
        if cells > MAX_CELLS:
            raise FormatError(f"{self.name}: the grid has {cells} cells, more than the {MAX_CELLS} a sweep runs; "
                              "split the spec")

    def known_keys(self, where: str, body: Mapping[str, Any], valid: Sequence[str]) -> None:
        for key in body:
            if key not in valid:
                hint = " (seeds = [...] sets the generator's seed)" if key == "seed" else ""
                raise self.error(where, brief(key), f"unknown key{hint}; valid: {', '.join(valid)}")

    def table(self, where: str, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.error(where, key, f"must be a table, got {brief(value)}")
        return value

    def values(self, where: str, key: str, value: Any, scalar: bool = False) -> list:
        """A non-empty list; with ``scalar`` one value stands for a list of one."""
        if not isinstance(value, list):
            if scalar and not isinstance(value, dict):
                return [value]
            raise self.error(where, key, f"must be a list, got {brief(value)}")
        if not value:
            raise self.error(where, key, "must not be empty: nothing to sweep over")
        return value

    def seeds(self, where: str, body: Mapping[str, Any]) -> tuple[int, ...]:
        if "seeds" not in body:
            raise self.error(where, "seeds", "missing: a list of integers >= 0, e.g. seeds = [0, 1, 2]")
        seeds = tuple(self.integer(where, "seeds", v, minimum=0, maximum=SEED_MAX)
                      for v in self.values(where, "seeds", body["seeds"]))
        self.unique(where, "seeds", seeds)
        return seeds

    def integer(self, where: str, key: str, value: Any, minimum: int, maximum: int = INT64_MAX) -> int:
        """An integer in ``[minimum, maximum]`` (by default what a 64-bit signed column holds)."""
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(where, key, f"must be an integer >= {minimum}, got {brief(value)}")
        if value > maximum:
            limit = "2^63 - 1 (a signed 64-bit integer)" if maximum == INT64_MAX else str(maximum)
            raise self.error(where, key, f"must be at most {limit}, got {brief(value)}")
        return value

    def number(self, where: str, key: str, value: Any, minimum: Exact | None = None,
               above: Exact | None = None, hint: str = "") -> Exact:
        """An exact number: a TOML integer or float, or a string ``"p/q"``, ``"2.5"``, ``"1e-3"``."""
        bounds = f" >= {minimum}" if minimum is not None else f" > {above}" if above is not None else ""
        message = f"must be a number{bounds} like 3, 2.5 or '7/3'{hint}, got {brief(value)}"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.error(where, key, message)
        try:
            number = read_number(value, key) if isinstance(value, str) else exact_number(value, key)
        except InputError as err:
            detail = str(err).removeprefix(f"{key} ").removeprefix(f"{key}: ")
            if detail.startswith("must be a number") or not isinstance(value, str):
                detail = message
            raise self.error(where, key, detail) from None
        if (minimum is not None and number < minimum) or (above is not None and number <= above):
            raise self.error(where, key, message)
        if abs(number) > FLOAT_MAX:
            raise self.error(where, key, f"must be at most {FLOAT_MAX:.6g} in size (a float's range), got "
                                         f"{brief(value)}")
        return number

    def choice(self, where: str, key: str, value: Any, valid: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in valid:
            raise self.error(where, key, f"must be one of {', '.join(valid)}, got {brief(value)}")
        return value

    def text(self, where: str, key: str, value: Any, parse: Callable[[str], Any]) -> Any:
        """A string read by ``parse`` (a registry's parse point), its error naming the key."""
        if not isinstance(value, str):
            raise self.error(where, key, f"must be a string, got {brief(value)}")
        try:
            return parse(value)
        except InputError as err:
            raise self.error(where, key, str(err)) from None

    def file(self, where: str, key: str, value: Any) -> Path:
        """A regular file, relative to the spec's folder (a pipe or a device is refused unopened)."""
        if not isinstance(value, str) or not value:
            raise self.error(where, key, f"must be a path (a string), got {brief(value)}")
        if "\0" in value:
            raise self.error(where, key, f"a path has no NUL character, got {brief(value)}")
        path = Path(value) if Path(value).is_absolute() else self.folder / value
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError) as err:
            raise self.error(where, key, f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else \
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) \
                else "not a regular file"
            raise self.error(where, key, f"{path} is {kind}, not a regular file (a sweep reads its file more than once)")
        return path

    def unique(self, where: str, key: str, values: Sequence[Any], show: Callable[[Any], str] = repr) -> None:
        seen: list = []
        for value in values:
            if value in seen:
                raise self.error(where, key, f"{show(value)} is given twice")
            seen.append(value)


    def source_table(self, section: str, noun: str, table: Any, body: Any, generators: Mapping[str, tuple],
                     keys: Sequence[str], file_keys: Sequence[str], example: str,
                     refused: Mapping[str, str] | None = None) -> tuple[str, dict, str | None]:
        """One ``[SECTION.NAME]`` table of a stream or trace source: its name, a table, a generator or a
        file (not both), its keys (``keys`` and the generator's parameters, or ``file_keys``), keys a
        generator ``refused`` (key -> why), and each generator parameter a list of values. Returns
        ``(where, body, generator name or None)``; ``example`` shows the generators in the message."""
        where = f"[{section}.{table}]"
        if not NAME.fullmatch(table):
            raise self.error("", section, f"a {noun}'s name must be letters, digits, '_' or '-', got {brief(table)}")
        body = self.table("", f"{section}.{table}", body)
        if ("generator" in body) == ("file" in body):
            raise self.error(where, "generator", f'give either generator = {example} or file = "PATH"')
        if "generator" not in body:
            self.known_keys(where, body, (*file_keys, *keys))
            return where, body, None
        kind = self.choice(where, "generator", body["generator"], tuple(generators))
        self.known_keys(where, body, ("generator", *keys, *generators[kind][1]))
        for key, why in (refused or {}).items():
            if key in body:
                raise self.error(where, key, why)
        for name in generators[kind][1]:
            if name in body:
                self.values(where, name, body[name], scalar=True)
        return where, body, kind

    def variants(self, where: str, body: Mapping[str, Any], generators: Mapping[str, tuple]) -> int:
        """How many generator variants a source table sweeps (1 for a file), from its lists' lengths."""
        if "generator" not in body:
            return 1
        return product([len(self.values(where, k, body[k], scalar=True))
                        for k in generators[body["generator"]][1] if k in body])


    def generator_variants(self, where: str, body: Mapping[str, Any], kinds: Sequence[str],
                           read: Callable[[str, Any], Any]) -> list[tuple[str, tuple]]:
        """Every combination of a generator table's parameter lists (each value ``read(name, value)``,
        no value twice), with its variant label: the swept parameters, ``"rate=1/2,n=4"``."""
        axes = []
        for name in kinds:
            if name in body:
                read_values = [read(name, v) for v in self.values(where, name, body[name], scalar=True)]
                self.unique(where, name, read_values)
                axes.append([(name, value) for value in read_values])
        swept = [axis[0][0] for axis in axes if len(axis) > 1]
        return [(",".join(f"{name}={value}" for name, value in combination if name in swept), combination)
                for combination in itertools.product(*axes)]

    def generate(self, where: str, kind: str, variant: str, function: Callable[..., Any], combination: tuple,
                 seed: int) -> Any:
        """``function(**combination, seed=seed)``, its refusal named by the table (``rate`` when it is the
        rate's)."""
        try:
            return function(**dict(combination), seed=seed)
        except PrefixSchedError as err:
            key = "rate" if str(err).startswith("rate ") else "generator"
            raise self.error(where, key, f"{kind}{f' ({variant})' if variant else ''}: {err}") from None

def product(lengths: Sequence[int]) -> int:
    """The number of combinations of lists of ``lengths``."""
    return math.prod(lengths)
