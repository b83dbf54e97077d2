"""Theorem 2 / Corollary 3: sympy derivations, counterexamples, the checker, Monte Carlo, adversary."""

from fractions import Fraction
from itertools import product

import pytest
import sympy as sp

from prefix_sched.errors import InputError
from prefix_sched.studies.adversary import adversarial_search
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.theorem2 import (
    batch_order, corollary3_runs, exhaustive_worst, klpm_spec, max_ttft, monte_carlo, smallest_counterexample,
)
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.theorem2.guarantee import GuaranteeViolation, assert_guarantee, check_order, check_run
from prefix_sched.theory.theorem2.definition4 import batch_ttfts, canonical_user_sequences, definition4_stream, parse_definition4

GRID = [(n, r, u, d, delta) for n, r in [(4, 2), (6, 3), (8, 2)] for u, d in [(1, 1), (3, 1), (1, 3)]
        for delta in [0, 1, 3, 8]]


def test_toy_example_by_hand():
    """Section 4.2 toy example, worked by hand: u1d1, u2d3, u1d2, u2d4, u = d = 5, Delta = 0.
    FCFS: 10, 20, 30, 40; LPM: u1d1, u1d2, u2d3, u2d4 -> 10, 15, 25, 30."""
    stream = definition4_stream([1, 2, 1, 2], u=5, d=5, delta=0)
    fcfs = simulate(stream, parse_policy("fcfs")).evaluation
    lpm = simulate(stream, parse_policy("lpm")).evaluation
    assert list(fcfs.ttft) == [10, 20, 30, 40]
    assert list(lpm.order) == [0, 2, 1, 3] and list(lpm.ttft) == [10, 15, 25, 30]


def test_intersections_recomputed_numerically():
    """The sympy intersections agree with a brute scan of where the two lines cross."""
    for n_v, r_v, u_v, d_v, delta_v in GRID:
        sub = {bounds.n: n_v, bounds.r: r_v, bounds.u: u_v, bounds.d: d_v, bounds.Delta: delta_v, bounds.s: 0}
        for up, down, at in [(bounds.PAPER_INCREASING, bounds.PAPER_DECREASING, bounds.KLPM_INTERSECTION),
                             (bounds.TAIL_INCREASING, bounds.TAIL_DECREASING, bounds.TAIL_INTERSECTION),
                             (bounds.HEAD_INCREASING, bounds.HEAD_DECREASING, bounds.HEAD_INTERSECTION)]:
            crossing = [x for x in range(0, n_v + 2) if up.subs(sub).subs(bounds.i, x) == down.subs(sub).subs(bounds.i, x)]
            assert crossing == [at.subs(sub)]


def test_tight_bound_is_max_of_per_query_envelope():
    """KLPM_TIGHT equals max over i of the per-rank bound min(cycle line, total line), head or not."""
    for n_v, r_v, u_v, d_v, delta_v in GRID:
        s_v = (n_v - 1) * delta_v
        m = n_v // r_v
        head = [s_v - (i - 1) * delta_v + (min(i, m) - 1) * (u_v + r_v * d_v) + u_v + d_v for i in range(1, n_v + 1)]
        tail = [s_v - (i - 1) * delta_v + min(i - 1, m) * (u_v + r_v * d_v) for i in range(2, n_v + 1)] if r_v > 1 else []
        assert bounds.KLPM_TIGHT.value(n=n_v, r=r_v, u=u_v, d=d_v, Delta=delta_v, s=s_v) == max(head + tail)


def test_expected_reuses_and_region_are_derived():
    assert bounds.EXPECTED_REUSES == bounds.r - 1
    assert bounds.in_corollary3_region(2, 10, 9) and not bounds.in_corollary3_region(2, 10, 10)
    assert sp.simplify(bounds.KLPM_SLOPE - (bounds.u / bounds.r + bounds.d + bounds.Delta * (1 - 1 / bounds.r))) == 0


