"""The two seeds together (issue 22's study): Part 1's orders inside the serving engine with a prefix
cache, routers across engines, and every scheduler's throughput against the capacity bound.

Three questions, each a list of runs (points) run on worker processes, and one results file:

1. **Orders** (:func:`order_points`): the Mooncake conversation trace (all 12,031 requests, their
   512-token block hashes as prompts, their output lengths), rescaled exactly to each rate of
   :data:`ORDER_RATES`, through ``sarathi``, ``vllm`` and ``sglang`` with each order of
   :data:`ORDERS` (those that read a cache only under one) and ``slai`` (which orders new prefills
   itself), under each prefix cache of :data:`CACHES` (``none``; ``lru`` sharing the
   :data:`KV_TOKENS` KV tokens with the running requests; ``unbounded``), and RAD (a reconstruction)
   with FCFS and k-LPM. Does Part 1's ranking of orders on P99 TTFT (docs/policies.md,
   docs/cache_models.md) hold once decode and chunking are in? :func:`rankings` orders them.
2. **Routers** (:func:`router_points`): SGLang's stack (``sglang``, LPM order) on 1, 4 and 16 engines
   behind each router, at :data:`ROUTER_RATE_PER_ENGINE` requests/s per engine, under ``lru`` and
   ``unbounded``: reuse, P99 TTFT, P99 TBT and the imbalance (the most requests on one engine over
   the mean; the same for busy time).
3. **Throughput against the bound** (:mod:`.stability`): long runs on the ShareGPT lengths, the
   bound, each scheduler's stability boundary and its capacity under the seed's objective; the
   ``extras`` part adds Sarathi's boundary at the off-tile budget 520 by bisection and the batches of
   RAD (a reconstruction), Sarathi and SGLang near the bound (:func:`extras_part`).

Settings (:class:`Grid`): the ``seed`` cost preset, budget 512, ``max_num_seqs`` 128, KV memory
219,104 tokens (Mistral-7B on the seed's 48 GB card at 90%, :data:`~.seed_experiment.SEED_KV_TOKENS`)
in blocks of 16 without a cache and of 1 with one, seed 0. Each row carries its own settings.

What it leaves out: plots (:mod:`.both_seeds_plots`) and any claim about settings not run.
``python -m prefix_sched.studies.serving.both_seeds OUT.json [--workers 2] [--parts
orders,routers,extras,stability,capacity]`` writes the file (docs/both_seeds_study.json; about 45
minutes on two worker processes); notebook 10 reads it.

Examples
--------
>>> [p.label for p in order_points(rates=[Fraction(1, 2)])][:3]
['sarathi/fcfs/none', 'sarathi/hrrn/none', 'sarathi/fcfs/lru']
>>> len(order_points()), len(router_points())
(126, 22)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.orders import check_order
from prefix_sched.solvers.serving.registry import parse_scheduler
from prefix_sched.solvers.serving.routers import ROUTERS
from prefix_sched.studies.data import MOONCAKE_TRACE, find_shared
from prefix_sched.studies.serving import stability
from prefix_sched.studies.serving.capacity import against_bound
from prefix_sched.studies.serving.seed_experiment import SEED_KV_TOKENS, figures
from prefix_sched.studies.serving import seed_experiment
from prefix_sched.studies.serving.runs import map_points, read_study_file, write_study_file
from prefix_sched.theory.numbers import Exact, exact_number, to_json
from prefix_sched.theory.serving.capacity_bound import CapacityBound, capacity_bound, offered_rate
from prefix_sched.theory.serving.measures import ALL, engine_rows
from prefix_sched.theory.serving.requests import Workload
from prefix_sched.theory.serving.traces import load_workload

STUDY_FORMAT = "prefix-sched-both-seeds-study"
STUDY_VERSION = 1
KV_TOKENS = SEED_KV_TOKENS
ORDER_SCHEDULERS = ("sarathi", "vllm", "sglang")
"""The schedulers that take Part 1's orders; ``slai`` orders new prefills itself."""
ORDERS = ("fcfs", "hrrn", "lpm", "k-lpm:3", "dfs-weight")
CACHES = ("none", "lru", "unbounded")
ORDER_RATES: tuple[Fraction, ...] = (Fraction(2, 5), Fraction(3, 5), Fraction(4, 5))
"""Requests/s; the bound on this trace is 0.928 without a cache and 1.913 with one (every prefix reused).
1.0 requests/s was dropped from the grid: above the bound without a cache (and above every scheduler's
boundary with the caches, whose reuse is small at these rates) the queues grow to thousands, and
SGLang with HRRN needed more than six minutes for one run at 0.8 alone."""
RAD_ORDERS = {"none": ("fcfs",), "lru": ("k-lpm:3",), "unbounded": ("k-lpm:3",)}
ROUTER_SCHEDULER, ROUTER_ORDER = "sglang", "lpm"
ROUTER_ENGINES = (1, 4, 16)
ROUTER_RATE_PER_ENGINE = Fraction(7, 10)
ROUTER_CACHES = ("lru", "unbounded")


