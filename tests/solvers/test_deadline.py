"""Every engine keeps its time limit, and a time-out is UNKNOWN (or, for a minimisation, the best
order found with a proven bound), never INFEASIBLE.

The instance is deterministic and slow for every engine: a Definition 4 stream of 200 queries
(r = 4, u = 1000, d = 100, Delta = 300, seed 0) with ``T`` one below the best online k-LPM max
TTFT. Before the fix, ``solve --time-limit 2`` took 9 to 11 s on it and the DP called with 0.5 s
took 38 s. The wall-time bound is generous (limit + 3 s, for a loaded 2-core CI machine); the
issue's target, ``1.1 limit + 1 s``, is measured by ``benchmarks/time_limits.py``. Each run must
also last about the limit, which shows that the instance really needed the limit.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from prefix_sched.errors import InputError
from prefix_sched.reductions.three_partition import DEFAULT_BOUND, planted_yes
from prefix_sched.reductions.verify import dp_processes, run_case
from prefix_sched.solvers.exact import brute
from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.exact.cpsat import solve_cpsat
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.solvers.exact.drops import fewest_drops
from prefix_sched.solvers.exact import decide, minimize_max_ttft, minimize_violations, warm_start
from prefix_sched.solvers.exact.mip import decide_mip
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

LIMIT = 1.0
SLACK = 3.0  # seconds over the limit a loaded CI machine may take; the benchmark measures the real overrun


@pytest.fixture(scope="module")
def slow():
    stream = regular_arrival_shuffled_queue(200, 4, 1000, 100, 300, seed=0)
    return stream, warm_start(stream).max_ttft - 1


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


DECISIONS = {
    "dp": lambda s, t: feasible_endings(s, t, time_limit=LIMIT),
    "drop DP": lambda s, t: fewest_drops(s, t, time_limit=LIMIT),
    "cpsat feasible": lambda s, t: solve_cpsat(s, "feasible", ttft=t, time_limit=LIMIT),
    "cpsat violations": lambda s, t: solve_cpsat(s, "violations", ttft=t, time_limit=LIMIT),
    "mip": lambda s, t: decide_mip(s, t, time_limit=LIMIT),
    "appendix A": lambda s, t: approx(s, t, "1/10", time_limit=LIMIT),
    "appendix A exact": lambda s, t: approx(s, t, "1/10", exact=True, time_limit=LIMIT),
    "decide auto": lambda s, t: decide(s, t, time_limit=LIMIT),
    "decide dp": lambda s, t: decide(s, t, solver="dp", time_limit=LIMIT),
    "decide cpsat": lambda s, t: decide(s, t, solver="cpsat", time_limit=LIMIT),
}


@pytest.mark.parametrize("engine", sorted(DECISIONS))
def test_decision_engines_keep_the_limit_and_time_out_unknown(slow, engine):
    stream, bound = slow
    result, wall = timed(lambda: DECISIONS[engine](stream, bound))
    assert result.status == "UNKNOWN", engine
    assert 0.9 * LIMIT <= wall < LIMIT + SLACK, (engine, wall)


@pytest.mark.parametrize("question", ["max-ttft auto", "max-ttft dp", "max-ttft cpsat", "violations auto",
                                      "violations cpsat"])
def test_minimisations_keep_the_limit_and_report_a_checked_order_with_a_sound_bound(slow, question):
    stream, bound = slow
    kind, solver = question.split()
    if kind == "max-ttft":
        result, wall = timed(lambda: minimize_max_ttft(stream, solver=solver, time_limit=LIMIT))
    else:
        result, wall = timed(lambda: minimize_violations(stream, bound, solver=solver, time_limit=LIMIT))
    assert wall < LIMIT + SLACK, (question, wall)
    assert result.status in ("FEASIBLE", "UNKNOWN"), question  # not OPTIMAL within 1 s on this instance
    if result.status == "FEASIBLE":
        evaluation = evaluate(stream, result.order)
        value = evaluation.max_ttft if kind == "max-ttft" else evaluation.violations(bound)
        assert value == result.objective and result.bound is not None and result.bound <= result.objective


@pytest.mark.parametrize("solver", ["dp", "cpsat"])
def test_verify_reduction_keeps_its_per_case_limit(solver):
    """m = 5: the DP needs tens of seconds; with 1 s the case is UNKNOWN (a failed case) in about 1 s.
    CP-SAT on a quiet machine may find the yes-instance's schedule within the second: then the case
    must be decided and pass, still within the limit. The DP's process server starts once per
    process, before the case's clock (timed apart)."""
    dp_processes()
    instance = planted_yes(5, DEFAULT_BOUND, seed=np.random.default_rng((0, 5, 0, 0)))
    report, wall = timed(lambda: run_case(instance, kind="yes", solver=solver, time_limit=LIMIT))
    assert wall < LIMIT + SLACK, wall
    if solver == "cpsat" and report.ttft_status == "FEASIBLE":
        assert report.ok, report.problem
        return
    assert report.ttft_status == "UNKNOWN" and not report.ok and "time limit" in report.ttft_detail
    assert report.undecided and wall >= 0.9 * LIMIT, wall


def test_brute_force_stops_at_its_limit():
    stream = regular_arrival_shuffled_queue(8, 2, 1000, 100, 300, seed=0)
    assert brute.best_max_ttft(stream, time_limit=0.02) is None
    assert brute.fewest_violations(stream, 2000, time_limit=0.02) is None
    assert brute.best_max_ttft(stream) is not None


def test_deadline_shares_never_outlive_their_parent():
    parent = Deadline.of(10)
    for fraction in (1, 0.5, 1 / 3):
        child = parent.share(fraction)
        assert child.end <= parent.end and child.remaining() <= fraction * 10 + 1e-6
    assert Deadline.of(parent) is parent
    unlimited = Deadline.of(None)
    assert unlimited.remaining() == math.inf and not unlimited.expired() and unlimited.share(0.5).end is None
    passed = Deadline.of(1e-6)
    time.sleep(0.01)
    assert passed.expired() and passed.remaining() == 0 and passed.share(0.5).expired()


@pytest.mark.parametrize("value", [0, -1, "0", "x", float("nan"), float("inf"), True])
def test_bad_limits_are_named(value):
    with pytest.raises(InputError, match="time limit"):
        Deadline.of(value)
