"""``prefix-sched gap STREAM``: how far is each policy from the best possible max TTFT?

The answer is a bracket ``[bound, best]`` on the least possible max TTFT ``T*``: ``bound`` is
certified (:mod:`~prefix_sched.solvers.bounds.lower`: the window of arrivals that proves it is
printed), ``best`` is the best schedule found (:mod:`~prefix_sched.solvers.bounds.upper`: the
policies, grouped EDF and the window local search, every schedule re-checked by the evaluator).
Each policy's gap is ``(its max TTFT - bound) / bound``: an upper bound on how far it is from
optimal. ``--json FILE`` writes the report (``prefix-sched.gap`` version 1, its format defined by
:func:`~prefix_sched.studies.gap.report_json`) with top-level ``lower_bound`` and ``upper_bound``
and, per policy, ``max_ttft`` and ``gap``; numbers are exact, an integer or a ratio string ``"p/q"``.
Exit status 0 when it ran, 2 on bad input.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, integer, limit_seconds, load_stream, number, stdout,
)
from prefix_sched.commands.simulate_cmd import DEFAULT_SEED, add_policy_arguments, cache_spec, policy_specs
from prefix_sched.errors import InputError
from prefix_sched.theory.limits import check_computable
from prefix_sched.theory.load import offered_load, rescale_to_load
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.studies.gap import GapReport, gap_report, write_report
from prefix_sched.solvers.bounds.upper import DEFAULT_WINDOW, MAX_WINDOW
from prefix_sched.theory.cache import CACHE_SPECS, DEFAULT_CACHE
from prefix_sched.theory.outputs import check_output_path

DEFAULT_TIME_LIMIT = 60
DEFAULT_KS = "1 2 3 4 8"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gap", help="certified lower bound on the best max TTFT, the best schedule found, each policy's gap",
        description="Bracket the least possible max TTFT of a stream: a certified lower bound (with the "
                    "window of arrivals that proves it) and the best schedule found (policies, grouped "
                    "EDF, window local search); report every policy's gap to the bound.")
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--load", type=number(above=0), default=None,
                        help="rescale the arrivals to this offered load first (sum of prompt tokens / arrival "
                             "span, as compare does)")
    add_policy_arguments(parser, default_k=DEFAULT_KS)
    parser.add_argument("--cache", type=cache_spec, default=DEFAULT_CACHE, metavar="|".join(CACHE_SPECS),
                        help=f"cache model (default {DEFAULT_CACHE}, Definition 2); the bound and every "
                             "schedule are for this model (the local search runs under last only)")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--window", type=integer(minimum=2, maximum=MAX_WINDOW), default=DEFAULT_WINDOW,
                        help=f"local search window, 2..{MAX_WINDOW} positions (default {DEFAULT_WINDOW})")
    parser.add_argument("--time-limit", type=limit_seconds, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds for the search beyond the policies and the window bound (default "
                             f"{DEFAULT_TIME_LIMIT})")
    parser.add_argument("--json", metavar="FILE", default=None, help="write the report as JSON here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    specs = policy_specs(args)
    report_path = None if args.json is None else check_output_path(args.json, "--json")
    stop = Deadline.of(args.time_limit)
    stream = load_stream(args)
    check_computable(stream, load=args.load, alpha=args.alpha, names=(args.stream, "--load", "--alpha"))
    if args.load is not None:
        stream = rescale_to_load(stream, args.load)
    seed = DEFAULT_SEED if args.seed is None else args.seed  # used by --tie-break random only
    report = gap_report(stream, specs, alpha=args.alpha, cache=args.cache, window=args.window,
                        time_limit=stop, seed=seed)
    _print(args, stream, report)
    if report_path is not None:
        write_report(report_path, stream, report, load=args.load, alpha=args.alpha, time_limit_s=args.time_limit,
                     window=args.window, option="--json")
        stdout.print(f"wrote {report_path}")
    return 0


def _print(args: argparse.Namespace, stream, report: GapReport) -> None:
    load = f"rescaled to load {fmt(args.load)}" if args.load is not None else "load as given"
    try:
        load += f" ({float(offered_load(stream)):.3f})"
    except InputError:
        pass
    stdout.print(f"stream: {args.stream} ({stream.n} queries, {load}); cache {report.cache}; "
                 f"alpha = {args.alpha}; times in token-times")
    lower, upper = report.lower, report.upper
    table = Table(title="max TTFT against the certified lower bound")
    for column in ("schedule", "max TTFT", "gap to bound"):
        table.add_column(column, justify="left" if column == "schedule" else "right")
    for label, value, gap in report.rows():
        table.add_row(label, fmt(value), f"{float(gap):.1%}")
    stdout.print(table)
    window = lower.window
    stdout.print(f"lower bound {fmt(lower.value)} ({lower.source}); window [{fmt(window.first_arrival)}, "
                 f"{fmt(window.last_arrival)}]: {len(window.queries)} queries, trie work {fmt(window.work)}, "
                 f"credit {fmt(window.credit)}, bound {fmt(window.value)}")
    if lower.runs is not None:
        runs = lower.runs
        stdout.print(f"runs bound {fmt(runs.value)} on [{fmt(runs.first_arrival)}, {fmt(runs.last_arrival)}] "
                     f"({len(runs.queries)} queries, depth {runs.depth}): at {fmt(runs.below)} the demand "
                     f"{fmt(runs.demand_below)} exceeds the room {fmt(runs.room_below)}")
    stdout.print(f"per-query bound {fmt(lower.per_query)}")
    stdout.print(f"best schedule {fmt(upper.value)} ({upper.label})")
    stdout.print(f"bracket [{fmt(lower.value)}, {fmt(upper.value)}]: the best schedule is within "
                 f"{float(report.bracket_gap):.1%} of optimal")

