"""prefix-sched: scheduling LLM queries with prefix reuse under TTFT bounds.

The subpackages follow the repository's layout:

- :mod:`prefix_sched.theory` - streams, the Definition 2 evaluator, generators, bounds.
- :mod:`prefix_sched.solvers` - online policies (FCFS, LPM, k-LPM).
- :mod:`prefix_sched.reductions` - the Theorem 1 reduction from 3-PARTITION.
- :mod:`prefix_sched.gpu_validation` - replaying schedules on a real transformer.
"""

__version__ = "0.1.0"
