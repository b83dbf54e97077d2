"""Each router's rule on hand-worked cases (the cases are in the test docstrings), the parse point,
and the prefix-aware router's tree (match, sizes, eviction) against a brute-force recount."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.routers import ROUTERS, RouterName, parse_router
from prefix_sched.solvers.serving.routers.prefix_aware import RouterTree
from prefix_sched.theory.serving.requests import Workload

from prefix_sched.errors import InputError

COST = "c0=10,cp=1,cd=1"


def engines_of(workload, router, G=2, scheduler="sarathi", **options):
    options.setdefault("budget", 4)
    return serve(workload, scheduler, cost=COST, engines=G, router=router, **options).timeline.engine.tolist()


def test_round_robin_ignores_the_engines_state():
    """Five requests at 0 on three engines: 0, 1, 2, 0, 1, whatever their sizes."""
    w = Workload.from_lengths([50, 1, 1, 1, 1], [9, 1, 1, 1, 1], [0] * 5)
    assert engines_of(w, "round-robin", G=3) == [0, 1, 2, 0, 1]


def test_random_draws_once_per_request_from_the_router_generator():
    from prefix_sched.theory.serving.traces import router_generator
    w = Workload.from_lengths([3] * 20, [2] * 20, list(range(20)))
    expected = router_generator(7).integers(4, size=20).tolist()
    assert engines_of(w, "random", G=4, seed=7) == expected
    assert engines_of(w, "random", G=4, seed=8) != expected


def test_least_outstanding_counts_the_iteration_in_flight_as_run():
    """Budget 4, cost 10 + 1/token. A (prompt 4, output 1) at 0 to engine 0; its one iteration [0, 14]
    finishes it. B at 5: the iteration started before 5, so A counts as finished: loads 0, 0: engine 0.
    C at 5 (same time, after B): loads 1, 0: engine 1. D at 20: engine 0 ran B in [14, 25) (started
    before 20: finished), engine 1 ran C in [5, 16): loads 0, 0: engine 0."""
    w = Workload.from_lengths([4, 1, 1, 1], [1, 1, 1, 1], [0, 5, 5, 20])
    assert engines_of(w, "least-outstanding") == [0, 0, 1, 0]


def test_least_outstanding_does_not_count_an_iteration_starting_at_the_arrival():
    """A (prompt 4, output 2) at 0 on engine 0: [0, 14] prefill, [14, 25] its last token. B at 14: the
    iteration starting at 14 has not run (it starts at, not before, 14), so A is unfinished: B to
    engine 1. With B at 15 the iteration [14, 25] has run: A finished, B to engine 0."""
    assert engines_of(Workload.from_lengths([4, 1], [2, 1], [0, 14]), "least-outstanding") == [0, 1]
    assert engines_of(Workload.from_lengths([4, 1], [2, 1], [0, 15]), "least-outstanding") == [0, 0]


def test_least_work_counts_tokens_not_requests():
    """Budget 64. A (prompt 2, output 1) and B (prompt 2, output 1) at 0: engines 0 and 1; each runs its
    request in [0, 12]. C (prompt 40, output 40) at 1: those iterations started before 1, A and B are
    done: loads 0 and 0, engine 0. D (prompt 1, output 1) at 2: engine 0 holds C (80 tokens, its
    iteration at 12 has not run): engine 1. E (prompt 1, output 1) at 2: in requests 1 and 1 (D):
    least-outstanding sends E to engine 0; in tokens 80 and 2: least-work sends it to engine 1."""
    w = Workload.from_lengths([2, 2, 40, 1, 1], [1, 1, 40, 1, 1], [0, 0, 1, 2, 2])
    assert engines_of(w, "least-work", budget=64) == [0, 1, 0, 1, 1]
    assert engines_of(w, "least-outstanding", budget=64) == [0, 1, 0, 1, 0]


def test_least_work_puts_back_what_a_preemption_will_recompute():
    """After a preemption the engine's work includes the victim's prompt and generated tokens again
    (checked against the definition after every step in test_cluster.py); here: a run with
    preemptions leaves every engine's work at 0."""
    rng = np.random.default_rng(0)
    n = 40
    w = Workload.from_lengths(rng.integers(1, 60, n).tolist(), rng.integers(1, 60, n).tolist(), [0] * n)
    finals = []

    def audit(e):
        finals.append((e.index, e.work, e.outstanding))

    run = serve(w, "sarathi", cost=COST, budget=32, kv_tokens=160, block_size=8, engines=2, router="least-work",
                audit=audit)
    assert run.preemptions > 0
    last = {g: (work, out) for g, work, out in finals}
    assert last == {0: (0, 0), 1: (0, 0)}


