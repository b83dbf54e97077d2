"""The ``unbounded`` model: nothing is ever evicted, so a prompt reuses its longest prefix shared
with any prompt served before (recomputed here from the token expansion)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.theory.cache import UnboundedCache, parse_cache
from prefix_sched.theory.prompt import expand_tokens

from strategies import streams


def _shared(a, b) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@settings(max_examples=100, deadline=None)
@given(stream=streams(max_n=10), data=st.data())
def test_reuse_is_the_longest_prefix_shared_with_any_earlier_prompt(stream, data):
    order = data.draw(st.permutations(range(stream.n)))
    tokens = [expand_tokens(stream.queries[i].prompt) for i in order]
    expected = [max((_shared(t, earlier) for earlier in tokens[:i]), default=0) for i, t in enumerate(tokens)]
    assert UnboundedCache().reuse_along([stream.queries[i].prompt for i in order]) == expected


def test_the_model_is_its_spec():
    model = parse_cache("unbounded")
    assert model == UnboundedCache() and model.spec == "unbounded" and model.token_capacity() is None
    assert model.new_state().capacity is None and not model.is_last_prompt
