"""The ``prefix-sched`` command line: one subcommand per module in :mod:`prefix_sched.commands`.

Exit status, one meaning each: 0 success; 1 a check failed (proven infeasible, a guarantee broken,
a certificate wrong; the command says which); 2 bad input or usage (one line on stderr naming the
option or value); 3 unknown (a time-out: no claim either way); 130 interrupted. A closed stdout
(``| head -1``) changes neither the status nor the files written
(:func:`~prefix_sched.commands.common.run_command`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from prefix_sched import __version__

try:  # loading numpy, sympy and ortools takes seconds: Ctrl-C meanwhile is one line too, not a traceback
    from prefix_sched.commands import (
        approx_cmd, compare_cmd, evaluate_cmd, generate_cmd, guarantee_cmd, simulate_cmd, solve_cmd, sweep_cmd,
        validate_cmd, verify_reduction,
    )
    from prefix_sched.commands.common import Parser, parse_and_run
except KeyboardInterrupt:
    print("prefix-sched: interrupted", file=sys.stderr)
    sys.exit(130)

COMMANDS = (
    generate_cmd, simulate_cmd, compare_cmd, evaluate_cmd, guarantee_cmd, solve_cmd, approx_cmd, validate_cmd,
    verify_reduction, sweep_cmd,
)


def build_parser() -> Parser:
    """The argument parser with every registered subcommand."""
    parser = Parser(
        prog="prefix-sched",
        description="Scheduling LLM queries with prefix reuse under TTFT bounds.",
    )
    parser.add_argument("--version", action="version", version=f"prefix-sched {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    return parse_and_run(build_parser(), argv, lambda args: f"prefix-sched {args.command}")


if __name__ == "__main__":
    sys.exit(main())
