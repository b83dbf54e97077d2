"""``prefix-sched simulate``: serve a stream with FCFS, LPM or k-LPM and report TTFTs.

With no STREAM it serves the built-in Definition 4 example (:data:`DEFAULT_EXAMPLE`) with FCFS,
LPM and k-LPM, which is the toolkit's quick demonstration of why k-LPM exists.
"""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from prefix_sched.commands.common import add_stream_arguments, fmt, load_stream, progress_bar, stdout
from prefix_sched.errors import InputError
from prefix_sched.solvers.policies import CYCLE_STARTS, TIE_BREAKS, PolicyName, parse_policy
from prefix_sched.solvers.simulate import VIEWS, PolicyRun, simulate
from prefix_sched.theory.exact import exact_number
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.streamio import write_schedule

DEFAULT_EXAMPLE = {"n": 400, "r": 4, "u": 1000, "d": 100, "delta": 300, "seed": 0}
DEFAULT_POLICIES = ("fcfs", "lpm", "k-lpm")
PROGRESS_FROM = 50_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="serve a stream with a policy and report TTFTs",
        description="Serve a stream with FCFS, LPM or k-LPM (Definition 2 cost model) and report TTFTs. "
                    "Times are in token-times: the time to prefill one token with alpha = 0.")
    add_stream_arguments(parser, optional=True)
    add_policy_arguments(parser, default_k="3")
    parser.add_argument("--view", choices=VIEWS, default="online", help="online server (default) or fixed order")
    parser.add_argument("--alpha", default="0", help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--batch-size", type=int, default=1, help="Section 2.1 batch size B (default 1)")
    parser.add_argument("--ttft", default=None, help="TTFT bound T: count queries over it")
    parser.add_argument("--out", default=None, help="write per-query results (JSONL); needs one policy run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.stream is None:
        if args.format != "stream":
            raise InputError("--format mooncake needs a STREAM file")
        stream = regular_arrival_shuffled_queue(**DEFAULT_EXAMPLE)
        source = "built-in Definition 4 example " + " ".join(f"{k}={v}" for k, v in DEFAULT_EXAMPLE.items())
    else:
        stream = load_stream(args)
        source = args.stream
    bound = exact_number(args.ttft, "TTFT bound T", minimum=0) if args.ttft is not None else None
    specs = policy_specs(args)
    if args.out is not None and len(specs) != 1:
        raise InputError(f"--out writes one run, but {len(specs)} policy runs were asked for; pick one policy")
    runs = []
    for spec in specs:
        with progress_bar(stream.n, spec.label, stream.n >= PROGRESS_FROM and sys.stderr.isatty()) as done:
            runs.append(simulate(stream, spec, alpha=args.alpha, batch_size=args.batch_size,
                                 view=args.view, seed=args.seed, progress=done))
    stdout.print(f"stream: {source} ({stream.n} queries); view: {args.view}; alpha = {args.alpha}; "
                 f"B = {args.batch_size}; times in token-times")
    stdout.print(_table(runs, bound))
    if args.out is not None:
        write_schedule(stream, runs[0].evaluation, args.out, runs[0].settings())
        stdout.print(f"wrote {stream.n} per-query results to {args.out}")
    return 0


def add_policy_arguments(parser: argparse.ArgumentParser, default_k: str) -> None:
    """``--policy``, ``--k``, ``--tie-break``, ``--cycle-start`` and ``--seed``, read by :func:`policy_specs`."""
    parser.add_argument("--policy", action="append", metavar="NAME",
                        help=f"{', '.join(p.value for p in PolicyName)}; repeat to compare (default: all three)")
    parser.add_argument("--k", action="append", metavar="K",
                        help=f"k-LPM's LPM steps per cycle, an integer >= 0 or 'inf'; repeat for several (default {default_k})")
    parser.add_argument("--tie-break", choices=TIE_BREAKS, default="oldest", help="LPM ties (default oldest)")
    parser.add_argument("--cycle-start", choices=CYCLE_STARTS, default="lpm",
                        help="whether a k-LPM cycle opens with its LPM steps (default) or its FCFS step")
    parser.add_argument("--seed", type=int, default=0, help="seed for random tie-breaking (default 0)")
    parser.set_defaults(default_k=default_k.split())


def policy_specs(args: argparse.Namespace) -> list:
    """The policy runs asked for by ``--policy``/``--k``/``--tie-break``/``--cycle-start``."""
    names = args.policy or list(DEFAULT_POLICIES)
    ks = args.k or args.default_k
    if args.k and PolicyName.KLPM.value not in names:
        raise InputError("--k only applies to --policy k-lpm")
    specs = []
    for name in names:
        for k in ks if name == PolicyName.KLPM.value else [None]:
            specs.append(parse_policy(name, k=k, tie_break=args.tie_break, cycle_start=args.cycle_start))
    return specs


def _table(runs: list[PolicyRun], bound) -> Table:
    table = Table(title="TTFT (token-times)")
    columns = ["policy", "count", "mean", "p50", "p90", "p99", "max"]
    if bound is not None:
        columns.append(f"over T={fmt(bound)}")
    columns.append("tokens reused")
    for column in columns:
        table.add_column(column, justify="left" if column == "policy" else "right")
    for run in runs:
        ev = run.evaluation
        row = [run.policy.label, str(len(ev.ttft)), fmt(ev.mean_ttft)]
        row += [fmt(ev.percentile(q)) for q in (50, 90, 99)] + [fmt(ev.max_ttft)]
        if bound is not None:
            row.append(str(ev.violations(bound)))
        row.append(str(ev.total_reused))
        table.add_row(*row)
    return table
