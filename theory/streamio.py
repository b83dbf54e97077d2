"""Versioned JSONL files for streams and schedules, the Mooncake trace reader, and the careful JSON
reading every file format of the toolkit goes through.

Stream file (``prefix-sched.stream``, version 1)::

    {"format": "prefix-sched.stream", "version": 1, "meta": {...}}
    {"id": "q0", "arrival": 0, "segments": [["u3", 1000], ["d17", 100]]}
    {"id": "q1", "arrival": "5/2", "tokens": [101, 7, 7], "output_length": 40}

A query gives its prompt as ``segments`` (pairs ``[id, length]``) or ``tokens`` (one segment per
token), and optionally ``output_length``, the tokens it will generate (a non-negative integer;
absent means unknown; the evaluator does not use it). Ids, segment ids and tokens are strings or
integers (never ``true``, ``1.0`` or ``null``: see :mod:`~prefix_sched.theory.prompt`). Numbers
are exact: an int, a ratio string ``"p/q"``, or a decimal, read exactly as written.

Schedule file (``prefix-sched.schedule``, version 1): a header with the policy or solver, its
settings and the cache model the times were computed under (``cache``: a spec for
:func:`~prefix_sched.theory.cache.parse_cache`; a file without it is ``last``, Definition 2), then
one line per position of the order::

    {"format": "prefix-sched.schedule", "version": 1, "alpha": 0, "batch_size": 1, "cache": "last", ...}
    {"position": 0, "id": "q0", "arrival": 0, "start": 0, "completion": 10, "ttft": 10, "reused_tokens": 0}

The order is by ``position`` (the line order does not matter): the positions are ``0 .. n-1``,
each once, and every query of the stream is listed once. Times in the file are checked to be
numbers and otherwise ignored: the evaluator recomputes them.

Mooncake traces (``timestamp`` in ms, ``input_length``, ``hash_ids`` of 512-token blocks) are read
by :func:`read_mooncake`; times are converted to token-times with ``tokens_per_ms``; a line's
``output_length``, when present, must be a non-negative integer and is kept on the query. Other
fields of a trace line are ignored; in the toolkit's own files an unknown field is an error.

Reading (:func:`read_json_lines`, :func:`read_json_document`): a file that cannot be opened, a
line that is not UTF-8, a NUL byte (a binary file), invalid JSON, ``NaN`` or ``Infinity`` (which
Python's json accepts and JSON does not), a key given twice in one object (json would keep the
last silently), JSON nested too deeply for Python, an integer of more
digits than Python reads (``sys.get_int_max_str_digits()``, 4300) or a decimal a float cannot hold exactly
(write it as a string, ``"0.1000000000000000000001"``, to read it exactly), a line that is not an
object: each is a :class:`~prefix_sched.errors.FormatError` with one line naming the file, the
line and the value. Blank lines are skipped; a UTF-8 byte order mark at the start is allowed.

Writing goes through :func:`~prefix_sched.theory.outputs.write_text` (a temporary file, then a
rename) or to an open text stream (``generate --out -``); only JSON that the readers accept is
written (no NaN, a Fraction as ``"p/q"``).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> stream = Stream.from_records([("a", (("u", 5),), 0), ("b", (("u", 5), ("d", 2)), "1/2")])
>>> write_stream(stream, folder / "s.jsonl")
>>> read_stream(folder / "s.jsonl") == stream
True
>>> _ = (folder / "bad.jsonl").write_text('{"format": "prefix-sched.stream", "version": 1}\\n'
...                                       '{"id": "a", "arrival": NaN, "tokens": [1]}\\n')
>>> read_stream(folder / "bad.jsonl")
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: ...bad.jsonl:2: NaN is not JSON (NaN and infinities are refused)
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from numbers import Integral, Rational
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.cache import DEFAULT_CACHE, parse_cache
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.exact import Exact, brief, exact_number, to_json
from prefix_sched.theory.outputs import write_text
from prefix_sched.theory.prompt import Prompt, check_segment_id, make_prompt, prompt_from_tokens
from prefix_sched.theory.stream import Query, Stream

STREAM_FORMAT = "prefix-sched.stream"
SCHEDULE_FORMAT = "prefix-sched.schedule"
VERSION = 1
MOONCAKE_BLOCK = 512
DEFAULT_TOKENS_PER_MS = 20  # Mooncake milliseconds to token-times: 20k prefill tokens per second
MAX_LINE_BYTES = 1 << 28
"""The longest line (or one-object file) read, 256 MiB: a device or a binary file is refused
instead of read until memory runs out."""
MAX_DEPTH = 32
"""The deepest nesting allowed in free-form fields (``meta``, ``settings``)."""

_STREAM_HEADER = ("format", "version", "meta")
_SCHEDULE_HEADER = ("format", "version", "alpha", "batch_size", "cache", "settings", "stream")
_QUERY_FIELDS = ("id", "arrival", "segments", "tokens", "output_length")
_SCHEDULE_FIELDS = ("position", "id", "arrival", "start", "completion", "ttft", "reused_tokens")
_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


# ---------------------------------------------------------------------------------------------
# Careful reading


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


def _name(path: object) -> str:
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
        raise FormatError(f"cannot read {_name(path)}: {err.strerror or err}") from None
    try:
        with handle:
            yield handle
    except OSError as err:
        raise FormatError(f"cannot read {_name(path)}: {err.strerror or err}") from None


def read_json_lines(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSON Lines file.

    Raises
    ------
    FormatError
        One line naming the file and the line, for every defect listed in the module docstring.
    """
    name = _name(path)
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
            with _located(name, number):
                text = _decode(raw)
                if not text.strip():
                    continue
                record = _parse(text)
                if not isinstance(record, dict):
                    raise FormatError(f"expected a JSON object, got {_JSON_TYPES[type(record)]}: {brief(record)}")
            yield number, record


