"""Each scheduler's first iterations worked out by hand (the docstrings' examples and preemptions),
and the registry: one row per scheduler, one parse point, orders refused by name.

Every example uses the cost ``10 us + 1 us per token`` (``c0 = 10, cp = cd = 1``), so an iteration
of ``N`` tokens lasts ``10 + N`` us.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS, SCHEDULERS, SchedulerName, parse_scheduler
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.requests import Workload, parse_classes

COST = parse_cost("c0=10,cp=1,cd=1")


def times(run):
    return [run.token_times_us(i) for i in range(run.timeline.workload.n)]


def firsts(run):
    return [run.timeline.us(int(x)) for x in run.timeline.first_scheduled]


# --- no memory limit: the docstrings' examples ------------------------------------------------

def test_sarathi_chunks_then_admits_in_arrival_order():
    """Budget 4; A (6 prompt, 3 out), B (2, 1) at 0. [0,14]: A 4; [14,28]: A 2 + B 2; then A decodes."""
    run = serve(Workload.from_lengths([6, 2], [3, 1], [0, 0]), "sarathi", budget=4, cost=COST)
    assert times(run) == [[28, 39, 50], [28]]
    assert firsts(run) == [0, 14]
    assert run.iterations == 4 and run.batches is None


def test_sarathi_decodes_take_the_budget_before_new_prefills():
    """Budget 2; A, B, C (1 prompt, 3 out) at 0, D (1 prompt, 1 out) at 1. [0,12]: A and B's prompts
    (budget 2; C waits). [12,24] and [24,36]: A and B decode, which spends the budget: C and D wait.
    [36,48]: C and D's prompts (arrival order); D is done."""
    w = Workload.from_lengths([1, 1, 1, 1], [3, 3, 3, 1], [0, 0, 0, 1])
    run = serve(w, "sarathi", budget=2, cost=COST, record_batches=True)
    log = run.batches
    assert log.decode_tokens[:4].tolist() == [0, 2, 2, 0]
    assert log.prefill_tokens[:4].tolist() == [2, 0, 0, 2]
    assert times(run) == [[12, 24, 36], [12, 24, 36], [48, 59, 70], [48]]


def test_sarathi_spf_takes_the_shorter_prompt_first():
    run = serve(Workload.from_lengths([6, 2], [3, 1], [0, 0]), "sarathi-spf", budget=4, cost=COST)
    assert times(run) == [[28, 39, 50], [14]]


def test_vllm_v1():
    run = serve(Workload.from_lengths([6, 2], [3, 2], [0, 0]), "vllm", budget=4, cost=COST)
    assert times(run) == [[28, 40, 51], [28, 40]]


def test_vllm_v1_cuts_decodes_by_the_budget():
    """Budget 2, three decoding requests: the running list (admission order) A, B get the budget;
    C waits. A, B, C (1 prompt, 3 out) at 0: [0,12] A, B prompts; [12,24] A, B decode (C waits:
    budget spent); [24,36] A, B decode (A, B done); [36,47] C prompt; [47,58], [58,69] C decodes."""
    run = serve(Workload.from_lengths([1, 1, 1], [3, 3, 3], [0, 0, 0]), "vllm", budget=2, cost=COST)
    assert times(run) == [[12, 24, 36], [12, 24, 36], [47, 58, 69]]


def test_vllm_v0_runs_whole_prompts_first():
    run = serve(Workload.from_lengths([6, 2], [3, 2], [0, 1]), "vllm-v0", budget=8, cost=COST)
    assert times(run) == [[16, 40, 51], [28, 40]]


def test_vllm_v0_refuses_a_prompt_longer_than_the_budget():
    with pytest.raises(InputError, match="vllm-v0 prefills whole prompts: request 0 has a prompt of 9 tokens"):
        serve(Workload.from_lengths([9], [1], [0]), "vllm-v0", budget=8, cost=COST)


def test_sglang_and_mixed():
    w = Workload.from_lengths([6, 2, 3], [3, 2, 1], [0, 0, 20])
    assert times(serve(w, "sglang", budget=4, cost=COST)) == [[28, 53, 64], [28, 53], [41]]
    assert times(serve(w, "sglang-mixed", budget=4, cost=COST)) == [[28, 42, 54], [28, 42], [54]]


def test_slai_defers_a_decode_that_is_not_critical():
    classes = parse_classes("gold=1/2:100us,free=1/2:1000us")
    w = Workload.from_lengths([2, 6], [4, 1], [0, 0], classes=classes, class_index=[0, 1])
    assert times(serve(w, "slai", budget=4, cost=COST)) == [[14, 39, 50, 61], [28]]
    assert times(serve(w, "sarathi", budget=4, cost=COST)) == [[14, 28, 40, 51], [40]]


