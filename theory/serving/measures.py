"""What a serving run produced (every token's emission time, every iteration) and its measures.

A :class:`Timeline` holds, for every request of a workload (in the workload's order), its arrival,
the start of the first iteration that gave it a prefill chunk, the emission time of each of its
``o_r`` output tokens, its preemption count, the engine that served it (0 with one engine) and the
prompt tokens it found in the prefix cache (0 without one). Times are integers of ticks of ``1 / D``
microseconds (``D = ticks_per_us``; see :mod:`.costs`), so every measure is exact; they are shown
in microseconds (or ms) only at the edge. Token times sit in one int64 array, request ``i``'s at
``offsets[i] .. offsets[i + 1] - 1``.

Measures (../shared/MODEL_SERVING.md, "Measures"), per request ``r`` with token times
``e_1 <= ... <= e_o``:

- ``TTFT = e_1 - a_r``; ``TBT``: every gap ``e_{k+1} - e_k``; ``TPOT = (e_o - e_1) / (o - 1)``
  (the mean TBT; requests with ``o = 1`` have none); end-to-end latency ``e_o - a_r``; scheduling
  delay ``first_scheduled - a_r``.
- Percentiles: numpy's ``linear`` method computed exactly (what SGLang and Sarathi-Serve report):
  ``h = (n - 1) q / 100``, ``x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h))``, by the
  one percentile of the package, :func:`~prefix_sched.theory.evaluator.percentile` (Part 1's too).
- Throughput: output tokens per second over the span from the first arrival to the last token.
  Goodput: requests per second over the same span that meet every objective: each of their TBTs
  within their class's TBT objective (a request without a class has none) and, when a TTFT objective
  is given, a TTFT within it.

:class:`BatchLog` keeps, per iteration, its start, end, prefill tokens, decode tokens and number of
requests (and, with many engines, the engine that ran it); :func:`batch_summary` gives the mean
batch make-up. :func:`engine_rows` gives the figures of each engine of a cluster.

Examples
--------
>>> percentile(np.array([10, 20, 30, 40]), 50), percentile(np.array([10, 20, 30, 40]), 99)
(25, Fraction(397, 10))
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.evaluator import percentile
from prefix_sched.theory.numbers import Exact, normalize
from prefix_sched.theory.serving.requests import Workload

ALL = "all"
"""The name of the whole-workload row of a summary."""
exact_percentile = percentile
"""The percentile of :func:`prefix_sched.theory.evaluator.percentile` (numpy's ``linear`` method,
exactly), under the name the serving studies import."""
PART1_MEASURES = {"requests": "count", "ttft_p50": "p50", "ttft_p90": "p90", "ttft_p99": "p99",
                  "ttft_max": "max", "cached_tokens": "reused"}
"""The figures of a :func:`summarize` row that are Part 1's measures
(:data:`prefix_sched.theory.measures.MEASURES`) of the same quantity, serving name -> Part 1 name:
the requests served, the TTFT percentiles and largest TTFT (the same percentile), the prompt tokens
found in the cache. Units differ: a serving TTFT is in microseconds, a Part 1 TTFT in token-times
(they coincide at 1 us per prompt token and nothing else, the bridge of
tests/solvers/serving/test_bridge.py). The other figures (TBT, TPOT, delays, goodput) have no
Part 1 counterpart, and Part 1's others (``mean``, ``makespan``, fairness) no serving one."""


