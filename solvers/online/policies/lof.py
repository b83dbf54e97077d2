"""``lof``: longest output first (SGLang).

Key: ``o_q``, the query's output length; ties to the oldest. A stream without output lengths is
refused (by the simulator, naming the query).

Indexed: a :class:`~prefix_sched.solvers.online.queues.keyed.KeyedQueue` with a fixed key per query.
Naive: the key, for every waiting query at every decision.
"""

from __future__ import annotations

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.queues import KeyedQueue, NaivePolicyQueue, QueueInputs


def indexed_queue(spec, run: QueueInputs) -> KeyedQueue:
    outputs = run.outputs
    return KeyedQueue(len(run.prompts), lambda rank, m: outputs[rank], None, spec.tie_break == "random")


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    outputs = run.outputs
    if outputs is None:
        raise InputError("policy 'lof' needs output lengths")
    return NaivePolicyQueue.by_key(lambda rank, step, entered: outputs[rank], spec.tie_break == "random")
