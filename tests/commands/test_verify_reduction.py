"""The verify-reduction command: exit codes, the table, the JSON report, malformed input."""

from __future__ import annotations

import json

import pytest

from prefix_sched import cli
from prefix_sched.commands import verify_reduction
from prefix_sched.reductions import construction, verify
from prefix_sched.reductions.three_partition import certified_no, planted_yes, write_instance


def test_small_battery_passes_and_writes_a_report(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert verify_reduction.main(["--m", "1-2", "--count", "2", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "7 cases, 6 decided, all agree" in out
    assert "m = 1 has no no-instances" in out
    data = json.loads(report.read_text())
    assert data["format"] == "prefix-sched.verify-reduction" and data["ok"] is True
    assert data["settings"]["m"] == [1, 2] and data["settings"]["solver"] == "dp"
    assert {"prefix-sched", "ortools", "python"} <= set(data["versions"])
    rows = data["results"]
    assert [(r["m"], r["kind"]) for r in rows] == [
        (1, "yes"), (1, "yes"), (1, "no (impossible)"), (2, "yes"), (2, "yes"), (2, "no"), (2, "no")]
    for row in rows:
        if row["kind"] == "yes":
            assert row["three_partition"] is True and row["ttft_status"] == "FEASIBLE"
            assert len(row["feasible_order"]) == 5 * row["m"] + 2
        elif row["kind"] == "no":
            assert row["three_partition"] is False and row["ttft_status"] == "INFEASIBLE"


def test_prefix_sched_subcommand_runs_the_same_battery(capsys):
    assert cli.main(["verify-reduction", "--m", "2", "--count", "1", "--seed", "3"]) == 0
    assert "2 cases, 2 decided, all agree" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["yes", "no"])
def test_input_file(tmp_path, capsys, kind):
    instance = planted_yes(3, seed=5) if kind == "yes" else certified_no(3, seed=5)
    path = tmp_path / "inst.json"
    write_instance(instance, path)
    assert verify_reduction.main(["--input", str(path)]) == 0
    expected = "FEASIBLE" if kind == "yes" else "INFEASIBLE"
    assert f" {expected} " in capsys.readouterr().out


def test_malformed_input_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "prefix-sched.3-partition", "version": 1, "B": 40, "sizes": [10, 15, 15]}')
    assert verify_reduction.main(["--input", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "a_1 = 10" in err[0]


@pytest.mark.parametrize("args", [["--m", "0"], ["--m", "two"], ["--time-limit", "0"], ["--count", "0"],
                                  ["--B", "8"], ["--x-length", "41"]])
def test_bad_options_exit_2(args, capsys):
    assert verify_reduction.main(args + ["--count", "1"] if "--count" not in args else args) == 2
    assert capsys.readouterr().err.startswith("verify-reduction: error:")


def test_time_out_is_unknown_and_exits_3(capsys):
    """A time-out is no answer: exit 3 (unknown), not 1 (a failed check)."""
    assert verify_reduction.main(["--m", "4", "--count", "1", "--time-limit", "0.01"]) == 3
    out = capsys.readouterr().out
    assert "TTFT feasibility unknown" in out and "time limit" in out and "unknown" in out.splitlines()[-1]


def test_sigint_stops_a_running_battery_at_once():
    """Ctrl-C during the battery: exit 130 in one line within seconds, not after every queued case."""
    import signal
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-m", "prefix_sched.commands.verify_reduction", "--m", "5",
                              "--count", "4", "--time-limit", "120"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # imports, the DP's process server, then the m = 5 cases are at work
    child.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and time.monotonic() - started < 30
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_broken_construction_is_caught_and_exits_1(monkeypatch, tmp_path, capsys):
    """Dropping e makes a no-instance feasible: the command must report the disagreement."""
    monkeypatch.setattr(verify, "construct", lambda inst, x_length=None: construction.construct_changed(
        inst, construction.Change.NO_E, x_length=x_length))
    path = tmp_path / "no.json"
    write_instance(certified_no(2, seed=0), path)
    assert verify_reduction.main(["--input", str(path)]) == 1
    out = capsys.readouterr().out
    assert "disagreement: 3-PARTITION says no, TTFT feasibility says FEASIBLE" in out
    assert "certificate failed: a feasible schedule maps to no 3-partition" in out


def test_a_failing_certificate_exits_1(monkeypatch, capsys):
    """With y_j not identical to x_j, y_1 costs L = 1 and pushes e to TTFT T + 1 = 41 (m = 1, T = B = 40)."""
    monkeypatch.setattr(verify, "construct", lambda inst, x_length=None: construction.construct_changed(
        inst, construction.Change.Y_DIFFERS, x_length=x_length))
    assert verify_reduction.main(["--m", "1", "--count", "1"]) == 1
    out = capsys.readouterr().out
    assert "certificate failed: the schedule gives query 'e' TTFT 41 > T = 40" in out
    assert "disagreement: 3-PARTITION says yes, TTFT feasibility says INFEASIBLE" in out


def test_cpsat_solver_agrees_on_the_battery_up_to_m_3(tmp_path, capsys):
    report = tmp_path / "cpsat.json"
    assert verify_reduction.main(["--m", "2-3", "--count", "1", "--solver", "cpsat", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["results"]
    assert [r["ttft_status"] for r in rows] == ["FEASIBLE", "INFEASIBLE", "FEASIBLE", "INFEASIBLE"]
