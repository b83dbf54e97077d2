"""The cache study ranks by measures of the vocabulary, in the direction the vocabulary gives."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.studies.cache_models import CACHE_STUDY_MEASURES, cache_study, disagreements, ranking, series
from prefix_sched.theory.generators import regular_arrival_shuffled_queue


@pytest.fixture(scope="module")
def rows():
    stream = regular_arrival_shuffled_queue(n=24, r=4, u=50, d=5, delta=1)
    return cache_study(stream, "def4", loads=[2], caches=["last", "lru:1320", "unbounded"])


def test_rankings_follow_the_measures_direction(rows):
    for metric in CACHE_STUDY_MEASURES:
        for (load, cache), order in ranking(rows, metric).items():
            values = [next(r.measure(metric) for r in rows if (r.load, r.cache, r.policy) == (load, cache, p))
                      for p in order]
            assert values == sorted(values, reverse=metric == "reused_share")
    assert {row.policy for row in rows} == {"fcfs", "lpm", "k-lpm(k=1)", "k-lpm(k=2)", "k-lpm(k=3)"}
    assert not disagreements(rows, "lru:1320")


def test_unknown_metrics_are_named(rows):
    for call in (lambda: ranking(rows, "max_ttft"), lambda: series(rows, 2, "p90")):
        with pytest.raises(InputError, match="valid: p50, p99, max, reused_share"):
            call()
