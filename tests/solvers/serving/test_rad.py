"""RAD (a reconstruction, ../shared/MODEL_SERVING.md "rad (reading)") and its fixed-share variant: the
batch size n* against a brute-force argmax, full n*-token batches while enough work is runnable, the
split following the backlog, the fixed share's caps, the note on every output, the default router.
(The reference engine of test_reference.py, equal to the fast one, covers every iteration.)"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.rad import optimal_batch
from prefix_sched.solvers.serving.registry import RAD_NOTE, parse_scheduler
from prefix_sched.theory.serving.costs import IterationCost, parse_cost
from prefix_sched.theory.serving.requests import Workload

from prefix_sched.errors import InputError


@settings(max_examples=300, deadline=None)
@given(c0=st.integers(0, 50), cp=st.fractions(0, 4, max_denominator=4), tile=st.sampled_from([None, 1, 3, 8, 16]),
       budget=st.integers(1, 70))
def test_nstar_is_the_argmax_of_tokens_per_time(c0, cp, tile, budget):
    cost = IterationCost(c0=c0, cp=cp, cd=cp, tile=tile)
    D = cost.ticks_per_us()
    nstar = optimal_batch(cost.in_ticks(D), budget)

    def rate(n):
        tau = cost.duration_us(prefill_tokens=n)
        return Fraction(n) / tau if tau else float("inf")

    best = max(rate(n) for n in range(1, budget + 1))
    assert rate(nstar) == best and all(rate(n) < best for n in range(nstar + 1, budget + 1))


def test_a_budget_off_the_tile():
    """seed,tile=512: with budget 520, n* = 512 (one tile: 44.59 ms for 512 tokens, 73.98 ms for 520),
    while a fixed budget of 520 pads every full batch to two tiles."""
    tc = parse_cost("seed,tile=512").in_ticks(5)
    assert optimal_batch(tc, 520) == 512 and optimal_batch(tc, 1024) == 1024 and optimal_batch(tc, 511) == 511


def test_full_batches_of_nstar_while_enough_work_is_runnable():
    """Heavy load, unbounded memory, many sequences: every batch has exactly n* tokens except while
    the engine holds less runnable work (checked with an audit of the waiting and running work)."""
    rng = np.random.default_rng(3)
    n = 200
    w = Workload.from_lengths(rng.integers(20, 400, n).tolist(), rng.integers(1, 80, n).tolist(),
                              np.cumsum(rng.exponential(3000, n)).astype(np.int64).tolist())
    cost = parse_cost("c0=2000,cp=20,cd=20,tile=64")
    nstar = optimal_batch(cost.in_ticks(1), 200)
    assert nstar == 192
    runnable = []

    def audit(e):
        runnable.append(e.work - e.out_left + int((e.phase == 2).sum()))  # prefill left + one token per decode

    run = serve(w, "rad", budget=200, cost=cost, max_seqs=1000, record_batches=True, audit=audit)
    sizes = run.batches.prefill_tokens + run.batches.decode_tokens
    assert sizes.max() == nstar
    # before each batch, the runnable work was the previous audit's figure (plus arrivals): a batch below
    # n* only when that was below n* too, or a request had just arrived into an emptier engine
    before = [None] + runnable[:-1]
    short = [(s, b) for s, b in zip(sizes.tolist(), before) if s < nstar and b is not None and b >= nstar]
    assert not short


def test_the_split_follows_the_backlog():
    """Many decodes with long outputs and one long prompt: the decodes get
    ceil(n* Bd / (Bd + Bp)) >= the count of decodes, so all of them run and the prompt gets the rest;
    with short outputs left and a long prompt waiting, fewer decodes run (the docstring's example)."""
    w = Workload.from_lengths([1, 1, 1, 1, 20], [3, 3, 3, 3, 1], [0, 0, 0, 0, 1])
    run = serve(w, "rad", budget=9, cost="c0=8,cp=1,cd=1,tile=4", record_batches=True)
    assert run.batches.decode_tokens.tolist() == [0, 3, 2, 2, 1]
    assert run.batches.prefill_tokens.tolist() == [4, 5, 6, 6, 3]
    long_outputs = Workload.from_lengths([1, 1, 1, 1, 20], [40, 40, 40, 40, 1], [0, 0, 0, 0, 1])
    run = serve(long_outputs, "rad", budget=9, cost="c0=8,cp=1,cd=1,tile=4", record_batches=True)
    assert run.batches.decode_tokens.tolist()[1:3] == [4, 4]  # 8 * 156/176 > 4: every decode runs


def test_fixed_share_caps_both_kinds_without_spill():
    """rad-fixed:1/4 with n* = 8: at most 2 decode and 6 prefill tokens a batch, even when one kind is
    idle (no spill). A-D (prompt 1, output 3) at 0, E (prompt 8) at 1: [4 prefill], [2 decodes + 6 of
    E], [2 decodes + E's last 2], then decode-only batches of 2 although 4 decodes wait (RAD would run
    all 4 at once)."""
    w = Workload.from_lengths([1, 1, 1, 1, 8], [3, 3, 3, 3, 1], [0, 0, 0, 0, 1])
    run = serve(w, "rad-fixed:1/4", budget=9, cost="c0=8,cp=1,cd=1,tile=4", record_batches=True)
    assert run.batches.decode_tokens.tolist() == [0, 2, 2, 2, 2]
    assert run.batches.prefill_tokens.tolist() == [4, 6, 2, 0, 0]
    rad = serve(w, "rad", budget=9, cost="c0=8,cp=1,cd=1,tile=4", record_batches=True)
    assert rad.batches.decode_tokens.max() == 4
    with pytest.raises(InputError, match="leaves decodes no token"):
        serve(w, "rad-fixed:1/10", budget=9, cost="c0=8,cp=1,cd=1,tile=4")
    with pytest.raises(InputError, match="needs its decode share"):
        parse_scheduler("rad-fixed")
    with pytest.raises(InputError, match=r"must lie in \[0, 1\]"):
        parse_scheduler("rad-fixed:2")


def test_every_output_naming_rad_says_it_is_a_reconstruction():
    w = Workload.from_lengths([3, 2], [2, 2], [0, 0])
    for name in ("rad", "rad-fixed:1/2"):
        run = serve(w, name, budget=8, cost="c0=8,cp=1,cd=1")
        assert "reconstruction" in run.settings["scheduler_note"]
    assert "reconstruction" in RAD_NOTE
    assert "scheduler_note" not in serve(w, "sarathi", budget=8).settings


def test_rad_routes_by_least_work_by_default():
    w = Workload.from_lengths([3, 2, 9], [2, 2, 4], [0, 0, 1])
    assert serve(w, "rad", budget=8, engines=2).settings["router"] == "least-work"
    assert serve(w, "sarathi", budget=8, engines=2).settings["router"] == "round-robin"
