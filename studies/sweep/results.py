"""A sweep's results folder: the row schema, the CSV journal, the Parquet file, resume by cell key.

``DIR`` holds:

``results.csv``
    One row per finished cell (:data:`COLUMNS`). Each row is appended and flushed the moment its
    cell finishes, so a killed sweep (Ctrl-C, SIGKILL, a lost machine) keeps every finished cell;
    the file is fsynced every :data:`CHECKPOINT_S` seconds and when the sweep ends. A row cut off
    by a kill (no final newline) is not a finished cell: the next run drops it and reruns the
    cell. When a sweep ends, interrupted or not, the file is rewritten sorted by cell key
    (atomically), so the same spec and seeds give byte-identical files on every executor and
    worker count.
``results.parquet``
    The same rows, sorted, with typed columns; rewritten atomically every :data:`CHECKPOINT_S`
    seconds while cells finish and when the sweep ends. It needs pyarrow (the ``sweep`` extra);
    without it only the CSV is written, and a folder that already has a Parquet file is refused
    (it would go stale).
``timings.csv``
    ``cell, wall_s, host`` per finished cell: what differs between runs of the same cell, kept out
    of the results so that those stay byte-identical.
``.sweep.lock``
    Held (``flock``) while a sweep writes, so two sweeps never write one folder.

Each line is a record (:data:`Record`, a dict by column): a cell's
:class:`~prefix_sched.studies.rows.PolicyRow` (where it ran, the policy, its measures) with the
sweep's settings. Settings first (``stream``, ``variant``, ``source`` as JSON, ``load`` as an exact
string or ``as-given``, ``offered_load``, the policy's ``policy``/``k``/``tie_break``/``cycle_start``,
``cache``, ``seed``, ``alpha``, ``view``, ``batch_size``, ``ttft_bound``), then ``status``
(``ok`` or ``failed``) and ``error``, the measures of :data:`SWEEP_MEASURES` (named as in
:mod:`~prefix_sched.theory.measures`) as floats (integers for counts; empty when not recorded or
failed), ``exact`` (JSON: every recorded measure and the offered load as an exact number) and
``versions`` (JSON: Python, the platform, prefix-sched and numpy where the cell ran).

What it leaves out: computing records (:mod:`~prefix_sched.studies.sweep.run_cell`) and choosing which
cells to run (:mod:`~prefix_sched.studies.sweep.runner`).

Examples
--------
>>> import tempfile
>>> folder = ResultsFolder(tempfile.mkdtemp() + "/out")
>>> folder.check()
>>> record = blank_record("c0ffee") | {"stream": "s", "status": "ok", "count": 3, "p99": 2.5}
>>> with folder.opened() as done:
...     folder.add(record, {"cell": "c0ffee", "wall_s": 0.25, "host": "h"})
>>> [(r["cell"], r["count"], r["p99"], r["mean"]) for r in read_results(folder.folder)]
[('c0ffee', 3, 2.5, None)]
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import io
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

from prefix_sched.errors import FormatError, InputError, OutputError
from prefix_sched.studies.rows import PolicyRow
from prefix_sched.theory.measures import MEASURES
from prefix_sched.theory.outputs import atomic_path, check_output_path, write_text

SWEEP_MEASURES = ("count", "mean", "p50", "p90", "p99", "max", "makespan", "reused", "reused_share", "violations")
"""The measures a sweep can record (:data:`~prefix_sched.theory.measures.MEASURES`), in the order
of their columns; a spec's ``metrics`` picks from them (default all, ``violations`` only with
``ttft``). Persisted: the columns and the cell keys depend on this order."""
STR, INT, FLOAT = "str", "int", "float"
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cell", STR), ("stream", STR), ("variant", STR), ("source", STR), ("load", STR), ("offered_load", FLOAT),
    ("policy", STR), ("k", STR), ("tie_break", STR), ("cycle_start", STR), ("cache", STR), ("seed", INT),
    ("alpha", STR), ("view", STR), ("batch_size", INT), ("ttft_bound", STR), ("status", STR), ("error", STR),
    *((name, INT if MEASURES[name].integer else FLOAT) for name in SWEEP_MEASURES),
    ("exact", STR), ("versions", STR),
)
TIMING_COLUMNS: tuple[tuple[str, str], ...] = (("cell", STR), ("wall_s", FLOAT), ("host", STR))
RESULTS_CSV, RESULTS_PARQUET, TIMINGS_CSV, LOCK = "results.csv", "results.parquet", "timings.csv", ".sweep.lock"
CHECKPOINT_S = 10.0
EXTRA_HINT = "pip install 'prefix-sched[sweep]'"
Record = dict[str, Any]
"""One line of a results file, by column (:data:`COLUMNS`)."""


def has_pyarrow() -> bool:
    """Whether pyarrow can be imported (the ``sweep`` extra)."""
    return importlib.util.find_spec("pyarrow") is not None


def blank_record(cell: str) -> Record:
    """A record of :data:`COLUMNS` for ``cell`` with every other value empty (``""`` or None)."""
    return {name: (cell if name == "cell" else "" if kind == STR else None) for name, kind in COLUMNS}


def measure_columns(row: PolicyRow) -> Record:
    """The measures ``row`` holds as their columns: integers as they are, the rest as floats."""
    return {name: value if MEASURES[name].integer else float(Fraction(value))
            for name, value in row.measured().items()}


class ResultsFolder:
    """The results folder ``folder`` of one sweep (see the module docstring).

    Call :meth:`check` before any work, then write inside :meth:`opened`.
    """

    def __init__(self, folder: Path | str, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.option = option
        self.parquet = has_pyarrow()
        self.rows: dict[str, Record] = {}
        self.timings: dict[str, Record] = {}
        self.repaired: list[str] = []
        self._handles: dict[str, Any] = {}
        self._checkpointed = 0.0

    def path(self, name: str) -> Path:
        return self.folder / name

    def check(self) -> None:
        """Check that the folder can be made (its parent exists) or that every file in it can be
        written; nothing is created yet.

        Raises
        ------
        OutputError
            If the folder cannot be made or written, or it has a Parquet file and pyarrow is
            missing.
        """
        if not self.folder.exists():
            check_output_path(self.folder, self.option)
            return
        if not self.folder.is_dir():
            raise OutputError(f"{self.option}: {self.folder} is not a folder")
        for name in (RESULTS_CSV, TIMINGS_CSV, RESULTS_PARQUET, LOCK):
            check_output_path(self.path(name), self.option)
        if not self.parquet and self.path(RESULTS_PARQUET).exists():
            raise OutputError(f"{self.option}: {self.path(RESULTS_PARQUET)} exists and pyarrow is not installed "
                              f"to keep it up to date ({EXTRA_HINT}, or remove the file)")

    @contextmanager
    def opened(self) -> Iterator[dict[str, Record]]:
        """Lock the folder, load the rows it has (dropping a row cut off by a kill), and yield them
        by cell key; on leaving, even by Ctrl-C, write the sorted CSV and Parquet files and unlock."""
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as err:
            raise OutputError(f"{self.option}: cannot make {self.folder}: {err.strerror or err}") from err
        lock = open(self.path(LOCK), "a")
        try:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(f"{self.option}: another sweep is writing to {self.folder}") from None
            self.rows = self._load(RESULTS_CSV, COLUMNS, unique=True)
            self.timings = self._load(TIMINGS_CSV, TIMING_COLUMNS, unique=False)
            self._open_journals()
            try:
                yield self.rows
            finally:
                self._finish()
        finally:
            lock.close()

    def drop(self, keys: Sequence[str]) -> None:
        """Forget the rows of ``keys`` (to rerun them): the CSV is rewritten without them."""
        for key in keys:
            self.rows.pop(key)
            self.timings.pop(key, None)
        self._close_journals()
        self._write_sorted()
        self._open_journals()

    def add(self, row: Record, timing: Record) -> None:
        """Append one finished cell's row and timing, flushed; a cell is never written twice."""
        key = row["cell"]
        if key in self.rows:
            raise AssertionError(f"cell {key} would be written twice")
        for name, record, columns in ((RESULTS_CSV, row, COLUMNS), (TIMINGS_CSV, timing, TIMING_COLUMNS)):
            handle = self._handles[name]
            csv.writer(handle, lineterminator="\n").writerow(_encode(record, columns))
            handle.flush()
        self.rows[key] = row
        self.timings[key] = timing
        if time.monotonic() - self._checkpointed >= CHECKPOINT_S:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the journals and rewrite the Parquet file (when pyarrow is there)."""
        for handle in self._handles.values():
            os.fsync(handle.fileno())
        if self.parquet:
            write_parquet(self.path(RESULTS_PARQUET), _sorted(self.rows), self.option)
        self._checkpointed = time.monotonic()

    # --- internals -------------------------------------------------------------------------

    def _load(self, name: str, columns, unique: bool) -> dict[str, Record]:
        path = self.path(name)
        if not path.exists():
            return {}
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(path, "r+b") as handle:
                handle.truncate(keep)
            self.repaired.append(f"{path}: dropped a row cut off by a kill ({len(data) - keep} bytes)")
            data = data[:keep]
        return _parse_csv(path, data.decode("utf-8"), columns, unique)

    def _open_journals(self) -> None:
        for name, columns in ((RESULTS_CSV, COLUMNS), (TIMINGS_CSV, TIMING_COLUMNS)):
            path = self.path(name)
            fresh = not path.exists() or path.stat().st_size == 0
            handle = open(path, "a", encoding="utf-8", newline="")
            if fresh:
                csv.writer(handle, lineterminator="\n").writerow([column for column, _ in columns])
                handle.flush()
            self._handles[name] = handle

    def _close_journals(self) -> None:
        for handle in self._handles.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        self._handles = {}

    def _finish(self) -> None:
        self._close_journals()
        self._write_sorted()
        if self.parquet:
            write_parquet(self.path(RESULTS_PARQUET), _sorted(self.rows), self.option)

    def _write_sorted(self) -> None:
        write_text(self.path(RESULTS_CSV), csv_text(_sorted(self.rows), COLUMNS), self.option)
        timings = [self.timings[key] for key in sorted(self.timings) if key in self.rows]
        write_text(self.path(TIMINGS_CSV), csv_text(timings, TIMING_COLUMNS), self.option)


def _sorted(rows: Mapping[str, Record]) -> list[Record]:
    return [rows[key] for key in sorted(rows)]


def _encode(record: Mapping[str, Any], columns) -> list[str]:
    fields = []
    for name, kind in columns:
        value = record[name]
        if kind == STR:
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise AssertionError(f"column {name} needs a one-line string, got {value!r}")
            fields.append(value)
        elif value is None:
            fields.append("")
        else:
            fields.append(str(value) if kind == INT else repr(float(value)))
    return fields


def csv_text(rows: Sequence[Mapping[str, Any]], columns=COLUMNS) -> str:
    """Rows as CSV text with a header: integers as written, floats by ``repr`` (they read back
    exactly), empty values as empty fields, ``\\n`` line ends.

    >>> csv_text([{"cell": "a", "wall_s": 0.1, "host": "h, 1"}], TIMING_COLUMNS)
    'cell,wall_s,host\\na,0.1,"h, 1"\\n'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in columns])
    for row in rows:
        writer.writerow(_encode(row, columns))
    return buffer.getvalue()


