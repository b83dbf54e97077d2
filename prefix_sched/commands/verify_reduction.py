"""``verify-reduction`` (also ``prefix-sched verify-reduction``): check Theorem 1's reduction.

With no arguments it runs the default battery (yes- and no-instances of 3-PARTITION for
``m = 1 .. 5``, :data:`~prefix_sched.reductions.verify.DEFAULT_COUNT` seeds each), decides each
instance and its TTFT stream exactly, checks the certificates both ways, prints a table and exits
0 only if every case agrees and was decided. Exit 1 names the cases that disagree or failed a
certificate; exit 3 (no check failed) names the cases that stayed unknown (time-out); exit 2 is bad
input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from prefix_sched.commands.common import (
    Parser, integer, limit_seconds, named, not_applicable, parse_and_run, progress_bar, stderr, stdout,
)
from prefix_sched.errors import InputError
from prefix_sched.reductions.construction import check_x_length
from prefix_sched.reductions.three_partition import DEFAULT_BOUND, check_bound, read_instance
from prefix_sched.reductions.verify import (
    DEFAULT_COUNT,
    DEFAULT_COUNT_LARGE,
    DEFAULT_WORKERS,
    LARGE_M,
    DEFAULT_MS,
    DEFAULT_SOLVER,
    DEFAULT_TIME_LIMIT,
    ENGINE_NAMES,
    BatterySettings,
    CaseReport,
    Summary,
    report_json,
    run_battery,
    run_case,
)
from prefix_sched.theory.outputs import check_output_path, write_text


TABLE_WIDTH = 100
MAX_MS = 10_000  # --m values in one run; a typo like 1-1000000000 is refused, not expanded
BATTERY_ONLY = ("--count", "--workers", "--seed", "--B")  # options of the generated battery, not of --input
DESCRIPTION = (
    "Check Theorem 1's reduction from 3-PARTITION: decide each instance exactly, decide TTFT "
    "feasibility of its stream with an exact solver, check certificates both ways. Exit 0 only if "
    "every case agrees and was decided; 1 if one disagrees or fails a certificate; 3 if none did but one "
    "timed out (unknown); 2 on bad input."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("verify-reduction", help="check the Theorem 1 reduction from 3-PARTITION",
                                   description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``verify-reduction``."""
    parser.add_argument("--m", action="append", metavar="M",
                        help="group counts to test: an integer, a list '2,3' or a range '1-5'; repeatable "
                             f"(default {DEFAULT_MS[0]}-{DEFAULT_MS[-1]})")
    parser.add_argument("--count", type=integer(minimum=1), default=None,
                        help=f"yes- and no-instances per m (default {DEFAULT_COUNT} for m < {LARGE_M}, "
                             f"{DEFAULT_COUNT_LARGE} from m = {LARGE_M} on)")
    parser.add_argument("--workers", type=integer(minimum=1), default=None,
                        help=f"cases decided at once, each in its own process (>= 1, default {DEFAULT_WORKERS})")
    parser.add_argument("--seed", type=integer(minimum=0), default=None, help="battery seed (>= 0, default 0)")
    parser.add_argument("--B", dest="bound", type=integer(minimum=1), default=None,
                        help=f"the 3-PARTITION bound B of generated instances (default {DEFAULT_BOUND})")
    parser.add_argument("--x-length", type=integer(minimum=1), default=None,
                        help="length L of the X queries, 1 <= L <= B (default 1)")
    parser.add_argument("--time-limit", type=limit_seconds, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds per TTFT decision before it counts as unknown (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--solver", choices=ENGINE_NAMES, default=DEFAULT_SOLVER,
                        help=f"exact TTFT-feasibility solver (default {DEFAULT_SOLVER})")
    parser.add_argument("--input", metavar="FILE", default=None,
                        help="check one instance from a prefix-sched.3-partition JSON file instead of the battery")
    parser.add_argument("--json", metavar="FILE", default=None, help="write a machine-readable report here")


def run(args: argparse.Namespace) -> int:
    limit = float(args.time_limit)
    if args.input is not None:
        given = ["--m"] * bool(args.m) + [option for option, value in zip(
            BATTERY_ONLY, (args.count, args.workers, args.seed, args.bound)) if value is not None]
        if given:
            raise not_applicable(given[0], "applies to the generated battery, not to --input")
    else:
        ms = _parse_ms(args.m)
        bound = DEFAULT_BOUND if args.bound is None else args.bound
        named("--B", check_bound, bound)
        named("--x-length", check_x_length, args.x_length, bound)
    report_path = None if args.json is None else check_output_path(args.json, "--json")
    started = time.perf_counter()
    if args.input is not None:
        instance = read_instance(args.input)
        named("--x-length", check_x_length, args.x_length, instance.bound)
        settings = {"input": str(args.input), "x_length": args.x_length, "solver": args.solver,
                    "time_limit_s": limit}
        stderr.print(f"deciding {args.input} (m = {instance.m}, B = {instance.bound}) ...")
        reports = [run_case(instance, kind="input", solver=args.solver, time_limit=limit,
                            x_length=args.x_length)]
    else:
        battery = BatterySettings(ms=ms, count=args.count, seed=0 if args.seed is None else args.seed,
                                  bound=bound, x_length=args.x_length, solver=args.solver, time_limit=limit,
                                  workers=DEFAULT_WORKERS if args.workers is None else args.workers)
        settings = battery.to_json()
        total = sum(1 for _ in battery.cases())
        with progress_bar(total, "verify-reduction", sys.stderr.isatty()) as bar:
            reports = run_battery(battery, on_case=_progress(bar))
    seconds = time.perf_counter() - started
    summary = Summary(tuple(reports))
    if report_path is not None:
        write_text(report_path, json.dumps(report_json(reports, settings, seconds), indent=1) + "\n", "--json")
    console = Console(highlight=False, width=max(TABLE_WIDTH, shutil.get_terminal_size().columns))
    console.print(_table(reports))
    console.print(_legend(reports))
    for failure in summary.failures:
        stdout.print(f"FAILED m={failure.m} {failure.kind} seed={failure.seed}: {failure.problem}", soft_wrap=True)
    decided = summary.decided
    unknown = sum(r.undecided for r in reports)
    failed = len(summary.failures) - unknown
    verdict = "all agree" if summary.ok else ", ".join(
        part for part in (f"{failed} FAILED" if failed else "", f"{unknown} unknown" if unknown else "") if part)
    stdout.print(f"{len(reports)} cases, {decided} decided, {verdict}; {seconds:.1f} s", soft_wrap=True)
    return summary.exit_status


def _parse_ms(values: Sequence[str] | None) -> tuple[int, ...]:
    """The group counts of ``--m``: integers >= 1, lists ``2,3`` and ranges ``1-5``, in order, once each."""
    if not values:
        return DEFAULT_MS
    read = integer(minimum=1)
    ms: list[int] = []
    for value in values:
        for part in value.split(","):
            try:
                ends = [read(end) for end in part.split("-", 1)]
            except argparse.ArgumentTypeError:
                raise InputError(f"--m: expects integers >= 1, lists '2,3' or ranges '1-5', got {value!r}") from None
            if ends[-1] < ends[0]:
                raise InputError(f"--m: the range {part.strip()!r} is empty")
            if len(ms) + ends[-1] - ends[0] + 1 > MAX_MS:
                raise InputError(f"--m: more than {MAX_MS:,} values in {value!r}")
            ms += range(ends[0], ends[-1] + 1)
    return tuple(dict.fromkeys(ms))


def _progress(bar):
    def on_case(done: int, total: int, report: CaseReport, label: str) -> None:
        if bar is not None:
            bar(done)
        else:
            state = "ok" if report.ok else "FAILED"
            stderr.print(f"[{done}/{total}] {label}: {report.ttft_status or 'n/a'} in {report.seconds:.2f} s, {state}")
    return on_case


def _yes_no(answer: bool | None) -> str:
    return "-" if answer is None else ("yes" if answer else "no")


def _table(reports: Sequence[CaseReport]) -> Table:
    solvers = sorted({r.solver for r in reports if r.solver})
    table = Table(title=f"Theorem 1: 3-PARTITION vs TTFT <= T ({', '.join(solvers) or 'no'} solver)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("m", "B", "kind", "seed", "3-PART", "TTFT<=T", "status", "time s", "certs", "result"):
        table.add_column(column, justify="right" if column in ("m", "B", "seed", "time s") else "left",
                         no_wrap=True)
    for r in reports:
        feasible = {"FEASIBLE": "yes", "INFEASIBLE": "no", "UNKNOWN": "?"}.get(r.ttft_status, "-")
        certs = " ".join({"partition->schedule": "P>S", "schedule->partition": "S>P"}[c] for c in r.certificates)
        result = "ok" if r.ok else "FAILED"
        if r.instance is None:
            result = "none exist"
        table.add_row(str(r.m), "-" if r.instance is None else str(r.instance.bound), r.kind.split()[0],
                      "-" if r.seed is None else str(r.seed[-1]), _yes_no(r.partition_answer), feasible,
                      r.ttft_status or "-", f"{r.seconds:.2f}", certs or "-", result)
    return table


def _legend(reports: Sequence[CaseReport]) -> str:
    legend = ("certs: P>S the partition's schedule passed the evaluator; "
              "S>P the solver's feasible schedule mapped back to a checked 3-partition")
    if any(r.instance is None for r in reports):
        legend += "\nm = 1 has no no-instances: three sizes summing to B are always a partition"
    return legend


def main(argv: Sequence[str] | None = None) -> int:
    """The ``verify-reduction`` console script."""
    parser = Parser(prog="verify-reduction", description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parse_and_run(parser, argv, lambda args: "verify-reduction")


if __name__ == "__main__":
    sys.exit(main())
