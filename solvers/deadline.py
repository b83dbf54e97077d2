"""One wall-clock deadline, passed down through every engine so that a time limit is kept.

A :class:`Deadline` is a point on the monotonic clock (or none: no limit). Engines accept
``time_limit`` as seconds or as a Deadline (:meth:`Deadline.of`), ask :meth:`Deadline.expired` inside
every loop that can run long (every :data:`CHECK_EVERY` cheap steps, every :data:`CHECK_EXPANSIONS`
expanded search states), and hand a
sub-engine what is *left*: :meth:`Deadline.share` (a fraction of the remaining time) never ends after
its parent, so the whole call ends by the one deadline its caller set. A time-out is an UNKNOWN
verdict, never an INFEASIBLE one; that is the engines' job, not this module's.

What it leaves out: stopping code that does not look at the clock (a CP-SAT or HiGHS run gets the
remaining seconds as its own limit).

Examples
--------
>>> deadline = Deadline.of(60)
>>> deadline.expired(), 59 < deadline.remaining() <= 60
(False, True)
>>> half = deadline.share(0.5)
>>> half.remaining() <= 30 and half.remaining() <= deadline.remaining()
True
>>> Deadline.of(None).remaining()
inf
>>> Deadline.of("0")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: time limit must be > 0 seconds, got '0'
"""

from __future__ import annotations

import math
import time

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import exact_number

CHECK_EVERY = 1024  # cheap loop steps between two clock reads (a mask: keep it a power of two)
CHECK_EXPANSIONS = 16  # search states expanded between two clock reads (each tries many successors)


class Deadline:
    """A time on :func:`time.monotonic`'s clock by which an engine must answer (None: never)."""

    __slots__ = ("end", "limit_s")

    def __init__(self, end: float | None, limit_s: float | None = None):
        self.end = end
        self.limit_s = limit_s

    @classmethod
    def of(cls, time_limit: object) -> Deadline:
        """``time_limit`` seconds from now (a number or a string like ``"2.5"``), None for no limit,
        or a Deadline, returned as it is.

        Raises
        ------
        InputError
            A limit that is not a number, not finite, or not > 0.
        """
        if isinstance(time_limit, Deadline):
            return time_limit
        if time_limit is None:
            return cls(None)
        seconds = exact_number(time_limit, "time limit")
        if seconds <= 0:
            raise InputError(f"time limit must be > 0 seconds, got {time_limit!r}")
        return cls(time.monotonic() + float(seconds), float(seconds))

    def remaining(self) -> float:
        """Seconds left (0 when passed, ``inf`` without a limit)."""
        if self.end is None:
            return math.inf
        return max(self.end - time.monotonic(), 0.0)

    def expired(self) -> bool:
        """Whether the deadline has passed (one clock read)."""
        return self.end is not None and time.monotonic() >= self.end

    def share(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` (in (0, 1]) of the remaining time from now; unlimited stays unlimited.

        >>> Deadline.of(None).share(0.5).end is None
        True
        """
        if not 0 < fraction <= 1:
            raise InputError(f"a share of the remaining time must lie in (0, 1], got {fraction!r}")
        if self.end is None:
            return self
        now = time.monotonic()
        left = max(self.end - now, 0.0)
        return Deadline(min(now + fraction * left, self.end), fraction * left)

    def __repr__(self) -> str:
        return "Deadline(no limit)" if self.end is None else f"Deadline({self.remaining():.3f} s left)"
