"""The engine's prefix cache (solvers/serving/prefix_cache.py): driven as Part 1's model (one serve
per prompt) it gives the reuse of ``lru:C`` and ``unbounded`` (theory/cache) on every sequence;
driven by the engine's events (match, lock, chunk inserts, release, evict) its counts add up and
locked nodes are never evicted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prefix_sched.solvers.serving.prefix_cache import EngineCache
from prefix_sched.theory.cache.radix import segment_offsets as offsets
from prefix_sched.theory.cache import parse_cache

LENGTHS = {"a": 3, "b": 2, "c": 5, "d": 1, "e": 4}


@st.composite
def prompt_lists(draw, max_prompts=25):
    ids = st.lists(st.sampled_from(sorted(LENGTHS)), min_size=1, max_size=4)
    return [tuple((i, LENGTHS[i]) for i in draw(ids)) for _ in range(draw(st.integers(1, max_prompts)))]


@settings(max_examples=400, deadline=None)
@given(prompts=prompt_lists(), capacity=st.integers(20, 40))
def test_serving_one_prompt_at_a_time_is_part_1s_model(prompts, capacity):
    lru = EngineCache(evicts=True, capacity=capacity)
    assert [lru.serve(p) for p in prompts] == parse_cache(f"lru:{capacity}").reuse_along(prompts)
    unbounded = EngineCache(evicts=False)
    assert [unbounded.serve(p) for p in prompts] == parse_cache("unbounded").reuse_along(prompts)


def _count(node):
    total = locked = 0
    stack = list(node.children.values())
    while stack:
        n = stack.pop()
        total += n.end - n.start
        locked += (n.end - n.start) if n.lock else 0
        stack.extend(n.children.values())
    return total, locked


@settings(max_examples=300, deadline=None)
@given(prompts=prompt_lists(max_prompts=12), data=st.data())
def test_engine_events_keep_the_counts_and_never_evict_a_locked_node(prompts, data):
    """Requests admitted (match, lock), prefilled in chunks (insert), released, in a random
    interleaving, with evictions in between: the token counts equal a recount of the tree, a
    request's path stays cached while it runs, and reuse() equals the match of a fresh walk."""
    cache = EngineCache(evicts=True)
    running = {}  # i -> (node, done)
    pending = list(range(len(prompts)))
    while pending or running:
        choice = data.draw(st.integers(0, 3))
        if choice == 0 and pending:
            i = pending.pop(0)
            p = prompts[i]
            total = offsets(p)[-1]
            expected = cache.reuse(p)
            node, m = cache.match(p, total - 1)
            assert m == min(expected, total - 1)
            cache.lock(node)
            running[i] = (node, m)
        elif choice == 1 and running:
            i = data.draw(st.sampled_from(sorted(running)))
            node, done = running[i]
            cum = offsets(prompts[i])
            if done < cum[-1]:
                end = data.draw(st.integers(done + 1, cum[-1]))
                node, _ = cache.insert(node, prompts[i], cum, done, end)
                running[i] = (node, end)
                assert cache.reuse(prompts[i]) >= end
            else:
                cache.release(node)
                del running[i]
        elif choice == 2:
            cache.evict(data.draw(st.integers(1, 10)))
        elif running:
            i = data.draw(st.sampled_from(sorted(running)))
            cache.release(running.pop(i)[0])
        for i, (node, done) in running.items():
            assert cache.reuse(prompts[i]) >= done  # locked: still there
        assert _count(cache.root) == (cache.tokens, cache.locked_tokens)
    cache.evict(10 ** 9)
    assert cache.tokens == 0 and cache.locked_tokens == 0 and not cache.root.children


# --- the cache inside the engine against Part 1's cache models ---------------------------------

import pytest
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS
from prefix_sched.theory.serving.requests import Workload

SPACING = 10 ** 7  # us between arrivals: every request finishes before the next arrives


@st.composite
def separate_workloads(draw, max_n=14, one_token=True):
    """Prompts sharing prefixes, each ending in a segment of its own (so never wholly cached: the
    engine computes at least one token, as SGLang), arriving one at a time."""
    n = draw(st.integers(1, max_n))
    prompts = []
    for i in range(n):
        head = tuple((x, LENGTHS[x]) for x in draw(st.lists(st.sampled_from(sorted(LENGTHS)), max_size=3)))
        prompts.append(head + ((f"own{i}", draw(st.integers(1, 3))),))
    outputs = [1] * n if one_token else draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    return Workload.from_lengths([sum(x for _, x in p) for p in prompts], outputs,
                                 [SPACING * i for i in range(n)], prompts=prompts)


