"""Capacity objectives: what a serving run must meet for its arrival rate to count as sustained.

An objective is a list of conditions ``METRIC <= BOUND``, all of which must hold
(../shared/MODEL_SERVING.md, "Measures"):

- ``seed`` (the second seed): ``ttft_p50 <= 500ms, tbt_p99 <= slo`` -- median TTFT at most 0.5 s and
  each class's P99 TBT within that class's objective;
- ``sarathi`` (Sarathi-Serve's capacity): ``tbt_p99 <= slo, delay_p50 <= 2s`` -- P99 TBT within the
  objective (each class's) and median scheduling delay at most 2 s.

An EXPR is the same language: comma-separated ``METRIC<=BOUND`` where METRIC is one of
:data:`OBJECTIVE_METRICS` (``ttft_p50``, ``tbt_p99``, ``delay_p50``, ``e2e_p99``, ...), optionally
``[CLASS]`` to apply to one class only (``tbt_p99[strict]<=100ms``), and BOUND a duration with its
unit (``500ms``, ``2s``, ``250us``) or ``slo``: the TBT objective of each class, the metric then
being checked per class (a workload without classes has no ``slo``). A metric with no value
(``tbt_*`` when no request has two tokens) fails its condition.

Examples
--------
>>> [c.text for c in parse_objective("seed").conditions]
['ttft_p50<=500ms', 'tbt_p99<=slo']
>>> [c.text for c in parse_objective("tbt_p99[gold]<=0.1s, ttft_p99 <= 2s").conditions]
['tbt_p99[gold]<=100ms', 'ttft_p99<=2s']
>>> parse_objective("ttft_p42<=1s")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.InputError: objective 'ttft_p42<=1s': unknown metric 'ttft_p42'; metrics: ttft_p50, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief
from prefix_sched.theory.serving.measures import ALL
from prefix_sched.theory.serving.requests import parse_duration_us

OBJECTIVE_METRICS = ("ttft_p50", "ttft_p90", "ttft_p99", "ttft_max", "tbt_p50", "tbt_p99", "tbt_max",
                     "tpot_mean", "tpot_p50", "tpot_p99", "delay_p50", "delay_p99", "e2e_p50", "e2e_p99")
"""The figures of a :func:`~.measures.summarize` row an objective may bound (not Part 1's measures,
:data:`prefix_sched.theory.measures.MEASURES`; :data:`~.measures.PART1_MEASURES` says which are the
same quantity)."""
SLO = "slo"
NAMED = {"seed": "ttft_p50<=500ms,tbt_p99<=slo", "sarathi": "tbt_p99<=slo,delay_p50<=2s"}
_CONDITION = re.compile(r"\s*([a-z0-9_]+)\s*(?:\[\s*([A-Za-z0-9_.-]+)\s*\])?\s*<=\s*(.+?)\s*\Z")


@dataclass(frozen=True)
class Condition:
    """``metric[cls] <= bound`` (``bound`` in us, or None for each class's ``slo``)."""

    metric: str
    cls: str | None
    bound_us: Exact | None

    @property
    def text(self) -> str:
        where = f"[{self.cls}]" if self.cls else ""
        return f"{self.metric}{where}<={SLO if self.bound_us is None else _duration_text(self.bound_us)}"


@dataclass(frozen=True)
class Objective:
    """A named or written objective: all its conditions must hold."""

    name: str
    conditions: tuple[Condition, ...]

    @property
    def text(self) -> str:
        return ",".join(c.text for c in self.conditions)

    def check(self, summary: Mapping[str, Mapping[str, Any]]) -> tuple[bool, list[tuple]]:
        """Evaluate on a :func:`~.measures.summarize` result: (all hold, rows ``(what, value, bound, holds)``)."""
        rows = []
        classes = [name for name in summary if name != ALL]
        for c in self.conditions:
            if c.bound_us is None:
                targets = [c.cls] if c.cls else classes
                if not targets:
                    raise InputError(f"objective {self.text!r}: {c.text} needs objective classes, and the "
                                     "workload has none")
            else:
                targets = [c.cls or ALL]
            for name in targets:
                if name not in summary:
                    raise InputError(f"objective {self.text!r}: unknown class {name!r}; classes: {', '.join(classes)}")
                row = summary[name]
                if row.get("requests", 0) == 0:
                    continue
                bound = row["tbt_slo"] if c.bound_us is None else c.bound_us
                value = row.get(c.metric)
                holds = value is not None and Fraction(value) <= Fraction(bound)
                label = c.metric if name == ALL else f"{c.metric}[{name}]"
                rows.append((label, value, bound, holds))
        return all(r[3] for r in rows), rows


def parse_objective(text: str) -> Objective:
    """Read ``seed``, ``sarathi`` or an EXPR (module docstring); InputError names the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"an objective must be seed, sarathi or METRIC<=BOUND,..., got {brief(text)}")
    name = text.strip()
    expr = NAMED.get(name, name)
    conditions = []
    for part in expr.split(","):
        match = _CONDITION.match(part)
        if match is None:
            raise InputError(f"objective {text!r}: {part.strip()!r} is not METRIC<=BOUND (like ttft_p50<=500ms); "
                             f"named objectives: {', '.join(NAMED)}")
        metric, cls, bound = match.groups()
        if metric not in OBJECTIVE_METRICS:
            raise InputError(f"objective {text!r}: unknown metric {metric!r}; "
                             f"metrics: {', '.join(OBJECTIVE_METRICS)}")
        if bound == SLO:
            conditions.append(Condition(metric, cls, None))
            continue
        try:
            conditions.append(Condition(metric, cls, parse_duration_us(bound, f"the bound of {metric}")))
        except InputError as err:
            raise InputError(f"objective {text!r}: {err}") from None
    return Objective(name if name in NAMED else "custom", tuple(conditions))


def _duration_text(us: Exact) -> str:
    value = Fraction(us)
    for unit, scale in (("s", 1_000_000), ("ms", 1000)):
        if (value / scale).denominator == 1:
            return f"{int(value / scale)}{unit}"
    return f"{value}us"
