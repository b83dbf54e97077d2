"""``shortest-prompt``: SLAI's prefill reordering, cache-unaware.

Key: ``-|p_q|``, the shortest prompt, whatever is cached; ties to the oldest.

Indexed: a :class:`~prefix_sched.solvers.online.queues.keyed.KeyedQueue` with a fixed key per query
(no tracker). Naive: the key, for every waiting query at every decision.
"""

from __future__ import annotations

from prefix_sched.solvers.online.queues import KeyedQueue, NaivePolicyQueue, QueueInputs
from prefix_sched.theory.prompt import prompt_length


def indexed_queue(spec, run: QueueInputs) -> KeyedQueue:
    lengths = [prompt_length(p) for p in run.prompts]
    return KeyedQueue(len(run.prompts), lambda rank, m: -lengths[rank], None, spec.tie_break == "random")


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    prompts = run.prompts
    return NaivePolicyQueue.by_key(lambda rank, step, entered: -prompt_length(prompts[rank]),
                                   spec.tie_break == "random")
