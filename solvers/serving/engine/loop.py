"""One engine's iteration loop (:class:`Runner`): form a batch with the scheduler, time it, emit its
tokens; and the bulk decode-stretch fast path.

The slow path runs one iteration at a time (:func:`_apply`: every decode's token at the batch's end,
every prefill chunk's progress, the first token of a prefill that completes, the finished requests
freed). The fast path: when the batch is decode-only and holds every running request, and nothing
can change it (no arrival, no request finishing, no block shortage, a waiting list that stays
blocked), the whole stretch of iterations is advanced at once (:func:`_stretch_length`,
:func:`_apply_stretch`): durations grow linearly (``tau_j = tau_0 + ckv n j``), ends are a cumulative
sum, and the token times are written with one numpy assignment. The slow path is what the reference
engine of the tests reproduces; the stretch is checked against it (replacing
:func:`_stretch_length` by ``1`` switches the fast path off).

It leaves out the engine's memory (:mod:`.memory`) and when requests reach the engine
(:mod:`.cluster`). :class:`BatchLog` rows are kept per engine by :class:`EngineLog`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine.memory import Engine
from prefix_sched.solvers.serving.engine.table import DECODE, EMPTY, MAX_TICKS
from prefix_sched.theory.serving.measures import BatchLog


class EngineLog:
    """Per-iteration records of one engine, kept as numpy chunks (nothing when ``keep`` is False)."""

    def __init__(self, keep: bool, index: int = 0) -> None:
        self.keep = keep
        self.index = index
        self.rows: list[tuple[int, int, int, int, int]] = []
        self.chunks: list[tuple[np.ndarray, ...]] = []

    def one(self, start: int, end: int, prefill: int, decode: int, requests: int) -> None:
        if self.keep:
            self.rows.append((start, end, prefill, decode, requests))

    def many(self, starts: np.ndarray, ends: np.ndarray, decode: int) -> None:
        if self.keep:
            self._flush()
            k = len(starts)
            self.chunks.append((starts, ends, np.zeros(k, np.int64), np.full(k, decode, np.int64),
                                np.full(k, decode, np.int64)))

    def _flush(self) -> None:
        if self.rows:
            a = np.array(self.rows, dtype=np.int64).reshape(-1, 5)
            self.chunks.append(tuple(a[:, i].copy() for i in range(5)))
            self.rows = []

    def batches(self) -> BatchLog:
        self._flush()
        if not self.chunks:
            return BatchLog(*(EMPTY for _ in range(5)), EMPTY)
        columns = [np.concatenate([c[i] for c in self.chunks]) for i in range(5)]
        return BatchLog(*columns, np.full(len(columns[0]), self.index, dtype=np.int64))



def merge_logs(logs: list[BatchLog]) -> BatchLog:
    """One log of every engine's iterations, by start time, ties by engine."""
    if len(logs) == 1:
        return logs[0]
    columns = [np.concatenate([getattr(log, name) for log in logs])
               for name in ("start", "end", "prefill_tokens", "decode_tokens", "requests", "engine")]
    order = np.lexsort((columns[5], columns[0]))
    return BatchLog(*(c[order] for c in columns))



