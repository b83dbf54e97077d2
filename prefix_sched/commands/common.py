"""Helpers shared by subcommands: loading streams, formatting exact numbers, progress bars."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from fractions import Fraction
from collections.abc import Iterator, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from prefix_sched.theory.exact import Exact
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.streamio import read_mooncake, read_stream

DEFAULT_TOKENS_PER_MS = 20
# Tables stay whole when piped to a file or a CI log (rich would wrap them at 80 columns).
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, highlight=False)


def add_stream_arguments(parser: argparse.ArgumentParser, optional: bool) -> None:
    """Add STREAM, --format, --tokens-per-ms and --limit."""
    parser.add_argument("stream", nargs="?" if optional else None, metavar="STREAM",
                        help="stream file (JSONL)" + ("; a built-in Definition 4 example if left out" if optional else ""))
    parser.add_argument("--format", choices=("stream", "mooncake"), default="stream",
                        help="STREAM is a prefix-sched stream (default) or a Mooncake trace")
    parser.add_argument("--tokens-per-ms", default=str(DEFAULT_TOKENS_PER_MS),
                        help=f"Mooncake only: prefill tokens per millisecond, to turn ms into token-times (default {DEFAULT_TOKENS_PER_MS})")
    parser.add_argument("--limit", type=int, default=None, help="Mooncake only: read the first N requests")


def load_stream(args: argparse.Namespace) -> Stream:
    """Read the stream named by the arguments of :func:`add_stream_arguments`."""
    if args.format == "mooncake":
        return read_mooncake(args.stream, args.tokens_per_ms, limit=args.limit)
    return read_stream(args.stream)


def fmt(value: Exact, digits: int = 2) -> str:
    """An exact number for a table: integers as they are, fractions rounded for reading."""
    if isinstance(value, int) or (isinstance(value, Fraction) and value.denominator == 1):
        return str(int(value))
    return f"{float(value):.{digits}f}"


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
