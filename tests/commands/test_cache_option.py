"""The cache model in files and commands: schedule headers, evaluate --cache, output_length, and
the refusals of every solver and bound that is a theorem about Definition 2's one-prompt cache."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import HEAD300
from prefix_sched.cli import main
from prefix_sched.errors import FormatError, InputError
from prefix_sched.solvers.exact import brute
from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.exact.cpsat import solve_cpsat
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.solvers.exact.drops import fewest_drops
from prefix_sched.solvers.exact import decide, minimize_max_ttft, minimize_violations
from prefix_sched.solvers.exact.mip import decide_mip
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.theorem2.guarantee import check_order
from prefix_sched.theory.prompt import prompt_length
from prefix_sched.theory.stream import Query, Stream
from prefix_sched.theory.formats import (
    read_mooncake, read_schedule, read_schedule_order, read_stream, write_schedule, write_stream,
)
from prefix_sched.theory.theorem2.definition4 import definition4_stream

from strategies import streams

OTHER_CACHES = ("lru:1000", "unbounded")


def _naive_reuse(prompts):
    """Reuse per position with every served prompt kept: an independent token-level trie keyed by
    ``(segment id, offset)`` (tests/theory/cache/test_radix.py checks the LRU tree against its own reference)."""
    root: dict = {}
    out = []
    for prompt in prompts:
        node, reused, matching = root, 0, True
        for sid, length in prompt:
            for offset in range(length):
                key = (sid, offset)
                if matching and key in node:
                    reused += 1
                else:
                    matching = False
                    node[key] = {}
                node = node[key]
        out.append(reused)
    return out


# --- schedule files record the cache model ----------------------------------------------------

@pytest.mark.parametrize("cache", ["last", "lru:40", "unbounded"])
def test_a_schedule_file_records_its_cache_and_reads_it_back(cache, tmp_path):
    stream = definition4_stream([0, 1, 2, 0, 1, 2], u=10, d=3, delta=1)
    evaluation = evaluate(stream, [0, 1, 2, 3, 4, 5], cache=cache)
    write_schedule(stream, evaluation, tmp_path / "s.jsonl")
    header = json.loads((tmp_path / "s.jsonl").read_text().splitlines()[0])
    assert header["cache"] == cache
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()[1:]]
    assert [row["reused_tokens"] for row in rows] == list(evaluation.reused)
    schedule = read_schedule(tmp_path / "s.jsonl", stream)
    assert schedule.order == [0, 1, 2, 3, 4, 5] and schedule.cache == cache and schedule.cache_recorded
    assert read_schedule_order(tmp_path / "s.jsonl", stream) == schedule.order


def test_a_schedule_without_a_cache_field_is_last(tmp_path):
    stream = definition4_stream([0, 1], u=4, d=2, delta=1)
    path = tmp_path / "old.jsonl"
    path.write_text('{"format": "prefix-sched.schedule", "version": 1}\n'
                    '{"position": 1, "id": "q0"}\n{"position": 0, "id": "q1"}\n')
    schedule = read_schedule(path, stream)
    assert (schedule.order, schedule.cache, schedule.cache_recorded) == ([1, 0], "last", False)


@pytest.mark.parametrize("value, shown", [('"lru:0"', "lru:0"), ('"LRU:5"', "LRU:5"), ('"lru"', "'lru'"),
                                          ("5", "5"), ("null", "None"), ('"fifo:3"', "fifo:3")])
def test_a_bad_cache_in_a_schedule_header_names_file_line_and_value(value, shown, tmp_path):
    stream = definition4_stream([0, 1], u=4, d=2, delta=1)
    path = tmp_path / "bad.jsonl"
    path.write_text('\n{"format": "prefix-sched.schedule", "version": 1, "cache": ' + value + '}\n'
                    '{"position": 0, "id": "q0"}\n{"position": 1, "id": "q1"}\n')
    with pytest.raises(FormatError) as info:
        read_schedule(path, stream)
    message = str(info.value)
    assert f"{path}:2: header field 'cache'" in message and shown in message and "\n" not in message


# --- evaluate --cache --------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    stream = definition4_stream([0, 1, 0, 2, 1, 2, 0, 1, 2], u=20, d=3, delta=2)
    write_stream(stream, tmp_path / "s.jsonl")
    order = list(range(stream.n))
    for cache in ("last", "unbounded"):
        write_schedule(stream, evaluate(stream, order, cache=cache), tmp_path / f"{cache}.jsonl")
    return stream, tmp_path


@pytest.mark.parametrize("recorded", ["last", "unbounded"])
@pytest.mark.parametrize("asked", [None, "last", "lru:23", "lru:60", "unbounded"])
def test_evaluate_uses_the_files_cache_unless_told_otherwise(recorded, asked, files, capsys):
    stream, folder = files
    argv = ["evaluate", str(folder / "s.jsonl"), str(folder / f"{recorded}.jsonl"), "--out", str(folder / "o.jsonl")]
    assert main(argv + ([] if asked is None else ["--cache", asked])) == 0
    used = recorded if asked is None else asked
    expected = evaluate(stream, list(range(stream.n)), cache=used)
    out = capsys.readouterr().out
    assert f"cache {used} (" in out and ("from --cache" in out) == (asked is not None)
    assert f"tokens reused {expected.total_reused}" in out
    rows = [json.loads(line) for line in (folder / "o.jsonl").read_text().splitlines()]
    assert rows[0]["cache"] == used
    assert [row["reused_tokens"] for row in rows[1:]] == list(expected.reused)
    assert [row["ttft"] for row in rows[1:]] == list(expected.ttft)


def test_the_cache_changes_what_evaluate_reports(files, capsys):
    """Not a tautology of the above: arrival order on this stream reuses more under unbounded."""
    stream, folder = files
    order = list(range(stream.n))
    prompts = [stream.queries[i].prompt for i in order]
    assert list(evaluate(stream, order, cache="unbounded").reused) == _naive_reuse(prompts)
    assert evaluate(stream, order, cache="unbounded").total_reused > evaluate(stream, order).total_reused
    main(["evaluate", str(folder / "s.jsonl"), str(folder / "last.jsonl"), "--cache", "unbounded"])
    assert f"tokens reused {sum(_naive_reuse(prompts))}" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["lru:0", "LRU:5", "lru", "unbound"])
def test_evaluate_refuses_a_bad_cache_before_reading(value, files, capsys):
    _, folder = files
    assert main(["evaluate", str(folder / "missing.jsonl"), str(folder / "last.jsonl"), "--cache", value]) == 2
    err = capsys.readouterr().err
    assert "error: --cache: " in err and value in err and len(err.strip().splitlines()) == 1


def test_evaluate_refuses_a_prompt_longer_than_the_capacity(files, capsys):
    _, folder = files
    assert main(["evaluate", str(folder / "s.jsonl"), str(folder / "last.jsonl"), "--cache", "lru:22"]) == 2
    assert "23 tokens, more than the cache capacity of 22 tokens (lru:22)" in capsys.readouterr().err


def test_simulate_schedules_carry_their_cache_into_evaluate(files, capsys):
    stream, folder = files
    out = folder / "sim.jsonl"
    assert main(["simulate", str(folder / "s.jsonl"), "--policy", "lpm", "--out", str(out)]) == 0
    assert read_schedule(out, stream).cache == "last"


# --- output_length ----------------------------------------------------------------------------

def test_output_length_round_trips_through_stream_files(tmp_path):
    stream = Stream((Query("a", (("u", 5),), 0, 7), Query("b", (("u", 5), ("d", 1)), 1), Query("c", (("x", 2),), 2, 0)))
    write_stream(stream, tmp_path / "s.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()[1:]]
    assert [line.get("output_length") for line in lines] == [7, None, 0]
    assert "output_length" not in lines[1]
    back = read_stream(tmp_path / "s.jsonl")
    assert back == stream and [q.output_length for q in back.queries] == [7, None, 0]


@pytest.mark.parametrize("value", ["-1", "1.5", '"7"', "true", "null", "[3]", "1e3"])
def test_a_bad_output_length_in_a_stream_file_names_line_and_value(value, tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"format": "prefix-sched.stream", "version": 1}\n{"id": "a", "arrival": 0, "tokens": [1]}\n'
                    '{"id": "b", "arrival": 0, "tokens": [2], "output_length": ' + value + '}\n')
    with pytest.raises(FormatError) as info:
        read_stream(path)
    assert f"{path}:3: output_length must be a non-negative integer" in str(info.value)


@pytest.mark.parametrize("value", [-1, 1.5, "7", True, [2]])
def test_a_query_refuses_a_bad_output_length(value):
    with pytest.raises(InputError, match="output_length must be a non-negative integer"):
        Stream((Query("a", (("u", 5),), 0, value),))


def test_mooncake_output_length_is_read_and_checked(tmp_path):
    stream = read_mooncake(HEAD300, 20)
    raw = [json.loads(line) for line in HEAD300.read_text().splitlines() if line.strip()]
    assert [q.output_length for q in stream.queries] == [r["output_length"] for r in raw]
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"timestamp": 0, "input_length": 3, "hash_ids": [1]}\n'
                     '{"timestamp": 1, "input_length": 3, "hash_ids": [2], "output_length": 4}\n')
    assert [q.output_length for q in read_mooncake(trace, 1).queries] == [None, 4]
    trace.write_text('{"timestamp": 0, "input_length": 3, "hash_ids": [1], "output_length": -2}\n')
    with pytest.raises(FormatError, match=r"t.jsonl:1: output_length must be a non-negative integer, got -2"):
        read_mooncake(trace, 1)


def test_output_length_does_not_change_the_evaluation():
    plain = definition4_stream([0, 1, 0, 1], u=5, d=2, delta=1)
    tagged = Stream(tuple(Query(q.qid, q.prompt, q.arrival, 10 * i) for i, q in enumerate(plain.queries)))
    assert evaluate(tagged, [2, 0, 3, 1]).ttft == evaluate(plain, [2, 0, 3, 1]).ttft


# --- refusals: theorems about Definition 2 ----------------------------------------------------

TOY = definition4_stream([0, 1, 0, 1], u=5, d=5, delta=0)
REFUSING = {
    "decide": lambda c: decide(TOY, 30, cache=c),
    "minimize_max_ttft": lambda c: minimize_max_ttft(TOY, cache=c),
    "minimize_violations": lambda c: minimize_violations(TOY, 30, cache=c),
    "dp": lambda c: feasible_endings(TOY, 30, cache=c),
    "cpsat": lambda c: solve_cpsat(TOY, "max-ttft", cache=c),
    "brute_max": lambda c: brute.best_max_ttft(TOY, cache=c),
    "brute_violations": lambda c: brute.fewest_violations(TOY, 30, cache=c),
    "drops": lambda c: fewest_drops(TOY, 30, cache=c),
    "mip": lambda c: decide_mip(TOY, 30, cache=c),
    "appendix_a": lambda c: approx(TOY, 30, "1/2", cache=c),
    "guarantee": lambda c: check_order(TOY, [0, 2, 1, 3], cache=c),
}


@pytest.mark.parametrize("name", sorted(REFUSING))
@pytest.mark.parametrize("cache", OTHER_CACHES)
def test_every_theorem_about_definition_2_refuses_another_cache(name, cache):
    with pytest.raises(InputError) as info:
        REFUSING[name](cache)
    assert f"not for cache {cache!r}" in str(info.value) and "cache 'last'" in str(info.value)


@pytest.mark.parametrize("name", sorted(REFUSING))
def test_every_theorem_about_definition_2_accepts_last_and_answers_as_before(name):
    assert REFUSING[name]("last") is not None
    if name == "minimize_max_ttft":
        assert REFUSING[name]("last").objective == brute.best_max_ttft(TOY)[0]


def test_a_bad_cache_spec_is_refused_by_the_solvers_too():
    with pytest.raises(InputError, match="lru:0"):
        decide(TOY, 30, cache="lru:0")


def test_exact_results_record_the_cache():
    assert minimize_max_ttft(TOY, solver="dp").settings["cache"] == "last"
    assert approx(TOY, 30, "1/2").settings["cache"] == "last"


@pytest.mark.parametrize("command", [["solve", "{s}", "--ttft", "100"], ["solve", "{s}", "--minimize", "max-ttft"],
                                     ["approx", "{s}", "--ttft", "100"]])
@pytest.mark.parametrize("cache", OTHER_CACHES)
def test_solve_and_approx_refuse_another_cache_with_exit_2(command, cache, files, capsys):
    _, folder = files
    out = folder / "never.jsonl"
    words = [w.format(s=folder / "s.jsonl") for w in command] + ["--cache", cache, "--out", str(out)]
    assert main(words) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error: --cache: " in err and f"not for cache {cache!r}" in err
    assert not out.exists()


@pytest.mark.parametrize("command", [["solve", "{s}", "--ttft", "100"], ["approx", "{s}", "--ttft", "100"]])
def test_solve_and_approx_with_cache_last_answer_as_without(command, files, capsys):
    _, folder = files
    words = [w.format(s=folder / "s.jsonl") for w in command]
    assert main(words) == 0
    plain = capsys.readouterr().out
    assert main(words + ["--cache", "last"]) == 0
    with_last = capsys.readouterr().out
    assert _timeless(plain) == _timeless(with_last)


def _timeless(text: str) -> str:
    """The command's output without wall times (``0.02 s``) and the settings line (versions, times)."""
    return re.sub(r"\d+\.\d+ s\b", "_ s", "\n".join(line for line in text.splitlines() if "settings" not in line))


def test_guarantee_refuses_a_schedule_made_under_another_cache(files, capsys):
    stream, folder = files
    assert main(["guarantee", str(folder / "s.jsonl"), str(folder / "last.jsonl")]) in (0, 1)
    capsys.readouterr()
    assert main(["guarantee", str(folder / "s.jsonl"), str(folder / "unbounded.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unbounded.jsonl" in err and "made under cache 'unbounded'" in err and len(err.splitlines()) == 1


@settings(max_examples=40, deadline=None)
@given(stream=streams(max_n=6), data=st.data())
def test_unbounded_evaluation_matches_a_token_trie_on_random_streams(stream, data):
    order = data.draw(st.permutations(range(stream.n)))
    prompts = [stream.queries[i].prompt for i in order]
    reused = evaluate(stream, order, cache="unbounded").reused
    assert list(reused) == _naive_reuse(prompts)
    assert all(r <= prompt_length(p) for r, p in zip(reused, prompts))
