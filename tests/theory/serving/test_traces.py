"""The trace readers (ShareGPT lengths, Azure, stream, Mooncake) and load_workload's arrivals and classes."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.formats import write_stream
from prefix_sched.theory.serving.requests import parse_classes
from prefix_sched.theory.serving.traces import load_workload, read_azure, read_sharegpt
from prefix_sched.theory.stream import Query, Stream

SHAREGPT = "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n74,918,992,0.08\n290,905,1195,0.32\n" \
           "1402,711,2113,1.97\n"
AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n" \
        "2023-11-16 18:15:50.9951690,396,109\n2023-11-16 18:15:51.2224670,879,55\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "len.csv").write_text(SHAREGPT)
    (tmp_path / "azure.csv").write_text(AZURE)
    return tmp_path


def test_sharegpt_reader(folder):
    assert read_sharegpt(folder / "len.csv") == ([2, 3, 4], [74, 290, 1402], [918, 905, 711])
    assert read_sharegpt(folder / "len.csv", limit=2) == ([2, 3], [74, 290], [918, 905])


def test_azure_reader_reads_100ns_timestamps_exactly(folder):
    lines, times, prompts, outputs = read_azure(folder / "azure.csv")
    assert lines == [2, 3, 4] and prompts == [374, 396, 879] and outputs == [44, 109, 55]
    assert times == [0, Fraction("4314579"), Fraction("4541877")]  # 50.9951690 - 46.6805900 s, ...


def test_azure_rescaled_exactly_to_the_rate(folder):
    w = load_workload(folder / "azure.csv", "azure", rate=Fraction(1, 2))
    # 2 gaps at 0.5 requests/s: the last arrival at 4 s; the middle at 4 * 4314579 / 4541877 s
    assert [r.arrival_us for r in w.requests] == [0, round(Fraction(4 * 10**6 * 4314579, 4541877)), 4_000_000]
    kept = load_workload(folder / "azure.csv", "azure")
    assert [r.arrival_us for r in kept.requests] == [0, 4314579, 4541877]


def test_sharegpt_needs_a_rate_and_arrivals_are_seeded(folder):
    with pytest.raises(InputError, match="give a rate"):
        load_workload(folder / "len.csv", "sharegpt")
    a = load_workload(folder / "len.csv", "sharegpt", rate=2, arrivals="truncated-exp", seed=4)
    b = load_workload(folder / "len.csv", "sharegpt", rate=2, arrivals="truncated-exp", seed=4)
    c = load_workload(folder / "len.csv", "sharegpt", rate=2, arrivals="truncated-exp", seed=5)
    assert [r.arrival_us for r in a.requests] == [r.arrival_us for r in b.requests]
    assert [r.arrival_us for r in a.requests] != [r.arrival_us for r in c.requests]
    assert a.meta["arrivals"] == "truncated-exp(rate=2, seed=4)"
    with pytest.raises(InputError, match="has its own timestamps"):
        load_workload(folder / "azure.csv", "azure", arrivals="poisson")


def test_classes_are_drawn_per_request(folder):
    classes = parse_classes("s=0.5:100ms,r=0.5:500ms")
    w = load_workload(folder / "len.csv", "sharegpt", rate=1, classes=classes, seed=0)
    assert all(r.cls in ("s", "r") for r in w.requests)
    assert all(r.tbt_slo_us == (100_000 if r.cls == "s" else 500_000) for r in w.requests)
    assert w.settings()["classes"] == ["s=1/2:100ms", "r=1/2:500ms"]


def test_stream_files_need_output_lengths(tmp_path):
    stream = Stream((Query("a", (("x", 3),), Fraction(5, 2), output_length=2),
                     Query("b", (("y", 1),), 7, output_length=1)))
    write_stream(stream, tmp_path / "s.jsonl")
    w = load_workload(tmp_path / "s.jsonl", "stream")
    assert [(r.rid, r.arrival_us, r.prompt_tokens, r.output_tokens, r.prompt) for r in w.requests] == [
        ("a", Fraction(5, 2), 3, 2, (("x", 3),)), ("b", 7, 1, 1, (("y", 1),))]
    assert [r.rid for r in load_workload(tmp_path / "s.jsonl", "stream", limit=1).requests] == ["a"]
    write_stream(Stream((Query("a", (("x", 3),), 0),)), tmp_path / "bad.jsonl")
    with pytest.raises(FormatError, match="query 'a' needs an output_length >= 1"):
        load_workload(tmp_path / "bad.jsonl", "stream")


def test_mooncake_timestamps_are_milliseconds(tmp_path):
    lines = [{"timestamp": 0, "input_length": 600, "output_length": 3, "hash_ids": [1, 2]},
             {"timestamp": 7, "input_length": 10, "output_length": 1, "hash_ids": [9]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    w = load_workload(tmp_path / "m.jsonl", "mooncake")
    assert [(r.arrival_us, r.prompt_tokens, r.output_tokens) for r in w.requests] == [(0, 600, 3), (7000, 10, 1)]


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n", "missing column(s) num_prefill_tokens, num_decode_tokens"),
    ("num_prefill_tokens,num_decode_tokens\n10,0\n", "len.csv:2: num_decode_tokens must be a positive integer"),
    ("num_prefill_tokens,num_decode_tokens\n10,1.5\n", "len.csv:2: num_decode_tokens must be a positive integer"),
    ("num_prefill_tokens,num_decode_tokens\n10,2\n-3,2\n", "len.csv:3: num_prefill_tokens"),
    ("num_prefill_tokens,num_decode_tokens\n10\n", "len.csv:2: 1 fields, the header has 2"),
    ("", "the file is empty"),
])
def test_bad_sharegpt_files(tmp_path, text, message):
    (tmp_path / "len.csv").write_text(text)
    with pytest.raises(FormatError) as info:
        read_sharegpt(tmp_path / "len.csv")
    assert message in str(info.value)


def test_bad_azure_timestamp(tmp_path):
    (tmp_path / "a.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,3,4\n")
    with pytest.raises(FormatError, match="a.csv:2: TIMESTAMP must look like"):
        read_azure(tmp_path / "a.csv")


def test_missing_file_and_bad_format(tmp_path):
    with pytest.raises(FormatError, match="cannot read nope.csv"):
        read_sharegpt(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unknown trace format"):
        load_workload(tmp_path / "x", "parquet")
