"""``round-robin``: the ``k``-th request, in arrival order (ties: workload order), goes to engine
``k mod G``; the engines' state is not read.

Examples
--------
Three engines, five requests: engines 0, 1, 2, 0, 1.

>>> r = RoundRobin(None, None, [None] * 3, None)
>>> [r.choose(k, 0) for k in range(5)]
[0, 1, 2, 0, 1]
"""

from __future__ import annotations


class RoundRobin:
    def __init__(self, spec, table, engines, rng) -> None:
        self.G = len(engines)
        self.next = 0

    def choose(self, k: int, now: int) -> int:
        g = self.next
        self.next = (g + 1) % self.G
        return g
