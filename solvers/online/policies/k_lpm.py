"""``k-lpm:K``: Algorithm 1 of the paper, ``K`` LPM steps then one FCFS step, cycle after cycle.

At decision ``s`` (from 0), for a waiting query ``q`` of arrival rank ``r_q`` (0 = oldest) and
cached prefix ``m_q`` (``state.reuse(p_q)`` under the run's cache model):

- an LPM step serves ``argmax m_q``, ties to the oldest (or with ``tie_break="random"`` a uniformly
  random tied query, one draw per decision);
- an FCFS step serves ``argmax -r_q``, the oldest.

Decision ``s`` is an FCFS step iff ``s mod (K + 1) = K`` (``cycle_start="lpm"``: a cycle opens
with its LPM steps) or ``s mod (K + 1) = 0`` (``cycle_start="fcfs"``). ``K = 0`` is FCFS
(:mod:`~prefix_sched.solvers.online.policies.fcfs`), ``K = inf`` is LPM
(:mod:`~prefix_sched.solvers.online.policies.lpm`); both share this module's queues.

Indexed: :class:`~prefix_sched.solvers.online.queues.lpm.LpmStepQueue` over the LPM index of the
cache (:func:`~prefix_sched.solvers.online.queues.lpm.make_lpm_queue`); naive: the same steps over
the rescanning LPM queue.

Examples
--------
>>> [fcfs_steps(2, "lpm")(s) for s in range(6)], [fcfs_steps(2, "fcfs")(s) for s in range(3)]
([False, False, True, False, False, True], [True, False, False])
"""

from __future__ import annotations

import math
from collections.abc import Callable

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.queues import LpmStepQueue, QueueInputs, make_lpm_queue

INFINITY = math.inf


def fcfs_steps(k: float | None, cycle_start: str) -> Callable[[int], bool]:
    """Algorithm 1's cycle: the function telling whether decision ``step`` (from 0) is an FCFS step."""
    if k == 0:
        return lambda step: True
    if k is None or k == INFINITY:
        return lambda step: False
    period, at = int(k) + 1, 0 if cycle_start == "fcfs" else k
    return lambda step: step % period == at


def parse_k(value: object) -> float:
    """Read k: a non-negative integer or ``"inf"``.

    >>> parse_k("3"), parse_k("inf")
    (3, inf)
    """
    k = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("inf", "infinity"):
            return INFINITY
        k = int(text) if text.lstrip("-").isdigit() else None
    elif value == INFINITY:
        return INFINITY
    if isinstance(k, bool) or not isinstance(k, int):
        raise InputError(f"k must be a non-negative integer or 'inf', got {value!r}")
    if k < 0:
        raise InputError(f"k must be >= 0, got {value!r}")
    return k


def label(spec, ties: str) -> str:
    """``k-lpm(k=K)``, ``,fcfs-first`` added for that cycle start (random ties are not shown)."""
    k = "inf" if spec.k == INFINITY else int(spec.k)
    extra = "" if spec.cycle_start == "lpm" else ",fcfs-first"
    return f"k-lpm(k={k}{extra})"


def indexed_queue(spec, run: QueueInputs) -> LpmStepQueue:
    """Algorithm 1's steps over the LPM index for the run's cache."""
    return _queue("indexed", spec, run)


def naive_queue(spec, run: QueueInputs) -> LpmStepQueue:
    """Algorithm 1's steps over the rescanning LPM queue."""
    return _queue("naive", spec, run)


def _queue(kind: str, spec, run: QueueInputs) -> LpmStepQueue:
    lpm = make_lpm_queue(kind, run.prompts, run.state, spec.tie_break == "random")
    return LpmStepQueue(lpm, fcfs_steps(spec.k, spec.cycle_start))
