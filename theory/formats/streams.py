"""Stream files (``prefix-sched.stream``, version 1): one query per line after a versioned header.

::

    {"format": "prefix-sched.stream", "version": 1, "meta": {...}}
    {"id": "q0", "arrival": 0, "segments": [["u3", 1000], ["d17", 100]]}
    {"id": "q1", "arrival": "5/2", "tokens": [101, 7, 7], "output_length": 40}

A query gives its prompt as ``segments`` (pairs ``[id, length]``) or ``tokens`` (one segment per
token), and optionally ``output_length``, the tokens it will generate (a non-negative integer;
absent means unknown; the evaluator does not use it). Ids, segment ids and tokens are strings or
integers (never ``true``, ``1.0`` or ``null``: see :mod:`~prefix_sched.theory.prompt`). Numbers
are exact: an int, a ratio string ``"p/q"``, or a decimal, read exactly as written. Every read
error names the file, the line and the value (:mod:`~prefix_sched.theory.formats.jsonio`).

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from prefix_sched.theory.formats.jsonio import (
    JSON_TYPES,
    VERSION,
    dumps_line,
    json_object,
    known_fields,
    located,
    read_header,
    read_json_lines,
    required_field,
    source_name,
    write_lines,
)
from prefix_sched.theory.numbers import brief, exact_number, to_json
from prefix_sched.theory.prompt import Prompt, check_segment_id, make_prompt, prompt_from_tokens
from prefix_sched.theory.stream import Query, Stream

from prefix_sched.errors import FormatError

STREAM_FORMAT = "prefix-sched.stream"
_STREAM_HEADER = ("format", "version", "meta")
_QUERY_FIELDS = ("id", "arrival", "segments", "tokens", "output_length")


def read_stream(path: Path | str) -> Stream:
    """Read a ``prefix-sched.stream`` JSONL file; every error names the file and line.

    Raises
    ------
    FormatError
        For every defect of the file (module docstring), a query breaking Definition 1 (a
        duplicate id, a negative arrival, an empty prompt), or a segment id given two lengths.
    """
    name = source_name(path)
    lines = read_json_lines(path)
    first, header = read_header(lines, name, STREAM_FORMAT, _STREAM_HEADER)
    with located(name, first):
        meta = json_object(header, "meta")
    queries: list[Query] = []
    first_line: dict[int | str, int] = {}
    lengths: dict[int | str, tuple[int, int]] = {}
    for number, record in lines:
        with located(name, number):
            query = _query(record)
            if query.qid in first_line:
                raise FormatError(f"duplicate query id {brief(query.qid)} (first on line {first_line[query.qid]})")
            first_line[query.qid] = number
            check_lengths(query.prompt, number, lengths)
            queries.append(query)
    with located(name, None):
        return Stream(tuple(queries), meta)


def _query(record: Mapping[str, Any]) -> Query:
    known_fields(record, _QUERY_FIELDS, "a query")
    qid = check_segment_id(required_field(record, "id"), "query id")
    arrival = exact_number(required_field(record, "arrival"), "arrival", minimum=0)
    if ("segments" in record) == ("tokens" in record):
        raise FormatError("a query needs exactly one of 'segments' and 'tokens'")
    kind = "segments" if "segments" in record else "tokens"
    value = record[kind]
    if not isinstance(value, list):
        raise FormatError(f"{kind!r} must be an array, got {JSON_TYPES[type(value)]}: {brief(value)}")
    where = f"query {brief(qid)}"
    prompt = make_prompt(value, where=where) if kind == "segments" else prompt_from_tokens(value, where=where)
    if not prompt:
        raise FormatError(f"query {brief(qid)}: the prompt is empty")
    return Query(qid, prompt, arrival, output_length(record))


def output_length(record: Mapping[str, Any]) -> int | None:
    """The optional ``output_length`` field: a non-negative integer, or None when absent."""
    if "output_length" not in record:
        return None
    value = record["output_length"]
    if type(value) is not int or value < 0:
        raise FormatError(f"output_length must be a non-negative integer, got {brief(value)}")
    return value


def check_lengths(prompt: Prompt, number: int, seen: dict[int | str, tuple[int, int]]) -> None:
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
    lines = [dumps_line({"format": STREAM_FORMAT, "version": VERSION, "meta": dict(stream.meta)}, option,
                    "the stream's meta", sort_keys=True)]
    for query in stream.queries:
        record = {"id": query.qid, "arrival": to_json(query.arrival),
                  "segments": [[sid, length] for sid, length in query.prompt]}
        if query.output_length is not None:
            record["output_length"] = query.output_length
        lines.append(json.dumps(record))
    write_lines(path, lines, option)
