"""Serving result files: per-request token times (``--out``) and per-iteration batches (``--batches``).

Serving file (``prefix-sched.serving``, version 2): a header with every setting (scheduler, order,
budget, cost with its preset and source, memory, max_num_seqs, workload provenance: trace,
format, arrivals process, rate, seed, classes; the time unit and ``ticks_per_us``; the preemption
rule) and the summary, then one line per request, in the workload's order::

    {"format": "prefix-sched.serving", "version": 1, "time_unit": "us", "settings": {...}, "summary": {...}}
    {"id": 2, "class": "relaxed", "arrival_us": 625000, "prompt_tokens": 74, "output_tokens": 918,
     "tbt_slo_us": 500000, "first_scheduled_us": 625000, "ttft_us": 20302.4,
     "token_times_us": [645302.4, ...], "preemptions": 0, "engine": 0, "cached_tokens": 0}

``engine`` is the engine that served the request (0 with one engine) and ``cached_tokens`` the
prompt tokens it found in the engine's prefix cache when admitted (0 without a cache); version 1
files (before these two fields) are still read.

Batches file (``prefix-sched.batches``, version 2): the same header, then one line per iteration
(with many engines, every engine's iterations by start time, ties by engine)::

    {"iteration": 0, "start_us": 0, "end_us": 44588.8, "prefill_tokens": 512, "decode_tokens": 0, "requests": 1,
     "engine": 0}

Times are exact microseconds: an integer, a decimal when the tick ``1 / D`` us is a finite decimal
(``D`` divides a power of 10; read back exactly by the toolkit's readers, ``0.2`` is ``1/5``; written
as a string past 15 significant digits, where a float would not hold it), else a ``"p/q"`` string.
Files are written through :func:`~prefix_sched.theory.outputs.write_text` (checked path, temporary
file, rename).

Examples
--------
>>> us_text([0, 7, 12], 5)
['0', '1.4', '2.4']
>>> us_text([1, 2], 3)
['"1/3"', '"2/3"']
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from prefix_sched.errors import FormatError
from prefix_sched.theory.formats import read_json_lines
from prefix_sched.theory.numbers import to_json
from prefix_sched.theory.outputs import write_text
from prefix_sched.theory.serving.measures import BatchLog, Timeline

SERVING_FORMAT = "prefix-sched.serving"
BATCHES_FORMAT = "prefix-sched.batches"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def _decimal_places(D: int) -> int | None:
    """The least ``k`` with ``D | 10^k``, or None."""
    for k in range(0, 40):
        if 10 ** k % D == 0:
            return k
    return None


def us_text(ticks: Sequence[int] | np.ndarray, D: int) -> list[str]:
    """JSON texts of ``ticks / D`` microseconds, exactly (see the module docstring)."""
    values = np.asarray(ticks, dtype=np.int64)
    if D == 1:
        return [str(v) for v in values.tolist()]
    k = _decimal_places(D)
    if k is None:
        return [f'"{Fraction(int(v), D).numerator}/{Fraction(int(v), D).denominator}"'
                if Fraction(int(v), D).denominator != 1 else str(int(v) // D) for v in values.tolist()]
    scaled = values * (10 ** k // D)
    whole, part = np.divmod(np.abs(scaled), 10 ** k)
    sign = np.where(scaled < 0, "-", "")
    out = []
    for s, w, p in zip(sign.tolist(), whole.tolist(), part.tolist()):
        if p == 0:
            out.append(f"{s}{w}")
            continue
        text = f"{s}{w}.{p:0{k}d}".rstrip("0")
        # a JSON number is read as a float first: past 15 significant digits write the decimal as a string
        out.append(text if len(text) - 1 - (s == "-") <= 15 else f'"{text}"')
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, Fraction):
        return to_json(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _header(kind: str, settings: Mapping[str, Any], summary: Mapping[str, Any] | None,
            engines: Sequence[Mapping[str, Any]] | None = None) -> str:
    record: dict[str, Any] = {"format": kind, "version": VERSION, "time_unit": "us",
                              "settings": _json_value(dict(settings))}
    if summary is not None:
        record["summary"] = _json_value(dict(summary))
    if engines is not None:
        record["engines"] = _json_value(list(engines))
    return json.dumps(record)


def serving_lines(timeline: Timeline, settings: Mapping[str, Any], summary: Mapping[str, Any] | None = None,
                  engines: Sequence[Mapping[str, Any]] | None = None) -> Iterator[str]:
    """The lines of a serving file (header first; with ``engines``, the per-engine figures of
    :func:`~prefix_sched.theory.serving.measures.engine_rows` in the header too)."""
    yield _header(SERVING_FORMAT, settings, summary, engines)
    D = timeline.ticks_per_us
    arrival = us_text(timeline.arrival, D)
    first = us_text(timeline.first_scheduled, D)
    ttft = us_text(timeline.ttft(), D)
    times = us_text(timeline.token_times, D)
    offsets = timeline.offsets.tolist()
    engine = timeline.engine.tolist()
    cached = timeline.cached_tokens.tolist()
    for i, r in enumerate(timeline.workload.requests):
        slo = "null" if r.tbt_slo_us is None else json.dumps(to_json(r.tbt_slo_us))
        yield (f'{{"id": {json.dumps(r.rid)}, "class": {json.dumps(r.cls)}, "arrival_us": {arrival[i]}, '
               f'"prompt_tokens": {r.prompt_tokens}, "output_tokens": {r.output_tokens}, "tbt_slo_us": {slo}, '
               f'"first_scheduled_us": {first[i]}, "ttft_us": {ttft[i]}, '
               f'"token_times_us": [{", ".join(times[offsets[i]:offsets[i + 1]])}], '
               f'"preemptions": {int(timeline.preemptions[i])}, "engine": {int(engine[i])}, '
               f'"cached_tokens": {int(cached[i])}}}')


def write_serving(path: Path | str, timeline: Timeline, settings: Mapping[str, Any],
                  summary: Mapping[str, Any] | None = None, option: str = "--out",
                  engines: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Write a serving file atomically."""
    write_text(path, "\n".join(serving_lines(timeline, settings, summary, engines)) + "\n", option)


