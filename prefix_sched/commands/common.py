"""What the subcommands share: the parser, option types, running a command, loading streams.

Options. Every value is read by a ``type=`` function here (:func:`integer`, :func:`number`,
:func:`listed`, :func:`k_value`), so a bad value is refused by argparse before
any work, in one line naming the option: ``prefix-sched simulate: error: --limit: must be >= 1,
got '0'`` (exit 2; :class:`Parser` makes every usage error one line). Whether an option applies to
the chosen mode is the command's check: an option that would be ignored is refused with
:func:`not_applicable`, never dropped. Options whose use depends on the mode default to ``None``;
the command fills in the documented default after that check.

Running. :func:`run_command` runs a command and turns its outcome into the exit status, one
meaning each (:mod:`prefix_sched.errors`): 0 success, 1 a check failed
(:class:`~prefix_sched.errors.CheckFailed`, or the command's own verdict), 2 bad input
(:class:`~prefix_sched.errors.PrefixSchedError`, and an ``OSError`` or ``RecursionError`` that a
file or value caused), 3 unknown, 130 interrupted; every message is one line on stderr. Standard
output is guarded: when its reader goes away (``prefix-sched solve ... | head -1``) the rest of
the output is dropped, the command still writes its files and the status is still its verdict.

What it leaves out: what each command does, and writing files (:mod:`prefix_sched.theory.outputs`).

Examples
--------
>>> integer(minimum=1)("12")
12
>>> integer(minimum=1)("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be >= 1, got '0'
>>> integer()("1.5")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be an integer, got '1.5'
>>> number(above=0)("7/2")
Fraction(7, 2)
>>> listed(integer(minimum=2))("64, 128")
(64, 128)
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from prefix_sched.errors import (
    EXIT_BAD_INPUT, EXIT_CHECK_FAILED, CheckFailed, InputError, PrefixSchedError,
)
from prefix_sched.solvers.online.policies import parse_k
from prefix_sched.theory.numbers import Exact, brief
from prefix_sched.theory.parameters import read_number
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.formats import DEFAULT_TOKENS_PER_MS, read_mooncake, read_stream

FORMATS = ("stream", "mooncake")
EXIT_INTERRUPTED = 130
INT32_MAX = 2 ** 31 - 1
FULL_DIGITS = 30  # numbers shown in full in tables; larger ones in scientific notation
MAX_SECONDS = 10 ** 9  # 31 years; the engines turn a time limit into a float
FLOAT_MAX = sys.float_info.max
# Tables stay whole when piped to a file or a CI log (rich would wrap them at 80 columns), and a
# message stays one line. No markup: what is printed holds file names and labels the user wrote,
# and a "[/x]" in one must print as written, never stop the command after its work is done.
stdout = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 10_000)


class StoreOnce(argparse._StoreAction):
    """argparse's ``store``, refusing a second value: an option that takes one value, given twice,
    is bad input (never "the last one wins"). Repeatable options (``--policy``, ``--k``, ``--load``,
    ``--cache``) are ``append`` options: one run per value."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault(GIVEN, {})
        text = getattr(self, "written", values)  # as written (Parser._get_values keeps it), not as read
        if self.dest in given:
            raise argparse.ArgumentError(self, f"given twice ({_shown(given[self.dest])} and {_shown(text)}); it "
                                               "takes one value")
        given[self.dest] = text
        setattr(namespace, self.dest, values)


GIVEN = "_given_once"
"""The namespace attribute where :class:`StoreOnce` remembers the options given."""


