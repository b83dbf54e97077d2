"""Stability in the serving model: long runs, the backlog over time, its fitted drift, against the
capacity bound (claim 2 of ../shared/MODEL_SERVING.md, a reading of the second seed).

Claim 2 (reading): RAD keeps the backlog bounded for every rate with ``lambda E[|p| + o] < n* /
tau(n*)`` and lets it grow linearly above; a work-conserving engine with a fixed budget ``b`` is
stable iff ``lambda E[|p| + o] < b / tau(b)`` (so a budget off the tile lowers the boundary by the
ratio of tokens per second); a fixed decode share ``F`` is unstable inside the region unless ``F``
matches the workload's decode fraction. This module measures each part; it assumes none of it.

Measures, from a run's exact token times (:func:`backlog`; the engine keeps no backlog trace):

- the **backlog** at time ``t``: the useful work not yet done of the requests arrived by ``t``, in
  batch tokens: for each, its uncached prompt ``|p_r| - cached_r`` until its first token is out,
  plus one token for each later output token not yet out (``o_r - 1`` in all: the first output token
  comes with the prefill); recompute after a preemption is not useful work and is not counted. And
  the requests in the system (arrived, last token not yet out).
- the **drift** (:func:`drift`): the least-squares slope of the backlog (tokens) against time (s)
  over the arrivals after a warm-up (``[warmup * a_n, a_n]``, ``a_n`` the last arrival), sampled at
  :data:`SAMPLES` evenly spaced times; its confidence interval by batch means: the window is cut into
  :data:`BLOCKS` consecutive blocks, each block's own least-squares slope is computed, and the
  interval is ``slope +- t_{0.975, k-1} s / sqrt(k)`` with ``s`` the blocks' standard deviation.
- the **verdict** (operational): ``unstable`` when the interval lies above 0 (the backlog grows
  significantly), else ``stable``. A drift not significantly positive over a long run is what
  "stable" means here; it is not a proof (a rate just above a boundary grows too slowly to show).

Rates are reported both as asked (``rate``) and as realised (``(n - 1) / (a_n - a_1)``, exact), and
against the bound (:func:`~prefix_sched.theory.serving.capacity_bound.capacity_bound`) as
``q = realised / Lambda``. Above the bound the drift must be at least ``(lambda - Lambda) w``
tokens/s when the token term binds and ``c_p = c_d`` with no context term (each batch of ``N``
tokens takes at least ``tau(N)``, so no engine does more than ``n* / tau(n*)`` tokens per second):
:attr:`StabilityRow.drift_floor_tok_s`.

Experiments (each a list of :class:`Point`, run on worker processes by :func:`run_points`):

- :func:`boundary_points`: RAD and every scheduler at rates ``q Lambda`` on both sides of the bound;
  :func:`stability_boundary`: a scheduler's boundary by bisection on the rate with the verdict as the
  test (:func:`~prefix_sched.studies.serving.capacity.find_capacity`);
- :func:`tile_points`: a budget off the tile (520 against 512 under ``seed-tile128``) for a
  work-conserving fixed-budget engine (``sarathi``) and for RAD, with :func:`tile_ratio` the
  predicted ratio ``(520 / tau(520)) / (512 / tau(512))``;
- :func:`fixed_share_points`: ``rad-fixed:F`` with ``F`` below, at and above the workload's decode
  fraction, with :func:`fixed_share_boundary` the boundary the fluid argument predicts.

What it leaves out: any proof of stability (see the verdict), and plotting (``both_seeds_plots``).

Examples
--------
A (prompt 4, output 3) at 0, B (prompt 2, output 1) at 10; Sarathi, budget 8, 10 us + 1 us a token:
[0, 14] prefills A; [14, 27] decodes A and prefills B; [27, 38] decodes A. The backlog is A's 4 + 2
tokens at 0, B's 2 more at 10, 4 after A's prefill, 1 after B's and A's first decode, then 0.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.solvers.serving.engine import serve
>>> w = Workload.from_lengths([4, 2], [3, 1], [0, 10])
>>> run = serve(w, "sarathi", budget=8, cost="c0=10,cp=1,cd=1")
>>> [run.token_times_us(i) for i in range(2)]
[[14, 27, 38], [27]]
>>> work, requests = backlog(run.timeline, np.array([0, 10, 14, 27, 38]) * run.timeline.ticks_per_us)
>>> work.tolist(), requests.tolist()
([6, 8, 4, 1, 0], [1, 2, 2, 1, 0])
>>> rng, t = np.random.default_rng(0), np.arange(40.0)
>>> d = drift(t, 3 * t + rng.normal(0, 2, 40), blocks=4)
>>> round(d.slope, 2), d.low < 3 < d.high, d.verdict
(3.02, True, 'unstable')
>>> drift(t, rng.normal(0, 2, 40), blocks=4).verdict
'stable'
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from functools import lru_cache, partial
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import parse_scheduler
from prefix_sched.studies.data import AZURE_CONVERSATIONS, MOONCAKE_TRACE, SHAREGPT_LENGTHS, find_shared
from prefix_sched.studies.serving.capacity import Capacity, find_capacity
from prefix_sched.studies.serving.runs import map_points
from prefix_sched.theory.numbers import Exact, exact_number, normalize, to_json
from prefix_sched.theory.serving.capacity_bound import CapacityBound, capacity_bound
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.measures import Timeline
from prefix_sched.theory.serving.requests import Workload
from prefix_sched.theory.serving.traces import load_workload

SAMPLES = 400
"""Backlog samples in the drift window."""
BLOCKS = 10
"""Batch-means blocks of the drift's confidence interval."""
WARMUP = Fraction(1, 5)
"""The drift window starts at this share of the last arrival."""
SERIES_POINTS = 120
"""Backlog samples kept per run for the plots (over ``[0, last token]``)."""
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)
"""Student's t quantile 0.975 for 1 .. 30 degrees of freedom (1.96 beyond)."""
TRACES = {"sharegpt": SHAREGPT_LENGTHS, "mooncake": MOONCAKE_TRACE, "azure": AZURE_CONVERSATIONS}
STABILITY_SCHEDULERS = ("rad", "sarathi", "vllm", "sglang", "slai")
"""RAD (a reconstruction) and the four schedulers of the study."""
SEED_KV_TOKENS = 219_104
"""Mistral-7B's KV on the seed's 48 GB card at 90% (:data:`~.seed_experiment.SEED_KV_TOKENS`)."""


