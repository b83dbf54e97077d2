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
from pathlib import Path
from typing import Any, TextIO

from prefix_sched.errors import FormatError, InputError, PrefixSchedError
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.exact import exact_number, to_json
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


def _check_header(path: Path | str, number: int, record: Mapping[str, Any], expected: str) -> None:
    if record.get("format") != expected:
        raise FormatError(f"{path}:{number}: expected a header with format {expected!r}, got {record.get('format')!r}")
    if record.get("version") != VERSION:
        raise FormatError(f"{path}:{number}: unsupported {expected} version {record.get('version')!r}; this toolkit reads version {VERSION}")


def _field(path: Path | str, number: int, record: Mapping[str, Any], name: str) -> Any:
    if name not in record:
        raise FormatError(f"{path}:{number}: missing field {name!r}")
    return record[name]


def read_stream(path: Path | str) -> Stream:
    """Read a ``prefix-sched.stream`` JSONL file; every error names the file and line."""
    lines = _lines(path)
    try:
        number, header = next(lines)
    except StopIteration:
        raise FormatError(f"{path}: empty file, expected a {STREAM_FORMAT} header") from None
    _check_header(path, number, header, STREAM_FORMAT)
    queries = []
    for number, record in lines:
        try:
            qid = _field(path, number, record, "id")
            arrival = exact_number(_field(path, number, record, "arrival"), "arrival", minimum=0)
            if ("segments" in record) == ("tokens" in record):
                raise FormatError("a query needs exactly one of 'segments' and 'tokens'")
            if "segments" in record:
                if not isinstance(record["segments"], list):
                    raise FormatError(f"'segments' must be a list, got {record['segments']!r}")
                prompt = make_prompt(record["segments"])
            else:
                if not isinstance(record["tokens"], list):
                    raise FormatError(f"'tokens' must be a list, got {record['tokens']!r}")
                prompt = prompt_from_tokens(record["tokens"])
            if not prompt:
                raise FormatError(f"query {qid!r}: the prompt is empty")
            queries.append(Query(qid, prompt, arrival))
        except FormatError as err:
            if str(err).startswith(str(path)):
                raise
            raise FormatError(f"{path}:{number}: {err}") from err
        except InputError as err:
            raise FormatError(f"{path}:{number}: {err}") from err
    try:
        return Stream(tuple(queries), header.get("meta") or {})
    except PrefixSchedError as err:
        raise FormatError(f"{path}: {err}") from err


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
    lines = _lines(path)
    try:
        number, header = next(lines)
    except StopIteration:
        raise FormatError(f"{path}: empty file, expected a {SCHEDULE_FORMAT} header") from None
    _check_header(path, number, header, SCHEDULE_FORMAT)
    order = []
    for number, record in lines:
        qid = _field(path, number, record, "id")
        try:
            order.append(stream.index_of(qid))
        except InputError as err:
            raise FormatError(f"{path}:{number}: {err}") from err
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
        try:
            timestamp = exact_number(_field(path, number, record, "timestamp"), "timestamp", minimum=0)
            length = _field(path, number, record, "input_length")
            hashes = _field(path, number, record, "hash_ids")
            if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
                raise FormatError(f"input_length must be a positive integer, got {length!r}")
            if not isinstance(hashes, list) or len(hashes) != math.ceil(length / MOONCAKE_BLOCK):
                raise FormatError(
                    f"hash_ids must list ceil(input_length / {MOONCAKE_BLOCK}) = "
                    f"{math.ceil(length / MOONCAKE_BLOCK)} blocks, got {hashes!r:.80}"
                )
            last = length - MOONCAKE_BLOCK * (len(hashes) - 1)
            segments = [[h, MOONCAKE_BLOCK] for h in hashes[:-1]] + [[hashes[-1], last]]
            queries.append(Query(f"m{number}", make_prompt(segments), timestamp * rate))
        except FormatError as err:
            if str(err).startswith(str(path)):
                raise
            raise FormatError(f"{path}:{number}: {err}") from err
        except InputError as err:
            raise FormatError(f"{path}:{number}: {err}") from err
    if not queries:
        raise FormatError(f"{path}: no requests in the trace")
    meta = {"generator": "mooncake", "source": Path(path).name, "tokens_per_ms": to_json(rate)}
    try:
        return Stream(tuple(queries), meta)
    except PrefixSchedError as err:
        raise FormatError(f"{path}: {err}") from err
