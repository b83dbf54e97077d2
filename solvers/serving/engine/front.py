"""The front door of the serving engine: :func:`serve` runs a workload on one engine or on many
behind a router and returns a :class:`ServingRun` (every token's time, counters, settings).

It parses the scheduler, order and router, builds the request table, the engines, their schedulers
and logs, drives them (:func:`~.cluster.drive`) and gathers the results; the rules are in
:mod:`prefix_sched.solvers.serving.engine`.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine.cluster import drive
from prefix_sched.solvers.serving.engine.config import (
    DEFAULT_BLOCK,
    DEFAULT_BUDGET,
    DEFAULT_MAX_SEQS,
    EngineConfig,
)
from prefix_sched.solvers.serving.engine.loop import EngineLog, Runner, merge_logs
from prefix_sched.solvers.serving.engine.memory import Engine
from prefix_sched.solvers.serving.engine.table import RequestTable
from prefix_sched.solvers.serving.orders import check_order
from prefix_sched.solvers.serving.registry import build_scheduler, parse_scheduler
from prefix_sched.solvers.serving.routers import build_router, parse_router
from prefix_sched.theory.cache import paused_cyclic_gc
from prefix_sched.theory.numbers import Exact, brief
from prefix_sched.theory.serving.costs import DEFAULT_PRESET, PRESETS, IterationCost, parse_cost
from prefix_sched.theory.serving.measures import BatchLog, Timeline
from prefix_sched.theory.serving.requests import Workload
from prefix_sched.theory.serving.traces import engine_generator, router_generator


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
        ``G >= 1`` identical engines (:mod:`prefix_sched.solvers.serving.engine` says when the router decides).
    router : str or RouterSpec, optional
        A registered router (:mod:`~prefix_sched.solvers.serving.routers`); default: the scheduler's
        own (``least-work`` for ``rad``), else ``round-robin``.
    prefix_cache : {"none", "lru", "unbounded"}
        Each engine's prefix cache (:data:`~.config.PREFIX_CACHES`,
        :mod:`~prefix_sched.solvers.serving.prefix_cache`); under a cache the
        order of new prefills may be any of Part 1's policies (``lpm``, ``k-lpm:3``, ...).

    Raises
    ------
    InputError
        A bad setting, an unknown scheduler, router or an order the scheduler refuses, a request that
        does not fit in memory alone, a prompt that a whole-prompt scheduler cannot fit in its budget.
    """
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
        runners.append(Runner(engine, build_scheduler(spec, engine), EngineLog(record_batches, g), audit))
    chooser = build_router(route, table, [r.e for r in runners], router_generator(seed))
    with paused_cyclic_gc():  # the run makes no cyclic garbage; a collection would walk every cached node
        drive(table, runners, chooser, progress)
    timeline = table.timeline()
    settings = {"scheduler": spec.label, **spec.as_dict(), **config.as_dict(), "seed": seed,
                "engines": engines, **({"router": route.label, **route.as_dict()} if engines > 1 or router is not None
                                       else {}),
                "ticks_per_us": table.D, "time_unit": "us",
                "time": f"exact: the engine counts integer ticks of 1/{table.D} us (every cost coefficient, "
                        "catt/2 and arrival a whole number of ticks); files give microseconds exactly"}
    counters = tuple({"iterations": r.iterations, "stretched_iterations": r.stretched,
                      "preemptions": r.e.preemptions_total} for r in runners)
    batches = merge_logs([r.log.batches() for r in runners]) if record_batches else None
    return ServingRun(timeline, batches, sum(c["iterations"] for c in counters),
                      sum(c["stretched_iterations"] for c in counters), sum(c["preemptions"] for c in counters),
                      settings, engines, counters)

