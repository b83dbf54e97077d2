"""How far from optimal: certified lower bounds on the least max TTFT, and the best schedule found.

- :mod:`~prefix_sched.solvers.bounds.lower`: :func:`lower_bound` (the trie-work window bound over
  all windows under any cache model, the runs bound under Definition 2) and
  :func:`violations_lower_bound`, one module per bound, each with its lemma and proof (this
  toolkit's lemmas, not the paper's theorems);
- :mod:`~prefix_sched.solvers.bounds.upper`: :func:`upper_bound`, the best schedule found (every
  policy, grouped EDF, an exact window local search), each order re-checked by the evaluator.
"""

from prefix_sched.solvers.bounds.lower import LowerBound, lower_bound, violations_lower_bound
from prefix_sched.solvers.bounds.upper import UpperBound, upper_bound

__all__ = ["LowerBound", "UpperBound", "lower_bound", "upper_bound", "violations_lower_bound"]
