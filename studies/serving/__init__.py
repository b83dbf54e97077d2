"""Studies of the serving model (second seed): the loops that run the serving engine to check a claim.

- :mod:`~prefix_sched.studies.serving.capacity`: the largest arrival rate meeting an objective, by
  bisection on the rate (``prefix-sched capacity``);
- :mod:`~prefix_sched.studies.serving.seed_experiment`: the seed's experiment in the model (SLAI
  against Sarathi-Serve on the ShareGPT lengths and the Azure conversation trace, the ablations, the
  capacities, Fig. 5(a)), run on worker processes, and its results file;
- :mod:`~prefix_sched.studies.serving.plots`: the study's figures (notebook 09, docs/serving.md).

The engine and its schedulers are :mod:`prefix_sched.solvers.serving`; the model (requests, iteration
cost, measures, objectives) is :mod:`prefix_sched.theory.serving`.
"""

from prefix_sched.studies.serving import seed_experiment
from prefix_sched.studies.serving.capacity import Capacity, Probe, find_capacity

__all__ = ["Capacity", "Probe", "find_capacity", "seed_experiment"]