PROMPT_S = (("s", 8),)


def _w(prompts, arrivals=None, outputs=None):
    n = len(prompts)
    return Workload.from_lengths([sum(x for _, x in p) for p in prompts], outputs or [4] * n,
                                 arrivals or [0] * n, prompts=prompts)


def test_prefix_aware_match_rate_threshold_is_strict():
    """cache = 1/2. A = s8 x2 to engine 0. B = s8 y8: shares 8 of 16 tokens, rate exactly 1/2, not
    > 1/2: the smallest tree, engine 1. C = s8 z7: 8 of 15 > 1/2: the engine holding
    s8 with the lowest index, engine 0."""
    prompts = [(("s", 8), ("x", 2)), (("s", 8), ("y", 8)), (("s", 8), ("z", 7))]
    assert engines_of(_w(prompts), "prefix-aware:cache=1/2", budget=64) == [0, 1, 0]


def test_prefix_aware_balance_check_needs_both_thresholds():
    """Loads after A..D all to engine 0 (same prompt): 4 and 0. abs = 3, rel = 5: 4 - 0 > 3 and 4 > 5 * 0:
    out of balance: E to engine 1. abs = 4: 4 - 0 is not > 4: E follows its prefix to engine 0."""
    prompts = [PROMPT_S] * 5
    assert engines_of(_w(prompts), "prefix-aware:abs=3,rel=5", budget=64) == [0, 0, 0, 0, 1]
    assert engines_of(_w(prompts), "prefix-aware:abs=4,rel=5", budget=64) == [0, 0, 0, 0, 0]
    # relative, abs = 0, rel = 4: B (t3) finds loads 1, 0 (1 > 4 * 0): to engine 1. Then s8 follows its
    # prefix to engine 0 at loads 1:1, 2:1, 3:1 and 4:1 (4 is not > 4 * 1); at 5:1 it goes to engine 1
    prompts = [PROMPT_S, (("t", 3),)] + [PROMPT_S] * 5
    assert engines_of(_w(prompts), "prefix-aware:abs=0,rel=4", budget=64) == [0, 1, 0, 0, 0, 0, 1]


def test_prefix_aware_smallest_tree_counts_distinct_tokens():
    """A = a9 to 0; B = b3 to 1 (smallest: 0 tokens); C = c2: trees 9 and 3: engine 1 (5 tokens now);
    D = d1: 9 and 5: engine 1 (6); E = b3 e4 matches b3 on engine 1 (3/7 > 0.3): engine 1 (10 tokens:
    b3 counted once); F = f1: 9 and 10: engine 0."""
    prompts = [(("a", 9),), (("b", 3),), (("c", 2),), (("d", 1),), (("b", 3), ("e", 4)), (("f", 1),)]
    assert engines_of(_w(prompts), "prefix-aware", budget=64) == [0, 1, 1, 1, 1, 0]


