"""``prefix-sched compare STREAM``: P99 TTFT of FCFS, LPM and k-LPM across offered loads."""

from __future__ import annotations

import argparse

from rich.table import Table

from prefix_sched.commands.common import add_stream_arguments, fmt, load_stream, stdout
from prefix_sched.commands.simulate_cmd import add_policy_arguments, policy_specs
from prefix_sched.solvers.compare import compare_policies, offered_load, plot_comparison

DEFAULT_LOADS = ("0.8", "1", "1.2", "1.5", "2")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="P99 TTFT of policies across offered loads (rescaled arrivals)",
        description="Rescale a stream's arrivals to several offered loads (sum of prompt tokens / "
                    "arrival span) and serve each with every policy, online.")
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--load", action="append", help=f"offered load, repeatable (default {' '.join(DEFAULT_LOADS)})")
    add_policy_arguments(parser, default_k="1 2 3 4")
    parser.add_argument("--alpha", default="0")
    parser.add_argument("--plot", default=None, help="save P99 against load to this PNG")
    parser.set_defaults(run=run, view="online")


def run(args: argparse.Namespace) -> int:
    stream = load_stream(args)
    rows = compare_policies(stream, policy_specs(args), args.load or list(DEFAULT_LOADS),
                            alpha=args.alpha, seed=args.seed)
    stdout.print(f"stream: {args.stream} ({stream.n} queries, offered load as given "
                 f"{float(offered_load(stream)):.3f}); online; times in token-times")
    table = Table(title="TTFT by offered load")
    for column in ("load", "policy", "p50", "p99", "max", "mean", "reused"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for row in rows:
        table.add_row(fmt(row.load), row.policy, fmt(row.p50), fmt(row.p99), fmt(row.max_ttft),
                      fmt(row.mean), f"{float(row.reused_share):.1%}")
    stdout.print(table)
    if args.plot:
        plot_comparison(rows, args.plot)
        stdout.print(f"wrote {args.plot}")
    return 0
