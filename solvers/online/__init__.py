"""Online policies: which waiting query to serve next, given the cache, the clock and the decisions.

- :mod:`~prefix_sched.solvers.online.policies`: one module per policy (its key rule as a formula,
  its indexed waiting queue and its naive reference) and the table that registers them, with the
  one parse point (:func:`parse_policy`: ``fcfs``, ``k-lpm:3``, ``lpm-aging:64``, ``hrrn``, ...);
- :mod:`~prefix_sched.solvers.online.queues`: the index structures the policies share (LPM's
  indexes, the match tracker, key buckets) and the naive rescans they are tested against;
- :mod:`~prefix_sched.solvers.online.simulate`: a policy run on a stream (online, or the fixed-order
  view), scored by the Definition 2 evaluator, with fairness figures (:class:`PolicyRun`).

Examples
--------
>>> from prefix_sched.solvers.online import parse_policy, simulate
>>> from prefix_sched.theory import Stream
>>> s = Stream.from_records([("a", (("u", 4), ("x", 1)), 0), ("b", (("v", 4),), 0), ("c", (("u", 4),), 0)])
>>> simulate(s, parse_policy("lpm")).order
(0, 2, 1)
"""

from prefix_sched.solvers.online.policies import PolicyName, PolicySpec, parse_k, parse_policy
from prefix_sched.solvers.online.simulate import PolicyRun, simulate

__all__ = ["PolicyName", "PolicyRun", "PolicySpec", "parse_k", "parse_policy", "simulate"]
