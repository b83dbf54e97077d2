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
- **Prefix cache** (``prefix_cache``: :data:`PREFIX_CACHES`, :mod:`.prefix_cache`). Memory is then
  counted in tokens (block size 1, SGLang's page size). At admission a request's prompt is matched
  against the cache as it is then (at most ``|p'| - 1`` tokens, so one is always computed): the
  match ``m`` is locked, only ``|p'| - m`` tokens are allocated (``can_allocate`` counts the free
  tokens plus what eviction could free, less the unlocked tokens the match would lock), the prefill
  starts at token ``m`` (its chunks' attention runs over the ``m`` cached tokens) and ``m`` is the
  request's ``cached_tokens``. Each computed chunk's prompt tokens enter the tree (tokens another
  request put there meanwhile are freed); generated tokens stay the request's own and are freed when
  it finishes or is preempted, its path then unlocked (its prompt stays cached). Free memory is the
  pool less the running requests' own tokens less the cache (``lru``: all of it, free memory taken
  from unlocked LRU leaves when short, for an admission or a decode; ``unbounded``: only its locked
  part, nothing evicted).

- **Many engines** (``engines = G``): one :class:`Engine` per GPU, each with its own memory, queue
  and scheduler, all reading one table of per-request arrays (:class:`RequestTable`). A router
  (:mod:`~prefix_sched.solvers.serving.routers`) sends each request, at its arrival ``a`` and in
  arrival order (ties: workload order), to one engine, deciding on every engine's *state at time a*:
  the state after every iteration that *starts before* ``a`` has run (its tokens emitted, its
  finished requests freed, even when it ends after ``a``), and after every request arriving before
  ``a``, or at ``a`` but earlier in arrival order, has been routed (so two requests arriving
  together see each other). An iteration starting at ``a`` or later has not run, and the request
  routed at ``a`` is eligible for it. Each engine runs exactly as a single engine would on the
  requests routed to it; with ``G = 1`` the cluster *is* the single engine (the same loop).
- **Stepping** (:class:`Runner`): :meth:`Runner.advance` runs one engine's iterations while they
  start before a given time, :meth:`Runner.push` hands it a routed request. The cluster driver keeps
  the engines with work in a heap by the start of their next iteration and advances only those that
  start before the next arrival. A decode stretch never runs an iteration that starts at or after
  the next arrival of the *cluster* (the bound handed to :meth:`Runner.advance`).

Exact time: every time is an integer of ticks of ``1 / D`` microseconds (``D`` the least integer
making every cost coefficient, ``catt / 2`` and every arrival whole ticks), so durations and token
times are exact; the result files write them in microseconds exactly.

Speed. Per-request state lives in numpy arrays shared by every engine (internal index = arrival
rank, so arrival order is index order); decodes are handled as arrays. When the batch is decode-only and holds every running
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
from heapq import heappop, heappush
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.prefix_cache import EngineCache, offsets
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
from prefix_sched.theory.serving.traces import engine_generator, router_generator

WAITING, PREFILL, DECODE, DONE = 0, 1, 2, 3
EMPTY = np.empty(0, dtype=np.int64)
DEFAULT_BUDGET = 512
DEFAULT_MAX_SEQS = 128
DEFAULT_BLOCK = 16
PREFIX_CACHES = {
    "none": "no prefix cache: every prompt is computed whole",
    "lru": "SGLang's radix cache in the KV pool: running requests lock their matched path, free memory is taken "
           "from unlocked LRU leaves (whole nodes, oldest first), each prefill chunk enters the tree, finished "
           "prompts stay cached until evicted",
    "unbounded": "the same tree that never evicts, whose unlocked tokens do not count against KV memory (the "
                 "locked ones, in use by running requests, do): an upper reference for lru",
}
"""The engine's prefix caches (``--prefix-cache``) and their rules (:mod:`.prefix_cache`)."""
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
    prefix_cache: str = "none"

    def __post_init__(self) -> None:
        if self.prefix_cache not in PREFIX_CACHES:
            raise InputError(f"unknown prefix cache {brief(self.prefix_cache)}; valid: {', '.join(PREFIX_CACHES)}")
        if self.prefix_cache != "none" and self.block_size != 1:
            raise InputError(f"a prefix cache counts KV memory in tokens (SGLang's page size 1): the block size "
                             f"must be 1, got {brief(self.block_size)}")
        if self.prefix_cache == "lru" and self.kv_tokens is None:
            raise InputError("the lru prefix cache shares the KV memory with the running requests: give its "
                             "size (kv_tokens)")
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
                "block_size": self.block_size if self.kv_tokens is not None else None, "cost": self.cost.as_dict(),
                "prefix_cache": self.prefix_cache, "prefix_cache_rule": PREFIX_CACHES[self.prefix_cache]}


