"""The Definition 2 evaluator against hand-worked examples and a token-level recomputation."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import HEAD300
from prefix_sched.errors import InputError
from prefix_sched.theory.cache import LastPromptCache
from prefix_sched.theory.evaluator import evaluate, percentile
from prefix_sched.theory.cost import scaled_cost_matrix
from prefix_sched.theory.prompt import expand_tokens
from prefix_sched.theory.formats import read_mooncake

from strategies import prompts, streams, toy_stream
from references import TokenTrie


def test_toy_example_fcfs_and_lpm():
    """Section 4.2 worked by hand: alpha = 0, u = d = 5, all arrive at 0.

    FCFS serves u1d1, u2d3, u1d2, u2d4: nothing is reused, each costs 10: TTFTs 10, 20, 30, 40.
    LPM serves u1d1, u1d2, u2d3, u2d4: u1d2 and u2d4 reuse 5 tokens: TTFTs 10, 15, 25, 30.
    """
    stream = toy_stream()
    assert evaluate(stream, [0, 1, 2, 3]).ttft == (10, 20, 30, 40)
    assert evaluate(stream, [0, 2, 1, 3]).ttft == (10, 15, 25, 30)
    assert evaluate(stream, [0, 2, 1, 3]).reused == (0, 5, 0, 5)


def test_toy_example_large_delta():
    """With Delta = 10 each query arrives as the previous one finishes: FCFS gives 10 for each."""
    assert evaluate(toy_stream(delta=10), [0, 1, 2, 3]).ttft == (10, 10, 10, 10)
    assert evaluate(toy_stream(delta=25), [0, 1, 2, 3]).ttft == (10, 10, 10, 10)


def _token_level(stream, order, alpha, batch_size):
    """Definition 2 recomputed from the token expansion, with Fractions and no shared code."""
    clock, previous, completions = Fraction(0), [], []
    for index in order:
        query = stream.queries[index]
        tokens = expand_tokens(query.prompt)
        shared = 0
        while shared < min(len(tokens), len(previous)) and tokens[shared] == previous[shared]:
            shared += 1
        cost = (len(tokens) - shared) + alpha * (len(tokens) ** 2 - shared**2)
        clock = max(clock, Fraction(query.arrival)) + cost
        completions.append(clock)
        previous = tokens
    for first in range(0, len(order), batch_size):
        last = min(first + batch_size, len(order)) - 1
        for position in range(first, last + 1):
            completions[position] = completions[last]
    return [c - stream.queries[i].arrival for c, i in zip(completions, order)]


@settings(max_examples=300, deadline=None)
@given(
    stream=streams(fractional=True),
    alpha=st.sampled_from([0, Fraction(1, 3), Fraction(1, 100), 2]),
    batch_size=st.integers(1, 3),
    data=st.data(),
)
def test_evaluator_matches_token_level_recomputation(stream, alpha, batch_size, data):
    order = data.draw(st.permutations(range(stream.n)))
    evaluation = evaluate(stream, order, alpha=alpha, batch_size=batch_size)
    assert list(evaluation.ttft) == _token_level(stream, order, alpha, batch_size)
    assert all(isinstance(x, (int, Fraction)) for x in evaluation.ttft)


@settings(max_examples=200, deadline=None)
@given(stream=streams(max_n=9), initial=st.one_of(st.just(()), prompts()),
       alpha=st.sampled_from([0, Fraction(1, 3), 2]), scale=st.sampled_from([1, 3, 12]))
def test_scaled_cost_matrix_is_the_pairwise_token_cost(stream, initial, alpha, scale):
    """Every entry against the token-level longest common prefix, recomputed from the tokens."""
    listed = [q.prompt for q in stream.queries]
    scale *= Fraction(alpha).denominator  # the callers' timebase makes alpha * scale an integer
    matrix = scaled_cost_matrix(listed, initial, scale, int(alpha * scale))
    for i, previous in enumerate(listed + [initial]):
        before = expand_tokens(previous)
        for j, prompt in enumerate(listed):
            tokens = expand_tokens(prompt)
            shared = next((k for k, (a, b) in enumerate(zip(tokens, before)) if a != b), min(len(tokens), len(before)))
            cost = (len(tokens) - shared) + alpha * (len(tokens) ** 2 - shared ** 2)
            assert matrix[i][j] == cost * scale


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 1000), min_size=1, max_size=30), q=st.integers(0, 100))
def test_percentile_matches_numpy(values, q):
    for method in ("linear", "inverted_cdf"):
        expected = np.percentile(np.array(values, dtype=float), q, method=method)
        assert float(percentile(values, q, method)) == pytest.approx(expected, abs=1e-9)


def test_percentile_inverted_cdf_counts_violations():
    """(1 - eps) percentile <= T iff at most floor(eps n) values exceed T (nearest rank)."""
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 90, "inverted_cdf") == 9
    assert percentile(values, 80, "inverted_cdf") == 8


@pytest.mark.parametrize("order, message", [
    ([0, 1, 2], "has 3 of 4 queries"),
    ([0, 1, 2, 2], "appears twice"),
    ([0, 1, 2, 7], "not a query index"),
    ([0, 1, 2, True], "not a query index"),
])
def test_bad_orders_are_named(order, message):
    with pytest.raises(InputError, match=message):
        evaluate(toy_stream(), order)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -1}, "alpha must be >= 0"),
    ({"alpha": float("nan")}, "alpha must be finite"),
    ({"alpha": "x"}, "alpha must be a number"),
    ({"batch_size": 0}, "batch size B must be >= 1"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        evaluate(toy_stream(), [0, 1, 2, 3], **kwargs)


# --- cache models -------------------------------------------------------------------------------

TRACE = HEAD300


@settings(max_examples=200, deadline=None)
@given(stream=streams(fractional=True), alpha=st.sampled_from([0, Fraction(1, 3), 2]),
       batch_size=st.integers(1, 3), data=st.data())
def test_last_through_the_cache_object_is_definition_2(stream, alpha, batch_size, data):
    """``cache="last"`` (spec or object) is bit-identical to the default and to the token-level
    recomputation of Definition 2, and the evaluation records its cache."""
    order = data.draw(st.permutations(range(stream.n)))
    default = evaluate(stream, order, alpha=alpha, batch_size=batch_size)
    for cache in ("last", LastPromptCache()):
        assert evaluate(stream, order, alpha=alpha, batch_size=batch_size, cache=cache) == default
    assert default.cache == "last"
    assert list(default.ttft) == _token_level(stream, order, alpha, batch_size)


def test_last_on_the_mooncake_excerpt_is_definition_2():
    stream = read_mooncake(TRACE, tokens_per_ms=20)
    for order in (list(stream.arrival_order), np.random.default_rng(5).permutation(stream.n).tolist()):
        evaluation = evaluate(stream, order, alpha=Fraction(1, 10 ** 5), cache="last")
        assert list(evaluation.ttft) == _token_level(stream, order, Fraction(1, 10 ** 5), 1)


@settings(max_examples=200, deadline=None)
@given(stream=streams(fractional=True), alpha=st.sampled_from([0, Fraction(1, 3)]),
       batch_size=st.integers(1, 3), extra=st.integers(0, 6), unbounded=st.booleans(), data=st.data())
def test_radix_caches_give_definition_2_costs_with_the_reference_reuse(
    stream, alpha, batch_size, extra, unbounded, data
):
    """Under ``lru``/``unbounded`` the times are Definition 2's formula with the reuse of the
    token-level reference cache of test_cache.py, recomputed here with Fractions."""
    order = data.draw(st.permutations(range(stream.n)))
    capacity = None if unbounded else max(stream.lengths) + extra
    cache = "unbounded" if unbounded else f"lru:{capacity}"
    evaluation = evaluate(stream, order, alpha=alpha, batch_size=batch_size, cache=cache)
    reference = TokenTrie(capacity)
    clock, completions, reused = Fraction(0), [], []
    for index in order:
        query = stream.queries[index]
        tokens = expand_tokens(query.prompt)
        shared = reference.serve([(token, 1) for token in tokens])
        clock = max(clock, Fraction(query.arrival)) + (len(tokens) - shared) + alpha * (len(tokens) ** 2 - shared ** 2)
        completions.append(clock)
        reused.append(shared)
    for first in range(0, len(order), batch_size):
        last = min(first + batch_size, len(order)) - 1
        completions[first:last + 1] = [completions[last]] * (last + 1 - first)
    assert list(evaluation.reused) == reused and evaluation.cache == cache
    assert list(evaluation.ttft) == [c - stream.queries[i].arrival for c, i in zip(completions, order)]


def test_bad_cache_parameters_are_named():
    with pytest.raises(InputError, match="unknown cache model 'lru-5'"):
        evaluate(toy_stream(), [0, 1, 2, 3], cache="lru-5")
    with pytest.raises(InputError, match="query 'u1d1' has 10 tokens, more than the cache capacity of 5 tokens"):
        evaluate(toy_stream(), [0, 1, 2, 3], cache="lru:5")
