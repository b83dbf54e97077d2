"""One status enum and one parse point for objective and solver names, used by every engine.

The issue's case: ``solve_cpsat(stream, "max_ttft")`` (a misspelt objective) returned OPTIMAL with
objective 0 and no constraints. Now every misspelt name, at every entry point, is an InputError
naming the bad text and the valid names; and every engine answers with a :class:`Status` member
whose exit code is the one table in ``solvers/status.py``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.reductions.verify import BatterySettings, decide_ttft
from prefix_sched.solvers import exact
from prefix_sched.solvers.approx import appendix_a
from prefix_sched.solvers.exact import dp, drops
from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.exact.cpsat import solve_cpsat
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.solvers.exact.drops import fewest_drops
from prefix_sched.solvers.exact import decide, minimize_max_ttft, minimize_violations
from prefix_sched.solvers.exact.mip import decide_mip
from prefix_sched.solvers.status import (
    OBJECTIVES, SOLVERS, Objective, Solver, Status, parse_objective, parse_solver,
)

from strategies import toy_stream


def test_values_are_the_names_and_exit_codes_are_the_convention():
    """0 a schedule was found, 1 proven "no", 3 unknown: written out here independently."""
    expected = {"FEASIBLE": 0, "OPTIMAL": 0, "PERCENTILE": 0, "INFEASIBLE": 1, "NONE_WITHIN_CAP": 1, "UNKNOWN": 3}
    assert {s.value: s.exit_code for s in Status} == expected
    for status in Status:
        assert status == status.name and f"{status}" == status.name and str(status) == status.name
        assert json.dumps({"status": status}) == json.dumps({"status": status.name})


def test_engine_modules_share_the_one_enum():
    for module in (dp, drops, exact, appendix_a):
        for name in ("FEASIBLE", "INFEASIBLE", "OPTIMAL", "UNKNOWN", "PERCENTILE", "NONE_WITHIN_CAP"):
            if hasattr(module, name):
                assert getattr(module, name) is Status[name], (module.__name__, name)


def test_every_engine_answers_with_a_status_member():
    stream = toy_stream()
    answers = [
        feasible_endings(stream, 30).status, feasible_endings(stream, 29).status,
        fewest_drops(stream, 20).status, fewest_drops(stream, 5, cap=0).status,
        solve_cpsat(stream, "feasible", ttft=30).status, solve_cpsat(stream, "max-ttft").status,
        decide_mip(stream, 30).status, approx(stream, 30, "1/2").status,
        decide(stream, 29).status, minimize_max_ttft(stream).status, minimize_violations(stream, 20).status,
        decide_ttft(stream, 30, solver="cpsat").status,
    ]
    assert all(type(status) is Status for status in answers)
    assert answers[:2] == [Status.FEASIBLE, Status.INFEASIBLE] and answers[3] is Status.NONE_WITHIN_CAP


def test_names_round_trip():
    assert OBJECTIVES == ("feasible", "max-ttft", "violations") and SOLVERS == ("auto", "cpsat", "dp", "brute")
    for text in OBJECTIVES:
        assert parse_objective(text) is Objective(text)
    for text in SOLVERS:
        assert parse_solver(text) is Solver(text)
        assert parse_solver(Solver(text)) is Solver(text)


NAMES = st.one_of(st.text(max_size=12), st.sampled_from(["max_ttft", "MAX-TTFT", "Auto", "cp-sat", " dp", "DP"]),
                  st.integers(), st.none(), st.booleans())


@settings(max_examples=200, deadline=None)
@given(text=NAMES)
def test_misspelt_names_are_input_errors_naming_text_and_valid_names(text):
    for parse, valid in ((parse_objective, OBJECTIVES), (parse_solver, SOLVERS)):
        if text in valid and isinstance(text, str):
            continue
        with pytest.raises(InputError) as error:
            parse(text)
        message = str(error.value)
        assert repr(text) in message and all(name in message for name in valid) and "\n" not in message


@pytest.mark.parametrize("call, message", [
    (lambda: solve_cpsat(toy_stream(), "max_ttft"), "unknown objective 'max_ttft'; valid: feasible, max-ttft"),
    (lambda: solve_cpsat(toy_stream(), "violations"), "needs a TTFT bound"),
    (lambda: decide(toy_stream(), 30, solver="CPSAT"), "unknown solver 'CPSAT'"),
    (lambda: minimize_max_ttft(toy_stream(), solver="gurobi"), "unknown solver 'gurobi'"),
    (lambda: minimize_violations(toy_stream(), 5, solver=""), "unknown solver ''"),
    (lambda: decide_ttft(toy_stream(), 30, solver="brute"), "unknown solver 'brute'; valid: dp, cpsat"),
    (lambda: BatterySettings(solver="auto"), "unknown solver 'auto'; valid: dp, cpsat"),
])
def test_every_entry_point_refuses_a_misspelt_name(call, message):
    with pytest.raises(InputError, match=message):
        call()
