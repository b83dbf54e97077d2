"""A sweep's results folder: the row schema, the CSV journal, the Parquet file, resume by cell key.

``DIR`` holds:

``results.csv``
    One row per finished cell (:data:`~prefix_sched.studies.sweep.schema.COLUMNS`). Each row is appended and flushed the moment its
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

Each line is a record (:data:`~prefix_sched.studies.sweep.schema.Record`, a dict by column): a cell's
:class:`~prefix_sched.studies.rows.PolicyRow` (where it ran, the policy, its measures) with the
sweep's settings. Settings first (``stream``, ``variant``, ``source`` as JSON, ``load`` as an exact
string or ``as-given``, ``offered_load``, the policy's ``policy``/``k``/``tie_break``/``cycle_start``,
``cache``, ``seed``, ``alpha``, ``view``, ``batch_size``, ``ttft_bound``), then ``status``
(``ok`` or ``failed``) and ``error``, the measures of :data:`~prefix_sched.studies.sweep.schema.SWEEP_MEASURES` (named as in
:mod:`~prefix_sched.theory.measures`) as floats (integers for counts; empty when not recorded or
failed), ``exact`` (JSON: every recorded measure and the offered load as an exact number) and
``versions`` (JSON: Python, the platform, prefix-sched and numpy where the cell ran).

A spec of serving cells (:mod:`~prefix_sched.studies.sweep.serving_spec`) writes the same files
with the columns :data:`~prefix_sched.studies.sweep.schema.SERVING_COLUMNS`: settings (``trace``, ``variant``, ``source``, ``rate``,
``offered_rate``, ``classes``, ``scheduler``, ``order``, ``router``, ``engines``, ``prefix_cache``,
``cost``, ``budget``, ``kv_tokens``, ``block_size``, ``max_seqs``, ``seed``, ``objective``), ``status``
and ``error``, the measures of :data:`~prefix_sched.studies.sweep.schema.SERVING_MEASURES`, then ``per_class``, ``exact``, ``engine``
and ``versions`` (JSON). A folder holds one kind: its header says which.

Every row read back (a resumed folder, ``sweep --summary``) is checked column by column
(:func:`~prefix_sched.studies.sweep.schema.check_record`: types, no NaN or infinity, labels and settings that parse, seeds and counts
in range), and a damaged row is refused naming the file, the line (or Parquet row) and the column.
A folder whose ``results.csv`` lost rows that its ``results.parquet`` still holds gets them back
when they are this spec's cells, and is refused when they are another spec's (the Parquet file is
never overwritten then).

What it leaves out: computing records (:mod:`~prefix_sched.studies.sweep.run_cell`) and choosing which
cells to run (:mod:`~prefix_sched.studies.sweep.runner`).

Examples
--------
>>> import tempfile
>>> from prefix_sched.studies.sweep.schema import blank_record
>>> folder = ResultsFolder(tempfile.mkdtemp() + "/out")
>>> folder.check()
>>> record = blank_record("00000000c0ffee00") | {
...     "stream": "s", "source": "{}", "load": "as-given", "policy": "lpm", "k": "inf", "tie_break": "oldest",
...     "cycle_start": "lpm", "cache": "last", "seed": 0, "alpha": "0", "view": "online", "batch_size": 1,
...     "status": "ok", "count": 3, "p99": 2.5, "exact": "{}", "versions": "{}"}
>>> with folder.opened() as done:
...     folder.add(record, {"cell": "00000000c0ffee00", "wall_s": 0.25, "host": "h"})
>>> [(r["cell"], r["count"], r["p99"], r["mean"]) for r in read_results(folder.folder)]
[('00000000c0ffee00', 3, 2.5, None)]
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import io
import math
import os
import re
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefix_sched.errors import FormatError, InputError, OutputError
from prefix_sched.studies.sweep.schema import COLUMNS, FLOAT, INT, SCHEMAS, STR, TIMING_COLUMNS, Record, check_record
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.outputs import atomic_path, check_output_path, write_text

RESULTS_CSV, RESULTS_PARQUET, TIMINGS_CSV, LOCK = "results.csv", "results.parquet", "timings.csv", ".sweep.lock"
CHECKPOINT_S = 10.0
EXTRA_HINT = "pip install 'prefix-sched[sweep]'"


def has_pyarrow() -> bool:
    """Whether pyarrow can be imported (the ``sweep`` extra)."""
    return importlib.util.find_spec("pyarrow") is not None


class ResultsFolder:
    """The results folder ``folder`` of one sweep (see the module docstring).

    Call :meth:`check` before any work, then write inside :meth:`opened`.
    """

    def __init__(self, folder: Path | str, option: str = "out", columns=COLUMNS) -> None:
        self.folder = Path(folder)
        self.option = option
        self.columns = columns
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
    def opened(self, keys: Collection[str] | None = None) -> Iterator[dict[str, Record]]:
        """Lock the folder, load the rows it has (dropping a row cut off by a kill), and yield them
        by cell key; on leaving, even by Ctrl-C, write the sorted CSV and Parquet files and unlock.

        ``keys`` are the cells of the spec being run: rows the Parquet file holds and the CSV lost
        come back when they are among them, and the folder is refused when they are not."""
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
            self.rows = self._load(RESULTS_CSV, self.columns, unique=True)
            self.timings = self._load(TIMINGS_CSV, TIMING_COLUMNS, unique=False)
            self._recover(keys)
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
        self.rows[key] = row  # first: a Ctrl-C below still leaves the row counted and in the final files
        self.timings[key] = timing
        for name, record, columns in ((RESULTS_CSV, row, self.columns), (TIMINGS_CSV, timing, TIMING_COLUMNS)):
            handle = self._handles[name]
            csv.writer(handle, lineterminator="\n").writerow(_encode(record, columns))
            handle.flush()
        if time.monotonic() - self._checkpointed >= CHECKPOINT_S:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Sync the journals and rewrite the Parquet file (when pyarrow is there)."""
        for handle in self._handles.values():
            os.fsync(handle.fileno())
        if self.parquet:
            write_parquet(self.path(RESULTS_PARQUET), _sorted(self.rows), self.option, self.columns)
        self._checkpointed = time.monotonic()

    # --- internals -------------------------------------------------------------------------

    def _load(self, name: str, columns, unique: bool) -> dict[str, Record]:
        path = self.path(name)
        if not path.exists():
            return {}
        if not path.is_file():
            raise OutputError(f"{self.option}: {path} is not a regular file")
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(path, "r+b") as handle:
                handle.truncate(keep)
            self.repaired.append(f"{path}: dropped a row cut off by a kill ({len(data) - keep} bytes)")
            data = data[:keep]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise FormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); give the sweep a new "
                              "folder") from None
        return _parse_csv(path, text, columns, unique, check=columns is not TIMING_COLUMNS)

    def _recover(self, keys: Collection[str] | None) -> None:
        """Rows the Parquet file holds and the CSV does not: back into the rows when they are this
        spec's cells (``keys``); refused when they are not (the Parquet file is left as it is)."""
        path = self.path(RESULTS_PARQUET)
        if keys is None or not self.parquet or not path.exists():
            return
        stored = _read_parquet(path, self.columns)
        lost = [row for row in stored if row["cell"] not in self.rows]
        if not lost:
            return
        foreign = [row["cell"] for row in lost if row["cell"] not in keys]
        if foreign:
            raise OutputError(f"{self.option}: {path} holds {len(foreign)} rows of cells not in this spec that "
                              f"{RESULTS_CSV} does not have (cell {foreign[0]}, ...): it belongs to another sweep; "
                              "give this one a new folder (the files are left as they are)")
        for row in lost:
            self.rows[row["cell"]] = row
        self.repaired.append(f"{self.path(RESULTS_CSV)}: {len(lost)} rows missing from it were taken back from "
                             f"{path}")

    def _open_journals(self) -> None:
        for name, columns in ((RESULTS_CSV, self.columns), (TIMINGS_CSV, TIMING_COLUMNS)):
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
            write_parquet(self.path(RESULTS_PARQUET), _sorted(self.rows), self.option, self.columns)

    def _write_sorted(self) -> None:
        write_text(self.path(RESULTS_CSV), csv_text(_sorted(self.rows), self.columns), self.option)
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


