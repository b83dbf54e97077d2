"""``prefix-sched solve STREAM``: exact feasibility, least max TTFT or fewest violations, with proof.

Exit status: 0 a schedule meeting the question was found (FEASIBLE/OPTIMAL), 1 proven infeasible,
3 unknown (time-out or state cap: no claim either way), 2 bad input. The solvers are theorems
about Definition 2's one-prompt cache: ``--cache`` other than ``last`` is refused (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time

from prefix_sched.commands.common import (
    INT32_MAX, add_stream_arguments, check_stream_arguments, fmt, integer, limit_seconds, load_stream, named,
    not_applicable, number, stderr, stdout,
)
from prefix_sched.errors import InputError
from prefix_sched.solvers.exact import EXACT_SOLVERS, decide, minimize_max_ttft, minimize_violations
from prefix_sched.solvers.status import MINIMIZE, SOLVERS, Solver
from prefix_sched.theory.cache import require_last_prompt
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import write_schedule

SHOWN = 20
DEFAULT_TIME_LIMIT = 60
DEFAULT_WORKERS = 1
DEFAULT_SEED = 0
CPSAT_SOLVERS = (Solver.AUTO, Solver.CPSAT)  # the solvers that run CP-SAT, the only user of --workers and --seed
SOLVER_PARAMETER = re.compile(rf"\bsolver (?=(?:{'|'.join(SOLVERS)})\b)")
"""Where a library message names the ``solver`` parameter with a value (``use the DP (solver dp)``)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("solve", help="exact TTFT feasibility / optimum with proof status",
                                   description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    add_stream_arguments(parser, optional=False)
    parser.add_argument("--ttft", type=number(minimum=0), default=None,
                        help="TTFT bound T >= 0 (exact; needed unless --minimize max-ttft, refused with it)")
    parser.add_argument("--minimize", choices=MINIMIZE, default=None,
                        help="instead of deciding feasibility: least max TTFT, or fewest queries over T")
    parser.add_argument("--solver", choices=SOLVERS, default="auto", help="default auto (DP, then CP-SAT)")
    parser.add_argument("--time-limit", type=limit_seconds, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds > 0 (default {DEFAULT_TIME_LIMIT}); a time-out is UNKNOWN")
    parser.add_argument("--workers", type=integer(minimum=1, maximum=INT32_MAX), default=None,
                        help=f"CP-SAT search workers >= 1 (default {DEFAULT_WORKERS}); with --solver auto or cpsat")
    parser.add_argument("--seed", type=integer(minimum=0, maximum=INT32_MAX), default=None,
                        help=f"CP-SAT random seed >= 0 (default {DEFAULT_SEED}); with --solver auto or cpsat")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--cache", default="last", metavar="last",
                        help="cache model: only last (Definition 2), the model the exact solvers are about; "
                             "lru:TOKENS and unbounded are refused (exit 2)")
    parser.add_argument("--out", default=None, help="write the schedule (JSONL) when one is found")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    cache = named("--cache", require_last_prompt, args.cache, EXACT_SOLVERS).spec
    if args.minimize != "max-ttft" and args.ttft is None:
        raise InputError("--ttft: T is needed to decide feasibility or count violations")
    if args.minimize == "max-ttft" and args.ttft is not None:
        raise not_applicable("--ttft", "--minimize max-ttft finds the least max TTFT; it takes no T")
    for option, value in (("--workers", args.workers), ("--seed", args.seed)):
        if value is not None and args.solver not in CPSAT_SOLVERS:
            raise not_applicable(option, f"only applies to CP-SAT (--solver {' or '.join(CPSAT_SOLVERS)}), "
                                         f"not to --solver {args.solver}")
    out = None if args.out is None else check_output_path(args.out, "--out")
    stream = load_stream(args)
    common = dict(alpha=args.alpha, solver=args.solver, time_limit=args.time_limit,
                  workers=DEFAULT_WORKERS if args.workers is None else args.workers,
                  seed=DEFAULT_SEED if args.seed is None else args.seed, cache=cache)
    with _phase_display(stderr.is_terminal) as progress:
        try:
            if args.minimize == "max-ttft":
                result = minimize_max_ttft(stream, progress=progress, **common)
            elif args.minimize == "violations":
                result = minimize_violations(stream, args.ttft, progress=progress, **common)
            else:
                result = decide(stream, args.ttft, progress=progress, **common)
        except InputError as err:
            if _as_options(str(err)) == str(err):
                raise
            raise InputError(_as_options(str(err))) from err
    skipped = {engine: _as_options(why) for engine, why in result.settings["skipped"].items()}
    settings = {**result.settings, "skipped": skipped}
    if out is not None and result.evaluation is not None:
        write_schedule(stream, result.evaluation, out, {**settings, "status": result.status})
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
        if out is not None:
            stdout.print(f"wrote the schedule to {out}")
    stdout.print("settings: " + json.dumps(settings, sort_keys=True), soft_wrap=True)
    return result.status.exit_code


def _as_options(text: str) -> str:
    """A library message with its parameters named as this command's options: the library says
    ``solver dp`` (the parameter and its value), the command line ``--solver dp``.

    >>> _as_options("use the DP (solver dp)"), _as_options("unknown solver 'x'")
    ('use the DP (--solver dp)', "unknown solver 'x'")
    """
    return SOLVER_PARAMETER.sub("--solver ", text)


@contextlib.contextmanager
def _phase_display(enabled: bool):
    """A spinner on stderr naming the engine at work (terminals only); yields the progress callback."""
    if not enabled:
        yield None
        return
    started = time.perf_counter()
    with stderr.status("solve: starting") as status:
        yield lambda message: status.update(f"solve, {time.perf_counter() - started:.1f} s: {message}")
