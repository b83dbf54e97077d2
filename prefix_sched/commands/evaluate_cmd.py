"""``prefix-sched evaluate STREAM SCHEDULE``: recompute a schedule file with the evaluator.

Only the order is read from SCHEDULE; every time is recomputed with Definition 2's cost under a
cache model: the one the file's header records (``last`` when it records none), or ``--cache``.
With ``--ttft T`` the exit status is 1 when some query's TTFT exceeds T, so a CI job can gate on
it; ``--out`` writes the recomputed schedule (``reused_tokens`` per position under that model).
"""

from __future__ import annotations

import argparse

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, integer, load_stream, named, number, stdout,
)
from prefix_sched.theory.cache import CACHE_SPECS, parse_cache
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import read_schedule, write_schedule


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="recompute a schedule's TTFTs; exit 1 if one is over T",
                                   description=__doc__.split("\n\n")[0])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("schedule", metavar="SCHEDULE", help="schedule file (JSONL)")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--batch-size", type=integer(minimum=1), default=1, help="batch size B >= 1 (default 1)")
    parser.add_argument("--cache", default=None, metavar="|".join(CACHE_SPECS),
                        help="cache model (default: the one the schedule file records, else last)")
    parser.add_argument("--ttft", type=number(minimum=0), default=None,
                        help="TTFT bound T >= 0: exit 1 if a query exceeds it")
    parser.add_argument("--out", default=None, help="write the recomputed schedule (JSONL)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    asked = None if args.cache is None else named("--cache", parse_cache, args.cache)
    out = None if args.out is None else check_output_path(args.out, "--out")
    stream = load_stream(args)
    schedule = read_schedule(args.schedule, stream)
    cache = schedule.cache if asked is None else asked.spec
    ev = evaluate(stream, schedule.order, alpha=args.alpha, batch_size=args.batch_size, cache=cache)
    source = "from --cache" if asked is not None else (
        "recorded in the schedule file" if schedule.cache_recorded else "the default; the file records none")
    stdout.print(f"cache {ev.cache} ({source})")
    stdout.print(f"{stream.n} queries; max TTFT {fmt(ev.max_ttft)}; p99 {fmt(ev.percentile(99))}; "
                 f"mean {fmt(ev.mean_ttft)}; tokens reused {ev.total_reused}")
    if out is not None:
        write_schedule(stream, ev, out, {"command": "evaluate", "cache_source": source})
        stdout.print(f"wrote the recomputed schedule to {out}")
    if args.ttft is None:
        return 0
    over = ev.violations(args.ttft)
    stdout.print(f"queries with TTFT over T = {fmt(args.ttft)}: {over}")
    return 1 if over else 0
