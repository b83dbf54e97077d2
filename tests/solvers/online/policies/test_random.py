"""``random``: seeded draws (its index against the naive rescan: test_registry.py)."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue


def test_random_is_seeded_and_draws_the_jth_oldest():
    stream = regular_arrival_shuffled_queue(n=60, r=4, u=20, d=5, delta=1, seed=2)
    spec = parse_policy("random")
    assert simulate(stream, spec, seed=4).order == simulate(stream, spec, seed=4).order
    assert simulate(stream, spec, seed=4).order != simulate(stream, spec, seed=5).order
    with pytest.raises(InputError, match="needs a seed"):
        simulate(stream, spec)