# --- one run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """The engine settings shared by the study's runs."""

    trace: str = "mooncake"
    cost: str = "seed"
    budget: int = 512
    max_seqs: int = 128
    kv_tokens: int | None = KV_TOKENS
    seed: int = 0
    requests: int | None = None
    """The first ``requests`` of the trace (None: all of it)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServePoint:
    """One run of the Mooncake trace: a scheduler with an order under a cache at a rate, on
    ``engines`` engines behind ``router``."""

    scheduler: str
    order: str | None
    cache: str
    rate: Fraction
    engines: int = 1
    router: str | None = None
    grid: Grid = Grid()

    def __post_init__(self) -> None:
        parse_scheduler(self.scheduler, self.order, cache=self.cache)
        object.__setattr__(self, "rate", Fraction(exact_number(self.rate, "rate")))

    @property
    def label(self) -> str:
        base = f"{self.scheduler}/{self.order or 'own'}/{self.cache}"
        return base if self.engines == 1 else f"{base}/{self.engines}x{self.router}"


@dataclass(frozen=True)
class ServeRow:
    """The figures of one run (times in us, exact): TTFT and TBT percentiles, reuse, preemptions,
    imbalance, the backlog drift's verdict (:mod:`.stability`) and the bound's rate for its cache."""

    label: str
    scheduler: str
    order: str | None
    cache: str
    rate: Fraction
    engines: int
    router: str | None
    requests: int
    ttft_p50_us: Exact
    ttft_p90_us: Exact
    ttft_p99_us: Exact
    ttft_max_us: Exact
    tbt_p50_us: Exact | None
    tbt_p99_us: Exact | None
    reuse: Fraction
    preemptions: int
    iterations: int
    imbalance_requests: Fraction
    imbalance_busy: Fraction | None
    drift: dict[str, Any]
    bound_rate: Fraction | None
    wall_s: float = field(default=0.0, compare=False)
    cpu_s: float = field(default=0.0, compare=False)

    def as_json(self) -> dict[str, Any]:
        def j(value):
            return None if value is None else to_json(value)

        out = {k: getattr(self, k) for k in ("label", "scheduler", "order", "cache", "engines", "router", "requests",
                                               "preemptions", "iterations", "drift")}
        out.update({k: j(getattr(self, k)) for k in ("rate", "ttft_p50_us", "ttft_p90_us", "ttft_p99_us", "ttft_max_us",
                                                      "tbt_p50_us", "tbt_p99_us", "reuse", "imbalance_requests",
                                                      "imbalance_busy", "bound_rate")})
        out.update({"wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3)})
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServeRow:
        def n(value):
            return None if value is None else exact_number(value, "a study figure")

        return cls(data["label"], data["scheduler"], data["order"], data["cache"], Fraction(n(data["rate"])),
                   data["engines"], data["router"], data["requests"],
                   *(n(data[k]) for k in ("ttft_p50_us", "ttft_p90_us", "ttft_p99_us", "ttft_max_us", "tbt_p50_us",
                                           "tbt_p99_us")),
                   Fraction(n(data["reuse"])), data["preemptions"], data["iterations"],
                   Fraction(n(data["imbalance_requests"])),
                   None if data["imbalance_busy"] is None else Fraction(n(data["imbalance_busy"])), data["drift"],
                   None if data["bound_rate"] is None else Fraction(n(data["bound_rate"])),
                   data.get("wall_s", 0.0), data.get("cpu_s", 0.0))


@lru_cache(maxsize=2)
def _trace(trace: str, limit: int | None = None) -> Workload:
    path = find_shared(MOONCAKE_TRACE)
    if path is None:
        raise InputError(f"the shared data file {MOONCAKE_TRACE} is not beside the checkout (../shared)")
    return load_workload(path, "mooncake", limit=limit)


@lru_cache(maxsize=4)
def workload_at(trace: str, rate: Fraction, limit: int | None = None) -> Workload:
    """The Mooncake trace (its first ``limit`` requests) with its timestamps rescaled exactly to ``rate``."""
    path = find_shared(MOONCAKE_TRACE)
    if path is None:
        raise InputError(f"the shared data file {MOONCAKE_TRACE} is not beside the checkout (../shared)")
    return load_workload(path, "mooncake", rate=rate, limit=limit)


@lru_cache(maxsize=16)
def bound_for(grid: Grid, cache: str, engines: int = 1) -> CapacityBound:
    """The capacity bound of the trace under ``cache`` on ``engines`` engines."""
    return capacity_bound(_trace(grid.trace, grid.requests), grid.cost, budget=grid.budget, max_seqs=grid.max_seqs,
                          kv_tokens=grid.kv_tokens, prefix_cache=cache, engines=engines)


def run_serve_point(point: ServePoint) -> ServeRow:
    """Serve ``point`` and return its figures."""
    wall, cpu = time.perf_counter(), time.process_time()
    grid = point.grid
    workload = workload_at(grid.trace, point.rate, grid.requests)
    run = serve(workload, point.scheduler, order=point.order, budget=grid.budget, cost=grid.cost,
                kv_tokens=grid.kv_tokens, max_seqs=grid.max_seqs, seed=grid.seed, prefix_cache=point.cache,
                engines=point.engines, router=point.router, record_batches=point.engines > 1)
    t = run.timeline
    summary = figures(t)[ALL]
    prompt_tokens = workload.total_prompt_tokens
    reuse = Fraction(int(t.cached_tokens.sum()), prompt_tokens)
    imbalance_requests, imbalance_busy = Fraction(1), None
    if point.engines > 1:
        rows = engine_rows(t, point.engines, run.batches)
        counts = [r["requests"] for r in rows]
        busy = [Fraction(r["busy_us"]) for r in rows]
        imbalance_requests = Fraction(max(counts) * len(counts), sum(counts))
        imbalance_busy = max(busy) * len(busy) / sum(busy) if sum(busy) else None
    bound = bound_for(grid, point.cache, point.engines)
    measured = stability.measure(t, bound, run.preemptions, run.iterations)
    drift = {"slope_tok_s": measured.drift_tok_s.slope, "low": measured.drift_tok_s.low,
             "high": measured.drift_tok_s.high, "verdict": measured.verdict,
             "backlog_requests_end": measured.backlog_requests_end, "drain_s": round(measured.drain_s, 3)}
    return ServeRow(point.label, point.scheduler, point.order, point.cache, point.rate, point.engines, point.router,
                    workload.n, summary["ttft_p50"], summary["ttft_p90"], summary["ttft_p99"], summary["ttft_max"],
                    summary["tbt_p50"], summary["tbt_p99"], reuse, run.preemptions, run.iterations,
                    imbalance_requests, imbalance_busy, drift, bound.rate_req_s, time.perf_counter() - wall,
                    time.process_time() - cpu)


POINT_LIMIT_S = 480
"""Wall seconds one run of a grid may take before it is recorded as not finished (:func:`try_serve_point`)."""


class _TimeLimit(Exception):
    """Raised by the alarm of :func:`try_serve_point`."""


def try_serve_point(point: ServePoint, limit_s: float | None = POINT_LIMIT_S) -> ServeRow | dict[str, Any]:
    """:func:`run_serve_point`, or, when the engine stops on an internal error (an ``AssertionError`` or
    ``RuntimeError`` of the engine or of an order's index) or the run takes more than ``limit_s`` wall
    seconds (an alarm, where the platform has one and this is the main thread), the point and the
    reason: a run that did not finish is recorded as such and credited to nobody."""
    import signal
    import threading

    timed = (limit_s is not None and hasattr(signal, "setitimer")
             and threading.current_thread() is threading.main_thread())
    if timed:
        def alarm(signum, frame):
            raise _TimeLimit(f"did not finish within {limit_s:g} s of wall time")

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        return run_serve_point(point)
    except (AssertionError, RuntimeError, _TimeLimit) as err:
        return {"label": point.label, "scheduler": point.scheduler, "order": point.order, "cache": point.cache,
                "rate": to_json(point.rate), "engines": point.engines, "router": point.router,
                "error": f"{type(err).__name__.lstrip('_')}: {err}"}
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def run_serve_points(points: Iterable[ServePoint], workers: int = 2,
                     say: Callable[[str], None] = lambda text: None) -> tuple[list[ServeRow], list[dict], float]:
    """Every point (rows in the points' order), the points that failed (:func:`try_serve_point`) and the
    wall time, on ``workers`` processes; ``say`` hears each point as its result comes back, in order."""
    points = list(points)
    started, heard = time.perf_counter(), []

    def done(result) -> None:
        heard.append(result)
        label = result.label if isinstance(result, ServeRow) else result["label"]
        say(f"  {len(heard)}/{len(points)} {label} at {float(points[len(heard) - 1].rate):g}/s "
            f"({time.perf_counter() - started:.0f} s)")

    results, wall = map_points(try_serve_point, points, workers, done)
    rows = [r for r in results if isinstance(r, ServeRow)]
    failures = [r for r in results if not isinstance(r, ServeRow)]
    return rows, failures, wall


# --- the grids ----------------------------------------------------------------------------------

def orders_for(cache: str, orders: Sequence[str] = ORDERS) -> tuple[str, ...]:
    """The orders of ``orders`` that run under ``cache`` (LPM and its kin need one)."""
    out = []
    for order in orders:
        try:
            check_order(parse_policy(order), cache)
        except PrefixSchedError:
            continue
        out.append(order)
    return tuple(out)


def order_points(rates: Sequence[Exact] = ORDER_RATES, grid: Grid = Grid()) -> list[ServePoint]:
    """Question 1's runs: every scheduler x order x cache at every rate (module docstring)."""
    out = []
    for rate in rates:
        for scheduler in ORDER_SCHEDULERS:
            for cache in CACHES:
                out += [ServePoint(scheduler, order, cache, rate, grid=grid) for order in orders_for(cache)]
        out += [ServePoint("slai", None, cache, rate, grid=grid) for cache in CACHES]
        out += [ServePoint("rad", order, cache, rate, grid=grid) for cache in CACHES for order in RAD_ORDERS[cache]]
    return out


def router_points(grid: Grid = Grid(), engines: Sequence[int] = ROUTER_ENGINES,
                  per_engine: Exact = ROUTER_RATE_PER_ENGINE, caches: Sequence[str] = ROUTER_CACHES) -> list[ServePoint]:
    """Question 2's runs: SGLang with LPM on each engine count behind each router (one engine: no router)."""
    out = []
    for cache in caches:
        for g in engines:
            routers = [None] if g == 1 else [r.value for r in ROUTERS]
            out += [ServePoint(ROUTER_SCHEDULER, ROUTER_ORDER, cache, Fraction(per_engine) * g, g, router, grid)
                    for router in routers]
    return out


def rankings(rows: Iterable[ServeRow], key: str = "ttft_p99_us") -> dict[tuple[str, str, Fraction], list[str]]:
    """For each (scheduler, cache, rate): the orders from the lowest ``key`` to the highest (ties by name)."""
    groups: dict[tuple[str, str, Fraction], list[ServeRow]] = {}
    for r in rows:
        if r.scheduler in ORDER_SCHEDULERS and r.engines == 1:
            groups.setdefault((r.scheduler, r.cache, r.rate), []).append(r)
    return {k: [r.order for r in sorted(v, key=lambda r: (Fraction(getattr(r, key)), r.order))]
            for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], CACHES.index(kv[0][1]), kv[0][2]))}


