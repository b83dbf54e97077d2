"""Algorithm 1's policies (FCFS, LPM, k-LPM): the indexed LPM against the naive rescan under every
cache model, and the rules each policy promises, rechecked decision by decision."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import POLICIES as TABLE
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.generators import poisson_prefix_tree, regular_arrival_shuffled_queue
from prefix_sched.theory.prompt import expand_tokens, overlap

from strategies import streams, toy_stream
from references import TokenTrie

ALGORITHM_ONE = [entry for entry in TABLE if entry.algorithm_one]

POLICIES = st.sampled_from([(entry.name, None) if entry.k is not None else (entry.name, k)
                            for entry in ALGORITHM_ONE for k in ((None,) if entry.k is not None else (1, 2, 3))])
"""Algorithm 1's rows of the table: FCFS, LPM, and k-LPM with k = 1, 2, 3."""


@settings(max_examples=300, deadline=None)
@given(
    stream=streams(max_n=12, fractional=True), policy=POLICIES,
    tie_break=st.sampled_from(["oldest", "random"]), cycle_start=st.sampled_from(["lpm", "fcfs"]),
    view=st.sampled_from(["online", "fixed"]), seed=st.integers(0, 3),
)
def test_indexed_lpm_decides_as_the_naive_rescan(stream, policy, tie_break, cycle_start, view, seed):
    spec = parse_policy(policy[0], k=policy[1], tie_break=tie_break, cycle_start=cycle_start)
    indexed = simulate(stream, spec, view=view, queue="indexed", seed=seed)
    naive = simulate(stream, spec, view=view, queue="naive", seed=seed)
    assert indexed.order == naive.order


def test_indexed_and_naive_agree_on_a_backed_up_def4_stream():
    stream = regular_arrival_shuffled_queue(n=2000, r=4, u=50, d=10, delta=5, seed=7)
    for spec in (parse_policy("lpm"), parse_policy("k-lpm", k=3), parse_policy("lpm", tie_break="random")):
        assert simulate(stream, spec, queue="indexed", seed=1).order == simulate(stream, spec, queue="naive", seed=1).order


@settings(max_examples=150, deadline=None)
@given(stream=streams(max_n=10, fractional=True), policy=POLICIES, cycle_start=st.sampled_from(["lpm", "fcfs"]))
def test_online_rules_hold_step_by_step(stream, policy, cycle_start):
    """Recheck every online decision from the evaluator's times: only arrived queries are
    eligible, idle only when none waits, LPM steps take a maximal overlap (oldest among ties),
    FCFS steps take the oldest waiting query."""
    spec = parse_policy(policy[0], k=policy[1], cycle_start=cycle_start)
    run = simulate(stream, spec)
    ev = run.evaluation
    served, free_at, cached = set(), 0, ()
    for position, index in enumerate(ev.order):
        unserved = [i for i in range(stream.n) if i not in served]
        decide_at = max(free_at, min(stream.queries[i].arrival for i in unserved))
        eligible = [i for i in unserved if stream.queries[i].arrival <= decide_at]
        assert index in eligible
        assert ev.start[position] == decide_at
        by_age = sorted(eligible, key=lambda i: (stream.queries[i].arrival, i))
        if spec.is_fcfs_step(position):
            assert index == by_age[0]
        else:
            best = max(overlap(stream.queries[i].prompt, cached) for i in eligible)
            ties = [i for i in by_age if overlap(stream.queries[i].prompt, cached) == best]
            assert index == ties[0]
        served.add(index)
        free_at, cached = ev.completion[position], stream.queries[index].prompt


def test_k_zero_is_fcfs_and_k_infinity_is_lpm():
    stream = poisson_prefix_tree(groups=20, group_size=4, prefix_len=200, suffix_len=20, rate="1/60", seed=3)
    assert simulate(stream, parse_policy("k-lpm", k=0)).order == simulate(stream, parse_policy("fcfs")).order
    assert simulate(stream, parse_policy("k-lpm", k="inf")).order == simulate(stream, parse_policy("lpm")).order
    fcfs = simulate(stream, parse_policy("fcfs")).order
    assert list(fcfs) == sorted(range(stream.n), key=lambda i: (stream.queries[i].arrival, i))


