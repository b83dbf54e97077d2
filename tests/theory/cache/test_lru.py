"""The ``lru:TOKENS`` model: prompts longer than the capacity refused, the inclusions between the
models for a fixed order, and a capacity that reuses less than a smaller one (tree against the
token-level reference: test_radix.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.theory.cache import LastPromptCache, LruCache, RadixCache, UnboundedCache, parse_cache
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import expand_tokens
from prefix_sched.theory.stream import Stream

from references import TokenTrie
from strategies import streams


def _tokens(prompt):
    return [(token, 1) for token in expand_tokens(prompt)]


def test_a_prompt_longer_than_the_capacity_is_refused():
    with pytest.raises(InputError, match="a prompt of 5 tokens does not fit the cache capacity of 4 tokens"):
        RadixCache(4).new_state().serve((("a", 5),))
    stream = Stream.from_records([("q0", (("u", 3),), 0), ("q1", (("u", 3), ("d", 2)), 1)])
    message = "query 'q1' has 5 tokens, more than the cache capacity of 4 tokens \\(lru:4\\)"
    with pytest.raises(InputError, match=message):
        evaluate(stream, [0, 1], cache="lru:4")
    assert evaluate(stream, [0, 1], cache="lru:5").reused == (0, 3)


@settings(max_examples=200, deadline=None)
@given(stream=streams(max_n=10), extra=st.integers(0, 8), data=st.data())
def test_for_a_fixed_order_last_le_lru_le_unbounded_position_by_position(stream, extra, data):
    """For one order, per position: ``last <= lru:C <= unbounded`` for every ``C >= max |p|``.

    Proof: after serving ``p_{i-1}`` the LRU tree holds all of ``p_{i-1}`` (it was just inserted,
    and nothing is evicted between queries), so its reuse of ``p_i`` is at least ``ov(p_i,
    p_{i-1})``; and every token prefix an LRU tree holds is a prefix of a prompt served before,
    which the unbounded tree holds. (Not true of a policy's decisions, which differ by model.)"""
    order = data.draw(st.permutations(range(stream.n)))
    prompts = [stream.queries[i].prompt for i in order]
    last = LastPromptCache().reuse_along(prompts)
    lru = RadixCache(max(stream.lengths) + extra).reuse_along(prompts)
    unbounded = RadixCache(None).reuse_along(prompts)
    assert all(a <= b <= c for a, b, c in zip(last, lru, unbounded))


def test_lru_reuse_is_not_monotone_in_the_capacity():
    """A finding, worked by hand: one more token of capacity can lower the reuse of a fixed order.

    Prompts A = s0 s0 s1 s2 (1+1+2+3 = 7 tokens), B = s3 s5 (1+4), C = s1 s0 s0 s0 (2+1+1+1),
    D = s3 s0, E = s1. With capacity 9: A; B evicts A; C evicts B; D fits; E reuses s1 from C:
    total 2. With capacity 10: A; B evicts A; C fits (10 tokens); D matches s3 inside B, which is
    split (s5 keeps D's match time, the newest), so the oldest leaf is C: C is evicted, and E
    reuses nothing; D reused 1: total 1. (SGLang's rule that the lower piece of a split takes the
    new time is what makes the larger cache evict C.)"""
    prompts = [(("s0", 1), ("s0", 1), ("s1", 2), ("s2", 3)), (("s3", 1), ("s5", 4)),
               (("s1", 2), ("s0", 1), ("s0", 1), ("s0", 1)), (("s3", 1), ("s0", 1)), (("s1", 2),)]
    assert RadixCache(9).reuse_along(prompts) == [0, 0, 0, 0, 2]
    assert RadixCache(10).reuse_along(prompts) == [0, 0, 0, 1, 0]
    for capacity in (9, 10):
        reference = TokenTrie(capacity)
        assert [reference.serve(_tokens(p)) for p in prompts] == RadixCache(capacity).reuse_along(prompts)


def test_the_model_is_its_spec_and_its_capacity():
    assert parse_cache("lru:7") == LruCache(7) == RadixCache(7) and LruCache(7).token_capacity() == 7
    assert LruCache(7).new_state().capacity == 7 and not LruCache(7).is_last_prompt
    assert RadixCache(None) == UnboundedCache() and LastPromptCache().token_capacity() is None
