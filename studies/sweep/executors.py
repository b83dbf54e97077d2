"""Run cells on local worker processes or as Ray tasks; hand each finished cell to a callback.

Both executors have one method, ``run(cells, on_result)``: every cell of ``cells`` ends as exactly
one call ``on_result(CellResult)`` in the calling process (in the order cells finish), unless the
caller is interrupted first. A cell whose process dies is not lost: it is run again, and after
:data:`MAX_LOSSES` deaths it is recorded as failed with the reason, so a cell that always kills
its worker (say, by running out of memory) cannot stall the sweep.

:class:`LocalExecutor` (the default; needs neither ray nor pyarrow) keeps ``workers`` processes
(:mod:`~prefix_sched.studies.sweep.worker`, each in a session of its own), sends each one cell at a time
over a pipe and waits on their result pipes: it knows which cell each worker runs, so a killed
worker (its pipe reads end of file) costs exactly its one cell, which is requeued, and a fresh
worker takes its place. Workers ignore SIGINT: Ctrl-C is the parent's to handle (it stops the
workers and keeps every finished row). A worker whose parent is gone exits when it next reads or
writes its pipe.

:class:`RayExecutor` connects to a running cluster (``ray.init(address=...)``: ``"auto"`` finds
one started with ``ray start --head`` on this machine, else ``HOST:PORT`` or ``ray://HOST:PORT``),
runs each cell as a task of one CPU (Ray retries a task whose worker or node dies, up to
:data:`MAX_LOSSES` attempts in all) and keeps at most ``workers`` tasks in flight (default twice
the cluster's CPUs). A file stream's bytes are put in the object store once and fetched by a
worker only when it has not built that stream yet, so the files need not exist on the other
machines. Token authentication (Ray >= 2.52; on by default for local clusters from 2.59) is
Ray's own: ``auto`` uses the token in ``~/.ray/auth_token`` (or ``RAY_AUTH_TOKEN_PATH``,
``RAY_AUTH_TOKEN``) when there is one; with an explicit address Ray sends the token only when
``RAY_AUTH_MODE=token`` is set, which this module leaves to the user (docs/sweep.md).

What it leaves out: what a cell computes (:mod:`~prefix_sched.studies.sweep.run_cell`), where rows go,
and ordering cells by cost.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from prefix_sched.errors import InputError
from prefix_sched.studies.sweep.cells import Cell, ServingCell
from prefix_sched.studies.sweep.results import EXTRA_HINT
from prefix_sched.studies.sweep.run_cell import CellResult, failed_record, run_cell
from prefix_sched.theory.generators import memory_bytes

MAX_LOSSES = 3
OnResult = Callable[[CellResult], None]


def lost(cell: Cell | ServingCell, why: str) -> CellResult:
    """The failed result of a cell whose worker died :data:`MAX_LOSSES` times."""
    return CellResult(failed_record(cell, f"{why} {MAX_LOSSES} times"),
                      {"cell": cell.key, "wall_s": None, "host": socket.gethostname()})


WORKER_BYTES = 64 * 2 ** 20
"""What a local worker process holds at the least: Python with a cell's imports (about 45 MB measured)."""


@dataclass(frozen=True)
class LocalExecutor:
    """``workers`` local processes (see the module docstring); refused before any starts when that many
    could not fit in this machine's memory (:data:`WORKER_BYTES` each)."""

    workers: int

    def __post_init__(self) -> None:
        need, have = self.workers * WORKER_BYTES, memory_bytes()
        if need > have:
            raise InputError(f"{self.workers} local worker processes need at least {need / 2 ** 30:.3g} GiB of memory "
                             f"({WORKER_BYTES // 2 ** 20} MiB each), more than this machine's {have / 2 ** 30:.3g} GiB")

    def describe(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers != 1 else ''}"

    def run(self, cells: Sequence[Cell], on_result: OnResult) -> None:
        """Run every cell; ``on_result`` gets each result in this process as it finishes."""
        pending = deque(cells)
        losses: Counter[str] = Counter()
        started: list[_Worker] = []

        def start() -> _Worker:
            worker = _Worker.start()
            started.append(worker)
            return worker

        idle = [start() for _ in range(min(self.workers, len(pending)))]
        busy: dict[Connection, tuple[_Worker, Cell]] = {}
        try:
            while pending or busy:
                while pending and idle:
                    worker = idle.pop()
                    cell = pending.popleft()
                    try:
                        worker.inbox.send(cell)
                    except OSError:  # it died while idle: replace it, the cell never started
                        pending.appendleft(cell)
                        worker.reap()
                        idle.append(start())
                        continue
                    busy[worker.outbox] = (worker, cell)
                for outbox in wait(list(busy)):  # readable: a result, or end of file if it died
                    worker, cell = busy.pop(outbox)
                    try:
                        result = outbox.recv()
                    except (EOFError, OSError):
                        result = None
                    if result is not None:
                        idle.append(worker)
                        on_result(result)
                        continue
                    status = worker.reap()
                    losses[cell.key] += 1
                    if losses[cell.key] >= MAX_LOSSES:
                        on_result(lost(cell, f"the worker process running this cell died (exit status {status})"))
                    else:
                        pending.appendleft(cell)
                    if pending:
                        idle.append(start())
        finally:
            for worker in started:
                worker.stop()


