"""Certified lower bounds on the least possible max TTFT, each with the window that proves it.

- :mod:`~prefix_sched.solvers.bounds.lower.front`: the front door, :func:`lower_bound` (the best of
  the per-query, window and runs bounds, as a :class:`LowerBound` with its certificates) and
  :func:`per_query_bound`;
- :mod:`~prefix_sched.solvers.bounds.lower.window`: the window lemma (every cache model) with its
  proof, :func:`window_value` for one window and the sweeps over all windows;
- :mod:`~prefix_sched.solvers.bounds.lower.runs`: the runs lemma (Definition 2's one-prompt cache)
  with its proof, :func:`runs_demand` and the search over windows;
- :mod:`~prefix_sched.solvers.bounds.lower.violations`: the violations lemma,
  :func:`violations_lower_bound` (at least how many queries exceed a given ``T``);
- the machinery they share: :mod:`~prefix_sched.solvers.bounds.lower.trie` (the segment trie,
  whose weights are Definition 2's cost), :mod:`~prefix_sched.solvers.bounds.lower.segment_trees`
  and :mod:`~prefix_sched.solvers.bounds.lower.credit` (what a cache model can hold of a window:
  the one place these bounds ask a cache model).

The lemmas are this toolkit's own, named so that they are not mistaken for the paper's theorems.
"""

from prefix_sched.solvers.bounds.lower.front import LowerBound, lower_bound, per_query_bound
from prefix_sched.solvers.bounds.lower.runs import RunsBound, runs_demand
from prefix_sched.solvers.bounds.lower.violations import ViolationsBound, violations_lower_bound
from prefix_sched.solvers.bounds.lower.window import WindowBound, window_value

__all__ = ["LowerBound", "RunsBound", "ViolationsBound", "WindowBound", "lower_bound", "per_query_bound",
           "runs_demand", "violations_lower_bound", "window_value"]