class Runner:
    """Steps one engine in time: :meth:`advance` runs its iterations while they start before a time,
    :meth:`push` hands it a request arriving at a time not before any iteration it has run.

    ``now`` is the start of its next iteration; ``idle`` means its scheduler found nothing to run at
    ``now``, and it waits for the next request pushed to it (its next iteration starts then).
    """

    def __init__(self, engine: Engine, sched: Any, log: EngineLog, audit: Callable[[Engine], None] | None = None) -> None:
        self.e = engine
        self.sched = sched
        self.log = log
        self.audit = audit
        self.now = 0
        self.idle = True
        self.iterations = 0
        self.stretched = 0
        self.decodes = DecodeMemo()

    def push(self, r: int, at: int) -> None:
        """Request ``r`` arrives at ``at`` (``>=`` the start of every iteration run so far) and joins
        the waiting list (before the next iteration forms)."""
        e = self.e
        if self.idle:
            self.now = at
            self.idle = False
        e.queue.push_back(r)
        e.routed += 1
        e.outstanding += 1
        e.work += int(e.prompt[r] + e.out[r])
        e.out_left += int(e.out[r])
        e.engine_of[r] = e.index

    def advance(self, until: int | None) -> None:
        """Run every iteration that starts before ``until`` (None: until nothing is left to run);
        ``until`` also bounds the decode stretches (the next arrival of the cluster)."""
        while not self.idle and (until is None or self.now < until):
            if not self.step(until):
                self.idle = True
                if self.e.outstanding:
                    raise RuntimeError("internal error: unfinished requests but nothing runnable")

    def step(self, bound: int | None) -> bool:
        """Form and run the iteration starting at ``now`` (or a decode stretch from it whose starts
        all lie before ``bound``); return False when nothing is runnable."""
        e = self.e
        sched = self.sched
        queue = e.queue
        now = self.now
        e.preemptions_now = 0
        dec, chunks = sched.form(now)
        nd = len(dec)
        if nd == 0 and not chunks:
            return False
        tau = e.duration(dec, chunks)
        k = 1
        if not chunks and nd == e.n_running and e.preemptions_now == 0:
            waiting = len(queue) > 0
            if sched.may_stretch(nd, waiting) and (not waiting or queue.static):
                k = _stretch_length(e, dec, now, tau, bound)
        if k == 1:
            end = now + tau
            if end >= MAX_TICKS:
                raise InputError(f"exact times in ticks of 1/{e.D} us exceed 2^62 on this run")
            finished, completed, at_prefill = _apply(e, dec, chunks, end, self.decodes)
            if self.log.keep:
                self.log.one(now, end, sum(x for _, x in chunks), nd, nd + len(chunks))
            sched.after_batch(end, tau, 1, finished, completed, at_prefill)
            self.iterations += 1
        else:
            taus = tau + e.tc.kkv * nd * np.arange(k, dtype=np.int64)
            ends = now + np.cumsum(taus)
            end = int(ends[-1])
            self.decodes.dec = None
            finished = _apply_stretch(e, dec, ends)
            self.log.many(ends - taus, ends, nd)
            sched.after_batch(end, end - now, k, finished, [], [])
            self.iterations += k
            self.stretched += k
        self.now = end
        if self.audit is not None:
            self.audit(e)
        return True


