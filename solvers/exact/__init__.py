"""Exact engines for Definition 2, behind one front door, every answer with its evidence.

- :mod:`~prefix_sched.solvers.exact.front`: the front door, :func:`decide` (is there an order with
  every TTFT ``<= T``?), :func:`minimize_max_ttft` and :func:`minimize_violations`, each returning
  an :class:`ExactResult` (FEASIBLE / OPTIMAL with an evaluator-checked order, INFEASIBLE with a
  proof, UNKNOWN on a time-out, never "infeasible");
- the engines: :mod:`~prefix_sched.solvers.exact.dp` (the subset DP over served sets),
  :mod:`~prefix_sched.solvers.exact.drops` (the fewest queries to serve last),
  :mod:`~prefix_sched.solvers.exact.cpsat` (OR-Tools CP-SAT), :mod:`~prefix_sched.solvers.exact.brute`
  (every permutation, n <= 8) and :mod:`~prefix_sched.solvers.exact.mip` (a HiGHS MIP, the peer the
  others are measured against);
- :mod:`~prefix_sched.solvers.exact.subset_dp`: the layered subset DP over (done set, cache) that the
  DP and the drop DP run, and with them the local search's window DP and Appendix A's block DP.

They hold for Definition 2's one-prompt cache only and refuse any other cache model.
"""

from prefix_sched.solvers.exact.front import (
    EXACT_SOLVERS, ExactResult, decide, minimize_max_ttft, minimize_violations, warm_start,
)

__all__ = ["EXACT_SOLVERS", "ExactResult", "decide", "minimize_max_ttft", "minimize_violations", "warm_start"]