@dataclass(frozen=True)
class _Worker:
    """A ``python -P -m prefix_sched.studies.sweep.worker`` process and its two pipes."""

    process: subprocess.Popen
    inbox: Connection
    outbox: Connection

    @classmethod
    def start(cls) -> _Worker:
        cell_read, cell_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", "prefix_sched.studies.sweep.worker", str(cell_read), str(result_write)],
                pass_fds=(cell_read, result_write), stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(cell_read)
            os.close(result_write)
        return cls(process, Connection(cell_write, readable=False), Connection(result_read, writable=False))

    def reap(self) -> int:
        """Wait for a dead worker; return its exit status."""
        self.inbox.close()
        self.outbox.close()
        return self.process.wait()

    def stop(self) -> None:
        """Ask it to leave; stop it if it does not (it may be mid-cell); reap it."""
        if self.process.poll() is None and not self.inbox.closed:
            try:
                self.inbox.send(None)
            except OSError:
                pass
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()
        for pipe in (self.inbox, self.outbox):
            if not pipe.closed:
                pipe.close()


def require_ray():
    """Import ray, or explain which extra provides it."""
    try:
        import ray
    except ImportError as err:
        raise InputError(f"Ray is not installed ({EXTRA_HINT})") from err
    return ray


@dataclass(frozen=True)
class RayExecutor:
    """Cells as Ray tasks on the cluster at ``address`` (see the module docstring)."""

    address: str
    workers: int | None = None
    option: str = "ray"
    """How the caller names the address in messages (the command: ``--ray``)."""

    def describe(self) -> str:
        window = f", at most {self.workers} cells at once" if self.workers else ""
        return f"Ray cluster {self.address}{window}"

    def run(self, cells: Sequence[Cell], on_result: OnResult) -> None:
        """Run every cell as a task; ``on_result`` gets each result in this process."""
        ray = require_ray()
        try:
            ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as err:
            first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
            raise InputError(
                f"{self.option} {self.address}: cannot connect to a Ray cluster ({first.strip()}); start one with "
                "`ray start --head`, and for a cluster with token authentication make its token available "
                "(~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN) and, with an explicit ADDRESS, "
                "set RAY_AUTH_MODE=token"
            ) from err
        running: dict = {}
        try:
            task = ray.remote(num_cpus=1, max_retries=MAX_LOSSES - 1, retry_exceptions=False)(_ray_cell)
            window = self.workers or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
            stored: dict[str, list] = {}
            pending = deque(cells)
            while pending or running:
                while pending and len(running) < window:
                    cell = pending.popleft()
                    box = []
                    source = cell.source
                    if source.kind == "file":
                        if source.sha256 not in stored:
                            stored[source.sha256] = [ray.put(Path(source.path).read_bytes())]
                        box = stored[source.sha256]
                    running[task.remote(cell, box)] = cell
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    cell = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as err:
                        result = lost(cell, f"Ray lost this cell's task ({type(err).__name__})")
                    on_result(result)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            ray.shutdown()


def _ray_cell(cell: Cell, box: list) -> CellResult:
    """A Ray task: run ``cell``; ``box`` holds the object ref of a file stream's bytes, if any."""
    import ray

    return run_cell(cell, (lambda: ray.get(box[0])) if box else None)