def _stretch_length(e: Engine, dec: np.ndarray, now: int, tau: int, arrival: int | None) -> int:
    """How many iterations, from this one, keep this decode-only batch unchanged (>= 1)."""
    k = int((e.out[dec] - e.gen[dec]).min())
    if k <= 1:
        return 1
    if arrival is not None and tau > 0:
        k = min(k, -(-(arrival - now) // tau))  # starts grow at least tau per iteration
    if k <= 1:
        return 1
    if e.limited:
        k = _memory_cap(e, dec, k)
    if k > 1 and arrival is not None:
        taus = tau + e.tc.kkv * len(dec) * np.arange(k, dtype=np.int64)
        starts = now + np.cumsum(taus) - taus
        k = min(k, int(np.searchsorted(starts, arrival, side="left")))
    return max(k, 1)


def _memory_cap(e: Engine, dec: np.ndarray, k: int) -> int:
    """The most iterations ``<= k`` whose decodes after the first (already reserved) find blocks."""
    b = e.block
    free = e.free
    if len(dec) * ((k - 1) // b + 1) <= free:
        return k
    ctx = e.ctx[dec]
    base = (ctx - 1) // b

    def extra(j: int) -> int:  # new blocks in iterations 1 .. j
        return int(((ctx + j - 1) // b - base).sum())

    low, high = 1, k  # extra(low - 1) <= free holds; find the largest m with extra(m - 1) <= free
    while low < high:
        mid = (low + high + 1) // 2
        if extra(mid - 1) <= free:
            low = mid
        else:
            high = mid - 1
    return low


class DecodeMemo:
    """The state of the decode batch one engine ran last, kept for its next iteration: a scheduler
    hands the same array while its decodes stay the same (it never changes one in place), so an
    iteration that decodes ``dec`` again reads nothing from the table but writes ``gen``, ``ctx``
    and the token times, and a finish is found by counting down to it.

    ``dec``: that array (None: nothing kept); ``gen``, ``ctx``: its requests' entries now; ``pos``:
    where each one's next token time goes; ``until``: the iterations until the first of them emits
    its last token.
    """

    __slots__ = ("ctx", "dec", "gen", "pos", "until")

    def __init__(self) -> None:
        self.dec = None


def _apply(e: Engine, dec: np.ndarray, chunks: list[tuple[int, int]], end: int, memo: DecodeMemo):
    """Emit the batch's tokens at ``end``; return (finished decodes, completed prefills, finished at prefill)."""
    finished = EMPTY
    if len(dec):
        if memo.dec is not dec:
            gen = e.gen[dec]
            memo.dec, memo.gen, memo.ctx = dec, gen, e.ctx[dec]
            memo.pos = e.off[dec] + gen
            memo.until = int((e.out[dec] - gen).min())
        e.times[memo.pos] = end
        memo.pos += 1
        gen = memo.gen
        gen += 1
        e.gen[dec] = gen
        ctx = memo.ctx
        ctx += 1
        e.ctx[dec] = ctx
        memo.until -= 1
        if not memo.until:
            finished = dec[gen == e.out[dec]]
            memo.dec = None
            e.finish(finished)
    completed: list[int] = []
    at_prefill: list[int] = []
    spent = emitted = len(dec)
    cache = e.cache
    for r, x in chunks:
        start = int(e.done[r])
        done = start + x
        e.done[r] = done
        spent += x
        if cache is not None:
            stop = min(done, int(e.prompt[r]))
            if stop > start:
                e.insert_chunk(r, start, stop)
        if done == e.target[r]:
            spent += 1
            emitted += 1
            g = int(e.gen[r])
            e.times[e.off[r] + g] = end
            g += 1
            e.gen[r] = g
            if g == e.out[r]:
                at_prefill.append(r)
            else:
                e.phase[r] = DECODE
                e.ctx[r] = e.prompt[r] + g
                completed.append(r)
            memo.dec = None  # r's gen changed: whatever was kept is read again
    if at_prefill:
        e.finish(np.array(at_prefill, dtype=np.int64))
    e.work -= spent
    e.out_left -= emitted
    return finished, completed, at_prefill


def _apply_stretch(e: Engine, dec: np.ndarray, ends: np.ndarray) -> np.ndarray:
    k = len(ends)
    e.work -= k * len(dec)
    e.out_left -= k * len(dec)
    gen = e.gen[dec]
    pos = e.off[dec] + gen
    e.times[pos[:, None] + np.arange(k, dtype=np.int64)] = ends
    gen += k
    e.gen[dec] = gen
    ctx = e.ctx[dec] + k
    e.ctx[dec] = ctx
    if e.limited:
        if e.cache is None:
            blocks = -(-(ctx - 1) // e.block)
            e.free -= int((blocks - e.blocks[dec]).sum())
            e.blocks[dec] = blocks
        else:  # tokens (block size 1), the prompt in the cache: one more per decode per iteration after
            e.blocks[dec] += k - 1  # the first, whose slot the scheduler reserved
            e.free -= (k - 1) * len(dec)
    mask = gen == e.out[dec]
    finished = dec[mask] if np.count_nonzero(mask) else EMPTY
    if len(finished):
        e.finish(finished)
    return finished


