"""``lpm``: longest prefix match (SGLang, RadixAttention).

Key: ``m_q``, the waiting query's cached prefix under the run's cache model (``state.reuse(p_q)``;
under ``last`` the overlap with the previous prompt, under a radix cache the longest prefix held
anywhere in the tree); ties to the oldest, or with ``tie_break="random"`` a uniformly random tied
query. It is k-LPM (Algorithm 1) with ``k = inf``, and shares its queues
(:mod:`~prefix_sched.solvers.online.policies.k_lpm`): every decision is an LPM step. No cap on the
queue: SGLang's LPM as it runs, FCFS above 128 waiting, is
:mod:`~prefix_sched.solvers.online.policies.sglang_lpm`.
"""

from prefix_sched.solvers.online.policies.k_lpm import indexed_queue, naive_queue

__all__ = ["indexed_queue", "naive_queue"]
