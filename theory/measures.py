"""The one vocabulary of a policy run's figures: each name, what it means and how it is computed.

Every table of policy runs names its figures from :data:`MEASURES`: the rows of ``compare`` and of
the studies (:class:`~prefix_sched.studies.rows.PolicyRow`), the metric columns of a sweep's
results file, the figures ``simulate`` prints and the fairness figures it writes with ``--out``.
The names are those the result files already carry (``max``, not ``max_ttft``), so a name means
one thing in every table and file.

Most measures are pure functions of one Definition 2 evaluation (:class:`Evaluation`), the stream
it evaluated and, for ``violations``, the bound ``T``; they are computed here. Two are figures of
the run itself, which only the simulator sees (its decisions): ``max_waited`` and
``fcfs_fallbacks``. They are listed here with their meaning and come from
:meth:`~prefix_sched.solvers.online.simulate.PolicyRun.figures`, handed to :func:`measure` as
``figures`` (a figure given there is taken as it is: the run already computed its Jain index).

Values are exact (``int`` or ``Fraction``; TTFT statistics in token-times) except
``jain_slowdown``, a float (its exact value would sum thousands of unlike fractions), and
``fcfs_fallbacks``, None for a policy without an FCFS fallback.

================== ====== =========================================================================
name               kind   meaning
================== ====== =========================================================================
``count``          int    queries served
``mean``           exact  mean TTFT
``p50``            exact  median TTFT (numpy's ``linear`` percentile); ``p90``, ``p99`` likewise
``max``            exact  largest TTFT
``makespan``       exact  completion time of the last query
``reused``         int    prefix tokens reused over the whole order (under the run's cache model)
``reused_share``   exact  ``reused`` over the stream's total prompt tokens
``violations``     int    queries with TTFT strictly above the bound ``T`` (needs ``ttft``)
``jain_slowdown``  float  Jain's index ``(sum x)^2 / (n sum x^2)`` of the slowdowns
                          ``x_q = TTFT_q / (|p_q| + alpha |p_q|^2)`` (1: every query slowed alike)
``max_waited``     int    the most decisions any query waited (a figure of the run: starvation)
``fcfs_fallbacks`` int    decisions an LPM with an FCFS fallback made by FCFS (a figure of the run)
================== ====== =========================================================================

Lower is better for every measure but ``reused``, ``reused_share`` and ``jain_slowdown``
(:attr:`Measure.higher_is_better`); ``count`` ranks nothing. It leaves out serving runs with
decode (:mod:`prefix_sched.theory.serving.measures` has their TTFT, TBT and end-to-end figures)
and how a table formats a value.

Examples
--------
>>> from prefix_sched.theory.evaluator import evaluate
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("u", 5), ("y", 5)), 0)])
>>> ev = evaluate(s, [0, 1])
>>> measure(ev, s, ("count", "max", "reused", "reused_share", "violations"), ttft=12)
{'count': 2, 'max': 15, 'reused': 5, 'reused_share': Fraction(1, 4), 'violations': 1}
>>> measure(ev, s, ("max_waited",), figures={"max_waited": 0})
{'max_waited': 0}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.numbers import Exact, normalize
from prefix_sched.theory.stream import Stream

INT, EXACT, FLOAT = "int", "exact", "float"
Value = Exact | float | None


def slowdowns(stream: Stream, evaluation: Evaluation) -> list[float]:
    """Per position of the order, ``TTFT / (|p| + alpha |p|^2)``: the TTFT over the query's own
    Definition 2 cost with an empty cache (each ratio exact, then rounded to a float)."""
    alpha = evaluation.alpha
    lengths = stream.lengths
    return [float(Fraction(ttft) / (lengths[index] + alpha * lengths[index] * lengths[index]))
            for index, ttft in zip(evaluation.order, evaluation.ttft)]


def jain_index(values: Iterable[object]) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)`` (1 when all are equal; 1 for all zero).

    >>> jain_index([1, 1, 1]), jain_index([1, 0, 0, 0])
    (1.0, 0.25)
    """
    floats = [float(x) for x in values]
    square = math.fsum(x * x for x in floats)
    if square == 0:
        return 1.0
    return math.fsum(floats) ** 2 / (len(floats) * square)


