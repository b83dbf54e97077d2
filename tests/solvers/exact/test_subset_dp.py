"""The shared subset-DP loop (solvers/exact/subset_dp.py) on its own, against brute force.

Each engine that runs it (the feasibility DP, the drop DP, the local search's window DP, Appendix
A's block DP) keeps its own tests; here the loop's contract is checked directly: levels lowest
first, merged labels, counts, the cap, the time limit, the filter, moves that skip levels, and the
move window against the loop it replaced.
"""

from __future__ import annotations

from itertools import permutations

from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.subset_dp import (
    STATE_CAP, TIME_LIMIT, move_windows, oldest_unserved, prefix_partners, run_levels,
)


def _earliest_by_last(costs: list[list[int]], start: list[int]):
    """Earliest completion of every order of all jobs ending in each job: a state (done, last)
    keeps the least clock, ``costs[i][j]`` is job j right after job i, ``start[j]`` first."""
    m = len(start)

    def expand(key, clock, following):
        mask, last = key
        row = start if last is None else costs[last]
        for j in range(m):
            if not mask >> j & 1:
                state = (mask | 1 << j, j)
                if state not in following or clock + row[j] < following[state]:
                    following[state] = clock + row[j]

    return run_levels({0: {(0, None): 0}}, expand, last=m)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda m: st.tuples(
    st.lists(st.lists(st.integers(0, 9), min_size=m, max_size=m), min_size=m, max_size=m),
    st.lists(st.integers(0, 9), min_size=m, max_size=m))))
def test_earliest_completion_per_last_job_matches_brute_force(data):
    costs, start = data
    m = len(start)
    run = _earliest_by_last(costs, start)
    expected = {}
    for order in permutations(range(m)):
        clock = start[order[0]] + sum(costs[a][b] for a, b in zip(order, order[1:]))
        expected[order[-1]] = min(expected.get(order[-1], clock), clock)
    assert run.stopped is None
    assert {last: clock for (_, last), clock in run.levels[-1].items()} == expected
    assert [len(level) for level in run.levels] == [1] + [k * _choose(m, k) for k in range(1, m + 1)]
    assert run.states == 1 + sum(k * _choose(m, k) for k in range(1, m + 1))


def _choose(n: int, k: int) -> int:
    out = 1
    for i in range(k):
        out = out * (n - i) // (i + 1)
    return out


def test_cap_time_limit_filter_fronts_and_skipped_levels():
    """Hand-worked on three jobs: level sizes 1, 3, 6, 3 (13 states, as in the module example)."""
    costs = [[1, 1, 1]] * 3
    assert _earliest_by_last(costs, [1, 1, 1]).states == 13
    capped = run_levels({0: {(0, None): 0}}, lambda key, clock, following: following.update(
        {(key[0] | 1 << j, j): clock + 1 for j in range(3) if not key[0] >> j & 1}), last=3, max_states=4)
    assert capped.stopped == STATE_CAP and capped.states == 10        # 1 + 3, then 6 more: over 4
    expired = Deadline.of(1e-9)
    while not expired.expired():
        pass
    late = run_levels({0: {(0, None): 0}}, lambda *args: None, stop=expired)
    assert late.stopped == TIME_LIMIT and late.states == 1            # counted, never expanded

    def expand(key, label, following):
        """Serve the oldest of four jobs (+1), or give up the oldest two at once (a skipped level)."""
        mask = key[0]
        low = oldest_unserved(mask)
        if low < 4:
            following[(mask | 1 << low, low)] = [label[0] + 1]
        if low < 3:
            levels.setdefault((mask | 3 << low).bit_count(), {})[(mask | 3 << low, None)] = [label[0]]

    # Levels by hand: 0 {(0, -)}; 1 {(1, 0): 1}; 2 {(3, -): 0, (3, 1): 2}; 3 {(7, -): 1, (7, 2): 3,
    # refused by the filter (>= 3)}; 4 {(15, -): 2, (15, 3): 2}; 5 empty: the run ends there.
    levels = {0: {(0, None): [0]}}
    run = run_levels(levels, expand, fronts=True, admit=lambda key, label: label[0] < 3)
    assert [list(level) for level in run.levels] == [[(0, None)], [(1, 0)], [(3, None), (3, 1)], [(7, None)],
                                                     [(15, None), (15, 3)], []]
    assert run.stopped is None and run.states == 7 and levels == {}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=8), st.integers(0, 10), st.data())
def test_move_window_is_the_scan_it_replaced(arrivals, ttft, data):
    """Queries in arrival order, deadlines ``t + T`` (possibly capped by a horizon): the window of
    each oldest query ``o`` is where the scan ``j = o; while arrivals[j] <= deadlines[o]`` stops."""
    arrivals = sorted(arrivals)
    horizon = data.draw(st.one_of(st.none(), st.integers(0, 30)))
    deadlines = [t + ttft if horizon is None else min(t + ttft, horizon) for t in arrivals]
    for o, end in enumerate(move_windows(arrivals, deadlines)):
        j = o
        while j < len(arrivals) and arrivals[j] <= deadlines[o]:
            j += 1
        assert end == max(j, o)


def test_bits_and_partners_by_hand():
    assert [oldest_unserved(mask) for mask in (0, 0b1, 0b1011, 0b111)] == [0, 1, 2, 3]
    assert prefix_partners([(("u", 2), ("a", 1)), (("v", 1),), (("u", 2),), ()]) == [4, 0, 1, 0]
