"""Issue 20, parameters in names: one reader of numbers in text, ASCII digits only, used by every parse point.

Every parse point that reads a number inside a name or a value (a policy's ``k-lpm:K``,
``lpm-aging:N``, ``sglang-lpm:T``, a cache's ``lru:N``, a scheduler's ``slai-fcfs:OFFSET`` and
``rad-fixed:F``, a router's ``prefix-aware:abs=N``, a cost's ``cp=X``, classes' shares and durations,
``parse_k``) is checked against the one reader (:mod:`prefix_sched.theory.parameters`): on any text
it accepts exactly what the reader accepts, and refuses everything else in one line that names the
text (superscripts, full-width digits and other Unicode digits, signs, spaces, underscores).
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import parse_k, parse_policy
from prefix_sched.solvers.serving.registry import parse_scheduler
from prefix_sched.solvers.serving.routers import parse_router
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.parameters import read_count, read_number
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.objectives import parse_objective
from prefix_sched.theory.serving.requests import parse_classes, parse_duration_us

ASCII_COUNT = re.compile(r"[0-9]+\Z")
UNICODE_DIGITS = [chr(c) for c in range(0x110000) if chr(c).isdigit() and not chr(c).isascii()][:400]
# Texts that look like numbers: ASCII digits mixed with signs, dots, slashes, exponents, spaces,
# underscores and non-ASCII digits (superscripts, full-width, Arabic-Indic, ...).
PIECES = st.sampled_from(list("0123456789") * 4 + list("+-./e_ ") + ["²", "３", "٣", "①", "⁴", "𝟙", "inf", "nan"])
NUMBERISH = st.one_of(st.lists(PIECES, max_size=8).map("".join), st.text(max_size=10))


def _outcome(function, *args):
    try:
        return ("ok", function(*args))
    except PrefixSchedError as err:
        return ("refused", str(err))


# --- the reader -----------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(text=NUMBERISH)
def test_read_count_accepts_ascii_digits_only_and_names_the_text(text):
    kind, value = _outcome(read_count, text, "K")
    if ASCII_COUNT.match(text):
        assert kind == "ok" and value == int(text)
    else:
        assert kind == "refused" and "\n" not in value and value.startswith("K ")
        assert repr(text)[:30] in value or "empty" in value


@settings(max_examples=400, deadline=None)
@given(text=NUMBERISH)
def test_read_number_accepts_only_ascii_and_agrees_with_exact_number(text):
    kind, value = _outcome(read_number, text, "x")
    if kind == "ok":
        assert text.isascii() and " " not in text and "_" not in text and not text.startswith("+")
        assert value == exact_number(text, "x")
    else:
        assert "\n" not in value and value.startswith("x")


@pytest.mark.parametrize("char", ["²", "³", "¹", "３", "٣", "۳", "३", "①", "𝟙", "⁰"])
def test_unicode_digits_are_refused_by_name(char):
    for read in (read_count, read_number):
        with pytest.raises(InputError, match=re.escape(repr(char))) as err:
            read(f"1{char}", "N")
        assert unicodedata.name(char, "") in str(err.value) or "U+" in str(err.value)


def test_python_would_read_full_width_digits_silently():
    """The bug the reader closes: ``int`` and ``Fraction`` read non-ASCII digits as numbers."""
    assert int("３") == 3 and exact_number("３", "x") == 3
    with pytest.raises(InputError):
        read_number("３", "x")


# --- every parse point of a name agrees with the reader --------------------------------------------

def _count_ok(text: str) -> bool:
    return _outcome(read_count, text, "n")[0] == "ok"


def _number_ok(text: str) -> bool:
    return _outcome(read_number, text, "n")[0] == "ok"


# (parse point, how the parameter is written in a name, the reader's kind, extra acceptance rule)
NAME_PARSERS = [
    ("k-lpm", lambda t: parse_policy(f"k-lpm:{t}"), lambda t: _count_ok(t) or t.lower() in ("inf", "infinity")),
    ("lpm-aging", lambda t: parse_policy(f"lpm-aging:{t}"), _count_ok),
    ("sglang-lpm", lambda t: parse_policy(f"sglang-lpm:{t}"), _count_ok),
    ("parse_k", parse_k, lambda t: _count_ok(t) or t.lower() in ("inf", "infinity")),
    ("lru", lambda t: parse_cache(f"lru:{t}"), lambda t: _count_ok(t) and t[0] != "0"),
    ("slai-fcfs", lambda t: parse_scheduler(f"slai-fcfs:{t}"), lambda t: _number_ok(t) and read_number(t, "n") >= 0),
    ("rad-fixed", lambda t: parse_scheduler(f"rad-fixed:{t}"),
     lambda t: _number_ok(t) and 0 <= read_number(t, "n") <= 1),
    ("prefix-aware abs", lambda t: parse_router(f"prefix-aware:abs={t}"),
     lambda t: _number_ok(t.strip()) and read_number(t.strip(), "n") >= 0 and int(read_number(t.strip(), "n")) ==
     read_number(t.strip(), "n")),
    ("cost cp", lambda t: parse_cost(f"cp={t}"), lambda t: _number_ok(t.strip()) and read_number(t.strip(), "n") >= 0),
    ("duration", lambda t: parse_duration_us(f"{t}ms"),
     lambda t: _number_ok(t) and 0 < read_number(t, "n") * 1000 <= 10 ** 15),
]


@pytest.mark.parametrize("name, parse, accepts", NAME_PARSERS, ids=[row[0] for row in NAME_PARSERS])
@settings(max_examples=200, deadline=None)
@given(text=NUMBERISH.filter(lambda t: "," not in t and ":" not in t and "=" not in t))
def test_every_parse_point_reads_parameters_as_the_one_reader(name, parse, accepts, text):
    if name == "duration" and text.strip() != text:
        return  # the duration reader strips spaces around the number and its unit
    kind, value = _outcome(parse, text)
    if kind == "ok":
        assert accepts(text), (name, text)
    else:
        assert "\n" not in value
        shown = (text.strip() if name in ("cost cp", "prefix-aware abs") else text) or text
        assert repr(shown)[1:-1][:15] in value or repr(text)[1:-1][:15] in value, value  # names the text
        if not shown.isascii() and shown.isprintable() and not any(c.isspace() for c in shown):
            assert "ASCII" in value, value


@pytest.mark.parametrize("text, shown", [
    ("k-lpm:²", "'²'"), ("lpm-aging:３", "'３'"), ("sglang-lpm:+3", "+3"), ("k-lpm:-1", "-1"),
])
def test_policy_parameters_are_refused_by_name(text, shown):
    with pytest.raises(InputError, match=re.escape(shown)):
        parse_policy(text)


def test_classes_and_objectives_read_their_numbers_the_same_way():
    with pytest.raises(InputError, match="ASCII"):
        parse_classes("a=１:1ms")
    with pytest.raises(InputError, match="without a sign"):
        parse_classes("a=+1:1ms")
    with pytest.raises(InputError, match="ASCII"):
        parse_objective("ttft_p50<=５00ms")
    with pytest.raises(InputError, match="at most"):
        parse_classes("a=1:1e400ms")
    assert parse_classes("a=0.5:1ms,b=1/2:2s")[1].tbt_us == 2_000_000


def test_a_cache_capacity_with_leading_zeros_is_refused_saying_so():
    """``lru:0100`` would not give its text back (``lru:100``): refused naming the zeros, and a long
    spec is shortened in the message."""
    with pytest.raises(InputError, match="without leading zeros, got '0100'"):
        parse_cache("lru:0100")
    with pytest.raises(InputError) as info:
        parse_cache("lru:" + "x" * 10 ** 5)
    assert len(str(info.value)) < 300
