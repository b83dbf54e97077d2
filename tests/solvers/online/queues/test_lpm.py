"""LPM's queues: the index is chosen by what the cache state offers, and Algorithm 1's steps."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.queues import (
    QUEUES, LpmIndex, LpmStepQueue, MatchIndexQueue, NaiveLpmQueue, make_lpm_queue,
)
from prefix_sched.theory.cache import parse_cache

PROMPTS = [(("u1", 5), ("d1", 5)), (("u2", 5), ("d3", 5)), (("u1", 5), ("d2", 5))]


@pytest.mark.parametrize("cache, kind, cls", [("last", "indexed", LpmIndex), ("unbounded", "indexed", MatchIndexQueue),
                                              ("lru:20", "indexed", MatchIndexQueue), ("last", "naive", NaiveLpmQueue)])
def test_the_index_follows_the_state_capabilities(cache, kind, cls):
    assert QUEUES == ("indexed", "naive")
    assert type(make_lpm_queue(kind, PROMPTS, parse_cache(cache).new_state(), random_ties=False)) is cls


def test_an_unknown_kind_is_named():
    with pytest.raises(InputError, match="unknown queue 'radix'; valid: indexed, naive"):
        make_lpm_queue("radix", PROMPTS, parse_cache("last").new_state(), random_ties=False)


@pytest.mark.parametrize("kind", QUEUES)
def test_steps_and_the_fallback(kind):
    """u1d1 is cached (nothing is served meanwhile). FCFS steps at even decisions: the oldest (0);
    then an LPM step: u1d2 (rank 2, overlap 5, against u2d3's 0); then the oldest left (1).
    ``sglang-lpm`` with T = 1: FCFS while 2 or more wait (0, 1), then LPM (2)."""
    state = parse_cache("last").new_state()
    state.serve(PROMPTS[0])
    queue = LpmStepQueue(make_lpm_queue(kind, PROMPTS, state, False), lambda step: step % 2 == 0)
    for rank in range(3):
        queue.add(rank, 0, 0)
    assert [queue.pop(step, 0, None) for step in range(3)] == [0, 2, 1]
    fallback = LpmStepQueue(make_lpm_queue(kind, PROMPTS, state, False), threshold=1)
    for rank in range(3):
        fallback.add(rank, 0, 0)
    assert [fallback.pop(step, 0, None) for step in range(3)] == [0, 1, 2] and fallback.fallbacks == 2
