"""``least-work``: the engine with the fewest outstanding tokens, ties to the lowest index.

An engine's outstanding work at an arrival (its state then) is the sum, over the requests routed to
it and not finished, of the prompt tokens each has still to prefill (``|p'|``, its prompt plus the
tokens it had generated when preempted, while it waits; what is left of it while it prefills; less
what its prefix cache holds, once admitted) and the output tokens it has still to emit
(``o - g``). A new request adds ``|p| + o``; each prefill token computed and each token emitted
takes one off; a preemption puts back what recompute will redo.

Examples
--------
Two engines, budget 4, cost 10 us + 1 us per token. A (prompt 8, output 2) at 0 and B (prompt 1,
output 9) at 0: A to engine 0 (both empty), B to engine 1 (engine 0 now holds A's 10 tokens). C (prompt 2, output 1) at 15: engine 0 ran [0, 14] (A's first 4
prompt tokens) and started [14, 28] (A's last 4 tokens and its first output token): 1 token left;
engine 1 ran [0, 11] (B's prefill, its first token) and [11, 22] (one decode): 7 left. C to engine 0.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.solvers.serving.engine import serve
>>> w = Workload.from_lengths([8, 1, 2], [2, 9, 1], [0, 0, 15])
>>> serve(w, "sarathi", budget=4, cost="c0=10,cp=1,cd=1", engines=2, router="least-work").timeline.engine.tolist()
[0, 1, 0]
"""

from __future__ import annotations


class LeastWork:
    def __init__(self, spec, table, engines, rng) -> None:
        self.engines = engines

    def choose(self, k: int, now: int) -> int:
        loads = [e.work for e in self.engines]
        return loads.index(min(loads))