def ratio_to(rows: Iterable[ServeRow], order: str, base: str, key: str = "ttft_p99_us") -> dict[tuple, Fraction]:
    """``key(order) / key(base)`` for each (scheduler, cache, rate) where both ran."""
    by = {(r.scheduler, r.cache, r.rate, r.order): r for r in rows if r.engines == 1}
    return {(s, c, rate): Fraction(getattr(r, key)) / Fraction(getattr(by[(s, c, rate, base)], key))
            for (s, c, rate, o), r in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
            if o == order and (s, c, rate, base) in by}


# --- throughput against the bound ---------------------------------------------------------------

def capacity_table(setup: seed_experiment.Setup | None = None, schedulers: Sequence[str] = ("sarathi", "vllm", "sglang",
                                                                                            "slai", "rad"),
                   workers: int = 2, max_probes: int = 10) -> dict[str, Any]:
    """Each scheduler's capacity under the seed's objective (the seed's ShareGPT run, bisection) against
    the capacity bound of those requests on that engine (rates realised; ``prefix-sched capacity``'s gap)."""
    setup = setup or seed_experiment.seed_setup()
    started = time.perf_counter()
    caps = seed_experiment.capacities(setup, schedulers, max_probes=max_probes, workers=workers)
    workload = setup.workload(Fraction(8, 5))
    bound = capacity_bound(workload, setup.cost, budget=setup.budget, max_seqs=setup.max_seqs,
                           kv_tokens=setup.kv_tokens, block_size=setup.block_size)
    rows = []
    for name, cap in caps.items():
        probes = tuple(replace(p, extra={**p.extra, "realised_rate": offered_rate(setup.workload(p.rate))})
                       for p in cap.probes)
        row = against_bound(name, replace(cap, probes=probes), bound.rate_req_s)
        rows.append({"scheduler": name, **{k: None if getattr(row, k) is None else to_json(getattr(row, k))
                                            for k in ("low", "high", "low_realised", "high_realised", "low_ratio",
                                                      "high_ratio")},
                     "probes": seed_experiment.capacity_json(cap)["probes"],
                     "ttft_p99_low_us": next((to_json(p.extra["row"].ttft_p99_us) for p in cap.probes
                                              if p.rate == cap.low), None)})
    return {"setup": setup.as_dict(), "objective": "seed", "bound": bound.as_dict(), "rows": rows,
            "wall_s": round(time.perf_counter() - started, 2)}


