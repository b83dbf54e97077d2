"""``prefix-sched evaluate STREAM SCHEDULE``: recompute a schedule file with the evaluator.

Only the order is read from SCHEDULE; every time is recomputed under Definition 2. With
``--ttft T`` the exit status is 1 when some query's TTFT exceeds T, so a CI job can gate on it.
"""

from __future__ import annotations

import argparse

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, integer, load_stream, number, stdout,
)
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.streamio import read_schedule_order


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="recompute a schedule's TTFTs; exit 1 if one is over T",
                                   description=__doc__.split("\n\n")[0])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule file (JSONL)")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--batch-size", type=integer(minimum=1), default=1, help="batch size B >= 1 (default 1)")
    parser.add_argument("--ttft", type=number(minimum=0), default=None,
                        help="TTFT bound T >= 0: exit 1 if a query exceeds it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    stream = load_stream(args)
    order = read_schedule_order(args.schedule, stream)
    ev = evaluate(stream, order, alpha=args.alpha, batch_size=args.batch_size)
    stdout.print(f"{stream.n} queries; max TTFT {fmt(ev.max_ttft)}; p99 {fmt(ev.percentile(99))}; "
                 f"mean {fmt(ev.mean_ttft)}; tokens reused {ev.total_reused}")
    if args.ttft is None:
        return 0
    over = ev.violations(args.ttft)
    stdout.print(f"queries with TTFT over T = {fmt(args.ttft)}: {over}")
    return 1 if over else 0
