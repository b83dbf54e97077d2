"""``prefix-sched sweep SPEC.toml --out DIR`` and ``prefix-sched sweep --summary RESULTS``.

Running a sweep: the folder is checked, the spec read and checked (every stream built or read
once), then the cells that ``DIR`` does not have yet run on local processes (``--workers N``,
default the number of cores this process may use) or on a Ray cluster (``--ray auto|ADDRESS``),
with a progress bar on stderr when it is a terminal. Exit status: 0 every cell of the spec is ok,
1 a cell failed (its row holds the error; the first few are printed), 2 bad input, 130
interrupted (every finished cell is kept: run the same command again to resume).

``--summary RESULTS`` (a results folder, or its results.csv or results.parquet) prints one line
per stream, load, policy and cache model over seeds and draws P99 against load
(``RESULTS/p99_vs_load.png`` unless ``--plot FILE``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from prefix_sched.commands.common import EXIT_INTERRUPTED, integer, named, not_applicable, stderr, stdout
from prefix_sched.errors import InputError
from prefix_sched.theory.outputs import plot_format
from prefix_sched.studies.sweep.executors import LocalExecutor, RayExecutor, require_ray
from prefix_sched.studies.sweep.results import (
    EXTRA_HINT, RESULTS_CSV, RESULTS_PARQUET, ResultsFolder, read_results, results_kind,
)
from prefix_sched.studies.sweep.runner import run_sweep
from prefix_sched.studies.sweep.spec import read_spec
from prefix_sched.studies.sweep.summary import plot_p99, plot_serving, summarize, summarize_serving
from prefix_sched.theory.outputs import check_output_path

DEFAULT_PLOT = "p99_vs_load.png"
FAILURES_SHOWN = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a study over streams, loads, policies, caches and seeds (resumable)",
        description="Run every cell (stream, load, policy, cache, seed) of a TOML sweep spec on local "
                    "processes or a Ray cluster; DIR gets results.csv and results.parquet, and a rerun "
                    "skips the cells DIR has. Or summarize a finished sweep with --summary.")
    parser.add_argument("spec", nargs="?", metavar="SPEC.toml", help="the sweep spec (docs/sweep.md)")
    parser.add_argument("--out", metavar="DIR", help="results folder (made if missing; a rerun resumes)")
    parser.add_argument("--workers", type=integer(minimum=1), default=None, metavar="N",
                        help="local worker processes (default: the cores this process may use); with --ray, "
                             "the most cells in flight (default twice the cluster's CPUs)")
    parser.add_argument("--ray", metavar="auto|ADDRESS", default=None,
                        help=f"run the cells as Ray tasks on a running cluster (needs {EXTRA_HINT})")
    parser.add_argument("--retry-failed", action="store_true", help="run the cells recorded as failed again")
    parser.add_argument("--summary", metavar="RESULTS", default=None,
                        help="summarize a results folder (or its results.csv / results.parquet) instead")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help=f"with --summary: where to draw P99 against load (default RESULTS/{DEFAULT_PLOT})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.summary is not None:
        return _summary(args)
    if args.spec is None:
        raise InputError("SPEC.toml: give a sweep spec to run, or --summary RESULTS")
    if args.out is None:
        raise not_applicable("--out", "is needed: the folder for the results")
    if args.plot is not None:
        raise not_applicable("--plot", "only applies with --summary")
    folder = ResultsFolder(args.out, "--out")
    folder.check()
    if args.ray is not None:
        named("--ray", require_ray)
        executor = RayExecutor(args.ray, args.workers, "--ray")
    else:
        executor = named("--workers", LocalExecutor, args.workers or _cores())
    spec = read_spec(args.spec)
    with _Progress(sys.stderr.isatty()) as progress:
        outcome = run_sweep(spec, folder, executor, retry_failed=args.retry_failed,
                            on_start=progress.start, on_result=progress.advance)
    for line in outcome.repaired:
        stderr.print(f"note: {line}")
    written = [RESULTS_CSV] + ([RESULTS_PARQUET] if folder.parquet else [])
    stdout.print(f"sweep {args.spec}: {outcome.cells} cells ({outcome.skipped} done before, {outcome.ran} run now, "
                 f"{len(outcome.failed)} failed) on {executor.describe()}", markup=False)
    stdout.print(f"results: {', '.join(str(folder.path(name)) for name in written)}", markup=False)
    if not folder.parquet:
        stdout.print(f"note: {RESULTS_PARQUET} not written: pyarrow is not installed ({EXTRA_HINT})")
    if outcome.other:
        stdout.print(f"note: {folder.folder} also holds {outcome.other} rows of cells not in this spec")
    if outcome.interrupted:
        left = outcome.cells - outcome.skipped - outcome.ran
        stderr.print(f"interrupted: {left} cells left; run the same command again to resume")
        return EXIT_INTERRUPTED
    if outcome.failed:
        failed = [folder.rows[key] for key in outcome.failed]
        for row in failed[:FAILURES_SHOWN]:
            stderr.print(f"cell {row['cell']} ({_describe(row)}) failed: {row['error']}", markup=False)
        if len(failed) > FAILURES_SHOWN:
            stderr.print(f"... and {len(failed) - FAILURES_SHOWN} more failed cells (status = failed in {RESULTS_CSV})")
        return 1
    return 0


def _describe(row: dict) -> str:
    """Where a row's cell sits in the grid, for a message."""
    if "scheduler" in row:
        trace = f"{row['trace']}[{row['variant']}]" if row["variant"] else row["trace"]
        return (f"{trace}, rate {row['rate']}, {row['scheduler']} order {row['order']}, {row['engines']} engine(s), "
                f"prefix cache {row['prefix_cache']}, seed {row['seed']}")
    stream = f"{row['stream']}[{row['variant']}]" if row["variant"] else row["stream"]
    return f"{stream}, load {row['load']}, {row['policy']}, {row['cache']}, seed {row['seed']}"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Progress:
    """A rich progress bar on stderr (cells done, failed, time left), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("left"),
                            TimeRemainingColumn(), console=stderr, transient=True) if enabled else None
        self.failed = 0
        self.task = None

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, todo: int, skipped: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task("sweep", total=todo, failed=0)

    def advance(self, result) -> None:
        self.failed += result.record["status"] == "failed"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, failed=self.failed)


def _summary(args: argparse.Namespace) -> int:
    for option, value in (("SPEC.toml", args.spec), ("--out", args.out), ("--workers", args.workers),
                          ("--ray", args.ray)):
        if value is not None:
            raise not_applicable(option, "does not apply with --summary")
    if args.retry_failed:
        raise not_applicable("--retry-failed", "does not apply with --summary")
    results = Path(args.summary)
    where = results if results.is_dir() else results.parent
    plot = check_output_path(args.plot or where / DEFAULT_PLOT, "--plot")
    plot_format(plot, "--plot")
    rows = read_results(results)
    if results_kind(rows) == "serving":
        return _serving_summary(results, rows, plot)
    groups = summarize(rows)
    table = Table(title=(f"{results}: {len(rows)} cells, medians over seeds (times in token-times)"))
    for column in ("stream", "load", "policy", "cache", "ok", "failed", "p50", "p99", "p99 min-max", "mean",
                   "reused"):
        table.add_column(column, justify="left" if column in ("stream", "policy", "cache") else "right")
    for g in groups:
        stream = f"{g.stream}[{g.variant}]" if g.variant else g.stream
        load = g.load if g.x is None or g.load != "as-given" else f"as-given ({g.x:.3g})"
        table.add_row(stream, load, g.policy, g.cache, str(g.ok), str(g.failed), _show(g.p50), _show(g.p99),
            "-" if g.p99_low is None else f"{g.p99_low:.6g}-{g.p99_high:.6g}", _show(g.mean),
            "-" if g.reused_share is None else f"{g.reused_share:.1%}")
    stdout.print(table)
    plot_p99(groups, plot, "--plot")
    stdout.print(f"wrote {plot}", markup=False)
    return 0


def _serving_summary(results: Path, rows: list, plot: Path) -> int:
    groups = summarize_serving(rows)
    table = Table(title=(f"{results}: {len(rows)} serving cells, medians over seeds (times in ms)"))
    for column in ("trace", "rate", "classes", "server", "ok", "failed", "TTFT p50", "TTFT p99", "TBT p99",
                   "tok/s", "goodput", "reused", "met obj"):
        table.add_column(column, justify="left" if column in ("trace", "classes", "server") else "right")
    for g in groups:
        trace = f"{g.trace}[{g.variant}]" if g.variant else g.trace
        rate = g.rate if g.x is None or g.rate != "as-given" else f"as-given ({g.x:.3g})"
        table.add_row(trace, rate, (g.classes or "-"), g.server, str(g.ok), str(g.failed),
                      _ms(g.ttft_p50), _ms(g.ttft_p99), _ms(g.tbt_p99), _show(g.throughput), _show(g.goodput),
                      "-" if g.reused_share is None else f"{g.reused_share:.1%}",
                      "-" if g.met is None else f"{g.met}/{g.ok}")
    stdout.print(table)
    plot_serving(groups, plot, "--plot")
    stdout.print(f"wrote {plot}", markup=False)
    return 0


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1000:.6g}"