@pytest.mark.parametrize("n_v,r_v,u_v,d_v,delta_v", GRID)
@pytest.mark.parametrize("view", ["batch", "fixed", "online"])
def test_exhaustive_worst_case_within_tight_bound(n_v, r_v, u_v, d_v, delta_v, view):
    """Every arrival order (exhaustive): k-LPM (k = r - 1, FCFS first) stays within KLPM_TIGHT;
    in the batch view the worst order reaches it whenever r = 2 (oldest ties suffice there)."""
    worst = exhaustive_worst(n_v, r_v, u_v, d_v, delta_v, klpm_spec(r_v), view)
    bound = bounds.KLPM_TIGHT.value(n=n_v, r=r_v, u=u_v, d=d_v, Delta=delta_v, s=(n_v - 1) * delta_v)
    assert worst.max_ttft <= bound
    if view == "batch" and r_v == 2:
        assert worst.max_ttft == bound


def test_tight_bound_attained_with_random_ties():
    """Heads first (one query of every user), then the rest: some tie draw serves query n/r + 1 last."""
    r_v, u_v, d_v, delta_v = 3, 3, 1, 1
    stream = definition4_stream([0, 1, 1, 0, 0, 1], u_v, d_v, delta_v)
    bound = bounds.KLPM_TIGHT.value(**parse_definition4(stream).params())
    values = [max_ttft(stream, klpm_spec(r_v, "random"), "batch", seed=seed) for seed in range(20)]
    assert max(values) == bound
    assert max_ttft(stream, klpm_spec(r_v), "batch") < bound  # oldest ties cannot reach it when r > 2


def test_model_reading_smallest_counterexample():
    """MODEL.md's reading n(u/r + d - Delta/r), online and fixed views: a single query refutes it
    (TTFT u + d = 2 > 1), and with two queries of one user (r = 2) at Delta = 2 too."""
    for view in ("online", "fixed"):
        found = smallest_counterexample(bounds.KLPM_MODEL_READING, view)
        assert (found.n, found.r, found.u, found.d, found.delta) == (1, 1, 1, 1, 1)
        found = smallest_counterexample(bounds.KLPM_MODEL_READING, view, min_r=2)
        assert (found.n, found.r, found.u, found.d, found.delta, found.users) == (2, 2, 1, 1, 2, (0, 0))
        stream = definition4_stream(found.users, found.u, found.d, found.delta)
        assert max(simulate(stream, klpm_spec(2), view=view).evaluation.ttft) == found.max_ttft > found.bound


def test_paper_intersection_value_fails_for_large_delta():
    """The proof's own value s + Delta + n(u/r + d - Delta/r) (batch view) fails once
    Delta > u + r d (the 'increasing' line is not increasing); smallest case with r >= 2 below."""
    found = smallest_counterexample(bounds.KLPM_PAPER, "batch", min_r=2)
    assert (found.n, found.r, found.u, found.d, found.delta) == (4, 2, 1, 1, 5)
    assert found.delta > found.u + found.r * found.d
    for n_v, r_v, u_v, d_v, delta_v in GRID:
        if delta_v <= u_v + r_v * d_v:
            p = dict(n=n_v, r=r_v, u=u_v, d=d_v, Delta=delta_v, s=(n_v - 1) * delta_v)
            assert bounds.KLPM_TIGHT.value(**p) <= bounds.KLPM_PAPER.value(**p)


@pytest.mark.parametrize("name,policy", [
    ("k = r - 1, LPM first", lambda r: parse_policy("k-lpm", k=r - 1)),
    ("k = r, LPM first", lambda r: parse_policy("k-lpm", k=r)),
    ("k = r, FCFS first", lambda r: parse_policy("k-lpm", k=r, cycle_start="fcfs")),
])
def test_other_variants_break_the_bound(name, policy):
    """The conditions are needed: other (k, cycle_start) split user groups even at Delta = 0."""
    found = smallest_counterexample(bounds.KLPM_TIGHT, "batch", policy_for_r=policy, max_n=8, deltas=(0,), min_r=2)
    assert found is not None and found.max_ttft > found.bound
    stream = definition4_stream(found.users, found.u, found.d, 0)
    assert max(evaluate(stream, batch_order(stream, policy(found.r))).ttft) == found.max_ttft


