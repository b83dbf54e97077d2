"""``sarathi`` and ``sarathi-spf``: Sarathi-Serve's stall-free batching.

Rule, each iteration with token budget ``B`` (github microsoft/sarathi-serve,
``sarathi/core/scheduler/sarathi_scheduler.py``, ``SarathiScheduler._schedule``; the SLAI fork's
copy adds the shortest-prompt sort of ``sarathi-spf``):

1. The running requests are taken in arrival order (``policy.sort_by_priority``: FCFS). Every
   running decode joins the batch, *not* cut by the budget (one token each). A decode that finds no
   free block preempts the latest-arriving running request not yet taken in this pass
   (``self.running.pop(-1)``), repeatedly; with none left it preempts itself.
2. Running (chunked) prefills, in arrival order, each get ``min(remaining, B - used)`` tokens.
3. New prefills, in the waiting order (FCFS; shortest prompt first for ``sarathi-spf``, or
   ``--order``), while memory holds the whole prompt, fewer than ``max_num_seqs`` requests run and
   budget is left: each gets ``min(|p'|, B - used)``; the first that cannot be admitted stops
   admission.

Examples
--------
Budget 4, cost ``10 + 1`` per token (us); A (6 prompt, 3 output) and B (2 prompt, 1 output) at 0.
Iteration 1 [0, 14]: A's first 4 prompt tokens. Iteration 2 [14, 28]: A's last 2 (running
prefill), then B's 2 (new): A's and B's first tokens at 28, B done. Iterations 3 [28, 39] and
4 [39, 50]: A's decodes.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> from prefix_sched.solvers.serving.engine import serve
>>> run = serve(Workload.from_lengths([6, 2], [3, 1], [0, 0]), "sarathi", budget=4,
...             cost=parse_cost("c0=10,cp=1,cd=1"))
>>> [run.token_times_us(i) for i in range(2)]
[[28, 39, 50], [28]]

With ``sarathi-spf`` B (shorter) goes first: iteration 1 [0, 14] is B's 2 and A's first 2 tokens.

>>> run = serve(Workload.from_lengths([6, 2], [3, 1], [0, 0]), "sarathi-spf", budget=4,
...             cost=parse_cost("c0=10,cp=1,cd=1"))
>>> [run.token_times_us(i) for i in range(2)]
[[28, 39, 50], [14]]
"""

from __future__ import annotations

from bisect import insort
from collections import deque

import numpy as np

from prefix_sched.solvers.serving.engine import DECODE, EMPTY, PREFILL, Engine


class Sarathi:
    """Sarathi-Serve; the order of new prefills is the engine's queue."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.dec = EMPTY  # running decodes, arrival order
        self.pre: list[int] = []  # running prefills, arrival order

    def may_stretch(self, n: int, waiting: bool) -> bool:
        return True  # decodes are never cut, so an all-decode batch repeats while nothing changes

    def form(self, now: int):
        e = self.e
        budget = e.budget
        dec = self.dec
        if len(dec) and not e.reserve(dec):
            dec = self._decodes_preempting()
        used = len(dec)
        chunks = []
        for r in self.pre:
            x = min(e.remaining(r), budget - used)
            if x > 0:
                chunks.append((r, x))
                used += x
        for r, x in e.admit_new(now, budget - used):
            chunks.append((r, x))
            insort(self.pre, r)
        return dec, chunks

    def _decodes_preempting(self) -> np.ndarray:
        """Phase 1 one request at a time, preempting (memory is short)."""
        e = self.e
        remaining = deque(sorted([*self.dec.tolist(), *self.pre]))
        kept_dec: list[int] = []
        kept_pre: list[int] = []
        while remaining:
            r = remaining.popleft()
            if e.phase[r] == PREFILL:
                kept_pre.append(r)
                continue
            if e.reserve_or_preempt(r, remaining):
                kept_dec.append(r)
        self.pre = kept_pre
        self.dec = np.array(kept_dec, dtype=np.int64)
        return self.dec

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        e = self.e
        if len(finished):
            self.dec = self.dec[e.phase[self.dec] == DECODE]
        if completed or at_prefill:
            self.pre = [r for r in self.pre if e.phase[r] == PREFILL]
            if completed:
                self.dec = np.sort(np.concatenate([self.dec, np.array(completed, dtype=np.int64)]))
