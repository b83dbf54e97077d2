"""``least-outstanding``: the engine with the fewest unfinished requests (routed to it and not
finished, at the engine's state at the arrival), ties to the lowest index.

Examples
--------
Two engines, budget 4, cost 10 us + 1 us per token. A (prompt 4, output 3) at 0 goes to engine 0
(both empty). B (prompt 1, output 1) at 5: engine 0's first iteration [0, 14] started before 5, yet
A is not finished (one token of three), so engine 0 has 1 outstanding, engine 1 none: B to engine 1.
C (prompt 1, output 1) at 12: engine 1 ran B alone in [5, 16] (started before 12, so B counts as
finished): engine 0 has 1, engine 1 has 0: C to engine 1. D at 13: engine 1 holds C (its
iteration starting at 16 has not run): 1 and 1, D to engine 0.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.solvers.serving.engine import serve
>>> w = Workload.from_lengths([4, 1, 1, 1], [3, 1, 1, 1], [0, 5, 12, 13])
>>> serve(w, "sarathi", budget=4, cost="c0=10,cp=1,cd=1", engines=2, router="least-outstanding").timeline.engine.tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations


class LeastOutstanding:
    def __init__(self, spec, table, engines, rng) -> None:
        self.engines = engines

    def choose(self, k: int, now: int) -> int:
        loads = [e.outstanding for e in self.engines]
        return loads.index(min(loads))
