"""Serving and batches files: exact times in microseconds, read back equal."""

from __future__ import annotations

import pathlib
import tempfile
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import FormatError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.theory.formats import read_json_lines
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.formats import (
    BATCHES_FORMAT,
    SERVING_FORMAT,
    read_serving,
    us_text,
    write_batches,
    write_serving,
)
from prefix_sched.theory.serving.requests import Workload, parse_classes


@settings(max_examples=300, deadline=None)
@given(ticks=st.lists(st.integers(-10**15, 10**15), max_size=20),
       D=st.sampled_from([1, 2, 3, 4, 5, 8, 20, 7, 25, 1000]))
def test_times_are_written_exactly(ticks, D):
    """Read back by the toolkit's JSON reader (decimals exactly, refusing what a float cannot hold)."""
    texts = us_text(ticks, D)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "t.jsonl"
        path.write_text("".join(f'{{"t": {text}}}\n' for text in texts))
        read = [exact_number(record["t"], "t") for _, record in read_json_lines(path)]
    assert read == [Fraction(t, D) for t in ticks]


def test_a_run_reads_back_exactly(tmp_path):
    classes = parse_classes("a=1/2:1ms,b=1/2:2ms")
    w = Workload.from_lengths([7, 3, 12], [3, 1, 2], [0, Fraction(1, 3), 5], ids=["x", "y", 4], classes=classes,
                              class_index=[0, 1, 0])
    run = serve(w, "sarathi", budget=5, cost=parse_cost("seed"), record_batches=True)
    settings = {**run.settings, "workload": w.settings()}
    write_serving(tmp_path / "o.jsonl", run.timeline, settings, {"all": {"x": Fraction(1, 3)}})
    header, records = read_serving(tmp_path / "o.jsonl")
    assert header["format"] == SERVING_FORMAT and header["time_unit"] == "us"
    assert header["settings"]["scheduler"] == "sarathi" and header["settings"]["ticks_per_us"] == 15
    assert [r["id"] for r in records] == ["x", "y", 4]
    for i, record in enumerate(records):
        times = [exact_number(v, "t") for v in record["token_times_us"]]
        assert times == run.token_times_us(i)
        assert exact_number(record["arrival_us"], "a") == w.requests[i].arrival_us
        assert exact_number(record["ttft_us"], "t") == times[0] - w.requests[i].arrival_us
        assert record["output_tokens"] == w.requests[i].output_tokens
        assert record["class"] == w.requests[i].cls
        assert exact_number(record["tbt_slo_us"], "s") == w.requests[i].tbt_slo_us
        assert record["preemptions"] == 0
    write_batches(tmp_path / "b.jsonl", run.batches, run.timeline.ticks_per_us, settings)
    header, rows = read_serving(tmp_path / "b.jsonl")
    assert header["format"] == BATCHES_FORMAT and len(rows) == run.iterations
    assert [r["iteration"] for r in rows] == list(range(run.iterations))
    assert sum(r["prefill_tokens"] for r in rows) == 22
    ends = [exact_number(r["end_us"], "e") for r in rows]
    assert ends == sorted(ends)


def test_other_files_are_refused(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"format": "prefix-sched.stream", "version": 1}\n')
    with pytest.raises(FormatError, match="not a prefix-sched.serving"):
        read_serving(tmp_path / "x.jsonl")


def test_version_1_files_are_still_read_and_version_2_carries_engine_and_cache(tmp_path):
    (tmp_path / "v1.jsonl").write_text('{"format": "prefix-sched.serving", "version": 1, "settings": {}}\n'
                                       '{"id": 1, "token_times_us": [3]}\n')
    header, records = read_serving(tmp_path / "v1.jsonl")
    assert header["version"] == 1 and records == [{"id": 1, "token_times_us": [3]}]
    w = Workload.from_lengths([4, 2, 6], [2, 1, 3], [0, 0, 1])
    run = serve(w, "sarathi", budget=4, cost=parse_cost("c0=10,cp=1,cd=1"), engines=2, router="round-robin",
                record_batches=True)
    write_serving(tmp_path / "o.jsonl", run.timeline, run.settings)
    header, records = read_serving(tmp_path / "o.jsonl")
    assert header["version"] == 2
    assert [r["engine"] for r in records] == [0, 1, 0] and [r["cached_tokens"] for r in records] == [0, 0, 0]
    write_batches(tmp_path / "b.jsonl", run.batches, run.timeline.ticks_per_us, run.settings)
    _, rows = read_serving(tmp_path / "b.jsonl")
    assert sorted({r["engine"] for r in rows}) == [0, 1]
    starts = [(exact_number(r["start_us"], "s"), r["engine"]) for r in rows]
    assert starts == sorted(starts)