@dataclass(frozen=True, eq=False)
class ServingRun:
    """The result of :func:`serve`: the timeline (every token's time, the engine of each request),
    the batch log (when kept), counters (summed over the engines, and per engine in
    ``engine_counters``) and the settings that produced it."""

    timeline: Timeline
    batches: BatchLog | None
    iterations: int
    stretched_iterations: int
    preemptions: int
    settings: dict[str, Any]
    engines: int = 1
    engine_counters: tuple[dict[str, int], ...] = ()

    def token_times_us(self, i: int) -> list[Exact]:
        """Request ``i``'s (workload order) token times in microseconds, exactly."""
        t = self.timeline
        return [t.us(int(x)) for x in t.token_times[t.offsets[i]:t.offsets[i + 1]]]


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


SHARED = ("D", "tc", "arrival_list", "arrival", "prompt", "out", "rids", "prompts", "class_index", "strict",
          "class_tbt_ticks", "gen", "target", "done", "ctx", "blocks", "phase", "first_sched", "preempted",
          "engine_of", "cached", "off", "times")
"""The :class:`RequestTable` attributes an engine reads as its own (the same arrays for every engine)."""


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
            self._release(r)
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

    def _release(self, r: int) -> None:
        """Unlock request ``r``'s path in the cache (its prompt stays cached, unlocked)."""
        cache = self.cache
        before = cache.counted
        cache.release(self.node.pop(r))
        if self.limited:
            self.free -= cache.counted - before

    def _insert(self, r: int, start: int, end: int) -> None:
        """Prompt tokens ``[start, end)`` of request ``r``, just computed, enter the cache; the
        duplicates' memory is freed."""
        cache = self.cache
        cums = self.table.cums
        cum = cums[r]
        if cum is None:
            cum = cums[r] = offsets(self.segments[r])
        before = cache.counted
        self.node[r], _ = cache.insert(self.node[r], self.segments[r], cum, start, end)
        if self.limited:
            self.blocks[r] -= end - start
            self.free += (end - start) - (cache.counted - before)

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
          cost: IterationCost | None = None, kv_tokens: int | None = None, block_size: int | None = None,
          max_seqs: int = DEFAULT_MAX_SEQS, seed: int = 0, record_batches: bool = False,
          progress: Callable[[int], None] | None = None,
          audit: Callable[[Engine], None] | None = None, engines: int = 1, router: Any = None,
          prefix_cache: str = "none") -> ServingRun:
    """Serve ``workload`` with a scheduler on one engine or ``engines`` behind a router; return every
    token's emission time.

    Parameters
    ----------
    workload : Workload
    scheduler : str or SchedulerSpec
        A registered scheduler (:mod:`~prefix_sched.solvers.serving.registry`), e.g. ``"slai"``.
    order : str or PolicySpec, optional
        The order of new prefills, for schedulers that take one (``--order``).
    budget, max_seqs, kv_tokens, block_size, cost :
        Each engine's settings (:class:`EngineConfig`); ``cost`` (an IterationCost or ``--cost``
        text) defaults to the ``seed`` preset; ``block_size`` to 16, or 1 with a prefix cache.
    seed : int
        Seed of the random choices: engine ``g``'s (the ``random`` order) from
        :func:`~prefix_sched.theory.serving.traces.engine_generator`, the router's from
        :func:`~prefix_sched.theory.serving.traces.router_generator`.
    record_batches : bool
        Keep the per-iteration log (start, end, tokens, engine) in the result.
    progress : callable, optional
        Called with the number of finished requests now and then.
    audit : callable, optional
        Called with the engine after every batch or stretch (tests check invariants with it).
    engines : int
        ``G >= 1`` identical engines (the module docstring says when the router decides).
    router : str or RouterSpec, optional
        A registered router (:mod:`~prefix_sched.solvers.serving.routers`); default: the scheduler's
        own (``least-work`` for ``rad``), else ``round-robin``.
    prefix_cache : {"none", "lru", "unbounded"}
        Each engine's prefix cache (:data:`PREFIX_CACHES`, :mod:`.prefix_cache`); under a cache the
        order of new prefills may be any of Part 1's policies (``lpm``, ``k-lpm:3``, ...).

    Raises
    ------
    InputError
        A bad setting, an unknown scheduler, router or an order the scheduler refuses, a request that
        does not fit in memory alone, a prompt that a whole-prompt scheduler cannot fit in its budget.
    """
    from prefix_sched.solvers.serving.registry import build_scheduler, check_order, parse_scheduler
    from prefix_sched.solvers.serving.routers import build_router, parse_router

    spec = parse_scheduler(scheduler, order, cache=None)
    if type(engines) is not int or engines < 1:
        raise InputError(f"engines must be an integer >= 1, got {brief(engines)}")
    route = parse_router(spec.row.router if router is None else router)
    if isinstance(cost, str):
        cost = parse_cost(cost)
    if block_size is None:
        block_size = 1 if prefix_cache != "none" else DEFAULT_BLOCK
    config = EngineConfig(budget, max_seqs, kv_tokens, block_size, PRESETS[DEFAULT_PRESET] if cost is None else cost,
                          prefix_cache)
    if spec.order_spec is not None:
        check_order(spec.order_spec, config.prefix_cache)
    table = RequestTable(workload, config.cost)
    runners = []
    for g in range(engines):
        engine = Engine(table, config, engine_generator(seed, g), index=g)
        runners.append(Runner(engine, build_scheduler(spec, engine), _Log(record_batches, g), audit))
    chooser = build_router(route, table, [r.e for r in runners], router_generator(seed))
    _drive(table, runners, chooser, progress)
    timeline = _timeline(table)
    settings = {"scheduler": spec.label, **spec.as_dict(), **config.as_dict(), "seed": seed,
                "engines": engines, **({"router": route.label, **route.as_dict()} if engines > 1 or router is not None
                                       else {}),
                "ticks_per_us": table.D, "time_unit": "us",
                "time": f"exact: the engine counts integer ticks of 1/{table.D} us (every cost coefficient, "
                        "catt/2 and arrival a whole number of ticks); files give microseconds exactly"}
    counters = tuple({"iterations": r.iterations, "stretched_iterations": r.stretched,
                      "preemptions": r.e.preemptions_total} for r in runners)
    batches = _merge_logs([r.log.batches() for r in runners]) if record_batches else None
    return ServingRun(timeline, batches, sum(c["iterations"] for c in counters),
                      sum(c["stretched_iterations"] for c in counters), sum(c["preemptions"] for c in counters),
                      settings, engines, counters)


