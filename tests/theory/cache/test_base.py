"""The written interface of a cache model: a model of one's own, with only what the interface
requires, runs wherever reuse and serve are enough, and is refused with an InputError naming the
model (or its state) and what it lacks wherever more is needed: never an AttributeError."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower import lower_bound, violations_lower_bound, window_value
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import CacheModel, CacheState, parse_cache
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import EMPTY_PROMPT, overlap

from strategies import toy_stream


class PreviousPrompt(CacheModel):
    """Definition 2's cache written anew with the interface's minimum: a spec and a state."""

    spec = "previous"

    def new_state(self):
        return PreviousState()


class PreviousState(CacheState):
    __slots__ = ("prompt",)

    def __init__(self):
        self.prompt = EMPTY_PROMPT

    def reuse(self, prompt):
        return overlap(prompt, self.prompt)

    def serve(self, prompt):
        shared, self.prompt = overlap(prompt, self.prompt), prompt
        return shared

    def copy(self):
        clone = PreviousState()
        clone.prompt = self.prompt
        return clone


def test_a_minimal_model_is_evaluated_and_simulated_naively_as_last():
    stream = toy_stream()
    model = PreviousPrompt()
    assert parse_cache(model) is model and not model.is_last_prompt
    assert evaluate(stream, [0, 2, 1, 3], cache=model).reused == evaluate(stream, [0, 2, 1, 3]).reused
    for name in ("fcfs", "lpm", "k-lpm:1", "spf", "hrrn", "lpm-aging:2", "random"):
        naive = simulate(stream, parse_policy(name), cache=model, queue="naive", seed=1)
        assert naive.order == simulate(stream, parse_policy(name), seed=1).order
        assert naive.evaluation.cache == "previous"


@pytest.mark.parametrize("bound", [
    lambda stream, model: lower_bound(stream, cache=model),
    lambda stream, model: window_value(stream, 0, 0, cache=model),
    lambda stream, model: violations_lower_bound(stream, 15, cache=model),
])
def test_the_bounds_refuse_a_model_without_its_capacity(bound):
    with pytest.raises(InputError) as err:
        bound(toy_stream(), PreviousPrompt())
    assert str(err.value) == ("cache model 'previous' does not give its token capacity (CacheModel.token_capacity(): "
                              "the most tokens it caches at once, None when unbounded), which the lower bounds need")


def test_the_bounds_take_a_model_that_gives_its_capacity():
    """A model that gives its capacity (None: no limit) gets the bounds of a radix cache that
    never evicts: the same number as ``unbounded``."""

    class WithCapacity(PreviousPrompt):
        spec = "previous-unbounded"

        def token_capacity(self):
            return None

    stream = toy_stream()
    assert lower_bound(stream, cache=WithCapacity()).value == lower_bound(stream, cache="unbounded").value


@pytest.mark.parametrize("name, lacks", [("lpm", "CacheState.watch"), ("spf", "CacheState.watch"),
                                         ("hrrn", "CacheState.watch")])
def test_the_indexed_queues_refuse_a_state_without_what_they_need(name, lacks):
    with pytest.raises(InputError, match=rf"cache state PreviousState .*\({lacks}\).*queue='naive'"):
        simulate(toy_stream(), parse_policy(name), cache=PreviousPrompt())


@pytest.mark.parametrize("queue", ["indexed", "naive"])
def test_dfs_weight_refuses_a_state_without_a_tree(queue):
    with pytest.raises(InputError, match=r"cache state PreviousState .*\(CacheState.tree\), which dfs-weight walks"):
        simulate(toy_stream(), parse_policy("dfs-weight"), cache=PreviousPrompt(), queue=queue)


def test_an_incomplete_model_cannot_be_made():
    class NoState(CacheModel):
        spec = "none"

    with pytest.raises(TypeError, match="abstract"):
        NoState()