def _shown(value: object) -> str:
    if isinstance(value, (list, tuple)):  # a listed value (NAME,NAME...) as written
        value = ",".join(str(item) for item in value)
    return brief(value if isinstance(value, str) else str(value))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``PROG: error: MESSAGE``, and exit 2, and
    whose single-valued options refuse a second value (:class:`StoreOnce`).

    Subparsers made with ``add_subparsers`` are Parsers too (argparse uses the parent's class).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        action.written = " ".join(arg_strings)  # for StoreOnce's message: the value as the user wrote it
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {one_line(message.removeprefix('argument '))}\n")


def one_line(text: object) -> str:
    """``text`` with its lines joined by spaces, for a one-line message."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


# --- option types -----------------------------------------------------------------------------

def _exact(text: str, kind: str) -> Exact:
    """``text`` read by the one reader of numbers in text (:func:`~prefix_sched.theory.parameters.read_number`:
    ASCII digits, no ``+``), and inside a float's range (every number a command reads may be printed)."""
    try:
        value = read_number(text, "value")
    except InputError as err:
        reason = str(err).removeprefix("value: ").removeprefix("value ")
        if reason.startswith("must be a number"):  # not a number at all
            reason = f"must be {kind}, got {brief(text)}"
        raise argparse.ArgumentTypeError(reason) from None
    if abs(value) > FLOAT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {FLOAT_MAX:.6g} in size (a float's range), got "
                                         f"{brief(text)}")
    return value


def _check_bounds(value: Exact, text: str, minimum=None, maximum=None, above=None, below=None) -> None:
    if above is not None and below is not None and not above < value < below:
        raise argparse.ArgumentTypeError(f"must lie strictly between {above} and {below}, got {brief(text)}")
    for bound, holds, sign in ((minimum, lambda b: value >= b, ">="), (maximum, lambda b: value <= b, "<="),
                               (above, lambda b: value > b, ">"), (below, lambda b: value < b, "<")):
        if bound is not None and not holds(bound):
            raise argparse.ArgumentTypeError(f"must be {sign} {bound}, got {brief(text)}")


def limit_seconds(text: str) -> Exact:
    """An argparse ``type``: a time limit in seconds, ``0 < t <= MAX_SECONDS`` (exact).

    >>> limit_seconds("0.5"), limit_seconds("1/3")
    (Fraction(1, 2), Fraction(1, 3))
    """
    return _seconds(text)


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer (``"12"``, not ``"1.5"``, ``"nan"`` or ``"inf"``) in bounds."""
    def parse(text: str) -> int:
        value = _exact(text, "an integer")
        if not isinstance(value, int):
            raise argparse.ArgumentTypeError(f"must be an integer, got {brief(text)}")
        _check_bounds(value, text, minimum=minimum, maximum=maximum)
        return value
    parse.__name__ = "integer"
    return parse


def number(*, minimum: Exact | None = None, maximum: Exact | None = None, above: Exact | None = None,
           below: Exact | None = None) -> Callable[[str], Exact]:
    """An argparse ``type``: an exact number (``3``, ``2.5``, ``7/3``; an int or Fraction) in bounds."""
    def parse(text: str) -> Exact:
        value = _exact(text, "a number like 3, 2.5 or 7/3")
        _check_bounds(value, text, minimum=minimum, maximum=maximum, above=above, below=below)
        return value
    parse.__name__ = "number"
    return parse


_seconds = number(above=0, maximum=MAX_SECONDS)


def listed(item: Callable[[str], Any]) -> Callable[[str], tuple]:
    """An argparse ``type``: a comma-separated list of ``item`` values (at least one)."""
    def parse(text: str) -> tuple:
        parts = [part.strip() for part in text.split(",")]
        if not any(parts) or not all(parts):
            raise argparse.ArgumentTypeError(f"must be a comma-separated list like 1,2,3, got {brief(text)}")
        values = []
        for part in parts:
            try:
                values.append(item(part))
            except argparse.ArgumentTypeError as err:
                raise argparse.ArgumentTypeError(f"{err} (in {brief(text)})") from None
        return tuple(values)
    parse.__name__ = "list"
    return parse


def k_value(text: str) -> float:
    """An argparse ``type``: k-LPM's k, an integer >= 0 or ``inf``."""
    try:
        return parse_k(text)
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def not_applicable(option: str, why: str) -> InputError:
    """The error for an option that the chosen mode would ignore: ``--limit: only applies ...``."""
    return InputError(f"{option}: {why}")


def named(option: str, check: Callable[..., Any], *values: Any) -> Any:
    """Run a domain check of the library, naming the option in its error: ``--B: B = 8 admits ...``."""
    try:
        return check(*values)
    except InputError as err:
        raise InputError(f"{option}: {err}") from err


def refuse_repeats(option: str, values: Sequence[Any], show: Callable[[Any], str] = str) -> None:
    """Refuse an option given twice with the same value (it would run the same thing twice)."""
    seen = set()
    for value in values:
        if value in seen:
            raise InputError(f"{option}: {show(value)} is given twice")
        seen.add(value)


# --- streams ----------------------------------------------------------------------------------

def add_stream_arguments(parser: argparse.ArgumentParser, optional: bool) -> None:
    """Add STREAM, --format, --tokens-per-ms and --limit (checked by :func:`check_stream_arguments`)."""
    parser.add_argument("stream", nargs="?" if optional else None, metavar="STREAM",
                        help="stream file (JSONL)"
                             + ("; a built-in Definition 4 example if left out" if optional else ""))
    add_format_arguments(parser, "STREAM")


def add_format_arguments(parser: argparse.ArgumentParser, source: str) -> None:
    """Add --format, --tokens-per-ms and --limit for the stream file named ``source``."""
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help=f"{source} is a prefix-sched stream (default) or a Mooncake trace")
    parser.add_argument("--tokens-per-ms", type=number(above=0), default=None,
                        help="with --format mooncake: prefill tokens per millisecond, to turn ms into "
                             f"token-times (> 0, exact; default {DEFAULT_TOKENS_PER_MS})")
    parser.add_argument("--limit", type=integer(minimum=1), default=None,
                        help="with --format mooncake: read the first N requests (N >= 1)")