def stability_part(workers: int = 2, say: Callable[[str], None] = lambda text: None,
                   requests: int = 16_384) -> dict[str, Any]:
    """Question 3's long runs (:mod:`.stability`): the boundary grid with unbounded and with the seed's
    KV memory, the tile, the fixed shares and each scheduler's boundary by bisection."""
    out: dict[str, Any] = {}
    free = stability.Setup(kv_tokens=None, requests=requests)
    seed_kv = stability.Setup(requests=requests)
    for name, setup in (("unbounded_kv", free), ("seed_kv", seed_kv)):
        rows, wall = stability.run_points(stability.boundary_points(setup), workers)
        out[f"boundary_{name}"] = {"setup": setup.as_dict(), "bound": setup.bound().as_dict(),
                                   "rows": [r.as_json() for r in rows], "wall_s": round(wall, 2)}
        say(f"stability boundary grid ({name}): {len(rows)} runs in {wall:.1f} s")
    tiled = replace(free, cost="seed-tile128")
    rows, wall = stability.run_points(stability.tile_points(tiled), workers)
    out["tile"] = {"setup": tiled.as_dict(), "bound": tiled.bound().as_dict(),
                   "bound_520": replace(tiled, budget=520).bound().as_dict(),
                   "predicted_ratio": to_json(stability.tile_ratio()), "rows": [r.as_json() for r in rows],
                   "wall_s": round(wall, 2)}
    say(f"tile: {len(rows)} runs in {wall:.1f} s")
    rows, wall = stability.run_points(stability.fixed_share_points(free), workers)
    bound = free.bound()
    out["fixed_share"] = {"setup": free.as_dict(), "decode_fraction": to_json(stability.decode_fraction(bound)),
                          "predicted": {to_json(F): to_json(stability.fixed_share_boundary(bound, F))
                                        for F in stability.fixed_shares(bound)},
                          "rows": [r.as_json() for r in rows], "wall_s": round(wall, 2)}
    say(f"fixed share: {len(rows)} runs in {wall:.1f} s")
    for name, setup in (("unbounded_kv", free), ("seed_kv", seed_kv)):
        caps, wall = stability.boundaries(setup, workers=workers)
        out[f"bisection_{name}"] = {"setup": setup.as_dict(), "wall_s": round(wall, 2),
                                    "schedulers": {s: stability.boundary_json(c, setup.bound())
                                                   for s, c in caps.items()}}
        say(f"stability boundaries by bisection ({name}): {wall:.1f} s")
    return out


