"""Reading serving workloads: the ShareGPT length CSV, the Azure LLM inference CSV, stream files and
Mooncake traces, with arrivals (given, rescaled, or generated) and objective classes.

Formats (``--format``):

- ``sharegpt``: the seed's length trace (``num_prefill_tokens,num_decode_tokens,...``; columns found
  by name); no timestamps, so arrivals are generated (:mod:`.arrivals`) at ``rate``. Request ids are
  the 1-based data line numbers.
- ``azure``: the Azure LLM inference trace 2023 (``TIMESTAMP,ContextTokens,GeneratedTokens``);
  timestamps have 100 ns digits and are read exactly, relative to the first request; with ``rate``
  they are rescaled to it (:func:`~.arrivals.rescale_to_rate`), else kept (rounded to the nearest
  microsecond, ties up). Ids are the line numbers.
- ``stream``: a prefix-sched stream file (its ``arrival`` read as microseconds; every query needs an
  ``output_length >= 1``); prompts keep their segments.
- ``mooncake``: a Mooncake trace (``timestamp`` in milliseconds, ``output_length`` needed).

With ``rate`` a stream or Mooncake trace is rescaled like the Azure one. ``limit`` reads the first
``limit`` requests. Classes are drawn after reading, one uniform draw per request in file order.

Randomness: one seed feeds numpy's ``SeedSequence(seed).spawn(3)``: child 0 the arrivals, child 1
the classes, child 2 the engine's random choices (:func:`seeded_generators`). With many engines
(:func:`engine_generator`), engine 0 keeps child 2 and engine ``g >= 1`` takes child 2's own child
``g`` (spawn key ``(2, g)``), so one engine draws what the single engine draws; the router's draws
come from a fourth child (spawn key ``(3,)``, :func:`router_generator`), which leaves the first three
unchanged.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "len.csv").write_text("num_prefill_tokens,num_decode_tokens\\n100,5\\n20,1\\n")
>>> w = load_workload(folder / "len.csv", "sharegpt", rate=2, seed=0)
>>> [(r.rid, r.prompt_tokens, r.output_tokens) for r in w.requests], w.meta["arrivals"]
([(2, 100, 5), (3, 20, 1)], 'poisson(rate=2, seed=0)')
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.formats import read_mooncake, read_stream
from prefix_sched.theory.numbers import Exact, brief, to_json
from prefix_sched.theory.serving.arrivals import (
    ARRIVAL_PROCESSES,
    check_rate,
    generate_arrivals,
    rescale_to_rate,
)
from prefix_sched.theory.serving.requests import ObjectiveClass, Workload, assign_classes

TRACE_FORMATS = ("stream", "mooncake", "sharegpt", "azure")
SHAREGPT_COLUMNS = ("num_prefill_tokens", "num_decode_tokens")
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
US_PER_MS = 1000


def seeded_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """The generators of the arrivals, the classes and the engine's random choices, from one seed."""
    if type(seed) is not int or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {brief(seed)}")
    return tuple(np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3))


def engine_generator(seed: int, g: int) -> np.random.Generator:
    """Engine ``g``'s generator of random choices: child 2 of the seed for engine 0 (what
    :func:`seeded_generators` gives a single engine), spawn key ``(2, g)`` for engine ``g >= 1``.

    >>> a = engine_generator(5, 0).integers(1000, size=3)
    >>> bool((a == seeded_generators(5)[2].integers(1000, size=3)).all())
    True
    """
    if type(g) is not int or g < 0:
        raise InputError(f"an engine index must be an integer >= 0, got {brief(g)}")
    seeded_generators(seed)  # checks the seed
    key = (2,) if g == 0 else (2, g)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def router_generator(seed: int) -> np.random.Generator:
    """The router's generator (the ``random`` router): spawn key ``(3,)`` of the seed."""
    seeded_generators(seed)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))


def read_sharegpt(path: Path | str, limit: int | None = None) -> tuple[list[int], list[int], list[int]]:
    """Read the ShareGPT length CSV: (line numbers, prompt lengths, output lengths), first ``limit`` rows.

    Raises FormatError naming the file and line for a missing column or a length that is not a
    positive integer.
    """
    lines, prompts, outputs = [], [], []
    for number, row in _csv_rows(path, SHAREGPT_COLUMNS, limit):
        prompts.append(_positive(row["num_prefill_tokens"], "num_prefill_tokens", path, number))
        outputs.append(_positive(row["num_decode_tokens"], "num_decode_tokens", path, number))
        lines.append(number)
    return lines, prompts, outputs


def read_azure(path: Path | str, limit: int | None = None) -> tuple[list[int], list[Fraction], list[int], list[int]]:
    """Read the Azure LLM inference CSV: (line numbers, exact timestamps in microseconds relative to
    the first row, prompt lengths, output lengths)."""
    lines, times, prompts, outputs = [], [], [], []
    first = None
    for number, row in _csv_rows(path, AZURE_COLUMNS, limit):
        stamp = _timestamp_us(row["TIMESTAMP"], path, number)
        first = stamp if first is None else first
        times.append(stamp - first)
        prompts.append(_positive(row["ContextTokens"], "ContextTokens", path, number))
        outputs.append(_positive(row["GeneratedTokens"], "GeneratedTokens", path, number))
        lines.append(number)
    return lines, times, prompts, outputs