def test_online_view_breaks_the_batch_bound():
    """Online (start at the first arrival), k-LPM can split user groups: exhaustive search at n = 10
    found this order (none for n <= 8 on the grid of the other tests); max TTFT 59 > bound 54."""
    users = (0, 1, 2, 1, 2, 3, 4, 3, 4, 0)
    stream = definition4_stream(users, 6, 2, 1)
    run = simulate(stream, klpm_spec(2), view="online")
    bound = bounds.KLPM_TIGHT.value(**parse_definition4(stream).params())
    assert (run.evaluation.max_ttft, bound) == (59, 54)
    assert run.evaluation.total_reused < (10 - 5) * 6  # a user's prefix was recomputed


def test_checker_passes_klpm_and_fails_broken_schedule():
    stream = regular_arrival_shuffled_queue(n=40, r=4, u=30, d=3, delta=7, seed=5)
    run = simulate(stream, klpm_spec(4), view="fixed")
    assert assert_guarantee(check_run(stream, run)).holds
    order = batch_order(stream, klpm_spec(4))
    assert check_order(stream, order, "batch").holds
    broken = tuple(reversed(order))  # the oldest query served last
    with pytest.raises(GuaranteeViolation, match="breaks the proven k-LPM bound"):
        assert_guarantee(check_order(stream, broken, "batch"))
    with pytest.raises(InputError, match="k = r - 1"):
        check_run(stream, simulate(stream, parse_policy("k-lpm", k=4), view="fixed"))
    with pytest.raises(InputError, match="no proven"):
        check_order(stream, order, "online")


def test_checker_rejects_non_definition4_stream():
    stream = regular_arrival_shuffled_queue(n=4, r=2, u=3, d=3, delta=1, seed=0)
    bad = definition4_stream([0, 0, 1, 1], 3, 3, 1)
    assert parse_definition4(bad).r == 2
    with pytest.raises(InputError, match="r times"):
        definition4_stream([0, 0, 1], 3, 3, 1)
    with pytest.raises(InputError, match="batch view needs start"):
        batch_ttfts(stream, range(4), start=0)


def test_batch_ttfts_recomputed_by_hand():
    """Batch view by hand: users 0,1,0,1, u = d = 5, Delta = 2, s = 6: k-LPM serves 0,2,1,3 ending at
    16, 21, 31, 36; arrivals 0, 4, 2, 6 -> TTFTs 16, 17, 29, 30."""
    stream = definition4_stream([0, 1, 0, 1], 5, 5, 2)
    order = batch_order(stream, klpm_spec(2))
    assert order == (0, 2, 1, 3)
    assert batch_ttfts(stream, order) == (16, 17, 29, 30)


def test_monte_carlo_frequencies_track_proof():
    """Batch view: k-LPM never exceeds its bound; LPM and FCFS lower bounds hold at least as often as
    the proofs' failure bounds promise (up to sampling slack) and more often as n grows."""
    rows = monte_carlo(ns=(16, 96), trials=12, seed=1)
    by = {(row.statement, row.n): row for row in rows}
    for row in rows:
        if row.statement == bounds.KLPM_TIGHT.name:
            assert row.held == row.trials
    big = by[(bounds.LPM_LOWER.name, 96)]
    assert big.frequency >= 1 - float(big.failure_bound) - 0.25
    assert by[(bounds.FCFS_LOWER.name, 96)].frequency >= by[(bounds.FCFS_LOWER.name, 16)].frequency - 0.25


def test_lpm_failure_matches_sympy_and_simulation_uniformity():
    for n_v, e in product((20, 50), ("1/10", "1/5")):
        assert bounds.lpm_failure(n_v, e) == bounds.LPM_LOWER.failure_probability(n=n_v, eps=e)


@pytest.mark.parametrize("view", ["batch", "fixed"])
def test_adversarial_search_never_exceeds_tight_bound(view):
    for seed, (n_v, r_v, delta_v) in enumerate([(12, 2, 2), (12, 3, 5), (16, 4, 1)]):
        result = adversarial_search(n_v, r_v, 6, 2, delta_v, klpm_spec(r_v), view, iterations=60, restarts=1, seed=seed)
        assert result.max_ttft <= result.bound
        assert result.max_ttft == max_ttft(definition4_stream(result.users, 6, 2, delta_v), klpm_spec(r_v), view, seed=seed)


