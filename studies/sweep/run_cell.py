"""Compute one cell's record: build or read its stream, rescale it to the load, serve it, measure it.

The stream comes from its generator (with the cell's seed) or from the file's bytes, which must
still have the SHA-256 the spec reader saw (a file changed during a sweep fails its cells instead
of mixing two inputs). Bytes come from ``fetch`` (a Ray task gets them from the object store) or
else from the file's path. A process keeps the last few streams it built, so the cells of one
stream and seed build it once per worker. A load rescales the arrivals exactly as ``compare``
does (:func:`~prefix_sched.theory.load.rescale_to_load`); the policy runs through
:func:`~prefix_sched.solvers.online.simulate.simulate` with the cell's cache model, and the run's
:class:`~prefix_sched.studies.rows.PolicyRow` holds the measures the spec asks for, each from its
Definition 2 evaluation (:mod:`~prefix_sched.theory.measures`); the record adds the sweep's
settings. A cell that raises is a record with ``status = "failed"`` and the error's type and
message, and the sweep goes on.

What it leaves out: which process runs the cell (:mod:`~prefix_sched.studies.sweep.executors`) and
storing the record (:mod:`~prefix_sched.studies.sweep.results`).

Examples
--------
>>> import pathlib, tempfile
>>> from prefix_sched.studies.sweep.cells import expand
>>> from prefix_sched.studies.sweep.spec import read_spec
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
>>> _ = path.write_text('''
... seeds = [0]
... [streams.d]
... generator = "def4"
... n = 8
... r = 2
... u = 5
... d = 5
... delta = 1
... loads = [2]
... [[policies]]
... name = "lpm"
... ''')
>>> result = run_cell(expand(read_spec(path))[0])
>>> record = result.record
>>> record["status"], record["policy"], record["load"], record["offered_load"], record["count"]
('ok', 'lpm', '2', 2.0, 8)
"""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefix_sched.errors import InputError
from prefix_sched.provenance import package_versions
from prefix_sched.theory.load import offered_load, rescale_to_load
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.rows import policy_row
from prefix_sched.studies.sweep.cells import Cell, ServingCell
from prefix_sched.studies.sweep.schema import Record, blank_record, measure_columns
from prefix_sched.studies.sweep.serving_cells import serving_record, serving_settings
from prefix_sched.studies.sweep.spec import AS_GIVEN, GENERATORS, StreamSource, read_file_stream
from prefix_sched.theory.numbers import to_json
from prefix_sched.theory.stream import Stream

VERSIONS = ("prefix-sched", "numpy")
STREAMS_KEPT = 8


@dataclass(frozen=True)
class CellResult:
    """A cell's record and its timing (``cell``, ``wall_s``, ``host``)."""

    record: Record
    timing: Record


def run_cell(cell: Cell | ServingCell, fetch: Callable[[], bytes] | None = None) -> CellResult:
    """Compute ``cell``'s record (a serving cell's by :mod:`~prefix_sched.studies.sweep.serving_cells`);
    an exception inside becomes a failed record, never a raise.

    ``fetch`` returns a file stream's bytes (called only when this process has not built the
    stream yet); by default they are read from the file.
    """
    started = time.perf_counter()
    try:
        record = serving_record(cell, fetch, _versions()) if isinstance(cell, ServingCell) else _record(cell, fetch)
    except Exception as err:  # a failing cell is recorded with its error and the sweep goes on
        record = failed_record(cell, f"{type(err).__name__}: {err}")
    return CellResult(record, {"cell": cell.key, "wall_s": time.perf_counter() - started, "host": socket.gethostname()})


def failed_record(cell: Cell | ServingCell, error: str) -> Record:
    """The record of a cell that failed with ``error`` (made one line)."""
    one_line = " ".join(part.strip() for part in error.splitlines() if part.strip())
    if isinstance(cell, ServingCell):
        return serving_settings(cell) | {"status": "failed", "error": one_line, "per_class": "{}", "exact": "{}",
                                         "engine": "{}", "versions": _versions()}
    return _settings(cell) | {"status": "failed", "error": one_line, "exact": "{}", "versions": _versions()}


def _record(cell: Cell, fetch: Callable[[], bytes] | None) -> Record:
    settings = cell.settings
    stream = cell_stream(cell.stream, cell.seed, fetch)
    if cell.load is not None:
        stream = rescale_to_load(stream, cell.load)
    try:
        offered = offered_load(stream)
    except InputError:  # every query arrives at once: no finite load (only for the arrivals as given)
        offered = None
    run = simulate(stream, cell.policy, alpha=settings.alpha, batch_size=settings.batch_size, view=settings.view,
                   cache=cell.cache, seed=cell.seed)
    row = policy_row(run, stream, settings.metrics, name=cell.stream.table, variant=cell.stream.variant,
                     load=cell.load, seed=cell.seed, ttft=settings.ttft)
    exact = {name: to_json(value) for name, value in row.measured().items()}
    if offered is not None:
        exact["offered_load"] = to_json(offered)
    return _settings(cell) | {"status": "ok", "offered_load": None if offered is None else float(offered),
                              "exact": json.dumps(exact, sort_keys=True), "versions": _versions()} | measure_columns(row)


def _settings(cell: Cell) -> Record:
    settings = cell.settings
    return blank_record(cell.key) | {
        "stream": cell.stream.table, "variant": cell.stream.variant,
        "source": json.dumps(cell.stream.source(), sort_keys=True),
        "load": AS_GIVEN if cell.load is None else str(to_json(cell.load)),
        "policy": cell.policy.label, "k": str(cell.policy.as_dict()["k"]), "tie_break": cell.policy.tie_break,
        "cycle_start": cell.policy.cycle_start, "cache": cell.cache, "seed": cell.seed,
        "alpha": str(to_json(settings.alpha)), "view": settings.view, "batch_size": settings.batch_size,
        "ttft_bound": "" if settings.ttft is None else str(to_json(settings.ttft)),
    }


def _versions() -> str:
    return json.dumps(package_versions(*VERSIONS), sort_keys=True)


def cell_stream(source: StreamSource, seed: int, fetch: Callable[[], bytes] | None = None) -> Stream:
    """The stream of ``source`` at ``seed`` (a file's stream does not depend on the seed)."""
    if source.kind == "file":
        return _file_stream(source, fetch)
    return _generated(source.kind, source.params, seed)


@functools.lru_cache(maxsize=STREAMS_KEPT)
def _generated(kind: str, params: tuple, seed: int) -> Stream:
    function, _ = GENERATORS[kind]
    return function(**dict(params), seed=seed)


_FILE_STREAMS: OrderedDict[tuple, Stream] = OrderedDict()


def _file_stream(source: StreamSource, fetch: Callable[[], bytes] | None) -> Stream:
    key = (source.sha256, source.params)
    if key in _FILE_STREAMS:
        _FILE_STREAMS.move_to_end(key)
        return _FILE_STREAMS[key]
    data = fetch() if fetch is not None else Path(source.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise InputError(f"{source.file} changed since the sweep started (its SHA-256 is no longer {source.sha256})")
    with tempfile.TemporaryDirectory(prefix="prefix-sched-sweep-") as folder:
        copy = Path(folder) / Path(source.file).name
        copy.write_bytes(data)
        stream = read_file_stream(copy, source.params)
    _FILE_STREAMS[key] = stream
    if len(_FILE_STREAMS) > STREAMS_KEPT:
        _FILE_STREAMS.popitem(last=False)
    return stream
