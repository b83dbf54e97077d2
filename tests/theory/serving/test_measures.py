"""Measures of a timeline: exact percentiles (numpy's linear method), TTFT, TBT, TPOT, delays,
goodput, and a summary recomputed by hand."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.theory.evaluator import evaluate, percentile
from prefix_sched.theory.measures import MEASURES, measure
from prefix_sched.theory.serving.measures import (
    ALL,
    PART1_MEASURES,
    BatchLog,
    Timeline,
    batch_summary,
    exact_percentile,
    meets_objectives,
    summarize,
)
from prefix_sched.theory.serving.objectives import OBJECTIVE_METRICS
from prefix_sched.theory.serving.requests import Workload, parse_classes
from prefix_sched.theory.stream import Query, Stream


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=60), q=st.sampled_from([0, 1, 50, 90, 99, 100]))
def test_percentile_is_numpys_linear_exactly(values, q):
    exact = exact_percentile(np.array(values, dtype=np.int64), q)
    numpy = float(np.percentile(np.array(values, dtype=np.float64), q))
    assert float(exact) == pytest.approx(numpy, rel=1e-12, abs=1e-6)
    ordered = sorted(values)
    h = Fraction(len(values) - 1) * q / 100
    low = int(h)
    high = min(low + 1, len(values) - 1)
    assert exact == ordered[low] + (h - low) * (ordered[high] - ordered[low])


def small_timeline():
    """Two requests, D = 2 ticks per us. r0 (class gold, TBT 3 us): arrives 0, scheduled at 1 us, tokens
    at 4, 6, 10 us; r1 (free, TBT 10 us): arrives 2, scheduled 2, one token at 6 us."""
    classes = parse_classes("gold=1/2:3us,free=1/2:10us")
    w = Workload.from_lengths([5, 2], [3, 1], [0, 2], classes=classes, class_index=[0, 1])
    D = 2
    return Timeline(w, D, np.array([0, 4]), np.array([2, 4]), np.array([0, 3, 4]), np.array([8, 12, 20, 12]),
                    np.array([0, 1]))


def test_per_request_measures_by_hand():
    t = small_timeline()
    assert t.ttft().tolist() == [8, 8]  # ticks: 4 us and 4 us
    assert t.tbt().tolist() == [4, 8]  # r0's gaps 2 us and 4 us; none across requests
    assert t.max_tbt().tolist() == [8, -1]
    assert t.tpot() == [Fraction(6), None]  # (10 - 4) / 2 us = 3 us = 6 ticks
    assert t.scheduling_delay().tolist() == [2, 0]
    assert t.e2e().tolist() == [20, 8]
    # r0's largest TBT is 4 us > 3 us: it misses; r1 has no TBT: it meets
    assert meets_objectives(t).tolist() == [False, True]
    assert meets_objectives(t, ttft_slo_us=Fraction(7, 2)).tolist() == [False, False]


def test_summary_by_hand():
    rows = summarize(small_timeline())
    everything = rows[ALL]
    assert everything["requests"] == 2 and everything["ttft_p50"] == 4 and everything["ttft_max"] == 4
    assert everything["tbt_p50"] == 3 and everything["tbt_max"] == 4
    assert everything["tbt_p99"] == Fraction(2) + Fraction(99, 100) * 2
    assert everything["tpot_mean"] == 3
    assert everything["output_tokens"] == 4 and everything["met"] == 1
    # the span: first arrival 0 to the last token 10 us = 1e-5 s
    assert everything["throughput_tok_s"] == 400_000 and everything["goodput_req_s"] == 100_000
    assert rows["gold"]["requests"] == 1 and rows["gold"]["tbt_slo"] == 3 and rows["gold"]["tbt_max"] == 4
    assert rows["free"]["tbt_p50"] is None and rows["free"]["preemptions"] == 1


def test_batch_summary():
    log = BatchLog(np.array([0, 10]), np.array([10, 30]), np.array([4, 0]), np.array([0, 2]), np.array([1, 2]))
    s = batch_summary(log, 2)
    assert s["iterations"] == 2 and s["mean_prefill_tokens"] == 2 and s["mean_decode_tokens"] == 1
    assert s["mean_batch_us"] == Fraction(15, 2) and s["busy_us"] == 15


def test_engine_rows_split_the_whole():
    """Per-engine figures of a cluster run recomputed from the timeline by hand."""
    from prefix_sched.solvers.serving.engine import serve
    from prefix_sched.theory.serving.measures import engine_rows
    w = Workload.from_lengths([4, 2, 6, 3], [2, 1, 3, 2], [0, 0, 1, 2])
    run = serve(w, "sarathi", budget=4, cost="c0=10,cp=1,cd=1", engines=2, router="round-robin", record_batches=True)
    rows = engine_rows(run.timeline, 2, run.batches)
    assert [r["requests"] for r in rows] == [2, 2]
    assert [r["prompt_tokens"] for r in rows] == [10, 5]
    assert [r["output_tokens"] for r in rows] == [5, 3]
    assert sum(r["iterations"] for r in rows) == run.iterations
    t = run.timeline
    for g, row in enumerate(rows):
        ttft = sorted(run.token_times_us(i)[0] - w.requests[i].arrival_us for i in range(4) if t.engine[i] == g)
        assert row["ttft_p50"] == (ttft[0] + ttft[1]) / 2


# --- one percentile, one vocabulary ------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=40),
       q=st.sampled_from([0, 1, 50, 90, 99, 100, Fraction(999, 10), "1/3"]), presorted=st.booleans())
def test_the_serving_percentile_is_the_evaluators(values, q, presorted):
    """The serving measures' percentile is Part 1's (theory/evaluator.py): on an int64 array, sorted
    or not, it gives exactly what the evaluator gives on the same values as a list, types included
    (``int`` when whole, else ``Fraction``), for both of numpy's methods."""
    assert exact_percentile is percentile
    array = np.array(sorted(values) if presorted else values, dtype=np.int64)
    for method in ("linear", "inverted_cdf"):
        got = percentile(array, q, method, presorted=presorted)
        expected = percentile(list(values), q, method)
        assert got == expected and type(got) is type(expected)
        assert type(got) in (int, Fraction)