def _parse_csv(path: Path, text: str, columns, unique: bool) -> dict[str, Record]:
    reader = csv.reader(io.StringIO(text))
    names = [name for name, _ in columns]
    header = next(reader, None)
    if header is None:
        return {}
    if header != names:
        raise FormatError(f"{path}: not a results file of this prefix-sched version (its columns are not "
                          f"{', '.join(names)}); give the sweep a new folder")
    rows: dict[str, Record] = {}
    for fields in reader:
        where = f"{path}:{reader.line_num}"
        if len(fields) != len(columns):
            raise FormatError(f"{where}: expected {len(columns)} fields, got {len(fields)}")
        row = {}
        for (name, kind), text_value in zip(columns, fields):
            row[name] = _decode(where, name, kind, text_value)
        if unique and row["cell"] in rows:
            raise FormatError(f"{where}: cell {row['cell']} appears twice")
        rows[row["cell"]] = row
    return rows


def _decode(where: str, name: str, kind: str, text: str) -> Any:
    if kind == STR:
        return text
    if text == "":
        return None
    try:
        return int(text) if kind == INT else float(text)
    except ValueError:
        raise FormatError(f"{where}: column {name} must be {'an integer' if kind == INT else 'a number'}, "
                          f"got {text!r}") from None


def write_parquet(path: Path, rows: Sequence[Mapping[str, Any]], option: str) -> None:
    """Write ``rows`` (of :data:`COLUMNS`) to ``path`` as Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {STR: pa.string(), INT: pa.int64(), FLOAT: pa.float64()}
    table = pa.table({name: pa.array([row[name] for row in rows], type=types[kind]) for name, kind in COLUMNS})
    with atomic_path(path, option) as temporary:
        pq.write_table(table, temporary, compression="snappy")


def read_results(path: Path | str) -> list[Record]:
    """The rows of a results folder (its ``results.csv``), a results CSV or a results Parquet file.

    A sweep may be writing the folder: a last row without its newline is left out.

    Raises
    ------
    FormatError
        If the file cannot be read or is not a results file.
    InputError
        If it is a Parquet file and pyarrow is not installed.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_CSV
    if path.suffix == ".parquet":
        return _read_parquet(path)
    try:
        data = path.read_bytes()
        text = data[:data.rfind(b"\n") + 1].decode("utf-8")  # a row still being written is not a row yet
    except OSError as err:
        raise FormatError(f"cannot read the results {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err.reason})") from err
    return list(_parse_csv(path, text, COLUMNS, unique=True).values())


def _read_parquet(path: Path) -> list[Record]:
    if not has_pyarrow():
        raise InputError(f"reading {path} needs pyarrow ({EXTRA_HINT}); the results.csv beside it has the same rows")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as err:
        raise FormatError(f"cannot read the results {path}: {err}") from err
    names = [name for name, _ in COLUMNS]
    if table.column_names != names:
        raise FormatError(f"{path}: not a results file of this prefix-sched version (its columns are not "
                          f"{', '.join(names)})")
    return table.to_pylist()
