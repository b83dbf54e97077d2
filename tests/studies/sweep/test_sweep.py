"""``prefix-sched sweep``: specs, cells, rows, the local executor, resume, kills, Ctrl-C, the summary.

Rows are checked against the single-process loops they replace (``p99_vs_rate`` and
``compare_policies`` compute the same numbers independently of the sweep's grid, folder and
executor), byte identity across worker counts and interruptions is checked on the files
themselves, and the kill and Ctrl-C tests run the command as a separate process and interrupt it
for real. The Ray executor is tested in test_sweep_ray.py.
"""

from __future__ import annotations

import fcntl
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from paths import DATA, REPO
from prefix_sched.cli import main
from prefix_sched.studies.load_comparison import compare_policies
from prefix_sched.solvers.online.policies import INFINITY, parse_policy
from prefix_sched.studies.sweep import results as results_module
from prefix_sched.studies.sweep.cells import expand
from prefix_sched.studies.sweep.executors import LocalExecutor
from prefix_sched.studies.sweep.results import ResultsFolder, read_results
from prefix_sched.studies.sweep.runner import run_sweep
from prefix_sched.studies.sweep.spec import GENERATORS, read_spec
from prefix_sched.studies.p99_rate import p99_vs_rate
from prefix_sched.theory.formats import read_mooncake

TRACE = DATA / "mooncake_conversation_head300.jsonl"

SMALL = f"""
seeds = [0, 1]
caches = ["last", "unbounded"]
ttft = 5000
[streams.d]
generator = "def4"
n = 40
r = 4
u = 100
d = 10
delta = [20, 30]
loads = ["as-given", 1.5]
[streams.trace]
file = "{TRACE}"
format = "mooncake"
limit = 60
loads = [0.8]
seeds = [0]
[[policies]]
name = "fcfs"
[[policies]]
name = "k-lpm"
k = [2, "inf"]
"""
SMALL_CELLS = 2 * 2 * 2 * 2 * 3 + 1 * 1 * 2 * 3  # def4: delta x seeds x loads x caches x policies; trace
# Cells of a few tens of milliseconds each, so that a kill or Ctrl-C lands while the sweep runs.
HEAVY = """
seeds = [0, 1, 2, 3, 4, 5]
[streams.d]
generator = "def4"
n = 8000
r = 4
u = 1000
d = 100
delta = 1000
[[policies]]
name = "fcfs"
[[policies]]
name = "lpm"
[[policies]]
name = "k-lpm"
k = [1, 3]
"""