def read_json_document(path: Path | str) -> object:
    """Read a file holding one JSON value (any layout), with the checks of :func:`read_json_lines`.

    Raises
    ------
    FormatError
        Naming the file and, where the defect has one, the line.
    """
    name = _name(path)
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
def _located(name: str, number: int | None) -> Iterator[None]:
    """Re-raise an input error as a FormatError naming the file and line (None: the whole file)."""
    try:
        yield
    except InputError as err:
        where = name if number is None else f"{name}:{number}"
        raise FormatError(f"{where}: {err}") from None


def _field(record: Mapping[str, Any], name: str) -> Any:
    if name not in record:
        raise FormatError(f"missing field {name!r}")
    return record[name]


def _known_fields(record: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    if record.keys() <= set(known):
        return
    for key in record:
        if key not in known:
            raise FormatError(f"unknown field {brief(key)} in {what} (the fields are {', '.join(known)})")


def _object(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The free-form object ``record[key]`` ({} when absent), checked to be a shallow object."""
    value = record.get(key, {})
    if not isinstance(value, dict):
        raise FormatError(f"field {key!r} must be an object, got {_JSON_TYPES[type(value)]}: {brief(value)}")
    check_nesting(value, f"field {key!r}")
    return value


def _header(lines: Iterator[tuple[int, dict[str, Any]]], name: str, expected: str,
            known: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """The checked first line of a ``expected`` file, and its number."""
    first = next(lines, None)
    if first is None:
        raise FormatError(f"{name}: empty file, expected a {expected} header line")
    number, header = first
    with _located(name, number):
        if "format" not in header:
            raise FormatError(f"the first line must be a {expected} header with a 'format' field, "
                              f"got {brief(header)}")
        if header["format"] != expected:
            raise FormatError(f"expected a {expected} file, got a header with format {brief(header['format'])}")
        version = header.get("version")
        if type(version) is not int or version != VERSION:
            raise FormatError(f"unsupported {expected} version {brief(version)}; this toolkit reads version {VERSION}")
        _known_fields(header, known, f"the {expected} header")
    return number, header


# ---------------------------------------------------------------------------------------------
# Streams


def read_stream(path: Path | str) -> Stream:
    """Read a ``prefix-sched.stream`` JSONL file; every error names the file and line.

    Raises
    ------
    FormatError
        For every defect of the file (module docstring), a query breaking Definition 1 (a
        duplicate id, a negative arrival, an empty prompt), or a segment id given two lengths.
    """
    name = _name(path)
    lines = read_json_lines(path)
    first, header = _header(lines, name, STREAM_FORMAT, _STREAM_HEADER)
    with _located(name, first):
        meta = _object(header, "meta")
    queries: list[Query] = []
    first_line: dict[int | str, int] = {}
    lengths: dict[int | str, tuple[int, int]] = {}
    for number, record in lines:
        with _located(name, number):
            query = _query(record)
            if query.qid in first_line:
                raise FormatError(f"duplicate query id {brief(query.qid)} (first on line {first_line[query.qid]})")
            first_line[query.qid] = number
            _check_lengths(query.prompt, number, lengths)
            queries.append(query)
    with _located(name, None):
        return Stream(tuple(queries), meta)


def _query(record: Mapping[str, Any]) -> Query:
    _known_fields(record, _QUERY_FIELDS, "a query")
    qid = check_segment_id(_field(record, "id"), "query id")
    arrival = exact_number(_field(record, "arrival"), "arrival", minimum=0)
    if ("segments" in record) == ("tokens" in record):
        raise FormatError("a query needs exactly one of 'segments' and 'tokens'")
    kind = "segments" if "segments" in record else "tokens"
    value = record[kind]
    if not isinstance(value, list):
        raise FormatError(f"{kind!r} must be an array, got {_JSON_TYPES[type(value)]}: {brief(value)}")
    where = f"query {brief(qid)}"
    prompt = make_prompt(value, where=where) if kind == "segments" else prompt_from_tokens(value, where=where)
    if not prompt:
        raise FormatError(f"query {brief(qid)}: the prompt is empty")
    return Query(qid, prompt, arrival, _output_length(record))


def _output_length(record: Mapping[str, Any]) -> int | None:
    """The optional ``output_length`` field: a non-negative integer, or None when absent."""
    if "output_length" not in record:
        return None
    value = record["output_length"]
    if type(value) is not int or value < 0:
        raise FormatError(f"output_length must be a non-negative integer, got {brief(value)}")
    return value


def _check_lengths(prompt: Prompt, number: int, seen: dict[int | str, tuple[int, int]]) -> None:
    """One segment id, one length (as Stream checks, but naming the lines)."""
    for sid, length in prompt:
        first = seen.setdefault(sid, (length, number))
        if first[0] != length:
            raise FormatError(f"segment id {brief(sid)} has length {length} here but {first[0]} on line "
                              f"{first[1]}; one id must denote one token sequence")


def write_stream(stream: Stream, path: Path | str | TextIO, *, option: str = "--out") -> None:
    """Write ``stream`` as a ``prefix-sched.stream`` JSONL file (byte-identical for equal input).

    ``path`` is a file path (written atomically) or an open text stream; ``option`` names the
    output in error messages.

    Raises
    ------
    OutputError
        If the file cannot be written.
    InputError
        If the stream's ``meta`` holds a value JSON cannot carry.
    """
    lines = [_dumps({"format": STREAM_FORMAT, "version": VERSION, "meta": dict(stream.meta)}, option,
                    "the stream's meta", sort_keys=True)]
    for query in stream.queries:
        record = {"id": query.qid, "arrival": to_json(query.arrival),
                  "segments": [[sid, length] for sid, length in query.prompt]}
        if query.output_length is not None:
            record["output_length"] = query.output_length
        lines.append(json.dumps(record))
    _write(path, lines, option)


def _json_value(value: object) -> object:
    """json's ``default``: exact numbers as the readers read them, an Enum as its value."""
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Rational):
        return to_json(Fraction(value))
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{brief(value)} of type {type(value).__name__} is not JSON")


def _dumps(record: Mapping[str, Any], option: str, what: str, *, sort_keys: bool = False) -> str:
    try:
        return json.dumps(record, sort_keys=sort_keys, allow_nan=False, default=_json_value)
    except (TypeError, ValueError, RecursionError) as err:
        raise InputError(f"{option}: cannot write {what}: {err}") from None


def _write(path: Path | str | TextIO, lines: list[str], option: str) -> None:
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
    else:
        write_text(path, text, option)


# ---------------------------------------------------------------------------------------------
# Schedules


def write_schedule(
    stream: Stream, evaluation: Evaluation, path: Path | str | TextIO, settings: Mapping[str, Any] | None = None,
    *, option: str = "--out",
) -> None:
    """Write the evaluated order, one line per position, after a header with ``settings``.

    The header records the cache model of ``evaluation`` (``"cache"``), and every line its
    ``reused_tokens`` under that model. ``path`` and ``option`` as in :func:`write_stream`; a
    value in ``settings`` JSON cannot carry is an InputError.
    """
    header = {
        "format": SCHEDULE_FORMAT, "version": VERSION, "alpha": to_json(evaluation.alpha),
        "batch_size": evaluation.batch_size, "cache": evaluation.cache, "settings": dict(settings or {}),
        "stream": dict(stream.meta),
    }
    lines = [_dumps(header, option, "the schedule's settings", sort_keys=True)]
    for position, index in enumerate(evaluation.order):
        query = stream.queries[index]
        lines.append(json.dumps({
            "position": position, "id": query.qid, "arrival": to_json(query.arrival),
            "start": to_json(evaluation.start[position]), "completion": to_json(evaluation.completion[position]),
            "ttft": to_json(evaluation.ttft[position]), "reused_tokens": evaluation.reused[position],
        }))
    _write(path, lines, option)


@dataclass(frozen=True)
class ScheduleFile:
    """What a schedule file says: the order (indices into the stream) and the cache model.

    Attributes
    ----------
    order : list of int
        Query indices by ``position``.
    cache : str
        The header's cache spec, checked by :func:`~prefix_sched.theory.cache.parse_cache`
        (``"last"`` when the header has none).
    cache_recorded : bool
        Whether the header names the cache model (files written before it did are ``last``).
    """

    order: list[int]
    cache: str
    cache_recorded: bool


def read_schedule(path: Path | str, stream: Stream) -> ScheduleFile:
    """Read a schedule file: its order as indices into ``stream``, by ``position``, and its cache model.

    Only the order and the cache model are taken from the file; times in it must be numbers but
    are recomputed by the evaluator.

    Raises
    ------
    FormatError
        For every defect of the file; a header ``cache`` that is not a cache spec; a position that
        is not an integer in ``0 .. n-1`` or is given twice; an id that is not in ``stream`` or is
        given twice; a query of ``stream`` that is not listed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from prefix_sched.theory.evaluator import evaluate
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.jsonl"
    >>> stream = Stream.from_records([("a", (("u", 5),), 0), ("b", (("u", 5), ("d", 2)), 0)])
    >>> write_schedule(stream, evaluate(stream, [1, 0], cache="lru:10"), path)
    >>> read_schedule(path, stream)
    ScheduleFile(order=[1, 0], cache='lru:10', cache_recorded=True)
    """
    name = _name(path)
    lines = read_json_lines(path)
    first, header = _header(lines, name, SCHEDULE_FORMAT, _SCHEDULE_HEADER)
    with _located(name, first):
        cache = _schedule_header(header)
    n = stream.n
    at: dict[int, tuple[int, int]] = {}  # position -> (query index, line)
    line_of: dict[int, int] = {}  # query index -> line
    for number, record in lines:
        with _located(name, number):
            position, index = _schedule_line(record, stream)
            if position in at:
                raise FormatError(f"position {position} is given twice (first on line {at[position][1]})")
            if index in line_of:
                raise FormatError(f"query id {brief(stream.queries[index].qid)} is listed twice "
                                  f"(first on line {line_of[index]})")
            at[position] = index, number
            line_of[index] = number
    if len(at) != n:
        missing = [stream.queries[i].qid for i in range(n) if i not in line_of]
        raise FormatError(f"{name}: the schedule lists {len(at)} of the stream's {n} queries; "
                          f"not listed: query ids {brief(missing)}")
    return ScheduleFile([at[position][0] for position in range(n)], cache, "cache" in header)


def read_schedule_order(path: Path | str, stream: Stream) -> list[int]:
    """The order of :func:`read_schedule` (indices into ``stream`` by position), the cache model dropped."""
    return read_schedule(path, stream).order


def _schedule_header(header: Mapping[str, Any]) -> str:
    """Check the header's fields; return its cache spec (``"last"`` when absent)."""
    cache = header.get("cache", DEFAULT_CACHE)
    try:
        spec = parse_cache(cache).spec
    except InputError as err:
        raise FormatError(f"header field 'cache': {err}") from None
    if "alpha" in header:
        exact_number(header["alpha"], "alpha", minimum=0)
    if "batch_size" in header:
        size = header["batch_size"]
        if type(size) is not int or size < 1:
            raise FormatError(f"batch_size must be an integer >= 1, got {brief(size)}")
    _object(header, "settings")
    _object(header, "stream")
    return spec


def _schedule_line(record: Mapping[str, Any], stream: Stream) -> tuple[int, int]:
    _known_fields(record, _SCHEDULE_FIELDS, "a schedule line")
    position = _field(record, "position")
    if type(position) is not int or not 0 <= position < stream.n:
        raise FormatError(f"position must be an integer 0..{stream.n - 1} (the stream has {stream.n} queries), "
                          f"got {brief(position)}")
    index = stream.index_of(check_segment_id(_field(record, "id"), "query id"))
    for key in ("arrival", "start", "completion", "ttft"):
        if key in record:
            exact_number(record[key], key, minimum=0)
    reused = record.get("reused_tokens", 0)
    if type(reused) is not int or reused < 0:
        raise FormatError(f"reused_tokens must be an integer >= 0, got {brief(reused)}")
    return position, index


# ---------------------------------------------------------------------------------------------
# Mooncake traces


def read_mooncake(path: Path | str, tokens_per_ms: object, limit: int | None = None) -> Stream:
    """Read a Mooncake trace: each line's ``hash_ids`` become 512-token segments (the last one
    ``input_length - 512 (len - 1)`` tokens), its ``timestamp`` (ms) times ``tokens_per_ms`` the
    arrival in token-times. Query ids are ``m{line}`` (1-based line numbers).

    ``limit`` (a positive integer, or None for all) reads only the first ``limit`` requests.

    Raises
    ------
    FormatError
        If the file cannot be read (module docstring), a line lacks a field, a hash id is not a
        string or an integer, ``len(hash_ids) != ceil(input_length / 512)``, or one hash id stands
        for blocks of two lengths, or an ``output_length`` given is not a non-negative integer.
    InputError
        If ``tokens_per_ms`` is not a number > 0 or ``limit`` not a positive integer.
    """
    rate = exact_number(tokens_per_ms, "tokens per ms")
    if rate <= 0:
        raise InputError(f"tokens per ms must be > 0, got {brief(tokens_per_ms)}")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise InputError(f"limit must be a positive integer (or None for the whole trace), got {brief(limit)}")
    name = _name(path)
    queries = []
    lengths: dict[int | str, tuple[int, int]] = {}
    for number, record in read_json_lines(path):
        if limit is not None and len(queries) >= limit:
            break
        with _located(name, number):
            if "format" in record:
                raise FormatError(f"a header with format {brief(record['format'])}: a prefix-sched file, "
                                  "not a Mooncake trace")
            query = _mooncake_query(record, number, rate)
            _check_lengths(query.prompt, number, lengths)
            queries.append(query)
    if not queries:
        raise FormatError(f"{name}: no requests in the trace")
    meta = {"generator": "mooncake", "source": Path(path).name, "tokens_per_ms": to_json(rate)}
    with _located(name, None):
        return Stream(tuple(queries), meta)


def _mooncake_query(record: Mapping[str, Any], number: int, rate: Exact) -> Query:
    timestamp = exact_number(_field(record, "timestamp"), "timestamp", minimum=0)
    length = _field(record, "input_length")
    hashes = _field(record, "hash_ids")
    if type(length) is not int or length <= 0:
        raise FormatError(f"input_length must be a positive integer, got {brief(length)}")
    blocks = -(-length // MOONCAKE_BLOCK)
    if not isinstance(hashes, list) or len(hashes) != blocks:
        raise FormatError(f"hash_ids must list ceil(input_length / {MOONCAKE_BLOCK}) = {blocks} blocks, "
                          f"got {brief(hashes)}")
    last = length - MOONCAKE_BLOCK * (blocks - 1)
    segments = [(h, MOONCAKE_BLOCK) for h in hashes[:-1]] + [(hashes[-1], last)]
    return Query(f"m{number}", make_prompt(segments, where="hash_ids"), timestamp * rate, _output_length(record))