def check_stream_arguments(args: argparse.Namespace, source: str = "STREAM") -> None:
    """Refuse stream options that would be ignored, then fill in ``--format``'s default.

    ``--format`` needs a stream file (``source``); ``--tokens-per-ms`` and ``--limit`` need
    ``--format mooncake``. Call it before any work.
    """
    if args.stream is None and args.format is not None:
        raise not_applicable("--format", f"describes the {source} file, and none is given")
    if args.format != "mooncake":
        for option, value in (("--tokens-per-ms", args.tokens_per_ms), ("--limit", args.limit)):
            if value is not None:
                raise not_applicable(option, "only applies with --format mooncake")
    if args.format is None:
        args.format = "stream"


def load_stream(args: argparse.Namespace) -> Stream:
    """Read the stream named by the arguments of :func:`add_stream_arguments`."""
    if args.format == "mooncake":
        rate = DEFAULT_TOKENS_PER_MS if args.tokens_per_ms is None else args.tokens_per_ms
        return read_mooncake(args.stream, rate, limit=args.limit)
    return read_stream(args.stream)


# --- running ----------------------------------------------------------------------------------

class GuardedStdout(io.TextIOBase):
    """A stand-in for ``sys.stdout`` that drops output once its reader has gone (broken pipe).

    After the first :class:`BrokenPipeError` the file descriptor is pointed at ``os.devnull``
    (what the Python docs advise for SIGPIPE) so that no later flush fails, and :attr:`broken` is
    set; the command carries on, writes its files and returns its verdict.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.broken = True
        try:
            descriptor = self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, descriptor)
        finally:
            os.close(devnull)

    def isatty(self) -> bool:
        return not self.broken and self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:
        return getattr(self.stream, "errors", None)

    def close(self) -> None:  # never closes the real stdout
        self.flush()


def run_command(prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``run(args)`` with a guarded stdout; return its status, or the status of what it raised.

    Every message is one line on stderr starting with ``prog``.
    """
    guard = GuardedStdout(sys.stdout)
    sys.stdout = guard
    try:
        status = run(args)
        guard.flush()
    except CheckFailed as err:
        status = _say(prog, f"check failed: {err}", EXIT_CHECK_FAILED)
    except PrefixSchedError as err:
        status = _say(prog, f"error: {err}", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        status = _say(prog, "interrupted", EXIT_INTERRUPTED)
    except RecursionError:
        status = _say(prog, "error: the input is nested too deeply to read", EXIT_BAD_INPUT)
    except OSError as err:
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        status = _say(prog, f"error: {where}{err.strerror or err}", EXIT_BAD_INPUT)
    finally:
        sys.stdout = guard.stream
    return status


def _say(prog: str, message: str, status: int) -> int:
    try:
        print(f"{prog}: {one_line(message)}", file=sys.stderr, flush=True)
    except OSError:  # stderr is gone too: the status still tells
        pass
    return status


def parse_and_run(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                  prog: Callable[[argparse.Namespace], str]) -> int:
    """Parse ``argv`` (usage errors: one line, status 2; ``--help``: 0) and :func:`run_command` it."""
    try:
        args, extras = parser.parse_known_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else EXIT_BAD_INPUT)
    if extras:  # named by the command they were given to, not by the top-level parser
        return _say(prog(args), f"error: unrecognized arguments: {' '.join(extras)}", EXIT_BAD_INPUT)
    return run_command(prog(args), args.run, args)


# --- display ----------------------------------------------------------------------------------

def fmt(value: Exact, digits: int = 2) -> str:
    """An exact number for a table: integers as they are, fractions rounded for reading; a number
    of more than :data:`FULL_DIGITS` digits in scientific notation (no float overflows on it).

    >>> fmt(12), fmt(Fraction(7, 3)), fmt(10 ** 40), fmt(Fraction(10 ** 5000, 3))
    ('12', '2.33', '1.00e+40', '3.33e+4999')
    """
    value = Fraction(value)
    if abs(value) >= 10 ** FULL_DIGITS:
        return f"{Decimal(value.numerator) / Decimal(value.denominator):.{digits}e}"
    if value.denominator == 1:
        return str(value.numerator)
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.{digits}f}"


@contextmanager
def progress_bar(total: int, label: str, enabled: bool) -> Iterator[Callable[..., None] | None]:
    """A rich progress bar on stderr, yielding a callback ``done(count, total=None)`` (a new total
    when given); None when disabled."""
    if not enabled:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda count, total=None: bar.update(task, completed=count, total=total)
