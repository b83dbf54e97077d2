"""A policy run's own figures, named as in theory.measures, and every measure of it by name."""

from __future__ import annotations

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.measures import MEASURES, RUN_FIGURES, jain_index, slowdowns

from strategies import toy_stream


def test_figures_fairness_and_measures_agree():
    stream = toy_stream(delta=1)
    for name in ("lpm", "sglang-lpm:1"):
        run = simulate(stream, parse_policy(name))
        figures = run.figures()
        assert set(RUN_FIGURES) <= set(figures) and figures["max_waited"] == max(run.waited)
        assert figures["jain_slowdown"] == jain_index(slowdowns(stream, evaluate(stream, run.order)))
        # the file format keeps fcfs_fallbacks only where the policy has a fallback
        assert run.fairness() == {key: value for key, value in figures.items() if value is not None}
        values = run.measures(stream, tuple(MEASURES), ttft=12)
        assert list(values) == list(MEASURES)
        assert values["max"] == run.evaluation.max_ttft and values["violations"] == run.evaluation.violations(12)
        assert values["fcfs_fallbacks"] == run.fcfs_fallbacks == (None if name == "lpm" else figures["fcfs_fallbacks"])
