"""Appendix A's algorithm (Theorem 4), repaired: certify infeasibility or schedule, block by block.

- :mod:`~prefix_sched.solvers.approx.blocks`: the preparation (the counting certificate and the
  block boundaries with their boundary zones);
- :mod:`~prefix_sched.solvers.approx.appendix_a`: :func:`approx`, the block DAG whose vertices
  remember the cache, the clock and the boundary-zone queries served; an exact answer for ``T``
  first, then at most ``floor(eps n)`` queries over ``T`` or a certificate that none exists; its
  block DP is the subset DP of :mod:`~prefix_sched.solvers.exact.subset_dp`;
- :mod:`~prefix_sched.solvers.approx.graph`: the block DAG as a GraphML file (:func:`write_block_dag`).
"""

from prefix_sched.solvers.approx.appendix_a import ApproxResult, approx
from prefix_sched.solvers.approx.graph import write_block_dag

__all__ = ["ApproxResult", "approx", "write_block_dag"]
