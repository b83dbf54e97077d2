"""Summarize a sweep's rows: one line per (stream, load, policy, cache) over seeds, and the P99 plot.

Rows are grouped by stream (and swept generator parameters), load, policy (with its tie break)
and cache model; a group's statistics are medians over its seeds of the ok rows, with the P99's
minimum and maximum over seeds beside its median. Failed rows are counted, never averaged in.
The x coordinate of a group is its load, or, for arrivals as given, the mean offered load of its
rows (``sum |p_i| / arrival span``). :func:`plot_p99` draws P99 against that x, one panel per
stream and one line per policy and cache model (per swept parameter value too, when the stream
also has loads), the median with a band from the minimum to the maximum over seeds, on a log
scale; the file is written atomically in the format its extension names.

What it leaves out: reading the rows (:func:`~prefix_sched.studies.sweep.results.read_results`) and
printing (the command does).

Examples
--------
>>> rows = [{"stream": "s", "variant": "", "load": "2", "offered_load": 2.0, "policy": "lpm",
...          "tie_break": "oldest", "k": "inf", "cache": "last", "status": "ok", "seed": seed,
...          "p50": 1.0, "p99": p99, "mean": 1.0, "reused_share": 0.5} for seed, p99 in [(0, 4.0), (1, 6.0), (2, 5.0)]]
>>> [(g.policy, g.ok, g.p99, g.p99_low, g.p99_high) for g in summarize(rows)]
[('lpm', 3, 5.0, 4.0, 6.0)]
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from statistics import mean, median
from typing import Any

from prefix_sched.theory.outputs import plot_format
from prefix_sched.studies.sweep.spec import AS_GIVEN
from prefix_sched.theory.outputs import save_figure


@dataclass(frozen=True)
class Group:
    """One (stream, variant, load, policy, cache) over its seeds; statistics are medians over the
    ok rows (None when none is ok or the metric was not recorded)."""

    stream: str
    variant: str
    load: str
    x: float | None
    policy: str
    cache: str
    ok: int
    failed: int
    p50: float | None
    p99: float | None
    p99_low: float | None
    p99_high: float | None
    mean: float | None
    reused_share: float | None


def policy_text(row: dict[str, Any]) -> str:
    """A row's policy label, with ``random ties`` when LPM breaks ties at random."""
    return row["policy"] + (" random ties" if row["tie_break"] == "random" else "")


def summarize(rows: Sequence[dict[str, Any]]) -> list[Group]:
    """Group ``rows`` (see the module docstring), sorted by stream, x, policy and cache."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["stream"], row["variant"], row["load"], policy_text(row), row["cache"])
        groups.setdefault(key, []).append(row)
    found = []
    for (stream, variant, load, policy, cache), members in groups.items():
        ok = [row for row in members if row["status"] == "ok"]
        offered = [row["offered_load"] for row in ok if row["offered_load"] is not None]
        x = float(Fraction(load)) if load != AS_GIVEN else (mean(offered) if offered else None)
        p99 = _values(ok, "p99")
        found.append(Group(stream, variant, load, x, policy, cache, len(ok), len(members) - len(ok),
                           _median(ok, "p50"), median(p99) if p99 else None, min(p99, default=None),
                           max(p99, default=None), _median(ok, "mean"), _median(ok, "reused_share")))
    return sorted(found, key=lambda g: (g.stream, math.inf if g.x is None else g.x, g.variant,
                                        _policy_order(g.policy), g.cache))


def _values(rows, name) -> list[float]:
    return [row[name] for row in rows if row.get(name) is not None]


def _median(rows, name) -> float | None:
    values = _values(rows, name)
    return median(values) if values else None


def _policy_order(text: str) -> tuple:
    """fcfs, then k-lpm by k (inf last), then lpm; the label text breaks ties."""
    if text.startswith("k-lpm(k="):
        k = text[len("k-lpm(k="):].split(")")[0].split(",")[0]
        return (1, math.inf if k == "inf" else int(k), text)
    return (0 if text.startswith("fcfs") else 2, 0, text)


def _quiet(plot: Callable[..., None]) -> Callable[..., None]:
    """Run ``plot`` without numpy's overflow warnings: a figure of values near a float's limit (a
    P99 of 1e308 on a log axis) is drawn as well as matplotlib can, never with warnings on stderr."""
    @functools.wraps(plot)
    def quiet(*args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plot(*args, **kwargs)
    return quiet


@_quiet
def plot_p99(groups: Sequence[Group], path: Path | str, option: str = "plot") -> None:
    """Save P99 against load (see the module docstring) to ``path``."""
    file_format = plot_format(path, option)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams = list(dict.fromkeys(g.stream for g in groups))
    columns = min(3, max(1, len(streams)))
    rows = math.ceil(len(streams) / columns) if streams else 1
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.8 * rows), squeeze=False)
    several_caches = len({g.cache for g in groups}) > 1
    for ax, stream in zip(axes.flat, streams):
        mine = [g for g in groups if g.stream == stream and g.x is not None and g.p99 is not None]
        by_variant = any(g.load != AS_GIVEN for g in mine) and len({g.variant for g in mine}) > 1
        lines: dict[tuple, list[Group]] = {}
        for g in mine:
            lines.setdefault((g.policy, g.cache, g.variant if by_variant else ""), []).append(g)
        for (policy, cache, variant), points in sorted(lines.items(), key=lambda item: (_policy_order(item[0][0]), item[0][1:])):
            points = sorted(points, key=lambda g: g.x)
            label = policy + (f" / {cache}" if several_caches else "") + (f" / {variant}" if variant else "")
            x = [g.x for g in points]
            ax.plot(x, [g.p99 for g in points], marker="o", label=label)
            ax.fill_between(x, [g.p99_low for g in points], [g.p99_high for g in points], alpha=0.15)
        _label(ax, stream, "offered load (sum of prompt tokens / arrival span)", "P99 TTFT (token-times)",
               log=bool(mine) and all(g.p99_low > 0 for g in mine), legend=bool(lines))
    _save(fig, axes, len(streams), path, option, file_format)


def _label(ax, title: str, xlabel: str, ylabel: str, *, log: bool, legend: bool) -> None:
    """One panel's title and axis labels; a log scale when every value is positive; the legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if legend:
        ax.legend(fontsize="small")