def extras_part(workers: int = 2, say: Callable[[str], None] = lambda text: None,
                requests: int = 16_384) -> dict[str, Any]:
    """Two additions to the stability part: the boundary of ``sarathi`` at the off-tile budget (520,
    ``seed-tile128``) by bisection, against the predicted ``0.872 Lambda``; and the batches of RAD and
    Sarathi near and above the bound (:func:`~.stability.batch_fill`), which show why RAD falls short."""
    free = stability.Setup(kv_tokens=None, requests=requests)
    off = replace(free, cost="seed-tile128", budget=520)
    started = time.perf_counter()
    cap = stability.stability_boundary(off, "sarathi", start=stability.rates_around(off.bound(), [Fraction(4, 5)])[0])
    out: dict[str, Any] = {"tile_bisection": {"setup": off.as_dict(), "predicted_ratio": to_json(stability.tile_ratio()),
                                              "sarathi": stability.boundary_json(cap, off.bound()),
                                              "wall_s": round(time.perf_counter() - started, 2)}}
    say(f"tile bisection: {time.perf_counter() - started:.1f} s")
    seed_kv = stability.Setup(requests=requests)
    points = []
    for setup, name in ((free, "KV unbounded"), (seed_kv, "KV 219,104")):
        for q in (Fraction(19, 20), Fraction(21, 20)):
            rate = stability.rates_around(setup.bound(), [q])[0]
            points += [stability.Point(setup, s, rate, label=f"{s}, {name}") for s in ("rad", "sarathi", "sglang")]
    rows, wall = stability.batch_fills(points, workers)
    out["batches"] = {"rows": rows, "wall_s": round(wall, 2)}
    say(f"batch fill: {len(rows)} runs in {wall:.1f} s")
    return out


