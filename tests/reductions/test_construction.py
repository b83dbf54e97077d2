"""The Theorem 1 construction: its layout, the certificates both ways, and the equivalence on the battery."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.reductions.construction import (
    CertificateError,
    certify_schedule,
    construct,
    partition_from_schedule,
    schedule_from_partition,
)
from prefix_sched.reductions.three_partition import ThreePartition, certified_no, decide_partition, planted_yes
from prefix_sched.reductions.verify import BatterySettings, instance_for, run_case
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.evaluator import evaluate

BATTERY_UP_TO_4 = [case for case in BatterySettings().cases() if case[0] <= 4]


def test_layout_worked_by_hand():
    """m = 1, sizes (12, 13, 15), B = 40, L = 40: T = mB + (m-1)L = 40, r_1 = B + L = 80, e at T + m(B+L) = 120."""
    c = construct(ThreePartition((12, 13, 15), 40), x_length=40)
    table = {q.qid: (q.prompt, q.arrival) for q in c.stream.queries}
    assert c.ttft == 40 and c.window == (40, 120)
    assert table == {
        "s": ((("S", 40),), 0), "a1": ((("A1", 12),), 40), "a2": ((("A2", 13),), 40),
        "a3": ((("A3", 15),), 40), "x1": ((("X1", 40),), 80), "y1": ((("X1", 40),), 120),
        "e": ((("E", 40),), 120),
    }


@pytest.mark.parametrize("x_length", [0, 41, 2.0])
def test_x_length_outside_1_to_b_is_refused(x_length):
    with pytest.raises(InputError, match="x_length L must be an integer with 1 <= L <= B = 40"):
        construct(ThreePartition((12, 13, 15), 40), x_length=x_length)


@pytest.mark.parametrize("x_length", [1, 7, None])
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_partition_gives_a_schedule_with_max_ttft_exactly_t(m, x_length):
    instance = planted_yes(m, seed=m)
    c = construct(instance, x_length=x_length)
    order = schedule_from_partition(c, instance.meta["planted"])
    evaluation = evaluate(c.stream, order)
    assert evaluation.max_ttft == c.ttft == certify_schedule(c, order).max_ttft
    assert partition_from_schedule(c, order) == tuple(sorted(map(tuple, instance.meta["planted"])))


def test_infeasible_orders_are_refused_as_certificates():
    instance = planted_yes(2, seed=0)
    c = construct(instance)
    order = list(schedule_from_partition(c, instance.meta["planted"]))
    x1, y1 = order.index(c.index("x1")), order.index(c.index("y1"))
    order[x1], order[y1] = order[y1], order[x1]
    with pytest.raises(CertificateError, match="TTFT"):
        partition_from_schedule(c, order)
    wrong = [(0, 1, 2), (3, 4, 5)] if sum(instance.sizes[:3]) != 40 else [(0, 1, 3), (2, 4, 5)]
    assert sum(instance.sizes[i] for i in wrong[0]) != 40
    with pytest.raises(InputError, match="summing to"):
        schedule_from_partition(c, wrong)


def assert_proof_structure(c, order):
    """Steps 1-6 of the proof, read off a feasible order with the evaluator's times."""
    ev = evaluate(c.stream, order)
    completion = dict(zip(ev.order, ev.completion))
    m, bound, length, ttft = c.instance.m, c.instance.bound, c.x_length, c.ttft
    assert order[0] == c.index("s") and order[-1] == c.index("e")
    assert ev.start[-1] == c.window[1]
    assert all(ev.start[i + 1] == ev.completion[i] for i in range(len(order) - 1))  # no idle time
    for j in range(1, m + 1):
        x, y = c.index(f"x{j}"), c.index(f"y{j}")
        assert order.index(y) == order.index(x) + 1
        assert completion[x] == ttft + j * (bound + length) == completion[y]


@pytest.mark.parametrize(("m", "kind", "seed"), BATTERY_UP_TO_4, ids=lambda v: str(v))
def test_equivalence_on_the_default_battery_up_to_m_4(m, kind, seed):
    if seed is None:  # the battery's row saying no m = 1 no-instance exists
        assert m == 1 and kind == "no"
        return
    instance = instance_for(m, kind, seed, BatterySettings().bound)
    report = run_case(instance, kind=kind, seed=seed)
    assert report.ok, report.problem
    c = construct(instance)
    dp = feasible_endings(c.stream, c.ttft)
    assert (dp.status == "FEASIBLE") == decide_partition(instance).answer == (kind == "yes")
    if dp.status == "FEASIBLE":
        assert_proof_structure(c, dp.best_order())
        assert report.certificates == ("partition->schedule", "schedule->partition")


@pytest.mark.parametrize("x_length", [20, 40])
def test_equivalence_holds_for_other_x_lengths(x_length):
    for instance in (planted_yes(3, seed=11), certified_no(3, seed=11)):
        c = construct(instance, x_length=x_length)
        dp = feasible_endings(c.stream, c.ttft)
        assert (dp.status == "FEASIBLE") == decide_partition(instance).answer
        if dp.status == "FEASIBLE":
            assert_proof_structure(c, dp.best_order())
            instance.check_partition(partition_from_schedule(c, dp.best_order()))
