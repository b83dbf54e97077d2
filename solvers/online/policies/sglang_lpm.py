"""``sglang-lpm[:T]``: SGLang's LPM as it runs, with its FCFS fallback.

At every decision where more than ``T`` queries wait (SGLang's default ``T`` = 128) an FCFS step
serves the oldest (``-r_q``); otherwise an LPM step serves ``argmax m_q`` (ties to the oldest, or a
uniformly random tied query with ``tie_break="random"``). The label says so, and the run counts
the decisions taken by FCFS (``fcfs_fallbacks``): a result must not be credited to LPM when FCFS
ran. Queues: :class:`~prefix_sched.solvers.online.queues.lpm.LpmStepQueue` with a threshold, over
the LPM index of the cache or the rescan.
"""

from __future__ import annotations

from prefix_sched.solvers.online.queues import LpmStepQueue, QueueInputs, make_lpm_queue

THRESHOLD = 128
"""SGLang's default: LPM turns into FCFS above this many waiting requests."""


def label(spec, ties: str) -> str:
    """``sglang-lpm(fcfs above T waiting)``."""
    return f"sglang-lpm(fcfs above {spec.param} waiting{ties})"


def indexed_queue(spec, run: QueueInputs) -> LpmStepQueue:
    """FCFS above ``T`` waiting, else LPM, over the LPM index for the run's cache."""
    return _queue("indexed", spec, run)


def naive_queue(spec, run: QueueInputs) -> LpmStepQueue:
    """The same steps over the rescanning LPM queue."""
    return _queue("naive", spec, run)


def _queue(kind: str, spec, run: QueueInputs) -> LpmStepQueue:
    return LpmStepQueue(make_lpm_queue(kind, run.prompts, run.state, spec.tie_break == "random"),
                        threshold=spec.param)
