"""The cluster driver: route every request at its arrival to one engine and advance the engines in
between (:func:`drive`); with one engine it is the single engine's loop.

When the router decides (the engine's rules, :mod:`prefix_sched.solvers.serving.engine`): at arrival
``a``, in arrival order, on every engine's state after each iteration that *starts before* ``a`` has
run and after every earlier request has been routed. The engines with work wait in a heap by the
start of their next iteration; only those starting before the next arrival are advanced, each with
that arrival as the bound of its decode stretches.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from prefix_sched.solvers.serving.engine.loop import Runner
from prefix_sched.solvers.serving.engine.table import RequestTable


def drive(table: RequestTable, runners: list[Runner], router: Any,
          progress: Callable[[int], None] | None) -> None:
    """Route every request at its arrival, in arrival order, advancing the engines in between (the
    module docstring's state at an arrival); then run every engine until it has nothing left."""
    arrivals = table.arrival_list
    n = table.n
    heap: list[tuple[int, int]] = []  # (start of the next iteration, engine) of the engines with work
    last = None
    report_every = max(1, n // 200)
    next_report = report_every
    engines = [r.e for r in runners]
    for k in range(n):
        a = arrivals[k]
        if a != last:
            while heap and heap[0][0] < a:
                g = heappop(heap)[1]
                runner = runners[g]
                runner.advance(a)
                if not runner.idle:
                    heappush(heap, (runner.now, g))
            last = a
        g = router.choose(k, a)
        runner = runners[g]
        if runner.idle:
            heappush(heap, (a, g))
        runner.push(k, a)
        if progress is not None and k >= next_report:
            progress(sum(e.n_done for e in engines))
            next_report = k + report_every
    for runner in runners:
        runner.advance(None)
    if any(e.outstanding for e in engines):
        raise RuntimeError("internal error: a request was left unfinished")
    if progress is not None:
        progress(n)

