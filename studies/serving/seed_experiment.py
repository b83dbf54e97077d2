"""The second seed's experiment in the serving model: SLAI against Sarathi-Serve, as loops.

The seed (Bari, Hegde, de Veciana, arXiv 2508.01002; MODEL_SERVING.md, "The seed's claims") ran
SLAI and Sarathi-Serve on Mistral-7B (one RTX 6000 Ada, 48 GB) with the ShareGPT lengths, 16,384
requests, token budget 512, 5% "strict" requests at 100 ms TBT and 95% "relaxed" at 500 ms, the
truncated-exponential arrivals ``min(Exp(rate), 3 / rate)`` at 0.2 to 1.6 requests/s, and
reported: median TTFT 53% lower, capacity 26% higher (median TTFT <= 0.5 s and each class's P99
TBT within its objective), tail TBT kept. This module re-runs that experiment in the model
(:func:`~prefix_sched.solvers.serving.engine.serve`) and the ablations that say what drives it.

Settings (:class:`Setup`, :func:`seed_setup`): every one is the seed's, named after its source,
except the KV memory, which the seed states only as a card and a memory share. It is worked out as
(:func:`kv_tokens_for`)::

    M = floor((48e9 B * 0.9 - 7.24e9 params * 2 B) / 131072 B per token)   (whole blocks of 16)
      = floor(28.72e9 / 131072) = 219,116 -> 219,104 tokens (13,694 blocks)

Mistral-7B keeps ``32 layers * 8 KV heads * 128 dims * 2 (K, V) * 2 B = 131,072 B`` per token. The
authors' own plotting script divides by 14,733 blocks (agrimUT/SLAI, ``scripts/plot_plot3.py``:
235,728 tokens); :func:`drivers` runs that figure too.

What is computed, each from exact token times:

- :func:`run_point` / :func:`run_grid`: one run (one scheduler at one rate) as a :class:`Row` of
  exact figures (TTFT p50/p90/p99, each class's TBT p50/p99, scheduling delay, preemptions, the
  seed objective's verdict), many runs on worker processes (a ``forkserver`` pool);
- :func:`reductions`: ``1 - p50_TTFT(other) / p50_TTFT(base)`` per rate, exactly;
- :func:`capacities`: each scheduler's bracket under an objective (bisection on the rate,
  :func:`~prefix_sched.studies.serving.capacity.find_capacity`), one scheduler per worker;
- :func:`figure_5a`: one 2048-token prompt's TTFT against the budget (the seed's Fig. 5(a)) from a
  cost preset, beside the seed's measurements (:data:`SEED_FIGURE_5A_MS`), and :func:`fit_figure_5a`,
  the fixed and per-token prefill cost those measurements imply;
- :func:`drivers`: the seed run at 1.6 requests/s with one setting changed at a time (arrival
  process, KV memory, classes, cost), to see what moves SLAI's reduction.

The schedulers come from the registry (:data:`~prefix_sched.solvers.serving.registry.SCHEDULERS`):
:data:`GRID_SCHEDULERS` isolates SLAI's two changes: ``sarathi-spf`` is Sarathi-Serve with new
prefills shortest prompt first (reordering alone), ``slai-fcfs`` is SLAI's deferred decodes with FCFS
admission (deferral alone), ``slai`` both plus the strict class first. :data:`OFFSET_SCHEDULERS`
isolates the offset (fixed 5, fixed 10, SLAI's memory-triggered 5/10 at 96% KV use).

What it leaves out: plotting (notebook 09 and docs/serving.md draw the rows), and any claim about
settings it was not run on. Results files: :func:`write_study` / :func:`read_study` (versioned JSON).

Examples
--------
>>> kv_tokens_for()
219104
>>> [str(r) for r in SEED_LOADS[:3]], str(SEED_LOADS[-1]), len(SEED_LOADS)
(['1/5', '16/45', '23/45'], '8/5', 10)
>>> setup = seed_setup(requests=64)
>>> row = run_point(Point(setup, "slai", Fraction(8, 5)))
>>> row.requests, row.scheduler, row.ttft_p50_us > 0, sorted(row.tbt_p99_us)
(64, 'slai', True, ['relaxed', 'strict'])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import parse_scheduler
from prefix_sched.studies.data import AZURE_CONVERSATIONS, SHAREGPT_LENGTHS, find_shared
from prefix_sched.studies.serving.capacity import Capacity, describe, find_capacity
from prefix_sched.studies.serving.runs import map_points, read_study_file, write_study_file
from prefix_sched.theory.numbers import Exact, exact_number, normalize, to_json
from prefix_sched.theory.serving.measures import ALL, Timeline, exact_percentile, summarize
from prefix_sched.theory.serving.objectives import parse_objective
from prefix_sched.theory.serving.requests import Workload, parse_classes
from prefix_sched.theory.serving.traces import load_workload

# --- the seed's settings -------------------------------------------------------------------------

SEED_REQUESTS = 16_384
"""The seed's runs: the first 16,384 requests of the ShareGPT length trace."""
SEED_BUDGET = 512
SEED_MAX_SEQS = 128
SEED_BLOCK = 16
SEED_CLASSES = "strict=0.05:100ms,relaxed=0.95:500ms"
SEED_ARRIVALS = "truncated-exp"
SEED_COST = "seed"
SEED_OBJECTIVE = "seed"
SEED_LOADS: tuple[Fraction, ...] = tuple(Fraction(1, 5) + k * Fraction(7, 45) for k in range(10))
"""Ten loads evenly spaced from 0.2 to 1.6 requests/s (steps of 7/45), exactly."""