def test_corollary3_regime_confirmed_by_simulation():
    """Inside the region (r = 4, 0 < Delta = 50 < u = 100) k-LPM beats LPM and FCFS on every queue;
    the proof's sample size for eps = delta = 1/10 is finite and the bounds separate there."""
    rows = corollary3_runs(n=200, trials=3)
    assert all(row.klpm_wins and row.klpm <= row.klpm_bound for row in rows)
    size = bounds.corollary3_sample_size(4, 100, 5, 50, "1/10", "1/10")
    p = dict(n=size, r=4, u=100, d=5, Delta=50, s=(size - 1) * 50)
    assert bounds.KLPM_TIGHT.value(**p) < min(bounds.LPM_LOWER.value(**p, eps="1/10"), bounds.FCFS_LOWER.value(**p, eps="1/10"))
    assert bounds.lpm_failure(size, "1/10") + Fraction(3) / (Fraction(1, 10) * size) <= Fraction(1, 10)
    with pytest.raises(InputError, match="outside"):
        corollary3_runs(delta=150)


def test_canonical_sequences_count():
    """Orders up to renaming users: n! / (r!^(n/r) (n/r)!)."""
    from math import factorial
    for n_v, r_v in [(6, 2), (6, 3), (8, 4)]:
        expected = factorial(n_v) // (factorial(r_v) ** (n_v // r_v) * factorial(n_v // r_v))
        assert sum(1 for _ in canonical_user_sequences(n_v, r_v)) == expected


def test_alpha_rescaling_keeps_the_bound():
    """alpha > 0: the bound with the effective (u', d') holds for the fixed view."""
    stream = regular_arrival_shuffled_queue(n=12, r=3, u=4, d=2, delta=3, seed=2)
    u_eff, d_eff = bounds.effective_lengths(4, 2, Fraction(1, 3))
    run = simulate(stream, klpm_spec(3), view="fixed", alpha=Fraction(1, 3))
    bound = bounds.KLPM_TIGHT.value(n=12, r=3, u=u_eff, d=d_eff, Delta=3, s=33)
    assert run.evaluation.max_ttft <= bound


def test_checker_refuses_what_it_would_otherwise_ignore():
    """A run at alpha > 0, B > 1 or under another cache model is not re-checked at alpha = 0 under
    `last`; an order index -1 is not read as the last query; r = 0 is named instead of dividing by
    zero."""
    stream = regular_arrival_shuffled_queue(n=6, r=2, u=3, d=1, delta=1, seed=0)
    with pytest.raises(InputError, match="alpha = 0 and batch size 1, got alpha = 1/3"):
        check_run(stream, simulate(stream, klpm_spec(2), view="fixed", alpha=Fraction(1, 3)))
    with pytest.raises(InputError, match="batch size 2"):
        check_run(stream, simulate(stream, klpm_spec(2), view="fixed", batch_size=2))
    with pytest.raises(InputError, match="one-prompt cache 'last', got a run under cache 'unbounded'"):
        check_run(stream, simulate(stream, klpm_spec(2), view="fixed", cache="unbounded"))
    with pytest.raises(InputError, match="order holds -1"):
        batch_ttfts(stream, [-1, 0, 1, 2, 3, 4])
    with pytest.raises(InputError, match="order holds -1"):
        check_order(stream, [-1, 0, 1, 2, 3, 4], "batch")
    with pytest.raises(InputError, match="r must be >= 1, got 0"):
        list(canonical_user_sequences(4, 0))


def test_parse_definition4_compares_users_by_segment_id():
    """Users 1 and "1" are two segments with no shared prefix (the evaluator reuses nothing between
    them), so they are two users: r = 1, not one user with r = 2."""
    from prefix_sched.theory.stream import Query, Stream
    stream = Stream((Query("a", ((1, 2), ("x", 1)), 0), Query("b", (("1", 2), ("y", 1)), 1)))
    assert evaluate(stream, [0, 1]).total_reused == 0
    model = parse_definition4(stream)
    assert (model.r, model.users) == (1, (1, "1"))
    with pytest.raises(InputError, match="must be a Stream, got list"):
        parse_definition4([])