# --- the backlog and its drift ----------------------------------------------------------------------

def backlog(timeline: Timeline, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(work, requests)`` at each time of ``at`` (ticks): the useful batch tokens not yet done of the
    requests arrived by then, and how many of those requests are unfinished (module docstring)."""
    workload = timeline.workload
    n = workload.n
    prompts = np.fromiter((r.prompt_tokens for r in workload.requests), dtype=np.int64, count=n)
    lengths = np.diff(timeline.offsets)
    first = prompts - timeline.cached_tokens
    arrival = timeline.arrival
    order = np.argsort(arrival, kind="stable")
    arrived_at = arrival[order]
    arrived_work = np.concatenate(([0], np.cumsum((first + lengths - 1)[order])))
    weights = np.ones(len(timeline.token_times), dtype=np.int64)
    weights[timeline.offsets[:-1]] = first
    order = np.argsort(timeline.token_times, kind="stable")
    done_at = timeline.token_times[order]
    done_work = np.concatenate(([0], np.cumsum(weights[order])))
    finished_at = np.sort(timeline.last_token())
    at = np.asarray(at)
    arrived = np.searchsorted(arrived_at, at, side="right")
    work = arrived_work[arrived] - done_work[np.searchsorted(done_at, at, side="right")]
    requests = arrived - np.searchsorted(finished_at, at, side="right")
    return work, requests


@dataclass(frozen=True)
class Drift:
    """A least-squares slope (units per second) with its batch-means 95% interval and the verdict."""

    slope: float
    low: float
    high: float
    blocks: int

    @property
    def verdict(self) -> str:
        return "unstable" if self.low > 0 else "stable"

    def as_json(self) -> dict[str, Any]:
        return {"slope": self.slope, "low": self.low, "high": self.high, "blocks": self.blocks,
                "verdict": self.verdict}


def drift(times_s: np.ndarray, values: np.ndarray, blocks: int = BLOCKS) -> Drift:
    """The least-squares slope of ``values`` against ``times_s`` and its batch-means interval (module
    docstring). Raises InputError with fewer than two samples a block."""
    times_s = np.asarray(times_s, dtype=float)
    values = np.asarray(values, dtype=float)
    if type(blocks) is not int or blocks < 2 or len(times_s) < 2 * blocks or len(times_s) != len(values):
        raise InputError(f"a drift needs at least 2 blocks of 2 samples, got {len(times_s)} samples in {blocks}")
    slope = _slope(times_s, values)
    parts = np.array_split(np.arange(len(times_s)), blocks)
    slopes = np.array([_slope(times_s[p], values[p]) for p in parts])
    half = _t975(blocks - 1) * float(slopes.std(ddof=1)) / math.sqrt(blocks)
    return Drift(slope, slope - half, slope + half, blocks)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    dx = x - x.mean()
    denominator = float((dx * dx).sum())
    return float((dx * (y - y.mean())).sum()) / denominator if denominator else 0.0


def _t975(df: int) -> float:
    return T975[df - 1] if df <= len(T975) else 1.96


# --- one run ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setup:
    """Everything of a stability run but the scheduler and the rate.

    ``trace`` is ``sharegpt`` (lengths only; ``arrivals`` generated) or ``mooncake`` / ``azure``
    (their timestamps rescaled to the rate; ``arrivals`` None); ``kv_tokens`` None is unbounded
    memory; ``cost`` is ``--cost`` text.
    """

    trace: str = "sharegpt"
    requests: int = 16_384
    arrivals: str | None = "poisson"
    budget: int = 512
    max_seqs: int = 128
    kv_tokens: int | None = SEED_KV_TOKENS
    block_size: int | None = None
    cost: str = "seed"
    prefix_cache: str = "none"
    engines: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trace not in TRACES:
            raise InputError(f"unknown trace {self.trace!r}; traces: {', '.join(TRACES)}")
        if self.trace != "sharegpt" and self.arrivals is not None:
            raise InputError(f"the {self.trace} trace has its own timestamps: arrivals must be None")
        parse_cost(self.cost)

    def workload(self, rate: Exact) -> Workload:
        return _workload(self, Fraction(rate))

    def bound(self) -> CapacityBound:
        """The capacity bound of this setup's requests (independent of the rate)."""
        return _bound(self)

    def engine_options(self) -> dict[str, Any]:
        out = {"budget": self.budget, "max_seqs": self.max_seqs, "kv_tokens": self.kv_tokens, "cost": self.cost,
               "prefix_cache": self.prefix_cache, "engines": self.engines, "seed": self.seed}
        if self.block_size is not None:
            out["block_size"] = self.block_size
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=4)
def _workload(setup: Setup, rate: Fraction) -> Workload:
    path = find_shared(TRACES[setup.trace])
    if path is None:
        raise InputError(f"the shared data file {TRACES[setup.trace]} is not beside the checkout (../shared)")
    return load_workload(path, setup.trace, rate=rate, arrivals=setup.arrivals, limit=setup.requests, seed=setup.seed)


