"""Benchmark: a 200-cell sweep on 1 and 2 workers, on the local executor and on a loopback Ray head.

Cells: one Definition 4 stream (n queries, r = 4, u = 1000, d = 100, Delta = 1000) at 5 seeds and
5 offered loads (as generated, 0.9, 1.1, 1.3, 1.5), served by 8 policies (FCFS, LPM, k-LPM with
k = 1, 2, 3, 4, 8, 16): 200 cells of about 0.2-0.3 s each at the default n = 5000. Every run
starts from an empty results folder; its rows are checked byte-identical to the first run's.
Reported per run: the wall time T, the summed cell time S (from timings.csv), the speed-up of 2
workers over 1 (the baseline is the 1-worker run of the same executor, in the same process), and
the executor's overhead per cell, ``(w T - S) / cells``: worker-seconds not spent computing cells
(starting workers, moving cells and rows, writing files; for Ray also connecting and scheduling).

The Ray head is :func:`~prefix_sched.studies.sweep.local_ray.loopback_cluster` (2 CPUs, loopback only,
token authentication); ``--workers w`` keeps at most w cells in flight on it.

Run: ``python benchmarks/sweep.py`` (``--n``, ``--executors local,ray``). On a 2-core machine the
speed-up can only approach 2 when nothing else runs, so each executor's pair of runs is bracketed
by a calibration: how much more work two plain CPU-bound processes do than one at that moment.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prefix_sched.studies.sweep.executors import LocalExecutor, RayExecutor
from prefix_sched.studies.sweep.results import ResultsFolder
from prefix_sched.studies.sweep.runner import run_sweep
from prefix_sched.studies.sweep.spec import read_spec

CALIBRATION = "sum(i * i for i in range(8_000_000))"  # about 1 s of one core
SPEC = """
seeds = [0, 1, 2, 3, 4]
metrics = ["mean", "p50", "p99", "max", "reused"]
[streams.def4]
generator = "def4"
n = {n}
r = 4
u = 1000
d = 100
delta = 1000
loads = ["as-given", 0.9, 1.1, 1.3, 1.5]
[[policies]]
name = "fcfs"
[[policies]]
name = "lpm"
[[policies]]
name = "k-lpm"
k = [1, 2, 3, 4, 8, 16]
"""


def timed_run(spec, folder: Path, executor) -> tuple[float, float, int]:
    """Wall time, summed cell time and cells of one sweep into the empty ``folder``."""
    results = ResultsFolder(folder)
    results.check()
    started = time.perf_counter()
    outcome = run_sweep(spec, results, executor)
    wall = time.perf_counter() - started
    assert not outcome.failed and not outcome.interrupted and outcome.ran == outcome.cells
    with open(folder / "timings.csv", newline="") as handle:
        cell_time = sum(float(row["wall_s"]) for row in csv.DictReader(handle))
    return wall, cell_time, outcome.cells


def capacity() -> float:
    """How much more work two plain CPU-bound processes do than one, right now (2.0 on an idle
    2-core machine): the speed-up a 2-worker sweep could reach at the moment it is measured."""
    def elapsed(count: int) -> float:
        started = time.perf_counter()
        for process in [subprocess.Popen([sys.executable, "-c", CALIBRATION]) for _ in range(count)]:
            process.wait()
        return time.perf_counter() - started

    return 2 * elapsed(1) / elapsed(2)


def measure(name: str, make_executor, spec, root: Path, reference: list) -> None:
    print(f"{name:<6} machine now: two plain processes do {capacity():.2f}x the work of one", flush=True)
    runs = {}
    for workers in (1, 2):
        folder = root / f"{name}-{workers}"
        wall, cell_time, cells = timed_run(spec, folder, make_executor(workers))
        rows = (folder / "results.csv").read_bytes()
        if reference:
            assert rows == reference[0], f"{name} with {workers} workers gave other rows"
        reference.append(rows)
        runs[workers] = wall
        overhead = (workers * wall - cell_time) / cells
        print(f"{name:<6} workers={workers} cells={cells} T={wall:7.2f} s  S={cell_time:7.2f} s  "
              f"overhead/cell={overhead * 1e3:7.1f} ms", flush=True)
    print(f"{name:<6} speed-up 2 workers / 1 worker: {runs[1] / runs[2]:.2f}x "
          f"(two plain processes afterwards: {capacity():.2f}x)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="queries per stream (default 5000)")
    parser.add_argument("--executors", default="local,ray")
    args = parser.parse_args()
    executors = args.executors.split(",")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "spec.toml").write_text(SPEC.format(n=args.n))
        spec = read_spec(root / "spec.toml")
        reference: list = []
        if "local" in executors:
            measure("local", LocalExecutor, spec, root, reference)
        if "ray" in executors:
            from prefix_sched.studies.sweep.local_ray import loopback_cluster

            with loopback_cluster(num_cpus=2) as head:
                os.environ.update(head.env)  # before ray is imported: loopback only, the head's token
                measure("ray", lambda workers: RayExecutor(head.address, workers), spec, root, reference)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
