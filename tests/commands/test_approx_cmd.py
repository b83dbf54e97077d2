"""``prefix-sched approx``: verdicts, exit codes, the schedule file and errors that name the value."""

from __future__ import annotations

import networkx as nx

from prefix_sched.cli import main
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.formats import read_schedule_order, read_stream, write_stream

# tests/solvers/approx/test_appendix_a.py::test_a_percentile_schedule_worked_by_hand: at T = 3 nothing serves all,
# dropping q0 meets the median.
RECORDS = [("q0", (("s2", 2),), 10), ("q1", (("s0", 3),), 12), ("q2", (("s6", 1),), 0), ("q3", (("s0", 3),), 9)]


def _stream_file(tmp_path):
    path = tmp_path / "s.jsonl"
    write_stream(Stream.from_records(RECORDS), path)
    return path


def test_percentile_schedule_is_written_and_recomputes(tmp_path, capsys):
    path, out, dag = _stream_file(tmp_path), tmp_path / "sched.jsonl", tmp_path / "dag.graphml"
    code = main(["approx", str(path), "--ttft", "3", "--eps", "0.5", "--block-size", "1",
                 "--out", str(out), "--dag", str(dag)])
    text = capsys.readouterr().out
    assert code == 0
    assert "PERCENTILE" in text and "dropped (served last): 1: q0" in text
    assert "no schedule meets T for every query" in text
    stream = read_stream(path)
    evaluation = evaluate(stream, read_schedule_order(out, stream))
    assert evaluation.violations(3) == 1 and evaluation.percentile(50, "inverted_cdf") <= 3
    graph = nx.read_graphml(dag)
    assert nx.has_path(graph, "start", "end")


def test_exit_codes_follow_the_verdict(tmp_path, capsys):
    path = _stream_file(tmp_path)
    assert feasible_endings(read_stream(path), 3).status == "INFEASIBLE"
    assert main(["approx", str(path), "--ttft", "3", "--eps", "0.5", "--exact"]) == 1
    assert "certificate: block 0" in capsys.readouterr().out
    assert main(["approx", str(path), "--ttft", "4", "--eps", "0.5", "--exact"]) == 0
    assert "FEASIBLE" in capsys.readouterr().out
    assert main(["approx", str(path), "--ttft", "4", "--eps", "0.5", "--max-states", "1"]) == 3
    assert "no claim either way" in capsys.readouterr().out


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    path = _stream_file(tmp_path)
    assert main(["approx", str(path), "--ttft", "3", "--eps", "1.5"]) == 2
    assert "--eps: must lie strictly between 0 and 1, got '1.5'" in capsys.readouterr().err
    assert main(["approx", str(path), "--ttft", "3", "--max-length", "2"]) == 2
    assert "query 'q1' has 3 tokens, more than L = 2" in capsys.readouterr().err