@lru_cache(maxsize=8)
def _bound(setup: Setup) -> CapacityBound:
    workload = _workload(setup, Fraction(1))
    return capacity_bound(workload, setup.cost, budget=setup.budget, max_seqs=setup.max_seqs,
                          kv_tokens=setup.kv_tokens, block_size=setup.block_size, prefix_cache=setup.prefix_cache,
                          engines=setup.engines)


@dataclass(frozen=True)
class Point:
    """One stability run: a setup, a scheduler (``rad-fixed:1/4`` etc.), an order, a rate (req/s)."""

    setup: Setup
    scheduler: str
    rate: Fraction
    order: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        parse_scheduler(self.scheduler, self.order, cache=None)
        object.__setattr__(self, "rate", Fraction(exact_number(self.rate, "rate")))


@dataclass(frozen=True)
class StabilityRow:
    """One long run: its rates, drift (tokens/s and requests/s), backlog at the last arrival, drain
    time, the bound, and a thinned backlog series for plots (seconds, tokens, requests)."""

    label: str
    scheduler: str
    order: str | None
    cost: str
    budget: int
    rate: Fraction
    realised_rate: Fraction
    bound_rate: Fraction | None
    drift_tok_s: Drift
    drift_req_s: Drift
    drift_floor_tok_s: float | None
    backlog_tokens_end: int
    backlog_requests_end: int
    drain_s: float
    preemptions: int
    iterations: int
    series: dict[str, list] = field(compare=False)
    wall_s: float = field(default=0.0, compare=False)
    cpu_s: float = field(default=0.0, compare=False)

    @property
    def q(self) -> Fraction | None:
        """The realised rate over the bound."""
        return None if self.bound_rate is None else self.realised_rate / self.bound_rate

    @property
    def verdict(self) -> str:
        return self.drift_tok_s.verdict

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "scheduler": self.scheduler, "order": self.order, "cost": self.cost,
                "budget": self.budget, "rate": to_json(self.rate), "realised_rate": to_json(self.realised_rate),
                "bound_rate": None if self.bound_rate is None else to_json(self.bound_rate),
                "q": None if self.q is None else float(self.q), "verdict": self.verdict,
                "drift_tok_s": self.drift_tok_s.as_json(), "drift_req_s": self.drift_req_s.as_json(),
                "drift_floor_tok_s": self.drift_floor_tok_s, "backlog_tokens_end": self.backlog_tokens_end,
                "backlog_requests_end": self.backlog_requests_end, "drain_s": round(self.drain_s, 3),
                "preemptions": self.preemptions, "iterations": self.iterations, "series": self.series,
                "wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StabilityRow:
        def d(x):
            return Drift(x["slope"], x["low"], x["high"], x["blocks"])

        return cls(data["label"], data["scheduler"], data["order"], data["cost"], data["budget"],
                   Fraction(exact_number(data["rate"], "rate")), Fraction(exact_number(data["realised_rate"], "rate")),
                   None if data["bound_rate"] is None else Fraction(exact_number(data["bound_rate"], "rate")),
                   d(data["drift_tok_s"]), d(data["drift_req_s"]), data["drift_floor_tok_s"],
                   data["backlog_tokens_end"], data["backlog_requests_end"], data["drain_s"], data["preemptions"],
                   data["iterations"], data["series"], data.get("wall_s", 0.0), data.get("cpu_s", 0.0))


