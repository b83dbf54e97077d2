"""Issue 20, parameters in names, through the command line: any text given as a name (a policy, a
cache model, a scheduler, an order, a router, a cost, objective classes) or as a number is a run
(exit 0) or bad input (exit 2) in one stderr line that names the text; never a traceback, never
another status. And printing never fails after the work: file names and labels the user wrote are
printed as written (no console markup).
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paths import HEAD300
from prefix_sched import cli
from prefix_sched.theory.formats import write_stream
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

STEMS = ["", "k-lpm:", "lpm-aging:", "sglang-lpm:", "lru:", "slai-fcfs:", "rad-fixed:", "prefix-aware:abs=",
         "c0=", "cp=1,cd=", "a=1:", "a=", "ttft_p99<="]
TAILS = ["", "3", "²", "３", "+3", "-0", "1_000", "1e3", "inf", "ms", "s", ":1ms", ",", "=", "0", "1/2", "٣", "𝟑"]
TEXT = st.builds(lambda stem, middle, tail: stem + middle + tail, st.sampled_from(STEMS),
                 st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=6),
                 st.sampled_from(TAILS))


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "s.jsonl"
    write_stream(regular_arrival_shuffled_queue(n=6, r=2, u=4, d=2, delta=3, seed=0), path)
    return str(path)


def _named(text: str, err: str) -> bool:
    """Whether the message names ``text`` (as written, or as its repr, possibly shortened)."""
    shown = repr(text)[1:-1]
    return any(piece in err for piece in (text[:12], shown[:12], text.strip()[:12], repr(text.strip())[1:-1][:12])) \
        or any(piece and piece in err for piece in (text[-10:], shown[-10:]))


def _run(argv, capsys) -> tuple[int, str]:
    status = cli.main(argv)
    return status, capsys.readouterr().err


OPTIONS = [
    ("simulate", "--policy"), ("simulate", "--cache"), ("simulate", "--alpha"), ("compare", "--load"),
    ("serve", "--scheduler"), ("serve", "--order"), ("serve", "--cost"), ("serve", "--classes"),
    ("serve", "--router"), ("serve", "--budget"),
]


@pytest.mark.parametrize("command, option", OPTIONS, ids=[f"{c} {o}" for c, o in OPTIONS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_any_text_is_a_run_or_one_line_naming_it(command, option, text, stream, capsys):
    if text.startswith("-"):
        argv_value = [f"{option}={text}"]  # argparse would read it as an option
    else:
        argv_value = [option, text]
    if command == "serve":
        argv = ["serve", str(HEAD300), "--format", "mooncake", "--limit", "4"]
        if option != "--scheduler":
            argv += ["--scheduler", "sarathi"]
        if option == "--order":
            argv += ["--prefix-cache", "unbounded"]
        if option == "--router":
            argv += ["--engines", "2"]
    elif command == "compare":
        argv = ["compare", stream, "--policy", "fcfs"]
    else:
        argv = [command, stream] + ([] if option == "--policy" else ["--policy", "lpm"])
    status, err = _run(argv + argv_value, capsys)
    assert status in (0, 2), err
    if status == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert _named(text, err) or text == "", (text, err)


@pytest.mark.parametrize("name", ["q[/b]", "[bold]x", "a[/i]b[red]"])
def test_what_the_user_wrote_is_printed_as_written(name, stream, tmp_path, capsys):
    """A "[/b]" in a file name once stopped the command after its work (console markup)."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    source = folder / "s.jsonl"
    shutil.copy(stream, source)
    out = folder / "o.jsonl"
    assert cli.main(["simulate", str(source), "--policy", "lpm", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(source) in printed and f"to {out}" in printed
    assert cli.main(["compare", str(source), "--load", "1", "--policy", "lpm", "--plot", str(folder / "p.png")]) == 0
    assert f"{folder / 'p.png'}" in capsys.readouterr().out