def test_slai_runs_a_critical_decode_before_the_started_prefill():
    """A (2 prompt, 4 out, TBT 30 us) and B (6 prompt, 1 out, TBT 1000 us) at 0, budget 4.
    [0,14]: A 2 + B 2; LST_A = 14 + 30 - 5 * 14 = -26 <= 14: critical. [14,28]: A's decode first
    (critical), then B 3 of its last 4 (budget 4). [28,40]: A critical again, B's last token.
    Mean after 3 batches = 40/3; LST_A = 40 + 30 - 5 * 40/3 < 40; [40,51]: A's last decode."""
    classes = parse_classes("gold=1/2:30us,free=1/2:1000us")
    w = Workload.from_lengths([2, 6], [4, 1], [0, 0], classes=classes, class_index=[0, 1])
    assert times(serve(w, "slai", budget=4, cost=COST)) == [[14, 28, 40, 51], [40]]


def test_slai_strict_class_first_then_shortest_and_its_variants():
    """Three waiting requests at 0, budget 16: C (5 prompt, strict), A (3, relaxed), B (2, relaxed).
    slai admits C, B, A (strict first, then shortest); slai-sp B, A, C; slai-fcfs A, B, C. Each
    iteration's chunks run in that order, all three complete in iteration 1, so the order shows in
    the first-scheduled times only through a budget that cuts: budget 6."""
    classes = parse_classes("strict=1/2:100ms,relaxed=1/2:500ms")
    w = Workload.from_lengths([3, 2, 5], [1, 1, 1], [0, 0, 0], classes=classes, class_index=[1, 1, 0])
    # slai: C 5 + B 1 -> [0, 16]; then B 1 (started) + A 3 -> [16, 30]
    assert times(serve(w, "slai", budget=6, cost=COST)) == [[30], [30], [16]]
    # slai-sp: B 2 + A 3 + C 1 -> [0,16]; C 4 -> [16,30]
    assert times(serve(w, "slai-sp", budget=6, cost=COST)) == [[16], [16], [30]]
    # slai-fcfs: A 3 + B 2 + C 1 -> [0,16]; C 4 -> [16, 30]
    assert times(serve(w, "slai-fcfs", budget=6, cost=COST)) == [[16], [16], [30]]
    assert firsts(serve(w, "slai-fcfs", budget=4, cost=COST)) == [0, 0, 14]  # A 3 + B 1; then B 1 + C 3
    assert firsts(serve(w, "slai-sp", budget=4, cost=COST)) == [0, 0, 14]  # B 2 + A 2; then A 1 + C 3


# --- preemption by recompute, worked by hand ---------------------------------------------------

PRESSURE = dict(kv_tokens=5, block_size=1, cost=COST)


@pytest.mark.parametrize("scheduler", ["sarathi", "vllm"])
def test_a_decode_without_a_slot_preempts_the_latest_request(scheduler):
    """5 one-token blocks; A (2 prompt, 4 out), B (2 prompt, 3 out) at 0, budget 8.
    [0,14]: both prompts (4 blocks, 1 free). [14,25]: A takes the last block; B finds none and is the
    latest request: preempted (its 2 blocks freed); its recompute prompt is 2 + 1 = 3 tokens, 3 > 2
    free blocks: it waits. [25,36], [36,47]: A decodes and finishes (5 blocks free). [47,60]: B's
    3-token recompute, its token 2 at 60; [60,71]: its token 3."""
    run = serve(Workload.from_lengths([2, 2], [4, 3], [0, 0]), scheduler, budget=8, **PRESSURE)
    assert times(run) == [[14, 25, 36, 47], [14, 60, 71]]
    assert run.timeline.preemptions.tolist() == [0, 1]
    assert firsts(run) == [0, 0]  # the first-scheduled time is kept


def test_vllm_v0_preempts_like_sarathi():
    run = serve(Workload.from_lengths([2, 2], [4, 3], [0, 0]), "vllm-v0", budget=8, **PRESSURE)
    assert times(run) == [[14, 25, 36, 47], [14, 60, 71]]


def test_slai_preempts_the_last_started_prefill_for_a_critical_decode():
    """5 one-token blocks, budget 2; A (1 prompt, 3 out, TBT 30 us, strict), B (4 prompt, 1 out) at 0.
    [0,12]: A 1 + B 1 (all 5 blocks held; KV use 100%: offset 10), LST_A = 12 + 30 - 120 < 12.
    [12,23]: A is critical and needs a block: B, the started prefill, is preempted (4 blocks back),
    A decodes; B's prompt (4) does not fit the 3 free blocks. [23,34]: A's last token (frees 3).
    [34,46] and [46,58]: B's prompt again, 2 + 2."""
    classes = parse_classes("gold=1/2:30us,free=1/2:1000us")
    w = Workload.from_lengths([1, 4], [3, 1], [0, 0], classes=classes, class_index=[0, 1])
    run = serve(w, "slai", budget=2, **PRESSURE)
    assert times(run) == [[12, 23, 34], [58]]
    assert run.timeline.preemptions.tolist() == [0, 1]


