"""The figures of issue 22's study (:mod:`.both_seeds`), drawn from its study dict.

Each ``*_figure`` function takes the dict :func:`~.both_seeds.run_study` returns (or
:func:`~.both_seeds.read_study` reads back) and returns a matplotlib figure; notebook 10 shows them,
:func:`write_figures` saves them as PNG files for docs/both_seeds.md (atomically, through
:func:`~prefix_sched.theory.outputs.save_figure`). Run
``python -m prefix_sched.studies.serving.both_seeds_plots STUDY.json FOLDER``.

Drifts are drawn relative to the arrival work rate ``lambda w`` (``w``: the bound's batch tokens a
request), so that the bound's floor above it is ``1 - 1 / q`` (``q = lambda / Lambda``).

What it leaves out: computing anything (every number comes from the study dict).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from prefix_sched.studies.serving.both_seeds import (
    CACHES,
    ORDER_SCHEDULERS,
    ORDERS,
    read_study,
    serve_rows,
    stability_rows,
)
from prefix_sched.studies.serving.stability import STABILITY_SCHEDULERS
from prefix_sched.theory.outputs import save_figure

FIGURES = {"both_seeds_drift.png": "drift_figure", "both_seeds_backlog.png": "backlog_figure",
           "both_seeds_tile.png": "tile_figure", "both_seeds_fixed.png": "fixed_share_figure",
           "both_seeds_orders.png": "orders_figure", "both_seeds_routers.png": "routers_figure",
           "both_seeds_capacity.png": "capacity_figure"}


def _named(label: str) -> str:
    """A run's label, with RAD marked as the reconstruction it is."""
    return f"{label} (reconstruction)" if label.startswith("rad") else label


def _f(value) -> float:
    return float(Fraction(value))


def _per_request(part: dict[str, Any]) -> float:
    bound = part["bound"]
    return bound["tokens"] / bound["requests"]


def _relative(row, w: float) -> tuple[float, float, float]:
    scale = float(row.realised_rate) * w
    d = row.drift_tok_s
    return d.slope / scale, d.low / scale, d.high / scale


