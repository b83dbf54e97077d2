"""Generated arrivals (Poisson, the seed's truncated exponential) and exact rescaling to a rate."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.theory.serving.arrivals import generate_arrivals, rescale_to_rate


def test_seeded_and_reproducible():
    a = generate_arrivals(500, 2, "poisson", np.random.default_rng(3))
    assert a == generate_arrivals(500, 2, "poisson", np.random.default_rng(3))
    assert a != generate_arrivals(500, 2, "poisson", np.random.default_rng(4))
    assert all(type(x) is int for x in a)


def test_poisson_and_truncated_rates():
    n = 40_000
    poisson = np.array(generate_arrivals(n, 1.6, "poisson", np.random.default_rng(0)))
    truncated = np.array(generate_arrivals(n, 1.6, "truncated-exp", np.random.default_rng(0)))
    rate_p = n / (poisson[-1] / 1e6)
    rate_t = n / (truncated[-1] / 1e6)
    assert abs(rate_p / 1.6 - 1) < 0.02
    # E[min(Exp(l), 3/l)] = (1 - e^-3) / l: the realised rate is 1 / (1 - e^-3) = 1.0524 times l
    assert abs(rate_t / 1.6 - 1 / (1 - np.exp(-3))) < 0.02
    gaps = np.diff(np.concatenate([[0], truncated]))
    assert gaps.max() <= 3 / 1.6 * 1e6 + 1  # each gap capped at three means (rounding: 1 us)
    assert gaps.min() >= 0 and truncated[0] > 0


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.fractions(0, 10**6, max_denominator=10**4), min_size=2, max_size=30),
       rate=st.fractions(Fraction(1, 100), 50, max_denominator=100))
def test_rescaling_is_exact_and_keeps_order(times, rate):
    if min(times) == max(times):
        with pytest.raises(InputError):
            rescale_to_rate(times, rate)
        return
    out = rescale_to_rate(times, rate)
    order = sorted(range(len(times)), key=lambda i: times[i])
    assert all(out[order[k]] <= out[order[k + 1]] for k in range(len(order) - 1))
    span = Fraction(len(times) - 1) / rate * 10**6
    first, last = min(times), max(times)
    for t, o in zip(times, out):
        exact = (t - first) / (last - first) * span
        assert abs(o - exact) <= Fraction(1, 2)
    assert out[order[0]] == 0


def test_rescaling_by_hand():
    assert rescale_to_rate([0, 10, 30, 40], 1) == (0, 750_000, 2_250_000, 3_000_000)
    assert rescale_to_rate([5, 5, 6], 2) == (0, 0, 1_000_000)


@pytest.mark.parametrize("rate", [0, -1, "nan", "inf", "x"])
def test_bad_rates(rate):
    with pytest.raises(InputError):
        generate_arrivals(3, rate, "poisson", np.random.default_rng(0))
    with pytest.raises(InputError):
        rescale_to_rate([0, 1], rate)


def test_bad_process_and_counts():
    with pytest.raises(InputError, match="unknown arrival process 'gamma'"):
        generate_arrivals(3, 1, "gamma", np.random.default_rng(0))
    with pytest.raises(InputError):
        generate_arrivals(0, 1, "poisson", np.random.default_rng(0))
    with pytest.raises(InputError, match="at least two"):
        rescale_to_rate([1], 1)
