"""Write a validation result: the JSON file, two plots, and a short text summary.

Files written into the output folder:

- ``validation.json``: the dict of :func:`~prefix_sched.gpu_validation.validate.run_validation` plus
  the command line that produced it;
- ``time_vs_new_tokens.png``: calibration prefill times against new tokens, one colour per reuse
  fraction, with both fits;
- ``measured_vs_predicted.png``: per-prefill service times and per-query TTFTs of every replayed
  schedule, measured against predicted, with the line ``y = x``.

Plots use matplotlib's Agg backend (no display needed). This module computes nothing new.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prefix_sched.errors import OutputError
from prefix_sched.theory.outputs import check_output_path, save_figure, write_text

RESULT_FILE = "validation.json"
PLOTS = ("time_vs_new_tokens.png", "measured_vs_predicted.png")


def check_report_folder(out_dir: Path | str, option: str = "--out") -> Path:
    """Return ``out_dir`` as a Path after checking that the report can be written there.

    Call it before the experiment. A folder that exists must be writable and its files
    (:data:`RESULT_FILE`, :data:`PLOTS`) replaceable; a folder that does not exist yet must be
    creatable: its nearest existing parent a writable folder. Nothing is created.

    Raises
    ------
    OutputError
        Naming ``option`` and the path.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> check_report_folder(base / "new" / "run") == base / "new" / "run"
    True
    >>> (base / "file").write_text("x")
    1
    >>> check_report_folder(base / "file" / "run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    prefix_sched.errors.OutputError: --out: cannot create the folder ...run: ...file is not a folder
    """
    out = Path(out_dir)
    if str(out_dir) == "":
        raise OutputError(f"{option}: an output folder is needed, got {out_dir!r}")
    if out.is_dir():
        for name in (RESULT_FILE, *PLOTS):
            check_output_path(out / name, option)
        return out
    if out.exists():
        raise OutputError(f"{option}: cannot write the report into {out}: it is a file, not a folder")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{option}: cannot create the folder {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option}: cannot create the folder {out}: {parent} is not writable")
    return out


def write_report(result: dict[str, Any], out_dir: Path | str, command: str, option: str = "--out") -> list[Path]:
    """Write the JSON and the plots into ``out_dir`` (created if missing); return their paths.

    Each file is written atomically (:mod:`~prefix_sched.theory.outputs`), the JSON first, so a
    failed plot never costs the measurements.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{option}: cannot create the folder {out}: {err.strerror or err}") from err
    path = out / RESULT_FILE
    write_text(path, json.dumps({**result, "command": command}, indent=1) + "\n", option)
    return [path, _plot_calibration(result, out / PLOTS[0], option),
            _plot_measured_vs_predicted(result, out / PLOTS[1], option)]


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The headline numbers, one per line, for the terminal."""
    env, fits, rate = result["environment"], result["fits"], result["flop_rate"]
    d2, oh = fits["definition2"], fits["overhead"]
    lines = [
        f"device {env['device_name']} ({env['device']}, {env['dtype']}); model {result['model']['name']} "
        f"({result['model']['parameters'] / 1e6:.1f}M parameters); torch {env['torch']}, "
        f"transformers {env['transformers']}",
        f"Definition 2 fit: beta = {d2['beta_seconds_per_token']:.4g} s/token, alpha = {d2['alpha']:.4g}"
        f"{_fixed(d2)}, R^2 = {d2['r2']:.4f} (FLOP-count alpha {fits['alpha_from_flop_count']:.4g})",
        f"with overhead:    c0 = {oh['overhead_seconds']:.4g} s, beta = {oh['beta_seconds_per_token']:.4g} s/token, "
        f"alpha = {oh['alpha']:.4g}{_fixed(oh)}, R^2 = {oh['r2']:.4f}",
        f"prefill FLOP rate: {rate['overall_flops_per_second']:.4g} FLOP/s overall, best "
        f"{rate['best_flops_per_second']:.4g} ({100 * rate['best_fraction_of_peak']:.1f}% of the measured "
        f"matmul peak {rate['matmul_peak_flops_per_second']:.4g})",
    ]
    for schedule in result["schedules"]:
        s, e = schedule["summary"], schedule["errors"]
        lines.append(
            f"{schedule['policy']:>12}: busy measured {s['measured']['busy']:.4g} s, predicted "
            f"{e['predicted_busy_relative_error']:+.1%}, corrected {e['corrected_busy_relative_error']:+.1%}; "
            f"max TTFT measured {s['measured']['max_ttft']:.4g} s, predicted "
            f"{e['predicted_max_ttft_relative_error']:+.1%}, corrected {e['corrected_max_ttft_relative_error']:+.1%}")
    for key, agreement in result["rankings"].items():
        lines.append(f"ranking by {key}: predicted {agreement['predicted']}, measured {agreement['measured']}, "
                     f"same order: {agreement['same_order']}")
    return lines


def _fixed(fit: dict[str, Any]) -> str:
    """A note when alpha was not fitted (the free fit put no cost on new tokens)."""
    if fit.get("alpha_source", "fit") == "fit":
        return ""
    return " (fixed at the FLOP-count value: the free fit put no cost on new tokens)"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, option: str) -> Path:
    """Save ``fig`` as a PNG at ``path`` atomically and close it."""
    save_figure(fig, path, option, file_format="png", dpi=110)
    return path


def _plot_calibration(result: dict[str, Any], path: Path, option: str) -> Path:
    from prefix_sched.gpu_validation.fit import CostFit

    plt = _pyplot()
    fits = {name: CostFit(f["form"], f["beta_seconds_per_token"], f["alpha"], f["overhead_seconds"], f["r2"], ())
            for name, f in result["fits"].items() if isinstance(f, dict)}
    points = result["calibration"]
    fractions = sorted(result["settings"]["reuse"])

    def nearest(point):  # the requested fraction behind reused = floor(fraction * length)
        return min(fractions, key=lambda f: abs(f - point["reused"] / point["length"]))

    fig, ax = plt.subplots(figsize=(7, 5))
    for colour, fraction in enumerate(fractions):
        group = sorted((p for p in points if nearest(p) == fraction), key=lambda p: p["new_tokens"])
        x = [p["new_tokens"] for p in group]
        ax.scatter(x, [p["median_seconds"] for p in group], color=f"C{colour}", label=f"measured, reuse {fraction:.0%}")
        for fit, style in ((fits["definition2"], "-"), (fits["overhead"], ":")):
            ax.plot(x, [fit.predict(p["length"], p["reused"]) for p in group], style, color=f"C{colour}")
    ax.set(xscale="log", yscale="log", xlabel="new tokens prefilled (|p| - ov)", ylabel="prefill time (s)",
           title=f"{result['model']['name']} on {result['environment']['device_name']}: "
                 f"solid = Definition 2 fit, dotted = with overhead")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path, option)


def _plot_measured_vs_predicted(result: dict[str, Any], path: Path, option: str) -> Path:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5))
    cal = result["calibration"]
    fit = result["fits"]["definition2"]
    beta, alpha = fit["beta_seconds_per_token"], fit["alpha"]
    left.scatter([beta * ((p["length"] - p["reused"]) + alpha * (p["length"] ** 2 - p["reused"] ** 2)) for p in cal],
                 [p["median_seconds"] for p in cal], marker="x", color="k", label="calibration")
    for colour, schedule in enumerate(result["schedules"]):
        queries = schedule["queries"]
        left.scatter([q["predicted_service"] for q in queries], [q["measured_service"] for q in queries],
                     s=12, color=f"C{colour}", label=schedule["policy"])
        predicted = [q["predicted_completion"] - q["arrival_seconds"] for q in queries]
        measured = [q["measured_completion"] - q["arrival_seconds"] for q in queries]
        right.scatter(predicted, measured, s=12, color=f"C{colour}", label=schedule["policy"])
    for ax in (left, right):
        low, high = ax.get_xlim()
        ax.plot([low, high], [low, high], "k--", linewidth=0.8)
        ax.legend(fontsize="small")
    left.set(xscale="log", yscale="log", xlabel="predicted prefill time, Definition 2 fit (s)",
             ylabel="measured prefill time (s)", title="per prefill")
    right.set(xlabel="predicted TTFT (s)", ylabel="measured TTFT (s)", title="per query, replayed schedules")
    fig.tight_layout()
    return _save(fig, path, option)
