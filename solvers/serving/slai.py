"""``slai``, ``slai-sp``, ``slai-fcfs``: SLAI, the second seed's scheduler (deferred decodes).

Rule (github agrimUT/SLAI, ``sarathi/core/scheduler/slai_scheduler.py``, ``SLAIScheduler``; the
seed's configuration ``slai_scheduler_spf_dynamic_offset_user_priority``: token budget 512,
``limit_total_decodes`` 128, offsets 5 / 10 at ``memory_limit`` 0.96, ``user_priority``).

After each batch (``_post_batch_processing``), every request of the batch whose prompt is done and
that has not finished gets a *last schedulable time*
``LST_r = e + TBT_r - offset * mean``, with ``e`` the batch's end, ``TBT_r`` its class's objective
(200 ms without a class: SLAI's ``tbt_slo_value``), ``mean`` the mean duration of every iteration so
far, and ``offset`` 5, or 10 when the used KV blocks are >= 96% of all (after the finished requests
freed theirs; a fixed offset with ``slai:K``). Started prefills that are not done go to the back of
the *started-prefill list*, in batch order. Each iteration, with ``now`` its start:

1. Critical decodes: while budget is left and fewer than 128 decodes are taken, the decode with the
   least LST (ties: earlier arrival) if ``now >= LST``.
2. Started prefills, from the front of the list, while budget is left: ``min(remaining, B - used)``.
3. New prefills: the waiting requests ordered strict class first, then shortest prompt (``slai``),
   shortest prompt (``slai-sp``) or FCFS (``slai-fcfs``), while budget is left: the first whose whole
   prompt does not fit in memory, or that would make ``max_num_seqs`` requests run, stops admission;
   each gets ``min(|p'|, B - used)``.
4. Other decodes, least LST first, while budget is left and fewer than 128 decodes in all.

A decode not taken keeps its LST. A decode that finds no free block preempts the *last* request of
the started-prefill list (``paused_prefills.pop(-1)``: the most recently started or chunked prefill
not in the batch), repeatedly; with none there it preempts itself. The strict class is the class
with the smallest TBT objective. Exact: LSTs and the mean are exact rationals of ticks.

Examples
--------
Budget 4, cost ``10 + 1`` per token (us); A (2 prompt, 4 output, TBT 100 us, strict) at 0, B (6
prompt, 1 output, TBT 1000 us) at 0, objectives as classes.

- Iteration 1 [0, 14]: no decodes yet; A (strict) first: 2 tokens, then B: 2. A's first token 14.
  LST_A = 14 + 100 - 5 * 14 = 44.
- Iteration 2 [14, 28]: A is not critical (14 < 44); B (started) takes its last 4 and leaves no
  budget for A's decode (deferred). B's token at 28; B done. A keeps LST 44.
- Iteration 3 [28, 39]: A (still not critical) decodes in step 4. Mean = (14 + 14 + 11) / 3 = 13,
  LST_A = 39 + 100 - 65 = 74. Iterations 4 [39, 50] and 5 [50, 61]: A's last decodes.

>>> from prefix_sched.theory.serving.requests import Workload, parse_classes
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> from prefix_sched.solvers.serving.engine import serve
>>> classes = parse_classes("gold=1/2:100us,free=1/2:1000us")
>>> w = Workload.from_lengths([2, 6], [4, 1], [0, 0], classes=classes, class_index=[0, 1])
>>> [serve(w, "slai", budget=4, cost=parse_cost("c0=10,cp=1,cd=1")).token_times_us(i) for i in range(2)]
[[14, 39, 50, 61], [28]]

``sarathi`` runs A's decode first in iteration 2 (A's second token at 28) and finishes B at 40:

>>> [serve(w, "sarathi", budget=4, cost=parse_cost("c0=10,cp=1,cd=1")).token_times_us(i) for i in range(2)]
[[14, 28, 40, 51], [40]]
"""

from __future__ import annotations

from bisect import bisect_left
from fractions import Fraction

import numpy as np

from prefix_sched.solvers.serving.engine import DECODE, EMPTY, PREFILL, Engine

DECODE_LIMIT = 128
"""SLAI's ``limit_total_decodes``: at most this many decodes per batch."""
OFFSET_LOW, OFFSET_HIGH = 5, 10
"""SLAI's ``below_memory_limit_offset`` and ``above_memory_limit_offset``."""
MEMORY_LIMIT = Fraction(96, 100)
"""SLAI's ``memory_limit``: the KV use at which the offset turns high."""
DEFAULT_TBT_US = 200_000
"""SLAI's ``tbt_slo_value`` (0.2 s): the TBT of a request without a class."""


