"""Measured against predicted completion times and TTFTs of a replayed schedule; policy rankings.

Time axis. Stream arrivals are in token-times; the Definition 2 fit gives ``beta`` seconds per
token-time, so a query arriving at ``t`` token-times arrives at ``beta * t`` seconds. The replay does
not sleep until arrivals: the engine is non-preemptive with batch size one, so waiting adds nothing
to a prefill. Completion times come from Definition 2's recurrence

    c_i = max(c_{i-1}, a_i) + s_i

applied to the same order and arrivals with three choices of service time ``s_i``:

- predicted: Definition 2's cost, i.e. ``beta`` times the evaluator's completion times with the
  fitted ``alpha`` (the evaluator is the source of truth; :func:`completion_times` reproduces it);
- corrected: the fit with a fixed per-query overhead (:class:`~prefix_sched.gpu_validation.fit.CostFit`);
- measured: the median measured prefill of that query at that position of the replay.

The order itself is the policy's order in the model (online view by default, with the fitted
``alpha``), so measured and predicted describe one and the same schedule.

Examples
--------
>>> completion_times([0.0, 0.0, 5.0], [1.0, 2.0, 1.0])
[1.0, 3.0, 6.0]
>>> ranking({"fcfs": 3.0, "lpm": 1.0, "k-lpm": 2.0})
['lpm', 'k-lpm', 'fcfs']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from prefix_sched.errors import InputError


def completion_times(arrivals: Sequence[float], services: Sequence[float]) -> list[float]:
    """Definition 2's recurrence ``c_i = max(c_{i-1}, a_i) + s_i`` over positions (``c_0 = 0``)."""
    if len(arrivals) != len(services):
        raise InputError(f"{len(arrivals)} arrivals but {len(services)} service times")
    clock, out = 0.0, []
    for arrival, service in zip(arrivals, services):
        clock = max(clock, arrival) + service
        out.append(clock)
    return out


def ttft_summary(ttfts: Sequence[float], services: Sequence[float], completions: Sequence[float]) -> dict[str, float]:
    """Max, p99 (numpy's linear percentile, the evaluator's default method), mean, busy time, makespan."""
    values = np.asarray(ttfts, dtype=float)
    return {"max_ttft": float(values.max()), "p99_ttft": float(np.percentile(values, 99)),
            "mean_ttft": float(values.mean()), "busy": float(sum(services)), "makespan": float(max(completions))}


def ranking(values: Mapping[str, float]) -> list[str]:
    """Labels from best (smallest) to worst; ties by label, so the ranking is deterministic."""
    return sorted(values, key=lambda label: (values[label], label))


def pairwise_agreement(predicted: Mapping[str, float], measured: Mapping[str, float]) -> dict[str, object]:
    """Compare two rankings pair by pair.

    A pair of labels agrees when both orders put the same one first; a pair tied in ``predicted``
    (the model cannot tell them apart) is counted as ``tied`` and not scored.

    >>> pairwise_agreement({"a": 1, "b": 2, "c": 2}, {"a": 1.1, "b": 2.2, "c": 1.9})
    {'predicted': ['a', 'b', 'c'], 'measured': ['a', 'c', 'b'], 'agree': 2, 'disagree': 0, 'tied': 1, 'same_order': False}
    """
    if set(predicted) != set(measured):
        raise InputError("predicted and measured rank different policies")
    labels = sorted(predicted)
    agree = disagree = tied = 0
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if predicted[a] == predicted[b]:
                tied += 1
            elif (predicted[a] < predicted[b]) == (measured[a] < measured[b]):
                agree += 1
            else:
                disagree += 1
    order_p, order_m = ranking(predicted), ranking(measured)
    return {"predicted": order_p, "measured": order_m, "agree": agree, "disagree": disagree,
            "tied": tied, "same_order": order_p == order_m}


@dataclass(frozen=True)
class ScheduleTimes:
    """Per-position arrivals, service and completion times of one replayed order, in seconds."""

    arrivals: tuple[float, ...]
    services: tuple[float, ...]
    completions: tuple[float, ...]

    @property
    def ttfts(self) -> tuple[float, ...]:
        """``c_i - a_i`` per position."""
        return tuple(c - a for c, a in zip(self.completions, self.arrivals))

    @classmethod
    def from_services(cls, arrivals: Sequence[float], services: Sequence[float]) -> ScheduleTimes:
        """Completion times from :func:`completion_times`."""
        return cls(tuple(arrivals), tuple(services), tuple(completion_times(arrivals, services)))

    def summary(self) -> dict[str, float]:
        """:func:`ttft_summary` of this schedule."""
        return ttft_summary(self.ttfts, self.services, self.completions)
