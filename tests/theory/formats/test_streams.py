"""Streams, segment prompts and the JSONL/Mooncake readers: round trips and bad input."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings

from paths import HEAD300
from prefix_sched.errors import FormatError, InputError, StreamError
from prefix_sched.theory.prompt import expand_tokens, overlap
from prefix_sched.theory.stream import Query, Stream
from prefix_sched.theory.formats import read_mooncake, read_stream, write_stream

from strategies import prompts, streams

TRACE = HEAD300  # tests/data/README.md


@settings(max_examples=300, deadline=None)
@given(p=prompts(), q=prompts())
def test_segment_overlap_equals_token_overlap(p, q):
    tokens_p, tokens_q = expand_tokens(p), expand_tokens(q)
    common = 0
    while common < min(len(tokens_p), len(tokens_q)) and tokens_p[common] == tokens_q[common]:
        common += 1
    assert overlap(p, q) == common == overlap(q, p)


@settings(max_examples=100, deadline=None)
@given(stream=streams(fractional=True))
def test_stream_file_round_trip(stream, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "s.jsonl"
    write_stream(stream, path)
    again = read_stream(path)
    assert again == stream
    assert again.arrival_order == stream.arrival_order


def test_token_list_queries(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"format": "prefix-sched.stream", "version": 1}\n'
                    '{"id": "a", "arrival": "1/2", "tokens": [5, 6, 7]}\n'
                    '{"id": "b", "arrival": 0.25, "tokens": [5, 6, 8]}\n')
    stream = read_stream(path)
    assert overlap(stream.queries[0].prompt, stream.queries[1].prompt) == 2
    assert stream.arrival_order == (1, 0)


def _write(tmp_path, *records):
    path = tmp_path / "bad.jsonl"
    lines = [{"format": "prefix-sched.stream", "version": 1}, *records]
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in lines) + "\n")
    return path


@pytest.mark.parametrize("record, message", [
    ({"arrival": 0, "segments": [["a", 1]]}, "missing field 'id'"),
    ({"id": "x", "segments": [["a", 1]]}, "missing field 'arrival'"),
    ({"id": "x", "arrival": 0}, "exactly one of 'segments' and 'tokens'"),
    ({"id": "x", "arrival": -3, "segments": [["a", 1]]}, "arrival must be >= 0, got -3"),
    ({"id": "x", "arrival": "nan", "segments": [["a", 1]]}, "arrival must be"),
    # json.dumps writes float("inf") as Infinity, which is not JSON: refused as such
    ({"id": "x", "arrival": 1e999, "segments": [["a", 1]]}, "Infinity is not JSON"),
    ('{"id": "x", "arrival": 1e999, "segments": [["a", 1]]}', "1e999 is beyond the range of a float"),
    ({"id": "x", "arrival": 0, "segments": [["a", -4]]}, "length must be a positive integer, got -4"),
    ({"id": "x", "arrival": 0, "segments": [["a", 2.5]]}, "got 2.5"),
    ({"id": "x", "arrival": 0, "segments": [["a"]]}, "must be a pair"),
    ({"id": "x", "arrival": 0, "segments": []}, "prompt is empty"),
    ("{not json", "not valid JSON"),
])
def test_malformed_stream_lines_are_named(tmp_path, record, message):
    with pytest.raises(FormatError, match=message) as info:
        read_stream(_write(tmp_path, record))
    assert ":2" in str(info.value)


def test_duplicate_ids_empty_streams_and_headers(tmp_path):
    duplicate = _write(tmp_path, {"id": "x", "arrival": 0, "tokens": [1]}, {"id": "x", "arrival": 1, "tokens": [2]})
    with pytest.raises(FormatError, match="duplicate query id 'x'"):
        read_stream(duplicate)
    with pytest.raises(FormatError, match="at least one query"):
        read_stream(_write(tmp_path))
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(FormatError, match="empty file"):
        read_stream(tmp_path / "empty.jsonl")
    (tmp_path / "v2.jsonl").write_text('{"format": "prefix-sched.stream", "version": 2}\n')
    with pytest.raises(FormatError, match="unsupported .* version 2"):
        read_stream(tmp_path / "v2.jsonl")
    with pytest.raises(FormatError, match="cannot read"):
        read_stream(tmp_path / "missing.jsonl")


def test_one_segment_id_with_two_lengths_is_refused():
    with pytest.raises(StreamError, match="segment id 'u' has length 5 in query 'a' but 3 in query 'b'"):
        Stream((Query("a", (("u", 5),), 0), Query("b", (("u", 3), ("d", 1)), 0)))


def test_query_fields_are_checked():
    with pytest.raises(StreamError, match="arrival must be an exact int or Fraction"):
        Stream((Query("a", (("u", 5),), 0.5),))
    with pytest.raises(StreamError, match="query id must be"):
        Stream((Query(1.5, (("u", 5),), 0),))
    with pytest.raises(InputError, match="no query with id 'zz'"):
        Stream((Query("a", (("u", 5),), 0),)).index_of("zz")


def test_mooncake_reader_on_a_small_trace(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"timestamp": 0, "input_length": 1000, "output_length": 3, "hash_ids": [0, 1]}\n'
        '{"timestamp": 7, "input_length": 600, "output_length": 3, "hash_ids": [0, 2]}\n')
    stream = read_mooncake(path, tokens_per_ms="5/2")
    assert stream.lengths == (1000, 600)
    assert [q.arrival for q in stream.queries] == [0, 35 / 2]
    assert overlap(stream.queries[0].prompt, stream.queries[1].prompt) == 512


@pytest.mark.parametrize("line, message", [
    ('{"timestamp": 0, "input_length": 1000, "hash_ids": [0]}', "ceil"),
    ('{"timestamp": 0, "hash_ids": [0]}', "missing field 'input_length'"),
    ('{"timestamp": -1, "input_length": 10, "hash_ids": [0]}', "timestamp must be >= 0"),
    ('{"timestamp": 0, "input_length": 0, "hash_ids": []}', "input_length must be a positive"),
])
def test_mooncake_reader_errors(tmp_path, line, message):
    path = tmp_path / "m.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(FormatError, match=message):
        read_mooncake(path, tokens_per_ms=1)
    with pytest.raises(InputError, match="tokens per ms must be > 0"):
        read_mooncake(path, tokens_per_ms=0)


def test_mooncake_reader_on_the_real_trace():
    """The first 300 requests of the real trace, each line re-read here with json."""
    stream = read_mooncake(TRACE, tokens_per_ms=20)
    records = [json.loads(line) for line in TRACE.open()]
    assert stream.n == len(records) == 300
    assert list(stream.lengths) == [r["input_length"] for r in records]
    for query, record in zip(stream.queries, records):
        assert len(query.prompt) == math.ceil(record["input_length"] / 512)
        assert query.arrival == record["timestamp"] * 20


def test_mooncake_overlap_is_the_shared_leading_blocks():
    """Equal hash ids at equal positions mean an equal prefix: the overlap of two requests is the
    tokens of their leading equal blocks (the last block may be partial), recomputed from the ids."""
    stream = read_mooncake(TRACE, tokens_per_ms=1)
    records = [json.loads(line) for line in TRACE.open()]

    def block_tokens(record, k):
        return min(512, record["input_length"] - 512 * k)

    shared_some = 0
    for a in range(0, 300, 7):
        for b in range(a + 1, 300, 11):
            ra, rb = records[a], records[b]
            k = 0
            while k < min(len(ra["hash_ids"]), len(rb["hash_ids"])) and ra["hash_ids"][k] == rb["hash_ids"][k]:
                k += 1
            expected = sum(block_tokens(ra, i) for i in range(k))
            assert overlap(stream.queries[a].prompt, stream.queries[b].prompt) == expected
            shared_some += expected > 0
    assert shared_some > 0  # the sample does contain shared prefixes
