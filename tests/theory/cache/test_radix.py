"""The radix tree of ``lru:TOKENS`` and ``unbounded`` against a token-level reference, the capacity
edges, locking, splits and snapshots (the parse point: test_parse.py; the models' inclusions:
test_lru.py).

The reference (:class:`TokenTrie`) is an uncompressed trie with one trie node per *unit* (a token,
or for the Mooncake excerpt a whole 512-token block with its weight) and explicit per-unit
timestamps, applying SGLang's rules unit by unit. A compressed radix node is not stored: it is
derived from a per-unit flag "a node starts here", set on the first unit of every insertion and on
the first unit after a match that ends inside a node (the split); a node is a flagged unit with the
unflagged units that follow it in a single chain. So the reference checks, after every query,
against the compressed tree: the reuse, every node's path, start and last-access time, and the
cached size; and it checks two claims of the module's docstring as it goes: all units of a node
carry one timestamp, and the oldest unlocked leaf is unique whenever something must be evicted.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import HEAD300
from prefix_sched.theory.cache import RadixCache
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import expand_tokens
from prefix_sched.theory.formats import read_mooncake

from references import TokenTrie

TRACE = HEAD300


def _tokens(prompt):
    return [(token, 1) for token in expand_tokens(prompt)]


def _described_tokens(state):
    return {(tuple(expand_tokens(path)), start, time) for path, start, time in state.nodes()}


# Prompts where one segment id takes several lengths ("a", 3) is a prefix of ("a", 5), so that
# matches and splits fall inside segments; each new prompt often extends a token prefix of an
# earlier one, so that matches are long and end anywhere.
SEGMENT = st.tuples(st.sampled_from("abc"), st.integers(1, 4))


@st.composite
def prompt_sequences(draw, max_prompts=12):
    sequence = []
    for _ in range(draw(st.integers(1, max_prompts))):
        base = ()
        if sequence and draw(st.booleans()):
            earlier = draw(st.sampled_from(sequence))
            cut = draw(st.integers(0, sum(length for _, length in earlier)))
            depth, kept = 0, []
            for sid, length in earlier:
                if depth >= cut:
                    break
                kept.append((sid, min(length, cut - depth)))
                depth += length
            base = tuple(kept)
        tail = tuple(draw(st.lists(SEGMENT, min_size=0 if base else 1, max_size=3)))
        sequence.append(base + tail)
    return sequence


@settings(max_examples=400, deadline=None)
@given(sequence=prompt_sequences(), extra=st.integers(0, 12), unbounded=st.booleans())
def test_radix_cache_follows_the_token_level_reference(sequence, extra, unbounded):
    longest = max(sum(length for _, length in prompt) for prompt in sequence)
    capacity = None if unbounded else longest + extra
    state, reference = RadixCache(capacity).new_state(), TokenTrie(capacity)
    for prompt in sequence:
        expected_reuse = reference.serve(_tokens(prompt))
        assert state.reuse(prompt) == expected_reuse
        assert state.serve(prompt) == expected_reuse
        assert _described_tokens(state) == reference.described()
        assert state.size == reference.size
        assert capacity is None or state.size <= capacity


@settings(max_examples=150, deadline=None)
@given(sequence=prompt_sequences(max_prompts=10), unbounded=st.booleans())
def test_capacity_of_the_longest_prompt_and_of_one_token(sequence, unbounded):
    """``|p| == capacity`` for the longest prompt; and capacity 1 on one-token prompts."""
    longest = max(sum(length for _, length in prompt) for prompt in sequence)
    for capacity, prompts in ((longest, sequence), (1, [_prefix_token(p) for p in sequence])):
        state, reference = RadixCache(capacity).new_state(), TokenTrie(capacity)
        for prompt in prompts:
            assert state.serve(prompt) == reference.serve(_tokens(prompt))
            assert _described_tokens(state) == reference.described()


def _prefix_token(prompt):
    return ((prompt[0][0], 1),)


@settings(max_examples=200, deadline=None)
@given(sequence=prompt_sequences(), extra=st.integers(0, 6))
def test_locking_never_binds_when_queries_are_served_one_at_a_time(sequence, extra):
    """The reference with and without step 2 (locking) evolves identically: the matched path was
    just stamped ``2i - 1``, newer than every other leaf but the split's lower piece (its child),
    so it would be the last candidate, and by then ``C - m >= |p| - m`` tokens are free."""
    capacity = max(sum(length for _, length in prompt) for prompt in sequence) + extra
    locked, unlocked = TokenTrie(capacity), TokenTrie(capacity, lock=False)
    for prompt in sequence:
        assert locked.serve(_tokens(prompt)) == unlocked.serve(_tokens(prompt))
        assert locked.described() == unlocked.described()


def test_locking_keeps_the_matched_path():
    """Capacity 10: ``a6`` then ``b4`` fill the cache; ``a6 c4`` matches ``a6`` (the oldest leaf)
    and needs 4 tokens: ``a6`` is locked, so ``b4`` is evicted and the reuse stays 6."""
    state = RadixCache(10).new_state()
    assert [state.serve(p) for p in [(("a", 6),), (("b", 4),), (("a", 6), ("c", 4))]] == [0, 0, 6]
    assert state.nodes() == [((("a", 6),), 0, 6), ((("a", 6), ("c", 4)), 6, 6)]


def test_whole_node_eviction_and_the_parent_becoming_a_leaf():
    """Capacity 9. ``s4 x2``, ``s4 y2`` (split: ``s4``, ``x2``, ``y2``; 8 tokens); ``t6`` needs 6
    with 1 free: ``x2`` (time 3) goes (3 free), then ``y2`` (time 4; 5 free), then ``s4``, now a
    leaf (time 4): whole nodes, oldest first, until enough is free (9)."""
    state = RadixCache(9).new_state()
    assert [state.serve(p) for p in [(("s", 4), ("x", 2)), (("s", 4), ("y", 2)), (("t", 6),)]] == [0, 4, 0]
    assert state.nodes() == [((("t", 6),), 0, 6)] and state.size == 6


def test_a_match_ending_inside_a_segment_splits_it():
    state = RadixCache(None).new_state()
    assert state.serve((("a", 5), ("b", 1))) == 0
    assert state.serve((("a", 3), ("c", 2))) == 3
    assert state.nodes() == [((("a", 3),), 0, 4), ((("a", 5), ("b", 1)), 3, 3), ((("a", 3), ("c", 2)), 3, 4)]
    assert state.reuse((("a", 4),)) == 4 and state.reuse((("a", 3), ("c", 1))) == 4


def test_copy_is_an_independent_snapshot():
    state = RadixCache(12).new_state()
    for prompt in [(("a", 4), ("b", 2)), (("a", 4), ("c", 2)), (("d", 3),)]:
        state.serve(prompt)
    snapshot = state.copy()
    assert snapshot.nodes() == state.nodes() and snapshot.size == state.size
    follow_up = [(("e", 9),), (("a", 4), ("b", 2)), (("d", 3), ("f", 1))]
    assert [snapshot.serve(p) for p in follow_up] == [state.serve(p) for p in follow_up]
    assert snapshot.nodes() == state.nodes()
    state.serve((("g", 12),))
    assert snapshot.reuse((("d", 3),)) == 3 and state.reuse((("d", 3),)) == 0


@pytest.mark.parametrize("factor", [None, 1, 2, 8])
def test_mooncake_excerpt_against_the_block_level_reference(factor):
    """The Mooncake excerpt in arrival order, unbounded and with capacities of 1, 2 and 8 times its
    longest prompt (120,633 tokens): each 512-token block is one unit of the reference (a block id
    has one length in a trace, so no split falls inside a block)."""
    stream = read_mooncake(TRACE, tokens_per_ms=20)
    capacity = None if factor is None else factor * max(stream.lengths)
    cache = RadixCache(capacity)
    for order in (list(stream.arrival_order), np.random.default_rng(factor).permutation(stream.n).tolist()):
        reference = TokenTrie(capacity)
        expected = [reference.serve(list(stream.queries[i].prompt)) for i in order]
        evaluation = evaluate(stream, order, cache=cache.spec)
        assert list(evaluation.reused) == expected and evaluation.cache == cache.spec
        state = cache.new_state()
        for i in order:
            state.serve(stream.queries[i].prompt)
        blocks = {(tuple(sid for sid, _ in path), start, time) for path, start, time in state.nodes()}
        assert blocks == reference.described()
