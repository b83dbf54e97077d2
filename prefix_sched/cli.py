"""The ``prefix-sched`` command line: one subcommand per module in :mod:`prefix_sched.commands`.

Exit status: 0 success; 1 a check failed (the command says which); 2 bad input or usage (one line
on stderr naming the value).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from prefix_sched import __version__
from prefix_sched.commands import (
    approx_cmd, compare_cmd, evaluate_cmd, generate_cmd, guarantee_cmd, simulate_cmd, solve_cmd, validate_cmd,
    verify_reduction,
)
from prefix_sched.errors import PrefixSchedError

COMMANDS = (
    generate_cmd, simulate_cmd, compare_cmd, evaluate_cmd, guarantee_cmd, solve_cmd, approx_cmd, validate_cmd,
    verify_reduction,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except PrefixSchedError as err:
        print(f"prefix-sched {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