# --- the whole study and its file ---------------------------------------------------------------

def run_study(workers: int = 2, say: Callable[[str], None] = lambda text: None,
              parts: Sequence[str] = ("orders", "routers", "extras", "stability", "capacity")) -> dict[str, Any]:
    """Every part as one JSON-ready dict (what :func:`write_study` writes)."""
    grid = Grid()
    out: dict[str, Any] = {"format": STUDY_FORMAT, "version": STUDY_VERSION, "grid": grid.as_dict(),
                           "bounds": {c: bound_for(grid, c).as_dict() for c in CACHES}, "wall_s": {}}
    for part, points in (("orders", order_points), ("routers", router_points)):
        if part in parts:
            rows, failures, wall = run_serve_points(points(grid=grid), workers, say)
            out[part] = {"rows": [r.as_json() for r in rows], "failures": failures, "wall_s": round(wall, 2),
                         "workers": workers}
            out["wall_s"][part] = round(wall, 2)
            say(f"{part}: {len(rows)} runs ({len(failures)} failed) in {wall:.1f} s on {workers} workers")
    if "extras" in parts:
        started = time.perf_counter()
        out["extras"] = extras_part(workers, say)
        out["wall_s"]["extras"] = round(time.perf_counter() - started, 2)
    if "stability" in parts:
        started = time.perf_counter()
        out["stability"] = stability_part(workers, say)
        out["wall_s"]["stability"] = round(time.perf_counter() - started, 2)
    if "capacity" in parts:
        out["capacity"] = capacity_table(workers=workers)
        out["wall_s"]["capacity"] = out["capacity"]["wall_s"]
        say(f"capacity table: {out['capacity']['wall_s']:.1f} s")
    return out


write_study = write_study_file


def read_study(path: Path | str) -> dict[str, Any]:
    """Read a study file of this study; FormatError when it is not one (or of another version)."""
    return read_study_file(path, STUDY_FORMAT, STUDY_VERSION)


def serve_rows(study: dict[str, Any], part: str) -> list[ServeRow]:
    """The rows of ``orders`` or ``routers``."""
    return [ServeRow.from_json(r) for r in study[part]["rows"]]


def stability_rows(study: dict[str, Any], part: str) -> list[stability.StabilityRow]:
    """The rows of one stability part (``boundary_unbounded_kv``, ``boundary_seed_kv``, ``tile``, ``fixed_share``)."""
    return [stability.StabilityRow.from_json(r) for r in study["stability"][part]["rows"]]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m prefix_sched.studies.serving.both_seeds OUT.json [--workers W] [--parts a,b]``."""
    import argparse
    parser = argparse.ArgumentParser(description="Run issue 22's study (the two seeds together); write JSON.")
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="orders,routers,extras,stability,capacity")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    study = run_study(args.workers, lambda text: print(text, flush=True), args.parts.split(","))
    study["wall_s"]["total"] = round(time.perf_counter() - started, 2)
    write_study(study, args.out)


if __name__ == "__main__":
    main()

