"""Why each part of the construction is there: change one part and the exact DP breaks the equivalence.

Each change is checked on yes- and no-instances for m = 2 and 3 (several seeds). A FEASIBLE answer
comes with the DP's order, re-checked by the evaluator; an INFEASIBLE one is the DP's exhaustive proof.
"""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.reductions.construction import Change, construct, construct_changed
from prefix_sched.reductions.three_partition import certified_no, planted_yes
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.evaluator import evaluate

INSTANCES = [(kind, m, seed) for kind in ("yes", "no") for m in (2, 3) for seed in range(2)]


def ttft_feasible(construction):
    result = feasible_endings(construction.stream, construction.ttft)
    assert result.status in ("FEASIBLE", "INFEASIBLE")
    if result.status == "FEASIBLE":
        assert evaluate(construction.stream, result.best_order()).max_ttft <= construction.ttft
    return result.status == "FEASIBLE"


def instance(kind, m, seed):
    return planted_yes(m, seed=seed) if kind == "yes" else certified_no(m, seed=seed)


@pytest.mark.parametrize(("kind", "m", "seed"), INSTANCES)
def test_the_reduction_proper_is_exact_on_these_instances(kind, m, seed):
    assert ttft_feasible(construct(instance(kind, m, seed))) == (kind == "yes")


@pytest.mark.parametrize(("kind", "m", "seed"), [c for c in INSTANCES if c[0] == "yes"])
@pytest.mark.parametrize("change", [Change.TTFT_ONE_LESS, Change.Y_DIFFERS])
def test_t_one_less_or_y_not_identical_makes_yes_instances_infeasible(change, kind, m, seed):
    """T - 1: the last group cannot end by the A deadline; y_j != x_j: the window is mL too short."""
    changed = construct_changed(instance(kind, m, seed), change)
    assert not ttft_feasible(changed)


@pytest.mark.parametrize(("kind", "m", "seed"), [c for c in INSTANCES if c[0] == "no"])
@pytest.mark.parametrize("change", [Change.NO_S, Change.NO_E])
def test_without_s_or_e_no_instances_become_feasible(change, kind, m, seed):
    """No s: x_1 runs before T and y_1 is paid for inside the window, so the gaps need not be B.
    No e: the Y queries are paid for after the window, and nothing forces the gaps."""
    changed = construct_changed(instance(kind, m, seed), change)
    assert ttft_feasible(changed)


def test_unknown_change_is_refused():
    with pytest.raises(InputError, match="unknown change 'no-x'"):
        construct_changed(planted_yes(2), "no-x")
