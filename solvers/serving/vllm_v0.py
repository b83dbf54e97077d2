"""``vllm-v0``: vLLM V0's default scheduler (prefill first, no chunking).

Rule, each iteration with token budget ``B`` (github vllm-project/vllm v0.6, ``vllm/core/
scheduler.py``, ``Scheduler._schedule_default``: ``_schedule_prefills`` first, running decodes only
when no prefill was scheduled):

1. Prefill batch: new prefills in the waiting order (FCFS, or ``--order``), each with its *whole*
   prompt ``|p'|`` (its uncached part under a prefix cache), while it fits in the budget left, fewer than ``max_num_seqs`` run and its prompt
   fits in memory; the first that does not stops. If at least one was admitted the batch is these
   prefills alone.
2. Otherwise a decode batch: the running requests in arrival order, one token each, cut by the
   budget. A decode that finds no free block preempts the latest-arriving running request not yet
   taken (``running_queue.pop()``), repeatedly; with none left it preempts itself.

A prompt must fit in the budget: every ``|p| <= B``, and with a memory limit (recompute prompts
``|p| + g``) every ``|p| + o - 1 <= B``, checked up front (vLLM's ``max_num_batched_tokens >=
max_model_len``).

Examples
--------
Budget 8, cost ``10 + 1`` per token (us); A (6 prompt, 3 output) at 0, B (2 prompt, 2 output) at 1.
Iteration 1 [0, 16]: A's whole prompt (B has not arrived). Iteration 2 [16, 28]: B's prompt (a
prefill batch; A's decode waits). Iteration 3 [28, 40]: A and B decode (B done). Iteration 4
[40, 51]: A's last token.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> from prefix_sched.solvers.serving.engine import serve
>>> run = serve(Workload.from_lengths([6, 2], [3, 2], [0, 1]), "vllm-v0", budget=8,
...             cost=parse_cost("c0=10,cp=1,cd=1"))
>>> [run.token_times_us(i) for i in range(2)]
[[16, 40, 51], [28, 40]]
"""

from __future__ import annotations

from collections import deque

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import DECODE, EMPTY, Engine


class VllmV0:
    """vLLM V0; the order of new prefills is the engine's queue."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.dec = EMPTY  # running requests (all decoding between iterations), arrival order
        longest = engine.prompt + (engine.out - 1 if engine.limited else 0)
        worst = int(np.argmax(longest))
        if longest[worst] > engine.budget:
            what = "prompt" if not engine.limited else "prompt + output - 1 (its longest recompute prompt)"
            raise InputError(f"vllm-v0 prefills whole prompts: request {engine.rids[worst]!r} has a {what} of "
                             f"{int(longest[worst])} tokens, more than the budget {engine.budget}")

    def may_stretch(self, n: int, waiting: bool) -> bool:
        return n <= self.e.budget

    def form(self, now: int):
        e = self.e
        budget = e.budget
        queue = e.queue
        if len(queue):
            chunks = []
            used = 0
            for r in queue.ordered(now):
                length = e.prefill_length(r)
                if used + length > budget or e.n_running >= e.max_seqs or not e.can_allocate(r):
                    break
                queue.take(r)
                length = e.admit(r, now)
                chunks.append((r, length))
                used += length
            if chunks:
                return EMPTY, chunks
        dec = self.dec[:budget]
        if len(dec) and not e.reserve(dec):
            dec = self._decodes_preempting()
        return dec, []

    def _decodes_preempting(self) -> np.ndarray:
        e = self.e
        remaining = deque(self.dec.tolist())
        taken: list[int] = []
        while remaining and len(taken) < e.budget:
            r = remaining.popleft()
            if e.reserve_or_preempt(r, remaining):
                taken.append(r)
        self.dec = np.array(taken + list(remaining), dtype=np.int64)
        return np.array(taken, dtype=np.int64)

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        e = self.e
        if len(finished):
            self.dec = self.dec[e.phase[self.dec] == DECODE]
        if completed:
            self.dec = np.sort(np.concatenate([self.dec, np.array(completed, dtype=np.int64)]))