@pytest.mark.parametrize("scheduler", SCHEDULER_FORMS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_one_request_at_a_time_reuses_what_lru_would(scheduler, data):
    """Requests that never overlap, one output token each (no decode memory): the engine's pool of M
    tokens is Part 1's lru:M; each request's cached tokens equal lru:M's reuse in arrival order, for
    every scheduler, whatever M (>= the longest prompt) forces out. The budget holds every prompt in
    one chunk: with chunks, each chunk is a node (as in SGLang), and eviction goes by those nodes."""
    w = data.draw(separate_workloads())
    longest = max(r.prompt_tokens for r in w.requests)
    kv = data.draw(st.integers(longest, longest + 25))
    budget = 2 * longest + 8  # one chunk per prompt (rad-fixed's prefill share too): the nodes are lru's
    run = serve(w, scheduler, budget=budget, cost="c0=5,cp=1,cd=1", kv_tokens=kv, prefix_cache="lru")
    prompts = [r.prompt for r in w.requests]
    assert run.timeline.cached_tokens.tolist() == parse_cache(f"lru:{kv}").reuse_along(prompts)


@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("scheduler", ["sarathi", "vllm", "sglang", "slai", "rad"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_memory_never_short_reuses_everything_ever_served(cache, scheduler, data):
    """Non-overlapping requests with any output lengths, memory above every prompt together: nothing
    is evicted, and each request reuses its longest prefix shared with any earlier prompt
    (Part 1's unbounded, and lru:C for C the total)."""
    w = data.draw(separate_workloads(one_token=False))
    prompts = [r.prompt for r in w.requests]
    total = sum(r.prompt_tokens for r in w.requests) + max(r.output_tokens for r in w.requests)
    run = serve(w, scheduler, budget=64, cost="c0=5,cp=1,cd=1", kv_tokens=total, prefix_cache=cache)
    expected = parse_cache("unbounded").reuse_along(prompts)
    assert run.timeline.cached_tokens.tolist() == expected == parse_cache(f"lru:{total}").reuse_along(prompts)


def test_a_prompt_being_prefilled_is_matchable_up_to_its_last_chunk():
    """Budget 4: A (s8 x1) at 0 is prefilled in chunks [0, 4), [4, 8), [8, 9). B (s8 y1) arrives at 15,
    during A's second chunk (iteration 2 runs [14, 28)): at B's admission (iteration 3, at 28, beside
    A's last token) A's first two chunks (8 tokens) are in the tree: B reuses 8 tokens, and its own
    prefill is 1 token."""
    w = Workload.from_lengths([9, 9], [1, 1], [0, 15], prompts=[(("s", 8), ("x", 1)), (("s", 8), ("y", 1))])
    run = serve(w, "sarathi", budget=4, cost="c0=10,cp=1,cd=1", prefix_cache="unbounded", record_batches=True)
    assert run.timeline.cached_tokens.tolist() == [0, 8]
    assert run.batches.prefill_tokens.tolist() == [4, 4, 2]  # A's last token and B's one uncached token
    # budget 6: A's first chunk [0, 6) in [0, 16); B (at 5) is admitted at 16 beside A's last 3 tokens,
    # when A's first chunk only is in the tree: B reuses 6 tokens (the node s8 split at 6)
    w = Workload.from_lengths([9, 9], [1, 1], [0, 5], prompts=[r.prompt for r in w.requests])
    run = serve(w, "sarathi", budget=6, cost="c0=10,cp=1,cd=1", prefix_cache="unbounded", record_batches=True)
    assert run.timeline.cached_tokens.tolist() == [0, 6]
    assert run.batches.prefill_tokens.tolist() == [6, 6]


def test_a_fully_cached_prompt_still_computes_one_token():
    w = Workload.from_lengths([6, 6], [1, 1], [0, 100], prompts=[(("s", 6),), (("s", 6),)])
    run = serve(w, "sarathi", budget=8, cost="c0=10,cp=1,cd=1", prefix_cache="unbounded", record_batches=True)
    assert run.timeline.cached_tokens.tolist() == [0, 5]
    assert run.batches.prefill_tokens.tolist() == [6, 1]
