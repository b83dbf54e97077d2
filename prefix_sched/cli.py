"""The ``prefix-sched`` command line: one subcommand per module in :mod:`prefix_sched.commands`.

Exit status, one meaning each: 0 success; 1 a check failed (proven infeasible, a guarantee broken,
a certificate wrong; the command says which); 2 bad input or usage (one line on stderr naming the
option or value); 3 unknown (a time-out: no claim either way); 130 interrupted. A closed stdout
(``| head -1``) changes neither the status nor the files written
(:func:`~prefix_sched.commands.common.run_command`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from prefix_sched import __version__

# Subcommand name -> the module in prefix_sched.commands that registers it. Only the module of the
# command asked for is imported (numpy, sympy and ortools take seconds to load); --help and an
# unknown command load them all.
COMMANDS = {
    "generate": "generate_cmd", "simulate": "simulate_cmd", "compare": "compare_cmd",
    "evaluate": "evaluate_cmd", "guarantee": "guarantee_cmd", "solve": "solve_cmd", "approx": "approx_cmd",
    "validate": "validate_cmd", "verify-reduction": "verify_reduction", "sweep": "sweep_cmd", "gap": "gap_cmd",
    "serve": "serve_cmd", "capacity": "capacity_cmd",
}


def build_parser(command: str | None = None):
    """The argument parser with the subcommand ``command`` registered, or every one when None."""
    from prefix_sched.commands.common import Parser

    parser = Parser(
        prog="prefix-sched",
        description="Scheduling LLM queries with prefix reuse under TTFT bounds.",
    )
    parser.add_argument("--version", action="version", version=f"prefix-sched {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(f"prefix_sched.commands.{COMMANDS[name]}").register(subparsers)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand named by ``argv`` (its first word not starting with '-'), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (Ctrl-C while the libraries load is one line, 130)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from prefix_sched.commands.common import parse_and_run

        parser = build_parser(_command_word(argv))
    except KeyboardInterrupt:
        print("prefix-sched: interrupted", file=sys.stderr)
        return 130
    return parse_and_run(parser, argv, lambda args: f"prefix-sched {args.command}")


if __name__ == "__main__":
    sys.exit(main())
