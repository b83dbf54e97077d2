"""``dfs-weight``: hand-worked walks under a radix cache (its index against the naive rescan:
test_registry.py)."""

from __future__ import annotations

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.stream import Query, Stream


def _stream(rows) -> Stream:
    """``(prompt, arrival, output_length)`` rows; ids r0, r1, ... (arrival rank = index here)."""
    return Stream(tuple(Query(f"r{i}", prompt, arrival, output_length=out) for i, (prompt, arrival, out) in
                        enumerate(rows)))


def _ranks(run) -> list[int]:
    return list(run.order)


def test_dfs_weight_follows_the_heavier_subtree_under_a_radix_cache():
    """Unbounded cache. r0 a2 at 0 (0-2), r1 b2 at 1 (2-4); at t = 4 the tree holds a2 and b2 and
    r2 a2 d1, r3 b2 c1, r4 b2 e1 wait (arrived at 3): r2 is attached to a2 (weight 1), r3 and r4
    to b2 (weight 2): b2 first, its oldest, r3. Then a2 and b2 weigh 1 each: the tie goes to the
    child holding the oldest waiting query, a2 (r2); then r4. LPM takes the oldest of the three
    equal matches (2 tokens), r2, first."""
    stream = _stream([((("a", 2),), 0, None), ((("b", 2),), 1, None), ((("a", 2), ("d", 1)), 3, None),
                      ((("b", 2), ("c", 1)), 3, None), ((("b", 2), ("e", 1)), 3, None)])
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded")) == [0, 1, 3, 2, 4]
    assert _ranks(simulate(stream, parse_policy("lpm"), cache="unbounded")) == [0, 1, 2, 3, 4]


def test_dfs_weight_serves_the_deepest_split_point_when_nobody_matches_a_node_whole():
    """Unbounded cache; r0 = s4 x2 y2 runs first (one node). Then r1 = s4 z1 (match 4), r2 = s4 x2
    w1 (match 6) and r3 = t1 (match 0) wait: r1 and r2 enter the node (weight 2 against r3's
    root), neither matches it whole; split at 4 and at 6, the walk reaches the split at 6 first:
    r2. Then the cache holds s4 x2 {y2, w1}: r1's match enters node s4 x2 and ends inside it: r1;
    then r3."""
    stream = _stream([((("s", 4), ("x", 2), ("y", 2)), 0, None), ((("s", 4), ("z", 1)), 1, None),
                      ((("s", 4), ("x", 2), ("w", 1)), 1, None), ((("t", 1),), 1, None)])
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded")) == [0, 2, 1, 3]
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded", queue="naive")) == [0, 2, 1, 3]