def write(folder: Path, text: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def sweep(spec: Path, out: Path, workers: int = 2) -> None:
    folder = ResultsFolder(out)
    folder.check()
    outcome = run_sweep(read_spec(spec), folder, LocalExecutor(workers))
    assert not outcome.failed and not outcome.interrupted


@pytest.fixture(scope="module")
def heavy_reference(tmp_path_factory):
    """HEAVY's spec and the results folder of one clean run."""
    folder = tmp_path_factory.mktemp("heavy")
    spec = write(folder, HEAVY)
    sweep(spec, folder / "reference")
    return spec, folder / "reference"


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "prefix_sched.cli", "sweep", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(out: Path, process: subprocess.Popen, rows: int = 1, timeout: float = 120) -> None:
    """Wait until ``rows`` rows are in DIR/results.csv (the header is one more line)."""
    deadline = time.monotonic() + timeout
    csv = out / "results.csv"
    while not (csv.exists() and csv.read_text().count("\n") > rows):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no row landed in time"
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


# --- the spec ------------------------------------------------------------------------------------

def test_generator_table_matches_the_generators_signatures():
    for name, (function, kinds) in GENERATORS.items():
        assert set(kinds) == set(inspect.signature(function).parameters) - {"seed"}, name


def test_cells_expand_the_grid_with_distinct_keys(tmp_path):
    spec = read_spec(write(tmp_path, SMALL))
    cells = expand(spec)
    assert len(cells) == SMALL_CELLS == len({cell.key for cell in cells})
    assert [s.label for s in spec.streams] == ["d[delta=20]", "d[delta=30]", "trace"]
    # The key follows the file's bytes, not its name: a copy elsewhere gives the same cells.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(TRACE.read_bytes())
    moved = read_spec(write(tmp_path, SMALL.replace(str(TRACE), "copy.jsonl"), "moved.toml"))
    assert {c.key for c in expand(moved)} == {c.key for c in cells}
    changed = read_spec(write(tmp_path, SMALL.replace("ttft = 5000", "ttft = 5001"), "changed.toml"))
    assert not {c.key for c in expand(changed)} & {c.key for c in cells}


MALFORMED = [
    ("seedz = [0]\n" + SMALL, "'seedz': unknown key"),
    (SMALL.replace("limit = 60", "limt = 60"), "[streams.trace] 'limt': unknown key"),
    (SMALL.replace("limit = 60", "limit = 'x'"), "[streams.trace] limit: must be an integer >= 1, got 'x'"),
    (SMALL.replace("n = 40", "n = 4.5"), "[streams.d] n: must be an integer >= 1, got 4.5"),
    (SMALL.replace("n = 40", "n = 42"), "[streams.d] generator: def4 (delta=20): r must divide n"),
    (SMALL.replace(str(TRACE), "missing.jsonl"), "[streams.trace] file: cannot read"),
    (SMALL.replace("seeds = [0, 1]", "seeds = []"), "seeds: must not be empty"),
    (SMALL.replace("seeds = [0, 1]", "seeds = [0, 0]"), "seeds: 0 is given twice"),
    (SMALL.replace('loads = ["as-given", 1.5]', "loads = []"), "[streams.d] loads: must not be empty"),
    (SMALL.replace("loads = [0.8]", "loads = [0]"), "[streams.trace] loads: must be a number > 0"),
    (SMALL.replace('k = [2, "inf"]', "k = [2, -1]"), "[[policies]] #2 k: must be an integer >= 0 or 'inf', got -1"),
    (SMALL.replace('name = "fcfs"', 'name = "fcfs"\nk = 3'), "[[policies]] #1 k: policy 'fcfs' has k = 0"),
    (SMALL.replace('name = "fcfs"', 'name = "sjf"'), "[[policies]] #1 name: must be one of fcfs, lpm, k-lpm"),
    (SMALL.replace('"unbounded"]', '"lru:0"]'), "caches: cache 'lru:0'"),
    (SMALL.replace('"unbounded"]', '"lru:500"]'), "[streams.trace] caches: the stream: query"),
    (SMALL.replace("ttft = 5000", 'metrics = ["p99", "violations"]'), "metrics: 'violations' needs the bound"),
    (SMALL.split("[streams.d]")[0] + "[[policies]]\nname = 'fcfs'\n", "streams: missing"),
    (SMALL.split("[[policies]]")[0], "policies: missing"),
    (SMALL.replace("delta = [20, 30]", "delta = [20, 30"), "not valid TOML"),
    (SMALL.replace('generator = "def4"', 'generator = "def4"\nseed = 1'), "'seed': unknown key (seeds = [...]"),
    (SMALL.replace("[streams.d]", "[streams.d]\nfile = 'x'"), "[streams.d] generator: give either"),
]


@pytest.mark.parametrize("text, message", MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_specs_exit_2_naming_the_file_and_key(tmp_path, capsys, text, message):
    spec = write(tmp_path, text)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"prefix-sched sweep: error: {spec}: ") and message in err, err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_malformed_trace_names_the_trace_line(tmp_path, capsys):
    trace = tmp_path / "t.jsonl"
    trace.write_text(TRACE.read_text().splitlines()[0] + "\n{not json\n")
    spec = write(tmp_path, SMALL.replace(str(TRACE), str(trace)))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert f"[streams.trace] file: {trace}:2: not valid JSON" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path, capsys):
    spec = write(tmp_path, SMALL)
    for args, message in ([[], "give a sweep spec"], [[str(spec)], "--out: is needed"],
                          [[str(spec), "--out", str(tmp_path / "o"), "--plot", "p.png"], "--plot: only applies"],
                          [["--summary", str(tmp_path), "--out", str(tmp_path / "o")], "--out: does not apply"],
                          [[str(spec), "--out", str(tmp_path / "no" / "such")], "does not exist"],
                          [[str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")], "cannot read the sweep spec"]):
        assert main(["sweep", *args]) == 2
        assert message in capsys.readouterr().err


# --- rows ------------------------------------------------------------------------------------------

def test_rows_reproduce_p99_vs_rate(tmp_path):
    """The P99-against-rate experiment as a sweep: every P99 equals theory.p99_rate's, exactly."""
    spec = write(tmp_path, """
seeds = [0, 1]
metrics = ["p99"]
[streams.groups]
generator = "poisson"
groups = 5
group_size = 4
prefix_len = 4000
suffix_len = 100
rate = ["1/2000", "1/1000"]
[[policies]]
name = "k-lpm"
k = [0, 3, "inf"]
tie_break = "random"
""")
    sweep(spec, tmp_path / "out")
    rows = read_results(tmp_path / "out")
    got = {(row["variant"], row["policy"], row["seed"]): Fraction(json.loads(row["exact"])["p99"]) for row in rows}
    expected = {(row.variant, row.policy, row.seed): row.p99
                for row in p99_vs_rate(["1/2000", "1/1000"], ks=(0, 3, INFINITY), groups=5, seeds=(0, 1))}
    assert got == expected and len(got) == 12
    assert all(row["mean"] is None and row["p99"] == float(got[(row["variant"], row["policy"], row["seed"])])
               for row in rows)


def test_rows_reproduce_compare_on_a_trace(tmp_path):
    spec = write(tmp_path, f"""
seeds = [0]
[streams.trace]
file = "{TRACE}"
format = "mooncake"
limit = 80
loads = [0.8, "3/2"]
[[policies]]
name = "fcfs"
[[policies]]
name = "lpm"
[[policies]]
name = "k-lpm"
k = 2
""")
    sweep(spec, tmp_path / "out", workers=1)
    rows = {(row["load"], row["policy"]): json.loads(row["exact"]) for row in read_results(tmp_path / "out")}
    policies = [parse_policy("fcfs"), parse_policy("lpm"), parse_policy("k-lpm", k=2)]
    expected = compare_policies(read_mooncake(TRACE, 20, limit=80), policies, ["4/5", "3/2"])
    assert len(rows) == len(expected) == 6
    for row in expected:
        exact = rows[(str(row.load), row.policy)]
        assert [Fraction(exact[name]) for name in ("p50", "p99", "max", "mean", "reused_share")] == \
            [row.p50, row.p99, row.max, row.mean, row.reused_share]
        assert exact["count"] == 80 and Fraction(exact["offered_load"]) == row.load


def test_a_row_carries_settings_versions_and_exact_values(tmp_path):
    sweep(write(tmp_path, SMALL), tmp_path / "out")
    rows = read_results(tmp_path / "out")
    assert len(rows) == SMALL_CELLS and all(row["status"] == "ok" and row["error"] == "" for row in rows)
    row = next(r for r in rows if r["stream"] == "d" and r["load"] == "3/2" and r["policy"] == "fcfs")
    assert json.loads(row["source"]) == {"generator": "def4", "n": 40, "r": 4, "u": 100, "d": 10,
                                         "delta": int(row["variant"].split("=")[1])}
    assert set(json.loads(row["versions"])) == {"python", "platform", "prefix-sched", "numpy"}
    exact = json.loads(row["exact"])
    assert row["offered_load"] == 1.5 and exact["offered_load"] == "3/2"
    assert row["violations"] == exact["violations"] and row["max"] == float(Fraction(exact["max"]))
    assert row["ttft_bound"] == "5000" and row["cache"] in ("last", "unbounded")


# --- identity, resume, interruptions -----------------------------------------------------------

def test_worker_counts_give_byte_identical_files_and_a_resume_reruns_only_what_is_missing(tmp_path, capsys):
    spec = write(tmp_path, SMALL)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main(["sweep", str(spec), "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    for name in ("results.csv", "results.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    csv = tmp_path / "two" / "results.csv"
    lines = csv.read_text().splitlines(keepends=True)
    assert lines == [lines[0], *sorted(lines[1:])] and len(lines) == SMALL_CELLS + 1
    # Three rows never written and one cut off by a kill (no final newline), before any Parquet save.
    csv.write_text("".join(lines[:-4]) + lines[-4][:25])
    (tmp_path / "two" / "results.parquet").unlink()
    capsys.readouterr()
    assert main(["sweep", str(spec), "--out", str(tmp_path / "two")]) == 0
    captured = capsys.readouterr()
    assert f"({SMALL_CELLS - 4} done before, 4 run now, 0 failed)" in captured.out
    assert "dropped a row cut off by a kill" in captured.err
    for name in ("results.csv", "results.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert main(["sweep", str(spec), "--out", str(tmp_path / "two")]) == 0
    assert f"({SMALL_CELLS} done before, 0 run now" in capsys.readouterr().out
    assert (tmp_path / "one" / "results.csv").read_bytes() == csv.read_bytes()
    timings = (tmp_path / "two" / "timings.csv").read_text().splitlines()
    assert timings[0] == "cell,wall_s,host" and len(timings) == SMALL_CELLS + 1


def test_a_killed_worker_loses_and_duplicates_nothing(heavy_reference, tmp_path):
    spec, reference = heavy_reference
    out = tmp_path / "out"
    process = start_cli(str(spec), "--out", str(out), "--workers", "2")
    wait_for_rows(out, process)
    workers = children(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not set(children(process.pid)) - set(workers):  # a fresh worker takes the dead one's place
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "24 cells (0 done before, 24 run now, 0 failed)" in stdout
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    assert (out / "results.parquet").read_bytes() == (reference / "results.parquet").read_bytes()


def test_ctrl_c_keeps_finished_rows_and_the_same_command_resumes(heavy_reference, tmp_path, capsys):
    spec, reference = heavy_reference
    out = tmp_path / "out"
    process = start_cli(str(spec), "--out", str(out), "--workers", "2")
    wait_for_rows(out, process, rows=2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert "cells left; run the same command again to resume" in stderr
    kept = (out / "results.csv").read_text().splitlines()
    expected = (reference / "results.csv").read_text().splitlines()
    assert 2 <= len(kept) - 1 < len(expected) - 1, "interrupted before or after the sweep"
    assert kept == [expected[0], *sorted(kept[1:])] and set(kept) <= set(expected)
    assert not [p for p in out.iterdir() if p.name.startswith(".results")]  # no temporary files left
    assert main(["sweep", str(spec), "--out", str(out)]) == 0
    assert f"({len(kept) - 1} done before, {len(expected) - len(kept)} run now" in capsys.readouterr().out
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    assert (out / "results.parquet").read_bytes() == (reference / "results.parquet").read_bytes()


def test_a_failing_cell_is_recorded_with_its_error_and_the_exit_status_is_1(tmp_path, capsys):
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(TRACE.read_bytes())
    spec_path = write(tmp_path, SMALL.replace(str(TRACE), "trace.jsonl"))
    spec = read_spec(spec_path)
    trace.write_text(TRACE.read_text().replace('"timestamp": 0,', '"timestamp": 1,', 1))  # changed mid-sweep
    folder = ResultsFolder(tmp_path / "out")
    folder.check()
    outcome = run_sweep(spec, folder, LocalExecutor(2))
    assert len(outcome.failed) == 6 and outcome.ran == SMALL_CELLS
    failed = [row for row in read_results(tmp_path / "out") if row["status"] == "failed"]
    assert {row["stream"] for row in failed} == {"trace"} and len(failed) == 6
    assert all(row["error"].startswith("InputError: trace.jsonl changed since the sweep started") for row in failed)
    assert all(row["p99"] is None and row["count"] is None for row in failed)
    trace.write_bytes(TRACE.read_bytes())
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "out")]) == 1  # failed rows count as done
    captured = capsys.readouterr()
    assert "0 run now, 6 failed" in captured.out and "changed since the sweep started" in captured.err
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--retry-failed"]) == 0
    assert "6 run now, 0 failed" in capsys.readouterr().out
    sweep(spec_path, tmp_path / "clean")
    assert (tmp_path / "out" / "results.csv").read_bytes() == (tmp_path / "clean" / "results.csv").read_bytes()


def test_a_grown_spec_runs_only_its_new_cells_and_keeps_the_old_rows(tmp_path, capsys):
    spec = write(tmp_path, SMALL)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    grown = write(tmp_path, SMALL.replace("loads = [0.8]", "loads = [0.8, 1.2]"), "grown.toml")
    assert main(["sweep", str(grown), "--out", str(tmp_path / "out")]) == 0
    assert f"({SMALL_CELLS} done before, 6 run now" in capsys.readouterr().out
    shrunk = write(tmp_path, SMALL.replace('k = [2, "inf"]', "k = 2"), "shrunk.toml")
    assert main(["sweep", str(shrunk), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "also holds 24 rows of cells not in this spec" in out and "0 run now" in out
    assert len(read_results(tmp_path / "out")) == SMALL_CELLS + 6


def test_a_second_sweep_on_a_folder_in_use_is_refused(tmp_path, capsys):
    spec = write(tmp_path, SMALL)
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / ".sweep.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "another sweep is writing to" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_without_pyarrow_only_the_csv_is_written(tmp_path, capsys, monkeypatch):
    spec = write(tmp_path, SMALL)
    sweep(spec, tmp_path / "with")
    monkeypatch.setattr(results_module, "has_pyarrow", lambda: False)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert "results.parquet not written: pyarrow is not installed" in capsys.readouterr().out
    assert not (tmp_path / "out" / "results.parquet").exists()
    assert (tmp_path / "out" / "results.csv").read_bytes() == (tmp_path / "with" / "results.csv").read_bytes()
    (tmp_path / "out" / "results.parquet").write_bytes(b"stale")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "exists and pyarrow is not installed" in capsys.readouterr().err


# --- the summary -------------------------------------------------------------------------------

def _table(text: str) -> list[str]:
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return lines[top:bottom + 1]


def test_summary_prints_the_table_and_draws_the_plot(tmp_path, capsys):
    spec = write(tmp_path, SMALL)
    sweep(spec, tmp_path / "out")
    capsys.readouterr()
    assert main(["sweep", "--summary", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "k-lpm(k=2)" in text and "k-lpm(k=inf)" in text and "unbounded" in text and "as-given" in text
    assert "d[delta=20]" in text and "d[delta=30]" in text and "trace" in text
    plot = tmp_path / "out" / "p99_vs_load.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sweep", "--summary", str(tmp_path / "out" / "results.parquet"), "--plot",
                 str(tmp_path / "p.svg")]) == 0
    assert _table(capsys.readouterr().out) == _table(text)  # the same table (the titles name the file)
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    assert main(["sweep", "--summary", str(tmp_path / "out"), "--plot", str(tmp_path / "p.txt")]) == 2
    assert main(["sweep", "--summary", str(tmp_path / "empty")]) == 2
    assert "cannot read the results" in capsys.readouterr().err


def test_ray_missing_is_bad_input_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    spec = write(tmp_path, SMALL)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--ray", "auto"]) == 2
    assert "--ray: Ray is not installed (pip install 'prefix-sched[sweep]')" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