class Slai:
    """SLAI; the waiting order is the engine's queue (set by the registry row)."""

    def __init__(self, engine: Engine, offset=None) -> None:
        self.e = engine
        self.fixed = offset
        self.offset = offset if offset is not None else OFFSET_LOW
        self.keys: list[Fraction] = []  # the distinct LSTs of waiting decodes, ascending
        self.cohorts: list[np.ndarray] = []  # the decodes of each LST, arrival order
        self.paused: list[int] = []  # started prefills
        self.total = 0  # ticks of all finished iterations
        self.count = 0
        self.tbt = [_plain(t) for t in engine.class_tbt_ticks] + [DEFAULT_TBT_US * engine.D]  # index -1: no class
        self.groups = sorted(set(engine.class_index.tolist()))
        self._taken: list[np.ndarray] = []
        self._started: list[int] = []

    def may_stretch(self, n: int, waiting: bool) -> bool:
        """Every decode is taken (step 1 or 4) when ``n <= min(B, 128)``. With requests waiting, step 3
        must see budget in every iteration (``n < B``): which decodes are critical changes from one
        iteration to the next, and with ``n = B`` critical decodes the budget is gone before step 3."""
        return n <= DECODE_LIMIT and (n < self.e.budget if waiting else n <= self.e.budget)

    def form(self, now: int):
        e = self.e
        budget = e.budget
        self._taken = []
        self._started = started = []
        used, count = self._take(now, 0, 0, critical_only=True)
        chunks: list[tuple[int, int]] = []
        while self.paused and used < budget:
            r = self.paused.pop(0)
            x = min(e.remaining(r), budget - used)
            chunks.append((r, x))
            started.append(r)
            used += x
        for r, x in e.admit_new(now, budget - used):
            chunks.append((r, x))
            started.append(r)
            used += x
        self._take(now, used, count, critical_only=False)
        dec = np.concatenate(self._taken) if self._taken else EMPTY
        return dec, chunks

    def _take(self, now: int, used: int, count: int, *, critical_only: bool) -> tuple[int, int]:
        """Steps 1 (``critical_only``) and 4: decodes least LST first; returns (tokens used, decodes taken)."""
        e = self.e
        budget = e.budget
        keys = self.keys
        while keys and used < budget and count < DECODE_LIMIT:
            key = keys[0]
            if critical_only and now < key:
                break
            ids = self.cohorts[0]
            take = ids[:min(budget - used, DECODE_LIMIT - count)]
            if e.reserve(take):
                self._drop_front(len(take))
                self._taken.append(take)
                used += len(take)
                count += len(take)
                continue
            r = int(ids[0])  # memory is short: one decode at a time
            self._drop_front(1)
            if e.reserve_or_preempt(r, self.paused):
                self._taken.append(np.array([r], dtype=np.int64))
                used += 1
                count += 1
        return used, count

    def _drop_front(self, k: int) -> None:
        ids = self.cohorts[0]
        if k == len(ids):
            del self.cohorts[0]
            del self.keys[0]
        else:
            self.cohorts[0] = ids[k:]

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        e = self.e
        self.total += duration
        self.count += count
        for r in self._started:
            if e.phase[r] == PREFILL:
                self.paused.append(r)
        if self.fixed is None:
            high = e.limited and e.used_blocks() * MEMORY_LIMIT.denominator >= MEMORY_LIMIT.numerator * e.total_blocks
            self.offset = OFFSET_HIGH if high else OFFSET_LOW
        parts = list(self._taken)
        if completed:
            parts.append(np.array(completed, dtype=np.int64))
        if not parts:
            return
        ran = np.concatenate(parts)
        ran = ran[e.phase[ran] == DECODE]
        if not len(ran):
            return
        count = self.count
        scaled = end * count - self.offset * self.total  # (LST - TBT) * count
        groups = e.class_index[ran] if len(self.groups) > 1 else None
        for g in self.groups:
            ids = ran if groups is None else ran[groups == g]
            if not len(ids):
                continue
            key = Fraction(scaled + self.tbt[g] * count, count)
            i = bisect_left(self.keys, key)
            if i < len(self.keys) and self.keys[i] == key:
                self.cohorts[i] = np.sort(np.concatenate([self.cohorts[i], ids]))
            else:
                self.keys.insert(i, key)
                self.cohorts.insert(i, np.sort(ids))
        self._taken = []


def _plain(value: Fraction):
    """An int when ``value`` is whole (cheaper arithmetic), else the Fraction."""
    return int(value) if value.denominator == 1 else value
