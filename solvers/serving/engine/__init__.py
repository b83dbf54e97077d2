"""The serving engine: iterations of mixed prefill and decode batches under a token budget and a KV
memory limit, with one scheduler deciding each batch (../shared/MODEL_SERVING.md).

The modules, one job each (this docstring holds the rules they share):

- :mod:`.front`: :func:`serve`, the front door, and its result :class:`ServingRun`;
- :mod:`.config`: :class:`EngineConfig` (budget, ``max_num_seqs``, KV memory, block size, cost,
  prefix cache), the defaults and :data:`PREFIX_CACHES`;
- :mod:`.table`: :class:`RequestTable`, every request's data and state as arrays by arrival rank,
  shared by the engines, and the run's exact clock;
- :mod:`.memory`: :class:`Engine`, one engine's KV memory and the mechanics its scheduler calls
  (admission, decode slots, preemption, the prefix cache's hooks);
- :mod:`.loop`: :class:`Runner`, one engine's iteration loop with the bulk decode-stretch fast path;
- :mod:`.cluster`: the cluster driver, routing each request at its arrival.

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
- **Prefix cache** (``prefix_cache``: :data:`PREFIX_CACHES`,
  :mod:`~prefix_sched.solvers.serving.prefix_cache`). Memory is then
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
rank, so arrival order is index order); decodes are handled as arrays, and a decode-only batch that
nothing can change is advanced as a whole stretch at once (:mod:`.loop`). The slow path (one
iteration at a time) is what the reference engine of the tests reproduces; the stretch is checked
against it. The cyclic garbage collector is paused during a run (:func:`~.front.serve`): the engine
creates no cyclic garbage, and a collection would re-traverse every cached node.

Examples
--------
>>> from prefix_sched.theory.serving.requests import Workload
>>> run = serve(Workload.from_lengths([6, 2], [3, 1], [0, 0]), "sarathi", budget=4)
>>> run.iterations, [len(run.token_times_us(i)) for i in range(2)]
(4, [3, 1])
"""

from prefix_sched.solvers.serving.engine.config import (
    DEFAULT_BLOCK, DEFAULT_BUDGET, DEFAULT_MAX_SEQS, PREFIX_CACHES, EngineConfig,
)
from prefix_sched.solvers.serving.engine.front import ServingRun, serve
from prefix_sched.solvers.serving.engine.loop import Runner
from prefix_sched.solvers.serving.engine.memory import Engine
from prefix_sched.solvers.serving.engine.table import DECODE, DONE, EMPTY, MAX_TICKS, PREFILL, WAITING, RequestTable

__all__ = ["DECODE", "DEFAULT_BLOCK", "DEFAULT_BUDGET", "DEFAULT_MAX_SEQS", "DONE", "EMPTY", "MAX_TICKS",
           "PREFILL", "PREFIX_CACHES", "WAITING", "Engine", "EngineConfig", "RequestTable", "Runner", "ServingRun",
           "serve"]
