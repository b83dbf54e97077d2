"""The one row type of a policy run: its fields are the settings then the vocabulary, in order,
and a row holds exactly the measures of its run (recomputed from the evaluator)."""

from __future__ import annotations

from dataclasses import fields
from fractions import Fraction

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.rows import SETTINGS, PolicyRow, policy_row
from prefix_sched.studies.sweep.schema import COLUMNS, SWEEP_MEASURES
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import shared_prefix
from prefix_sched.theory.measures import MEASURES

from strategies import toy_stream


def test_fields_are_the_settings_then_the_vocabulary():
    names = [f.name for f in fields(PolicyRow)]
    assert SETTINGS == ("stream", "variant", "load", "cache", "policy", "seed")
    assert names == [*SETTINGS, *MEASURES]


def test_the_sweep_columns_are_a_persisted_slice_of_the_vocabulary():
    """results.csv's metric columns: these names, in this order, forever (old folders resume)."""
    assert SWEEP_MEASURES == ("count", "mean", "p50", "p90", "p99", "max", "makespan", "reused", "reused_share",
                              "violations")
    names = [name for name, _ in COLUMNS]
    assert names[names.index("error") + 1:names.index("exact")] == list(SWEEP_MEASURES)
    assert [kind for name, kind in COLUMNS if name in SWEEP_MEASURES] == \
        ["int", "float", "float", "float", "float", "float", "float", "int", "float", "int"]


@pytest.mark.parametrize("policy", ["fcfs", "lpm", "sglang-lpm:2", "hrrn"])
def test_a_row_holds_its_runs_measures(policy):
    stream = shared_prefix(groups=3, prompts_per_group=4, system_prompt_len=30, question_len=4, rate="1/9", seed=1)
    run = simulate(stream, parse_policy(policy), cache="lru:80")
    row = policy_row(run, stream, tuple(MEASURES), name="sp", variant="x=1", load=Fraction(3, 2), ttft=40)
    ev = evaluate(stream, run.order, cache="lru:80")  # the evaluator again, not the run's own
    assert (row.stream, row.variant, row.load, row.cache, row.policy, row.seed) == \
        ("sp", "x=1", Fraction(3, 2), "lru:80", run.policy.label, None)
    assert (row.count, row.max, row.p99, row.reused, row.violations) == \
        (stream.n, ev.max_ttft, ev.percentile(99), sum(ev.reused), sum(t > 40 for t in ev.ttft))
    assert (row.max_waited, row.jain_slowdown, row.fcfs_fallbacks) == (run.max_waited, run.jain_slowdown,
                                                                       run.fcfs_fallbacks)
    assert (row.fcfs_fallbacks is None) == (policy != "sglang-lpm:2")
    assert row.measured() == {name: value for name, value in run.measures(stream, tuple(MEASURES), 40).items()
                              if value is not None}


def test_a_row_holds_only_what_was_asked_and_names_bad_measures():
    stream = toy_stream(delta=2)
    row = policy_row(simulate(stream, parse_policy("random"), seed=5), stream, ["p50"])
    assert row.seed == 5 and row.p99 is None and row.measured() == {"p50": row.p50}
    assert policy_row(simulate(stream, parse_policy("fcfs")), stream, ["p50"], seed=7).seed == 7
    with pytest.raises(InputError, match="unknown measure 'max_ttft'"):
        row.measure("max_ttft")
