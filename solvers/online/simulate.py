"""Run a policy on a stream: the online server, or the fixed-order view of Definition 2.

Online view (what a serving system does): the server is non-preemptive; at each decision only
arrived, unserved queries are eligible; when none is, the server idles until the next arrival and
decides among the queries that have arrived by then.

Fixed-order view: the policy orders the whole stream as if every query were waiting from the start
(FCFS steps take the earliest arrival), and Definition 2 then serves that order, waiting for a
query that has not arrived yet. Theorem 2's LPM argument is about this view.

Either way the order is then scored by the Definition 2 evaluator, the single source of truth; the
simulator's own clock (which it needs to know who has arrived) is checked against it. With batch
size ``B > 1`` the order is formed with batch-size-one dynamics and then cut into bins of ``B``
(Section 2.1).

Every run also reports fairness and starvation (:class:`PolicyRun`), named as in the one
vocabulary of a run's figures (:mod:`~prefix_sched.theory.measures`): ``max_waited``, the most
decisions any query waited (the decisions made from the one at which it entered the queue to the
one that served it, not counting that one; online a query enters at the first decision made at or
after its arrival, in the fixed view at decision 0), ``jain_slowdown``, Jain's index of the
per-query slowdowns (:func:`~prefix_sched.theory.measures.jain_index`; a float, everything else is
exact), and ``fcfs_fallbacks``, the decisions an LPM with an FCFS fallback made by FCFS.
:meth:`PolicyRun.measures` gives any measure of the vocabulary by name.

The cache model (``cache``: ``"last"``, the default, ``"lru:TOKENS"`` or ``"unbounded"``; see
:mod:`~prefix_sched.theory.cache`) is one state that the server serves each query into; LPM steps
match against it (under a radix cache, the longest cached prefix anywhere in the tree) and the
evaluator recomputes the reuse with the same model.

Examples
--------
>>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
>>> from prefix_sched.solvers.online.policies import parse_policy
>>> s = regular_arrival_shuffled_queue(n=8, r=2, u=5, d=5, delta=0, seed=3)
>>> run = simulate(s, parse_policy("lpm"))
>>> run.evaluation.max_ttft <= simulate(s, parse_policy("fcfs")).evaluation.max_ttft
True
>>> simulate(s, parse_policy("lpm"), cache="unbounded").evaluation.total_reused >= run.evaluation.total_reused
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import PolicyName, PolicySpec, make_policy_queue
from prefix_sched.solvers.online.queues import QUEUES
from prefix_sched.theory.cache import DEFAULT_CACHE, CacheModel, parse_cache, paused_cyclic_gc
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.measures import Value, jain_index, measure, slowdowns
from prefix_sched.theory.numbers import Exact, exact_int, exact_number, to_json
from prefix_sched.theory.stream import Stream

VIEWS = ("online", "fixed")
"""How a policy orders a stream: the online server, or the fixed-order view of Definition 2."""


@dataclass(frozen=True)
class PolicyRun:
    """A policy's order with its evaluator-checked times and the settings that produced it.

    ``waited`` is per position of ``order``; ``jain_slowdown`` and ``fcfs_fallbacks`` (None unless
    the policy has an FCFS fallback) are named as in :mod:`~prefix_sched.theory.measures`.
    """

    policy: PolicySpec
    view: str
    order: tuple[int, ...]
    evaluation: Evaluation
    seed: int | None
    waited: tuple[int, ...] = ()
    jain_slowdown: float = math.nan
    fcfs_fallbacks: int | None = None

    @property
    def max_waited(self) -> int:
        """The most decisions any query waited (starvation); ``waited`` is per position of ``order``."""
        return max(self.waited)

    def settings(self) -> dict[str, Any]:
        """Everything needed to reproduce the run, for result files."""
        return {
            **self.policy.as_dict(), "view": self.view, "seed": self.seed,
            "alpha": to_json(self.evaluation.alpha), "batch_size": self.evaluation.batch_size,
            "cache": self.evaluation.cache,
        }

    def figures(self) -> dict[str, Any]:
        """The figures only the run knows (:data:`~prefix_sched.theory.measures.RUN_FIGURES`) and
        the Jain index it computed, by their names in :mod:`~prefix_sched.theory.measures`."""
        return {"max_waited": self.max_waited, "jain_slowdown": self.jain_slowdown,
                "fcfs_fallbacks": self.fcfs_fallbacks}

    def fairness(self) -> dict[str, Any]:
        """The starvation and fairness figures, for result files (``fcfs_fallbacks`` only where
        the policy has an FCFS fallback)."""
        return {name: value for name, value in self.figures().items() if value is not None}

    def measures(self, stream: Stream, names: Sequence[str], ttft: Exact | None = None) -> dict[str, Value]:
        """The measures ``names`` (:data:`~prefix_sched.theory.measures.MEASURES`) of this run of
        ``stream`` (the stream it served), by name; ``ttft`` is the bound ``violations`` counts
        against.

        >>> from prefix_sched.solvers.online.policies import parse_policy
        >>> from prefix_sched.theory.stream import Stream
        >>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("v", 9),), 0), ("c", (("u", 5),), 0)])
        >>> simulate(s, parse_policy("lpm")).measures(s, ("max", "reused", "max_waited", "fcfs_fallbacks"))
        {'max': 19, 'reused': 5, 'max_waited': 2, 'fcfs_fallbacks': None}
        """
        return measure(self.evaluation, stream, names, ttft, self.figures())


def simulate(
    stream: Stream,
    policy: PolicySpec,
    *,
    alpha: object = 0,
    batch_size: int = 1,
    view: str = "online",
    queue: str = "indexed",
    cache: str | CacheModel = DEFAULT_CACHE,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PolicyRun:
    """Serve ``stream`` with ``policy`` and evaluate the resulting order.

    Parameters
    ----------
    stream : Stream
    policy : PolicySpec
        From :func:`~prefix_sched.solvers.online.policies.parse_policy`.
    alpha : exact number, default 0
    batch_size : int, default 1
    view : {"online", "fixed"}
    queue : {"indexed", "naive"}
        The waiting queue: the index for the cache model, or the naive rescan (they make identical
        decisions).
    cache : str or CacheModel, default "last"
        The cache model, e.g. ``"last"``, ``"lru:100000"``, ``"unbounded"``.
    seed : int, optional
        Needed when the policy draws at random (``random``, or ``tie_break == "random"``).
    progress : callable, optional
        Called with the number of queries served, every 10,000 decisions and at the end.
    """
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}; valid: {', '.join(VIEWS)}")
    if queue not in QUEUES:
        raise InputError(f"unknown queue {queue!r}; valid: {', '.join(QUEUES)}")
    alpha = exact_number(alpha, "alpha", minimum=0)
    cache = parse_cache(cache)
    cache.check_stream(stream)
    if policy.randomized:
        if seed is None:
            raise InputError(f"{policy.label}: a random choice needs a seed")
        seed = exact_int(seed, "seed", minimum=0)
    if policy.name is PolicyName.LOF:
        missing = next((q for q in stream.queries if q.output_length is None), None)
        if missing is not None:
            raise InputError(f"policy 'lof' needs output lengths, but query {missing.qid!r} has none "
                             "(give each query an output_length)")
    rng = np.random.default_rng(seed) if policy.randomized else None
    with paused_cyclic_gc():
        order, clock, waited, fallbacks = _serve(stream, policy, alpha, view, queue, cache, rng, progress)
        evaluation = evaluate(stream, order, alpha=alpha, batch_size=batch_size, cache=cache)
    if batch_size == 1 and evaluation.completion[-1] != clock:
        raise AssertionError(f"simulator clock {clock} disagrees with the evaluator {evaluation.completion[-1]}")
    jain = jain_index(slowdowns(stream, evaluation))
    return PolicyRun(policy, view, tuple(order), evaluation, seed, waited, jain, fallbacks)


def _serve(stream, policy, alpha, view, queue, cache, rng, progress):
    scale, alpha_scaled, scaled = integer_timebase(stream, alpha)
    ranked = stream.arrival_order
    prompts = [stream.queries[i].prompt for i in ranked]
    lengths = [stream.lengths[i] for i in ranked]
    arrivals = [scaled[i] for i in ranked]
    outputs = [stream.queries[i].output_length for i in ranked] if policy.needs_outputs else None
    state = cache.new_state()
    waiting = make_policy_queue(policy, queue, prompts, arrivals, outputs, state, scale, alpha_scaled)
    n = len(ranked)
    admitted = 0
    add, pop, serve = waiting.add, waiting.pop, state.serve
    entered = [0] * n
    if view == "fixed":
        for rank in range(n):
            add(rank, 0, 0)
        admitted = n
    order, clock, served_at = [], 0, [0] * n
    for step in range(n):
        if view == "online":
            if not len(waiting) and arrivals[admitted] > clock:
                clock = arrivals[admitted]
            while admitted < n and arrivals[admitted] <= clock:
                entered[admitted] = step
                add(admitted, step, clock)
                admitted += 1
        rank = pop(step, clock, rng)
        served_at[rank] = step
        length = lengths[rank]
        shared = serve(prompts[rank])
        start = clock if clock > arrivals[rank] else arrivals[rank]
        clock = start + scaled_cost(length, shared, scale, alpha_scaled)
        order.append(ranked[rank])
        if progress is not None and (step + 1) % 10_000 == 0:
            progress(step + 1)
    if progress is not None:
        progress(n)
    rank_of = {index: rank for rank, index in enumerate(ranked)}
    waited = tuple(served_at[rank_of[index]] - entered[rank_of[index]] for index in order)
    final = exact_number(clock, "clock") if scale == 1 else exact_number(f"{clock}/{scale}", "clock")
    return order, final, waited, getattr(waiting, "fallbacks", None) if policy.name is PolicyName.SGLANG_LPM else None
