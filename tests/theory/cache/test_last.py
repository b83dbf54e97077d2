"""The ``last`` model (Definition 2): the state object against the evaluator's fast path, and the
capabilities the indexes use (the one cached prompt, its changes reported, a one-node tree)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.theory.cache import LastPromptCache
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import overlap, prompt_length

from strategies import streams


@settings(max_examples=100, deadline=None)
@given(stream=streams(max_n=10), data=st.data())
def test_the_last_state_object_is_the_fast_path(stream, data):
    """``last`` served through its state object (the generic path) gives the evaluator's fast path."""
    order = data.draw(st.permutations(range(stream.n)))
    prompts = [stream.queries[i].prompt for i in order]
    state = LastPromptCache().new_state()
    served = [state.serve(p) for p in prompts]
    assert served == LastPromptCache().reuse_along(prompts) == list(evaluate(stream, order).reused)


@settings(max_examples=100, deadline=None)
@given(stream=streams(max_n=10), data=st.data())
def test_changes_are_reported_for_every_prompt_whose_reuse_changed(stream, data):
    """After each serve, every prompt of the stream whose reuse changed starts with the segment ids
    ``0..k`` of a reported ``(prompt, k)``; and the one-node tree holds exactly the cached prompt."""
    order = data.draw(st.permutations(range(stream.n)))
    prompts = [q.prompt for q in stream.queries]
    state, reported = LastPromptCache().new_state(), []
    state.watch(lambda prompt, k: reported.append([sid for sid, _ in prompt[:k + 1]]))
    for index in order:
        before = [state.reuse(p) for p in prompts]
        reported.clear()
        state.serve(prompts[index])
        assert state.single_prompt() == prompts[index]
        for prompt, old in zip(prompts, before):
            if state.reuse(prompt) != old:
                assert any([sid for sid, _ in prompt[:len(ids)]] == ids for ids in reported)
        (child,) = state.tree().children.values()
        assert (child.prompt, child.start, child.end, child.children) == (prompts[index], 0,
                                                                           prompt_length(prompts[index]), {})
        assert all(state.reuse(p) == overlap(p, prompts[index]) for p in prompts)


def test_an_empty_cache_is_an_empty_tree_and_copies_leave_the_listener():
    state = LastPromptCache().new_state()
    assert state.single_prompt() == () and state.tree().children == {}
    seen = []
    state.watch(lambda prompt, k: seen.append((prompt, k)))
    state.serve((("a", 2), ("b", 1)))
    copy = state.copy()
    copy.serve((("c", 1),))
    state.serve((("a", 2), ("d", 1)))
    assert seen == [((("a", 2), ("b", 1)), 0), ((("a", 2), ("b", 1)), 1), ((("a", 2), ("d", 1)), 1)]
