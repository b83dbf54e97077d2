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

The cache model (``cache``: ``"last"``, the default, ``"lru:TOKENS"`` or ``"unbounded"``; see
:mod:`~prefix_sched.theory.cache`) is one state that the server serves each query into; LPM steps
match against it (under a radix cache, the longest cached prefix anywhere in the tree) and the
evaluator recomputes the reuse with the same model.

Examples
--------
>>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
>>> from prefix_sched.solvers.policies import parse_policy
>>> s = regular_arrival_shuffled_queue(n=8, r=2, u=5, d=5, delta=0, seed=3)
>>> run = simulate(s, parse_policy("lpm"))
>>> run.evaluation.max_ttft <= simulate(s, parse_policy("fcfs")).evaluation.max_ttft
True
>>> simulate(s, parse_policy("lpm"), cache="unbounded").evaluation.total_reused >= run.evaluation.total_reused
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.policies import PolicySpec
from prefix_sched.solvers.waiting import QUEUES, make_queue
from prefix_sched.theory.cache import DEFAULT_CACHE, CacheModel, parse_cache, paused_cyclic_gc
from prefix_sched.theory.evaluator import Evaluation, evaluate, integer_timebase
from prefix_sched.theory.exact import exact_int, exact_number, to_json
from prefix_sched.theory.stream import Stream

VIEWS = ("online", "fixed")


@dataclass(frozen=True)
class PolicyRun:
    """A policy's order with its evaluator-checked times and the settings that produced it."""

    policy: PolicySpec
    view: str
    order: tuple[int, ...]
    evaluation: Evaluation
    seed: int | None

    def settings(self) -> dict[str, Any]:
        """Everything needed to reproduce the run, for result files."""
        return {
            **self.policy.as_dict(), "view": self.view, "seed": self.seed,
            "alpha": to_json(self.evaluation.alpha), "batch_size": self.evaluation.batch_size,
            "cache": self.evaluation.cache,
        }


def simulate(
    stream: Stream,
    policy: PolicySpec,
    *,
    alpha: object = 0,
    batch_size: int = 1,
    view: str = "online",
    queue: str = "radix",
    cache: str | CacheModel = DEFAULT_CACHE,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PolicyRun:
    """Serve ``stream`` with ``policy`` and evaluate the resulting order.

    Parameters
    ----------
    stream : Stream
    policy : PolicySpec
        From :func:`~prefix_sched.solvers.policies.parse_policy`.
    alpha : exact number, default 0
    batch_size : int, default 1
    view : {"online", "fixed"}
    queue : {"radix", "naive"}
        The waiting queue: the index for the cache model, or the naive rescan (they make identical
        decisions).
    cache : str or CacheModel, default "last"
        The cache model, e.g. ``"last"``, ``"lru:100000"``, ``"unbounded"``.
    seed : int, optional
        Needed when ``policy.tie_break == "random"``.
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
    if policy.tie_break == "random":
        if seed is None:
            raise InputError("random tie-breaking needs a seed")
        seed = exact_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed) if policy.tie_break == "random" else None
    with paused_cyclic_gc():
        order, clock = _serve(stream, policy, alpha, view, queue, cache, rng, progress)
        evaluation = evaluate(stream, order, alpha=alpha, batch_size=batch_size, cache=cache)
    if batch_size == 1 and evaluation.completion[-1] != clock:
        raise AssertionError(f"simulator clock {clock} disagrees with the evaluator {evaluation.completion[-1]}")
    return PolicyRun(policy, view, tuple(order), evaluation, seed)


def _serve(stream, policy, alpha, view, queue, cache, rng, progress) -> tuple[list[int], object]:
    scale, alpha_scaled, scaled = integer_timebase(stream, alpha)
    ranked = stream.arrival_order
    prompts = [stream.queries[i].prompt for i in ranked]
    lengths = [stream.lengths[i] for i in ranked]
    arrivals = [scaled[i] for i in ranked]
    state = cache.new_state()
    waiting = make_queue(queue, prompts, state, random_ties=rng is not None)
    n = len(ranked)
    admitted = 0
    add, pop_oldest, pop_lpm, serve, is_fcfs_step = (
        waiting.add, waiting.pop_oldest, waiting.pop_lpm, state.serve, policy.is_fcfs_step
    )
    if view == "fixed":
        for rank in range(n):
            add(rank)
        admitted = n
    order, clock = [], 0
    for step in range(n):
        if view == "online":
            if not len(waiting) and arrivals[admitted] > clock:
                clock = arrivals[admitted]
            while admitted < n and arrivals[admitted] <= clock:
                add(admitted)
                admitted += 1
        rank = pop_oldest() if is_fcfs_step(step) else pop_lpm(rng)
        length = lengths[rank]
        shared = serve(prompts[rank])
        start = clock if clock > arrivals[rank] else arrivals[rank]
        clock = start + scale * (length - shared) + alpha_scaled * (length * length - shared * shared)
        order.append(ranked[rank])
        if progress is not None and (step + 1) % 10_000 == 0:
            progress(step + 1)
    if progress is not None:
        progress(n)
    return order, exact_number(clock, "clock") if scale == 1 else exact_number(f"{clock}/{scale}", "clock")
