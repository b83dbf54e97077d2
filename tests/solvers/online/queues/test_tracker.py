"""The match tracker keeps every waiting query's cached prefix current from the cache's reported
changes alone: after any serves, adds and removes, a refresh reports exactly the matches that
changed, and the tracker then agrees with ``state.reuse`` for every waiting query."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.online.queues import MatchTracker
from prefix_sched.theory.cache import parse_cache

SEGMENT = st.tuples(st.sampled_from("abc"), st.integers(1, 3))
PROMPTS = st.lists(st.lists(SEGMENT, min_size=1, max_size=4).map(tuple), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(prompts=PROMPTS, cache=st.sampled_from(["last", "unbounded", "lru:12"]), data=st.data())
def test_the_tracker_agrees_with_a_rescan(prompts, cache, data):
    prompts = [p for p in prompts if sum(length for _, length in p) <= 12] or [(("a", 1),)]
    state = parse_cache(cache).new_state()
    tracker = MatchTracker(prompts, state)
    waiting, known = set(), {}
    for _ in range(data.draw(st.integers(1, 25))):
        action = data.draw(st.sampled_from(["add", "remove", "serve", "refresh"]))
        rank = data.draw(st.integers(0, len(prompts) - 1))
        if action == "add" and rank not in waiting:
            waiting.add(rank)
            known[rank] = tracker.add(rank)
            assert known[rank] == state.reuse(prompts[rank])
        elif action == "remove" and rank in waiting:  # as a queue does: refresh, then take one
            known.update(tracker.refresh())
            tracker.remove(rank)
            waiting.discard(rank)
            known.pop(rank)
        elif action == "serve":
            state.serve(data.draw(st.sampled_from(prompts)))
        else:
            changed = dict(tracker.refresh())
            current = {r: state.reuse(prompts[r]) for r in waiting}
            assert changed == {r: m for r, m in current.items() if m != known[r]}
            known = current
            assert all(tracker.match[r] == current[r] for r in waiting)
