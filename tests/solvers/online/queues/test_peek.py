"""``peek(step, clock, rng)`` on every policy's waiting queue, indexed and naive: the query ``pop``
would serve now, left waiting, and peeking never changes a run (its order, its seeded draws).

The reference is the simulator itself (solvers/online/simulate.py): the same decisions replayed here
with peeks after every arrival must give the simulator's order, and the generator must end where a
run without peeks leaves it.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import POLICIES, make_policy_queue, parse_policy
from prefix_sched.solvers.online.queues import KeyBuckets, peek_generator
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.stream import Stream

from strategies import streams

FORMS = [entry.name if entry.parameter is None else f"{entry.name}:{value}"
         for entry in POLICIES for value in ((None,) if entry.parameter is None else (0, 2))]
"""Every policy of the table (those with a parameter at two values)."""


def replay(stream: Stream, spec, cache: str, kind: str, seed: int, alpha, peeking: bool):
    """The simulator's online loop (solvers/online/simulate.py, ``_serve``), with, when
    ``peeking``, two peeks after each arrival joins the queue and two before each pop (each checked
    against the pop). Returns the order (stream indices), every peek, and the generator's state."""
    scale, alpha_scaled, scaled = integer_timebase(stream, alpha)
    ranked = stream.arrival_order
    prompts = [stream.queries[i].prompt for i in ranked]
    arrivals = [scaled[i] for i in ranked]
    outputs = [stream.queries[i].output_length for i in ranked] if spec.needs_outputs else None
    state = parse_cache(cache).new_state()
    queue = make_policy_queue(spec, kind, prompts, arrivals, outputs, state, scale, alpha_scaled)
    rng = np.random.default_rng(seed) if spec.randomized else None  # as the simulator draws
    order, peeks, clock, admitted, n = [], [], 0, 0, len(ranked)
    for step in range(n):
        if not len(queue) and arrivals[admitted] > clock:
            clock = arrivals[admitted]
        while admitted < n and arrivals[admitted] <= clock:
            queue.add(admitted, step, clock)
            admitted += 1
            if peeking:
                peeks.append((queue.peek(step, clock, rng), queue.peek(step, clock, rng)))
        looked = [queue.peek(step, clock, rng) for _ in range(2)] if peeking else []
        rank = queue.pop(step, clock, rng)
        assert all(seen == rank for seen in looked)
        peeks.append(tuple(looked))
        shared = state.serve(prompts[rank])
        start = max(clock, arrivals[rank])
        clock = start + scaled_cost(stream.lengths[ranked[rank]], shared, scale, alpha_scaled)
        order.append(ranked[rank])
    return order, peeks, None if rng is None else rng.bit_generator.state


@settings(max_examples=300, deadline=None)
@given(data=st.data(), stream=streams(max_n=10, fractional=True), name=st.sampled_from(FORMS),
       cache=st.sampled_from(["last", "unbounded", "lru-tight"]), tie_break=st.sampled_from(["oldest", "random"]),
       alpha=st.sampled_from([0, Fraction(1, 3)]), seed=st.integers(0, 3))
def test_a_peek_is_the_next_pop_and_changes_nothing(data, stream, name, cache, tie_break, alpha, seed):
    stream = Stream(tuple(dataclasses.replace(q, output_length=data.draw(st.integers(0, 3))) for q in stream.queries))
    try:
        spec = parse_policy(name, tie_break=tie_break)
    except InputError:
        spec = parse_policy(name)  # an oldest-ties-only policy
    model = f"lru:{max(stream.lengths)}" if cache == "lru-tight" else cache
    plain = replay(stream, spec, model, "indexed", seed, alpha, peeking=False)
    runs = {kind: replay(stream, spec, model, kind, seed, alpha, peeking=True) for kind in ("indexed", "naive")}
    expected = simulate(stream, spec, cache=model, alpha=alpha, seed=seed).order
    assert plain[0] == list(expected)
    for order, peeks, state in runs.values():
        assert order == plain[0] and state == plain[2]  # the same decisions, the same draws
    assert runs["indexed"][1] == runs["naive"][1]  # every peek, indexed equal to naive


@pytest.mark.parametrize("name", FORMS)
def test_peek_at_an_empty_queue_is_refused(name):
    spec = parse_policy(name)
    queue = make_policy_queue(spec, "indexed", [(("a", 2),)], [0], [1], parse_cache("unbounded").new_state(), 1, 0)
    with pytest.raises(IndexError, match="peek at an empty waiting queue"):
        queue.peek(0, 0, np.random.default_rng(0))


def test_a_random_tie_peeked_is_the_one_popped_by_hand():
    """Five ranks under one key, random ties: rng 7's first draw of ``integers(5)`` picks the
    rank the peek shows, as often as it is asked, and the pop then serves it with that draw."""
    buckets = KeyBuckets(5, random_ties=True)
    for rank in range(5):
        buckets.file(rank, 1)
    rng = np.random.default_rng(7)
    first = int(np.random.default_rng(7).integers(5))
    assert [buckets.peek(rng) for _ in range(3)] == [first] * 3
    assert buckets.pop(rng) == first and len(buckets) == 4
    assert int(peek_generator(rng).integers(10)) == int(rng.integers(10))
