"""The careful JSON reading every file format of the toolkit goes through, and its JSON writing.

Reading (:func:`read_json_lines`, :func:`read_json_document`): a file that cannot be opened, a
line that is not UTF-8, a NUL byte (a binary file), invalid JSON, ``NaN`` or ``Infinity`` (which
Python's json accepts and JSON does not), a key given twice in one object (json would keep the
last silently), JSON nested too deeply for Python, an integer of more
digits than Python reads (``sys.get_int_max_str_digits()``, 4300) or a decimal a float cannot hold exactly
(write it as a string, ``"0.1000000000000000000001"``, to read it exactly), a line that is not an
object: each is a :class:`~prefix_sched.errors.FormatError` with one line naming the file, the
line and the value. Blank lines are skipped; a UTF-8 byte order mark at the start is allowed.
The helpers the formats share (:func:`read_header`, :func:`required_field`, :func:`known_fields`,
:func:`json_object`, :func:`located`) check a versioned header and a record's fields the same way
in every format.

Writing goes through :func:`~prefix_sched.theory.outputs.write_text` (a temporary file, then a
rename) or to an open text stream (``generate --out -``); only JSON that the readers accept is
written (no NaN, a Fraction as ``"p/q"``: :func:`dumps_line`).

What it leaves out: what each format holds (:mod:`~prefix_sched.theory.formats.streams`,
:mod:`~prefix_sched.theory.formats.schedules`, :mod:`~prefix_sched.theory.formats.mooncake`).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
>>> _ = path.write_text('{"a": 1}\\n\\n{"a": 0.5}\\n')
>>> list(read_json_lines(path))
[(1, {'a': 1}), (3, {'a': 0.5})]
>>> _ = path.write_text('{"a": 1, "a": 2}\\n')
>>> list(read_json_lines(path))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: ...x.jsonl:1: ...
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from numbers import Integral, Rational
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from prefix_sched.theory.numbers import brief, to_json
from prefix_sched.theory.outputs import write_text

from prefix_sched.errors import FormatError, InputError

VERSION = 1
MAX_LINE_BYTES = 1 << 28
"""The longest line (or one-object file) read, 256 MiB: a device or a binary file is refused
instead of read until memory runs out."""
MAX_DEPTH = 32
"""The deepest nesting allowed in free-form fields (``meta``, ``settings``)."""
_BOM = b"\xef\xbb\xbf"
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


class _Refused(ValueError):
    """A JSON literal the readers refuse (raised inside the json hooks, caught by the reader)."""

    def __init__(self, message: str, literal: str) -> None:
        super().__init__(message)
        self.literal = literal


def _refuse_constant(name: str) -> None:
    raise _Refused(f"{name} is not JSON (NaN and infinities are refused)", name)


def _exact_float(text: str) -> float:
    """json's parse_float: a float only when it is exactly the decimal written."""
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {_clip(text)} is beyond the range of a float; "
                       f"write it as a string, \"{_clip(text)}\", to read it exactly", text)
    if Decimal(repr(value)) != Decimal(text):
        raise _Refused(f"the decimal {_clip(text)} cannot be held exactly by a float; "
                       f"write it as a string, \"{_clip(text)}\", to read it exactly", text)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: a key given twice is refused (json would keep the last)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {brief(key)} appears twice in one object", json.dumps(key))
            seen.add(key)
    return record


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else f"{text[:width // 2]}...{text[-width // 2:]}"


_DECODER = json.JSONDecoder(parse_float=_exact_float, parse_constant=_refuse_constant,
                            object_pairs_hook=_unique_keys)


def source_name(path: object) -> str:
    """The file name as a message shows it: as is when printable, else its repr (one line)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


class _JsonError(FormatError):
    """Bytes or a JSON text that cannot be read; ``offset`` is where in them, when known."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message)
        self.offset = offset


def _parse(text: str) -> object:
    """Parse one JSON text; every failure is a _JsonError (no file name yet)."""
    try:
        return _DECODER.decode(text)
    except _Refused as err:
        raise _JsonError(str(err), text.find(err.literal)) from None
    except json.JSONDecodeError as err:
        raise _JsonError(f"not valid JSON ({err.msg} at column {err.colno})", err.pos) from None
    except RecursionError:
        raise _JsonError("JSON nested too deeply to read", None) from None
    except ValueError:  # int() refusing a literal of more digits than sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        long = re.search(f"[0-9]{{{limit + 1},}}", text)
        raise _JsonError(f"an integer of more than {limit} digits", long and long.start()) from None


def _decode(raw: bytes) -> str:
    """UTF-8 text of ``raw``, refusing NUL bytes (a binary file) and invalid UTF-8."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raise _JsonError(f"a NUL byte at byte {nul + 1}: a binary file, not JSON text", nul)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _JsonError(f"not UTF-8 text (byte 0x{raw[err.start]:02x} at byte {err.start + 1})",
                         err.start) from None


@contextmanager
def _opened(path: Path | str) -> Iterator[BinaryIO]:
    """Open ``path`` for reading bytes; an OSError, then or while reading, is a FormatError."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"a file path is needed, got {brief(path)}")
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise FormatError(f"cannot read {source_name(path)}: {err.strerror or err}") from None
    try:
        with handle:
            yield handle
    except OSError as err:
        raise FormatError(f"cannot read {source_name(path)}: {err.strerror or err}") from None