def _save(fig, axes, used: int, path, option: str, file_format: str) -> None:
    """Hide the panels past the first ``used``, lay the figure out and write it atomically."""
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    fig.tight_layout()
    save_figure(fig, path, option, file_format=file_format)


# --- serving cells ------------------------------------------------------------------------------

SETTINGS = ("trace", "variant", "rate", "classes", "scheduler", "order", "router", "engines", "prefix_cache", "cost",
            "budget", "kv_tokens", "block_size", "max_seqs", "objective")
"""The settings columns that make a group of serving rows (everything but the seed)."""


@dataclass(frozen=True)
class ServingGroup:
    """One serving configuration at one rate over its seeds: medians over the ok rows (times in
    microseconds), ``met`` the ok rows meeting the objective (None without one)."""

    trace: str
    variant: str
    rate: str
    x: float | None
    classes: str
    server: str
    ok: int
    failed: int
    ttft_p50: float | None
    ttft_p99: float | None
    tbt_p99: float | None
    throughput: float | None
    goodput: float | None
    reused_share: float | None
    met: int | None


def server_text(row: dict[str, Any]) -> str:
    """A serving row's configuration in a few words: ``sarathi/k-lpm(k=3), 4x least-work, cache lru``."""
    text = f"{row['scheduler']}/{row['order']}"
    if row["engines"] > 1:
        text += f", {row['engines']}x {row['router'].partition(':')[0]}"
    if row["prefix_cache"] != "none":
        text += f", cache {row['prefix_cache']}"
    for name, default in (("cost", "seed"), ("budget", 512), ("kv_tokens", None), ("max_seqs", 128)):
        if row[name] != default:
            text += f", {name} {row[name]}"
    return text


def summarize_serving(rows: Sequence[dict[str, Any]]) -> list[ServingGroup]:
    """Group serving rows by their settings but the seed, sorted by trace, x and configuration."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[name] for name in SETTINGS), []).append(row)
    found = []
    for members in groups.values():
        first = members[0]
        ok = [row for row in members if row["status"] == "ok"]
        offered = [row["offered_rate"] for row in ok if row["offered_rate"] is not None]
        rate = first["rate"]
        x = float(Fraction(rate)) if rate != AS_GIVEN else (mean(offered) if offered else None)
        met = None if not first["objective"] else sum(1 for row in ok if row["objective_met"] == 1)
        found.append(ServingGroup(first["trace"], first["variant"], rate, x, first["classes"], server_text(first),
                                  len(ok), len(members) - len(ok), _median(ok, "ttft_p50"), _median(ok, "ttft_p99"),
                                  _median(ok, "tbt_p99"), _median(ok, "throughput_tok_s"), _median(ok, "goodput_req_s"),
                                  _median(ok, "reused_share"), met))
    return sorted(found, key=lambda g: (g.trace, g.variant, math.inf if g.x is None else g.x, g.server, g.classes))


@_quiet
def plot_serving(groups: Sequence[ServingGroup], path: Path | str, option: str = "plot") -> None:
    """Save P99 TTFT (ms) against the rate (requests/s): one panel per trace, one line per
    configuration (and classes), medians over seeds; written atomically."""
    file_format = plot_format(path, option)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = list(dict.fromkeys(g.trace for g in groups))
    columns = min(3, max(1, len(traces)))
    rows = math.ceil(len(traces) / columns) if traces else 1
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.8 * rows), squeeze=False)
    for ax, trace in zip(axes.flat, traces):
        mine = [g for g in groups if g.trace == trace and g.x is not None and g.ttft_p99 is not None]
        lines: dict[tuple, list[ServingGroup]] = {}
        for g in mine:
            lines.setdefault((g.server, g.variant, g.classes), []).append(g)
        for (server, variant, classes), points in sorted(lines.items()):
            points = sorted(points, key=lambda g: g.x)
            label = server + (f" / {variant}" if variant else "") + (f" / {classes}" if classes else "")
            ax.plot([g.x for g in points], [g.ttft_p99 / 1000 for g in points], marker="o", label=label)
        _label(ax, trace, "arrival rate (requests/s)", "P99 TTFT (ms)",
               log=bool(mine) and all(g.ttft_p99 > 0 for g in mine), legend=bool(lines))
    _save(fig, axes, len(traces), path, option, file_format)
