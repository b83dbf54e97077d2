"""Big numbers: the DP answers exactly at any size; CP-SAT and the MIP refuse what they cannot hold.

With segment lengths of 10^30, CP-SAT used to crash inside ortools (Domain overflow). Now the
scaled data are checked before a model is built: ``solver="cpsat"`` is an InputError naming the
value (exit 2 on the command line); ``auto`` skips CP-SAT, says why in ``settings["skipped"]``
and answers with the DP alone. The limits were found here: CP-SAT refuses models whose variable
bounds sum past int64, and with times just above 2^53 it proved a max TTFT one unit above the
true optimum OPTIMAL, so times must stay below 2^53 (:func:`~prefix_sched.solvers.exact.cpsat.int64_problem`).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.exact import brute
from prefix_sched.solvers.exact.cpsat import int64_problem, solve_cpsat
from prefix_sched.solvers.exact import decide, minimize_max_ttft, minimize_violations, warm_start
from prefix_sched.solvers.exact.mip import decide_mip
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream

from strategies import streams

HUGE = 10 ** 30


def scaled(stream: Stream, factor: int) -> Stream:
    """Every length and arrival times ``factor``: with alpha = 0 every time scales by it exactly."""
    return Stream.from_records(
        (q.qid, tuple((sid, length * factor) for sid, length in q.prompt), q.arrival * factor) for q in stream.queries)


def three(length: int) -> Stream:
    """Two queries sharing a ``length``-token prefix and one short one (brute force: 6 orders)."""
    return Stream.from_records([("a", (("u", length), ("x", 5)), 0), ("b", (("v", 3),), 1),
                                ("c", (("u", length), ("y", 5)), 2)])


@settings(max_examples=40, deadline=None)
@given(stream=streams(max_n=6), slack=st.sampled_from([-1, 0]))
def test_the_dp_answers_exactly_at_10_to_the_30(stream, slack):
    """Scaling a stream by 10^30 scales every TTFT by it: the answers must be brute force's, scaled."""
    optimum, _ = brute.best_max_ttft(stream)
    big = scaled(stream, HUGE)
    assert int64_problem(big) is not None
    result = minimize_max_ttft(big)
    assert result.status == "OPTIMAL" and result.objective == optimum * HUGE
    assert evaluate(big, result.order).max_ttft == optimum * HUGE
    if optimum + slack >= 0:
        verdict = decide(big, (optimum + slack) * HUGE, solver="dp")
        assert verdict.status == ("FEASIBLE" if slack == 0 else "INFEASIBLE")


def test_cpsat_refuses_naming_the_value():
    big = three(HUGE)
    horizon = str(2 * (HUGE + 5) + 3 + 2)
    for call in (lambda: solve_cpsat(big, "max-ttft"), lambda: solve_cpsat(big, "feasible", ttft=HUGE),
                 lambda: decide(big, HUGE, solver="cpsat"), lambda: minimize_max_ttft(big, solver="cpsat"),
                 lambda: minimize_violations(big, HUGE, solver="cpsat")):
        with pytest.raises(InputError, match=f"horizon .* is {horizon} >= 2\\^53.*'a', {HUGE + 5} tokens"):
            call()


def test_the_limit_is_where_cpsat_stays_exact():
    """At the largest accepted prefix length CP-SAT agrees with brute force; one more is refused."""
    low, high = 1, 2 ** 62
    while low < high:  # the largest length the check accepts
        middle = (low + high + 1) // 2
        low, high = (middle, high) if int64_problem(three(middle)) is None else (low, middle - 1)
    assert 2 ** 51 < low < 2 ** 52 and int64_problem(three(low + 1)) is not None
    stream = three(low)
    optimum, _ = brute.best_max_ttft(stream)
    result = solve_cpsat(stream, "max-ttft", time_limit=30)
    assert result.status == "OPTIMAL" and result.objective == result.bound == optimum
    assert solve_cpsat(stream, "feasible", ttft=optimum, time_limit=30).status == "OPTIMAL"
    assert solve_cpsat(stream, "feasible", ttft=optimum - 1, time_limit=30).status == "INFEASIBLE"
    assert int64_problem(three(low), ttft=Fraction(1, 3)) is not None  # T's denominator scales every time


def test_the_sum_of_bounds_limit_binds_for_many_queries():
    """With n = 600 the horizon can be below 2^53 while (2n + 2) x horizon passes 2^62."""
    stream = Stream.from_records([(f"q{i}", ((f"s{i}", 2 ** 43),), 0) for i in range(600)])
    message = int64_problem(stream)
    assert message is not None and "sum of variable bounds" in message and ">= 2^62" in message


def test_auto_skips_cpsat_says_why_and_never_guesses():
    """n = 200, Definition 4 lengths times 10^27 at T one below the best k-LPM run: the DP cannot
    decide in 1 s, CP-SAT cannot take the data, so the answer is UNKNOWN (feasibility) or the
    incumbent with its bound (violations), and settings["skipped"] names the value."""
    stream = regular_arrival_shuffled_queue(200, 4, 1000 * 10 ** 27, 100 * 10 ** 27, 300 * 10 ** 27, seed=0)
    bound = warm_start(stream).max_ttft - 1
    result = decide(stream, bound, time_limit=1)
    assert result.status == "UNKNOWN" and ">= 2^53" in result.settings["skipped"]["cpsat"]
    fewest = minimize_violations(stream, bound, time_limit=1)
    assert fewest.status == "FEASIBLE" and ">= 2^53" in fewest.settings["skipped"]["cpsat"]
    assert evaluate(stream, fewest.order).violations(bound) == fewest.objective >= fewest.bound
    small = decide(regular_arrival_shuffled_queue(200, 4, 1000, 100, 300, seed=0), 10 ** 9)
    assert small.status == "FEASIBLE" and small.settings["skipped"] == {}


def test_mip_refuses_beyond_exact_doubles_and_agrees_below():
    with pytest.raises(InputError, match=r"HiGHS works in doubles.* >= 2\^53"):
        decide_mip(three(2 ** 52), 10)
    stream = three(2 ** 40)
    optimum, _ = brute.best_max_ttft(stream)
    assert decide_mip(stream, optimum, time_limit=30).status == "FEASIBLE"
    assert decide_mip(stream, optimum - 1, time_limit=30).status == "INFEASIBLE"
    huge_bound = decide_mip(three(5), HUGE, time_limit=30)  # a T past the horizon is clamped: exact
    assert huge_bound.status == "FEASIBLE"


def test_solve_command_exits_2_naming_the_value(tmp_path, capsys):
    from prefix_sched.cli import main
    from prefix_sched.theory.formats import write_stream

    path = tmp_path / "big.jsonl"
    write_stream(three(HUGE), path)
    assert main(["solve", str(path), "--ttft", str(HUGE), "--solver", "cpsat"]) == 2
    error = capsys.readouterr().err
    assert "2^53" in error and f"{HUGE + 5} tokens" in error and len(error.strip().splitlines()) == 1
    # b first, then a and c sharing their prefix: TTFTs 3, 10^30 + 9, 10^30 + 12, the optimum
    assert main(["solve", str(path), "--ttft", str(HUGE + 12), "--solver", "dp"]) == 0
    assert main(["solve", str(path), "--ttft", str(HUGE + 11)]) == 1  # auto: the DP decides alone
