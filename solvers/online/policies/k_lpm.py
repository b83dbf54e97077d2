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
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.parameters import read_count
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
    """Read k: a non-negative integer (an ``int``, or digits 0-9 read by
    :func:`~prefix_sched.theory.parameters.read_count`) or ``inf`` (``"inf"``, ``"infinity"`` in
    any case, or ``math.inf``).

    >>> parse_k("3"), parse_k("inf"), parse_k(4)
    (3, inf, 4)
    >>> parse_k("²")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: k must be written in ASCII digits: '²' (SUPERSCRIPT TWO) is not one, got '²'
    """
    if isinstance(value, str):
        if value.lower() in ("inf", "infinity"):
            return INFINITY
        try:
            return read_count(value, "k")
        except InputError as err:
            if "ASCII" in str(err) or ">= 0" in str(err):
                raise
            raise InputError(f"k must be a non-negative integer or 'inf', got {brief(value)}") from None
    if isinstance(value, float) and value == INFINITY:
        return INFINITY
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"k must be a non-negative integer or 'inf', got {brief(value)}")
    if value < 0:
        raise InputError(f"k must be >= 0, got {value!r}")
    return value


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
