"""``lof``: a stream without output lengths is refused (its index against the naive rescan:
test_registry.py)."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.generators import poisson_prefix_tree


def test_lof_refuses_a_stream_without_output_lengths():
    stream = poisson_prefix_tree(groups=2, group_size=2, prefix_len=5, suffix_len=5, rate="1/5", seed=0)
    with pytest.raises(InputError, match="policy 'lof' needs output lengths, but query 'q0' has none"):
        simulate(stream, parse_policy("lof"))