@dataclass(frozen=True)
class Measure:
    """One named figure of a policy run.

    Attributes
    ----------
    name : str
        The name every table and result file uses.
    kind : {"int", "exact", "float"}
        What its value is (``fcfs_fallbacks`` may also be None).
    meaning : str
        One line for tables of the vocabulary and error messages.
    compute : callable or None
        ``compute(evaluation, stream, ttft)``; None for a figure of the run (given by the run).
    needs_ttft : bool
        Whether it counts against the bound ``T``.
    higher_is_better : bool
        For rankings: whether a larger value is the better one.
    """

    name: str
    kind: str
    meaning: str
    compute: Callable[[Evaluation, Stream, Exact | None], Value] | None
    needs_ttft: bool = False
    higher_is_better: bool = False

    @property
    def integer(self) -> bool:
        """Whether its value is an integer count (the sweep stores it as one)."""
        return self.kind == INT


def _reused_share(ev: Evaluation, stream: Stream, ttft: Exact | None) -> Exact:
    return normalize(Fraction(ev.total_reused, stream.total_tokens()))


MEASURES: Mapping[str, Measure] = {m.name: m for m in (
    Measure("count", INT, "queries served", lambda ev, stream, ttft: len(ev.ttft)),
    Measure("mean", EXACT, "mean TTFT", lambda ev, stream, ttft: ev.mean_ttft),
    Measure("p50", EXACT, "median TTFT", lambda ev, stream, ttft: ev.percentile(50)),
    Measure("p90", EXACT, "90th percentile TTFT", lambda ev, stream, ttft: ev.percentile(90)),
    Measure("p99", EXACT, "99th percentile TTFT", lambda ev, stream, ttft: ev.percentile(99)),
    Measure("max", EXACT, "largest TTFT", lambda ev, stream, ttft: ev.max_ttft),
    Measure("makespan", EXACT, "completion time of the last query", lambda ev, stream, ttft: ev.makespan),
    Measure("reused", INT, "prefix tokens reused", lambda ev, stream, ttft: ev.total_reused, higher_is_better=True),
    Measure("reused_share", EXACT, "reused over the stream's prompt tokens", _reused_share, higher_is_better=True),
    Measure("violations", INT, "queries with TTFT above the bound T", lambda ev, stream, ttft: ev.violations(ttft),
            needs_ttft=True),
    Measure("jain_slowdown", FLOAT, "Jain's index of per-query slowdown",
            lambda ev, stream, ttft: jain_index(slowdowns(stream, ev)), higher_is_better=True),
    Measure("max_waited", INT, "most decisions a query waited", None),
    Measure("fcfs_fallbacks", INT, "decisions made by the FCFS fallback", None),
)}
"""The vocabulary, by name (see the module docstring)."""
RUN_FIGURES = tuple(name for name, m in MEASURES.items() if m.compute is None)
"""The measures only a run can give (:func:`measure` takes them from ``figures``)."""


def parse_measure(name: str) -> Measure:
    """The measure called ``name``.

    >>> parse_measure("p99").meaning
    '99th percentile TTFT'
    >>> parse_measure("max_ttft")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: unknown measure 'max_ttft'; valid: count, mean, p50, p90, p99, max, makespan, reused, reused_share, violations, jain_slowdown, max_waited, fcfs_fallbacks
    """
    try:
        return MEASURES[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown measure {name!r}; valid: {', '.join(MEASURES)}") from None


def measure(evaluation: Evaluation, stream: Stream, names: Sequence[str], ttft: Exact | None = None,
            figures: Mapping[str, Any] | None = None) -> dict[str, Value]:
    """The measures ``names`` of ``evaluation``, an evaluation of ``stream``, by name in that order.

    Parameters
    ----------
    evaluation : Evaluation
    stream : Stream
        The stream ``evaluation`` scored (``reused_share`` and ``jain_slowdown`` need its lengths).
    names : sequence of str
        Names from :data:`MEASURES`.
    ttft : exact number, optional
        The bound ``T`` that ``violations`` counts against.
    figures : mapping, optional
        The run's own figures (:data:`RUN_FIGURES`, and any other measure it already computed),
        taken as given.

    Raises
    ------
    InputError
        If a name is unknown, ``violations`` is asked for without ``ttft``, or a figure of the run
        without ``figures`` that hold it.
    """
    given = figures or {}
    out: dict[str, Value] = {}
    for name in names:
        if name in given:
            out[name] = given[name]
            continue
        found = parse_measure(name)
        if found.compute is None:
            raise InputError(f"measure {name!r} ({found.meaning}) is a figure of a policy run, not of an "
                             "evaluation: take it from PolicyRun.measures")
        if found.needs_ttft and ttft is None:
            raise InputError(f"measure {name!r} ({found.meaning}) needs the bound T")
        out[name] = found.compute(evaluation, stream, ttft)
    return out
