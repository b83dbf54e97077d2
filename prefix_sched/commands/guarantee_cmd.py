"""``prefix-sched guarantee STREAM SCHEDULE``: hold a schedule to the proven k-LPM bound.

For a Definition 4 stream (parameters read off its prompts and arrivals), the schedule's max TTFT
is recomputed by the evaluator and compared with Theorem 2's corrected k-LPM bound (THEORY.md).
Exit status 1 when the bound is broken, so a CI job fails on a schedule that breaks the guarantee.
The bound is a theorem about Definition 2's one-prompt cache: a schedule file whose header records
another cache model (``lru:TOKENS``, ``unbounded``) is refused (exit 2).
"""

from __future__ import annotations

import argparse

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, load_stream, not_applicable, number, stdout,
)
from prefix_sched.theory.theorem2.guarantee import PROVEN_VIEWS, check_order
from prefix_sched.errors import InputError
from prefix_sched.theory.formats import read_schedule


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("guarantee", help="exit 1 if a schedule breaks the proven k-LPM bound",
                                   description=__doc__.split("\n\n")[1])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule file (JSONL)")
    parser.add_argument("--view", choices=PROVEN_VIEWS, default="fixed",
                        help="fixed: served from time 0 (default); batch: processing starts at --start")
    parser.add_argument("--start", type=number(minimum=0), default=None,
                        help="with --view batch: processing start s >= 0 (exact; default (n - 1) Delta)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    if args.start is not None and args.view != "batch":
        raise not_applicable("--start", "only applies with --view batch")
    stream = load_stream(args)
    schedule = read_schedule(args.schedule, stream)
    try:
        check = check_order(stream, schedule.order, args.view, args.start, cache=schedule.cache)
    except InputError as err:
        if schedule.cache == "last":
            raise
        raise InputError(f"{args.schedule}: the schedule was made under cache {schedule.cache!r} (its header); "
                         f"{err}") from None
    verdict = "holds" if check.holds else "BROKEN"
    stdout.print(f"max TTFT {fmt(check.max_ttft)} (query {check.worst_query!r}) vs proven k-LPM bound "
                 f"{fmt(check.bound)} ({check.view} view): {verdict}")
    return 0 if check.holds else 1