def _parse_csv(path: Path, text: str, columns, unique: bool, check: bool = True) -> dict[str, Record]:
    reader = csv.reader(io.StringIO(text))
    names = [name for name, _ in columns]
    rows: dict[str, Record] = {}
    try:
        header = next(reader, None)
        if header is None:
            return {}
        if header != names:
            raise FormatError(f"{path}: {_not_this_schema(header, columns)}; give the sweep a new folder")
        for fields in reader:
            where = f"{path}:{reader.line_num}"
            if len(fields) != len(columns):
                raise FormatError(f"{where}: expected {len(columns)} fields, got {len(fields)}")
            row = {}
            for (name, kind), text_value in zip(columns, fields):
                row[name] = _decode(where, name, kind, text_value)
            if check:
                check_record(row, where, columns)
            if unique and row["cell"] in rows:
                raise FormatError(f"{where}: cell {row['cell']} appears twice")
            rows[row["cell"]] = row
    except csv.Error as err:
        raise FormatError(f"{path}:{reader.line_num}: not CSV ({err})") from None
    return rows


def _not_this_schema(names: Sequence[str], columns) -> str:
    for kind, schema in SCHEMAS.items():
        if list(names) == [name for name, _ in schema] and schema is not columns:
            return f"it holds the rows of {kind} cells, not of this spec's kind"
    return (f"not a results file of this prefix-sched version (its columns are not "
            f"{', '.join(name for name, _ in columns)})")


