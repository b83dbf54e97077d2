"""The exact DP against brute force: every feasible last query and its earliest completion.

The DP keeps one state per (served set, last query) and merges last queries whose cache no query
that can come next would reuse; both are claimed exact. Brute force here enumerates every order of
the chosen queries with the Definition 2 recurrence written out again, so a wrong merge or a wrong
pruning rule shows up as a missing or late ending.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.cost import prefill_cost
from prefix_sched.theory.prompt import overlap
from prefix_sched.theory.stream import Stream

from strategies import prompts, streams


def _brute_endings(stream: Stream, ttft, subset, initial, start, horizon, alpha) -> dict[int, object]:
    best: dict[int, object] = {}
    for order in itertools.permutations(subset):
        clock, previous = start, initial
        for index in order:
            query = stream.queries[index]
            clock = max(clock, query.arrival) + prefill_cost(query.length, overlap(query.prompt, previous), alpha)
            if clock > query.arrival + ttft or (horizon is not None and clock > horizon):
                break
            previous = query.prompt
        else:
            best[order[-1]] = min(best.get(order[-1], clock), clock)
    return best


@settings(max_examples=250, deadline=None)
@given(stream=streams(max_n=6), ttft=st.integers(0, 24), initial=st.one_of(st.just(()), prompts()),
       start=st.integers(0, 8), horizon=st.one_of(st.none(), st.integers(10, 60)),
       alpha=st.sampled_from([0, 0, Fraction(1, 4)]), data=st.data())
def test_endings_are_the_brute_force_earliest_completions(stream, ttft, initial, start, horizon, alpha, data):
    subset = data.draw(st.lists(st.sampled_from(range(stream.n)), unique=True, min_size=1))
    expected = _brute_endings(stream, ttft, subset, initial, start, horizon, alpha)
    result = feasible_endings(stream, ttft, alpha=alpha, subset=subset, initial_prompt=initial,
                              start_time=start, horizon=horizon)
    assert result.status == ("FEASIBLE" if expected else "INFEASIBLE")
    assert result.endings == expected
    for last, completion in expected.items():
        witness = result.witness(last)
        assert sorted(witness) == sorted(subset) and witness[-1] == last
        clock, previous = start, initial
        for index in witness:  # the witness meets every deadline and ends at the earliest completion
            query = stream.queries[index]
            clock = max(clock, query.arrival) + prefill_cost(query.length, overlap(query.prompt, previous), alpha)
            assert clock <= query.arrival + ttft and (horizon is None or clock <= horizon)
            previous = query.prompt
        assert clock == completion


def test_merged_states_on_a_stream_of_one_shared_prefix_group():
    """Hand-worked: a = (u:4)(x:1), b = (u:4)(y:1), c = (v:3), all at 0, T = 9. a costs 5 from an
    empty cache and b 1 after it; c costs 3 and shares nothing, so after c the DP merges the cache
    (BLANK). Orders meeting T: a, b, c and b, a, c (5, 6, 9); c, a, b and c, b, a (3, 8, 9); splitting
    the pair (a, c, b) ends at 13. So each query can end an order, at 9; with T = 8 none can."""
    stream = Stream.from_records([("a", (("u", 4), ("x", 1)), 0), ("b", (("u", 4), ("y", 1)), 0),
                                  ("c", (("v", 3),), 0)])
    result = feasible_endings(stream, 9)
    assert result.endings == {0: 9, 1: 9, 2: 9}
    assert feasible_endings(stream, 8).status == "INFEASIBLE"
