"""The online policies: one module per policy, and the table that registers them.

Each policy module (``fcfs.py``, ``k_lpm.py``, ``hrrn.py``, ...: the policy's name with ``_`` for
``-``) holds its key rule (a formula in its docstring), its indexed waiting queue
(``indexed_queue(spec, run)``) and its naive reference (``naive_queue(spec, run)``), built from the
shared index structures of :mod:`~prefix_sched.solvers.online.queues`.

:mod:`~prefix_sched.solvers.online.policies.registry` holds the one table (:data:`POLICIES`, a row
per policy) and everything derived from it, re-exported here: :class:`PolicyName`, the one parse
point :func:`parse_policy` (the forms of :data:`POLICY_FORMS`: ``k-lpm:3``, ``lpm-aging:64``,
``hrrn``, ...), :class:`PolicySpec`, :func:`make_policy_queue`, the lists (:data:`POLICY_FORMS`,
:data:`POLICY_EXAMPLES`, :data:`LPM_FAMILY`, :data:`RANDOM_TIES`, :data:`PARAMETERS`) and the rules
on the options a command shares between its policy runs (:func:`policy_runs`, :func:`option_refusal`).

A new policy is its module here, its row in :data:`POLICIES` and its line in docs/policies.md.

Examples
--------
>>> [parse_policy(name).label for name in POLICY_EXAMPLES[:4]]
['fcfs', 'lpm', 'k-lpm(k=3)', 'sglang-lpm(fcfs above 128 waiting)']
"""

from prefix_sched.solvers.online.policies.registry import (
    CYCLE_STARTS, INFINITY, LPM_FAMILY, PARAMETERS, POLICIES, POLICY_EXAMPLES, POLICY_FORMS, POLICY_OPTIONS,
    RANDOM_TIES, ROWS, SGLANG_THRESHOLD, TIE_BREAKS, PolicyName, PolicyEntry, PolicySpec, make_policy_queue,
    option_refusal, parse_k, parse_policy, policy_runs, same_run, takes_k_option,
)

__all__ = [
    "CYCLE_STARTS", "INFINITY", "LPM_FAMILY", "PARAMETERS", "POLICIES", "POLICY_EXAMPLES", "POLICY_FORMS",
    "POLICY_OPTIONS", "RANDOM_TIES", "ROWS", "SGLANG_THRESHOLD", "TIE_BREAKS", "PolicyName", "PolicyEntry", "PolicySpec",
    "make_policy_queue", "option_refusal", "parse_k", "parse_policy", "policy_runs", "same_run", "takes_k_option",
]
