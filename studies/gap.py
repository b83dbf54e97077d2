"""The gap study: brackets ``[certified lower bound, best schedule]`` on the least max TTFT, as loops.

What ``prefix-sched gap``, notebook 08, docs/gap.md and ``benchmarks/gap.py`` run:

- :func:`gap_report`: one stream's bracket and every policy's gap (the upper bound first, so the
  runs bound can search below it);
- :func:`trace_rows`: a trace rescaled to several offered loads (as ``compare`` does);
- :func:`definition4_rows`: Definition 4 streams at parameter points of Corollary 3's region
  (``r >= 2``, ``0 < Delta < u``, :func:`~prefix_sched.theory.theorem2.bounds.in_corollary3_region`);
- :func:`exact_rows`: small streams whose optimum the exact engine proves, to see how tight both
  sides are where the truth is known;
- :func:`report_json` / :func:`write_report`: the report file, format ``prefix-sched.gap`` version
  1: top-level ``lower_bound`` (value, source, the window with its query ids, work and credit, the
  runs certificate, the per-query bound) and ``upper_bound`` (value, source, the order as query
  ids, what the local search did), ``bracket``, ``bracket_gap``, ``policies`` (a list of
  ``{policy, max_ttft, gap}``) and the settings; numbers are exact, an integer or a ratio string
  ``"p/q"`` (:func:`~prefix_sched.theory.numbers.to_json`).

What it leaves out: plotting (the notebook draws the rows), printing (the ``gap`` command) and any
claim about streams it was not run on.

Examples
--------
>>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
>>> rows = exact_rows([("def4 n=8", regular_arrival_shuffled_queue(n=8, r=2, u=10, d=2, delta=5, seed=0))])
>>> row = rows[0]
>>> row.lower <= row.optimum <= row.upper, row.status
(True, 'OPTIMAL')
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.load import rescale_to_load
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact import minimize_max_ttft
from prefix_sched.solvers.bounds.upper import DEFAULT_WINDOW, UpperBound, default_policies, upper_bound
from prefix_sched.solvers.bounds.lower import LowerBound, lower_bound
from prefix_sched.solvers.online.policies import PolicySpec
from prefix_sched.theory.theorem2.bounds import in_corollary3_region
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.numbers import Exact, exact_number, normalize, to_json
from prefix_sched.theory.outputs import write_text
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream

UPPER_SHARE = 0.75  # of the time limit, for the upper bound's search; the rest for the runs bound
REPORT_FORMAT = "prefix-sched.gap"
REPORT_VERSION = 1


@dataclass(frozen=True)
class GapReport:
    """One stream's bracket on ``T*`` and every schedule's gap to the certified bound."""

    lower: LowerBound
    upper: UpperBound
    policy_labels: tuple[str, ...]
    cache: str
    wall_time_s: float

    @property
    def bracket_gap(self) -> Fraction:
        """``(best - bound) / bound``: how far the best schedule can be from optimal."""
        return gap(self.upper.value, self.lower.value)

    def rows(self, policies_only: bool = False) -> list[tuple[str, Exact, Fraction]]:
        """``(label, max TTFT, gap)`` for each policy, then (unless ``policies_only``) the best
        grouped EDF schedule and the best schedule overall."""
        found = {c.label: c for c in self.upper.candidates}
        out = [(label, found[label].evaluation.max_ttft, gap(found[label].evaluation.max_ttft, self.lower.value))
               for label in self.policy_labels]
        if policies_only:
            return out
        grouped = [c for c in self.upper.candidates if c.label not in self.policy_labels]
        if grouped:
            best = min(grouped, key=lambda c: c.key)
            out.append((best.label, best.evaluation.max_ttft, gap(best.evaluation.max_ttft, self.lower.value)))
        out.append((f"best: {self.upper.label}", self.upper.value, self.bracket_gap))
        return out


def gap(value: Exact, bound: Exact) -> Fraction:
    """``(value - bound) / bound``, exactly.

    >>> gap(12, 10)
    Fraction(1, 5)
    """
    if bound <= 0:
        raise InputError(f"a gap needs a positive lower bound, got {bound}")
    return Fraction(value - bound) / bound


def gap_report(stream: Stream, policies: Sequence[PolicySpec] | None = None, *, alpha: object = 0,
               cache: str | CacheModel = "last", window: int = DEFAULT_WINDOW, time_limit: object = 60,
               seed: int = 0, grouped: bool = True, search: bool = True) -> GapReport:
    """The bracket for ``stream``: :func:`~prefix_sched.solvers.bounds.upper.upper_bound` with
    ``UPPER_SHARE`` of the time, then :func:`~prefix_sched.solvers.bounds.lower.lower_bound` below it.

    Raises
    ------
    AssertionError
        If a schedule the evaluator accepted beats the certified bound (a bug, never bad input).
    """
    started = time.perf_counter()
    model = parse_cache(cache)
    stop = Deadline.of(time_limit)
    specs = default_policies() if policies is None else list(policies)
    upper = upper_bound(stream, alpha=alpha, cache=model, policies=specs, window=window,
                        time_limit=stop.share(UPPER_SHARE), seed=seed, grouped=grouped, search=search)
    lower = lower_bound(stream, alpha=alpha, cache=model, time_limit=stop)
    if lower.value > upper.value:  # pragma: no cover - a certified bound above a checked schedule
        raise AssertionError(f"certified lower bound {lower.value} exceeds the schedule {upper.label} "
                             f"at {upper.value}")
    labels = tuple(dict.fromkeys(spec.label for spec in specs))
    return GapReport(lower, upper, labels, model.spec, time.perf_counter() - started)


def report_json(stream: Stream, report: GapReport, *, load: Exact | None, alpha: Exact, time_limit_s: object,
                window: int) -> dict[str, Any]:
    """The ``prefix-sched.gap`` report of ``report`` on ``stream`` (module docstring), with the
    settings that produced it: the offered ``load`` the arrivals were rescaled to (None: as given),
    ``alpha``, the time limit in seconds and the local search's window.

    Examples
    --------
    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([("a", (("x", 10),), 0), ("b", (("y", 10),), 0)])
    >>> data = report_json(s, gap_report(s, time_limit=5), load=None, alpha=0, time_limit_s=5, window=8)
    >>> data["format"], data["version"], data["bracket"], data["policies"][0]
    ('prefix-sched.gap', 1, [20, 20], {'policy': 'fcfs', 'max_ttft': 20, 'gap': 0})
    """
    upper = report.upper
    search = upper.search
    return {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "stream": dict(stream.meta), "n": stream.n,
        "load": None if load is None else to_json(load), "cache": report.cache,
        "alpha": to_json(alpha),
        "lower_bound": report.lower.as_json(stream),
        "upper_bound": {"value": to_json(upper.value), "source": upper.label,
                        "order": [stream.queries[i].qid for i in upper.evaluation.order],
                        "search": None if search is None else {
                            "start": to_json(search.start.max_ttft), "moves": search.moves,
                            "windows": search.windows, "stopped": search.stopped}},
        "bracket": [to_json(report.lower.value), to_json(upper.value)],
        "bracket_gap": to_json(report.bracket_gap),
        "policies": [{"policy": label, "max_ttft": to_json(value), "gap": to_json(gap)}
                     for label, value, gap in report.rows(policies_only=True)],
        "settings": {"time_limit_s": to_json(time_limit_s), "window": window},
        "wall_time_s": round(report.wall_time_s, 3),
    }


def write_report(path: Path | str, stream: Stream, report: GapReport, *, load: Exact | None, alpha: Exact,
                 time_limit_s: object, window: int, option: str = "gap report") -> None:
    """Write :func:`report_json` to ``path`` (JSON, one-space indent, atomically: the one writer of
    :mod:`~prefix_sched.theory.outputs`); an OutputError names ``option`` and the path."""
    data = report_json(stream, report, load=load, alpha=alpha, time_limit_s=time_limit_s, window=window)
    write_text(path, json.dumps(data, indent=1) + "\n", option)


@dataclass(frozen=True)
class GapRow:
    """One stream of a study: the bracket, the best policy, and the time each side took."""

    name: str
    n: int
    lower: Exact
    lower_source: str
    upper: Exact
    upper_label: str
    best_policy: str
    best_policy_max: Exact
    policies: dict[str, Exact]
    wall_time_s: float

    @property
    def bracket_gap(self) -> Fraction:
        return gap(self.upper, self.lower)

    @property
    def policy_gap(self) -> Fraction:
        """The best policy's gap to the bound."""
        return gap(self.best_policy_max, self.lower)


