"""``prefix-sched approx STREAM --ttft T --eps 0.1``: Appendix A's certify-or-schedule algorithm.

Runs the repaired block decomposition (:mod:`prefix_sched.solvers.approx.appendix_a`): either a
certificate that no schedule meets T for all queries, or a schedule, checked by the evaluator,
whose (1 - eps) percentile TTFT (nearest rank) is at most T, with the dropped queries served last.

Exit status: 0 a schedule (every TTFT <= T, or the percentile met), 1 certified infeasible,
3 unknown (state cap or time limit: no claim), 2 bad input. Theorem 4 is about Definition 2's
one-prompt cache: ``--cache`` other than ``last`` is refused (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from fractions import Fraction

from prefix_sched.commands.common import (
    FLOAT_MAX, add_stream_arguments, check_stream_arguments, fmt, integer, limit_seconds, load_stream, named,
    not_applicable, number, progress_bar, stdout,
)
from prefix_sched.errors import InputError
from prefix_sched.solvers.approx.appendix_a import APPENDIX_A, DEFAULT_MAX_STATES, approx
from prefix_sched.solvers.approx.graph import write_block_dag
from prefix_sched.theory.cache import require_last_prompt
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import write_schedule

SHOWN = 20
DEFAULT_EPS = Fraction(1, 10)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("approx", help="Appendix A: certify infeasibility or meet the (1-eps) percentile",
                                   description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--ttft", required=True, type=integer(minimum=1), help="TTFT bound T (an integer >= 1)")
    parser.add_argument("--eps", type=number(above=0, below=1), default=None,
                        help="share of queries allowed over T, in (0, 1) (exact, default 0.1); with --exact it "
                             "only sets the default block size, so it is refused with --exact --block-size")
    parser.add_argument("--exact", action="store_true",
                        help="keep every deadline: a schedule meeting T for all queries, or a proof that none exists")
    parser.add_argument("--max-length", type=integer(minimum=1), default=None,
                        help="Theorem 4's L >= 1: refuse prompts longer than this")
    parser.add_argument("--block-size", type=integer(minimum=1), default=None,
                        help="queries per block >= 1 (default ceil((2T-1)/eps))")
    parser.add_argument("--max-states", type=integer(minimum=1), default=DEFAULT_MAX_STATES,
                        help=f"DP states per block >= 1 before UNKNOWN (default {DEFAULT_MAX_STATES})")
    parser.add_argument("--time-limit", type=limit_seconds, default=None,
                        help="seconds > 0 (default none); a time-out is UNKNOWN")
    parser.add_argument("--cache", default="last", metavar="last",
                        help="cache model: only last (Definition 2), the model Appendix A and Theorem 4 are about; "
                             "lru:TOKENS and unbounded are refused (exit 2)")
    parser.add_argument("--out", default=None, help="write the schedule (JSONL) when one is found")
    parser.add_argument("--dag", default=None, help="write the block DAG (GraphML; vertices and edges only)")
    parser.set_defaults(run=run)


def _short(value: Fraction | int) -> str:
    """An exact number for a message: as it is, or in scientific notation when long."""
    text = str(value)
    if len(text) <= 30:
        return text
    value = Fraction(value)
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.3g}"


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    cache = named("--cache", require_last_prompt, args.cache, APPENDIX_A).spec
    if args.eps is not None and args.exact and args.block_size is not None:
        raise not_applicable("--eps", "--exact keeps every deadline and --block-size fixes the blocks: eps is unused")
    out = None if args.out is None else check_output_path(args.out, "--out")
    dag = None if args.dag is None else check_output_path(args.dag, "--dag")
    stream = load_stream(args)
    eps = DEFAULT_EPS if args.eps is None else args.eps
    if args.block_size is None and Fraction(2 * args.ttft - 1) / Fraction(eps) > FLOAT_MAX:
        raise InputError(f"--eps: {_short(eps)} with --ttft {_short(args.ttft)} makes the default block size ceil((2T - 1) / eps) "
                         "beyond a float's range; give a larger --eps or --block-size")
    with progress_bar(1, "approx blocks", sys.stderr.isatty()) as done:
        result = approx(stream, args.ttft, eps, exact=args.exact, max_length=args.max_length,
                        block_size=args.block_size, max_states=args.max_states, time_limit=args.time_limit,
                        progress=None if done is None else (lambda count, total: done(count, total)), cache=cache)
    ids = [str(stream.queries[i].qid) for i in result.dropped]
    if out is not None and result.evaluation is not None:
        write_schedule(stream, result.evaluation, out, {**_plain(result.settings), "status": result.status,
                                                        "dropped": ids})
    if dag is not None:
        write_block_dag(result.dag, dag, option="--dag")
    stdout.print(f"approx T = {result.settings['ttft']}, eps = {result.settings['eps']}: {result.status} "
                 f"({stream.n} queries, {len(result.blocks)} blocks, {result.states} DP states, "
                 f"{result.wall_time_s:.2f} s)")
    if result.certificate is not None:
        label = "certificate" if result.status == "INFEASIBLE" else "stopped"
        stdout.print(f"{label}: {result.certificate}", soft_wrap=True)
    if result.evaluation is not None:
        ev = result.evaluation
        stdout.print(f"(1 - eps) percentile TTFT (nearest rank): {fmt(result.percentile)} <= T; max TTFT "
                     f"{fmt(ev.max_ttft)}; queries over T: {ev.violations(result.settings['ttft'])} "
                     f"(allowed {result.violation_budget})")
        if "exact_pass" in result.settings:
            stdout.print(f"no schedule meets T for every query: {result.settings['exact_pass']}", soft_wrap=True)
        more = f" ... (+{len(ids) - SHOWN} more)" if len(ids) > SHOWN else ""
        stdout.print(f"dropped (served last): {len(ids)}" + (": " + " ".join(ids[:SHOWN]) + more if ids else ""),
                     soft_wrap=True)
        if out is not None:
            stdout.print(f"wrote the schedule to {out}")
    if dag is not None:
        stdout.print(f"wrote the block DAG ({result.dag.number_of_nodes()} vertices) to {dag}")
    stdout.print("settings: " + json.dumps(_plain(result.settings), sort_keys=True), soft_wrap=True)
    return result.status.exit_code


def _plain(settings: dict) -> dict:
    return {key: value for key, value in settings.items() if key != "exact_pass"}