class _Log:
    """Per-iteration records of one engine, kept as numpy chunks."""

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


def _merge_logs(logs: list[BatchLog]) -> BatchLog:
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

    def __init__(self, engine: Engine, sched: Any, log: _Log, audit: Callable[[Engine], None] | None = None) -> None:
        self.e = engine
        self.sched = sched
        self.log = log
        self.audit = audit
        self.now = 0
        self.idle = True
        self.iterations = 0
        self.stretched = 0

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
        waiting = len(queue) > 0
        if (not chunks and nd == e.n_running and e.preemptions_now == 0 and sched.may_stretch(nd, waiting)
                and (not waiting or queue.static)):
            k = _stretch_length(e, dec, now, tau, bound)
        else:
            k = 1
        if k == 1:
            end = now + tau
            if end >= MAX_TICKS:
                raise InputError(f"exact times in ticks of 1/{e.D} us exceed 2^62 on this run")
            finished, completed, at_prefill = _apply(e, dec, chunks, end)
            self.log.one(now, end, sum(x for _, x in chunks), nd, nd + len(chunks))
            sched.after_batch(end, tau, 1, finished, completed, at_prefill)
            self.iterations += 1
        else:
            taus = tau + e.tc.kkv * nd * np.arange(k, dtype=np.int64)
            ends = now + np.cumsum(taus)
            end = int(ends[-1])
            finished = _apply_stretch(e, dec, ends)
            self.log.many(ends - taus, ends, nd)
            sched.after_batch(end, end - now, k, finished, [], [])
            self.iterations += k
            self.stretched += k
        self.now = end
        if self.audit is not None:
            self.audit(e)
        return True


