"""The figures of the seed's experiment (:mod:`.seed_experiment`), drawn from a study dict.

Each ``*_figure`` function takes the dict :func:`~.seed_experiment.run_study` returns (or
:func:`~.seed_experiment.read_study` reads back) and returns a matplotlib figure; notebook 09 shows
them, :func:`write_figures` saves them as PNG files for docs/serving.md (atomically, through
:func:`~prefix_sched.theory.outputs.save_figure`). Run
``python -m prefix_sched.studies.serving.plots STUDY.json FOLDER``.

What it leaves out: computing anything (every number comes from the study dict).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from prefix_sched.studies.serving.seed_experiment import (
    GRID_SCHEDULERS,
    Row,
    grid_rows,
    read_study,
    reductions,
)
from prefix_sched.theory.outputs import save_figure

SEED_REDUCTION = Fraction(53, 100)
"""The seed's headline: median TTFT 53% lower than Sarathi-Serve's."""
FIGURES = ("serving_ttft.png", "serving_tbt.png", "serving_fig5a.png", "serving_azure.png")


def _ms(value) -> float:
    return float(Fraction(value)) / 1000


def ttft_figure(study: dict[str, Any]):
    """Median TTFT against the load for each grid scheduler (0.2 to 1.6 and beyond), and SLAI's reduction."""
    import matplotlib.pyplot as plt

    rows = grid_rows(study, "grid") + (grid_rows(study, "beyond") if "beyond" in study else [])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in GRID_SCHEDULERS:
        mine = sorted((r for r in rows if r.scheduler == name), key=lambda r: r.rate)
        left.plot([float(r.rate) for r in mine], [_ms(r.ttft_p50_us) for r in mine], marker="o", label=name)
    left.axhline(500, color="grey", ls=":", label="seed objective 0.5 s")
    left.axvline(1.6, color="grey", ls="--", lw=0.8)
    left.set_yscale("log")
    left.set_xlabel("arrival rate (requests/s)")
    left.set_ylabel("median TTFT (ms)")
    left.set_title("ShareGPT, seed preset, budget 512")
    left.legend(fontsize=8)
    for other in ("slai", "sarathi-spf", "slai-fcfs"):
        red = reductions(rows, "sarathi", other)
        right.plot([float(r) for r in red], [100 * float(v) for v in red.values()], marker="o", label=other)
    if "kv_reads" in study:
        red = reductions([Row.from_json(r) for r in study["kv_reads"]["grid"]["rows"]])
        right.plot([float(r) for r in red], [100 * float(v) for v in red.values()], marker="x", ls="--",
                   color="black", label="slai, cost + decode KV reads")
    right.axhline(100 * float(SEED_REDUCTION), color="grey", ls=":", label="seed: 53%")
    right.axvline(1.6, color="grey", ls="--", lw=0.8)
    right.set_xlabel("arrival rate (requests/s)")
    right.set_ylabel("median TTFT lower than sarathi (%)")
    right.set_ylim(-10, 100)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def tbt_figure(study: dict[str, Any]):
    """P99 TBT of each class against the load, sarathi and slai, with the class objectives."""
    import matplotlib.pyplot as plt

    rows = grid_rows(study, "grid") + (grid_rows(study, "beyond") if "beyond" in study else [])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, style in (("sarathi", "-"), ("slai", "--")):
        mine = sorted((r for r in rows if r.scheduler == name), key=lambda r: r.rate)
        for cls in mine[0].tbt_p99_us:
            ax.plot([float(r.rate) for r in mine], [_ms(r.tbt_p99_us[cls]) for r in mine], ls=style, marker=".",
                    label=f"{name} {cls}")
    ax.axhline(100, color="tab:red", ls=":", lw=0.8, label="strict objective 100 ms")
    ax.axhline(500, color="tab:purple", ls=":", lw=0.8, label="relaxed objective 500 ms")
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel("P99 TBT (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_5a_figure(study: dict[str, Any]):
    """One 2048-token prompt's TTFT against the budget: the seed's, the preset's, the fitted cost's."""
    import matplotlib.pyplot as plt

    part = study["figure_5a"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    budgets = [r["budget"] for r in part["seed"]]
    ax.plot(budgets, [r["seed_ttft_ms"] for r in part["seed"]], marker="s", label="seed, measured (Fig. 5(a))")
    ax.plot(budgets, [_ms(r["model_ttft_us"]) for r in part["seed"]], marker="o", label="model, seed preset")
    fit = part["fit"]
    ax.plot(budgets, [_ms(r["model_ttft_us"]) for r in part["fitted"]], marker="^",
            label=f"model, fitted c0={fit['c0'] / 1000:.2f} ms, cp={fit['cp']:.1f} us")
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("token budget (chunk size)")
    ax.set_ylabel("median TTFT (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def azure_figure(study: dict[str, Any]):
    """The Azure conversation trace: median TTFT of sarathi and slai against the load, and the reduction."""
    import matplotlib.pyplot as plt

    rows = grid_rows(study, "azure")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("sarathi", "slai"):
        mine = sorted((r for r in rows if r.scheduler == name), key=lambda r: r.rate)
        left.plot([float(r.rate) for r in mine], [_ms(r.ttft_p50_us) for r in mine], marker="o", label=name)
    left.axhline(500, color="grey", ls=":", label="0.5 s")
    left.set_yscale("log")
    left.set_xlabel("arrival rate (requests/s)")
    left.set_ylabel("median TTFT (ms)")
    left.set_title("Azure conversation trace, timestamps rescaled")
    left.legend(fontsize=8)
    red = reductions(rows)
    right.plot([float(r) for r in red], [100 * float(v) for v in red.values()], marker="o", label="slai")
    right.axhline(100 * float(SEED_REDUCTION), color="grey", ls=":", label="seed (ShareGPT): 53%")
    right.set_xlabel("arrival rate (requests/s)")
    right.set_ylabel("median TTFT lower than sarathi (%)")
    right.set_ylim(-10, 100)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_figures(study: dict[str, Any], folder: Path | str) -> list[Path]:
    """Save the four figures as :data:`FIGURES` in ``folder``; return their paths."""
    folder = Path(folder)
    paths = []
    for name, draw in zip(FIGURES, (ttft_figure, tbt_figure, figure_5a_figure, azure_figure)):
        path = folder / name
        save_figure(draw(study), path, "the study figures", file_format="png")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.exit("usage: python -m prefix_sched.studies.serving.plots STUDY.json FOLDER")
    import matplotlib
    matplotlib.use("Agg")
    for path in write_figures(read_study(args[0]), args[1]):
        print(path)


if __name__ == "__main__":
    main()
