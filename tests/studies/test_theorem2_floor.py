"""The exact optimum as a floor under every policy on small Definition 4 queues (Theorem 2's third check).

For each queue the least max TTFT over all orders (proved OPTIMAL by the DP and, independently,
by CP-SAT) is at most what FCFS, LPM (both tie rules) and every k-LPM variant achieve, in the online
and the fixed-order view; and the corrected k-LPM bound is never below the optimum (a bound below the
optimum would be violated by every order, so it would be false).
"""

from __future__ import annotations

import pytest

from prefix_sched.solvers.exact import minimize_max_ttft
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.theorem2.definition4 import parse_definition4

POLICIES = [parse_policy("fcfs"), parse_policy("lpm"), parse_policy("lpm", tie_break="random")] + [
    parse_policy("k-lpm", k=k, cycle_start=start) for k in (1, 2, 3) for start in ("lpm", "fcfs")]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("delta", [0, 3, 12])
def test_optimum_is_a_floor_under_every_policy(seed, delta):
    stream = regular_arrival_shuffled_queue(n=8, r=2, u=6, d=2, delta=delta, seed=seed)
    by_dp = minimize_max_ttft(stream, solver="dp")
    by_cpsat = minimize_max_ttft(stream, solver="cpsat")
    assert by_dp.status == by_cpsat.status == "OPTIMAL" and by_dp.objective == by_cpsat.objective
    optimum = by_dp.objective
    for policy in POLICIES:
        for view in ("online", "fixed"):
            assert simulate(stream, policy, view=view, seed=seed).evaluation.max_ttft >= optimum
    model = parse_definition4(stream)  # the fixed view's bound uses s = (n - 1) Delta
    assert bounds.KLPM_TIGHT.value(**model.params((model.n - 1) * model.delta)) >= optimum
