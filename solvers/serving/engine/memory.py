"""One engine: its KV memory and the state of the requests routed to it, and the mechanics its
scheduler calls (:class:`Engine`).

Memory (the engine's rules, :mod:`prefix_sched.solvers.serving.engine`): ``floor(M / b)`` blocks of
``b`` tokens; admitting a request allocates its whole prompt ``|p'|`` (:meth:`Engine.can_allocate`,
:meth:`Engine.admit`); a decode takes a new block when its sequence crosses a block boundary
(:meth:`Engine.reserve`, :meth:`Engine.reserve_one`); preemption by recompute frees everything
(:meth:`Engine.preempt`). Under a prefix cache (block size 1) a request's matched prefix is locked
instead of allocated, its computed chunks enter the tree (:meth:`Engine.insert_chunk`) and free
memory is taken from unlocked leaves when short. :meth:`Engine.finish` frees what finished requests
held; :meth:`Engine.duration` is a batch's time under the iteration cost.

It leaves out when iterations run and what they emit (:mod:`.loop`) and which requests a batch
holds (the schedulers).
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine.config import EngineConfig
from prefix_sched.solvers.serving.engine.table import DONE, MAX_TICKS, PREFILL, SHARED, WAITING, RequestTable
from prefix_sched.solvers.serving.prefix_cache import EngineCache
from prefix_sched.theory.cache.radix import segment_offsets
from prefix_sched.theory.serving.requests import Workload


class Engine:
    """One engine's state and mechanics over a :class:`RequestTable`; schedulers read it and call
    :meth:`admit`, :meth:`reserve`, :meth:`reserve_one` and :meth:`preempt`.

    Its own state: free KV blocks, running and finished counts, the waiting queue, and two loads the
    routers read at an arrival: :attr:`outstanding` (requests routed to it and not finished) and
    :attr:`work` (their outstanding tokens: for each, the prompt tokens it has still to prefill,
    ``|p'|`` when waiting, plus the output tokens it has still to emit).
    """

    def __init__(self, workload: Workload | RequestTable, config: EngineConfig, rng: np.random.Generator | None = None,
                 index: int = 0) -> None:
        table = workload if isinstance(workload, RequestTable) else RequestTable(workload, config.cost)
        self.table = table
        self.workload = table.workload
        for name in SHARED:
            setattr(self, name, getattr(table, name))
        self.n = table.n
        self.index = index
        self.config = config
        self.budget = config.budget
        self.max_seqs = config.max_seqs
        self.block = config.block_size
        self.rng = rng
        self.limited = config.kv_tokens is not None
        self.total_blocks = config.kv_tokens // config.block_size if self.limited else 0
        self.free = self.total_blocks
        self.n_running = 0
        self.n_done = 0
        self.routed = 0
        self.outstanding = 0  # requests routed here and not finished
        self.work = 0
        self.out_left = 0  # output tokens its unfinished requests have still to emit
        self.preemptions_now = 0
        self.preemptions_total = 0
        self.queue = None  # set by the scheduler
        self.cache = None if config.prefix_cache == "none" else EngineCache(evicts=config.prefix_cache == "lru")
        self.node: dict[int, Any] = {}  # a running request's locked node in the cache
        self.segments = table.segments if self.cache is not None else None
        if index == 0:  # the engines are alike: the first checks for all
            self._check_fits()

    # --- validation ---------------------------------------------------------------------------

    def _check_fits(self) -> None:
        if self.limited:
            need = -(-(self.prompt + self.out - 1) // self.block)
            worst = int(np.argmax(need)) if self.n else 0
            if self.n and need[worst] > self.total_blocks:
                r = self.rids[worst]
                raise InputError(
                    f"request {r!r} needs {int(self.prompt[worst] + self.out[worst] - 1)} tokens of KV memory "
                    f"(prompt {int(self.prompt[worst])} + output {int(self.out[worst])} - 1), more than the "
                    f"{self.total_blocks} blocks of {self.block} in kv_tokens = {self.config.kv_tokens}")
        tc = self.tc
        # No batch holds more tokens than the workload has nor more requests than it has, so a
        # budget or max_num_seqs above those behaves as those (and bounds nothing beyond them).
        total = int((self.prompt + self.out).sum())
        budget, seqs = min(self.budget, total), min(self.max_seqs, self.n)
        longest = int((self.prompt + self.out).max()) if self.n else 0
        biggest = (tc.k0 + (tc.kp + tc.kd) * (budget + seqs) + tc.kkv * seqs * longest
                   + tc.katt2 * budget * (2 * longest + budget))
        work = total * 2 + self.n
        if self.n and self.arrival_list[-1] + biggest * work >= MAX_TICKS:
            raise InputError(f"exact times in ticks of 1/{self.D} us could exceed 2^62 on this workload; "
                             "use coarser arrival times or cost coefficients")

    # --- what schedulers call -----------------------------------------------------------------

    def prefill_target(self, r: int) -> int:
        """``|p'|``: the prompt request ``r`` prefills when admitted (its prompt plus tokens generated)."""
        return int(self.prompt[r] + self.gen[r])

    def can_allocate(self, r: int) -> bool:
        """Whether the whole prompt ``|p'|`` of waiting request ``r`` fits in the free blocks (with a
        prefix cache: its uncached part, in free tokens plus what eviction could free, less the
        unlocked tokens its match would lock)."""
        if not self.limited:
            return True
        if self.cache is None:
            return -(-self.prefill_target(r) // self.block) <= self.free
        target = self.prefill_target(r)
        matched, unlocked = self.cache.probe(self.segments[r], target - 1)
        return target - matched <= self.free + self.cache.evictable - unlocked

    def prefill_length(self, r: int) -> int:
        """The tokens waiting request ``r`` would prefill if admitted now: ``|p'|``, less its cached
        prefix (at most ``|p'| - 1``) under a prefix cache; nothing changes."""
        target = self.prefill_target(r)
        if self.cache is None:
            return target
        return target - min(self.cache.reuse(self.segments[r]), target - 1)

    def admit(self, r: int, now: int) -> int:
        """Allocate ``r``'s prompt, make it a running prefill; return the tokens it has to prefill
        (``|p'|`` without a cache). The caller checked :meth:`can_allocate` and took ``r`` from the
        queue. With a prefix cache the prompt's cached prefix ``m`` (at most ``|p'| - 1``) is locked
        and only ``|p'| - m`` tokens are allocated (evicting when short); the prefill starts at ``m``."""
        target = self.prefill_target(r)
        self.target[r] = target
        self.phase[r] = PREFILL
        if self.cache is None:
            self.done[r] = 0
            if self.limited:
                need = -(-target // self.block)
                self.blocks[r] = need
                self.free -= need
        else:
            cache = self.cache
            before = cache.counted
            node, matched = cache.match(self.segments[r], target - 1)
            cache.lock(node)
            self.node[r] = node
            self.done[r] = matched
            self.cached[r] = matched
            self.work -= matched
            if self.limited:
                need = target - matched
                self.free -= cache.counted - before
                if need > self.free:
                    self.free += cache.evict(need - self.free)
                self.blocks[r] = need
                self.free -= need
        if self.first_sched[r] < 0:
            self.first_sched[r] = now
        self.n_running += 1
        return int(target - self.done[r])

    def remaining(self, r: int) -> int:
        """Prompt tokens running prefill ``r`` has left."""
        return int(self.target[r] - self.done[r])

    def reserve(self, ids: np.ndarray) -> bool:
        """Give every decode in ``ids`` its slot if all fit (new blocks where needed); else change nothing."""
        if not self.limited or len(ids) == 0:
            return True
        if self.block == 1:
            need = 1
            k = len(ids)
        else:
            need = (self.ctx[ids] - 1) % self.block == 0
            k = int(np.count_nonzero(need))
        if k > self.free:
            if self.cache is None or k > self.free + self.cache.evictable:
                return False
            self.free += self.cache.evict(k - self.free)
        if k:
            self.blocks[ids] += need
            self.free -= k
        return True

    def reserve_one(self, r: int) -> bool:
        """Give decode ``r`` its slot if it fits."""
        if not self.limited or (int(self.ctx[r]) - 1) % self.block:
            return True
        if self.free == 0:
            if self.cache is None or not self.cache.evictable:
                return False
            self.free += self.cache.evict(1)
        self.blocks[r] += 1
        self.free -= 1
        return True

    def admit_new(self, now: int, room: int) -> list[tuple[int, int]]:
        """New prefills from the waiting queue, in its order at ``now``, while the next one fits
        (``max_num_seqs`` and memory: no skipping) and budget is left: each is admitted and given a
        chunk of ``min(its prefill, room left)``. The ``(request, chunk)`` pairs, in order."""
        chunks: list[tuple[int, int]] = []
        queue = self.queue
        if room <= 0 or not len(queue):
            return chunks
        for r in queue.ordered(now):
            if self.n_running >= self.max_seqs or not self.can_allocate(r):
                break
            queue.take(r)
            x = min(self.admit(r, now), room)
            chunks.append((r, x))
            room -= x
            if room <= 0:
                break
        return chunks

    def reserve_or_preempt(self, r: int, victims: MutableSequence[int]) -> bool:
        """Give decode ``r`` its slot, preempting the requests at the back of ``victims`` (popped,
        the scheduler's victim order) while it does not fit, and ``r`` itself when none is left;
        ``True`` when ``r`` keeps running."""
        while not self.reserve_one(r):
            if not victims:
                self.preempt(r)
                return False
            self.preempt(victims.pop())
        return True

    def preempt(self, r: int) -> None:
        """Preempt running request ``r`` by recompute: free its blocks, put it at the front of the waiting list."""
        left = int(self.out[r] - self.gen[r])
        if self.phase[r] == PREFILL:
            left += int(self.target[r] - self.done[r])
        self.work += int(self.prompt[r] + self.out[r]) - left  # waiting again: |p| + g to prefill, o - g to emit
        if self.limited:
            self.free += int(self.blocks[r])
            self.blocks[r] = 0
        if self.cache is not None:
            self._unlock_prefix(r)
        self.phase[r] = WAITING
        self.done[r] = 0
        self.preempted[r] += 1
        self.n_running -= 1
        self.preemptions_now += 1
        self.preemptions_total += 1
        self.queue.push_front(r)

    def used_blocks(self) -> int:
        """Blocks in use by the running requests (with a prefix cache: not those eviction could free)."""
        if not self.limited:
            return 0
        return self.total_blocks - self.free - (self.cache.evictable if self.cache is not None else 0)

    # --- what the iteration loop calls -------------------------------------------------------

    def insert_chunk(self, r: int, start: int, end: int) -> None:
        """Prompt tokens ``[start, end)`` of request ``r``, just computed, enter the cache; the
        duplicates' memory is freed."""
        cache = self.cache
        cums = self.table.cums
        cum = cums[r]
        if cum is None:
            cum = cums[r] = segment_offsets(self.segments[r])
        before = cache.counted
        self.node[r], _ = cache.insert(self.node[r], self.segments[r], cum, start, end)
        if self.limited:
            self.blocks[r] -= end - start
            self.free += (end - start) - (cache.counted - before)

    def finish(self, ids: np.ndarray) -> None:
        """Requests ``ids`` emitted their last token: free their memory, unlock their cached prefix."""
        self.phase[ids] = DONE
        if self.limited:
            self.free += int(self.blocks[ids].sum())
            self.blocks[ids] = 0
        if self.cache is not None:
            for r in ids.tolist():
                self._unlock_prefix(r)
        self.n_running -= len(ids)
        self.n_done += len(ids)
        self.outstanding -= len(ids)

    def _unlock_prefix(self, r: int) -> None:
        """Unlock request ``r``'s path in the cache (its prompt stays cached, unlocked)."""
        cache = self.cache
        before = cache.counted
        cache.release(self.node.pop(r))
        if self.limited:
            self.free -= cache.counted - before

    # --- running ------------------------------------------------------------------------------

    def duration(self, dec: np.ndarray, chunks: list[tuple[int, int]]) -> int:
        """The batch's duration in ticks (:meth:`~prefix_sched.theory.serving.costs.TickCost.duration`)."""
        tc = self.tc
        nd = len(dec)
        prefill = 0
        attention = 0
        for r, x in chunks:
            prefill += x
            if tc.katt2:
                attention += x * (2 * int(self.done[r]) + x)
        context = int(self.ctx[dec].sum()) if tc.kkv and nd else 0
        return tc.duration(prefill, nd, context, attention)

