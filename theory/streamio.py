"""Versioned JSONL files for streams and schedules, and the Mooncake trace reader.

Stream file (``prefix-sched.stream``, version 1)::

    {"format": "prefix-sched.stream", "version": 1, "meta": {...}}
    {"id": "q0", "arrival": 0, "segments": [["u3", 1000], ["d17", 100]]}
    {"id": "q1", "arrival": "5/2", "tokens": [101, 7, 7]}

A query gives its prompt as ``segments`` (pairs ``[id, length]``) or ``tokens`` (one segment per
token). Numbers are exact: an int, a ratio string ``"p/q"``, or a decimal (read as printed).

Schedule file (``prefix-sched.schedule``, version 1): a header with the policy or solver and its
settings, then one line per position of the order::

    {"format": "prefix-sched.schedule", "version": 1, "alpha": 0, "batch_size": 1, ...}
    {"position": 0, "id": "q0", "arrival": 0, "start": 0, "completion": 10, "ttft": 10, "reused_tokens": 0}

Mooncake traces (``timestamp`` in ms, ``input_length``, ``hash_ids`` of 512-token blocks) are read
by :func:`read_mooncake`; times are converted to token-times with ``tokens_per_ms``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.exact import Exact, exact_number, to_json
from prefix_sched.theory.prompt import make_prompt, prompt_from_tokens
from prefix_sched.theory.stream import Query, Stream

STREAM_FORMAT = "prefix-sched.stream"
SCHEDULE_FORMAT = "prefix-sched.schedule"
VERSION = 1
MOONCAKE_BLOCK = 512


def _lines(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise FormatError(f"cannot read {path}: {err.strerror}") from err
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise FormatError(f"{path}:{number}: not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise FormatError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def _with_header(path: Path | str, expected: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The lines after a checked ``expected`` header; the header itself is yielded first."""
    lines = _lines(path)
    try:
        number, header = next(lines)
    except StopIteration:
        raise FormatError(f"{path}: empty file, expected a {expected} header") from None
    if header.get("format") != expected:
        raise FormatError(f"{path}:{number}: expected a header with format {expected!r}, got {header.get('format')!r}")
    if header.get("version") != VERSION:
        raise FormatError(f"{path}:{number}: unsupported {expected} version {header.get('version')!r}; "
                          f"this toolkit reads version {VERSION}")
    yield number, header
    yield from lines


@contextmanager
def _located(path: Path | str, number: int | None) -> Iterator[None]:
    """Re-raise an input error as a FormatError naming the file and line (None: the whole file)."""
    try:
        yield
    except InputError as err:
        where = path if number is None else f"{path}:{number}"
        raise FormatError(f"{where}: {err}") from err


def _field(record: Mapping[str, Any], name: str) -> Any:
    if name not in record:
        raise FormatError(f"missing field {name!r}")
    return record[name]


def read_stream(path: Path | str) -> Stream:
    """Read a ``prefix-sched.stream`` JSONL file; every error names the file and line."""
    lines = _with_header(path, STREAM_FORMAT)
    _, header = next(lines)
    queries = []
    for number, record in lines:
        with _located(path, number):
            queries.append(_query(record))
    with _located(path, None):
        return Stream(tuple(queries), header.get("meta") or {})


def _query(record: Mapping[str, Any]) -> Query:
    qid = _field(record, "id")
    arrival = exact_number(_field(record, "arrival"), "arrival", minimum=0)
    if ("segments" in record) == ("tokens" in record):
        raise FormatError("a query needs exactly one of 'segments' and 'tokens'")
    kind = "segments" if "segments" in record else "tokens"
    if not isinstance(record[kind], list):
        raise FormatError(f"{kind!r} must be a list, got {record[kind]!r}")
    prompt = make_prompt(record[kind]) if kind == "segments" else prompt_from_tokens(record[kind])
    if not prompt:
        raise FormatError(f"query {qid!r}: the prompt is empty")
    return Query(qid, prompt, arrival)


