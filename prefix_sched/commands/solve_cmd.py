"""``prefix-sched solve STREAM``: exact feasibility, least max TTFT or fewest violations, with proof.

Exit status: 0 a schedule meeting the question was found (FEASIBLE/OPTIMAL), 1 proven infeasible,
3 unknown (time-out or state cap: no claim either way), 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

from prefix_sched.commands.common import add_stream_arguments, fmt, load_stream, stderr, stdout
from prefix_sched.errors import InputError
from prefix_sched.solvers.exact import SOLVERS, decide, minimize_max_ttft, minimize_violations
from prefix_sched.theory.streamio import write_schedule

EXIT = {"FEASIBLE": 0, "OPTIMAL": 0, "INFEASIBLE": 1, "UNKNOWN": 3}
SHOWN = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("solve", help="exact TTFT feasibility / optimum with proof status",
                                   description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--ttft", default=None, help="TTFT bound T (needed unless --minimize max-ttft)")
    parser.add_argument("--minimize", choices=("max-ttft", "violations"), default=None,
                        help="instead of deciding feasibility: least max TTFT, or fewest queries over T")
    parser.add_argument("--solver", choices=SOLVERS, default="auto", help="default auto (DP, then CP-SAT)")
    parser.add_argument("--time-limit", default="60", help="seconds (default 60); a time-out is UNKNOWN")
    parser.add_argument("--workers", type=int, default=1, help="CP-SAT search workers (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="CP-SAT random seed (default 0)")
    parser.add_argument("--alpha", default="0", help="attention cost alpha >= 0 (exact)")
    parser.add_argument("--out", default=None, help="write the schedule (JSONL) when one is found")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.minimize != "max-ttft" and args.ttft is None:
        raise InputError("--ttft T is needed to decide feasibility or count violations")
    stream = load_stream(args)
    common = dict(alpha=args.alpha, solver=args.solver, time_limit=args.time_limit,
                  workers=args.workers, seed=args.seed)
    with _phase_display(stderr.is_terminal) as progress:
        if args.minimize == "max-ttft":
            result = minimize_max_ttft(stream, progress=progress, **common)
        elif args.minimize == "violations":
            result = minimize_violations(stream, args.ttft, progress=progress, **common)
        else:
            result = decide(stream, args.ttft, progress=progress, **common)
    question = result.settings["question"]
    stdout.print(f"{question}: {result.status} (engine {result.solver}, {result.wall_time_s:.2f} s, "
                 f"{stream.n} queries)")
    if result.objective is not None:
        stdout.print(f"objective {fmt(result.objective)}; proven lower bound {fmt(result.bound)}"
                     + (" (optimal)" if result.status == "OPTIMAL" else ""))
    if result.status == "INFEASIBLE":
        stdout.print(f"proof: {result.solver} shows that no order keeps every TTFT <= {args.ttft}")
    if result.evaluation is not None:
        ev = result.evaluation
        rows = [f"{stream.queries[i].qid}:{fmt(t)}" for i, t in zip(ev.order, ev.ttft)]
        more = f" ... (+{len(rows) - SHOWN} more)" if len(rows) > SHOWN else ""
        stdout.print(f"schedule (id:TTFT, evaluator-checked; max {fmt(ev.max_ttft)}): " + " ".join(rows[:SHOWN]) + more,
                     soft_wrap=True)
        if args.out:
            write_schedule(stream, ev, args.out, {**result.settings, "status": result.status})
            stdout.print(f"wrote the schedule to {args.out}")
    stdout.print("settings: " + json.dumps(result.settings, sort_keys=True), soft_wrap=True)
    return EXIT[result.status]


@contextlib.contextmanager
def _phase_display(enabled: bool):
    """A spinner on stderr naming the engine at work (terminals only); yields the progress callback."""
    if not enabled:
        yield None
        return
    started = time.perf_counter()
    with stderr.status("solve: starting") as status:
        yield lambda message: status.update(f"solve, {time.perf_counter() - started:.1f} s: {message}")
