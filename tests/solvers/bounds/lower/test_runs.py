"""The runs lemma (solvers/bounds/lower/runs.py) by hand and against proven optima.

``least_max_ttft`` is the reference: the least max TTFT over every order, each scored by the
Definition 2 evaluator. Hand-worked examples are in the test docstrings.
"""

from __future__ import annotations

from itertools import permutations

import pytest

from prefix_sched.solvers.bounds.lower import lower_bound, runs_demand
from prefix_sched.solvers.exact import minimize_max_ttft
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream


def least_max_ttft(stream: Stream, alpha=0):
    """The least max TTFT over all orders (Definition 2), by brute force."""
    return min(evaluate(stream, order, alpha=alpha).max_ttft for order in permutations(range(stream.n)))


def test_runs_demand_by_hand():
    """The runs lemma: a = (u:10)(x:1) at 0, b = (u:10)(y:1) at 30 (alpha = 0, depth 1, one group).

    At T = 5 one run would idle through (0 + 5, 30), 25 > its work 12, and two runs cost
    11 + 11 = 22: demand 22. At T = 30 one run idles 0: demand 12. T* = 11 (each query alone on
    an idle server), which the window [0, 0] certifies; the runs bound adds nothing here.
    """
    s = Stream.from_records([("a", (("u", 10), ("x", 1)), 0), ("b", (("u", 10), ("y", 1)), 30)])
    assert runs_demand(s, 0, 30, 1, 5) == 22
    assert runs_demand(s, 0, 30, 1, 30) == 12
    lb = lower_bound(s)
    assert lb.value == 11 == least_max_ttft(s)
    assert lb.source == "window"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runs_bound_on_definition4_stays_below_the_proven_optimum(seed):
    """Definition 4, n = 40, r = 4, u = 100, d = 5, Delta = 50: the runs bound beats the window
    bound here, stays below T* (proven by the exact DP), and its certificate recomputes."""
    s = regular_arrival_shuffled_queue(n=40, r=4, u=100, d=5, delta=50, seed=seed)
    lb = lower_bound(s)
    exact = minimize_max_ttft(s, solver="dp", time_limit=60)
    assert getattr(exact.status, "value", exact.status) == "OPTIMAL"
    assert lb.source == "runs" and lb.window.value < lb.value <= exact.objective
    runs = lb.runs
    demand = runs_demand(s, runs.first_arrival, runs.last_arrival, runs.depth, runs.below)
    assert demand == runs.demand_below > runs.room_below == runs.last_arrival - runs.first_arrival + runs.below
    assert runs_demand(s, runs.first_arrival, runs.last_arrival, runs.depth, runs.value) <= (
        runs.last_arrival - runs.first_arrival + runs.value)
