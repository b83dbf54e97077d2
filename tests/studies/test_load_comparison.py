"""Policy comparison across offered loads: exact rescaling and rows recomputed by the evaluator."""

from __future__ import annotations

from fractions import Fraction

import pytest

from prefix_sched.cli import main
from prefix_sched.errors import InputError
from prefix_sched.studies.load_comparison import compare_policies
from prefix_sched.theory.load import offered_load, rescale_to_load
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import poisson_prefix_tree

from strategies import toy_stream


def test_rescaling_is_exact_and_keeps_the_arrival_order():
    stream = poisson_prefix_tree(groups=6, group_size=3, prefix_len=70, suffix_len=7, rate="1/31", seed=4)
    for load in ("1/3", 1, "7/5"):
        rescaled = rescale_to_load(stream, load)
        assert offered_load(rescaled) == Fraction(load)
        assert rescaled.arrival_order == stream.arrival_order
        assert [q.prompt for q in rescaled.queries] == [q.prompt for q in stream.queries]


def test_rows_match_the_evaluator():
    stream = poisson_prefix_tree(groups=8, group_size=4, prefix_len=300, suffix_len=20, rate="1/200", seed=1)
    policies = [parse_policy("fcfs"), parse_policy("k-lpm", k=2)]
    rows = compare_policies(stream, policies, loads=["3/2"])
    for row, policy in zip(rows, policies):
        order = simulate(rescale_to_load(stream, "3/2"), policy).order
        ev = evaluate(rescale_to_load(stream, "3/2"), order)
        assert (row.p99, row.max) == (ev.percentile(99), ev.max_ttft)
        assert row.reused_share == Fraction(sum(ev.reused), stream.total_tokens())


def test_bad_loads_are_named():
    with pytest.raises(InputError, match="load must be > 0, got 0"):
        rescale_to_load(toy_stream(delta=1), 0)
    with pytest.raises(InputError, match="offered load is infinite"):
        offered_load(toy_stream(delta=0))


def test_compare_command_writes_a_plot(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    main(["generate", "poisson", "--groups", "10", "--group-size", "4", "--prefix-len", "500",
          "--suffix-len", "20", "--rate", "1/400", "--out", str(path)])
    assert main(["compare", str(path), "--load", "1.5", "--k", "2", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "k-lpm(k=2)" in out and (tmp_path / "p.png").stat().st_size > 1000
    assert main(["compare", str(path), "--load", "-1"]) == 2