def _drift_axes(ax, rows, labels: Sequence[str], w: float, title: str) -> None:
    for label in labels:
        mine = sorted((r for r in rows if r.label == label), key=lambda r: r.q)
        if not mine:
            continue
        xs = [float(r.q) for r in mine]
        mid, low, high = zip(*(_relative(r, w) for r in mine))
        ax.errorbar(xs, mid, yerr=[[m - lo for m, lo in zip(mid, low)], [hi - m for m, hi in zip(mid, high)]],
                    marker="o", capsize=3, label=_named(label))
    lo = min(float(r.q) for r in rows)
    hi = max(float(r.q) for r in rows)
    grid = [lo + (hi - lo) * k / 100 for k in range(101)]
    ax.plot(grid, [max(0.0, 1 - 1 / x) for x in grid], color="black", ls="--", lw=1, label="bound's floor 1 - 1/q")
    ax.axvline(1, color="grey", ls=":", lw=1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("realised rate / bound (q)")
    ax.set_ylabel("backlog drift / arrival work rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def drift_figure(study: dict[str, Any]):
    """The backlog's drift against ``q`` for RAD and each scheduler, unbounded KV and the seed's KV."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for ax, (part, title) in zip(axes, (("boundary_unbounded_kv", "ShareGPT, seed preset, KV unbounded"),
                                        ("boundary_seed_kv", "ShareGPT, seed preset, KV 219,104 tokens"))):
        _drift_axes(ax, stability_rows(study, part), STABILITY_SCHEDULERS, _per_request(study["stability"][part]),
                    title)
    fig.tight_layout()
    return fig


def backlog_figure(study: dict[str, Any], ratios: Sequence[float] = (0.8, 0.95, 1.05, 1.25)):
    """Requests in the system over time, for each scheduler (columns) and memory (rows), at a few ``q``."""
    import matplotlib.pyplot as plt

    parts = ("boundary_unbounded_kv", "boundary_seed_kv")
    fig, axes = plt.subplots(len(parts), len(STABILITY_SCHEDULERS), figsize=(16, 6), sharex=True)
    for i, part in enumerate(parts):
        rows = stability_rows(study, part)
        for j, name in enumerate(STABILITY_SCHEDULERS):
            ax = axes[i][j]
            for r in sorted((r for r in rows if r.label == name), key=lambda r: r.q):
                nominal = min(ratios, key=lambda x: abs(x - float(r.q)))
                if abs(nominal - float(r.q)) > 0.03:
                    continue
                ax.plot(r.series["t_s"], r.series["requests"], label=f"q = {float(r.q):.2f}")
            ax.set_title(f"{_named(name)}, {'KV unbounded' if i == 0 else 'KV 219,104'}", fontsize=9)
            ax.set_yscale("symlog", linthresh=100)
            if i == len(parts) - 1:
                ax.set_xlabel("time (s)")
            if j == 0:
                ax.set_ylabel("requests in the system")
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def tile_figure(study: dict[str, Any]):
    """A budget off the tile: drift against ``q`` for sarathi at 512 and 520 and RAD at 520."""
    import matplotlib.pyplot as plt

    part = study["stability"]["tile"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    _drift_axes(ax, stability_rows(study, "tile"), ("sarathi@512", "sarathi@520", "rad@520"), _per_request(part),
                "seed-tile128 (c0 15.2 ms, 57.4 us a token, tiles of 128), KV unbounded")
    ax.axvline(_f(part["predicted_ratio"]), color="red", ls=":", lw=1, label="predicted boundary at 520")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fixed_share_figure(study: dict[str, Any]):
    """``rad-fixed:F`` below, at and above the decode fraction: drift against ``q``, predicted boundaries."""
    import matplotlib.pyplot as plt

    part = study["stability"]["fixed_share"]
    rows = stability_rows(study, "fixed_share")
    labels = list(dict.fromkeys(r.label for r in rows))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    _drift_axes(ax, rows, labels, _per_request(study["stability"]["boundary_unbounded_kv"]),
                f"rad-fixed:F, decode fraction f = {_f(part['decode_fraction']):.3f}, KV unbounded")
    bound = _f(study["stability"]["boundary_unbounded_kv"]["bound"]["rate_req_s"])
    for share, rate in part["predicted"].items():
        ax.axvline(_f(rate) / bound, ls=":", lw=1, color="red")
        ax.text(_f(rate) / bound, ax.get_ylim()[1] * 0.9, f"F={float(Fraction(share)):.3f}", fontsize=7, rotation=90)
    fig.tight_layout()
    return fig


def orders_figure(study: dict[str, Any]):
    """P99 TTFT against the rate for each order: one panel per scheduler and cache (Mooncake trace)."""
    import matplotlib.pyplot as plt

    rows = serve_rows(study, "orders")
    fig, axes = plt.subplots(len(ORDER_SCHEDULERS), len(CACHES), figsize=(14, 10), sharex=True)
    for i, scheduler in enumerate(ORDER_SCHEDULERS):
        for j, cache in enumerate(CACHES):
            ax = axes[i][j]
            for order in ORDERS:
                mine = sorted((r for r in rows if r.scheduler == scheduler and r.cache == cache and r.order == order),
                              key=lambda r: r.rate)
                if mine:
                    ax.plot([float(r.rate) for r in mine], [_f(r.ttft_p99_us) / 1e6 for r in mine], marker="o",
                            label=order)
            for other, style in (("slai", "k--"), ("rad", "k:")):
                mine = sorted((r for r in rows if r.scheduler == other and r.cache == cache), key=lambda r: r.rate)
                if mine:
                    ax.plot([float(r.rate) for r in mine], [_f(r.ttft_p99_us) / 1e6 for r in mine], style, lw=1,
                            label=_named(f"{other} ({mine[0].order or 'own order'})"))
            ax.set_yscale("log")
            ax.set_title(f"{scheduler}, cache {cache}", fontsize=10)
            if i == len(ORDER_SCHEDULERS) - 1:
                ax.set_xlabel("arrival rate (requests/s)")
            if j == 0:
                ax.set_ylabel("P99 TTFT (s)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def routers_figure(study: dict[str, Any]):
    """Reuse, P99 TTFT, P99 TBT and imbalance against the number of engines, for each router."""
    import matplotlib.pyplot as plt

    rows = serve_rows(study, "routers")
    routers = sorted({r.router for r in rows if r.router is not None})
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    measures = (("reuse", lambda r: _f(r.reuse), "reuse (cached / prompt tokens)"),
                ("p99", lambda r: _f(r.ttft_p99_us) / 1e6, "P99 TTFT (s)"),
                ("tbt", lambda r: _f(r.tbt_p99_us) / 1e3, "P99 TBT (ms)"),
                ("imbalance", lambda r: _f(r.imbalance_requests), "most requests on an engine / mean"))
    for ax, (_, get, title) in zip(axes, measures):
        for cache, style in (("lru", "-"), ("unbounded", "--")):
            single = [r for r in rows if r.cache == cache and r.engines == 1]
            for router in routers:
                mine = sorted(single + [r for r in rows if r.cache == cache and r.router == router],
                              key=lambda r: r.engines)
                ax.plot([r.engines for r in mine], [get(r) for r in mine], style, marker="o",
                        label=f"{router}, {cache}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("engines")
        ax.set_title(title, fontsize=10)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def capacity_figure(study: dict[str, Any]):
    """Each scheduler's capacity against the bound: under the seed's objective and as its stability
    boundary (unbounded KV and the seed's KV), as brackets of ``rate / Lambda``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2))
    series = []
    if "capacity" in study:
        series.append(("seed objective (median TTFT, P99 TBT), seed's run",
                       {r["scheduler"]: (r["low_ratio"], r["high_ratio"]) for r in study["capacity"]["rows"]}))
    for part, text in (("bisection_unbounded_kv", "stability, KV unbounded"), ("bisection_seed_kv", "stability, KV 219,104")):
        if part in study.get("stability", {}):
            data = study["stability"][part]["schedulers"]
            series.append((text, {s: (None if v["low"] is None else v["low"]["q"], None if v["high"] is None else
                                      v["high"]["q"]) for s, v in data.items()}))
    names = list(STABILITY_SCHEDULERS)
    width = 0.8 / max(1, len(series))
    for k, (text, data) in enumerate(series):
        xs, lows, spans = [], [], []
        for i, name in enumerate(names):
            low, high = data.get(name, (None, None))
            if low is None:
                continue
            low = _f(low)
            high = low if high is None else _f(high)
            xs.append(i + (k - (len(series) - 1) / 2) * width)
            lows.append(low)
            spans.append(max(high - low, 0.005))
        ax.bar(xs, spans, width=width * 0.9, bottom=lows, label=text)
    ax.axhline(1, color="black", ls="--", lw=1, label="the bound")
    ax.set_xticks(range(len(names)), [_named(n).replace(" (", "\n(") for n in names])
    ax.set_ylabel("capacity bracket / bound (realised rates)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_figures(study: dict[str, Any], folder: Path | str) -> list[Path]:
    """Save every figure whose part the study holds, as PNG files in ``folder``."""
    folder = Path(folder)
    out = []
    needs = {"both_seeds_orders.png": "orders", "both_seeds_routers.png": "routers"}
    for name, function in FIGURES.items():
        part = needs.get(name, "stability" if name != "both_seeds_capacity.png" else None)
        if part is not None and part not in study:
            continue
        fig = globals()[function](study)
        path = folder / name
        save_figure(fig, path, "the figure", file_format="png")
        out.append(path)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m prefix_sched.studies.serving.both_seeds_plots STUDY.json FOLDER``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 2:
        raise SystemExit("usage: python -m prefix_sched.studies.serving.both_seeds_plots STUDY.json FOLDER")
    for path in write_figures(read_study(args[0]), args[1]):
        print(path)


if __name__ == "__main__":
    main()
