"""``prefix-sched gap``: the bracket, each policy's gap, the JSON report, and exit codes.

Each check recomputes what the command claims: the upper bound's order through the evaluator,
every policy's max TTFT by simulating it, the gap from those numbers, and the certifying window
through :func:`~prefix_sched.solvers.bounds.lower.window_value`.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from paths import HEAD300
from prefix_sched.cli import main
from prefix_sched.theory.load import rescale_to_load
from prefix_sched.solvers.bounds.lower import window_value
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.formats import read_mooncake, read_stream

TRACE = HEAD300


def _exact(value):
    return exact_number(value, "value")


def _generate(path):
    assert main(["generate", "def4", "--n", "24", "--r", "4", "--u", "100", "--d", "5",
                 "--delta", "50", "--seed", "1", "--out", str(path)]) == 0


def test_gap_report_on_definition4_is_recomputed(tmp_path, capsys):
    stream_path, report_path = tmp_path / "s.jsonl", tmp_path / "gap.json"
    _generate(stream_path)
    assert main(["gap", str(stream_path), "--policy", "fcfs", "--policy", "k-lpm", "--k", "3",
                 "--time-limit", "5", "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "bracket [" in out and "lower bound" in out
    report = json.loads(report_path.read_text())
    assert report["format"] == "prefix-sched.gap" and report["version"] == 1
    stream = read_stream(stream_path)
    lower, upper = _exact(report["lower_bound"]["value"]), _exact(report["upper_bound"]["value"])
    assert 0 < lower <= upper
    order = [stream.index_of(qid) for qid in report["upper_bound"]["order"]]
    assert evaluate(stream, order).max_ttft == upper
    window = report["lower_bound"]["window"]
    recount = window_value(stream, _exact(window["first_arrival"]), _exact(window["last_arrival"]))
    assert recount.value == _exact(window["value"]) <= lower
    assert [stream.index_of(q) for q in window["queries"]] == list(recount.queries)
    labels = [row["policy"] for row in report["policies"]]
    assert labels == ["fcfs", "k-lpm(k=3)"]
    for row, spec in zip(report["policies"], [parse_policy("fcfs"), parse_policy("k-lpm", k=3)]):
        value = simulate(stream, spec).evaluation.max_ttft
        assert _exact(row["max_ttft"]) == value >= upper
        assert _exact(row["gap"]) == Fraction(value - lower) / lower
    assert report["bracket"] == [report["lower_bound"]["value"], report["upper_bound"]["value"]]


def test_gap_on_a_rescaled_trace(tmp_path):
    report_path = tmp_path / "gap.json"
    assert main(["gap", str(TRACE), "--format", "mooncake", "--limit", "120", "--load", "1.5",
                 "--policy", "lpm", "--time-limit", "5", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    stream = rescale_to_load(read_mooncake(TRACE, 20, limit=120), "1.5")
    order = [stream.index_of(qid) for qid in report["upper_bound"]["order"]]
    upper = evaluate(stream, order).max_ttft
    assert upper == _exact(report["upper_bound"]["value"])
    assert _exact(report["lower_bound"]["value"]) <= upper
    assert report["load"] == "3/2"


@pytest.mark.parametrize("cache", ["unbounded", "lru:200000"])
def test_gap_under_a_radix_cache(tmp_path, cache):
    report_path = tmp_path / "gap.json"
    assert main(["gap", str(TRACE), "--format", "mooncake", "--limit", "80", "--cache", cache,
                 "--policy", "lpm", "--time-limit", "3", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    stream = read_mooncake(TRACE, 20, limit=80)
    assert report["cache"] == report["lower_bound"]["cache"] == cache
    order = [stream.index_of(qid) for qid in report["upper_bound"]["order"]]
    assert evaluate(stream, order, cache=cache).max_ttft == _exact(report["upper_bound"]["value"])
    assert report["upper_bound"]["search"] is None  # the window search is Definition 2's
    assert _exact(report["lower_bound"]["value"]) <= _exact(report["upper_bound"]["value"])


@pytest.mark.parametrize("argv, message", [
    (["--cache", "lru"], "--cache"),
    (["--cache", "lru:10"], "capacity"),
    (["--load", "0"], "--load"),
    (["--window", "1"], "--window"),
    (["--time-limit", "0"], "--time-limit"),
    (["--policy", "sjf"], "sjf"),
    (["--json", "/nonexistent-folder/x.json"], "--json"),
])
def test_bad_input_exits_2_naming_the_value(tmp_path, capsys, argv, message):
    stream_path = tmp_path / "s.jsonl"
    _generate(stream_path)
    capsys.readouterr()
    assert main(["gap", str(stream_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_stream_file_exits_2(tmp_path, capsys):
    assert main(["gap", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
