"""``prefix-sched approx STREAM --ttft T --eps 0.1``: Appendix A's certify-or-schedule algorithm.

Runs the repaired block decomposition (:mod:`prefix_sched.solvers.appendix_a`): either a
certificate that no schedule meets T for all queries, or a schedule, checked by the evaluator,
whose (1 - eps) percentile TTFT (nearest rank) is at most T, with the dropped queries served last.

Exit status: 0 a schedule (every TTFT <= T, or the percentile met), 1 certified infeasible,
3 unknown (state cap or time limit: no claim), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

import networkx as nx

from prefix_sched.commands.common import add_stream_arguments, fmt, load_stream, progress_bar, stdout
from prefix_sched.solvers.appendix_a import DEFAULT_MAX_STATES, approx
from prefix_sched.theory.streamio import write_schedule

EXIT = {"FEASIBLE": 0, "PERCENTILE": 0, "INFEASIBLE": 1, "UNKNOWN": 3}
SHOWN = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("approx", help="Appendix A: certify infeasibility or meet the (1-eps) percentile",
                                   description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--ttft", required=True, help="TTFT bound T (a positive integer)")
    parser.add_argument("--eps", default="0.1", help="share of queries allowed over T, in (0, 1) (default 0.1)")
    parser.add_argument("--exact", action="store_true",
                        help="keep every deadline: a schedule meeting T for all queries, or a proof that none exists")
    parser.add_argument("--max-length", default=None, help="Theorem 4's L: refuse prompts longer than this")
    parser.add_argument("--block-size", type=int, default=None, help="queries per block (default ceil((2T-1)/eps))")
    parser.add_argument("--max-states", type=int, default=DEFAULT_MAX_STATES,
                        help=f"DP states per block before UNKNOWN (default {DEFAULT_MAX_STATES})")
    parser.add_argument("--time-limit", default=None, help="seconds; a time-out is UNKNOWN")
    parser.add_argument("--out", default=None, help="write the schedule (JSONL) when one is found")
    parser.add_argument("--dag", default=None, help="write the block DAG (GraphML; vertices and edges only)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stream = load_stream(args)
    with progress_bar(1, "approx blocks", sys.stderr.isatty()) as done:
        result = approx(stream, args.ttft, args.eps, exact=args.exact, max_length=args.max_length,
                        block_size=args.block_size, max_states=args.max_states, time_limit=args.time_limit,
                        progress=None if done is None else (lambda count, total: done(count, total)))
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
        ids = [str(stream.queries[i].qid) for i in result.dropped]
        more = f" ... (+{len(ids) - SHOWN} more)" if len(ids) > SHOWN else ""
        stdout.print(f"dropped (served last): {len(ids)}" + (": " + " ".join(ids[:SHOWN]) + more if ids else ""),
                     soft_wrap=True)
        if args.out:
            write_schedule(stream, ev, args.out, {**_plain(result.settings), "status": result.status,
                                                   "dropped": ids})
            stdout.print(f"wrote the schedule to {args.out}")
    if args.dag:
        nx.write_graphml(_plain_graph(result.dag), args.dag)
        stdout.print(f"wrote the block DAG ({result.dag.number_of_nodes()} vertices) to {args.dag}")
    stdout.print("settings: " + json.dumps(_plain(result.settings), sort_keys=True), soft_wrap=True)
    return EXIT[result.status]


def _plain(settings: dict) -> dict:
    return {key: value for key, value in settings.items() if key != "exact_pass"}


def _plain_graph(dag: nx.DiGraph) -> nx.DiGraph:
    """The DAG with string vertex names and only the edge attributes GraphML can hold."""
    names = {v: v if isinstance(v, str) else f"b{v[0]}:last={v[1]}:zone={sorted(v[2])}:clock={v[3]}" for v in dag}
    plain = nx.DiGraph()
    plain.add_nodes_from(names.values())
    for u, v, data in dag.edges(data=True):
        plain.add_edge(names[u], names[v], dropped=data["dropped"], block=data["block"])
    return plain
