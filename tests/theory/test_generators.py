"""The seeded generators produce the structure their definitions promise."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from prefix_sched.errors import InputError
from prefix_sched.theory.generators import poisson_prefix_tree, regular_arrival_shuffled_queue
from prefix_sched.theory.prompt import overlap


def test_definition_4_structure():
    stream = regular_arrival_shuffled_queue(n=60, r=3, u=7, d=2, delta="3/2", seed=11)
    users = Counter(q.prompt[0] for q in stream.queries)
    docs = Counter(q.prompt[1] for q in stream.queries)
    assert len(users) == 20 and set(users.values()) == {3}
    assert len(docs) == 60 and set(docs.values()) == {1}
    assert [q.arrival for q in stream.queries] == [i * Fraction(3, 2) for i in range(60)]
    assert all(q.prompt[0][1] == 7 and q.prompt[1][1] == 2 for q in stream.queries)
    same_user = [overlap(a.prompt, b.prompt) for a in stream.queries for b in stream.queries
                 if a is not b and a.prompt[0] == b.prompt[0]]
    assert set(same_user) == {7}


def test_definition_4_order_is_a_uniform_permutation():
    """Position of user u0's first query over many seeds: roughly uniform (chi-square, loose)."""
    firsts = []
    for seed in range(400):
        stream = regular_arrival_shuffled_queue(n=8, r=2, u=1, d=1, delta=0, seed=seed)
        firsts.append(next(i for i, q in enumerate(stream.queries) if q.prompt[1][0] == "d0"))
    counts = np.bincount(firsts, minlength=8)
    expected = 400 / 8
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 24.3  # 99.9% quantile of chi-square with 7 degrees of freedom


def test_poisson_structure_and_rate():
    stream = poisson_prefix_tree(groups=50, group_size=4, prefix_len=300, suffix_len=10, rate="1/100",
                                 seed=2, base_len=20)
    arrivals = [q.arrival for q in stream.queries]
    assert arrivals == sorted(arrivals) and arrivals[0] == 0
    assert all(isinstance(t, int) for t in arrivals)
    mean_gap = arrivals[-1] / (stream.n - 1)
    assert 80 < mean_gap < 120
    groups = Counter(q.prompt[1] for q in stream.queries)
    assert len(groups) == 50 and set(groups.values()) == {4}
    assert all(q.prompt[0] == ("base", 20) for q in stream.queries)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=10, r=4, u=1, d=1, delta=0), "r must divide n"),
    (dict(n=0, r=1, u=1, d=1, delta=0), "n must be >= 1"),
    (dict(n=4, r=2, u=1, d=1, delta=-1), "Delta must be >= 0"),
    (dict(n=4, r=2, u=1, d=1, delta=0, seed=-3), "seed must be >= 0"),
    (dict(n=4, r=2, u=1.5, d=1, delta=0), "u must be an integer"),
])
def test_definition_4_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        regular_arrival_shuffled_queue(**kwargs)