def test_toy_example_policies():
    """Section 4.2: FCFS gives 10, 20, 30, 40 and LPM 10, 15, 25, 30 (hand-worked in the paper)."""
    assert simulate(toy_stream(), parse_policy("fcfs")).evaluation.ttft == (10, 20, 30, 40)
    assert simulate(toy_stream(), parse_policy("lpm")).evaluation.ttft == (10, 15, 25, 30)
    assert simulate(toy_stream(delta=10), parse_policy("fcfs")).evaluation.ttft == (10, 10, 10, 10)


def test_fixed_view_orders_as_if_all_had_arrived():
    """Toy example with Delta = 10 (arrivals 0, 10, 20, 30), worked by hand: online LPM always
    finds one query waiting, so it serves in arrival order. Fixed-order LPM serves u1d1, u1d2,
    u2d3, u2d4: u1d1 0-10; u1d2 waits for 20, reuses u1 and ends at 25 (TTFT 5); u2d3 25-35
    (TTFT 25); u2d4 arrives 30, reuses u2, 35-40 (TTFT 10)."""
    stream = toy_stream(delta=10)
    online = simulate(stream, parse_policy("lpm"), view="online")
    fixed = simulate(stream, parse_policy("lpm"), view="fixed")
    assert online.order == (0, 1, 2, 3)
    assert fixed.order == (0, 2, 1, 3)
    assert fixed.evaluation.ttft == (10, 5, 25, 10)


def test_random_tie_breaking_is_seeded():
    stream = regular_arrival_shuffled_queue(n=200, r=4, u=30, d=5, delta=2, seed=0)
    spec = parse_policy("lpm", tie_break="random")
    runs = {seed: simulate(stream, spec, seed=seed).order for seed in (0, 0, 1)}
    assert simulate(stream, spec, seed=0).order == runs[0]
    assert runs[0] != runs[1]
    with pytest.raises(InputError, match="needs a seed"):
        simulate(stream, spec)


# --- cache models: LPM against a radix cache ---------------------------------------------------

CACHES = st.sampled_from(["last", "unbounded", "lru", "lru-tight"])


def _cache_spec(kind, stream, extra):
    """``lru`` gets room for the longest prompt plus ``extra`` tokens; ``lru-tight`` exactly the
    longest prompt, so that nearly every query evicts."""
    longest = max(stream.lengths)
    return {"lru": f"lru:{longest + extra}", "lru-tight": f"lru:{longest}"}.get(kind, kind)


@settings(max_examples=400, deadline=None)
@given(
    stream=streams(max_n=12, fractional=True), policy=POLICIES, cache=CACHES, extra=st.integers(0, 10),
    tie_break=st.sampled_from(["oldest", "random"]), cycle_start=st.sampled_from(["lpm", "fcfs"]),
    view=st.sampled_from(["online", "fixed"]), seed=st.integers(0, 3),
)
def test_indexed_lpm_decides_as_the_naive_rescan_under_every_cache(
    stream, policy, cache, extra, tie_break, cycle_start, view, seed
):
    spec = parse_policy(policy[0], k=policy[1], tie_break=tie_break, cycle_start=cycle_start)
    model = _cache_spec(cache, stream, extra)
    indexed = simulate(stream, spec, view=view, queue="indexed", cache=model, seed=seed)
    naive = simulate(stream, spec, view=view, queue="naive", cache=model, seed=seed)
    assert indexed.order == naive.order
    assert indexed.evaluation.cache == model and indexed.settings()["cache"] == model


@pytest.mark.parametrize("cache", ["unbounded", "lru:2000", "lru:20000"])
def test_indexed_and_naive_agree_on_a_backed_up_def4_stream_under_radix_caches(cache):
    stream = regular_arrival_shuffled_queue(n=1200, r=4, u=50, d=10, delta=5, seed=7)
    for spec in (parse_policy("lpm"), parse_policy("k-lpm", k=3), parse_policy("lpm", tie_break="random")):
        for view in ("online", "fixed"):
            indexed = simulate(stream, spec, queue="indexed", cache=cache, view=view, seed=1)
            assert indexed.order == simulate(stream, spec, queue="naive", cache=cache, view=view, seed=1).order


