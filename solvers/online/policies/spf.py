"""``spf``: shortest prefill first (SGLang's shortest-prefill-first, TensorRT-LLM's
shortest_uncached_first).

Key: ``-(|p_q| - m_q)``, the fewest uncached tokens under the run's cache model; ties to the
oldest, or a uniformly random tied query with ``tie_break="random"``.

Indexed: a :class:`~prefix_sched.solvers.online.queues.keyed.KeyedQueue` keyed by ``m_q - |p_q|``,
``m_q`` kept current by a :class:`~prefix_sched.solvers.online.queues.tracker.MatchTracker`. Naive:
the key, for every waiting query at every decision.

Examples
--------
>>> from prefix_sched.solvers.online.policies import parse_policy
>>> from prefix_sched.theory.cache import parse_cache
>>> prompts = [(("a", 4),), (("a", 4), ("b", 2)), (("c", 1),)]
>>> orders = []
>>> for build in (indexed_queue, naive_queue):
...     state = parse_cache("last").new_state()
...     _ = state.serve((("a", 4), ("b", 2)))
...     queue = build(parse_policy("spf"), QueueInputs(prompts, [0, 0, 0], None, state, 1, 0))
...     for rank in range(3):
...         queue.add(rank, 0, 0)
...     orders.append([queue.pop(0, 0, None) for _ in range(3)])
>>> orders
[[0, 1, 2], [0, 1, 2]]
"""

from __future__ import annotations

from prefix_sched.solvers.online.queues import KeyedQueue, MatchTracker, NaivePolicyQueue, QueueInputs
from prefix_sched.theory.prompt import prompt_length


def indexed_queue(spec, run: QueueInputs) -> KeyedQueue:
    lengths = [prompt_length(p) for p in run.prompts]
    return KeyedQueue(len(run.prompts), lambda rank, m: m - lengths[rank], MatchTracker(run.prompts, run.state),
                      spec.tie_break == "random")


def naive_queue(spec, run: QueueInputs) -> NaivePolicyQueue:
    reuse, prompts = run.state.reuse, run.prompts
    return NaivePolicyQueue.by_key(lambda rank, step, entered: reuse(prompts[rank]) - prompt_length(prompts[rank]),
                                   spec.tie_break == "random")