def _row(name: str, stream: Stream, report: GapReport) -> GapRow:
    policies = {label: value for label, value, _ in report.rows(policies_only=True)}
    best = min(policies, key=lambda label: policies[label])
    return GapRow(name, stream.n, report.lower.value, report.lower.source, report.upper.value,
                  report.upper.label, best, policies[best], policies, report.wall_time_s)


def trace_rows(stream: Stream, loads: Iterable[object], *, time_limit: object = 60,
               window: int = DEFAULT_WINDOW) -> list[GapRow]:
    """The bracket at each offered load (arrivals rescaled exactly, as ``compare`` does)."""
    rows = []
    for load in loads:
        rescaled = rescale_to_load(stream, load)
        report = gap_report(rescaled, time_limit=time_limit, window=window)
        rows.append(_row(f"load {exact_number(load, 'load')}", rescaled, report))
    return rows


def definition4_rows(points: Iterable[tuple[int, int, int, object]], *, n: int = 10_000, seed: int = 0,
                     time_limit: object = 60, window: int = DEFAULT_WINDOW) -> list[GapRow]:
    """The bracket on Definition 4 streams at ``(r, u, d, Delta)`` points of Corollary 3's region.

    Raises
    ------
    InputError
        For a point outside the region.
    """
    rows = []
    for r, u, d, delta in points:
        if not in_corollary3_region(r, u, delta):
            raise InputError(f"(r, u, Delta) = ({r}, {u}, {delta}) is outside Corollary 3's region "
                             "r >= 2, 0 < Delta < u")
        stream = regular_arrival_shuffled_queue(n=n, r=r, u=u, d=d, delta=delta, seed=seed)
        report = gap_report(stream, time_limit=time_limit, window=window)
        rows.append(_row(f"r={r} u={u} d={d} Delta={delta}", stream, report))
    return rows


