"""The request table: every request's static data and dynamic state as numpy arrays indexed by
arrival rank, shared by the engines of a run, and the run's exact clock.

A request's *internal index* is its arrival rank (ties: workload order), so arrival order is index
order; :attr:`RequestTable.perm` maps it back to the workload. Times are integers of ticks of
``1 / D`` microseconds, ``D`` the least integer making every cost coefficient, ``catt / 2`` and
every arrival whole ticks (:meth:`~prefix_sched.theory.serving.costs.IterationCost.in_ticks`).
:meth:`RequestTable.timeline` gives the results back in the workload's order.

It also holds the request phases and the bound on times. It leaves out everything one engine owns
(its memory, queue and counters: :mod:`.memory`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from prefix_sched.theory.serving.costs import IterationCost, ticks_per_us_for
from prefix_sched.theory.serving.measures import Timeline
from prefix_sched.theory.serving.requests import Workload, strict_classes

WAITING, PREFILL, DECODE, DONE = 0, 1, 2, 3
"""A request's phase (:attr:`RequestTable.phase`)."""
EMPTY = np.empty(0, dtype=np.int64)
"""No requests (an empty index array)."""
MAX_TICKS = 1 << 62
"""Times must stay below this many ticks (int64 with room for sums); a run that would not is refused."""


class RequestTable:
    """Every request's static data and dynamic state, as numpy arrays indexed by arrival rank, shared
    by the engines of a run; and the run's clock (ticks of ``1 / D`` us, :meth:`IterationCost.in_ticks`)."""

    def __init__(self, workload: Workload, cost: IterationCost) -> None:
        self.workload = workload
        order = np.array(workload.arrival_order, dtype=np.int64)
        self.perm = order  # internal index k is workload request perm[k]
        reqs = [workload.requests[i] for i in workload.arrival_order]
        D = math.lcm(cost.ticks_per_us(), ticks_per_us_for(r.arrival_us for r in reqs))
        self.D = D
        self.tc = cost.in_ticks(D)
        self.arrival_list = [int(Fraction(r.arrival_us) * D) for r in reqs]
        n = len(reqs)
        self.n = n
        self.arrival = np.array(self.arrival_list, dtype=np.int64) if n else EMPTY
        self.prompt = np.array([r.prompt_tokens for r in reqs], dtype=np.int64)
        self.out = np.array([r.output_tokens for r in reqs], dtype=np.int64)
        self.rids = [r.rid for r in reqs]
        self.prompts = [r.prompt for r in reqs]
        names = [c.name for c in workload.classes]
        self.class_index = np.array([-1 if r.cls is None else names.index(r.cls) for r in reqs], dtype=np.int64)
        strict = set(strict_classes(workload.classes))
        self.strict = [r.cls in strict for r in reqs]
        self.class_tbt_ticks = [Fraction(c.tbt_us) * D for c in workload.classes]
        # dynamic state
        self.gen = np.zeros(n, dtype=np.int64)
        self.target = np.zeros(n, dtype=np.int64)
        self.done = np.zeros(n, dtype=np.int64)
        self.ctx = np.zeros(n, dtype=np.int64)
        self.blocks = np.zeros(n, dtype=np.int64)
        self.phase = np.zeros(n, dtype=np.int8)
        self.first_sched = np.full(n, -1, dtype=np.int64)
        self.preempted = np.zeros(n, dtype=np.int64)
        self.engine_of = np.full(n, -1, dtype=np.int64)
        self.cached = np.zeros(n, dtype=np.int64)
        self.off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.out, out=self.off[1:])
        self.times = np.zeros(int(self.off[-1]), dtype=np.int64)
        self._segments: list | None = None
        self.cums: list[list[int] | None] = []

    @property
    def segments(self) -> list:
        """Every request's prompt as segments (a length-only request: one segment of its own,
        ``(("#request", k), |p|)``, shared with nothing), by arrival rank; built on first use."""
        if self._segments is None:
            self._segments = [p if p is not None else ((("#request", k), int(self.prompt[k])),)
                              for k, p in enumerate(self.prompts)]
            self.cums = [None] * self.n
        return self._segments

    def timeline(self) -> Timeline:
        """The results in the workload's request order."""
        perm = self.perm
        n = self.n
        inverse = np.empty(n, dtype=np.int64)
        inverse[perm] = np.arange(n, dtype=np.int64)
        if np.array_equal(perm, np.arange(n)):
            times, offsets = self.times, self.off
            arrival, first, pre, engine, cached = self.arrival, self.first_sched, self.preempted, self.engine_of, \
                self.cached
        else:
            lengths = self.out[inverse]
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            starts = self.off[inverse]
            index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
            times = self.times[index]
            arrival, first, pre = self.arrival[inverse], self.first_sched[inverse], self.preempted[inverse]
            engine, cached = self.engine_of[inverse], self.cached[inverse]
        return Timeline(self.workload, self.D, arrival, first, offsets, times, pre, engine, cached)


SHARED = ("D", "tc", "arrival_list", "arrival", "prompt", "out", "rids", "prompts", "class_index", "strict",
          "class_tbt_ticks", "gen", "target", "done", "ctx", "blocks", "phase", "first_sched", "preempted",
          "engine_of", "cached", "off", "times")
"""The :class:`RequestTable` attributes an engine reads as its own (the same arrays for every engine)."""