def read_json_lines(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSON Lines file.

    Raises
    ------
    FormatError
        One line naming the file and the line, for every defect listed in the module docstring.
    """
    name = source_name(path)
    with _opened(path) as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise FormatError(f"{name}:{number}: a line longer than {MAX_LINE_BYTES} bytes")
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            with located(name, number):
                text = _decode(raw)
                if not text.strip():
                    continue
                record = _parse(text)
                if not isinstance(record, dict):
                    raise FormatError(f"expected a JSON object, got {JSON_TYPES[type(record)]}: {brief(record)}")
            yield number, record


def read_json_document(path: Path | str) -> object:
    """Read a file holding one JSON value (any layout), with the checks of :func:`read_json_lines`.

    Raises
    ------
    FormatError
        Naming the file and, where the defect has one, the line.
    """
    name = source_name(path)
    with _opened(path) as handle:
        raw = handle.read(MAX_LINE_BYTES + 1)
    if len(raw) > MAX_LINE_BYTES:
        raise FormatError(f"{name}: longer than {MAX_LINE_BYTES} bytes")
    raw = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    try:
        text = _decode(raw)
    except _JsonError as err:
        raise FormatError(f"{name}:{_line_at(raw, err.offset)}: {err}") from None
    if not text.strip():
        raise FormatError(f"{name}: empty file, expected a JSON object")
    try:
        return _parse(text)
    except _JsonError as err:
        where = name if err.offset is None else f"{name}:{_line_at(text, err.offset)}"
        raise FormatError(f"{where}: {err}") from None


def _line_at(text: str | bytes, offset: int) -> int:
    """The 1-based line of ``offset`` in ``text``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    return text.count(newline, 0, max(offset, 0)) + 1


def check_nesting(value: object, what: str, limit: int = MAX_DEPTH) -> None:
    """Raise FormatError if ``value`` (parsed JSON) nests deeper than ``limit`` arrays/objects.

    A free-form field (``meta``) is kept and written back later; a very deep one would make that
    write fail, so it is refused when read.

    >>> check_nesting({"a": [1, {"b": 2}]}, "meta", limit=3)
    >>> check_nesting([[[[]]]], "meta", limit=3)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.FormatError: meta is nested deeper than 3 levels
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise FormatError(f"{what} is nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


@contextmanager
def located(name: str, number: int | None) -> Iterator[None]:
    """Re-raise an input error as a FormatError naming the file and line (None: the whole file)."""
    try:
        yield
    except InputError as err:
        where = name if number is None else f"{name}:{number}"
        raise FormatError(f"{where}: {err}") from None


def required_field(record: Mapping[str, Any], name: str) -> Any:
    if name not in record:
        raise FormatError(f"missing field {name!r}")
    return record[name]


def known_fields(record: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    if record.keys() <= set(known):
        return
    for key in record:
        if key not in known:
            raise FormatError(f"unknown field {brief(key)} in {what} (the fields are {', '.join(known)})")


def json_object(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The free-form object ``record[key]`` ({} when absent), checked to be a shallow object."""
    value = record.get(key, {})
    if not isinstance(value, dict):
        raise FormatError(f"field {key!r} must be an object, got {JSON_TYPES[type(value)]}: {brief(value)}")
    check_nesting(value, f"field {key!r}")
    return value


def read_header(lines: Iterator[tuple[int, dict[str, Any]]], name: str, expected: str,
            known: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """The checked first line of a ``expected`` file, and its number."""
    first = next(lines, None)
    if first is None:
        raise FormatError(f"{name}: empty file, expected a {expected} header line")
    number, header = first
    with located(name, number):
        if "format" not in header:
            raise FormatError(f"the first line must be a {expected} header with a 'format' field, "
                              f"got {brief(header)}")
        if header["format"] != expected:
            raise FormatError(f"expected a {expected} file, got a header with format {brief(header['format'])}")
        version = header.get("version")
        if type(version) is not int or version != VERSION:
            raise FormatError(f"unsupported {expected} version {brief(version)}; this toolkit reads version {VERSION}")
        known_fields(header, known, f"the {expected} header")
    return number, header


def json_value(value: object) -> object:
    """json's ``default``: exact numbers as the readers read them, an Enum as its value."""
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Rational):
        return to_json(Fraction(value))
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{brief(value)} of type {type(value).__name__} is not JSON")


def dumps_line(record: Mapping[str, Any], option: str, what: str, *, sort_keys: bool = False) -> str:
    try:
        return json.dumps(record, sort_keys=sort_keys, allow_nan=False, default=json_value)
    except (TypeError, ValueError, RecursionError) as err:
        raise InputError(f"{option}: cannot write {what}: {err}") from None


def write_lines(path: Path | str | TextIO, lines: list[str], option: str) -> None:
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
    else:
        write_text(path, text, option)
