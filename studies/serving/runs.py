"""Running a study's points on worker processes, and its versioned JSON file.

Every serving study (:mod:`.seed_experiment`, :mod:`.stability`, :mod:`.both_seeds`) runs many
independent engine runs: :func:`map_points` runs a picklable function over its points in this
process or on a ``forkserver`` pool (:func:`pool`), results in the points' order, with the wall
time. :func:`write_study_file` and :func:`read_study_file` write and read a study's one JSON file,
checked for its format name and version. What it leaves out: what a point is and what its run
measures (each study's own).

Examples
--------
>>> map_points(abs, [-2, 3], workers=1)[0]
[2, 3]
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.outputs import write_text

P = TypeVar("P")
R = TypeVar("R")


def pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, ``forkserver`` (``spawn`` where there is none): no worker
    inherits the parent's threads or its open files."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def map_points(run: Callable[[P], R], points: Iterable[P], workers: int = 2,
               done: Callable[[R], None] | None = None) -> tuple[list[R], float]:
    """``run`` of every point (results in the points' order) and the wall time in seconds, on
    ``workers`` processes (1, or a single point: in this process); ``done`` hears each result as it
    comes back, in order. ``run`` must be picklable (a module-level function or a ``partial``)."""
    points = list(points)
    if type(workers) is not int or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    started = time.perf_counter()
    results: list[R] = []
    if workers == 1 or len(points) <= 1:
        outcomes: Iterable[R] = (run(p) for p in points)
        executor = None
    else:
        executor = pool(min(workers, len(points)))
        outcomes = executor.map(run, points)
    try:
        for result in outcomes:
            results.append(result)
            if done is not None:
                done(result)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return results, time.perf_counter() - started


def write_study_file(study: dict[str, Any], path: Path | str) -> None:
    """Write a study dict as JSON, atomically (:func:`~prefix_sched.theory.outputs.write_text`)."""
    write_text(path, json.dumps(study, indent=1) + "\n", "the study file")


def read_study_file(path: Path | str, name: str, version: int) -> dict[str, Any]:
    """Read a study file of format ``name`` and ``version``; FormatError when it is not one."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise FormatError(f"cannot read the study file {Path(path).name}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != name or data.get("version") != version:
        raise FormatError(f"{Path(path).name}: not a {name} file of version {version}")
    return data