def test_slai_preempts_the_decode_itself_when_no_prefill_is_started():
    """6 one-token blocks, budget 3, slai-fcfs; A (2 prompt, 3 out), B (4 prompt, 2 out) at 0.
    [0,13]: A 2 + B 1 (6 blocks held). [13,26]: B's last 3 (A's decode is not critical and the budget
    is spent). [26,37]: A first (least LST) needs a block, none free, no started prefill: A is
    preempted; B decodes and finishes. [37,50]: A's recompute (2 + 1 tokens); [50,61]: A's last."""
    run = serve(Workload.from_lengths([2, 4], [3, 2], [0, 0]), "slai-fcfs", budget=3, kv_tokens=6, block_size=1,
                cost=COST)
    assert times(run) == [[13, 50, 61], [26, 37]]
    assert run.timeline.preemptions.tolist() == [1, 0]


def test_sglang_retracts_the_decode_with_the_fewest_tokens_and_longest_prompt():
    """6 one-token blocks, budget 8; A (2 prompt, 3 out), B (3 prompt, 2 out) at 0. [0,15]: both
    prompts (1 block free). [15,26]: both decodes need a block, one is free: retract B (one token
    each, B's prompt is longer); A decodes. [26,37]: B's recompute (4 tokens) does not fit 3 free
    blocks: A decodes, finishes. [37,51]: B's 4-token recompute, its last token."""
    run = serve(Workload.from_lengths([2, 3], [3, 2], [0, 0]), "sglang", budget=8, kv_tokens=6, block_size=1,
                cost=COST)
    assert times(run) == [[15, 26, 37], [15, 51]]
    assert run.timeline.preemptions.tolist() == [0, 1]


def test_a_request_that_cannot_fit_alone_is_refused():
    with pytest.raises(InputError, match=r"request 1 needs 9 tokens of KV memory \(prompt 6 \+ output 4 - 1\)"):
        serve(Workload.from_lengths([2, 6], [1, 4], [0, 0]), "sarathi", kv_tokens=8, block_size=4)


@pytest.mark.parametrize("scheduler", ["sarathi", "vllm", "sglang", "slai"])
def test_a_budget_or_max_seqs_beyond_the_workload_runs_as_the_workload_bounds_it(scheduler):
    """A budget of 2^63 - 1 tokens or as many sequences cannot fill a batch past the workload's own
    tokens and requests, so it behaves as those; the exact-time check must not refuse it."""
    work = Workload.from_lengths([5, 3, 7], [2, 4, 1], [0, 1, 3])
    total = 5 + 3 + 7 + 2 + 4 + 1
    huge = 2 ** 63 - 1
    assert times(serve(work, scheduler, cost=COST, budget=huge)) == times(serve(work, scheduler, cost=COST, budget=total))
    assert times(serve(work, scheduler, cost=COST, max_seqs=huge)) == times(serve(work, scheduler, cost=COST, max_seqs=3))


# --- the registry ------------------------------------------------------------------------------

def test_every_row_runs():
    w = Workload.from_lengths([5, 3, 7], [4, 2, 3], [0, 1, 2])
    for form in SCHEDULER_FORMS:
        run = serve(w, form, budget=8, cost=COST)
        assert run.timeline.token_times.shape == (9,)
    assert all(row.rule for row in SCHEDULERS.values())
    assert len(SCHEDULER_FORMS) == len(SchedulerName)


@pytest.mark.parametrize("name, order, message", [
    ("orca", None, "unknown scheduler 'orca'"),
    ("sarathi:2", None, "'sarathi' takes no parameter"),
    ("slai:-1", None, "the offset must be >= 0"),
    ("slai:x", None, "'x'"),
    ("sarathi-spf", "fcfs", "scheduler 'sarathi-spf' orders new prefills itself (shortest prompt first)"),
    ("slai-fcfs", "spf", "scheduler 'slai-fcfs' orders new prefills itself (FCFS)"),
    ("sarathi", "lpm", "ranks requests by their cached prefix"),
    ("vllm", "k-lpm:2", "ranks requests by their cached prefix"),
    ("sglang", "dfs-weight", "ranks requests by their cached prefix"),
    ("sarathi", "sjf", "unknown policy 'sjf'"),
])
def test_parse_scheduler_refuses_by_name(name, order, message):
    with pytest.raises(InputError) as info:
        parse_scheduler(name, order)
    assert message in str(info.value)


def test_labels_and_settings():
    assert parse_scheduler("sarathi").label == "sarathi"
    assert parse_scheduler("vllm", "hrrn").label == "vllm(order=hrrn)"
    assert parse_scheduler("slai:5/2").offset == Fraction(5, 2)
    assert parse_scheduler("slai").as_dict()["order"] == "strict-shortest"
