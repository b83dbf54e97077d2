"""Issue 20, results folders and summaries: every row read back is checked; nothing is overwritten
that belongs to another sweep; the counts after Ctrl-C are right.

- ``sweep --summary`` on a damaged file (random bytes, a random field of a row changed, NaN,
  labels it cannot parse, a Parquet file of random bytes or of wrong types) exits 2 in one line
  naming the file, the line (or Parquet row) and the column, or prints its table.
- A completeness test: every column of both row schemas has its check.
- A folder whose ``results.csv`` is gone: its Parquet rows come back when they are this spec's cells
  and the folder is refused (its Parquet file left byte for byte) when they are another spec's.
- Ctrl-C landing during the first Parquet save: the counts printed are those of the rows kept.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.studies.sweep import results as results_module
from prefix_sched.studies.sweep.executors import LocalExecutor
from prefix_sched.studies.sweep.results import ResultsFolder, read_results
from prefix_sched.studies.sweep.schema import CHECKS, COLUMNS, FLOAT, INT, SCHEMAS, SERVING_MEASURES, SWEEP_MEASURES
from prefix_sched.studies.sweep.runner import run_sweep
from prefix_sched.studies.sweep.spec import read_spec

SPEC = """
seeds = [0, 1]
[streams.d]
generator = "def4"
n = 8
r = 2
u = 5
d = 3
delta = [2, 4]
loads = ["as-given", 2]
[[policies]]
name = "fcfs"
[[policies]]
name = "k-lpm"
k = [1, "inf"]
"""
CELLS = 2 * 2 * 2 * 3


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    (folder / "spec.toml").write_text(SPEC)
    out = ResultsFolder(folder / "out")
    out.check()
    assert not run_sweep(read_spec(folder / "spec.toml"), out, LocalExecutor(1)).failed
    return folder


def summary(path: Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["sweep", "--summary", str(path), "--plot", str(path.parent / "p.png")])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_refused_naming(status: int, err: str, path: Path, column: str | None = None) -> None:
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert str(path) in err, err
    if column is not None:
        assert f"column {column}" in err, err


def test_every_column_has_its_check():
    """A new column fails this test until CHECKS says what it may hold (measures: counts and finite
    numbers >= 0 by default)."""
    measures = set(SWEEP_MEASURES) | {name for name, _ in SERVING_MEASURES}
    for kind, columns in SCHEMAS.items():
        for name, column_kind in columns:
            assert name in CHECKS or (name in measures and column_kind in (INT, FLOAT)), (kind, name)


# --- damaged CSV files ------------------------------------------------------------------------

def _lines(finished: Path) -> list[str]:
    return (finished / "out" / "results.csv").read_text().splitlines(keepends=True)


DAMAGES = [
    ("p99", "nan", "p99"), ("p99", "inf", "p99"), ("p99", "-1.0", "p99"), ("count", "1.5", "count"),
    ("count", "１２", "count"), ("count", "+3", "count"), ("seed", "18446744073709551615", "seed"),
    ("load", "x", "load"), ("load", "1e400", "load"), ("load", "0", "load"), ("policy", "k-lpm(k=x)", "policy"),
    ("policy", "sjf", "policy"), ("tie_break", "newest", "tie_break"), ("cache", "lru:0", "cache"),
    ("status", "maybe", "status"), ("cell", "not-a-key", "cell"), ("source", "{not json", "source"),
    ("exact", "[]", "exact"), ("exact", '{"p99": "nan"}', "exact"), ("exact", '{"p99": 1.5}', "exact"),
    ("exact", '{"p99": "1e400"}', "exact"), ("batch_size", "0", "batch_size"), ("view", "batch", "view"),
    ("offered_load", "1e999", "offered_load"), ("k", "-1", "k"), ("alpha", "-1", "alpha"),
]


@pytest.mark.parametrize("column, value, named", DAMAGES, ids=[f"{c}={v}" for c, v, _ in DAMAGES])
def test_a_damaged_field_is_refused_naming_file_line_and_column(column, value, named, finished, tmp_path, capsys):
    lines = _lines(finished)
    header = lines[0].strip().split(",")
    rows = list(csv.reader(io.StringIO("".join(lines[1:]))))
    rows[3][header.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / "results.csv"
    path.write_text(buffer.getvalue())
    status, _, err = summary(path, capsys)
    assert_refused_naming(status, err, path, named)
    assert f"{path}:5: column {named}" in err  # the header is line 1: row 3 (from 0) is line 5


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), keep_header=st.booleans())
def test_random_bytes_are_a_table_or_one_line(data, keep_header, finished, tmp_path, capsys):
    """Property: any bytes (after the header or not) give the summary or one line naming the file."""
    path = tmp_path / "results.csv"
    path.write_bytes((_lines(finished)[0].encode() if keep_header else b"") + data)
    status, _, err = summary(path, capsys)
    if status != 0:
        assert_refused_naming(status, err, path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(1, CELLS), column=st.integers(0, len(COLUMNS) - 1),
       value=st.one_of(st.text(max_size=12), st.sampled_from(["nan", "-inf", "1e309", "", "None", "0", "-0", "1",
                                                               "as-given", "lpm", "k-lpm(k=inf)", "{}"])))
def test_any_field_changed_to_anything_is_read_or_refused_in_one_line(row, column, value, finished, tmp_path, capsys):
    """Property: change one field of one row to any text: the summary prints (every number it
    prints finite) or refuses naming the line and the column."""
    lines = _lines(finished)
    rows = list(csv.reader(io.StringIO("".join(lines))))
    rows[row][column] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path = tmp_path / "results.csv"
    path.write_text(buffer.getvalue())
    status, out, err = summary(path, capsys)
    if status == 0:
        assert " nan " not in out and " inf " not in out
        return
    assert_refused_naming(status, err, path)
    if "column" in err:
        assert f"{path}:" in err


# --- Parquet files ---------------------------------------------------------------------------

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_a_parquet_file_of_random_bytes_is_one_line(data, tmp_path, capsys):
    path = tmp_path / "results.parquet"
    path.write_bytes(b"PAR1" + data if data[:1] == b"\x00" else data)
    status, _, err = summary(path, capsys)
    assert_refused_naming(status, err, path)


def test_a_parquet_row_with_nan_or_wrong_types_is_refused_naming_row_and_column(finished, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(finished / "out" / "results.parquet")
    rows = table.to_pylist()
    rows[2]["p99"] = math.nan
    path = tmp_path / "results.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    status, _, err = summary(path, capsys)
    assert_refused_naming(status, err, path, "p99")
    assert f"{path}: row 3: column p99 must be a finite number" in err
    columns = {name: table.column(name) for name in table.column_names}
    columns["seed"] = pa.array([str(v) for v in table.column("seed").to_pylist()])
    pq.write_table(pa.table(columns), path)
    status, _, err = summary(path, capsys)
    assert_refused_naming(status, err, path, "seed")


# --- the journal gone -------------------------------------------------------------------------

def test_a_folder_whose_journal_is_gone_gets_its_rows_back_from_parquet(finished, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.parquet").write_bytes((finished / "out" / "results.parquet").read_bytes())
    assert main(["sweep", str(finished / "spec.toml"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"({CELLS} done before, 0 run now" in captured.out and "taken back from" in captured.err
    for name in ("results.csv", "results.parquet"):
        assert (out / name).read_bytes() == (finished / "out" / name).read_bytes()


def test_a_folder_whose_journal_is_gone_and_whose_parquet_is_another_specs_is_refused(finished, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    parquet = (finished / "out" / "results.parquet").read_bytes()
    (out / "results.parquet").write_bytes(parquet)
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("n = 8", "n = 10"))
    assert main(["sweep", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds {CELLS} rows of cells not in this spec" in err
    assert (out / "results.parquet").read_bytes() == parquet
    assert not (out / "results.csv").exists() or "cell" not in (out / "results.csv").read_text()[20:]


def test_a_serving_spec_refuses_a_folder_of_policy_rows(finished, tmp_path, capsys):
    from paths import REPO

    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "results.parquet"):
        (out / name).write_bytes((finished / "out" / name).read_bytes())
    assert main(["sweep", str(REPO / "examples" / "sweep_serving.toml"), "--out", str(out)]) == 2
    assert "it holds the rows of policy cells, not of this spec's kind" in capsys.readouterr().err
    (out / "results.csv").unlink()  # the journal gone: the Parquet file says the same, in full
    assert main(["sweep", str(REPO / "examples" / "sweep_serving.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"prefix-sched sweep: error: {out / 'results.parquet'}: it holds the rows of policy cells, not of "
                   "this spec's kind\n")


def test_a_summary_of_numbers_near_a_floats_limit_prints_and_plots_quietly(finished, tmp_path, capsys):
    """Printing and plotting never fail after the work: a P99 of 1e308 (a float) is shown and drawn on
    a log axis without numpy's overflow warnings on stderr."""
    lines = _lines(finished)
    header = lines[0].strip().split(",")
    rows = list(csv.reader(io.StringIO("".join(lines[1:]))))
    for row in rows:
        if row[header.index("status")] == "ok":
            row[header.index("p99")] = "1e308"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / "results.csv"
    path.write_text(buffer.getvalue())
    status, out, err = summary(path, capsys)
    assert status == 0 and err == "" and "1e+308" in out


