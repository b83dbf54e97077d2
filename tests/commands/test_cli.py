"""The prefix-sched CLI: determinism, output files, exit codes and errors that name the value."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prefix_sched.cli import main
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.formats import read_schedule_order, read_stream


def _generate(path, seed="3"):
    return main(["generate", "def4", "--n", "40", "--r", "4", "--u", "100", "--d", "10",
                 "--delta", "20", "--seed", seed, "--out", str(path)])


def test_same_seed_writes_byte_identical_files(tmp_path):
    assert _generate(tmp_path / "a.jsonl") == 0
    assert _generate(tmp_path / "b.jsonl") == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert _generate(tmp_path / "c.jsonl", seed="4") == 0
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()
    for name in ("x", "y"):
        assert main(["simulate", str(tmp_path / "a.jsonl"), "--policy", "lpm", "--tie-break", "random",
                     "--seed", "5", "--out", str(tmp_path / f"{name}.jsonl")]) == 0
    assert (tmp_path / "x.jsonl").read_bytes() == (tmp_path / "y.jsonl").read_bytes()


def test_poisson_generation_is_deterministic(tmp_path):
    args = ["generate", "poisson", "--groups", "5", "--group-size", "4", "--prefix-len", "300",
            "--suffix-len", "20", "--rate", "1/100", "--seed", "9"]
    main(args + ["--out", str(tmp_path / "a.jsonl")])
    main(args + ["--out", str(tmp_path / "b.jsonl")])
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert read_stream(tmp_path / "a.jsonl").n == 20


def test_simulate_writes_results_the_evaluator_reproduces(tmp_path, capsys):
    _generate(tmp_path / "s.jsonl")
    out = tmp_path / "r.jsonl"
    assert main(["simulate", str(tmp_path / "s.jsonl"), "--policy", "k-lpm", "--k", "2",
                 "--ttft", "500", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "k-lpm(k=2)" in text and "over T=500" in text
    stream = read_stream(tmp_path / "s.jsonl")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["format"] == "prefix-sched.schedule" and lines[0]["settings"]["k"] == 2
    evaluation = evaluate(stream, read_schedule_order(out, stream))
    assert [row["ttft"] for row in lines[1:]] == list(evaluation.ttft)
    assert {"id", "arrival", "start", "completion", "ttft", "reused_tokens"} <= set(lines[1])
    assert main(["evaluate", str(tmp_path / "s.jsonl"), str(out), "--ttft", str(evaluation.max_ttft)]) == 0
    assert main(["evaluate", str(tmp_path / "s.jsonl"), str(out), "--ttft", str(evaluation.max_ttft - 1)]) == 1


def test_simulate_with_no_stream_runs_the_built_in_example(capsys):
    assert main(["simulate"]) == 0
    text = capsys.readouterr().out
    assert "built-in Definition 4 example" in text
    for label in ("fcfs", "lpm", "k-lpm(k=3)"):
        assert label in text


@pytest.mark.parametrize("args, message", [
    (["simulate", "--policy", "sjf"], "unknown policy 'sjf'"),
    (["simulate", "--policy", "k-lpm", "--k", "-2"], "k must be >= 0, got '-2'"),
    (["simulate", "--policy", "fcfs", "--k", "2"], "--k: only applies"),
    (["simulate", "--alpha", "nan"], "--alpha: must be a number"),
    (["simulate", "--ttft", "-5"], "--ttft: must be >= 0, got '-5'"),
    (["simulate", "--out", "x.jsonl"], "--out: writes one run"),
    (["simulate", "missing-file.jsonl"], "cannot read missing-file.jsonl"),
    (["generate", "def4", "--n", "10", "--r", "3", "--u", "5", "--d", "5", "--delta", "1"], "--r: must divide --n"),
    (["generate", "def4", "--n", "10", "--r", "2", "--u", "-5", "--d", "5", "--delta", "1"], "--u: must be >= 1"),
    (["generate", "def4", "--n", "10", "--r", "2", "--u", "5", "--d", "5", "--delta", "inf"], "--delta: must be"),
    (["generate", "poisson", "--groups", "2", "--group-size", "2", "--prefix-len", "5",
      "--suffix-len", "5", "--rate", "0"], "--rate: must be > 0"),
])
def test_bad_input_exits_2_naming_the_value(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_stream_files_exit_2(tmp_path, capsys):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"format": "prefix-sched.stream", "version": 1}\n'
                    '{"id": "a", "arrival": 0, "tokens": [1]}\n{"id": "a", "arrival": 0, "tokens": [2]}\n')
    assert main(["simulate", str(path)]) == 2
    assert "duplicate query id 'a'" in capsys.readouterr().err


def test_console_script_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "prefix_sched.cli", "simulate", "--policy", "bogus"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "valid policies: fcfs, lpm, k-lpm" in result.stderr


def test_guarantee_command_gates_on_the_proven_bound(tmp_path, capsys):
    """k-LPM with k = r - 1, FCFS first, in the fixed view meets the bound; the reversed order of
    a backed-up stream does not (its first arrival is served last)."""
    stream_path, good, bad = tmp_path / "s.jsonl", tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    main(["generate", "def4", "--n", "24", "--r", "4", "--u", "50", "--d", "5", "--delta", "3",
          "--out", str(stream_path)])
    assert main(["simulate", str(stream_path), "--policy", "k-lpm", "--k", "3", "--cycle-start", "fcfs",
                 "--view", "fixed", "--out", str(good)]) == 0
    assert main(["guarantee", str(stream_path), str(good)]) == 0
    header, *rows = [json.loads(line) for line in good.read_text().splitlines()]
    reversed_rows = [{**row, "position": position} for position, row in enumerate(rows[::-1])]
    bad.write_text("\n".join(json.dumps(line) for line in [header, *reversed_rows]) + "\n")
    assert main(["guarantee", str(stream_path), str(bad)]) == 1
    assert "BROKEN" in capsys.readouterr().out
