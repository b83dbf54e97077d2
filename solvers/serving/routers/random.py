"""``random``: each request goes to engine ``rng.integers(G)``, one draw of the router's seeded
generator (:func:`~prefix_sched.theory.serving.traces.router_generator`) per request, in arrival
order; the engines' state is not read.

Examples
--------
>>> import numpy as np
>>> r = Random(None, None, [None] * 4, np.random.default_rng(1))
>>> [r.choose(k, 0) for k in range(5)] == np.random.default_rng(1).integers(4, size=5).tolist()
True
"""

from __future__ import annotations


class Random:
    def __init__(self, spec, table, engines, rng) -> None:
        self.G = len(engines)
        self.rng = rng

    def choose(self, k: int, now: int) -> int:
        return int(self.rng.integers(self.G))