def run_point(point: Point) -> StabilityRow:
    """Serve ``point`` and measure its backlog, drift and drain (module docstring)."""
    wall, cpu = time.perf_counter(), time.process_time()
    setup = point.setup
    workload = setup.workload(point.rate)
    run = serve(workload, point.scheduler, order=point.order, **setup.engine_options())
    row = measure(run.timeline, setup.bound(), run.preemptions, run.iterations)
    return replace(row, label=point.label or point.scheduler, scheduler=point.scheduler, order=point.order,
                   cost=setup.cost, budget=setup.budget, rate=point.rate, wall_s=time.perf_counter() - wall,
                   cpu_s=time.process_time() - cpu)


def measure(timeline: Timeline, bound: CapacityBound | None, preemptions: int = 0, iterations: int = 0,
            warmup: Exact = WARMUP, samples: int = SAMPLES, blocks: int = BLOCKS) -> StabilityRow:
    """The stability figures of a finished run (``bound`` for the realised rate's ratio and the drift floor)."""
    D = timeline.ticks_per_us
    arrival = timeline.arrival
    first, last = int(arrival.min()), int(arrival.max())
    if last <= first:
        raise InputError("a stability run needs arrivals spread over time")
    n = timeline.workload.n
    realised = Fraction((n - 1) * D * 1_000_000, last - first)
    start = first + int(Fraction(warmup) * (last - first))
    at = np.linspace(start, last, samples).round().astype(np.int64)
    work, requests = backlog(timeline, at)
    seconds = at / (D * 1e6)
    d_tok = drift(seconds, work, blocks)
    d_req = drift(seconds, requests, blocks)
    end_work, end_requests = backlog(timeline, np.array([last]))
    finish = int(timeline.token_times.max())
    grid = np.linspace(first, finish, SERIES_POINTS).round().astype(np.int64)
    g_work, g_req = backlog(timeline, grid)
    series = {"t_s": [round(float(x) / (D * 1e6), 3) for x in grid], "tokens": g_work.tolist(),
              "requests": g_req.tolist()}
    bound_rate = None if bound is None else bound.rate_req_s
    floor = None
    if bound is not None and bound_rate is not None:
        cost = bound.settings["cost"]
        simple = (cost["cp"] == cost["cd"] and cost["ckv"] == 0 and cost["catt"] == 0 and bound.binding == "tokens")
        if simple:
            per_request = Fraction(bound.tokens, bound.requests)
            floor = float(max(Fraction(0), (realised - bound_rate) * per_request))
    return StabilityRow("", "", None, "", 0, realised, realised, normalize(bound_rate) if bound_rate else None,
                        d_tok, d_req, floor, int(end_work[0]), int(end_requests[0]),
                        round((finish - last) / (D * 1e6), 3),
                        preemptions, iterations, series)


