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


# --- issue 20: sizes and rates refused before anything is allocated --------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from prefix_sched.cli import main  # noqa: E402
from prefix_sched.theory import generators  # noqa: E402
from prefix_sched.theory.generators import check_size, memory_bytes, shared_prefix  # noqa: E402
from prefix_sched.theory.serving import generators as serving_generators  # noqa: E402
from prefix_sched.theory.serving.arrivals import generate_arrivals  # noqa: E402

GENERATORS = {
    "def4": lambda n, rate: regular_arrival_shuffled_queue(n=n, r=1, u=3, d=2, delta=1, seed=0),
    "poisson": lambda n, rate: poisson_prefix_tree(groups=n, group_size=1, prefix_len=3, suffix_len=2, rate=rate),
    "shared-prefix": lambda n, rate: shared_prefix(groups=n, prompts_per_group=1, system_prompt_len=3, question_len=2,
                                                   rate=rate),
    "serving shared-prefix": lambda n, rate: serving_generators.shared_prefix_workload(
        groups=n, prompts_per_group=1, system_prompt_len=3, question_len=2, output_len=2, rate=rate),
}


@pytest.fixture
def no_allocation(monkeypatch):
    """Making numpy's generator fails the test (so nothing was drawn or allocated for the stream)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the generator made its random generator (to draw) before refusing the size")
    monkeypatch.setattr(np.random, "default_rng", refuse)


@pytest.mark.parametrize("kind", GENERATORS)
def test_a_size_that_cannot_fit_in_memory_is_refused_before_allocating(kind, no_allocation):
    with pytest.raises(InputError, match="1000000000000: that many queries need about .* of memory"):
        GENERATORS[kind](10 ** 12, 1)


def test_the_cli_refuses_a_billion_groups_in_one_line(capsys):
    assert main(["generate", "shared-prefix", "--groups", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "16000000000: that many queries need about" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["poisson", "shared-prefix", "serving shared-prefix"])
@pytest.mark.parametrize("rate, shown", [("1e-300", "rate 1e-300"), ("1e-400", "rate 1e-400"),
                                         (Fraction(1, 10 ** 200), "rate 1e-200")])
def test_a_rate_so_small_that_arrivals_overflow_is_refused_naming_the_rate(kind, rate, shown):
    with pytest.raises(InputError) as err:
        GENERATORS[kind](200, rate)
    assert shown in str(err.value) and "-9223372036854775808" not in str(err.value)


def test_serving_arrivals_refuse_rates_whose_times_overflow():
    with pytest.raises(InputError, match="rate 1e-320: its mean gap"):
        generate_arrivals(10, "1e-320", "poisson", np.random.default_rng(0))
    with pytest.raises(InputError, match="rate 1e-300: the arrival times of 10 requests reach"):
        generate_arrivals(10, "1e-300", "poisson", np.random.default_rng(0))
    with pytest.raises(InputError, match="rate 1/1000000000000: the arrival times of 1000 requests reach"):
        generate_arrivals(1000, "1e-12", "poisson", np.random.default_rng(0))


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(GENERATORS)), n=st.one_of(st.integers(1, 40), st.integers(10 ** 9, 10 ** 30)),
       exponent=st.integers(-330, 330), mantissa=st.integers(1, 9))
def test_generators_return_a_stream_or_refuse_naming_the_value(kind, n, exponent, mantissa):
    """Property: any size and any rate give a stream whose arrivals are valid, or an InputError that
    names the size or the rate; never a numpy error, an overflow or a negative arrival."""
    rate = f"{mantissa}e{exponent}"
    try:
        stream = GENERATORS[kind](n, rate)
    except InputError as err:
        assert str(n) in str(err) or f"rate {mantissa}e{exponent}" in str(err) or "rate " in str(err), str(err)
        return
    arrivals = [q.arrival_us for q in stream.requests] if kind.startswith("serving") else \
        [q.arrival for q in stream.queries]
    assert len(arrivals) == n and min(arrivals) >= 0 and all(a <= b for a, b in zip(arrivals, arrivals[1:]))


def test_check_size_compares_with_this_machines_memory():
    limit = memory_bytes() // generators.BYTES_PER_QUERY
    check_size(limit, "n")
    with pytest.raises(InputError, match=f"n = {limit + 1}"):
        check_size(limit + 1, "n")
