"""Schedule files (``prefix-sched.schedule``, version 1): an order with its evaluated times.

A header with the policy or solver, its settings and the cache model the times were computed under
(``cache``: a spec for :func:`~prefix_sched.theory.cache.parse_cache`; a file without it is
``last``, Definition 2), then one line per position of the order::

    {"format": "prefix-sched.schedule", "version": 1, "alpha": 0, "batch_size": 1, "cache": "last", ...}
    {"position": 0, "id": "q0", "arrival": 0, "start": 0, "completion": 10, "ttft": 10, "reused_tokens": 0}

The order is by ``position`` (the line order does not matter): the positions are ``0 .. n-1``,
each once, and every query of the stream is listed once. Times in the file are checked to be
numbers and otherwise ignored: the evaluator recomputes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from prefix_sched.theory.cache import DEFAULT_CACHE, parse_cache
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.formats.jsonio import (
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
from prefix_sched.theory.prompt import check_segment_id
from prefix_sched.theory.stream import Stream

from prefix_sched.errors import FormatError, InputError

SCHEDULE_FORMAT = "prefix-sched.schedule"
_SCHEDULE_HEADER = ("format", "version", "alpha", "batch_size", "cache", "settings", "stream")
_SCHEDULE_FIELDS = ("position", "id", "arrival", "start", "completion", "ttft", "reused_tokens")


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
    lines = [dumps_line(header, option, "the schedule's settings", sort_keys=True)]
    for position, index in enumerate(evaluation.order):
        query = stream.queries[index]
        lines.append(json.dumps({
            "position": position, "id": query.qid, "arrival": to_json(query.arrival),
            "start": to_json(evaluation.start[position]), "completion": to_json(evaluation.completion[position]),
            "ttft": to_json(evaluation.ttft[position]), "reused_tokens": evaluation.reused[position],
        }))
    write_lines(path, lines, option)


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
    name = source_name(path)
    lines = read_json_lines(path)
    first, header = read_header(lines, name, SCHEDULE_FORMAT, _SCHEDULE_HEADER)
    with located(name, first):
        cache = _schedule_header(header)
    n = stream.n
    at: dict[int, tuple[int, int]] = {}  # position -> (query index, line)
    line_of: dict[int, int] = {}  # query index -> line
    for number, record in lines:
        with located(name, number):
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
    json_object(header, "settings")
    json_object(header, "stream")
    return spec


def _schedule_line(record: Mapping[str, Any], stream: Stream) -> tuple[int, int]:
    known_fields(record, _SCHEDULE_FIELDS, "a schedule line")
    position = required_field(record, "position")
    if type(position) is not int or not 0 <= position < stream.n:
        raise FormatError(f"position must be an integer 0..{stream.n - 1} (the stream has {stream.n} queries), "
                          f"got {brief(position)}")
    index = stream.index_of(check_segment_id(required_field(record, "id"), "query id"))
    for key in ("arrival", "start", "completion", "ttft"):
        if key in record:
            exact_number(record[key], key, minimum=0)
    reused = record.get("reused_tokens", 0)
    if type(reused) is not int or reused < 0:
        raise FormatError(f"reused_tokens must be an integer >= 0, got {brief(reused)}")
    return position, index