@dataclass(frozen=True, eq=False)
class Timeline:
    """Per-request results of one run, in the workload's request order; times in ticks."""

    workload: Workload
    ticks_per_us: int
    arrival: np.ndarray
    first_scheduled: np.ndarray
    offsets: np.ndarray
    token_times: np.ndarray
    preemptions: np.ndarray
    engine: np.ndarray | None = None
    cached_tokens: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.workload.n
        outputs = np.fromiter((r.output_tokens for r in self.workload.requests), dtype=np.int64, count=n)
        if len(self.offsets) != n + 1 or not np.array_equal(np.diff(self.offsets), outputs):
            raise InputError("a timeline needs one token time per output token of every request")
        for name in ("engine", "cached_tokens"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, np.zeros(n, dtype=np.int64))
            elif len(value) != n:
                raise InputError(f"a timeline needs one {name} entry per request, got {len(value)} for {n}")

    def us(self, ticks: Exact) -> Exact:
        """``ticks`` in microseconds, exactly."""
        return normalize(Fraction(ticks) / self.ticks_per_us)

    def first_token(self) -> np.ndarray:
        return self.token_times[self.offsets[:-1]]

    def last_token(self) -> np.ndarray:
        return self.token_times[self.offsets[1:] - 1]

    def ttft(self) -> np.ndarray:
        """TTFT per request, in ticks."""
        return self.first_token() - self.arrival

    def e2e(self) -> np.ndarray:
        return self.last_token() - self.arrival

    def scheduling_delay(self) -> np.ndarray:
        return self.first_scheduled - self.arrival

    def tbt(self, requests: np.ndarray | None = None) -> np.ndarray:
        """Every time between tokens, in ticks (of ``requests``, a boolean mask, when given)."""
        gaps = np.diff(self.token_times)
        keep = np.ones(len(gaps), dtype=bool)
        keep[self.offsets[1:-1] - 1] = False  # the gap from one request's last token to the next's first
        if requests is not None:
            owner = np.repeat(np.arange(self.workload.n), np.diff(self.offsets))[1:]
            keep &= requests[owner]
        return gaps[keep]

    def max_tbt(self) -> np.ndarray:
        """Each request's largest TBT in ticks (-1 for a request with one token)."""
        gaps = np.empty(len(self.token_times), dtype=np.int64)
        gaps[:-1] = np.diff(self.token_times)
        gaps[self.offsets[1:] - 1] = -1  # after a request's last token: no gap of its own
        return np.maximum.reduceat(gaps, self.offsets[:-1])

    def tpot(self) -> list[Exact | None]:
        """Each request's TPOT (mean TBT) in ticks, exactly; None for a request with one token."""
        first, last = self.first_token(), self.last_token()
        lengths = np.diff(self.offsets)
        return [None if o == 1 else normalize(Fraction(int(b - a), int(o - 1)))
                for a, b, o in zip(first, last, lengths)]


@dataclass(frozen=True, eq=False)
class BatchLog:
    """Per iteration: start and end (ticks), prefill tokens, decode tokens, requests in the batch."""

    start: np.ndarray
    end: np.ndarray
    prefill_tokens: np.ndarray
    decode_tokens: np.ndarray
    requests: np.ndarray
    engine: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.engine is None:
            object.__setattr__(self, "engine", np.zeros(len(self.start), dtype=np.int64))

    @property
    def iterations(self) -> int:
        return len(self.start)


def batch_summary(log: BatchLog, ticks_per_us: int) -> dict[str, Any]:
    """Iterations, mean prefill and decode tokens per batch, mean batch time (us), busy time (us)."""
    n = log.iterations
    busy = int((log.end - log.start).sum())
    return {
        "iterations": n,
        "mean_prefill_tokens": normalize(Fraction(int(log.prefill_tokens.sum()), max(n, 1))),
        "mean_decode_tokens": normalize(Fraction(int(log.decode_tokens.sum()), max(n, 1))),
        "mean_requests": normalize(Fraction(int(log.requests.sum()), max(n, 1))),
        "mean_batch_us": normalize(Fraction(busy, max(n, 1) * ticks_per_us)),
        "busy_us": normalize(Fraction(busy, ticks_per_us)),
    }


def meets_objectives(timeline: Timeline, ttft_slo_us: Exact | None = None) -> np.ndarray:
    """Per request: every TBT within its class's objective and (if given) TTFT within ``ttft_slo_us``.

    Times are integers of ticks, so ``t <= slo`` is ``t <= floor(slo * D)``: exact.
    """
    D = timeline.ticks_per_us
    bound = np.array([-1 if r.tbt_slo_us is None else _floor(r.tbt_slo_us, D) for r in timeline.workload.requests],
                     dtype=np.int64)
    worst = timeline.max_tbt()
    ok = (bound < 0) | (worst <= bound)
    if ttft_slo_us is not None:
        ok &= timeline.ttft() <= _floor(ttft_slo_us, D)
    return ok


def _floor(us: Exact, D: int) -> int:
    value = Fraction(us) * D
    return value.numerator // value.denominator


