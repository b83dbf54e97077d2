"""Capacity objectives: the named ones, expressions, per-class checks."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.theory.serving.objectives import parse_objective


def summary(ttft_p50=400_000, strict_p99=90_000, relaxed_p99=450_000, delay=1_000_000):
    return {"all": {"requests": 3, "tbt_slo": None, "ttft_p50": ttft_p50, "tbt_p99": relaxed_p99, "delay_p50": delay},
            "strict": {"requests": 1, "tbt_slo": 100_000, "tbt_p99": strict_p99, "ttft_p50": ttft_p50},
            "relaxed": {"requests": 2, "tbt_slo": 500_000, "tbt_p99": relaxed_p99, "ttft_p50": ttft_p50}}


def test_seed_objective():
    seed = parse_objective("seed")
    ok, rows = seed.check(summary())
    assert ok and [r[0] for r in rows] == ["ttft_p50", "tbt_p99[strict]", "tbt_p99[relaxed]"]
    assert not seed.check(summary(ttft_p50=500_001))[0]
    assert seed.check(summary(ttft_p50=500_000))[0]  # within: <=
    assert not seed.check(summary(strict_p99=100_001))[0]


def test_sarathi_objective():
    sarathi = parse_objective("sarathi")
    assert sarathi.check(summary(ttft_p50=10**9))[0]
    assert not sarathi.check(summary(delay=2_000_001))[0]


def test_expressions():
    objective = parse_objective("tbt_p99[strict] <= 0.1s, ttft_p50<=1s")
    assert objective.text == "tbt_p99[strict]<=100ms,ttft_p50<=1s"
    assert objective.check(summary())[0]
    assert not objective.check(summary(strict_p99=100_500))[0]
    missing = parse_objective("tbt_p50<=1s")
    assert not missing.check({"all": {"requests": 1, "tbt_slo": None, "tbt_p50": None}})[0]


@pytest.mark.parametrize("text, message", [
    ("ttft_p42<=1s", "unknown metric 'ttft_p42'"),
    ("ttft_p50<1s", "is not METRIC<=BOUND"),
    ("ttft_p50<=1", "with a unit"),
    ("ttft_p50<=-1s", "must be > 0"),
    ("", "an objective must be"),
])
def test_bad_objectives(text, message):
    with pytest.raises(InputError) as info:
        parse_objective(text)
    assert message in str(info.value)


def test_slo_needs_classes():
    with pytest.raises(InputError, match="needs objective classes"):
        parse_objective("tbt_p99<=slo").check({"all": {"requests": 1, "tbt_slo": None, "tbt_p99": 5}})