# --- many runs --------------------------------------------------------------------------------------

def run_points(points: Iterable[Point], workers: int = 2) -> tuple[list[StabilityRow], float]:
    """Every point (rows in the points' order) and the wall time, on ``workers`` processes."""
    return map_points(run_point, points, workers)


def rates_around(bound: CapacityBound, ratios: Sequence[Exact]) -> list[Fraction]:
    """``q Lambda`` for each ``q``, rounded to 4 significant digits as exact decimals (rates to ask for)."""
    out = []
    for q in ratios:
        value = Fraction(q) * bound.rate_req_s
        digits = 4 - 1 - math.floor(math.log10(value))
        out.append(Fraction(round(value * 10**digits), 10**digits))
    return out


BOUNDARY_RATIOS = (Fraction(7, 10), Fraction(4, 5), Fraction(9, 10), Fraction(19, 20), Fraction(21, 20),
                   Fraction(11, 10), Fraction(5, 4))
"""The rates of :func:`boundary_points`, as shares of the bound."""


def boundary_points(setup: Setup, schedulers: Sequence[str] = STABILITY_SCHEDULERS,
                    ratios: Sequence[Exact] = BOUNDARY_RATIOS) -> list[Point]:
    """Every scheduler at every ``q Lambda`` (highest first)."""
    rates = rates_around(setup.bound(), ratios)
    return [Point(setup, s, r) for r in sorted(rates, reverse=True) for s in schedulers]


def stability_boundary(setup: Setup, scheduler: str, start: Exact | None = None, tolerance: Exact = Fraction(1, 50),
                       max_probes: int = 8, order: str | None = None) -> Capacity:
    """The largest rate whose run is ``stable`` (module docstring), by bisection on the rate from
    ``start`` (default 0.9 Lambda); each probe's row is in its ``extra``."""
    bound = setup.bound()
    start = rates_around(bound, [Fraction(9, 10)])[0] if start is None else start

    def probe(rate: Fraction):
        row = run_point(Point(setup, scheduler, rate, order))
        return row.verdict == "stable", [], {"row": row}

    return find_capacity(probe, start=start, tolerance=tolerance, max_probes=max_probes)


def boundaries(setup: Setup, schedulers: Sequence[str] = STABILITY_SCHEDULERS, workers: int = 2,
               **options: Any) -> tuple[dict[str, Capacity], float]:
    """:func:`stability_boundary` of each scheduler, one bisection per worker, and the wall time."""
    results, wall = map_points(partial(stability_boundary, setup, **options), schedulers, workers)
    return dict(zip(schedulers, results)), wall