def test_prefix_aware_eviction_forgets_the_oldest_leaves():
    """interval 10 us, max-tree 8 tokens. A = s8 x2 at 0 to engine 0 (10 tokens). B = s8 y2 at 5: rate
    8/10: engine 0 (12 tokens). At 10 the eviction runs before C: engine 0 holds 12 > 8: its oldest
    leaf x2 (stamped 0) goes (10), then y2 (stamped 5) goes (8). C = s8 x2 at 10: matches s8 (8/10):
    engine 0. D = t1 y... with eviction off engine 0 would keep x2; the trees are checked directly."""
    tree = RouterTree(2)
    tree.insert((("s", 8), ("x", 2)), 0, 0)
    tree.insert((("s", 8), ("y", 2)), 0, 5)
    tree.insert((("s", 8),), 1, 6)
    assert tree.size == [12, 8]
    tree.evict(8)
    assert tree.size == [8, 8]
    matched, node = tree.match((("s", 8), ("x", 2)))
    assert matched == 8 and set(node.tenants) == {0, 1}
    tree.evict(0)
    assert tree.size == [0, 0] and not tree.root.children
    w = _w([(("s", 8), ("x", 2)), (("s", 8), ("y", 2)), (("s", 8), ("x", 2))], arrivals=[0, 5, 10], outputs=[1] * 3)
    assert engines_of(w, "prefix-aware:interval=10us,max-tree=8", budget=64) == [0, 0, 0]


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 2), st.lists(st.integers(0, 3), min_size=1, max_size=4),
                              st.integers(0, 30)), max_size=25))
def test_router_tree_sizes_and_matches_equal_a_recount(ops):
    """After inserts (and evictions to a limit), each engine's size is the tokens of its distinct
    prefixes, and a match is the longest prefix of any prompt an engine still holds."""
    lengths = [3, 1, 4, 2]
    tree = RouterTree(3)
    held = [set() for _ in range(3)]  # the prefixes (as tuples) each engine holds
    now = 0
    for g, ids, limit in ops:
        prompt = tuple((f"s{i}", lengths[i]) for i in ids)
        now += 1
        tree.insert(prompt, g, now)
        held[g].update(prompt[:i + 1] for i in range(len(prompt)))
        if limit < 12:
            tree.evict(limit)
            held = [_recount(tree, e) for e in range(3)]
        for e in range(3):
            assert tree.size[e] == sum(p[-1][1] for p in held[e])
            assert tree.size[e] <= 12 or limit >= 12
        matched, node = tree.match(prompt)
        best = max(sum(x for _, x in p) for e in range(3) for p in held[e] | {()} if prompt[:len(p)] == p)
        assert matched == best
        assert set(node.tenants) == {e for e in range(3) if any(prompt[:len(p)] == p and sum(x for _, x in p) == best
                                                            for p in held[e] | {()})}


def _recount(tree, g):
    """The prefixes engine ``g`` holds in ``tree``, read by walking it (closed under prefixes)."""
    out = set()
    stack = [(tree.root, ())]
    while stack:
        node, path = stack.pop()
        for key, child in node.children.items():
            if g in child.tenants:
                out.add(path + (key,))
                stack.append((child, path + (key,)))
    return out


def test_parse_router():
    assert [parse_router(r.value).name for r in ROUTERS] == list(RouterName)
    spec = parse_router("prefix-aware:cache=0.5,abs=32,rel=1.1,interval=30s,max-tree=10000")
    assert spec.param("cache") == Fraction(1, 2) and spec.param("rel") == Fraction(11, 10)
    assert spec.param("interval") == 30_000_000 and spec.param("max-tree") == 10000
    assert parse_router(spec.text) == spec and spec.label.startswith("prefix-aware(cache=1/2")
    for bad, shown in (("least-work:3", "takes no parameter"), ("prefix-aware:cache=2", "cache"),
                       ("prefix-aware:abs=-1", "abs"), ("prefix-aware:rel=0.5", "rel"),
                       ("prefix-aware:abs=1,abs=2", "twice"), ("prefix-aware:depth=3", "depth"),
                       ("prefix-aware:interval=5", "interval"), ("robin", "unknown router")):
        with pytest.raises(InputError, match=shown):
            parse_router(bad)