@dataclass(frozen=True)
class ExactRow:
    """A small stream whose optimum the exact engine proves: both sides against the truth."""

    name: str
    n: int
    optimum: Exact | None
    status: str
    lower: Exact
    lower_source: str
    upper: Exact
    best_policy_max: Exact

    @property
    def lower_share(self) -> Fraction | None:
        """``bound / T*`` (1 is tight)."""
        return None if self.optimum is None else Fraction(self.lower) / self.optimum

    @property
    def upper_excess(self) -> Fraction | None:
        """``(best - T*) / T*``."""
        return None if self.optimum is None else Fraction(self.upper - self.optimum) / self.optimum


def exact_rows(streams: Iterable[tuple[str, Stream]], *, time_limit: float = 20,
               search_limit: object = 5) -> list[ExactRow]:
    """For each named stream: the proven optimum (DP, then CP-SAT), the bound and the best schedule.

    A stream the exact engine does not finish keeps ``optimum`` None and its status.
    """
    rows = []
    for name, stream in streams:
        exact = minimize_max_ttft(stream, time_limit=time_limit)
        status = getattr(exact.status, "value", exact.status)
        report = gap_report(stream, time_limit=search_limit)
        optimum = normalize(exact.objective) if status == "OPTIMAL" else None
        if optimum is not None and not report.lower.value <= optimum <= report.upper.value:
            raise AssertionError(f"{name}: bracket [{report.lower.value}, {report.upper.value}] misses T* = {optimum}")
        best = min(value for _, value, _ in report.rows(policies_only=True))
        rows.append(ExactRow(name, stream.n, optimum, status, report.lower.value, report.lower.source,
                             report.upper.value, best))
    return rows


def trace_slice(stream: Stream, start: int, n: int, load: object) -> Stream:
    """Arrivals ``start .. start + n - 1`` of ``stream`` (by arrival), rescaled to ``load``: small
    real-trace streams for :func:`exact_rows`.

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([(f"q{i}", ((f"p{i}", 2),), 3 * i) for i in range(5)])
    >>> [str(q.arrival) for q in trace_slice(s, 1, 3, 2).queries]   # 6 tokens over 3 time units
    ['3', '9/2', '6']
    """
    ranks = stream.arrival_order[start:start + n]
    if len(ranks) < 2:
        raise InputError(f"a slice needs at least 2 arrivals; {stream.n} queries, asked for {start}..{start + n - 1}")
    piece = Stream(tuple(stream.queries[i] for i in ranks), {**stream.meta, "slice": [start, n]})
    return rescale_to_load(piece, load)
