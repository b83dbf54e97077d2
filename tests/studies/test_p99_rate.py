"""P99 against rate: one row per (rate, k, seed), each P99 the evaluator's; the spread over seeds."""

from __future__ import annotations

from fractions import Fraction
from statistics import median

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.p99_rate import p99_vs_rate, rate_of, spread
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import poisson_prefix_tree


def test_rows_are_runs_and_the_spread_is_over_seeds():
    rows = p99_vs_rate(["1/1500", "1/700"], ks=(1, "inf"), groups=4, prefix_len=300, suffix_len=10, seeds=(0, 1, 2))
    assert len(rows) == 2 * 2 * 3
    for row in rows:
        stream = poisson_prefix_tree(4, 4, 300, 10, rate_of(row), seed=row.seed)
        k = 1 if row.policy == "k-lpm(k=1)" else "inf"
        order = simulate(stream, parse_policy("k-lpm", k=k, tie_break="random"), seed=row.seed).order
        assert row.p99 == evaluate(stream, order).percentile(99)
        assert (row.stream, row.load, row.cache, row.max) == ("poisson", None, "last", None)
    spreads = spread(rows)
    assert list(spreads) == [(Fraction(1, 1500), "k-lpm(k=1)"), (Fraction(1, 1500), "k-lpm(k=inf)"),
                             (Fraction(1, 700), "k-lpm(k=1)"), (Fraction(1, 700), "k-lpm(k=inf)")]
    for (rate, policy), (low, mid, high) in spreads.items():
        values = [float(r.p99) for r in rows if rate_of(r) == rate and r.policy == policy]
        assert (low, mid, high) == (min(values), median(values), max(values))