def load_workload(path: Path | str, trace_format: str, *, rate: object = None, arrivals: str | None = None,
                  limit: int | None = None, classes: Sequence[ObjectiveClass] = (), seed: int = 0) -> Workload:
    """Read a trace into a :class:`~.requests.Workload`; see the module docstring.

    ``arrivals`` (``poisson``, the default, or ``truncated-exp``) applies to ``sharegpt`` only, which
    needs ``rate``.

    Raises
    ------
    InputError, FormatError
        A bad file (naming file and line), a missing ``rate`` for ``sharegpt``, ``arrivals`` for a
        trace with timestamps, a query without ``output_length >= 1``.
    """
    if trace_format not in TRACE_FORMATS:
        raise InputError(f"unknown trace format {trace_format!r}; valid: {', '.join(TRACE_FORMATS)}")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise InputError(f"limit must be an integer >= 1, got {brief(limit)}")
    if rate is not None:
        rate = check_rate(rate)
    arrival_rng, class_rng, _ = seeded_generators(seed)
    meta: dict[str, object] = {"trace": Path(path).name, "format": trace_format, "limit": limit}
    prompts_segments = None
    if trace_format == "sharegpt":
        if rate is None:
            raise InputError("the ShareGPT length trace has no timestamps: give a rate (--rate) to generate arrivals")
        process = arrivals or "poisson"
        if process not in ARRIVAL_PROCESSES:
            raise InputError(f"unknown arrival process {process!r}; valid: {', '.join(ARRIVAL_PROCESSES)}")
        ids, prompts, outputs = read_sharegpt(path, limit)
        times = generate_arrivals(len(ids), rate, process, arrival_rng)
        meta["arrivals"] = f"{process}(rate={to_json(rate)}, seed={seed})"
    else:
        if arrivals is not None:
            raise InputError(f"arrivals {arrivals!r}: a {trace_format} trace has its own timestamps "
                             "(use --rate to rescale them)")
        if trace_format == "azure":
            ids, raw, prompts, outputs = read_azure(path, limit)
        else:
            ids, raw, prompts, outputs, prompts_segments = _read_queries(path, trace_format, limit)
        if rate is not None:
            times = rescale_to_rate(raw, rate)
            meta["arrivals"] = f"trace timestamps rescaled to rate={to_json(rate)}"
        else:
            times = tuple(raw) if trace_format == "stream" else tuple(_nearest(t) for t in raw)
            meta["arrivals"] = "trace timestamps"
    meta["rate"] = None if rate is None else to_json(rate)
    meta["seed"] = seed
    index = assign_classes(len(ids), classes, class_rng) if classes else None
    return Workload.from_lengths(prompts, outputs, times, ids=ids, classes=classes, class_index=index,
                                 prompts=prompts_segments, meta=meta)


def _read_queries(path, trace_format, limit):
    stream = read_stream(path) if trace_format == "stream" else read_mooncake(path, US_PER_MS, limit=limit)
    queries = stream.queries[:limit] if limit is not None else stream.queries
    for q in queries:
        if q.output_length is None or q.output_length < 1:
            raise FormatError(f"{Path(path).name}: query {q.qid!r} needs an output_length >= 1 to be served, "
                              f"got {brief(q.output_length)}")
    return ([q.qid for q in queries], [q.arrival for q in queries], [q.length for q in queries],
            [q.output_length for q in queries], [q.prompt for q in queries])


def _csv_rows(path: Path | str, columns: Sequence[str], limit: int | None):
    name = Path(path).name
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as err:
        raise FormatError(f"cannot read {name}: {err.strerror or err}") from None
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise FormatError(f"{name}: the file is empty")
            header = [h.strip() for h in header]
            missing = [c for c in columns if c not in header]
            if missing:
                raise FormatError(f"{name}:1: missing column(s) {', '.join(missing)}; found {brief(header)}")
            where = {c: header.index(c) for c in columns}
            count = 0
            for row in reader:
                if limit is not None and count >= limit:
                    break
                number = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise FormatError(f"{name}:{number}: {len(row)} fields, the header has {len(header)}")
                count += 1
                yield number, {c: row[i].strip() for c, i in where.items()}
        except UnicodeDecodeError:
            raise FormatError(f"{name}: not UTF-8 text") from None
        except csv.Error as err:
            raise FormatError(f"{name}: {err}") from None


def _positive(text: str, column: str, path, number: int) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise FormatError(f"{Path(path).name}:{number}: {column} must be a positive integer, got {brief(text)}")
    return int(text)


def _timestamp_us(text: str, path, number: int) -> Fraction:
    date, _, fraction = text.partition(".")
    try:
        whole = datetime.datetime.strptime(date, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise FormatError(f"{Path(path).name}:{number}: TIMESTAMP must look like 2023-11-16 18:15:46.6805900, "
                          f"got {brief(text)}") from None
    if fraction and not (fraction.isascii() and fraction.isdigit()):
        raise FormatError(f"{Path(path).name}:{number}: TIMESTAMP fraction must be digits, got {brief(text)}")
    seconds = int(whole.timestamp()) + (Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0)
    return seconds * 1_000_000


def _nearest(value: Exact) -> int:
    value = Fraction(value)
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)
