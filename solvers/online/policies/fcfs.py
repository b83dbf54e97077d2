"""``fcfs``: first come, first served.

Key: ``-r_q``, the arrival rank (0 = oldest): the oldest waiting query is served. It is k-LPM
(Algorithm 1) with ``k = 0``, and shares its queues
(:mod:`~prefix_sched.solvers.online.policies.k_lpm`): every decision is an FCFS step.
"""

from prefix_sched.solvers.online.policies.k_lpm import indexed_queue, naive_queue

__all__ = ["indexed_queue", "naive_queue"]
