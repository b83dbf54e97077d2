"""Studies: every loop that runs solvers to check a claim or draw a figure, and the sweep engine.

- :mod:`~prefix_sched.studies.theorem2` and :mod:`~prefix_sched.studies.adversary`: Theorem 2 and
  Corollary 3 against simulation (exhaustive, Monte Carlo, adversarial local search);
- :mod:`~prefix_sched.studies.p99_rate`: P99 TTFT against the request rate;
- :mod:`~prefix_sched.studies.load_comparison`: every policy on one stream across offered loads;
- :mod:`~prefix_sched.studies.cache_models`: Section 2.1's cache claim under each cache model;
- :mod:`~prefix_sched.studies.policies`: the serving policies on the trace, Definition 4 and the
  shared-prefix workload;
- :mod:`~prefix_sched.studies.gap`: the gap report (lower bound, best schedule, every policy's gap)
  and its file format;
- :mod:`~prefix_sched.studies.appendix_a`: Appendix A against the exact solvers;
- :mod:`~prefix_sched.studies.sweep`: many configurations of one study on local processes or Ray;
- :mod:`~prefix_sched.studies.rows`: the one row type of a policy run (:class:`PolicyRow`) that
  ``compare``, the cache, policy and P99 studies and the sweep tabulate, its measures named as in
  :mod:`~prefix_sched.theory.measures`;
- :mod:`~prefix_sched.studies.data`: where the team's shared data is.

Notebooks and benchmarks call these; a study holds no solver of its own.
"""