def boundary_json(result: Capacity, bound: CapacityBound) -> dict[str, Any]:
    """A bisection's bracket (asked and realised rates, and both over the bound) and its probes' rows."""
    rows = {p.rate: p.extra["row"] for p in result.probes}

    def side(rate):
        if rate is None:
            return None
        row = rows[rate]
        return {"rate": to_json(rate), "realised_rate": to_json(row.realised_rate),
                "q": None if row.q is None else float(row.q)}

    return {"low": side(result.low), "high": side(result.high), "bound_rate": to_json(bound.rate_req_s),
            "probes": [rows[p.rate].as_json() | {"holds": p.holds} for p in result.probes]}


# --- a budget off the tile ----------------------------------------------------------------------------

def tile_ratio(cost: str = "seed-tile128", on: int = 512, off: int = 520) -> Fraction:
    """``(off / tau(off)) / (on / tau(on))``: how much a fixed-budget engine that always fills ``off``
    tokens loses against ``on`` (``tau`` of prompt tokens, no context). ``seed-tile128``: 0.87195.

    >>> tile_ratio(), float(tile_ratio())
    (Fraction(90571, 103872), 0.8719481669747381)
    """
    c = parse_cost(cost)
    return (Fraction(off) / Fraction(c.duration_us(prefill_tokens=off))) / (
        Fraction(on) / Fraction(c.duration_us(prefill_tokens=on)))


TILE_RATIOS = (Fraction(4, 5), Fraction(17, 20), Fraction(9, 10), Fraction(19, 20), Fraction(21, 20))
"""The rates of :func:`tile_points`, as shares of the bound (the predicted boundary at 520 is 0.872)."""


def tile_points(setup: Setup, ratios: Sequence[Exact] = TILE_RATIOS, off: int = 520) -> list[Point]:
    """``sarathi`` at budgets 512 and ``off``, and ``rad`` at ``off``, under ``setup``'s (tiled) cost."""
    rates = rates_around(setup.bound(), ratios)
    out = []
    for rate in sorted(rates, reverse=True):
        out.append(Point(setup, "sarathi", rate, label="sarathi@512"))
        out.append(Point(replace(setup, budget=off), "sarathi", rate, label=f"sarathi@{off}"))
        out.append(Point(replace(setup, budget=off), "rad", rate, label=f"rad@{off}"))
    return out


# --- a fixed decode share -----------------------------------------------------------------------------

def decode_fraction(bound: CapacityBound) -> Fraction:
    """``E[o - 1] / E[|p| - L + o - 1]``: the decode share of the workload's batch tokens."""
    return Fraction(bound.outputs - bound.requests, bound.tokens)


def fixed_share_boundary(bound: CapacityBound, share: Exact) -> Fraction:
    """The rate at which ``rad-fixed:F`` saturates in the fluid reading, for ``c_p = c_d``, no context term
    and no cache (a prediction to measure, not a bound): with ``d = min(floor(F n*), S)`` decode and
    ``n* - floor(F n*)`` prefill tokens at most a batch, and a batch of ``N`` tokens costing
    ``c0 + cp N``, the kind whose cap binds saturates at

    ``lambda_F = 1 / (E[x] c0 / cap + cp E[w])``,

    ``x`` the binding kind's tokens a request (``|p|`` or ``o - 1``), ``cap`` its tokens a batch,
    ``w = |p| + o - 1`` (the other kind's batches are shorter when it does not fill its share, which
    the ``cp E[w]`` term accounts for). With ``F`` at the decode fraction both give ``Lambda``.
    """
    c = bound.settings["cost"]
    c0, cp = Fraction(exact_number(c["c0"], "c0")), Fraction(exact_number(c["cp"], "cp"))
    nstar = bound.nstar
    decode_cap = min(int(Fraction(share) * nstar), bound.settings["max_seqs"])
    prefill_cap = nstar - int(Fraction(share) * nstar)
    n = bound.requests
    prompts = Fraction(bound.tokens - (bound.outputs - n), n)
    decodes = Fraction(bound.outputs - n, n)
    per = Fraction(bound.tokens, n)
    rates = [1 / (prompts * c0 / prefill_cap + cp * per)]
    if decodes:
        rates.append(1 / (decodes * c0 / decode_cap + cp * per))
    return normalize(min(rates) * 1_000_000 * bound.engines)


