"""``lpm-aging:N``: LPM with aging, against starvation (proposed upstream).

Key at decision ``s``: ``m_q + N (s - s_q)``, the cached prefix plus ``N`` tokens for each earlier
decision at which the query already waited (``s_q``: the decision at which it entered the queue;
online the first decision made at or after its arrival, in the fixed view 0). Ties to the oldest,
or a uniformly random tied query with ``tie_break="random"``.

Indexed: a :class:`~prefix_sched.solvers.online.queues.keyed.KeyedQueue` keyed by ``m_q - N s_q``
(the same order at every decision: ``N s`` is common to all), ``m_q`` kept current by a
:class:`~prefix_sched.solvers.online.queues.tracker.MatchTracker`. Naive: the key itself, for every
waiting query at every decision.
"""

from __future__ import annotations

from prefix_sched.solvers.online.queues import KeyedQueue, MatchTracker, NaivePolicyQueue, QueueInputs


def label(spec, ties: str) -> str:
    """``lpm-aging(N=...)``."""
    return f"lpm-aging(N={spec.param}{ties})"


def indexed_queue(spec, run: QueueInputs) -> KeyedQueue:
    weight, entered = spec.param, [0] * len(run.prompts)
    return KeyedQueue(len(run.prompts), lambda rank, m: m - weight * entered[rank], MatchTracker(run.prompts, run.state),
                      spec.tie_break == "random", entered)


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    reuse, prompts, weight = run.state.reuse, run.prompts, spec.param
    return NaivePolicyQueue.by_key(lambda rank, step, entered: reuse(prompts[rank]) + weight * (step - entered[rank]),
                                   spec.tie_break == "random")
