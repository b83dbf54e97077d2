"""``vllm``: vLLM V1's scheduler (chunked prefill always on).

Rule, each iteration with token budget ``B`` (github vllm-project/vllm, ``vllm/v1/core/sched/
scheduler.py``, ``Scheduler.schedule``):

1. The running list, in admission order (a request is appended when admitted, again after a
   preemption), is walked while budget is left: a decode takes 1 token, a running (chunked)
   prefill ``min(remaining, B - used)``. Decodes are cut by the budget. A decode that finds no free
   block preempts the *last* request of the running list (``self.running.pop()``), repeatedly; when
   that is the decode itself, the walk stops.
2. Only when nothing was preempted in this iteration, new prefills in the waiting order (FCFS, or
   ``--order``) while budget is left and fewer than ``max_num_seqs`` run: each gets
   ``min(|p'|, B - used)`` if its whole prompt fits in memory; the first that does not stops
   admission.

Where this reading differs from vLLM: vLLM allocates blocks chunk by chunk; here a request's whole
prompt is allocated at admission, as in every scheduler of the engine.

Examples
--------
Budget 4, cost ``10 + 1`` per token (us); A (6 prompt, 3 output) at 0, B (2 prompt, 2 output) at 0.
Iteration 1 [0, 14]: A's first 4 tokens. Iteration 2 [14, 28]: A (running) its last 2, then B 2:
both first tokens at 28. Iteration 3 [28, 40]: both decodes (A's 2nd and B's last token at 40).
Iteration 4 [40, 51]: A's last decode.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> from prefix_sched.solvers.serving.engine import serve
>>> run = serve(Workload.from_lengths([6, 2], [3, 2], [0, 0]), "vllm", budget=4,
...             cost=parse_cost("c0=10,cp=1,cd=1"))
>>> [run.token_times_us(i) for i in range(2)]
[[28, 40, 51], [28, 40]]
"""

from __future__ import annotations

import numpy as np

from prefix_sched.solvers.serving.engine import DECODE, DONE, EMPTY, Engine


class VllmV1:
    """vLLM V1; the order of new prefills is the engine's queue."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.run: list[int] = []  # admission order

    def may_stretch(self, n: int, waiting: bool) -> bool:
        return n <= self.e.budget  # every decode fits in the budget, and the waiting list sees the same budget

    def form(self, now: int):
        e = self.e
        budget = e.budget
        dec = EMPTY
        chunks: list[tuple[int, int]] = []
        used = 0
        if self.run:
            run = np.array(self.run, dtype=np.int64)
            is_dec = e.phase[run] == DECODE
            want = np.where(is_dec, 1, e.target[run] - e.done[run])
            cum = np.cumsum(want)
            k = int(np.searchsorted(cum, budget, side="right"))  # entries served whole
            dec = run[:k][is_dec[:k]]
            if len(dec) and not e.reserve(dec):
                return self._walk_preempting(now)
            for r in run[:k][~is_dec[:k]].tolist():
                chunks.append((r, e.remaining(r)))
            used = int(cum[k - 1]) if k else 0
            if k < len(run) and used < budget and not is_dec[k]:
                r = int(run[k])
                chunks.append((r, budget - used))
                used = budget
        return dec, self._admit(now, chunks, used)

    def _admit(self, now: int, chunks: list[tuple[int, int]], used: int) -> list[tuple[int, int]]:
        e = self.e
        for r, x in e.admit_new(now, e.budget - used):
            chunks.append((r, x))
            self.run.append(r)
        return chunks

    def _walk_preempting(self, now: int):
        """Step 1 one request at a time, preempting (memory is short)."""
        e = self.e
        budget = e.budget
        run = self.run
        dec: list[int] = []
        chunks: list[tuple[int, int]] = []
        used = 0
        i = 0
        preempted = False
        while i < len(run) and used < budget:
            r = run[i]
            if e.phase[r] != DECODE:
                x = min(e.remaining(r), budget - used)
                chunks.append((r, x))
                used += x
                i += 1
                continue
            scheduled = True
            while not e.reserve_one(r):
                victim = run.pop()
                e.preempt(victim)
                preempted = True
                if victim == r:
                    scheduled = False
                    break
            if not scheduled:
                break
            dec.append(r)
            used += 1
            i += 1
        dec_array = np.array(dec, dtype=np.int64)
        if preempted:
            return dec_array, chunks
        return dec_array, self._admit(now, chunks, used)

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        if len(finished) or at_prefill:
            phase = self.e.phase
            self.run = [r for r in self.run if phase[r] != DONE]