CARD_BYTES = 48 * 10**9
"""The seed's card (RTX 6000 Ada): 48 GB."""
MEMORY_SHARE = Fraction(9, 10)
"""vLLM / Sarathi-Serve ``gpu_memory_utilization`` 0.9."""
MISTRAL_7B_PARAMS = 7_240_000_000
WEIGHT_BYTES_PER_PARAM = 2
"""bf16 weights."""
KV_BYTES_PER_TOKEN = 32 * 8 * 128 * 2 * 2
"""Mistral-7B: 32 layers, 8 KV heads of 128 dims, K and V, 2 bytes: 131,072 B = 128 KiB per token."""
SEED_SCRIPT_BLOCKS = 14_733
"""The KV blocks the authors' plotting script divides by (agrimUT/SLAI ``scripts/plot_plot3.py``)."""


def kv_tokens_for(card_bytes: int = CARD_BYTES, share: Exact = MEMORY_SHARE,
                  weight_bytes: int = MISTRAL_7B_PARAMS * WEIGHT_BYTES_PER_PARAM,
                  bytes_per_token: int = KV_BYTES_PER_TOKEN, block: int = SEED_BLOCK) -> int:
    """KV tokens left on a card: ``floor((card * share - weights) / bytes per token)``, whole blocks.

    Raises InputError when nothing is left for the KV cache.
    """
    free = Fraction(card_bytes) * Fraction(share) - weight_bytes
    tokens = math.floor(free / bytes_per_token)
    tokens -= tokens % block
    if tokens < block:
        raise InputError(f"no KV memory left: {card_bytes} B * {share} - {weight_bytes} B of weights = {float(free):.3g} B")
    return tokens


SEED_KV_TOKENS = kv_tokens_for()
"""219,104 tokens (13,694 blocks of 16); see the module docstring."""

GRID_SCHEDULERS = ("sarathi", "sarathi-spf", "slai-fcfs", "slai")
"""Sarathi-Serve, reordering alone, deferral alone, SLAI (the registry's rows)."""
OFFSET_SCHEDULERS = ("slai:0", "slai:5", "slai:10", "slai")
"""SLAI with offsets 0, 5, 10 mean batch times, and its own memory-triggered 5 / 10."""
BASE, SLAI = "sarathi", "slai"

SEED_FIGURE_5A_MS: dict[int, Fraction] = {
    64: Fraction("724.319638684392"), 128: Fraction("386.26284804195166"), 256: Fraction("238.8404309749603"),
    384: Fraction("243.88742260634893"), 512: Fraction("212.16091420501465"), 768: Fraction("204.89425212144852"),
    1024: Fraction("201.51933562010527")}