@settings(max_examples=150, deadline=None)
@given(stream=streams(max_n=10, fractional=True), policy=POLICIES, cache=CACHES, extra=st.integers(0, 6),
       cycle_start=st.sampled_from(["lpm", "fcfs"]))
def test_online_rules_hold_step_by_step_under_every_cache(stream, policy, cache, extra, cycle_start):
    """Recheck every online decision against the token-level reference cache (references.TokenTrie):
    LPM steps take a query of longest cached prefix among the arrived ones (oldest among ties),
    FCFS steps the oldest; the evaluator's reuse is the reference's."""
    spec = parse_policy(policy[0], k=policy[1], cycle_start=cycle_start)
    model = parse_cache(_cache_spec(cache, stream, extra))
    run = simulate(stream, spec, cache=model)
    ev = run.evaluation
    reference = _ReferenceCache(model)
    served, free_at = set(), 0
    for position, index in enumerate(ev.order):
        unserved = [i for i in range(stream.n) if i not in served]
        decide_at = max(free_at, min(stream.queries[i].arrival for i in unserved))
        eligible = sorted((i for i in unserved if stream.queries[i].arrival <= decide_at),
                          key=lambda i: (stream.queries[i].arrival, i))
        assert ev.start[position] == decide_at
        if spec.is_fcfs_step(position):
            assert index == eligible[0]
        else:
            reuse = {i: reference.reuse(stream.queries[i].prompt) for i in eligible}
            best = max(reuse.values())
            assert index == next(i for i in eligible if reuse[i] == best)
        assert ev.reused[position] == reference.serve(stream.queries[index].prompt)
        served.add(index)
        free_at = ev.completion[position]


class _ReferenceCache:
    """``last`` recomputed from the token expansion; radix caches by references.TokenTrie."""

    def __init__(self, model):
        self.trie = None if model.is_last_prompt else TokenTrie(model.token_capacity())
        self.previous = []

    def reuse(self, prompt):
        tokens = expand_tokens(prompt)
        if self.trie is not None:
            return self.trie.reuse([(token, 1) for token in tokens])
        return next((k for k, (a, b) in enumerate(zip(tokens, self.previous)) if a != b),
                    min(len(tokens), len(self.previous)))

    def serve(self, prompt):
        shared = self.reuse(prompt)
        if self.trie is not None:
            assert self.trie.serve([(token, 1) for token in expand_tokens(prompt)]) == shared
        self.previous = expand_tokens(prompt)
        return shared


def test_toy_example_under_radix_caches():
    """Section 4.2's toy example (u = d = 5, all at 0), worked by hand. FCFS serves u1d1, u2d3,
    u1d2, u2d4: under ``last`` nothing is reused (TTFTs 10, 20, 30, 40); under ``unbounded`` u1d2
    finds u1 and u2d4 finds u2 in the tree (reuse 0, 0, 5, 5; TTFTs 10, 20, 25, 30). LPM under
    ``lru:10`` (room for one prompt): u1d1; u1d2 matches u1 inside node u1d1, which is split, and
    d1 is evicted for d2; u2d3 (a tie at 0, the oldest) evicts d2 and u1; u2d4 reuses u2: the
    TTFTs of Definition 2's LPM, 10, 15, 25, 30."""
    stream = toy_stream()
    assert simulate(stream, parse_policy("fcfs")).evaluation.reused == (0, 0, 0, 0)
    assert simulate(stream, parse_policy("fcfs"), cache="unbounded").evaluation.reused == (0, 0, 5, 5)
    assert simulate(stream, parse_policy("fcfs"), cache="unbounded").evaluation.ttft == (10, 20, 25, 30)
    assert simulate(stream, parse_policy("lpm"), cache="lru:10").evaluation.ttft == (10, 15, 25, 30)


def test_bad_cache_input_is_named():
    with pytest.raises(InputError, match="unknown cache model 'lru5'"):
        simulate(toy_stream(), parse_policy("lpm"), cache="lru5")
    with pytest.raises(InputError, match="query 'u1d1' has 10 tokens, more than the cache capacity of 9 tokens"):
        simulate(toy_stream(), parse_policy("lpm"), cache="lru:9")
