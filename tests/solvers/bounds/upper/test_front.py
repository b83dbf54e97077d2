"""The upper bound's front door (solvers/bounds/upper/front.py): never below the exact optimum (brute
force over every order, scored by the Definition 2 evaluator) nor above any policy it ran."""

from __future__ import annotations

from itertools import permutations

from prefix_sched.solvers.bounds.upper import default_policies, upper_bound
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue


def test_upper_bound_sits_between_the_optimum_and_the_policies():
    for seed in range(4):
        s = regular_arrival_shuffled_queue(n=6, r=2, u=8, d=2, delta=3, seed=seed)
        ub = upper_bound(s, time_limit=10)
        optimum = min(evaluate(s, order).max_ttft for order in permutations(range(s.n)))
        policies = [simulate(s, spec).evaluation.max_ttft for spec in default_policies()]
        assert optimum <= ub.value <= min(policies)
        assert evaluate(s, ub.evaluation.order) == ub.evaluation
