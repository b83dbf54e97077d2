"""Benchmark: the second seed's study grid, every scheduler at every load, on worker processes.

Run: ``python benchmarks/serving_grid.py`` (``--workers`` 2; ``--requests`` 16,384).

The grid of :func:`prefix_sched.studies.serving.seed_experiment.grid_points`: the four schedulers of
the seed's comparison (``sarathi``, ``sarathi-spf``, ``slai-fcfs``, ``slai``) at the ten loads from
0.2 to 1.6 requests/s, each a full run of the seed's workload (16,384 ShareGPT requests, truncated
exponential arrivals, classes 5%/95% at 100/500 ms, budget 512, KV 219,104 tokens, the ``seed``
preset), with the seed's objective checked (:func:`~prefix_sched.studies.serving.seed_experiment.run_grid`).

Printed: the wall time of the grid on ``--workers`` processes (issue 21's limit: 3 minutes with 2),
the sum of the runs' own wall and CPU times (what one process would take), their ratio to the grid's
wall time (the speed-up the workers gave), and the slowest run.
"""

from __future__ import annotations

import argparse

from prefix_sched.studies.serving.seed_experiment import SEED_REQUESTS, Setup, grid_points, run_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=SEED_REQUESTS)
    args = parser.parse_args()
    points = grid_points(Setup(requests=args.requests))
    grid = run_grid(points, args.workers)
    runs_wall = sum(r.wall_s for r in grid.rows)
    runs_cpu = sum(r.cpu_s for r in grid.rows)
    slowest = max(grid.rows, key=lambda r: r.wall_s)
    print(f"grid: {len(points)} runs of {args.requests} requests on {args.workers} workers: {grid.wall_s:.1f} s wall "
          f"(limit 180 s)")
    print(f"runs: {runs_wall:.1f} s wall, {runs_cpu:.1f} s CPU summed; workers' speed-up {runs_wall / grid.wall_s:.2f}x; "
          f"slowest {slowest.scheduler} at {float(slowest.rate):.3f}/s: {slowest.wall_s:.1f} s")


if __name__ == "__main__":
    main()
