"""The routers of a cluster of engines: one module per router, and the table that registers them.

Each module (``round_robin.py``, ``least_work.py``, ``prefix_aware.py``, ...) holds one router's
rule; :mod:`~prefix_sched.solvers.serving.routers.registry` holds the table (:data:`ROUTERS`) and the
one parse point (:func:`parse_router`), re-exported here with :func:`build_router`. A router is a
class built as ``cls(spec, table, engines, rng)`` whose ``choose(k, now)`` returns the engine of the
request of arrival rank ``k`` arriving at ``now`` (ticks), reading the engines' state at ``now``
(:mod:`~prefix_sched.solvers.serving.engine`).
"""

from prefix_sched.solvers.serving.routers.registry import (
    PREFIX_AWARE_DEFAULTS,
    ROUTERS,
    RouterName,
    RouterRow,
    RouterSpec,
    build_router,
    parse_router,
)

__all__ = ["PREFIX_AWARE_DEFAULTS", "ROUTERS", "RouterName", "RouterRow", "RouterSpec", "build_router",
           "parse_router"]
