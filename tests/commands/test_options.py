"""Issue 11, classes 5, 6 and 10: every option refused by name, every write checked first and atomic,
one meaning per exit status, a closed stdout that changes neither the verdict nor the files.

Options: a table of (command, option, bad value) covers every option of every command, and a
completeness test fails when a command gains an option the table does not cover. Options that the
chosen mode would ignore are refused. Output: a missing folder, a read-only target and a folder as
target exit 2 before any work (the engine is replaced by one that fails the test if called).
Atomicity: a write that fails half-way (or a process killed half-way) leaves the old file whole
and no temporary file. Exit statuses: CheckFailed 1, bad input 2, unknown 3, interrupted 130.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched import cli
from prefix_sched.commands import (
    approx_cmd, common, compare_cmd, evaluate_cmd, generate_cmd, simulate_cmd, solve_cmd, validate_cmd,
    verify_reduction,
)
from prefix_sched.errors import CheckFailed, InputError, PrefixSchedError
from prefix_sched.gpu_validation.fit import DegenerateFitError
from prefix_sched.reductions.construction import CertificateError
from prefix_sched.reductions.three_partition import planted_yes, write_instance
from prefix_sched.solvers.approx import graph as approx_graph
from prefix_sched.theory import outputs
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.theorem2.guarantee import GuaranteeViolation
from prefix_sched.theory.formats import read_schedule_order, read_stream, write_stream

COMMANDS = ("generate", "simulate", "compare", "evaluate", "guarantee", "solve", "approx", "validate",
            "verify-reduction", "serve", "capacity")
DEF4 = ["generate", "def4", "--n", "4", "--r", "2", "--u", "5", "--d", "5", "--delta", "1"]
POISSON = ["generate", "poisson", "--groups", "2", "--group-size", "2", "--prefix-len", "5", "--suffix-len", "5",
           "--rate", "1/10"]
# Where a command needs its files: placeholders filled in by the ``files`` fixture.
BASE = {
    "def4": DEF4, "poisson": POISSON, "shared-prefix": ["generate", "shared-prefix"],
    "simulate": ["simulate", "{stream}"], "compare": ["compare", "{stream}"],
    "evaluate": ["evaluate", "{stream}", "{schedule}"], "guarantee": ["guarantee", "{stream}", "{schedule}"],
    "solve": ["solve", "{stream}", "--ttft", "100"], "approx": ["approx", "{stream}", "--ttft", "100"],
    "validate": ["validate", "--quiet"], "verify-reduction": ["verify-reduction", "--m", "1", "--count", "1"],
    "validate-mooncake": ["validate", "--quiet", "--stream", "{trace}", "--format", "mooncake"],
    "serve": ["serve", str(Path(__file__).resolve().parents[1] / "data" / "mooncake_conversation_head300.jsonl"),
              "--format", "mooncake", "--limit", "20", "--scheduler", "sarathi"],
    "capacity": ["capacity", str(Path(__file__).resolve().parents[1] / "data" / "mooncake_conversation_head300.jsonl"),
                 "--format", "mooncake", "--limit", "20", "--scheduler", "sarathi"],
}
BASE["serve-cluster"] = BASE["serve"] + ["--engines", "2"]
STREAM_COMMANDS = ("simulate", "compare", "evaluate", "guarantee", "solve", "approx")
BASE.update({f"{command}-mooncake": BASE[command] + ["--format", "mooncake"] for command in STREAM_COMMANDS})
POLICY_COMMANDS = ("simulate", "compare")


def _bad_values():
    """(base, option, value, what the message must contain) for bad values of every option."""
    cases = []
    for kind, options in (("def4", ("--n", "--r", "--u", "--d")), ("poisson", ("--groups", "--group-size",
                                                                              "--prefix-len", "--suffix-len"))):
        for option in options:
            cases += [(kind, option, value, value) for value in ("0", "-1", "1.5", "nan", "inf", "abc")]
    cases += [("def4", "--delta", value, value) for value in ("-1", "nan", "inf", "1/0", "x")]
    cases += [("def4", "--seed", value, value) for value in ("-1", "1.5", "nan")]
    cases += [("poisson", "--seed", "-1", "-1"), ("poisson", "--base-len", "-1", "-1"),
              ("poisson", "--base-len", "0.5", "0.5")]
    cases += [("poisson", "--rate", value, value) for value in ("0", "-1", "nan", "inf")]
    cases += [("poisson", "--rate", "1e-400", "1e-400"), ("def4", "--n", "1e99999999", "exponent")]
    for command in STREAM_COMMANDS:
        cases += [(command, "--format", "json", "json")]
    cases += [("simulate-mooncake", "--tokens-per-ms", value, value) for value in ("0", "-1", "nan", "inf", "x")]
    cases += [("simulate-mooncake", "--limit", value, value) for value in ("0", "-1", "1.5", "nan", "inf")]
    for command in STREAM_COMMANDS[1:]:
        cases += [(f"{command}-mooncake", "--tokens-per-ms", "0", "0"), (f"{command}-mooncake", "--limit", "0", "0")]
    cases += [("validate-mooncake", "--tokens-per-ms", "0", "0"), ("validate-mooncake", "--limit", "0", "0")]
    for command in POLICY_COMMANDS:
        cases += [(command, "--policy", "sjf", "sjf"), (command, "--k", "-1", "-1"), (command, "--k", "1.5", "1.5"),
                  (command, "--tie-break", "newest", "newest"), (command, "--cycle-start", "middle", "middle"),
                  (command, "--seed", "-1", "-1"), (command, "--seed", "x", "x")]
    for command in ("simulate", "compare", "evaluate", "solve"):
        cases += [(command, "--alpha", value, value) for value in ("-1", "nan", "inf")]
    for command in ("simulate", "evaluate"):
        cases += [(command, "--batch-size", value, value) for value in ("0", "1.5")]
        cases += [(command, "--ttft", value, value) for value in ("-1", "nan")]
    cases += [("simulate", "--view", "batch", "batch"), ("guarantee", "--view", "online", "online"),
              ("guarantee", "--start", "-1", "-1"), ("guarantee", "--start", "nan", "nan")]
    cases += [("compare", "--load", value, value) for value in ("0", "-1", "nan")]
    cases += [(command, "--cache", value, value) for command in POLICY_COMMANDS
              for value in ("lru:0", "lru", "LRU:5", "fifo:5")]
    cases += [(command, "--policy", value, value) for command in POLICY_COMMANDS
              for value in ("lpm-aging", "lpm-aging:x", "k-lpm:-1", "hrrn:3", "sglang-lpm:1.5")]
    cases += [("shared-prefix", option, value, value) for option in ("--groups", "--prompts-per-group",
                                                                     "--system-prompt-len", "--question-len")
              for value in ("0", "-1", "1.5")]
    cases += [("shared-prefix", "--output-len", "-1", "-1"), ("shared-prefix", "--rate", "0", "0"),
              ("shared-prefix", "--seed", "-1", "-1")]
    cases += [("evaluate", "--cache", value, value) for value in ("lru:0", "lru", "LRU:5", "lru:05", "fifo:5")]
    cases += [(command, "--cache", value, value) for command in ("solve", "approx")
              for value in ("lru:1000", "unbounded", "lru:0", "Last")]
    cases += [("solve", "--ttft", "-1", "-1"), ("solve", "--minimize", "makespan", "makespan"),
              ("solve", "--solver", "gurobi", "gurobi"), ("solve", "--workers", "0", "0"),
              ("solve", "--workers", "2147483648", "2147483648"), ("solve", "--seed", "-1", "-1"),
              ("solve", "--seed", "2147483648", "2147483648")]
    for command in ("solve", "approx", "verify-reduction"):
        cases += [(command, "--time-limit", value, value) for value in ("0", "-1", "nan", "inf", "1e10")]
    cases += [("approx", "--ttft", value, value) for value in ("0", "1.5", "-3")]
    cases += [("approx", "--eps", value, value) for value in ("0", "1", "1.5", "nan")]
    cases += [("approx", option, value, value) for option in ("--max-length", "--block-size", "--max-states")
              for value in ("0", "2.5")]
    cases += [("validate", "--device", "tpu", "tpu"), ("validate", "--model", "70b", "70b"),
              ("validate", "--lengths", "1", "1"), ("validate", "--lengths", "64,", "64,"),
              ("validate", "--lengths", "64,2.5", "2.5"), ("validate", "--reuse", "1", "1"),
              ("validate", "--reuse", "0,-0.1", "-0.1"), ("validate", "--reuse", "nan", "nan"),
              ("validate", "--warmup", "-1", "-1"), ("validate", "--reps", "0", "0"),
              ("validate", "--matmul-n", "0", "0"), ("validate", "--matmul-n", "65537", "65537"),
              ("validate", "--k", "-1", "-1"), ("validate", "--view", "batch", "batch"),
              ("validate", "--seed", "-1", "-1"), ("validate", "--threads", "0", "0")]
    cases += [("verify-reduction", "--m", value, value) for value in ("0", "two", "5-1", "1-100000", "2.5")]
    cases += [("verify-reduction", "--count", "0", "0"), ("verify-reduction", "--workers", "0", "0"),
              ("verify-reduction", "--seed", "-1", "-1"), ("verify-reduction", "--B", "8", "8"),
              ("verify-reduction", "--B", "0", "0"), ("verify-reduction", "--x-length", "0", "0"),
              ("verify-reduction", "--x-length", "41", "41"), ("verify-reduction", "--solver", "z3", "z3")]
    for command in ("serve", "capacity"):
        cases += [(command, "--format", "json", "json"), (command, "--limit", "0", "0"), (command, "--limit", "1.5", "1.5"),
                  (command, "--scheduler", "orca", "orca"), (command, "--scheduler", "slai:-1", "slai:-1"),
                  (command, "--scheduler", "sarathi:3", "sarathi:3"), (command, "--order", "lpm", "lpm"),
                  (command, "--order", "sjf", "sjf"), (command, "--budget", "0", "0"), (command, "--budget", "nan", "nan"),
                  (command, "--cost", "cp=-1", "cp=-1"), (command, "--cost", "cp=nan", "nan"),
                  (command, "--cost", "h200", "h200"), (command, "--cost", "seed,tile=0", "tile=0"),
                  (command, "--kv-tokens", "0", "0"), (command, "--kv-tokens", "-5", "-5"),
                  (command, "--block-size", "0", "0"), (command, "--max-seqs", "0", "0"),
                  (command, "--arrivals", "gamma", "gamma"), (command, "--classes", "a=0.5:1ms", "a=0.5:1ms"),
                  (command, "--classes", "a=1:5", "a=1:5"), (command, "--seed", "-1", "-1"),
                  (command, "--rate", "0", "0"), (command, "--rate", "nan", "nan")]
    cases += [("capacity", "--objective", "ttft_p42<=1s", "ttft_p42"), ("capacity", "--objective", "tbt_p99<=5", "5"),
              ("capacity", "--tolerance", "0", "0"), ("capacity", "--tolerance", "2", "2"),
              ("capacity", "--max-probes", "1", "1")]
    cases += [("serve", "--engines", "0", "0"), ("serve", "--engines", "1.5", "1.5"),
              ("serve-cluster", "--router", "nearest", "nearest"), ("serve-cluster", "--router", "least-work:3", "least-work:3"),
              ("serve-cluster", "--router", "prefix-aware:cache=2", "cache"),
              ("serve-cluster", "--router", "prefix-aware:abs=-1", "abs"),
              ("serve", "--scheduler", "rad-fixed", "rad-fixed"), ("serve", "--scheduler", "rad-fixed:2", "rad-fixed:2"),
              ("serve", "--prefix-cache", "lfu", "lfu"), ("serve", "--order", "dfs-weight", "dfs-weight")]
    cases += [("capacity", "--engines", "0", "0"), ("capacity", "--engines", "1.5", "1.5"),
              ("capacity", "--router", "nearest", "nearest"), ("capacity", "--prefix-cache", "lfu", "lfu"),
              ("capacity", "--scheduler", "sarathi,orca", "orca"), ("capacity", "--scheduler", "sarathi,sarathi", "twice")]
    return cases


# (base, extra arguments, the option that must be named): options the chosen mode would ignore.
NOT_APPLICABLE = [
    ("simulate", ["--tokens-per-ms", "20"], "--tokens-per-ms"),
    ("simulate", ["--limit", "5"], "--limit"),
    ("solve", ["--limit", "5"], "--limit"),
    ("approx", ["--tokens-per-ms", "1/2"], "--tokens-per-ms"),
    ("validate", ["--limit", "5"], "--limit"),
    ("validate", ["--format", "mooncake"], "--format"),
    ("simulate-nostream", ["--format", "stream"], "--format"),
    ("simulate", ["--policy", "lpm", "--k", "2"], "--k"),
    ("compare", ["--policy", "fcfs", "--k", "2"], "--k"),
    ("simulate", ["--policy", "fcfs", "--tie-break", "random"], "--tie-break"),
    ("simulate", ["--policy", "k-lpm", "--k", "0", "--tie-break", "oldest"], "--tie-break"),
    ("simulate", ["--policy", "lpm", "--cycle-start", "fcfs"], "--cycle-start"),
    ("simulate", ["--policy", "k-lpm", "--k", "inf", "--cycle-start", "lpm"], "--cycle-start"),
    ("simulate", ["--policy", "lpm", "--seed", "3"], "--seed"),
    ("compare", ["--seed", "3"], "--seed"),
    ("simulate", ["--policy", "lpm", "--policy", "lpm"], "--policy"),
    ("simulate", ["--policy", "k-lpm", "--k", "2", "--k", "2"], "--k"),
    ("compare", ["--load", "1", "--load", "1.0"], "--load"),
    ("compare", ["--cache", "last", "--cache", "last"], "--cache"),
    ("simulate", ["--policy", "k-lpm:2", "--k", "3"], "--k"),
    ("simulate", ["--policy", "hrrn", "--tie-break", "random"], "--tie-break"),
    ("simulate", ["--policy", "spf", "--cycle-start", "fcfs"], "--cycle-start"),
    ("simulate", ["--policy", "hrrn", "--seed", "1"], "--seed"),
    ("simulate", ["--out", "{tmp}/x.jsonl"], "--out"),
    ("guarantee", ["--start", "5"], "--start"),
    ("solve-nottft", [], "--ttft"),
    ("solve-max", ["--ttft", "5"], "--ttft"),
    ("solve", ["--solver", "dp", "--workers", "2"], "--workers"),
    ("solve", ["--solver", "brute", "--seed", "1"], "--seed"),
    ("approx", ["--exact", "--block-size", "4", "--eps", "0.5"], "--eps"),
    ("verify-input", ["--m", "2"], "--m"),
    ("verify-input", ["--count", "2"], "--count"),
    ("verify-input", ["--workers", "2"], "--workers"),
    ("verify-input", ["--seed", "2"], "--seed"),
    ("verify-input", ["--B", "40"], "--B"),
    ("serve", ["--block-size", "8"], "--block-size"),
    ("serve", ["--arrivals", "poisson"], "--arrivals"),
    ("serve-slai", ["--order", "fcfs"], "--order"),
    ("serve", ["--out", "{tmp}/same.jsonl", "--batches", "{tmp}/same.jsonl"], "--batches"),
    ("capacity", ["--block-size", "8"], "--block-size"),
    ("capacity", [], "--objective"),
    ("serve", ["--router", "least-work"], "--router"),
    ("serve", ["--prefix-cache", "lru", "--kv-tokens", "90000", "--block-size", "8"], "--block-size"),
    ("serve", ["--prefix-cache", "lru"], "--prefix-cache"),
    ("capacity", ["--router", "least-work"], "--router"),
    ("capacity", ["--prefix-cache", "lru"], "--prefix-cache"),
]
NA_BASE = {"simulate-nostream": ["simulate"], "solve-nottft": ["solve", "{stream}"],
           "solve-max": ["solve", "{stream}", "--minimize", "max-ttft"],
           "verify-input": ["verify-reduction", "--input", "{instance}"],
           "serve-slai": BASE["serve"][:-1] + ["slai"]}
# Options whose every value is valid (flags), or whose bad values are files (readers: issue 11 class 2,
# and outputs: the tests below).
FLAGS_AND_FILES = {"--exact", "--quiet", "--input", "--stream", "--out", "--plot", "--dag", "--json"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    stream = folder / "s.jsonl"
    write_stream(regular_arrival_shuffled_queue(n=8, r=2, u=5, d=3, delta=4, seed=0), stream)
    schedule = folder / "sched.jsonl"
    assert cli.main(["simulate", str(stream), "--policy", "fcfs", "--view", "fixed", "--out", str(schedule)]) == 0
    trace = folder / "trace.jsonl"
    trace.write_text("".join(json.dumps({"timestamp": 10 * i, "input_length": 600, "hash_ids": [1, 2 + i]}) + "\n"
                             for i in range(3)))
    instance = folder / "instance.json"
    write_instance(planted_yes(2, seed=0), instance)
    return {"stream": str(stream), "schedule": str(schedule), "trace": str(trace), "instance": str(instance),
            "tmp": str(folder)}


def _fill(words, files):
    return [word.format(**files) for word in words]


def _run_refused(argv, capsys):
    """Run the CLI; it must exit 2 with one error line on stderr (after verify-reduction's progress
    lines ``[i/n] ...``, when stderr is not a terminal); return that line."""
    status = cli.main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("[")]
    assert status == 2, (argv, captured.err)
    assert len(lines) == 1 and lines[0].startswith("prefix-sched "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("base, option, value, shown", _bad_values())
def test_a_bad_value_is_refused_naming_the_option(base, option, value, shown, files, capsys):
    line = _run_refused(_fill(BASE[base], files) + [option, value], capsys)
    assert f"error: {option}: " in line and shown in line


@pytest.mark.parametrize("base, extra, option", NOT_APPLICABLE)
def test_an_option_the_mode_would_ignore_is_refused(base, extra, option, files, capsys):
    words = NA_BASE.get(base) or BASE[base]
    line = _run_refused(_fill(words + extra, files), capsys)
    assert f"error: {option}: " in line


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser by name (``generate``'s kinds as ``def4`` and ``poisson``)."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub
                out.update(_subparsers(sub))
    return out


PARSERS = _subparsers(cli.build_parser())
OPTION_TYPES = sorted({(name, action.dest): action.type for name, parser in PARSERS.items()
                       for action in parser._actions if callable(action.type)}.items())


def test_the_tables_cover_every_option_of_every_command():
    """A new option fails this test until its bad values (or its not-applicable modes) are listed."""
    covered: dict[str, set[str]] = {}
    for base, option, _value, _shown in _bad_values():
        covered.setdefault(BASE[base][0] if BASE[base][0] != "generate" else BASE[base][1], set()).add(option)
    for base, _extra, option in NOT_APPLICABLE:
        name = (NA_BASE.get(base) or BASE[base])[0]
        covered.setdefault(name, set()).add(option)
    commands = set(COMMANDS) - {"generate"} | {"def4", "poisson", "shared-prefix"}
    assert commands <= PARSERS.keys()
    for command in sorted(commands):
        options = {o for a in PARSERS[command]._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
        missing = options - covered.get(command, set()) - FLAGS_AND_FILES
        assert not missing, f"{command}: options without a bad-value or not-applicable case: {sorted(missing)}"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_option_types_answer_any_text_with_a_value_or_a_named_refusal(data):
    """Property: every ``type=`` of every option, given any text, returns or raises ArgumentTypeError."""
    _key, parse = data.draw(st.sampled_from(OPTION_TYPES))
    text = data.draw(st.one_of(st.text(max_size=30), st.from_regex(r"-?[0-9.e/,\- ]{0,12}", fullmatch=True)))
    try:
        parse(text)
    except argparse.ArgumentTypeError as err:
        assert str(err) and "\n" not in str(err)


@pytest.mark.parametrize("argv", [[], ["bogus"], ["simulate", "--bogus"], ["generate"], ["generate", "def4"],
                                  ["approx", "s.jsonl"], ["solve", "a", "b"]])
def test_usage_errors_are_one_line_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0] and lines[0].startswith("prefix-sched")


def test_the_console_script_prints_one_line_for_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "prefix_sched.cli", "solve", "x.jsonl", "--limit", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "prefix-sched solve: error: --limit: must be >= 1, got '0'\n"


def test_verify_reduction_script_refuses_in_one_line(capsys):
    assert verify_reduction.main(["--count", "1.5"]) == 2
    assert capsys.readouterr().err == "verify-reduction: error: --count: must be an integer, got '1.5'\n"


def test_help_exits_0(capsys):
    assert cli.main(["solve", "--help"]) == 0
    assert "--time-limit" in capsys.readouterr().out


# --- output paths, checked before any work -------------------------------------------------------

def _no_work(*args, **kwargs):
    raise AssertionError("the work started before the output path was checked")


# (command words, output option, the engine to replace, its module)
WRITERS = [
    (DEF4, "--out", generate_cmd, "regular_arrival_shuffled_queue"),
    (["simulate", "{stream}", "--policy", "lpm"], "--out", simulate_cmd, "simulate"),
    (["compare", "{stream}"], "--plot", compare_cmd, "compare_policies"),
    (["solve", "{stream}", "--ttft", "100"], "--out", solve_cmd, "decide"),
    (["evaluate", "{stream}", "{schedule}"], "--out", evaluate_cmd, "read_schedule"),
    (["approx", "{stream}", "--ttft", "100"], "--out", approx_cmd, "approx"),
    (["approx", "{stream}", "--ttft", "100"], "--dag", approx_cmd, "approx"),
    (["verify-reduction", "--m", "1", "--count", "1"], "--json", verify_reduction, "run_battery"),
]


def _target_name(option):
    return {"--plot": "p.png", "--dag": "d.graphml", "--json": "r.json"}.get(option, "o.jsonl")


@pytest.mark.parametrize("words, option, module, engine", WRITERS, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("problem", ["missing folder", "file as folder", "folder as target", "read-only target"])
def test_an_unwritable_output_exits_2_before_any_work(words, option, module, engine, problem, files, tmp_path,
                                                      monkeypatch, capsys):
    monkeypatch.setattr(module, engine, _no_work)
    name = _target_name(option)
    target = {"missing folder": tmp_path / "nope" / name, "file as folder": tmp_path / "plain" / name,
              "folder as target": tmp_path, "read-only target": tmp_path / name}[problem]
    (tmp_path / "plain").write_text("a file")
    if problem == "read-only target":
        target.write_text("old")
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False)
    line = _run_refused(_fill(words, files) + [option, str(target)], capsys)
    assert f"error: {option}: cannot write {target}" in line
    if problem == "read-only target":
        assert target.read_text() == "old"


@pytest.mark.parametrize("problem", ["a file", "under a file", "read-only file inside"])
def test_validate_checks_its_output_folder_before_any_work(problem, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(validate_cmd, "run_validation", _no_work)
    (tmp_path / "plain").write_text("a file")
    folder = {"a file": tmp_path / "plain", "under a file": tmp_path / "plain" / "run",
              "read-only file inside": tmp_path / "run"}[problem]
    if problem == "read-only file inside":
        folder.mkdir()
        (folder / "validation.json").write_text("old")
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path).name != "validation.json"
                            and real(path, mode))
    line = _run_refused(["validate", "--quiet", "--out", str(folder)], capsys)
    assert "error: --out: " in line and str(folder) in line


def test_validate_accepts_a_folder_that_does_not_exist_yet_and_creates_nothing_when_refused(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr(validate_cmd, "run_validation", lambda *a, **k: called.append(a) or _no_work())
    with pytest.raises(AssertionError, match="the work started"):
        cli.main(["validate", "--quiet", "--out", str(tmp_path / "new" / "run")])
    assert called and not (tmp_path / "new").exists()


# --- atomic writes -------------------------------------------------------------------------------

class _HalfThenFail:
    """A text file whose write stores half the text and then fails (like a full disk mid-write)."""

    def __init__(self, handle, error):
        self.handle, self.error = handle, error

    def write(self, text):
        self.handle.write(text[: len(text) // 2])
        self.handle.flush()
        raise self.error

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def _fail_text_writes_half_way(monkeypatch, error):
    def fake_open(path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        return _HalfThenFail(handle, error) if "w" in mode else handle
    monkeypatch.setattr(outputs, "open", fake_open, raising=False)


TEXT_WRITERS = [
    (DEF4, "--out"),
    (["simulate", "{stream}", "--policy", "lpm"], "--out"),
    (["solve", "{stream}", "--ttft", "100"], "--out"),
    (["approx", "{stream}", "--ttft", "100"], "--out"),
    (["evaluate", "{stream}", "{schedule}"], "--out"),
    (["verify-reduction", "--m", "1", "--count", "1"], "--json"),
]


@pytest.mark.parametrize("words, option", TEXT_WRITERS, ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_write_failing_half_way_keeps_the_old_file_and_leaves_no_temporary(words, option, files, tmp_path,
                                                                             monkeypatch, capsys):
    target = tmp_path / _target_name(option)
    target.write_text("old\n")
    _fail_text_writes_half_way(monkeypatch, OSError(28, "No space left on device"))
    line = _run_refused(_fill(words, files) + [option, str(target)], capsys)
    assert f"error: {option}: cannot write {target}: No space left on device" in line
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("words, option", TEXT_WRITERS[:2] + [(["compare", "{stream}", "--load", "1"], "--plot"),
                                                              (["approx", "{stream}", "--ttft", "100"], "--dag")],
                         ids=lambda v: v if isinstance(v, str) else v[0])
def test_a_failed_rename_keeps_the_old_file(words, option, files, tmp_path, monkeypatch, capsys):
    target = tmp_path / _target_name(option)
    target.write_text("old\n")

    def refuse(src, dst):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    line = _run_refused(_fill(words, files) + [option, str(target)], capsys)
    assert f"error: {option}: cannot write {target}: Permission denied" in line
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_plot_and_a_dag_failing_half_way_keep_the_old_files(files, tmp_path, monkeypatch, capsys):
    import matplotlib.figure

    plot, dag = tmp_path / "p.png", tmp_path / "d.graphml"
    plot.write_text("old plot")
    dag.write_text("old dag")

    def half_savefig(self, path, **kwargs):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    def half_graphml(graph, path):
        Path(path).write_text("<graphml")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_savefig)
    monkeypatch.setattr(approx_graph.nx, "write_graphml", half_graphml)
    _run_refused(["compare", files["stream"], "--load", "1", "--plot", str(plot)], capsys)
    line = _run_refused(["approx", files["stream"], "--ttft", "100", "--dag", str(dag)], capsys)
    assert "error: --dag: cannot write" in line and "Input/output error" in line
    assert plot.read_text() == "old plot" and dag.read_text() == "old dag"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.graphml", "p.png"]


def test_the_report_is_written_atomically(tmp_path, monkeypatch):
    """validate's writer: the JSON first, then each plot, each through a temporary file."""
    from prefix_sched.gpu_validation import report

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / report.RESULT_FILE).write_text("old")
    _fail_text_writes_half_way(monkeypatch, OSError(28, "No space left on device"))
    with pytest.raises(PrefixSchedError, match="--out: cannot write .*validation.json: No space left"):
        report.write_report({"x": 1}, folder, "prefix-sched validate")
    assert (folder / report.RESULT_FILE).read_text() == "old"
    assert sorted(p.name for p in folder.iterdir()) == [report.RESULT_FILE]


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from prefix_sched.theory import outputs
    from prefix_sched import cli

    def dying_open(path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return handle
        class Dying:
            def __enter__(self): return self
            def __exit__(self, *exc): handle.close()
            def flush(self): handle.flush()
            def write(self, text):
                handle.write(text[: len(text) // 2]); handle.flush(); os.fsync(handle.fileno())
                os.kill(os.getpid(), signal.SIGKILL)
        return Dying()

    outputs.open = dying_open
    sys.exit(cli.main(sys.argv[1:]))
""")


@pytest.mark.parametrize("words, option", [(DEF4[:3] + ["400", "--r", "4", "--u", "50", "--d", "5", "--delta", "1"],
                                            "--out"),
                                           (["verify-reduction", "--m", "1", "--count", "1"], "--json")],
                         ids=["generate", "verify-reduction"])
def test_a_process_killed_mid_write_leaves_the_old_file_whole(words, option, tmp_path):
    """SIGKILL while the new file is half written: the target is still the old file, byte for byte."""
    target = tmp_path / _target_name(option)
    target.write_text("old\n")
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, *words, option, str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert target.read_text() == "old\n"
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert all(p.name.startswith(f".{target.name}.") for p in leftovers)  # a kill cannot clean up its temporary


# --- broken pipe: the verdict and the files survive a closed stdout ------------------------------

def _prefix_sched(*words):
    return [sys.executable, "-m", "prefix_sched.cli", *words]


@pytest.mark.parametrize("ttft, verdict", [("100", 0), ("5", 1)])
@pytest.mark.parametrize("close", ["before reading", "after one line"])
def test_solve_with_a_closed_stdout_keeps_its_status_and_its_file(ttft, verdict, close, files, tmp_path):
    """The verdict is recomputed without a pipe; the piped run must return it and write the same file."""
    reference, piped = tmp_path / "reference.jsonl", tmp_path / "piped.jsonl"
    expected = subprocess.run(_prefix_sched("solve", files["stream"], "--ttft", ttft, "--out", str(reference)),
                              capture_output=True, text=True)
    assert expected.returncode == verdict, expected.stderr
    child = subprocess.Popen(_prefix_sched("solve", files["stream"], "--ttft", ttft, "--out", str(piped)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if close == "after one line":
        child.stdout.readline()
    child.stdout.close()
    status = child.wait(timeout=120)
    err = child.stderr.read().decode()
    child.stderr.close()
    assert status == verdict and err == ""
    if verdict == 0:
        stream = read_stream(files["stream"])
        order = read_schedule_order(piped, stream)
        assert evaluate(stream, order).max_ttft <= int(ttft)
        assert [json.loads(line)["id"] for line in piped.read_text().splitlines()[1:]] == \
               [json.loads(line)["id"] for line in reference.read_text().splitlines()[1:]]
    else:
        assert not piped.exists() and not reference.exists()


def test_approx_unknown_through_head_still_exits_3(files, tmp_path):
    words = _prefix_sched("approx", files["stream"], "--ttft", "100", "--max-states", "1")
    assert subprocess.run(words, capture_output=True).returncode == 3  # the verdict, without a pipe
    result = subprocess.run(["bash", "-c", f"{shlex.join(words)} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "3" and result.stderr == ""


def test_generate_to_a_closed_pipe_exits_0_without_a_traceback(tmp_path):
    child = subprocess.Popen(_prefix_sched("generate", "def4", "--n", "20000", "--r", "4", "--u", "5", "--d", "5",
                                           "--delta", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline().startswith(b'{"format": "prefix-sched.stream"')
    child.stdout.close()
    assert child.wait(timeout=120) == 0
    assert child.stderr.read() == b""
    child.stderr.close()


# --- exit statuses: one meaning each -------------------------------------------------------------

def test_failed_checks_are_not_input_errors():
    assert issubclass(CertificateError, CheckFailed) and not issubclass(CertificateError, PrefixSchedError)
    assert issubclass(GuaranteeViolation, CheckFailed) and not issubclass(GuaranteeViolation, PrefixSchedError)
    assert not issubclass(DegenerateFitError, PrefixSchedError)


def test_a_wrong_certificate_exits_1_in_one_line(files, monkeypatch, capsys):
    def wrong(*args, **kwargs):
        raise CertificateError("the schedule gives query 'e' TTFT 41 > T = 40")

    monkeypatch.setattr(verify_reduction, "run_case", wrong)
    assert cli.main(["verify-reduction", "--input", files["instance"]]) == 1
    err = capsys.readouterr().err
    assert err.endswith("prefix-sched verify-reduction: check failed: the schedule gives query 'e' TTFT 41 > T = 40\n")
    assert "Traceback" not in err


def test_a_broken_guarantee_raised_as_an_error_exits_1(files, monkeypatch, capsys):
    from prefix_sched.commands import guarantee_cmd

    def broken(*args, **kwargs):
        raise GuaranteeViolation("query 'q3' has TTFT 99 > the proven bound 50")

    monkeypatch.setattr(guarantee_cmd, "check_order", broken)
    assert cli.main(["guarantee", files["stream"], files["schedule"]]) == 1
    assert capsys.readouterr().err == ("prefix-sched guarantee: check failed: query 'q3' has TTFT 99 > the "
                                       "proven bound 50\n")


@pytest.mark.parametrize("raised, status, message", [
    (KeyboardInterrupt(), 130, "interrupted"),
    (InputError("bad\nvalue"), 2, "error: bad value"),
    (CheckFailed("no"), 1, "check failed: no"),
    (RecursionError(), 2, "error: the input is nested too deeply to read"),
    (FileNotFoundError(2, "No such file or directory", "x.jsonl"), 2, "error: x.jsonl: No such file or directory"),
])
def test_run_command_turns_each_outcome_into_its_status_in_one_line(raised, status, message, capsys):
    def run(args):
        raise raised

    assert common.run_command("prefix-sched x", run, argparse.Namespace()) == status
    assert capsys.readouterr().err == f"prefix-sched x: {message}\n"


def test_an_interrupted_command_exits_130_without_a_traceback(files, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate_cmd, "simulate", interrupted)
    assert cli.main(["simulate", files["stream"], "--policy", "fcfs"]) == 130
    assert capsys.readouterr().err == "prefix-sched simulate: interrupted\n"


INTERRUPTIBLE = textwrap.dedent("""
    import sys
    from prefix_sched import cli
    cli.build_parser(sys.argv[1])  # the command's libraries loaded: a SIGINT after "ready" lands in its work
    print("ready", file=sys.stderr, flush=True)
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_sigint_to_a_running_solve_exits_130(tmp_path):
    """A real SIGINT while the DP works (a 60-query stream it cannot finish soon): one line, status 130."""
    stream = tmp_path / "big.jsonl"
    write_stream(regular_arrival_shuffled_queue(n=60, r=3, u=50, d=20, delta=10, seed=2), stream)
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE, "solve", str(stream), "--ttft", "1500",
                              "--solver", "dp", "--time-limit", "300"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr.readline() == "ready\n"
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=2)  # at work, not finished
        child.send_signal(signal.SIGINT)
        status = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    err = child.stderr.read()
    child.stderr.close()
    assert status == 130 and err == "prefix-sched solve: interrupted\n"


@pytest.mark.parametrize("argv, prog", [(["simulate", "--bogus"], "prefix-sched simulate"),
                                        (["serve", "x.jsonl", "--scheduler", "sarathi", "--zz", "1"], "prefix-sched serve"),
                                        (["verify-reduction", "extra"], "prefix-sched verify-reduction")])
def test_an_unknown_argument_is_named_by_the_command_it_was_given_to(argv, prog, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: unrecognized arguments: ")
    assert argv[-1] in err[0]


@pytest.mark.parametrize("argv", [
    ["generate", "def4", "--n", "2", "--r", "1", "--u", "9000000000000000000", "--d", "9000000000000000000", "--delta", "1"],
    ["generate", "shared-prefix", "--groups", "2", "--prompts-per-group", "2", "--system-prompt-len",
     "9000000000000000000", "--question-len", "9000000000000000000"],
])
def test_generate_refuses_a_stream_no_command_could_run_and_writes_nothing(argv, tmp_path, capsys):
    """A stream of more than 2^63 - 1 prompt tokens would be written whole and refused by every reader."""
    out = tmp_path / "s.jsonl"
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "prompt tokens, more than a signed 64-bit count holds" in err[0]
    assert f"the stream of {'--n' if argv[1] == 'def4' else '--groups'}" in err[0]
    assert not out.exists()
