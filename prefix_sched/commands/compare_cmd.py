"""``prefix-sched compare STREAM``: P99 TTFT and fairness of policies across offered loads and cache models."""

from __future__ import annotations

import argparse

from rich.table import Table

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, load_stream, number, refuse_repeats, stdout,
)
from prefix_sched.commands.simulate_cmd import DEFAULT_SEED, add_policy_arguments, cache_spec, policy_specs
from prefix_sched.studies.load_comparison import compare_policies, plot_comparison
from prefix_sched.theory.limits import check_computable
from prefix_sched.theory.load import offered_load
from prefix_sched.theory.outputs import plot_format
from prefix_sched.theory.cache import CACHE_SPECS, DEFAULT_CACHE
from prefix_sched.theory.outputs import check_output_path

DEFAULT_LOADS = ("0.8", "1", "1.2", "1.5", "2")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="P99 TTFT of policies across offered loads (rescaled arrivals)",
        description="Rescale a stream's arrivals to several offered loads (sum of prompt tokens / "
                    "arrival span) and serve each with every policy, online.")
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--load", action="append", type=number(above=0),
                        help=f"offered load > 0 (exact), repeatable (default {' '.join(DEFAULT_LOADS)})")
    add_policy_arguments(parser, default_k="1 2 3 4")
    parser.add_argument("--cache", action="append", type=cache_spec, metavar="MODEL",
                        help=f"cache model ({', '.join(CACHE_SPECS)}), repeatable (default {DEFAULT_CACHE})")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--plot", default=None,
                        help="save P99 against load to this file (the extension picks the format: .png, .pdf, .svg)")
    parser.set_defaults(run=run, view="online")


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    specs = policy_specs(args)
    loads = args.load or list(DEFAULT_LOADS)
    refuse_repeats("--load", loads)
    caches = args.cache or [DEFAULT_CACHE]
    refuse_repeats("--cache", caches)
    plot = None
    if args.plot is not None:
        plot = check_output_path(args.plot, "--plot")
        plot_format(plot, "--plot")
    stream = load_stream(args)
    for load in loads:
        check_computable(stream, load=load, alpha=args.alpha, names=(args.stream, "--load", "--alpha"))
    seed = DEFAULT_SEED if args.seed is None else args.seed  # used by --tie-break random only
    rows = compare_policies(stream, specs, loads, alpha=args.alpha, seed=seed, caches=caches)
    if plot is not None:
        plot_comparison(rows, plot, "--plot")
    stdout.print(f"stream: {args.stream} ({stream.n} queries, offered load as given "
                 f"{float(offered_load(stream)):.3f}); online; times in token-times")
    table = Table(title="TTFT by offered load")
    for column in ("cache", "load", "policy", "p50", "p99", "max", "mean", "reused", "max waited", "Jain"):
        table.add_column(column, justify="left" if column in ("policy", "cache") else "right")
    for row in rows:
        table.add_row(row.cache, fmt(row.load), row.policy, fmt(row.p50), fmt(row.p99), fmt(row.max),
                      fmt(row.mean), f"{float(row.reused_share):.1%}", str(row.max_waited),
                      f"{row.jain_slowdown:.3f}")
    stdout.print(table)
    if plot is not None:
        stdout.print(f"wrote {plot}")
    return 0
