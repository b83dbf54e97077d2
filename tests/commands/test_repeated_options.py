"""Issue 20, options given twice: one meaning in every command.

An option that takes one value, given twice, is refused (exit 2, one line naming it and both
values) in every command: never "the last one wins". The repeatable options are ``append`` options
and mean one run per value wherever they appear (``--policy``, ``--k``, ``--load``, ``--cache`` in
``simulate`` and ``compare``); ``evaluate`` and ``gap`` report on one cache model and refuse a
second ``--cache`` like any other single-valued option. The structural test fails when a command
gains an option that is neither.
"""

from __future__ import annotations

import argparse

import pytest

from prefix_sched import cli
from prefix_sched.commands.common import StoreOnce
from prefix_sched.theory.formats import write_stream
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

REPEATABLE = {"--policy", "--k", "--load", "--cache", "--m"}
"""The options that mean one run per value (``append``), in the commands that take several runs
(``--m``: verify-reduction's group counts, one battery per value)."""
FLAG_ACTIONS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction,
                argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def _parsers(parser: argparse.ArgumentParser, name: str = "prefix-sched") -> dict[str, argparse.ArgumentParser]:
    out = {name: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                out.update(_parsers(sub, sub_name))
    return out


PARSERS = _parsers(cli.build_parser())


def test_every_option_is_single_valued_repeatable_or_a_flag():
    """A new option must be a :class:`StoreOnce` (refused twice), an ``append`` option named in
    :data:`REPEATABLE`, or a flag."""
    for name, parser in PARSERS.items():
        for action in parser._actions:
            if not action.option_strings or isinstance(action, FLAG_ACTIONS):
                continue
            option = action.option_strings[0]
            if isinstance(action, argparse._AppendAction):
                assert option in REPEATABLE, f"{name} {option}: an append option outside the repeatable ones"
            else:
                assert isinstance(action, StoreOnce), f"{name} {option}: {type(action).__name__} keeps the last value"


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    path = tmp_path_factory.mktemp("twice") / "s.jsonl"
    write_stream(regular_arrival_shuffled_queue(n=8, r=2, u=5, d=3, delta=4, seed=0), path)
    simulate_out = path.parent / "sched.jsonl"
    assert cli.main(["simulate", str(path), "--policy", "fcfs", "--out", str(simulate_out)]) == 0
    return str(path), str(simulate_out)


TWICE = [
    (["simulate", "{s}"], "--alpha", ["1", "1/2"]),
    (["simulate", "{s}"], "--view", ["online", "fixed"]),
    (["compare", "{s}"], "--alpha", ["0", "1"]),
    (["gap", "{s}", "--time-limit", "1"], "--cache", ["last", "unbounded"]),
    (["gap", "{s}", "--time-limit", "1"], "--load", ["1", "2"]),
    (["evaluate", "{s}", "{o}"], "--cache", ["last", "unbounded"]),
    (["evaluate", "{s}", "{o}"], "--ttft", ["5", "6"]),
    (["solve", "{s}", "--ttft", "100"], "--time-limit", ["1", "2"]),
    (["generate", "def4", "--n", "4", "--r", "2", "--u", "1", "--d", "1", "--delta", "1"], "--seed", ["1", "2"]),
    (["serve", "{m}", "--format", "mooncake", "--limit", "5", "--scheduler", "sarathi"], "--budget", ["256", "512"]),
    (["serve", "{m}", "--format", "mooncake", "--limit", "5"], "--scheduler", ["sarathi", "vllm"]),
    (["sweep", "--summary", "x"], "--plot", ["a.png", "b.png"]),
    (["sweep", "x.toml"], "--out", ["a", "b"]),
    (["capacity", "{m}", "--format", "mooncake", "--limit", "5", "--scheduler", "sarathi"], "--tolerance",
     ["0.1", "0.2"]),
    (["capacity", "{m}", "--format", "mooncake", "--limit", "5"], "--scheduler", ["sarathi", "vllm"]),
    (["approx", "{s}", "--ttft", "100"], "--eps", ["0.1", "0.2"]),
    (["guarantee", "{s}", "{o}"], "--view", ["fixed", "batch"]),
    (["validate"], "--model", ["tiny", "small"]),
    (["verify-reduction"], "--seed", ["1", "2"]),
    (["generate", "shared-prefix"], "--groups", ["2", "3"]),
    (["generate", "poisson", "--groups", "1", "--group-size", "1", "--prefix-len", "1", "--suffix-len", "1"],
     "--rate", ["1", "2"]),
]


@pytest.mark.parametrize("words, option, values", TWICE, ids=[f"{w[0]} {o}" for w, o, _ in TWICE])
def test_a_single_valued_option_given_twice_is_refused_naming_both_values(words, option, values, stream, capsys):
    from paths import HEAD300

    argv = [word.format(s=stream[0], o=stream[1], m=HEAD300) for word in words]
    assert cli.main(argv + [option, values[0], option, values[1]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {option}: given twice" in err
    assert values[0] in err and values[1] in err


def test_cache_given_twice_is_one_run_per_model_in_simulate_as_in_compare(stream, capsys):
    assert cli.main(["simulate", stream[0], "--policy", "lpm", "--cache", "last", "--cache", "unbounded"]) == 0
    out = capsys.readouterr().out
    assert "cache: last, unbounded" in out and out.count("│ last") == 1 and out.count("│ unbounded") == 1
    assert cli.main(["compare", stream[0], "--policy", "lpm", "--load", "1", "--cache", "last", "--cache",
                     "unbounded"]) == 0
    out = capsys.readouterr().out
    assert out.count("│ last") == 1 and out.count("│ unbounded") == 1


def test_one_cache_prints_as_before(stream, capsys):
    """With one cache model the table has no cache column (the output is unchanged)."""
    assert cli.main(["simulate", stream[0], "--policy", "lpm", "--cache", "unbounded"]) == 0
    out = capsys.readouterr().out
    assert "cache: unbounded;" in out and "┃ cache" not in out


def test_several_runs_cannot_write_one_file(stream, tmp_path, capsys):
    assert cli.main(["simulate", stream[0], "--policy", "lpm", "--cache", "last", "--cache", "unbounded", "--out",
                     str(tmp_path / "o.jsonl")]) == 2
    assert "--out: writes one run, but 2 cache models were asked for" in capsys.readouterr().err


def test_the_same_value_twice_is_refused_for_repeatable_options_too(stream, capsys):
    assert cli.main(["simulate", stream[0], "--cache", "last", "--cache", "last"]) == 2
    assert "--cache: last is given twice" in capsys.readouterr().err
