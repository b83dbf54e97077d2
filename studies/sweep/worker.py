"""A local sweep worker: ``python -P -m prefix_sched.studies.sweep.worker IN_FD OUT_FD``.

It reads pickled cells from the pipe ``IN_FD`` one at a time (``None`` means stop), runs each with
:func:`~prefix_sched.studies.sweep.run_cell.run_cell` and writes the pickled result to ``OUT_FD``
(:class:`multiprocessing.connection.Connection` framing). It ignores SIGINT, so Ctrl-C is the
parent's to handle, and exits when a pipe closes (its parent is gone). A process of its own
(rather than multiprocessing's ``spawn``, which re-imports the parent's main script: for the
``prefix-sched`` console script, every command's imports, seconds per worker) imports only what a
cell needs. Started by :class:`~prefix_sched.studies.sweep.executors.LocalExecutor`.

What it leaves out: choosing cells and handling a worker's death (the executor does).
"""

from __future__ import annotations

import signal
import sys
from multiprocessing.connection import Connection

from prefix_sched.studies.sweep.run_cell import run_cell


def serve(inbox: Connection, outbox: Connection) -> None:
    """Run cells from ``inbox`` and send their results to ``outbox`` until told to stop."""
    while True:
        try:
            cell = inbox.recv()
        except (EOFError, OSError):
            return
        if cell is None:
            return
        result = run_cell(cell)
        try:
            outbox.send(result)
        except OSError:
            return


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
