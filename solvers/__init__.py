"""Solvers: everything that computes a schedule, or a bound on the best one, for a stream.

One subpackage per kind, lowest first (a subpackage imports only those before it, and the base):

- the base, here: :mod:`~prefix_sched.solvers.status` (one ``Status`` enum with its exit codes,
  objectives and solver names) and :mod:`~prefix_sched.solvers.deadline` (one time limit for
  every engine);
- :mod:`prefix_sched.solvers.online`: the online policies (FCFS, LPM, k-LPM and what serving
  systems run), their indexed waiting queues with naive references, and the simulator;
- :mod:`prefix_sched.solvers.exact`: exact engines (DP, drop DP, CP-SAT, brute force, a HiGHS MIP
  peer) behind one front door (``decide``, ``minimize_max_ttft``, ``minimize_violations``);
- :mod:`prefix_sched.solvers.approx`: Appendix A's certify-or-schedule block algorithm;
- :mod:`prefix_sched.solvers.bounds`: certified lower bounds and the best schedule found (upper
  bounds) on the least max TTFT.

Loops that run these to check a claim or draw a figure live in :mod:`prefix_sched.studies`.
"""
