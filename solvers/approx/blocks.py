"""Appendix A's preparation: cost lower bounds, the counting certificate, and the block boundaries.

Everything here assumes Theorem 4's setting: alpha = 0, integer prompt lengths and arrival times,
and a TTFT bound ``T`` (a positive integer). Nothing here schedules; it only looks at the data.

- :func:`~prefix_sched.theory.cost.cost_floors` gives, for each query, ``lb_q = |p_q| - max_{q' != q}
  ov(p_q, p_q')``: no predecessor can make ``q`` cheaper. It is ``>= 1`` exactly when ``q`` is not a
  token prefix of another query's prompt (Theorem 4's precondition).
- :func:`counting_certificate`: queries arriving in ``[x, y]`` are processed, in a schedule that
  meets ``T``, inside ``[x, y + T]``; so ``sum(lb) > y + T - x`` proves that no schedule meets ``T``.
- :func:`plan_blocks` cuts the stream, by arrival, into blocks ``[t_i, t_{i+1})`` whose spans are
  at least ``T`` and whose sizes are at least ``block_size``. The *zone* of boundary ``t`` is the
  queries arriving in ``[t - T, t)``: the latest arrivals of the block before it, which the paper
  drops. With costs ``>= 1`` a zone holds at most ``2T - 1`` queries, or the counting certificate
  fires (they are all processed inside ``[t - T, t + T - 1]``).

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 3), ("x", 1)), 0), ("b", (("u", 3), ("y", 2)), 1),
...                          ("c", (("u", 3),), 2)])
>>> counting_certificate(s, 1)
CountingCertificate(first_arrival=0, last_arrival=1, queries=(0, 1), work=3, room=2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import CHECK_EVERY, Deadline
from prefix_sched.theory.cost import cost_floors
from prefix_sched.theory.stream import Stream

WINDOW_SPANS = 4  # counting windows reach this many T past their first arrival


@dataclass(frozen=True)
class CountingCertificate:
    """Proof that no schedule meets T: the queries arriving in ``[first_arrival, last_arrival]``
    need ``work`` token-times at least, but only ``room = last - first + T`` are available."""

    first_arrival: int
    last_arrival: int
    queries: tuple[int, ...]
    work: int
    room: int

    def explain(self, stream: Stream) -> str:
        """One sentence naming the window and its queries."""
        ids = [stream.queries[i].qid for i in self.queries[:8]]
        more = f" and {len(self.queries) - 8} more" if len(self.queries) > 8 else ""
        return (f"the {len(self.queries)} queries arriving in [{self.first_arrival}, {self.last_arrival}] "
                f"({', '.join(map(repr, ids))}{more}) need at least {self.work} token-times of prefill, "
                f"but a schedule meeting T has only {self.room} between their first arrival and "
                "their last deadline")


@dataclass(frozen=True)
class Block:
    """Block ``i``: arrivals in ``[start, end)`` (``end`` is None for the last block).

    ``kept`` arrive before ``end - T`` and must finish by ``end``; ``zone`` (arrivals in
    ``[end - T, end)``) may be served before or after ``end``. Indices are stream indices sorted
    by arrival.
    """

    index: int
    start: int
    end: int | None
    kept: tuple[int, ...]
    zone: tuple[int, ...]


def counting_certificate(stream: Stream, ttft: int, floors: tuple[int, ...] | None = None, *,
                         time_limit: float | Deadline | None = None) -> CountingCertificate | None:
    """The first arrival window whose queries cannot all meet ``ttft``, or None.

    Windows start at an arrival ``x`` and end at an arrival ``y <= x + WINDOW_SPANS * T`` (any set
    of windows gives a valid proof; longer windows are left to the block DP). With a
    ``time_limit`` (seconds or a shared :class:`~prefix_sched.solvers.deadline.Deadline`) the scan
    stops when it passes and says None: fewer windows checked, no claim made.
    """
    stop = Deadline.of(time_limit)
    floors = cost_floors(stream) if floors is None else floors
    order = stream.arrival_order
    arrivals = [stream.queries[i].arrival for i in order]
    n = len(order)
    scanned = 0
    for first in range(n):
        if first and arrivals[first] == arrivals[first - 1]:
            continue
        work = 0
        for last in range(first, n):
            scanned += 1
            if not scanned % CHECK_EVERY and stop.expired():
                return None
            if arrivals[last] - arrivals[first] > WINDOW_SPANS * ttft:
                break
            work += floors[order[last]]
            room = arrivals[last] + ttft - arrivals[first]
            if work > room and (last + 1 == n or arrivals[last + 1] != arrivals[last]):
                return CountingCertificate(arrivals[first], arrivals[last], tuple(order[first:last + 1]),
                                           work, room)
    return None


def plan_blocks(stream: Stream, ttft: int, block_size: int, zone_budget: int | None) -> tuple[Block, ...]:
    """Cut the stream into blocks of span ``>= ttft`` and ``>= block_size`` queries.

    ``zone_budget`` (None: no limit) caps the total number of zone queries: boundaries whose zones
    are largest are removed (merging their blocks) until the total fits.
    """
    if block_size < 1:
        raise InputError(f"block size must be >= 1, got {block_size}")
    order = stream.arrival_order
    arrivals = [stream.queries[i].arrival for i in order]
    boundaries, first = [], 0
    for position in range(1, len(order)):
        if (arrivals[position] != arrivals[position - 1] and position - first >= block_size
                and arrivals[position] - arrivals[first] >= ttft):
            boundaries.append(position)
            first = position
    zones = {p: _zone(arrivals, p, ttft) for p in boundaries}
    if zone_budget is not None:
        total = sum(p - z for p, z in zones.items())
        for p in sorted(boundaries, key=lambda p: (zones[p] - p, p)):
            if total <= zone_budget:
                break
            total -= p - zones.pop(p)
        boundaries = sorted(zones)
    blocks, starts = [], [0] + boundaries
    for i, begin in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else len(order)
        zone_start = zones[stop] if stop in zones else stop
        blocks.append(Block(i, arrivals[begin], arrivals[stop] if stop < len(order) else None,
                            tuple(order[begin:zone_start]), tuple(order[zone_start:stop])))
    return tuple(blocks)


def default_block_size(ttft: int, eps: float) -> int:
    """``ceil((2T - 1) / eps)``: with zones of at most ``2T - 1`` queries, blocks this large drop
    at most ``eps n`` queries in all.

    >>> default_block_size(4, 0.1)
    70
    """
    return math.ceil((2 * ttft - 1) / eps - 1e-9)


def _zone(arrivals: list[int], position: int, ttft: int) -> int:
    """First position of the zone of the boundary at ``position`` (arrivals in [t - T, t))."""
    boundary = arrivals[position]
    zone = position
    while zone > 0 and arrivals[zone - 1] >= boundary - ttft:
        zone -= 1
    return zone
