"""Every file the toolkit reads fails the same way: a FormatError, one line, naming the file.

Classes covered (issue 11, items 2-4):

- reading: corrupt bytes, random JSON values and mutated valid files, fed to every reader
  (stream, schedule, Mooncake trace, 3-PARTITION instance), raise nothing but FormatError with a
  one-line message naming the file; each listed defect has an explicit case naming the line;
- numbers: huge exponents, huge integers, decimals a float cannot hold, NaN / Infinity literals;
- identity: ``true``, ``1.0``, ``null``, arrays and objects are refused as segment ids, tokens,
  hash ids and query ids, in files and in the Python API; ``1`` and ``"1"`` are different ids;
- schedules: the order is by ``position``, and every bad position, id or missing query is named;
- writing: atomic files through theory/outputs.py, or an open text stream.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from enum import IntEnum
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.errors import FormatError, InputError, OutputError, StreamError
from prefix_sched.reductions.three_partition import planted_yes, read_instance, write_instance
from prefix_sched.theory.formats import jsonio
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.prompt import expand_tokens, make_prompt, overlap, prompt_from_tokens
from prefix_sched.theory.stream import Query, Stream
from prefix_sched.theory.formats import (
    read_json_document, read_json_lines, read_mooncake, read_schedule_order, read_stream, write_schedule,
    write_stream,
)

STREAM_HEADER = '{"format": "prefix-sched.stream", "version": 1}'
SCHEDULE_HEADER = '{"format": "prefix-sched.schedule", "version": 1}'
SMALL = Stream.from_records([("a", (("u", 3), ("x", 1)), 0), ("b", (("u", 3), ("y", 2)), 1),
                             ("c", (("v", 2),), "3/2")])
FILE_SETTINGS = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_files() -> dict[str, bytes]:
    """One valid file per reader, as bytes."""
    buffer = io.StringIO()
    write_stream(SMALL, buffer)
    schedule = io.StringIO()
    write_schedule(SMALL, evaluate(SMALL, [2, 0, 1]), schedule, {"policy": "test"})
    trace = ('{"timestamp": 0, "input_length": 1000, "output_length": 3, "hash_ids": [0, 1]}\n'
             '{"timestamp": 7, "input_length": 600, "output_length": 3, "hash_ids": [0, 2]}\n')
    instance = json.dumps(planted_yes(2, seed=1).to_json(), indent=1)
    return {"stream": buffer.getvalue().encode(), "schedule": schedule.getvalue().encode(),
            "mooncake": trace.encode(), "instance": instance.encode()}


VALID = _valid_files()
READERS = {
    "stream": read_stream,
    "schedule": lambda path: read_schedule_order(path, SMALL),
    "mooncake": lambda path: read_mooncake(path, tokens_per_ms=1),
    "instance": read_instance,
}


def _read(kind: str, path: Path) -> object:
    """Run reader ``kind``; a FormatError must be one line naming the file."""
    try:
        return READERS[kind](path)
    except FormatError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message, message
        assert str(path) in message, message
        assert len(message) < 1000, message
        raise


def _assert_format_error_or_valid(kind: str, path: Path) -> None:
    try:
        result = _read(kind, path)
    except FormatError:
        return
    if kind == "schedule":  # a successful read is a permutation of the stream's queries
        assert sorted(result) == list(range(SMALL.n))
    else:
        assert result is not None


def _write_bytes(folder: Path, data: bytes, name: str = "input.jsonl") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# Property tests: nothing but a FormatError, whatever the bytes


@FILE_SETTINGS
@given(kind=st.sampled_from(sorted(READERS)), data=st.binary(max_size=300))
def test_random_bytes_give_only_format_errors(tmp_path, kind, data):
    _assert_format_error_or_valid(kind, _write_bytes(tmp_path, data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-10**50, max_value=10**50)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
    | st.sampled_from(["0", "1/2", "1e999999999", "nan", "-1", "1/0", "prefix-sched.stream"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "arrival", "segments", "tokens", "position", "timestamp", "input_length",
                         "hash_ids", "format", "version", "meta", "B", "sizes", "x"]), children, max_size=5),
    max_leaves=12,
)


@FILE_SETTINGS
@given(kind=st.sampled_from(sorted(READERS)), header=st.booleans(), values=st.lists(json_values, max_size=4))
def test_random_json_values_give_only_format_errors(tmp_path, kind, header, values):
    first = {"stream": STREAM_HEADER, "schedule": SCHEDULE_HEADER}.get(kind) if header else None
    lines = ([first] if first else []) + [json.dumps(value) for value in values]
    _assert_format_error_or_valid(kind, _write_bytes(tmp_path, ("\n".join(lines) + "\n").encode()))


@st.composite
def mutated(draw):
    """A valid file of some kind with a few byte-level edits."""
    kind = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[kind])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        byte = draw(st.sampled_from(b'"[]{},:0123456789-.eE/ \n\x00\xff\xc3tfn'))
        if operation == "delete" and at < len(data):
            del data[at]
        elif operation == "insert":
            data[at:at] = bytes([byte])
        elif operation == "replace" and at < len(data):
            data[at] = byte
        elif operation == "truncate":
            del data[at:]
        elif operation == "duplicate":
            data[at:at] = data[:at][-draw(st.integers(1, 40)):]
    return kind, bytes(data)


@FILE_SETTINGS
@given(case=mutated())
def test_mutated_valid_files_give_only_format_errors(tmp_path, case):
    kind, data = case
    _assert_format_error_or_valid(kind, _write_bytes(tmp_path, data))


def test_valid_files_are_valid(tmp_path):
    assert read_stream(_write_bytes(tmp_path, VALID["stream"])) == SMALL
    assert read_schedule_order(_write_bytes(tmp_path, VALID["schedule"]), SMALL) == [2, 0, 1]
    assert read_mooncake(_write_bytes(tmp_path, VALID["mooncake"]), 1).lengths == (1000, 600)
    assert read_instance(_write_bytes(tmp_path, VALID["instance"], "i.json")) == planted_yes(2, seed=1)


# ---------------------------------------------------------------------------------------------
# Explicit cases: each defect, for every reader, with the line named

LINE_DEFECTS = [  # (bytes of the defective line, what the message says)
    (b'{"id": "a", "arrival": 0, "tokens": [1, \xff]}', "not UTF-8 text (byte 0xff"),
    (b'{"id": "a", "arrival": 0, "tokens": [1, \xc3]}', "not UTF-8 text (byte 0xc3"),
    (b'\x00\x01\x02\x03binary', "a NUL byte at byte 1: a binary file"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b'{"id": "a", "arrival": NaN, "tokens": [1]}', "NaN is not JSON"),
    (b'{"id": "a", "arrival": Infinity, "tokens": [1]}', "Infinity is not JSON"),
    (b'{"id": "a", "arrival": -Infinity, "tokens": [1]}', "-Infinity is not JSON"),
    (b'{"id": "a", "arrival": 1' + b"0" * 5000 + b', "tokens": [1]}', "an integer of more than 4300 digits"),
    (b'{"id": "a", "arrival": 1e999, "tokens": [1]}', "1e999 is beyond the range of a float"),
    (b'{"id": "a", "arrival": 0.1000000000000000000001, "tokens": [1]}', "cannot be held exactly by a float"),
    (b'{"id": "a", "id": "b", "arrival": 0, "tokens": [1]}', "the key 'id' appears twice"),
    (b'{"id": "a", "arrival": 0, "tokens": [1]', "not valid JSON"),
    (b'[1, 2]', "expected a JSON object, got an array"),
    (b'"text"', "expected a JSON object, got a string"),
    (b'17', "expected a JSON object, got a number"),
    (b'null', "expected a JSON object, got null"),
]


@pytest.mark.parametrize("line, message", LINE_DEFECTS)
@pytest.mark.parametrize("kind", ["stream", "schedule", "mooncake"])
def test_each_line_defect_names_the_file_and_line(tmp_path, kind, line, message):
    header = {"stream": STREAM_HEADER, "schedule": SCHEDULE_HEADER, "mooncake": None}[kind]
    lines = ([header.encode()] if header else []) + [line]
    path = _write_bytes(tmp_path, b"\n".join(lines) + b"\n")
    with pytest.raises(FormatError, match=message.replace("(", r"\(")) as info:
        _read(kind, path)
    assert f"{path}:{len(lines)}:" in str(info.value)


@pytest.mark.parametrize("line, message", LINE_DEFECTS)
def test_each_defect_in_an_instance_file_names_the_file(tmp_path, line, message):
    if line.startswith(b"{"):  # place the defect on line 3 of a pretty-printed instance
        data = b'{\n "format": "prefix-sched.3-partition",\n "x": ' + line + b',\n "version": 1}\n'
    else:
        data = b"\n\n" + line + b"\n"
    path = _write_bytes(tmp_path, data, "inst.json")
    expected = message.split(" at byte")[0].split(" (byte")[0].replace("(", r"\(")  # offsets differ here
    expected = expected if "JSON object" not in message else "expected a JSON object"
    with pytest.raises(FormatError, match=expected) as info:
        _read("instance", path)
    if "not valid JSON" in message:  # the decoder notices the missing brace two lines later
        assert f"{path}:5:" in str(info.value)
    elif "nested" not in message and "JSON object" not in message:
        assert f"{path}:3:" in str(info.value)


def test_header_defects(tmp_path):
    cases = [
        ('{"format": "prefix-sched.stream", "version": 1, "meta": 5}', "field 'meta' must be an object, got a number: 5"),
        ('{"format": "prefix-sched.stream", "version": 1, "meta": [1]}', "field 'meta' must be an object, got an array"),
        ('{"format": "prefix-sched.stream", "version": 1, "meta": null}', "field 'meta' must be an object, got null"),
        ('{"format": "prefix-sched.stream", "version": 1, "meta": "x"}', "field 'meta' must be an object"),
        ('{"format": "prefix-sched.stream", "version": 1, "meta": ' + "[" * 40 + "]" * 40 + "}",
         "field 'meta' must be an object"),
        ('{"format": "prefix-sched.stream", "version": 1, "meta": {"a": ' + "[" * 40 + "]" * 40 + "}}",
         "field 'meta' is nested deeper than 32 levels"),
        ('{"format": "prefix-sched.stream", "version": true}', "unsupported prefix-sched.stream version True"),
        ('{"format": "prefix-sched.stream", "version": 1.0}', "unsupported prefix-sched.stream version 1.0"),
        ('{"format": "prefix-sched.stream", "version": "1"}', "unsupported prefix-sched.stream version '1'"),
        ('{"format": "prefix-sched.stream"}', "unsupported prefix-sched.stream version None"),
        ('{"format": "prefix-sched.schedule", "version": 1}', "expected a prefix-sched.stream file, got a header with format 'prefix-sched.schedule'"),
        ('{"format": "prefix-sched.3-partition", "version": 1}', "got a header with format 'prefix-sched.3-partition'"),
        ('{"format": {"a": 1}, "version": 1}', "got a header with format {'a': 1}"),
        ('{"format": "prefix-sched.stream", "version": 1, "metadata": {}}', "unknown field 'metadata' in the prefix-sched.stream header"),
        ('{"id": "a", "arrival": 0, "tokens": [1]}', "the first line must be a prefix-sched.stream header"),
    ]
    for text, message in cases:
        path = _write_bytes(tmp_path, (text + '\n{"id": "a", "arrival": 0, "tokens": [1]}\n').encode())
        with pytest.raises(FormatError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
            _read("stream", path)
        assert f"{path}:1:" in str(info.value)


@pytest.mark.parametrize("header, message", [
    ('{"format": "prefix-sched.schedule", "version": 1, "alpha": "x"}', "alpha must be a number"),
    ('{"format": "prefix-sched.schedule", "version": 1, "alpha": -1}', "alpha must be >= 0"),
    ('{"format": "prefix-sched.schedule", "version": 1, "batch_size": 0}', "batch_size must be an integer >= 1, got 0"),
    ('{"format": "prefix-sched.schedule", "version": 1, "batch_size": 2.0}', "batch_size must be an integer >= 1, got 2.0"),
    ('{"format": "prefix-sched.schedule", "version": 1, "batch_size": true}', "batch_size must be an integer >= 1, got True"),
    ('{"format": "prefix-sched.schedule", "version": 1, "settings": []}', "field 'settings' must be an object"),
    ('{"format": "prefix-sched.schedule", "version": 1, "stream": 3}', "field 'stream' must be an object"),
    ('{"format": "prefix-sched.schedule", "version": 1, "policy": "lpm"}', "unknown field 'policy'"),
    ('{"format": "prefix-sched.stream", "version": 1}', "expected a prefix-sched.schedule file"),
])
def test_schedule_header_defects(tmp_path, header, message):
    body = "".join(f'{{"position": {i}, "id": "{q}"}}\n' for i, q in enumerate("abc"))
    path = _write_bytes(tmp_path, (header + "\n" + body).encode())
    with pytest.raises(FormatError, match=message) as info:
        _read("schedule", path)
    assert f"{path}:1:" in str(info.value)


@pytest.mark.parametrize("record, message", [
    ({"id": "a", "arrival": "3", "tokens": [1]}, None),  # a number as a string is fine
    ({"id": "a", "arrival": "three", "tokens": [1]}, "arrival must be a number like 3, 2.5 or 7/3, got 'three'"),
    ({"id": "a", "arrival": True, "tokens": [1]}, "arrival must be a number, got True"),
    ({"id": "a", "arrival": None, "tokens": [1]}, "arrival must be a number, got None"),
    ({"id": "a", "arrival": [0], "tokens": [1]}, "arrival must be a number, got [0]"),
    ({"id": "a", "arrival": "1e999999999", "tokens": [1]}, "the exponent of '1e999999999' is beyond"),
    ({"id": "a", "arrival": "1/0", "tokens": [1]}, "arrival must be a number like"),
    ({"id": "a", "arrival": 0, "segments": [["u", 0]]}, "length must be a positive integer, got 0"),
    ({"id": "a", "arrival": 0, "segments": [["u", -2]]}, "length must be a positive integer, got -2"),
    ({"id": "a", "arrival": 0, "segments": [["u", 3.0]]}, "length must be a positive integer, got 3.0"),
    ({"id": "a", "arrival": 0, "segments": [["u", True]]}, "length must be a positive integer, got True"),
    ({"id": "a", "arrival": 0, "segments": [["u", "3"]]}, "length must be a positive integer, got '3'"),
    ({"id": "a", "arrival": 0, "segments": [["u", 10**30]]}, None),  # huge but exact: fine
    ({"id": "a", "arrival": 0, "segments": [["u", 1, 2]]}, "must be a pair"),
    ({"id": "a", "arrival": 0, "segments": ["u1"]}, "must be a pair"),
    ({"id": "a", "arrival": 0, "segments": {"u": 1}}, "'segments' must be an array, got an object"),
    ({"id": "a", "arrival": 0, "tokens": "abc"}, "'tokens' must be an array, got a string"),
    ({"id": "a", "arrival": 0, "tokens": []}, "the prompt is empty"),
    ({"id": "a", "arrival": 0, "tokens": [1], "segments": [["u", 1]]}, "exactly one of"),
    ({"id": "a", "arrival": 0, "tokens": [1], "priority": 3}, "unknown field 'priority' in a query"),
])
def test_query_field_types(tmp_path, record, message):
    path = _write_bytes(tmp_path, (STREAM_HEADER + "\n" + json.dumps(record) + "\n").encode())
    if message is None:
        assert read_stream(path).n == 1
        return
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("(", r"\(")) as info:
        _read("stream", path)
    assert f"{path}:2:" in str(info.value)


def test_duplicates_and_two_lengths_name_both_lines(tmp_path):
    path = _write_bytes(tmp_path, (STREAM_HEADER + '\n{"id": "a", "arrival": 0, "tokens": [1]}\n\n'
                                   '{"id": "a", "arrival": 1, "tokens": [2]}\n').encode())
    with pytest.raises(FormatError, match=r":4: duplicate query id 'a' \(first on line 2\)"):
        read_stream(path)
    path = _write_bytes(tmp_path, (STREAM_HEADER + '\n{"id": "a", "arrival": 0, "segments": [["u", 3]]}\n'
                                   '{"id": "b", "arrival": 1, "segments": [["u", 4]]}\n').encode())
    with pytest.raises(FormatError, match=r":3: segment id 'u' has length 4 here but 3 on line 2"):
        read_stream(path)


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"\n   \n\n", "empty file"),
])
def test_empty_files(tmp_path, data, message):
    for kind in READERS:
        path = _write_bytes(tmp_path, data)
        expected = "no requests in the trace" if kind == "mooncake" else message
        with pytest.raises(FormatError, match=expected):
            _read(kind, path)


def test_header_only_files(tmp_path):
    with pytest.raises(FormatError, match="a stream needs at least one query"):
        _read("stream", _write_bytes(tmp_path, (STREAM_HEADER + "\n").encode()))
    with pytest.raises(FormatError, match="the schedule lists 0 of the stream's 3 queries"):
        _read("schedule", _write_bytes(tmp_path, (SCHEDULE_HEADER + "\n").encode()))
    with pytest.raises(FormatError, match="a prefix-sched file, not a Mooncake trace"):
        _read("mooncake", _write_bytes(tmp_path, (STREAM_HEADER + "\n").encode()))


def test_bom_crlf_and_blank_lines_are_read(tmp_path):
    text = "\ufeff" + STREAM_HEADER + "\r\n\r\n" + '{"id": "a", "arrival": 0.25, "tokens": [1, 2]}\r\n'
    stream = read_stream(_write_bytes(tmp_path, text.encode("utf-8")))
    assert stream.queries[0].arrival == Fraction(1, 4) and stream.lengths == (2,)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_folders_missing_files_and_bad_paths(tmp_path, kind):
    with pytest.raises(FormatError, match="cannot read .*: Is a directory"):
        _read(kind, tmp_path)
    with pytest.raises(FormatError, match="cannot read .*missing.jsonl: No such file or directory"):
        _read(kind, tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="a file path is needed, got 3"):
        READERS[kind](3)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_permission_denied_and_read_errors(tmp_path, kind, monkeypatch):
    """OS errors are injected (CI runs as root, where chmod 0 would not stop a read)."""
    path = _write_bytes(tmp_path, VALID[kind])

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(jsonio, "open", refuse, raising=False)
    with pytest.raises(FormatError, match=f"cannot read {path}: Permission denied"):
        _read(kind, path)

    class Failing(io.BytesIO):
        def readline(self, *args):
            raise OSError(5, "Input/output error")

        read = readline

    monkeypatch.setattr(jsonio, "open", lambda *args: Failing(), raising=False)
    with pytest.raises(FormatError, match=f"cannot read {path}: Input/output error"):
        _read(kind, path)


def test_a_line_too_long_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonio, "MAX_LINE_BYTES", 64)
    path = _write_bytes(tmp_path, (STREAM_HEADER + "\n").encode() + b"x" * 200)
    with pytest.raises(FormatError, match=f"{path}:2: a line longer than 64 bytes"):
        read_stream(path)
    with pytest.raises(FormatError, match="longer than 64 bytes"):
        read_json_document(path)


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    path = _write_bytes(tmp_path, b"[1]\n", "two\nlines.jsonl")
    with pytest.raises(FormatError) as info:
        read_stream(path)
    assert "\n" not in str(info.value) and "two\\nlines.jsonl" in str(info.value)


def test_json_lines_reader_yields_objects_with_line_numbers(tmp_path):
    path = _write_bytes(tmp_path, b'{"a": 1}\n\n  \n{"b": [2.5]}\n')
    assert list(read_json_lines(path)) == [(1, {"a": 1}), (4, {"b": [2.5]})]


# ---------------------------------------------------------------------------------------------
# Numbers


def test_huge_exponents_are_refused_fast():
    start = time.perf_counter()
    for text in ["1e999999999", "1E-999999999", "-2.5e+4301", "1e99_999_999"]:
        with pytest.raises(InputError, match="too large to read exactly"):
            exact_number(text, "T")
    with pytest.raises(InputError, match="more than the 4300 read from text"):
        exact_number("1" * 4301, "T")
    assert time.perf_counter() - start < 5  # Fraction("1e999999999") alone takes minutes
    assert exact_number("1e4300", "T") == 10**4300
    assert exact_number("-1.5e-3", "T") == Fraction(-3, 2000)
    assert exact_number("12345678901234567.5", "T") == Fraction(24691357802469135, 2)


@settings(max_examples=200, deadline=None)
@given(numerator=st.integers(-10**30, 10**30), exponent=st.integers(-30, 30))
def test_json_decimals_are_exact_or_refused(tmp_path_factory, numerator, exponent):
    """A decimal literal in a file is read as exactly the decimal written, or refused."""
    literal = f"{numerator}e{exponent}"
    path = tmp_path_factory.mktemp("dec") / "s.jsonl"
    path.write_text(STREAM_HEADER + "\n" + f'{{"id": "a", "arrival": {abs(numerator)}e{exponent}, "tokens": [1]}}\n')
    exact = abs(Fraction(literal))
    try:
        arrival = read_stream(path).queries[0].arrival
    except FormatError as err:
        assert "cannot be held exactly by a float" in str(err)
        assert Fraction(repr(float(f"{abs(numerator)}e{exponent}"))) != exact
        return
    assert arrival == exact


# ---------------------------------------------------------------------------------------------
# Identity: only str and int


BAD_IDS = [(True, "True (bool)"), (False, "False (bool)"), (1.0, "1.0 (float)"), (None, "None (NoneType)"),
           ([1], "[1] (list)"), ({"x": 1}, "{'x': 1} (dict)")]


@pytest.mark.parametrize("value, shown", BAD_IDS)
def test_bad_ids_are_refused_in_stream_files(tmp_path, value, shown):
    good = '{"id": "z", "arrival": 0, "tokens": [1]}'
    cases = [
        ({"id": "a", "arrival": 0, "tokens": [7, value]}, "query 'a' token 1"),
        ({"id": "a", "arrival": 0, "segments": [["u", 2], [value, 2]]}, "query 'a' segment 1"),
        ({"id": value, "arrival": 0, "tokens": [1]}, "query id"),
    ]
    for record, where in cases:
        path = _write_bytes(tmp_path, "\n".join([STREAM_HEADER, good, json.dumps(record)]).encode() + b"\n")
        with pytest.raises(FormatError) as info:
            _read("stream", path)
        message = str(info.value)
        assert f"{path}:3: {where}: an id must be a string or an integer, got {shown}" == message


@pytest.mark.parametrize("value, shown", BAD_IDS)
def test_bad_hash_ids_and_schedule_ids_are_refused(tmp_path, value, shown):
    line = json.dumps({"timestamp": 0, "input_length": 600, "hash_ids": [0, value]})
    path = _write_bytes(tmp_path, (VALID["mooncake"].decode() + line + "\n").encode())
    with pytest.raises(FormatError, match=":3: hash_ids segment 1: an id must be a string or an integer, got "):
        _read("mooncake", path)
    numbered = Stream.from_records([(1, (("u", 1),), 0), (0, (("v", 1),), 0)])
    lines = [SCHEDULE_HEADER, '{"position": 0, "id": 0}', json.dumps({"position": 1, "id": value})]
    path = _write_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    with pytest.raises(FormatError) as info:
        read_schedule_order(path, numbered)
    assert str(info.value) == f"{path}:3: query id: an id must be a string or an integer, got {shown}"


def test_true_one_and_one_point_zero_are_not_one_segment(tmp_path):
    """The bug: ``true``, ``1.0`` and ``1`` were one segment id, so reuse was found that does not
    exist. Each is now refused; ``1`` and ``"1"`` stay two ids sharing no prefix."""
    path = _write_bytes(tmp_path, (STREAM_HEADER + '\n{"id": "a", "arrival": 0, "tokens": [1, 2]}\n'
                                   '{"id": "b", "arrival": 0, "tokens": ["1", 2]}\n').encode())
    stream = read_stream(path)
    p, q = stream.queries[0].prompt, stream.queries[1].prompt
    assert overlap(p, q) == 0 == _token_overlap(p, q)
    for twin in ("true", "1.0"):
        path = _write_bytes(tmp_path, (STREAM_HEADER + '\n{"id": "a", "arrival": 0, "tokens": [1, 2]}\n'
                                       f'{{"id": "b", "arrival": 0, "tokens": [{twin}, 2]}}\n').encode())
        with pytest.raises(FormatError, match=f":3: query 'b' token 0: an id must be .*, got {twin.title()}"):
            read_stream(path)


def _token_overlap(p, q):
    """The reference: the longest common prefix of the expanded tokens, compared by type and value."""
    a, b = expand_tokens(p), expand_tokens(q)
    common = 0
    while common < min(len(a), len(b)) and type(a[common][0]) is type(b[common][0]) and a[common] == b[common]:
        common += 1
    return common


@settings(max_examples=200, deadline=None)
@given(p=st.lists(st.integers(0, 2) | st.sampled_from(["0", "1", "2"]), min_size=1, max_size=6),
       q=st.lists(st.integers(0, 2) | st.sampled_from(["0", "1", "2"]), min_size=1, max_size=6))
def test_int_and_string_ids_overlap_by_type_and_value(p, q):
    a, b = prompt_from_tokens(p), prompt_from_tokens(q)
    assert overlap(a, b) == _token_overlap(a, b)


class Small(IntEnum):
    ONE = 1


@pytest.mark.parametrize("value", [True, 1.0, None, (1,), Small.ONE, b"1", Fraction(1)])
def test_python_api_refuses_other_id_types(value):
    with pytest.raises(InputError, match="an id must be a string or an integer"):
        make_prompt([[value, 1]])
    with pytest.raises(InputError, match="token 0: an id must be a string or an integer"):
        prompt_from_tokens([value])
    with pytest.raises(StreamError, match="segment 0: an id must be a string or an integer"):
        Stream((Query("a", ((value, 1),), 0),))
    with pytest.raises(InputError, match="an id must be a string or an integer"):
        Stream.from_records([("a", ((value, 1),), 0)])
    with pytest.raises(StreamError, match="query id must be a string or an integer"):
        Stream((Query(value, (("u", 1),), 0),))
    with pytest.raises(InputError, match="query id: an id must be a string or an integer"):
        Stream.from_records([(1, (("u", 1),), 0)]).index_of(value)


def test_python_api_refuses_malformed_prompts_and_meta():
    with pytest.raises(StreamError, match="the prompt must be a tuple"):
        Stream((Query("a", [("u", 1)], 0),))
    with pytest.raises(StreamError, match="segment 0 must be a pair"):
        Stream((Query("a", (["u", 1],), 0),))
    with pytest.raises(StreamError, match="segment 0 must be a pair"):
        Stream((Query("a", (("u", 1, 2),), 0),))
    with pytest.raises(StreamError, match="meta must be a mapping"):
        Stream((Query("a", (("u", 1),), 0),), "x")
    with pytest.raises(InputError, match="segments must be a list"):
        make_prompt("u1")
    assert Stream.from_records([("a", [["u", 1]], 0)]).queries[0].prompt == (("u", 1),)


# ---------------------------------------------------------------------------------------------
# Schedules: the order is by position


def _schedule_file(folder: Path, rows: list[dict], header: str = SCHEDULE_HEADER) -> Path:
    return _write_bytes(folder, ("\n".join([header] + [json.dumps(row) for row in rows]) + "\n").encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_shuffled_lines_are_read_in_position_order(tmp_path, data):
    n = data.draw(st.integers(1, 8))
    stream = Stream.from_records([(f"q{i}", ((f"s{i % 3}", 2), (f"t{i}", 1)), i) for i in range(n)])
    order = data.draw(st.permutations(range(n)))
    rows = [{"position": p, "id": stream.queries[i].qid} for p, i in enumerate(order)]
    shuffled = data.draw(st.permutations(rows))
    got = read_schedule_order(_schedule_file(tmp_path, list(shuffled)), stream)
    assert got == list(order)
    expected = sorted(shuffled, key=lambda row: row["position"])  # the reference: sort by position
    assert evaluate(stream, got).ttft == evaluate(stream, [stream.index_of(r["id"]) for r in expected]).ttft


def test_positions_disagreeing_with_line_order_follow_the_positions(tmp_path):
    """The bug: a file whose positions disagree with its lines was evaluated in line order."""
    rows = [{"position": 2, "id": "a"}, {"position": 0, "id": "b"}, {"position": 1, "id": "c"}]
    assert read_schedule_order(_schedule_file(tmp_path, rows), SMALL) == [1, 2, 0]


@pytest.mark.parametrize("rows, line, message", [
    ([{"id": "a"}, {"position": 1, "id": "b"}, {"position": 2, "id": "c"}], 2, "missing field 'position'"),
    ([{"position": 0, "id": "a"}, {"position": 0, "id": "b"}, {"position": 2, "id": "c"}], 3,
     r"position 0 is given twice \(first on line 2\)"),
    ([{"position": 0, "id": "a"}, {"position": 3, "id": "b"}, {"position": 2, "id": "c"}], 3,
     r"position must be an integer 0..2 \(the stream has 3 queries\), got 3"),
    ([{"position": -1, "id": "a"}], 2, "position must be an integer 0..2 .*, got -1"),
    ([{"position": 1.0, "id": "a"}], 2, "position must be an integer 0..2 .*, got 1.0"),
    ([{"position": "1", "id": "a"}], 2, "position must be an integer 0..2 .*, got '1'"),
    ([{"position": True, "id": "a"}], 2, "position must be an integer 0..2 .*, got True"),
    ([{"position": None, "id": "a"}], 2, "position must be an integer 0..2 .*, got None"),
    ([{"position": 10**400, "id": "a"}], 2, "position must be an integer 0..2 .*, got 1000"),
    ([{"position": 0, "id": "a"}, {"position": 1, "id": "a"}, {"position": 2, "id": "c"}], 3,
     r"query id 'a' is listed twice \(first on line 2\)"),
    ([{"position": 0, "id": "zz"}], 2, "no query with id 'zz' in the stream"),
    ([{"position": 0}], 2, "missing field 'id'"),
    ([{"position": 0, "id": "a", "ttft": "soon"}], 2, "ttft must be a number"),
    ([{"position": 0, "id": "a", "start": -1}], 2, "start must be >= 0"),
    ([{"position": 0, "id": "a", "reused_tokens": 1.5}], 2, "reused_tokens must be an integer >= 0, got 1.5"),
    ([{"position": 0, "id": "a", "note": 1}], 2, "unknown field 'note' in a schedule line"),
])
def test_bad_positions_and_ids_name_the_line(tmp_path, rows, line, message):
    path = _schedule_file(tmp_path, rows)
    with pytest.raises(FormatError, match=message) as info:
        _read("schedule", path)
    assert f"{path}:{line}:" in str(info.value)


def test_a_schedule_must_list_every_query(tmp_path):
    rows = [{"position": 0, "id": "b"}, {"position": 1, "id": "c"}]
    path = _schedule_file(tmp_path, rows)
    with pytest.raises(FormatError, match=r"lists 2 of the stream's 3 queries; not listed: query ids \['a'\]") as info:
        _read("schedule", path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_schedule_of_an_int_id_stream_does_not_take_strings(tmp_path):
    """``1`` and ``"1"`` are different ids: a schedule naming "1" does not find query 1."""
    numbered = Stream.from_records([(1, (("u", 1),), 0), (0, (("v", 1),), 0)])
    path = _schedule_file(tmp_path, [{"position": 0, "id": 0}, {"position": 1, "id": "1"}])
    with pytest.raises(FormatError, match=":3: no query with id '1' in the stream"):
        read_schedule_order(path, numbered)
    path = _schedule_file(tmp_path, [{"position": 1, "id": 0}, {"position": 0, "id": 1}])
    assert read_schedule_order(path, numbered) == [0, 1]


# ---------------------------------------------------------------------------------------------
# Writing


def test_writers_write_atomically_and_to_text_streams(tmp_path):
    target = tmp_path / "s.jsonl"
    write_stream(SMALL, target)
    buffer = io.StringIO()
    write_stream(SMALL, buffer)
    assert target.read_text() == buffer.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]  # no temporary file left
    schedule = tmp_path / "r.jsonl"
    write_schedule(SMALL, evaluate(SMALL, [1, 2, 0]), schedule, {"policy": "x", "share": Fraction(1, 3)})
    assert read_schedule_order(schedule, SMALL) == [1, 2, 0]
    assert json.loads(schedule.read_text().splitlines()[0])["settings"]["share"] == "1/3"


def test_write_errors_name_the_option(tmp_path):
    with pytest.raises(OutputError, match="--save: cannot write .*missing/s.jsonl"):
        write_stream(SMALL, tmp_path / "missing" / "s.jsonl", option="--save")
    with pytest.raises(OutputError, match="--out: cannot write"):
        write_schedule(SMALL, evaluate(SMALL, [0, 1, 2]), tmp_path, {})
    with pytest.raises(OutputError, match="--json: cannot write"):
        write_instance(planted_yes(1, seed=0), tmp_path / "no" / "i.json", option="--json")


def test_writers_refuse_values_the_readers_would_refuse(tmp_path):
    odd = Stream(SMALL.queries, {"rate": float("nan")})
    with pytest.raises(InputError, match="--out: cannot write the stream's meta: Out of range float"):
        write_stream(odd, tmp_path / "s.jsonl")
    with pytest.raises(InputError, match=r"--out: cannot write the schedule's settings: \{1, 2\} of type set is not JSON"):
        write_schedule(SMALL, evaluate(SMALL, [0, 1, 2]), tmp_path / "r.jsonl", {"x": {1, 2}})
    assert not (tmp_path / "s.jsonl").exists() and not (tmp_path / "r.jsonl").exists()
    exact = Stream(SMALL.queries, {"delta": Fraction(7, 2), "n": 3})
    write_stream(exact, tmp_path / "s.jsonl")
    assert dict(read_stream(tmp_path / "s.jsonl").meta) == {"delta": "7/2", "n": 3}


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "s.jsonl"
    target.write_text("old\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match="--out: cannot write .*No space left on device"):
        write_stream(SMALL, target)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]


# ---------------------------------------------------------------------------------------------
# The CLI: exit 2 and one line on stderr


@pytest.mark.parametrize("schedule", [
    b"\xff\xfe garbage\n",
    (SCHEDULE_HEADER + '\n{"position": 0, "id": "a"}\n{"position": 0, "id": "b"}\n').encode(),
    (SCHEDULE_HEADER + '\n{"position": 0, "id": true}\n').encode(),
    (SCHEDULE_HEADER + '\n{"position": 0, "id": "a", "ttft": NaN}\n').encode(),
])
def test_cli_evaluate_with_a_corrupt_schedule_exits_2_with_one_line(tmp_path, capsys, schedule):
    stream = tmp_path / "s.jsonl"
    write_stream(SMALL, stream)
    path = _write_bytes(tmp_path, schedule, "bad_schedule.jsonl")
    assert main(["evaluate", str(stream), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_cli_simulate_with_a_corrupt_stream_exits_2_with_one_line(tmp_path, capsys):
    path = _write_bytes(tmp_path, (STREAM_HEADER + '\n{"id": "a", "arrival": 0, "tokens": [{"t": 1}]}\n').encode())
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:2:" in err


def test_random_corpus_of_many_mutations_is_quick(tmp_path):
    """A seeded corpus of 300 mutated files per kind, read in well under a minute: the readers
    never hang on corrupt input (a generous bound; this is a correctness check, not a benchmark)."""
    rng = random.Random(11)
    start = time.perf_counter()
    for kind, data in VALID.items():
        for _ in range(300):
            mutant = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(mutant))
                mutant[at] = rng.randrange(256)
            _assert_format_error_or_valid(kind, _write_bytes(tmp_path, bytes(mutant)))
    assert time.perf_counter() - start < 60