"""The seed's Fig. 5(a): median TTFT (ms) of one 2048-token prompt at each budget (agrimUT/SLAI
``scripts/plot1_results.csv``; ``scripts/run_plot1.sh``: Mistral-7B, 100 requests of 2048 prompt and
1 decode token, ``max_batch_size 1``)."""
SEED_BATCH_MS: dict[int, Fraction] = {
    64: Fraction("22.717414120155702"), 128: Fraction("24.06974032302108"), 256: Fraction("28.817265358649976"),
    384: Fraction("37.79568321470699"), 512: Fraction("46.512369763106065"), 768: Fraction("57.08294500131154"),
    1024: Fraction("74.69272611041859")}
"""The same file's mean batch time (ms) at each budget (the ``seed`` preset's source)."""
FIGURE_5A_PROMPT = 2048
FIGURE_5A_GAP_US = 10_000_000
"""In the model each of the 100 prompts arrives 10 s after the last, so it is served alone."""

STUDY_FORMAT = "prefix-sched-serving-seed-study"
STUDY_VERSION = 1
TRACES = {"sharegpt": SHAREGPT_LENGTHS, "azure": AZURE_CONVERSATIONS}


# --- one run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setup:
    """Everything of a run but the scheduler and the rate.

    ``trace`` is ``sharegpt`` (arrivals generated by ``arrivals``) or ``azure`` (its timestamps
    rescaled to the rate); ``kv_tokens`` None is unbounded memory; ``classes`` None runs without
    objective classes (SLAI then gives every decode its default 200 ms); ``cost`` is ``--cost`` text.
    """

    trace: str = "sharegpt"
    requests: int = SEED_REQUESTS
    arrivals: str | None = SEED_ARRIVALS
    budget: int = SEED_BUDGET
    max_seqs: int = SEED_MAX_SEQS
    kv_tokens: int | None = SEED_KV_TOKENS
    block_size: int = SEED_BLOCK
    cost: str = SEED_COST
    classes: str | None = SEED_CLASSES
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trace not in TRACES:
            raise InputError(f"unknown trace {self.trace!r}; traces: {', '.join(TRACES)}")
        if self.trace != "sharegpt" and self.arrivals is not None:
            raise InputError(f"the {self.trace} trace has its own timestamps: arrivals must be None, "
                             f"got {self.arrivals!r}")

    def workload(self, rate: Exact) -> Workload:
        """The requests at ``rate`` (requests/s); InputError when the trace file is not found."""
        return _workload(self, Fraction(rate))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_setup(**changes: Any) -> Setup:
    """The seed's run (the ShareGPT lengths and every setting of the module docstring), with ``changes``."""
    return replace(Setup(), **changes)


def azure_setup(**changes: Any) -> Setup:
    """The seed's engine on the Azure LLM 2023 conversation trace (first 16,384 requests, timestamps
    rescaled to each rate), with ``changes``."""
    return replace(Setup(trace="azure", arrivals=None), **changes)


@lru_cache(maxsize=4)
def _workload(setup: Setup, rate: Fraction) -> Workload:
    path = find_shared(TRACES[setup.trace])
    if path is None:
        raise InputError(f"the shared data file {TRACES[setup.trace]} is not beside the checkout (../shared)")
    classes = parse_classes(setup.classes) if setup.classes else ()
    return load_workload(path, setup.trace, rate=rate, arrivals=setup.arrivals, limit=setup.requests,
                         classes=classes, seed=setup.seed)


@dataclass(frozen=True)
class Point:
    """One run of the study: a setup, a scheduler (a registry name, ``slai:10`` for a fixed offset)
    and a rate (requests/s, exact)."""

    setup: Setup
    scheduler: str
    rate: Fraction
    objective: str = SEED_OBJECTIVE

    def __post_init__(self) -> None:
        parse_scheduler(self.scheduler)
        object.__setattr__(self, "rate", Fraction(exact_number(self.rate, "rate")))
        parse_objective(self.objective)


