"""``prefix-sched capacity``: the largest arrival rate at which a scheduler meets an objective, by
bisection on the rate (:mod:`prefix_sched.studies.serving.capacity`), printing every probe's figures
and the bracket.

Objectives (:mod:`prefix_sched.theory.serving.objectives`): ``seed`` (median TTFT <= 0.5 s and each
class's P99 TBT within its objective), ``sarathi`` (P99 TBT within the objective and median
scheduling delay <= 2 s), or an expression such as ``ttft_p99<=2s,tbt_p99[strict]<=100ms``.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

from rich.table import Table

from prefix_sched.commands.common import fmt, integer, number, stdout
from prefix_sched.commands.serve_cmd import add_engine_arguments, engine_options, load, run_engine
from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.studies.serving.capacity import Probe, find_capacity
from prefix_sched.theory.serving.measures import summarize
from prefix_sched.theory.serving.objectives import NAMED, parse_objective

DEFAULT_START = 1
DEFAULT_TOLERANCE = Fraction(1, 50)
DEFAULT_PROBES = 16


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capacity", help="the largest arrival rate meeting an objective (bisection on the rate)",
        description="Bisect on the arrival rate for the largest one at which the scheduler meets the objective; "
                    "each probe regenerates the arrivals (ShareGPT lengths, same seed) or rescales the trace's "
                    "timestamps to the rate. Prints each probe's figures and the bracket.")
    add_engine_arguments(parser)
    parser.add_argument("--objective", type=objective_text, default="seed", metavar="seed|sarathi|EXPR",
                        help=f"{', '.join(f'{k} ({v})' for k, v in NAMED.items())}, or METRIC<=BOUND,... "
                             "(default seed)")
    parser.add_argument("--rate", type=number(above=0), default=DEFAULT_START,
                        help=f"the first rate probed (requests/s, > 0; default {DEFAULT_START})")
    parser.add_argument("--tolerance", type=number(above=0, maximum=1), default=DEFAULT_TOLERANCE,
                        help="stop when the bracket is narrower than this fraction of its low end "
                             f"(0 < t <= 1, default {DEFAULT_TOLERANCE})")
    parser.add_argument("--max-probes", type=integer(minimum=2, maximum=200), default=DEFAULT_PROBES,
                        help=f"at most this many runs (2 .. 200, default {DEFAULT_PROBES})")
    parser.set_defaults(run=run)


def objective_text(text: str) -> str:
    """An argparse ``type``: seed, sarathi or an objective expression."""
    try:
        parse_objective(text)
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def run(args: argparse.Namespace) -> int:
    options = engine_options(args)
    objective = parse_objective(args.objective)
    if any(c.bound_us is None for c in objective.conditions) and not args.classes:
        raise InputError(f"--objective: {objective.text} checks each class's TBT objective (slo): give --classes")
    names = {c.name for c in args.classes or ()}
    for c in objective.conditions:
        if c.cls is not None and c.cls not in names:
            raise InputError(f"--objective: no class {c.cls!r} in --classes")
    stdout.print(f"objective: {objective.text}; scheduler: {options['scheduler'].label}; trace: {args.trace} "
                 f"({args.format}); budget {options['budget']}; cost {options['cost'].name}", markup=False)

    def probe(rate: Fraction):
        started = time.perf_counter()
        workload = load(args, rate)
        result = run_engine(workload, options)
        holds, rows = objective.check(summarize(result.timeline))
        return holds, rows, {"seconds": time.perf_counter() - started, "preemptions": result.preemptions}

    def show(p: Probe) -> None:
        figures = "; ".join(f"{what} {_ms(value)} ms (<= {_ms(bound)}){'' if ok else ' FAILS'}"
                            for what, value, bound, ok in p.rows)
        stdout.print(f"rate {fmt(p.rate, 4)}/s: {'meets' if p.holds else 'fails'}: {figures}; "
                     f"preemptions {p.extra['preemptions']}; {p.extra['seconds']:.1f} s", markup=False)

    capacity = find_capacity(probe, start=args.rate, tolerance=args.tolerance, max_probes=args.max_probes,
                             on_probe=show)
    stdout.print(_table(capacity.probes))
    if capacity.low is None:
        stdout.print(f"capacity: no probed rate meets the objective (down to {fmt(capacity.high, 4)} requests/s)",
                     markup=False)
    elif capacity.high is None:
        stdout.print(f"capacity: at least {fmt(capacity.low, 4)} requests/s (every probed rate met the objective)",
                     markup=False)
    else:
        stdout.print(f"capacity: between {fmt(capacity.low, 4)} (meets) and {fmt(capacity.high, 4)} (fails) "
                     "requests/s", markup=False)
    return 0


def _table(probes) -> Table:
    table = Table(title="probes")
    table.add_column("rate (req/s)", justify="right")
    table.add_column("verdict")
    for p in sorted(probes, key=lambda p: p.rate):
        table.add_row(fmt(p.rate, 4), "meets" if p.holds else "fails")
    return table


def _ms(us) -> str:
    return "-" if us is None else fmt(Fraction(us) / 1000, 2)