def batch_lines(log: BatchLog, D: int, settings: Mapping[str, Any]) -> Iterator[str]:
    yield _header(BATCHES_FORMAT, settings, None)
    start, end = us_text(log.start, D), us_text(log.end, D)
    prefill, decode, requests = log.prefill_tokens.tolist(), log.decode_tokens.tolist(), log.requests.tolist()
    engine = log.engine.tolist()
    for k in range(log.iterations):
        yield (f'{{"iteration": {k}, "start_us": {start[k]}, "end_us": {end[k]}, "prefill_tokens": {prefill[k]}, '
               f'"decode_tokens": {decode[k]}, "requests": {requests[k]}, "engine": {engine[k]}}}')


def write_batches(path: Path | str, log: BatchLog, D: int, settings: Mapping[str, Any],
                  option: str = "--batches") -> None:
    """Write a batches file atomically."""
    write_text(path, "\n".join(batch_lines(log, D, settings)) + "\n", option)


def read_serving(path: Path | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read a serving or batches file: (header, records); numbers read exactly (decimals as Fractions
    by :func:`~prefix_sched.theory.formats.read_json_lines`)."""
    lines = read_json_lines(path)
    try:
        _, header = next(lines)
    except StopIteration:
        raise FormatError(f"{Path(path).name}: the file is empty") from None
    if header.get("format") not in (SERVING_FORMAT, BATCHES_FORMAT) or header.get("version") not in READABLE_VERSIONS:
        raise FormatError(f"{Path(path).name}:1: not a {SERVING_FORMAT} or {BATCHES_FORMAT} file of version "
                          f"{' or '.join(map(str, READABLE_VERSIONS))}: {header.get('format')!r} "
                          f"{header.get('version')!r}")
    return header, [record for _, record in lines]