_INT = re.compile(r"-?[0-9]+\Z")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?\Z")


def _decode(where: str, name: str, kind: str, text: str) -> Any:
    """A field as written by :func:`csv_text`: ASCII digits only (no NaN, infinity, ``+`` or ``_``)."""
    if kind == STR:
        return text
    if text == "":
        return None
    pattern, what = (_INT, "an integer") if kind == INT else (_FLOAT, "a finite number")
    if not pattern.match(text) or len(text) > 400:
        raise FormatError(f"{where}: column {name} must be {what}, got {brief(text)}")
    value = int(text) if kind == INT else float(text)
    if kind == FLOAT and not math.isfinite(value):
        raise FormatError(f"{where}: column {name} must be a finite number, got {brief(text)}")
    return value


def write_parquet(path: Path, rows: Sequence[Mapping[str, Any]], option: str, columns=COLUMNS) -> None:
    """Write ``rows`` (of ``columns``) to ``path`` as Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {STR: pa.string(), INT: pa.int64(), FLOAT: pa.float64()}
    table = pa.table({name: pa.array([row[name] for row in rows], type=types[kind]) for name, kind in columns})
    with atomic_path(path, option) as temporary:
        pq.write_table(table, temporary, compression="snappy")


def read_results(path: Path | str) -> list[Record]:
    """The rows of a results folder (its ``results.csv``), a results CSV or a results Parquet file,
    of either kind (:data:`SCHEMAS`; :func:`results_kind` tells which), every row checked
    (:func:`~prefix_sched.studies.sweep.schema.check_record`).

    A sweep may be writing the folder: a last row without its newline is left out.

    Raises
    ------
    FormatError
        If the file cannot be read, is not a results file or holds a damaged row (naming the
        file, the line and the column).
    InputError
        If it is a Parquet file and pyarrow is not installed.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_CSV
    if path.exists() and not path.is_file():
        raise FormatError(f"cannot read the results {path}: not a regular file")
    if path.suffix == ".parquet":
        return _read_parquet(path)
    try:
        data = path.read_bytes()
        text = data[:data.rfind(b"\n") + 1].decode("utf-8")  # a row still being written is not a row yet
    except OSError as err:
        raise FormatError(f"cannot read the results {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    header = next(csv.reader(io.StringIO(text[:text.find("\n") + 1])), []) if "\0" not in text[:4096] else []
    return list(_parse_csv(path, text, _schema_of(header), unique=True).values())


def _arrow_reason(err: BaseException) -> str:
    """pyarrow's reason on one line, without the path it repeats, at most 200 characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= 200 and text.isprintable() else brief(text)


def results_kind(rows: Sequence[Record]) -> str:
    """``"serving"`` for rows of serving cells, else ``"policy"``."""
    return "serving" if rows and "scheduler" in rows[0] else "policy"


def _schema_of(names: Sequence[str]):
    for schema in SCHEMAS.values():
        if list(names) == [name for name, _ in schema]:
            return schema
    return COLUMNS


def _read_parquet(path: Path, columns=None) -> list[Record]:
    if not has_pyarrow():
        raise InputError(f"reading {path} needs pyarrow ({EXTRA_HINT}); the results.csv beside it has the same rows")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise FormatError(f"cannot read the results {path}: {_arrow_reason(err)}") from err
    columns = columns or _schema_of(table.column_names)
    if table.column_names != [name for name, _ in columns]:
        raise FormatError(f"{path}: {_not_this_schema(table.column_names, columns)}")
    try:
        rows = table.to_pylist()
    except (OSError, ValueError, pa.ArrowException) as err:
        raise FormatError(f"cannot read the results {path}: {_arrow_reason(err)}") from err
    seen = set()
    for number, row in enumerate(rows, start=1):
        where = f"{path}: row {number}"
        check_record(row, where, columns)
        if row["cell"] in seen:
            raise FormatError(f"{where}: cell {row['cell']} appears twice")
        seen.add(row["cell"])
    return rows