def summarize(timeline: Timeline, ttft_slo_us: Exact | None = None) -> dict[str, dict[str, Any]]:
    """Figures per class and for all requests (key :data:`ALL`); times in microseconds, exact.

    Each row: ``requests``, ``ttft_p50/p90/p99/max``, ``tbt_p50/p99/max`` (None without TBTs),
    ``tbt_slo`` (the class's objective), ``tpot_mean/p50/p99``, ``delay_p50/p99``, ``e2e_p50/p99``,
    ``output_tokens``, ``throughput_tok_s``, ``goodput_req_s``, ``met`` (requests meeting every
    objective), ``preemptions`` and ``cached_tokens`` (prompt tokens found in a prefix cache).
    """
    workload = timeline.workload
    D = timeline.ticks_per_us
    span = int(timeline.token_times.max()) - int(timeline.arrival.min())
    seconds = Fraction(span, D * 1_000_000) if span > 0 else None
    met = meets_objectives(timeline, ttft_slo_us)
    ttft, delay, e2e = timeline.ttft(), timeline.scheduling_delay(), timeline.e2e()
    tpot = timeline.tpot()
    classes = np.array([r.cls or "" for r in workload.requests], dtype=object)
    rows: dict[str, dict[str, Any]] = {}
    groups: list[tuple[str, np.ndarray, Any]] = [(ALL, np.ones(workload.n, dtype=bool), None)]
    groups += [(c.name, classes == c.name, c.tbt_us) for c in workload.classes]
    lengths = np.diff(timeline.offsets)
    for name, mask, slo in groups:
        count = int(mask.sum())
        row: dict[str, Any] = {"requests": count, "tbt_slo": slo}
        if count == 0:
            rows[name] = row
            continue
        t = np.sort(ttft[mask])
        row.update({f"ttft_p{q}": _us(percentile(t, q, presorted=True), D) for q in (50, 90, 99)})
        row["ttft_max"] = _us(int(t[-1]), D)
        gaps = timeline.tbt(mask)
        if len(gaps):
            gaps.sort()
            row.update({f"tbt_p{q}": _us(percentile(gaps, q, presorted=True), D) for q in (50, 99)})
            row["tbt_max"] = _us(int(gaps[-1]), D)
        else:
            row.update({"tbt_p50": None, "tbt_p99": None, "tbt_max": None})
        values = sorted(v for v, m in zip(tpot, mask) if m and v is not None)
        if values:
            row["tpot_mean"] = _us(Fraction(sum(values, Fraction(0)), len(values)), D)
            row.update({f"tpot_p{q}": _us(percentile(values, q, presorted=True), D) for q in (50, 99)})
        else:
            row.update({"tpot_mean": None, "tpot_p50": None, "tpot_p99": None})
        d = np.sort(delay[mask])
        row.update({f"delay_p{q}": _us(percentile(d, q, presorted=True), D) for q in (50, 99)})
        e = np.sort(e2e[mask])
        row.update({f"e2e_p{q}": _us(percentile(e, q, presorted=True), D) for q in (50, 99)})
        tokens = int(lengths[mask].sum())
        good = int((met & mask).sum())
        row["output_tokens"] = tokens
        row["met"] = good
        row["throughput_tok_s"] = None if seconds is None else normalize(tokens / seconds)
        row["goodput_req_s"] = None if seconds is None else normalize(good / seconds)
        row["preemptions"] = int(timeline.preemptions[mask].sum())
        row["cached_tokens"] = int(timeline.cached_tokens[mask].sum())
        rows[name] = row
    return rows


def engine_rows(timeline: Timeline, engines: int, batches: BatchLog | None = None) -> list[dict[str, Any]]:
    """The figures of each engine ``0 .. engines - 1`` (times in microseconds, exact).

    Each row: ``engine``, ``requests`` routed to it, ``prompt_tokens``, ``cached_tokens`` (prompt
    tokens found in its prefix cache) and ``reuse`` (their share of its prompt tokens), ``output_tokens``,
    ``ttft_p50``, ``ttft_p99``, ``tbt_p99`` (None when it has no TBT), ``preemptions``; with
    ``batches``: ``iterations`` and ``busy_us`` (the summed duration of its iterations).
    """
    D = timeline.ticks_per_us
    prompts = np.fromiter((r.prompt_tokens for r in timeline.workload.requests), dtype=np.int64,
                          count=timeline.workload.n)
    lengths = np.diff(timeline.offsets)
    ttft = timeline.ttft()
    rows = []
    for g in range(engines):
        mask = timeline.engine == g
        count = int(mask.sum())
        prompt = int(prompts[mask].sum())
        cached = int(timeline.cached_tokens[mask].sum())
        row: dict[str, Any] = {"engine": g, "requests": count, "prompt_tokens": prompt, "cached_tokens": cached,
                               "reuse": normalize(Fraction(cached, prompt)) if prompt else None,
                               "output_tokens": int(lengths[mask].sum()),
                               "preemptions": int(timeline.preemptions[mask].sum())}
        if count:
            t = np.sort(ttft[mask])
            row["ttft_p50"] = _us(percentile(t, 50, presorted=True), D)
            row["ttft_p99"] = _us(percentile(t, 99, presorted=True), D)
            gaps = timeline.tbt(mask)
            row["tbt_p99"] = _us(percentile(gaps, 99), D) if len(gaps) else None
        else:
            row.update({"ttft_p50": None, "ttft_p99": None, "tbt_p99": None})
        if batches is not None:
            own = batches.engine == g
            row["iterations"] = int(own.sum())
            row["busy_us"] = _us(int((batches.end[own] - batches.start[own]).sum()), D)
        rows.append(row)
    return rows


def _us(ticks: Exact, D: int) -> Exact:
    return normalize(Fraction(ticks) / D)
