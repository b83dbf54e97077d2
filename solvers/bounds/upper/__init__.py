"""Upper bounds on the least max TTFT: the best schedule found, every one checked by the evaluator.

- :mod:`~prefix_sched.solvers.bounds.upper.front`: the front door, :func:`upper_bound` (the best of
  the policies, grouped EDF and the local search, as an :class:`UpperBound` with every candidate);
- :mod:`~prefix_sched.solvers.bounds.upper.grouped_edf`: :func:`grouped_edf`, an offline order of
  clusters of close arrivals sharing a prefix;
- :mod:`~prefix_sched.solvers.bounds.upper.local_search`: :func:`improve`, windows around the worst
  query re-solved exactly by the subset DP (:func:`reorder_window`).
"""

from prefix_sched.solvers.bounds.upper.front import Candidate, UpperBound, default_policies, upper_bound
from prefix_sched.solvers.bounds.upper.grouped_edf import grouped_edf
from prefix_sched.solvers.bounds.upper.local_search import (
    DEFAULT_WINDOW, MAX_WINDOW, SearchResult, improve, reorder_window,
)

__all__ = ["Candidate", "DEFAULT_WINDOW", "MAX_WINDOW", "SearchResult", "UpperBound", "default_policies",
           "grouped_edf", "improve", "reorder_window", "upper_bound"]