@st.composite
def part1_runs(draw):
    """A stream with integer arrivals (prompts from a small pool of shared heads) and an order."""
    n = draw(st.integers(1, 12))
    heads = [(("h1", 3),), (("h1", 3), ("h2", 4)), (("h3", 2),), ()]
    queries = tuple(Query(f"q{i}", draw(st.sampled_from(heads)) + ((f"own{i}", draw(st.integers(1, 5))),),
                          draw(st.integers(0, 40))) for i in range(n))
    return Stream(queries), draw(st.permutations(range(n)))


@settings(max_examples=150, deadline=None)
@given(run=part1_runs(), cache=st.sampled_from(["last", "unbounded", "lru:12"]))
def test_part1_and_serving_names_of_one_quantity_agree(run, cache):
    """PART1_MEASURES pairs a summary figure with Part 1's measure of the same quantity. A
    Definition 2 run written as a serving timeline (one output token per query at its completion,
    the query's reuse as its cached tokens, one tick per microsecond, so a token-time is a
    microsecond) gives the same value under both names, and the names are in both tables."""
    stream, order = run
    ev = evaluate(stream, order, cache=cache)
    position = {index: k for k, index in enumerate(ev.order)}
    at = [position[i] for i in range(stream.n)]  # the workload is in stream order
    workload = Workload.from_lengths(stream.lengths, [1] * stream.n, [q.arrival for q in stream.queries])
    timeline = Timeline(workload, 1, np.array([q.arrival for q in stream.queries], dtype=np.int64),
                        np.array([ev.start[k] for k in at], dtype=np.int64), np.arange(stream.n + 1),
                        np.array([ev.completion[k] for k in at], dtype=np.int64), np.zeros(stream.n, dtype=np.int64),
                        cached_tokens=np.array([ev.reused[k] for k in at], dtype=np.int64))
    row = summarize(timeline)[ALL]
    part1 = measure(ev, stream, list(PART1_MEASURES.values()))
    for serving_name, part1_name in PART1_MEASURES.items():
        assert serving_name in row and part1_name in MEASURES
        assert row[serving_name] == part1[part1_name], (serving_name, part1_name)
        assert type(row[serving_name]) is type(part1[part1_name])
    assert {name for name in PART1_MEASURES if name.startswith("ttft_")} <= set(OBJECTIVE_METRICS)
