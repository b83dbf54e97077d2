"""The serving engine: iterations of mixed prefill and decode batches under a token budget and a KV
memory limit, with one scheduler deciding each batch (../shared/MODEL_SERVING.md).

Rules (the engine's; each scheduler's own rule is in its module):

- **Iterations.** Iteration ``k`` starts at ``s_k``: the end of iteration ``k - 1``, or, when the
  scheduler finds nothing runnable, the next arrival. A request is *eligible* (joins the waiting
  list) when its arrival is ``<= s_k``. The batch's duration ``tau`` comes from the cost model
  (:mod:`prefix_sched.theory.serving.costs`); it ends at ``e_k = s_k + tau``.
- **Tokens.** Every token is emitted at the end of its iteration: the first at the end of the
  iteration that computes the last prompt token, then one per iteration that holds the request as
  a decode. A request finishes with its ``o``-th token and frees its memory at once.
- **Memory.** KV memory holds ``M`` tokens as ``floor(M / b)`` blocks of ``b``. Admitting a
  (new or preempted) request allocates blocks for its whole prompt ``|p'|`` at once (Sarathi-Serve's
  and SLAI's ``can_allocate``); a request that does not fit stops admission (no skipping). A decode
  of a request with sequence length ``L = |p| + g`` (``g`` tokens generated) needs ``ceil(L / b)``
  blocks, so it takes a new block exactly when ``(L - 1) % b == 0``; with none free the scheduler
  preempts. Without ``kv_tokens`` memory is unbounded. A request must fit alone: ``ceil((|p| + o - 1)
  / b)`` blocks at most, checked up front.
- **Preemption by recompute.** The victim's blocks are freed and it goes to the front of the
  waiting list; when admitted again it prefills its prompt *and the ``g`` tokens it had generated*
  (``|p'| = |p| + g``, as vLLM and Sarathi-Serve recompute: ``prompt + output`` becomes the prompt),
  its first-scheduled time and the times of the tokens already emitted are kept, and the iteration
  that completes the recompute emits its token ``g + 1``. Each scheduler picks its victims.
- **max_num_seqs** ``S`` counts admitted, unfinished requests (preempted ones no longer count).

Exact time: every time is an integer of ticks of ``1 / D`` microseconds (``D`` the least integer
making every cost coefficient, ``catt / 2`` and every arrival whole ticks), so durations and token
times are exact; the result files write them in microseconds exactly.

Speed. Per-request state lives in numpy arrays (internal index = arrival rank, so arrival order is
index order); decodes are handled as arrays. When the batch is decode-only and holds every running
request, and nothing can change it (no arrival, no request finishing, no block shortage, a waiting
list that stays blocked), the engine advances the whole stretch of iterations at once: durations
grow linearly (``tau_j = tau_0 + ckv n j``), ends are a cumulative sum, and the token times are
written with one numpy assignment. The slow path (one iteration at a time) is what the reference
engine of the tests reproduces; the stretch is checked against it.

Examples
--------
Two requests at 0: A with 6 prompt and 3 output tokens, B with 2 and 1; budget 4; cost 10 us +
1 us per token. Sarathi: iteration 1 [0, 14] prefills 4 of A's tokens; iteration 2 [14, 28] A's
last 2 and B's 2 (both first tokens at 28; B is done); iterations 3 [28, 39] and 4 [39, 50]
decode A.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> w = Workload.from_lengths([6, 2], [3, 1], [0, 0])
>>> run = serve(w, "sarathi", budget=4, cost=parse_cost("c0=10,cp=1,cd=1"))
>>> [run.token_times_us(i) for i in range(2)], run.iterations
([[28, 39, 50], [28]], 4)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief
from prefix_sched.theory.serving.costs import (
    DEFAULT_PRESET,
    PRESETS,
    IterationCost,
    parse_cost,
    ticks_per_us_for,
)
from prefix_sched.theory.serving.measures import BatchLog, Timeline
from prefix_sched.theory.serving.requests import Workload, strict_classes
from prefix_sched.theory.serving.traces import seeded_generators

WAITING, PREFILL, DECODE, DONE = 0, 1, 2, 3
EMPTY = np.empty(0, dtype=np.int64)
DEFAULT_BUDGET = 512
DEFAULT_MAX_SEQS = 128
DEFAULT_BLOCK = 16
MAX_TICKS = 1 << 62
"""Times must stay below this many ticks (int64 with room for sums); a run that would not is refused."""


@dataclass(frozen=True)
class EngineConfig:
    """The engine's settings: token budget ``B``, ``max_num_seqs``, KV memory in tokens (None:
    unbounded) and its block size, the iteration cost."""

    budget: int = DEFAULT_BUDGET
    max_seqs: int = DEFAULT_MAX_SEQS
    kv_tokens: int | None = None
    block_size: int = DEFAULT_BLOCK
    cost: IterationCost = PRESETS[DEFAULT_PRESET]

    def __post_init__(self) -> None:
        for name, value, low in (("budget", self.budget, 1), ("max_seqs", self.max_seqs, 1),
                                 ("block_size", self.block_size, 1)):
            if type(value) is not int or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {brief(value)}")
        if self.kv_tokens is not None and (type(self.kv_tokens) is not int or self.kv_tokens < self.block_size):
            raise InputError(f"kv_tokens must be an integer >= the block size {self.block_size}, "
                             f"got {brief(self.kv_tokens)}")
        if not isinstance(self.cost, IterationCost):
            raise InputError(f"cost must be an IterationCost, got {brief(self.cost)}")

    def as_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "max_seqs": self.max_seqs, "kv_tokens": self.kv_tokens,
                "block_size": self.block_size if self.kv_tokens is not None else None, "cost": self.cost.as_dict()}


@dataclass(frozen=True, eq=False)
class ServingRun:
    """The result of :func:`serve`: the timeline (every token's time), the batch log (when kept),
    counters and the settings that produced it."""

    timeline: Timeline
    batches: BatchLog | None
    iterations: int
    stretched_iterations: int
    preemptions: int
    settings: dict[str, Any]

    def token_times_us(self, i: int) -> list[Exact]:
        """Request ``i``'s (workload order) token times in microseconds, exactly."""
        t = self.timeline
        return [t.us(int(x)) for x in t.token_times[t.offsets[i]:t.offsets[i + 1]]]


class Engine:
    """The engine's state and mechanics; schedulers read it and call :meth:`admit`,
    :meth:`reserve`, :meth:`reserve_one` and :meth:`preempt`."""

    def __init__(self, workload: Workload, config: EngineConfig, rng: np.random.Generator | None = None) -> None:
        self.workload = workload
        self.config = config
        self.budget = config.budget
        self.max_seqs = config.max_seqs
        self.block = config.block_size
        self.rng = rng
        order = np.array(workload.arrival_order, dtype=np.int64)
        self.perm = order  # internal index k is workload request perm[k]
        reqs = [workload.requests[i] for i in workload.arrival_order]
        D = math.lcm(config.cost.ticks_per_us(), ticks_per_us_for(r.arrival_us for r in reqs))
        self.D = D
        self.tc = config.cost.in_ticks(D)
        self.arrival_list = [int(Fraction(r.arrival_us) * D) for r in reqs]
        n = len(reqs)
        self.n = n
        self.arrival = np.array(self.arrival_list, dtype=np.int64) if n else EMPTY
        self.prompt = np.array([r.prompt_tokens for r in reqs], dtype=np.int64)
        self.out = np.array([r.output_tokens for r in reqs], dtype=np.int64)
        self.rids = [r.rid for r in reqs]
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
        self.off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.out, out=self.off[1:])
        self.times = np.zeros(int(self.off[-1]), dtype=np.int64)
        self.limited = config.kv_tokens is not None
        self.total_blocks = config.kv_tokens // config.block_size if self.limited else 0
        self.free = self.total_blocks
        self.n_running = 0
        self.n_done = 0
        self.preemptions_now = 0
        self.preemptions_total = 0
        self.queue = None  # set by the scheduler
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
        biggest = (tc.k0 + (tc.kp + tc.kd) * (self.budget + self.max_seqs) + tc.kkv * self.max_seqs * int(
            (self.prompt + self.out).max()) + tc.katt2 * self.budget * (2 * int((self.prompt + self.out).max())
                                                                        + self.budget))
        work = int((self.prompt + self.out).sum()) * 2 + self.n
        if self.n and self.arrival_list[-1] + biggest * work >= MAX_TICKS:
            raise InputError(f"exact times in ticks of 1/{self.D} us could exceed 2^62 on this workload; "
                             "use coarser arrival times or cost coefficients")

    # --- what schedulers call -----------------------------------------------------------------

    def prefill_target(self, r: int) -> int:
        """``|p'|``: the prompt request ``r`` prefills when admitted (its prompt plus tokens generated)."""
        return int(self.prompt[r] + self.gen[r])

    def can_allocate(self, r: int) -> bool:
        """Whether the whole prompt ``|p'|`` of waiting request ``r`` fits in the free blocks."""
        return not self.limited or -(-self.prefill_target(r) // self.block) <= self.free

    def admit(self, r: int, now: int) -> int:
        """Allocate ``r``'s prompt, make it a running prefill; return ``|p'|``. The caller checked
        :meth:`can_allocate` and took ``r`` from the queue."""
        target = self.prefill_target(r)
        self.target[r] = target
        self.done[r] = 0
        self.phase[r] = PREFILL
        if self.limited:
            need = -(-target // self.block)
            self.blocks[r] = need
            self.free -= need
        if self.first_sched[r] < 0:
            self.first_sched[r] = now
        self.n_running += 1
        return target

    def remaining(self, r: int) -> int:
        """Prompt tokens running prefill ``r`` has left."""
        return int(self.target[r] - self.done[r])

    def reserve(self, ids: np.ndarray) -> bool:
        """Give every decode in ``ids`` its slot if all fit (new blocks where needed); else change nothing."""
        if not self.limited or len(ids) == 0:
            return True
        need = (self.ctx[ids] - 1) % self.block == 0
        k = int(np.count_nonzero(need))
        if k > self.free:
            return False
        if k:
            self.blocks[ids] += need
            self.free -= k
        return True

    def reserve_one(self, r: int) -> bool:
        """Give decode ``r`` its slot if it fits."""
        if not self.limited or (int(self.ctx[r]) - 1) % self.block:
            return True
        if self.free == 0:
            return False
        self.blocks[r] += 1
        self.free -= 1
        return True

    def preempt(self, r: int) -> None:
        """Preempt running request ``r`` by recompute: free its blocks, put it at the front of the waiting list."""
        if self.limited:
            self.free += int(self.blocks[r])
            self.blocks[r] = 0
        self.phase[r] = WAITING
        self.done[r] = 0
        self.preempted[r] += 1
        self.n_running -= 1
        self.preemptions_now += 1
        self.preemptions_total += 1
        self.queue.push_front(r)

    def used_blocks(self) -> int:
        return self.total_blocks - self.free if self.limited else 0

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


def serve(workload: Workload, scheduler: Any = "sarathi", *, order: Any = None, budget: int = DEFAULT_BUDGET,
          cost: IterationCost | None = None, kv_tokens: int | None = None, block_size: int = DEFAULT_BLOCK,
          max_seqs: int = DEFAULT_MAX_SEQS, seed: int = 0, record_batches: bool = False,
          progress: Callable[[int], None] | None = None,
          audit: Callable[[Engine], None] | None = None) -> ServingRun:
    """Serve ``workload`` with a scheduler; return every token's emission time.

    Parameters
    ----------
    workload : Workload
    scheduler : str or SchedulerSpec
        A registered scheduler (:mod:`~prefix_sched.solvers.serving.registry`), e.g. ``"slai"``.
    order : str or PolicySpec, optional
        The order of new prefills, for schedulers that take one (``--order``).
    budget, max_seqs, kv_tokens, block_size, cost :
        The engine's settings (:class:`EngineConfig`); ``cost`` (an IterationCost or ``--cost`` text)
        defaults to the ``seed`` preset.
    seed : int
        Seed of the engine's random choices (the ``random`` order): child 2 of
        :func:`~prefix_sched.theory.serving.traces.seeded_generators`.
    record_batches : bool
        Keep the per-iteration log (start, end, tokens) in the result.
    progress : callable, optional
        Called with the number of finished requests now and then.
    audit : callable, optional
        Called with the engine after every batch or stretch (tests check invariants with it).

    Raises
    ------
    InputError
        A bad setting, an unknown scheduler or an order it refuses, a request that does not fit in
        memory alone, a prompt that a whole-prompt scheduler cannot fit in its budget.
    """
    from prefix_sched.solvers.serving.registry import build_scheduler, parse_scheduler

    spec = parse_scheduler(scheduler, order)
    if isinstance(cost, str):
        cost = parse_cost(cost)
    config = EngineConfig(budget, max_seqs, kv_tokens, block_size, PRESETS[DEFAULT_PRESET] if cost is None else cost)
    engine = Engine(workload, config, seeded_generators(seed)[2])
    sched = build_scheduler(spec, engine)
    log = _Log(record_batches)
    iterations, stretched = _run(engine, sched, log, progress, audit)
    timeline = _timeline(engine)
    settings = {"scheduler": spec.label, **spec.as_dict(), **config.as_dict(), "seed": seed,
                "ticks_per_us": engine.D, "time_unit": "us",
                "time": f"exact: the engine counts integer ticks of 1/{engine.D} us (every cost coefficient, "
                        "catt/2 and arrival a whole number of ticks); files give microseconds exactly"}
    return ServingRun(timeline, log.batches() if record_batches else None, iterations, stretched,
                      engine.preemptions_total, settings)


class _Log:
    """Per-iteration records, kept as numpy chunks."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
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
            return BatchLog(*(EMPTY for _ in range(5)))
        return BatchLog(*(np.concatenate([c[i] for c in self.chunks]) for i in range(5)))


def _run(engine: Engine, sched: Any, log: _Log, progress: Callable[[int], None] | None,
         audit: Callable[[Engine], None] | None = None) -> tuple[int, int]:
    e = engine
    n = e.n
    arrivals = e.arrival_list
    queue = e.queue
    nxt = 0
    now = arrivals[0]
    iterations = 0
    stretched = 0
    report_every = max(1, n // 200)
    next_report = report_every
    tc = e.tc
    while e.n_done < n:
        while nxt < n and arrivals[nxt] <= now:
            queue.push_back(nxt)
            nxt += 1
        e.preemptions_now = 0
        dec, chunks = sched.form(now)
        nd = len(dec)
        if nd == 0 and not chunks:
            if nxt < n:
                now = arrivals[nxt]
                continue
            raise RuntimeError("internal error: unfinished requests but nothing runnable and no arrival left")
        tau = e.duration(dec, chunks)
        waiting = len(queue) > 0
        if (not chunks and nd == e.n_running and e.preemptions_now == 0 and sched.may_stretch(nd, waiting)
                and (not waiting or queue.static)):
            k = _stretch_length(e, dec, now, tau, arrivals[nxt] if nxt < n else None)
        else:
            k = 1
        if k == 1:
            end = now + tau
            if end >= MAX_TICKS:
                raise InputError(f"exact times in ticks of 1/{e.D} us exceed 2^62 on this run")
            finished, completed, at_prefill = _apply(e, dec, chunks, end)
            log.one(now, end, sum(x for _, x in chunks), nd, nd + len(chunks))
            sched.after_batch(end, tau, 1, finished, completed, at_prefill)
            iterations += 1
        else:
            taus = tau + tc.kkv * nd * np.arange(k, dtype=np.int64)
            ends = now + np.cumsum(taus)
            end = int(ends[-1])
            finished = _apply_stretch(e, dec, ends)
            log.many(ends - taus, ends, nd)
            sched.after_batch(end, end - now, k, finished, [], [])
            iterations += k
            stretched += k
        now = end
        if audit is not None:
            audit(e)
        if progress is not None and e.n_done >= next_report:
            progress(e.n_done)
            next_report = e.n_done + report_every
    if progress is not None:
        progress(e.n_done)
    return iterations, stretched


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


def _apply(e: Engine, dec: np.ndarray, chunks: list[tuple[int, int]], end: int):
    """Emit the batch's tokens at ``end``; return (finished decodes, completed prefills, finished at prefill)."""
    finished = EMPTY
    if len(dec):
        gen = e.gen[dec]
        e.times[e.off[dec] + gen] = end
        gen += 1
        e.gen[dec] = gen
        e.ctx[dec] += 1
        mask = gen == e.out[dec]
        if mask.any():
            finished = dec[mask]
            _finish(e, finished)
    completed: list[int] = []
    at_prefill: list[int] = []
    for r, x in chunks:
        done = int(e.done[r]) + x
        e.done[r] = done
        if done == e.target[r]:
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
    if at_prefill:
        _finish(e, np.array(at_prefill, dtype=np.int64))
    return finished, completed, at_prefill


def _apply_stretch(e: Engine, dec: np.ndarray, ends: np.ndarray) -> np.ndarray:
    k = len(ends)
    gen = e.gen[dec]
    pos = e.off[dec] + gen
    e.times[pos[:, None] + np.arange(k, dtype=np.int64)] = ends
    gen += k
    e.gen[dec] = gen
    ctx = e.ctx[dec] + k
    e.ctx[dec] = ctx
    if e.limited:
        blocks = -(-(ctx - 1) // e.block)
        e.free -= int((blocks - e.blocks[dec]).sum())
        e.blocks[dec] = blocks
    mask = gen == e.out[dec]
    finished = dec[mask] if mask.any() else EMPTY
    if len(finished):
        _finish(e, finished)
    return finished


def _finish(e: Engine, ids: np.ndarray) -> None:
    e.phase[ids] = DONE
    if e.limited:
        e.free += int(e.blocks[ids].sum())
        e.blocks[ids] = 0
    e.n_running -= len(ids)
    e.n_done += len(ids)


def _timeline(e: Engine) -> Timeline:
    """The results in the workload's request order."""
    perm = e.perm
    n = e.n
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = np.arange(n, dtype=np.int64)
    if np.array_equal(perm, np.arange(n)):
        times, offsets = e.times, e.off
        arrival, first, pre = e.arrival, e.first_sched, e.preempted
    else:
        lengths = e.out[inverse]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = e.off[inverse]
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
        times = e.times[index]
        arrival, first, pre = e.arrival[inverse], e.first_sched[inverse], e.preempted[inverse]
    return Timeline(e.workload, e.D, arrival, first, offsets, times, pre)