FIXED_RATIOS = (Fraction(1, 2), Fraction(7, 10), Fraction(9, 10), Fraction(19, 20))
"""The rates of :func:`fixed_share_points`, as shares of the bound."""


def fixed_shares(bound: CapacityBound) -> tuple[Fraction, ...]:
    """``F`` below, at and above the decode fraction ``f``: ``1/16``, ``round(f n*) / n*`` and ``1/2``."""
    matched = Fraction(round(decode_fraction(bound) * bound.nstar), bound.nstar)
    return Fraction(1, 16), matched, Fraction(1, 2)


def fixed_share_points(setup: Setup, ratios: Sequence[Exact] = FIXED_RATIOS) -> list[Point]:
    """``rad-fixed:F`` for each of :func:`fixed_shares` at each ``q Lambda``."""
    bound = setup.bound()
    rates = rates_around(bound, ratios)
    return [Point(setup, f"rad-fixed:{to_json(F)}", rate, label=f"rad-fixed:{to_json(F)}")
            for rate in sorted(rates, reverse=True) for F in fixed_shares(bound)]


# --- why a scheduler falls short: its batches ---------------------------------------------------------

def batch_fill(point: Point, warmup: Exact = WARMUP) -> dict[str, Any]:
    """The batches of ``point``'s run that start in the drift window: their mean tokens, the share holding
    at least ``n*`` tokens (``n*`` of the bound), the share holding decodes only, the mean decodes and
    requests a batch, and the mean batch time (ms). A throughput-optimal engine fills its batches to
    ``n*`` whenever that much work waits."""
    setup = point.setup
    workload = setup.workload(point.rate)
    run = serve(workload, point.scheduler, order=point.order, record_batches=True, **setup.engine_options())
    log = run.batches
    D = run.timeline.ticks_per_us
    arrival = run.timeline.arrival
    first, last = int(arrival.min()), int(arrival.max())
    start = first + int(Fraction(warmup) * (last - first))
    keep = (log.start >= start) & (log.start <= last)
    tokens = (log.prefill_tokens + log.decode_tokens)[keep]
    nstar = setup.bound().nstar
    count = max(1, int(keep.sum()))
    return {"label": point.label or point.scheduler, "rate": to_json(point.rate),
            "realised_rate": to_json(offered_rate_of(run.timeline)), "batches": int(keep.sum()), "nstar": nstar,
            "mean_tokens": float(tokens.mean()) if len(tokens) else 0.0,
            "full_share": float((tokens >= nstar).sum()) / count,
            "decode_only_share": float(((log.prefill_tokens == 0) & keep).sum()) / count,
            "mean_decodes": float(log.decode_tokens[keep].mean()) if len(tokens) else 0.0,
            "mean_requests": float(log.requests[keep].mean()) if len(tokens) else 0.0,
            "mean_batch_ms": float((log.end - log.start)[keep].mean()) / D / 1000 if len(tokens) else 0.0,
            "preemptions": run.preemptions}


def offered_rate_of(timeline: Timeline) -> Fraction:
    """The realised arrival rate of a run (requests/s, exact)."""
    arrival = timeline.arrival
    return Fraction((timeline.workload.n - 1) * timeline.ticks_per_us * 1_000_000,
                    int(arrival.max()) - int(arrival.min()))


def batch_fills(points: Sequence[Point], workers: int = 2) -> tuple[list[dict[str, Any]], float]:
    """:func:`batch_fill` of every point on ``workers`` processes, and the wall time."""
    return map_points(batch_fill, points, workers)