# --- Ctrl-C during the first Parquet save ----------------------------------------------------

def test_ctrl_c_during_the_first_parquet_save_prints_the_right_counts(finished, tmp_path, monkeypatch, capsys):
    real = results_module.write_parquet
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first save, while the first row is being recorded
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(results_module, "write_parquet", interrupted)
    out = tmp_path / "out"
    assert main(["sweep", str(finished / "spec.toml"), "--out", str(out), "--workers", "1"]) == 130
    captured = capsys.readouterr()
    kept = len(read_results(out))
    assert kept >= 1
    assert f"({0} done before, {kept} run now" in captured.out
    assert f"interrupted: {CELLS - kept} cells left" in captured.err
    monkeypatch.setattr(results_module, "write_parquet", real)
    assert main(["sweep", str(finished / "spec.toml"), "--out", str(out)]) == 0
    assert f"({kept} done before, {CELLS - kept} run now" in capsys.readouterr().out
    assert (out / "results.csv").read_bytes() == (finished / "out" / "results.csv").read_bytes()


def test_a_damaged_journal_stops_a_resume_in_one_line(finished, tmp_path, capsys):
    """The journal of a resumed folder is checked like the summary's: a damaged row stops the
    sweep in one line before any cell runs."""
    out = tmp_path / "out"
    out.mkdir()
    broken = _lines(finished)
    broken[4] = broken[4].replace(",ok,", ",okay,")
    (out / "results.csv").write_text("".join(broken))
    assert main(["sweep", str(finished / "spec.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out / 'results.csv'}:5: column status" in err
