"""What a waiting queue is built over: the run's queries by arrival rank, its cache and its timebase."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.theory.cache import CacheState
from prefix_sched.theory.prompt import Prompt


@dataclass(frozen=True)
class QueueInputs:
    """The inputs of a policy's waiting queue, by arrival rank (0 = oldest).

    Attributes
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]``: the prompt of the query of that rank.
    arrivals : sequence of int
        Scaled integer arrival times (:func:`~prefix_sched.theory.cost.integer_timebase`).
    outputs : sequence of int or None
        Output lengths (``lof`` only; ``None`` otherwise).
    state : CacheState
        The run's cache, which the server serves each query into.
    scale, alpha : int
        The integer timebase of the cost ``scale (|p| - m) + alpha (|p|^2 - m^2)``.
    """

    prompts: Sequence[Prompt]
    arrivals: Sequence[int]
    outputs: Sequence[int] | None
    state: CacheState
    scale: int
    alpha: int