def write_stream(stream: Stream, path: Path | str | TextIO) -> None:
    """Write ``stream`` as a ``prefix-sched.stream`` JSONL file (byte-identical for equal input)."""
    lines = [json.dumps({"format": STREAM_FORMAT, "version": VERSION, "meta": dict(stream.meta)}, sort_keys=True)]
    for query in stream.queries:
        lines.append(json.dumps({
            "id": query.qid, "arrival": to_json(query.arrival),
            "segments": [[sid, length] for sid, length in query.prompt],
        }))
    _write(path, lines)


def _write(path: Path | str | TextIO, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def write_schedule(
    stream: Stream, evaluation: Evaluation, path: Path | str | TextIO, settings: Mapping[str, Any] | None = None
) -> None:
    """Write the evaluated order, one line per position, after a header with ``settings``."""
    header = {
        "format": SCHEDULE_FORMAT, "version": VERSION, "alpha": to_json(evaluation.alpha),
        "batch_size": evaluation.batch_size, "settings": dict(settings or {}), "stream": dict(stream.meta),
    }
    lines = [json.dumps(header, sort_keys=True)]
    for position, index in enumerate(evaluation.order):
        query = stream.queries[index]
        lines.append(json.dumps({
            "position": position, "id": query.qid, "arrival": to_json(query.arrival),
            "start": to_json(evaluation.start[position]), "completion": to_json(evaluation.completion[position]),
            "ttft": to_json(evaluation.ttft[position]), "reused_tokens": evaluation.reused[position],
        }))
    _write(path, lines)


def read_schedule_order(path: Path | str, stream: Stream) -> list[int]:
    """Read a schedule file's order (by query id) as indices into ``stream``.

    Only the order is taken from the file; times in it are recomputed by the evaluator.
    """
    lines = _with_header(path, SCHEDULE_FORMAT)
    next(lines)
    order = []
    for number, record in lines:
        with _located(path, number):
            order.append(stream.index_of(_field(record, "id")))
    return order


def read_mooncake(path: Path | str, tokens_per_ms: object, limit: int | None = None) -> Stream:
    """Read a Mooncake trace: each line's ``hash_ids`` become 512-token segments (the last one
    ``input_length - 512 (len - 1)`` tokens), its ``timestamp`` (ms) times ``tokens_per_ms`` the
    arrival in token-times. Query ids are ``m{line}`` (1-based line numbers).

    Raises
    ------
    FormatError
        If a line lacks a field, or ``len(hash_ids) != ceil(input_length / 512)``.
    """
    rate = exact_number(tokens_per_ms, "tokens per ms")
    if rate <= 0:
        raise InputError(f"tokens per ms must be > 0, got {tokens_per_ms!r}")
    queries = []
    for number, record in _lines(path):
        if limit is not None and len(queries) >= limit:
            break
        with _located(path, number):
            queries.append(_mooncake_query(record, number, rate))
    if not queries:
        raise FormatError(f"{path}: no requests in the trace")
    meta = {"generator": "mooncake", "source": Path(path).name, "tokens_per_ms": to_json(rate)}
    with _located(path, None):
        return Stream(tuple(queries), meta)


def _mooncake_query(record: Mapping[str, Any], number: int, rate: Exact) -> Query:
    timestamp = exact_number(_field(record, "timestamp"), "timestamp", minimum=0)
    length = _field(record, "input_length")
    hashes = _field(record, "hash_ids")
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise FormatError(f"input_length must be a positive integer, got {length!r}")
    blocks = math.ceil(length / MOONCAKE_BLOCK)
    if not isinstance(hashes, list) or len(hashes) != blocks:
        raise FormatError(f"hash_ids must list ceil(input_length / {MOONCAKE_BLOCK}) = {blocks} blocks, "
                          f"got {hashes!r:.80}")
    last = length - MOONCAKE_BLOCK * (blocks - 1)
    segments = [[h, MOONCAKE_BLOCK] for h in hashes[:-1]] + [[hashes[-1], last]]
    return Query(f"m{number}", make_prompt(segments), timestamp * rate)