@dataclass(frozen=True)
class Row:
    """The exact figures of one run (times in microseconds: ``int`` or ``Fraction``).

    ``tbt_p50_us`` / ``tbt_p99_us`` map each class (or ``all`` without classes) to its percentile;
    ``checks`` are the objective's rows ``(what, value, bound, holds)``; ``wall_s`` and ``cpu_s`` the
    time of the run and its figures in the process that ran it.
    """

    trace: str
    scheduler: str
    rate: Fraction
    requests: int
    ttft_p50_us: Exact
    ttft_p90_us: Exact
    ttft_p99_us: Exact
    ttft_max_us: Exact
    tbt_p50_us: dict[str, Exact | None]
    tbt_p99_us: dict[str, Exact | None]
    delay_p50_us: Exact
    preemptions: int
    iterations: int
    objective: str
    meets: bool
    checks: tuple[tuple[str, Exact | None, Exact, bool], ...]
    wall_s: float = field(default=0.0, compare=False)
    cpu_s: float = field(default=0.0, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {"trace": self.trace, "scheduler": self.scheduler, "rate": to_json(self.rate),
                "requests": self.requests,
                **{k: to_json(getattr(self, k)) for k in ("ttft_p50_us", "ttft_p90_us", "ttft_p99_us",
                                                          "ttft_max_us", "delay_p50_us")},
                "tbt_p50_us": {k: _json_or_none(v) for k, v in self.tbt_p50_us.items()},
                "tbt_p99_us": {k: _json_or_none(v) for k, v in self.tbt_p99_us.items()},
                "preemptions": self.preemptions, "iterations": self.iterations, "objective": self.objective,
                "meets": self.meets,
                "checks": [[what, _json_or_none(value), to_json(bound), holds] for what, value, bound, holds in self.checks],
                "wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        def number(value):
            return None if value is None else exact_number(value, "a study figure")

        return cls(data["trace"], data["scheduler"], Fraction(number(data["rate"])), data["requests"],
                   *(number(data[k]) for k in ("ttft_p50_us", "ttft_p90_us", "ttft_p99_us", "ttft_max_us")),
                   {k: number(v) for k, v in data["tbt_p50_us"].items()},
                   {k: number(v) for k, v in data["tbt_p99_us"].items()},
                   number(data["delay_p50_us"]), data["preemptions"], data["iterations"], data["objective"],
                   data["meets"], tuple((w, number(v), number(b), h) for w, v, b, h in data["checks"]),
                   data.get("wall_s", 0.0), data.get("cpu_s", 0.0))


FIGURES = ("requests", "tbt_slo", "ttft_p50", "ttft_p90", "ttft_p99", "ttft_max", "tbt_p50", "tbt_p99",
           "tbt_max", "delay_p50", "preemptions")
"""The measures :func:`figures` computes (a subset of :func:`~prefix_sched.theory.serving.measures.summarize`'s)."""


def figures(timeline: Timeline) -> dict[str, dict[str, Any]]:
    """:data:`FIGURES` per class and for all requests, as :func:`~.measures.summarize` gives them
    (same keys, same exact values), computed once per run for the ~7 million token times of the
    seed's run. Objectives that need other measures use ``summarize``."""
    workload = timeline.workload
    D = timeline.ticks_per_us
    n = workload.n
    lengths = np.diff(timeline.offsets)
    names = [c.name for c in workload.classes]
    index = {name: i for i, name in enumerate(names)}
    cls = np.fromiter((-1 if r.cls is None else index[r.cls] for r in workload.requests), dtype=np.int64, count=n)
    gaps = np.diff(timeline.token_times)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)[1:]
    inside = np.ones(len(gaps), dtype=bool)
    inside[timeline.offsets[1:-1] - 1] = False  # one request's last token to the next one's first
    gaps, gap_cls = gaps[inside], cls[owner[inside]]
    ttft, delay = timeline.ttft(), timeline.scheduling_delay()
    rows: dict[str, dict[str, Any]] = {}
    groups = [(ALL, None, None)] + [(c.name, i, c.tbt_us) for i, c in enumerate(workload.classes)]
    for name, i, slo in groups:
        mask = np.ones(n, dtype=bool) if i is None else cls == i
        count = int(mask.sum())
        row: dict[str, Any] = {"requests": count, "tbt_slo": slo}
        rows[name] = row
        if not count:
            continue
        t = np.sort(ttft[mask])
        row.update({f"ttft_p{q}": _us(exact_percentile(t, q, presorted=True), D) for q in (50, 90, 99)})
        row["ttft_max"] = _us(int(t[-1]), D)
        g = np.sort(gaps if i is None else gaps[gap_cls == i])
        if len(g):
            row.update({f"tbt_p{q}": _us(exact_percentile(g, q, presorted=True), D) for q in (50, 99)})
            row["tbt_max"] = _us(int(g[-1]), D)
        else:
            row.update({"tbt_p50": None, "tbt_p99": None, "tbt_max": None})
        row["delay_p50"] = _us(exact_percentile(np.sort(delay[mask]), 50, presorted=True), D)
        row["preemptions"] = int(timeline.preemptions[mask].sum())
    return rows


def run_point(point: Point) -> Row:
    """Serve ``point`` and return its figures (:class:`Row`). An objective that checks each class's TBT
    (``slo``) on a workload without classes cannot be checked: ``meets`` is False, ``checks`` empty."""
    wall, cpu = time.perf_counter(), time.process_time()
    setup = point.setup
    workload = setup.workload(point.rate)
    run = serve(workload, point.scheduler, budget=setup.budget, cost=setup.cost, kv_tokens=setup.kv_tokens,
                block_size=setup.block_size, max_seqs=setup.max_seqs, seed=setup.seed)
    objective = parse_objective(point.objective)
    needed = {c.metric for c in objective.conditions}
    summary = figures(run.timeline) if needed <= set(FIGURES) else summarize(run.timeline)
    holds, checks = objective.check(summary) if workload.classes or all(
        c.bound_us is not None for c in objective.conditions) else (False, [])
    classes = [name for name in summary if name != ALL] or [ALL]
    every = summary[ALL]
    return Row(setup.trace, point.scheduler, point.rate, workload.n, every["ttft_p50"], every["ttft_p90"],
               every["ttft_p99"], every["ttft_max"], {c: summary[c].get("tbt_p50") for c in classes},
               {c: summary[c].get("tbt_p99") for c in classes}, every["delay_p50"], run.preemptions,
               run.iterations, objective.text, holds, tuple(tuple(c) for c in checks),
               time.perf_counter() - wall, time.process_time() - cpu)


# --- many runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """Rows in the order of their points, the wall time of the whole grid and the workers used."""

    rows: tuple[Row, ...]
    wall_s: float
    workers: int

    def as_json(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 2), "workers": self.workers, "rows": [r.as_json() for r in self.rows]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grid:
        return cls(tuple(Row.from_json(r) for r in data["rows"]), data["wall_s"], data["workers"])


def grid_points(setup: Setup, schedulers: Sequence[str] = GRID_SCHEDULERS,
                rates: Sequence[Exact] = SEED_LOADS, objective: str = SEED_OBJECTIVE) -> list[Point]:
    """Every scheduler at every rate (highest rate first: the longest runs start first)."""
    return [Point(setup, s, Fraction(rate), objective) for rate in sorted(rates, reverse=True) for s in schedulers]


def run_grid(points: Iterable[Point], workers: int = 2) -> Grid:
    """Run every point, on ``workers`` processes (a ``forkserver`` pool; 1: in this process)."""
    rows, wall = map_points(run_point, points, workers)
    return Grid(tuple(rows), wall, workers)


def table(rows: Iterable[Row]) -> dict[tuple[str, Fraction], Row]:
    """Rows by ``(scheduler, rate)``."""
    return {(r.scheduler, r.rate): r for r in rows}


def reductions(rows: Iterable[Row], base: str = BASE, other: str = SLAI) -> dict[Fraction, Fraction]:
    """``1 - p50_TTFT(other) / p50_TTFT(base)`` at every rate both ran, exactly (0.53: 53% lower)."""
    by = table(rows)
    return {rate: 1 - Fraction(by[(other, rate)].ttft_p50_us) / Fraction(by[(base, rate)].ttft_p50_us)
            for (name, rate) in sorted(by, key=lambda k: k[1]) if name == base and (other, rate) in by}


# --- capacity -----------------------------------------------------------------------------------

def capacity(setup: Setup, scheduler: str, objective: str = SEED_OBJECTIVE, start: Exact = Fraction(8, 5),
             tolerance: Exact = Fraction(1, 50), max_probes: int = 12) -> Capacity:
    """``scheduler``'s bracket under ``objective``: bisection on the rate, each probe a full run."""
    def probe(rate: Fraction):
        row = run_point(Point(setup, scheduler, rate, objective))
        return row.meets, list(row.checks), {"row": row}

    return find_capacity(probe, start=start, tolerance=tolerance, max_probes=max_probes)


def capacities(setup: Setup, schedulers: Sequence[str] = (BASE, SLAI), objective: str = SEED_OBJECTIVE,
               start: Exact = Fraction(8, 5), tolerance: Exact = Fraction(1, 50), max_probes: int = 12,
               workers: int = 2) -> dict[str, Capacity]:
    """:func:`capacity` of each scheduler, one bisection per worker process."""
    run = partial(capacity, setup, objective=objective, start=start, tolerance=tolerance, max_probes=max_probes)
    return dict(zip(schedulers, map_points(run, schedulers, workers)[0]))


def capacity_json(result: Capacity) -> dict[str, Any]:
    """The bracket, and each probe's row."""
    out = describe(result)
    out["rows"] = [p.extra["row"].as_json() for p in result.probes if "row" in p.extra]
    return out


# --- Fig. 5(a) ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure5aRow:
    """One budget: the chunks of the 2048-token prompt, the model's TTFT (us, exact) and the seed's (ms)."""

    budget: int
    chunks: int
    model_ttft_us: Exact
    seed_ttft_ms: Fraction | None

    def as_json(self) -> dict[str, Any]:
        return {"budget": self.budget, "chunks": self.chunks, "model_ttft_us": to_json(self.model_ttft_us),
                "seed_ttft_ms": None if self.seed_ttft_ms is None else float(self.seed_ttft_ms)}


def figure_5a(cost: str = SEED_COST, budgets: Iterable[int] = tuple(SEED_FIGURE_5A_MS),
              prompt: int = FIGURE_5A_PROMPT, requests: int = 100) -> list[Figure5aRow]:
    """The seed's Fig. 5(a) in the model: ``requests`` prompts of ``prompt`` tokens and one output
    token, each arriving :data:`FIGURE_5A_GAP_US` after the last (served alone, ``max_num_seqs`` 1 as
    the seed's ``max_batch_size 1``), under Sarathi with each budget; the median TTFT, exactly."""
    arrivals = [k * FIGURE_5A_GAP_US for k in range(requests)]
    workload = Workload.from_lengths([prompt] * requests, [1] * requests, arrivals)
    out = []
    for budget in budgets:
        run = serve(workload, "sarathi", budget=budget, cost=cost, max_seqs=1)
        ttft = exact_percentile(np.sort(run.timeline.ttft()), 50, presorted=True)
        out.append(Figure5aRow(budget, -(-prompt // budget), _us(ttft, run.timeline.ticks_per_us),
                               SEED_FIGURE_5A_MS.get(budget)))
    return out


def fit_figure_5a(min_budget: int = 256, prompt: int = FIGURE_5A_PROMPT) -> tuple[Fraction, Fraction]:
    """``(c0, cp)`` in microseconds: the least-squares fit of the seed's Fig. 5(a) TTFTs at budgets
    ``>= min_budget`` to ``TTFT(B) = ceil(prompt / B) c0 + prompt cp`` (the model's prefill cost with
    the chunk attention folded into ``cp``, since ``sum x (c + x/2) = prompt^2 / 2`` for any chunking),
    solved exactly."""
    points = [(-(-prompt // b), ms * 1000) for b, ms in SEED_FIGURE_5A_MS.items() if b >= min_budget]
    if len({n for n, _ in points}) < 2:
        raise InputError(f"fitting Fig. 5(a) needs two chunk counts at budgets >= {min_budget}")
    k = len(points)
    sn = sum(Fraction(n) for n, _ in points)
    snn = sum(Fraction(n * n) for n, _ in points)
    sy = sum(y for _, y in points)
    sny = sum(n * y for n, y in points)
    c0 = (k * sny - sn * sy) / (k * snn - sn * sn)
    intercept = (sy - c0 * sn) / k
    return c0, intercept / prompt


# --- what drives the reduction -----------------------------------------------------------------

DRIVER_RATE = Fraction(8, 5)
"""The seed's highest load, where it reports the reduction."""
DECODE_KV_READ_US = Fraction(KV_BYTES_PER_TOKEN, 960_000)
"""``ckv``: 128 KiB of KV cache per context token read at the RTX 6000 Ada's 960 GB/s (us per
token): what a decode's attention costs that the ``seed`` preset leaves out (a reading)."""


def driver_setups(base: Setup | None = None) -> list[tuple[str, Setup]]:
    """The seed run with one setting changed at a time (label, setup)."""
    base = base or seed_setup()
    c0, cp = fit_figure_5a()
    fitted = f"c0={_decimal(c0, 1)},cp={_decimal(cp, 2)},cd={_decimal(cp, 2)}"
    return [
        ("the seed run", base),
        ("Poisson arrivals", replace(base, arrivals="poisson")),
        ("KV unbounded", replace(base, kv_tokens=None)),
        (f"KV {SEED_SCRIPT_BLOCKS:,} blocks (the authors' script)", replace(base, kv_tokens=SEED_SCRIPT_BLOCKS * SEED_BLOCK)),
        ("KV halved", replace(base, kv_tokens=SEED_KV_TOKENS // 2 - (SEED_KV_TOKENS // 2) % SEED_BLOCK)),
        ("no classes (every TBT 200 ms)", replace(base, classes=None)),
        (f"cost + decode KV reads (ckv={_decimal(DECODE_KV_READ_US, 4)})", kv_reads_setup(base)),
        ("cost fitted to Fig. 5(a) (" + fitted + ")", replace(base, cost=fitted)),
    ]


def drivers(base: Setup | None = None, rate: Exact = DRIVER_RATE, schedulers: Sequence[str] = (BASE, SLAI),
            workers: int = 2) -> list[tuple[str, Row, Row]]:
    """``(label, base row, other row)`` for each of :func:`driver_setups` at ``rate``."""
    setups = driver_setups(base)
    points = [Point(s, name, Fraction(rate)) for _, s in setups for name in schedulers]
    rows = run_grid(points, workers).rows
    return [(label, rows[2 * i], rows[2 * i + 1]) for i, (label, _) in enumerate(setups)]


def kv_reads_setup(base: Setup | None = None) -> Setup:
    """The seed run with the decode KV reads added to the cost (``ckv`` = :data:`DECODE_KV_READ_US`)."""
    base = base or seed_setup()
    return replace(base, cost=f"{base.cost},ckv={_decimal(DECODE_KV_READ_US, 4)}")


def kv_reads_part(base: Setup | None = None, rates: Sequence[Exact] = SEED_LOADS + (Fraction(2), Fraction(12, 5)),
                  workers: int = 2, capacity_probes: int = 12) -> dict[str, Any]:
    """Sarathi and SLAI at every load, and both capacities, with the decode KV reads in the cost."""
    setup = kv_reads_setup(base)
    grid = run_grid(grid_points(setup, (BASE, SLAI), rates), workers)
    caps = capacities(setup, (BASE, SLAI), start=Fraction(8, 5), max_probes=capacity_probes, workers=workers)
    return {"cost": setup.cost, "grid": grid.as_json(), "capacities": {k: capacity_json(c) for k, c in caps.items()}}


# --- the whole study and its file ---------------------------------------------------------------

def run_study(requests: int = SEED_REQUESTS, workers: int = 2, extra_rates: Sequence[Exact] = (
        Fraction(2), Fraction(12, 5), Fraction(14, 5), Fraction(16, 5), Fraction(18, 5), Fraction(4)),
        azure_rates: Sequence[Exact] = SEED_LOADS + (Fraction(12, 5), Fraction(16, 5), Fraction(24, 5),
                                                     Fraction(32, 5)),
        capacity_probes: int = 12, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every part of the study as one JSON-ready dict (what :func:`write_study` writes)."""
    say = progress or (lambda text: None)
    setup = seed_setup(requests=requests)
    out: dict[str, Any] = {"format": STUDY_FORMAT, "version": STUDY_VERSION, "setup": setup.as_dict(),
                           "kv_tokens_rule": "floor((48e9 B * 0.9 - 7.24e9 * 2 B) / 131072 B), whole blocks of 16"}
    grid = run_grid(grid_points(setup), workers)
    out["grid"] = grid.as_json()
    say(f"grid: {len(grid.rows)} runs in {grid.wall_s:.1f} s on {workers} workers")
    load = run_grid(grid_points(setup, rates=extra_rates), workers)
    out["beyond"] = load.as_json()
    say(f"beyond 1.6/s: {len(load.rows)} runs in {load.wall_s:.1f} s")
    offsets = run_grid(grid_points(setup, OFFSET_SCHEDULERS[:-1], (DRIVER_RATE, Fraction(16, 5))), workers)
    out["offsets"] = offsets.as_json()
    say(f"offsets: {offsets.wall_s:.1f} s")
    started = time.perf_counter()
    out["drivers"] = [{"label": label, "base": a.as_json(), "other": b.as_json()} for label, a, b in drivers(setup, workers=workers)]
    say(f"drivers: {time.perf_counter() - started:.1f} s")
    azure = run_grid(grid_points(azure_setup(requests=requests), (BASE, SLAI), azure_rates), workers)
    out["azure"] = azure.as_json()
    say(f"azure: {azure.wall_s:.1f} s")
    started = time.perf_counter()
    caps = capacities(setup, (BASE, SLAI), max_probes=capacity_probes, workers=workers)
    out["capacities"] = {name: capacity_json(c) for name, c in caps.items()}
    say(f"capacities: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    out["kv_reads"] = kv_reads_part(setup, workers=workers, capacity_probes=capacity_probes)
    say(f"with decode KV reads: {time.perf_counter() - started:.1f} s")
    c0, cp = fit_figure_5a()
    out["figure_5a"] = {"seed": [r.as_json() for r in figure_5a()],
                        "fit": {"c0_us": to_json(c0), "cp_us": to_json(cp), "c0": float(c0), "cp": float(cp)},
                        "fitted": [r.as_json() for r in figure_5a(driver_setups(setup)[-1][1].cost)]}
    return out


write_study = write_study_file


def read_study(path: Path | str) -> dict[str, Any]:
    """Read a study file of this study; FormatError when it is not one (or of another version)."""
    return read_study_file(path, STUDY_FORMAT, STUDY_VERSION)


def grid_rows(study: dict[str, Any], part: str = "grid") -> list[Row]:
    """The rows of one part of a study dict (``grid``, ``beyond``, ``offsets``, ``azure``)."""
    return [Row.from_json(r) for r in study[part]["rows"]]


# --- helpers ------------------------------------------------------------------------------------

def _us(ticks: Exact, D: int) -> Exact:
    return normalize(Fraction(ticks) / D)


def _json_or_none(value: Exact | None):
    return None if value is None else to_json(value)


def _decimal(value: Fraction, places: int) -> str:
    """``value`` rounded to ``places`` decimals, as text (for ``--cost`` specs)."""
    scaled = round(Fraction(value) * 10**places)
    return f"{scaled / 10**places:.{places}f}"


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m prefix_sched.studies.serving OUT.json [--requests N] [--workers W]`` (``__main__.py``)."""
    import argparse
    parser = argparse.ArgumentParser(description="Run the second seed's experiment in the model; write JSON.")
    parser.add_argument("out")
    parser.add_argument("--requests", type=int, default=SEED_REQUESTS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    study = run_study(args.requests, args.workers, progress=lambda text: print(text, flush=True))
    write_study(study, args.out)