def _drive(table: RequestTable, runners: list[Runner], router: Any,
           progress: Callable[[int], None] | None) -> None:
    """Route every request at its arrival, in arrival order, advancing the engines in between (the
    module docstring's state at an arrival); then run every engine until it has nothing left."""
    arrivals = table.arrival_list
    n = table.n
    heap: list[tuple[int, int]] = []  # (start of the next iteration, engine) of the engines with work
    last = None
    report_every = max(1, n // 200)
    next_report = report_every
    engines = [r.e for r in runners]
    for k in range(n):
        a = arrivals[k]
        if a != last:
            while heap and heap[0][0] < a:
                g = heappop(heap)[1]
                runner = runners[g]
                runner.advance(a)
                if not runner.idle:
                    heappush(heap, (runner.now, g))
            last = a
        g = router.choose(k, a)
        runner = runners[g]
        if runner.idle:
            heappush(heap, (a, g))
        runner.push(k, a)
        if progress is not None and k >= next_report:
            progress(sum(e.n_done for e in engines))
            next_report = k + report_every
    for runner in runners:
        runner.advance(None)
    if any(e.outstanding for e in engines):
        raise RuntimeError("internal error: a request was left unfinished")
    if progress is not None:
        progress(n)


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
                e._insert(r, start, stop)
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
    if at_prefill:
        _finish(e, np.array(at_prefill, dtype=np.int64))
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
    finished = dec[mask] if mask.any() else EMPTY
    if len(finished):
        _finish(e, finished)
    return finished


def _finish(e: Engine, ids: np.ndarray) -> None:
    e.phase[ids] = DONE
    if e.limited:
        e.free += int(e.blocks[ids].sum())
        e.blocks[ids] = 0
    if e.cache is not None:
        for r in ids.tolist():
            e._release(r)
    e.n_running -= len(ids)
    e.n_done += len(ids)
    e.outstanding -= len(ids)


def _timeline(e: RequestTable) -> Timeline:
    """The results in the workload's request order."""
    perm = e.perm
    n = e.n
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = np.arange(n, dtype=np.int64)
    if np.array_equal(perm, np.arange(n)):
        times, offsets = e.times, e.off
        arrival, first, pre, engine, cached = e.arrival, e.first_sched, e.preempted, e.engine_of, e.cached
    else:
        lengths = e.out[inverse]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = e.off[inverse]
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
        times = e.times[index]
        arrival, first, pre = e.arrival[inverse], e.first_sched[inverse], e.preempted[inverse]
        engine, cached = e.engine_of[inverse], e.cached[inverse]
    return Timeline(e.workload, e.D, arrival, first, offsets, times, pre, engine, cached)
