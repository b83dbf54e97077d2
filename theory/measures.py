"""The metrics a sweep can record for one cell, computed from one Definition 2 evaluation.

Every value is exact (``int`` or ``Fraction``): the TTFT statistics come from the evaluator's
TTFTs (percentiles with numpy's ``linear`` method, what ``simulate`` and ``compare`` report), the
reuse from its per-position reused tokens. It leaves out storing them (floats and exact strings are
the results table's business, :mod:`~prefix_sched.studies.sweep.results`).

=============== =====================================================================
``count``       queries served
``mean``        mean TTFT
``p50``         median TTFT; ``p90``, ``p99`` likewise
``max``         largest TTFT
``makespan``    completion time of the last query
``reused``      prefix tokens reused over the whole order
``reused_share`` ``reused`` over the stream's total prompt tokens
``violations``  queries with TTFT strictly above the bound ``T`` (needs ``ttft``)
=============== =====================================================================

Examples
--------
>>> from prefix_sched.theory.evaluator import evaluate
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("u", 5), ("y", 5)), 0)])
>>> ev = evaluate(s, [0, 1])
>>> measure(ev, s, ("count", "max", "reused", "reused_share", "violations"), ttft=12)
{'count': 2, 'max': 15, 'reused': 5, 'reused_share': Fraction(1, 4), 'violations': 1}
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.numbers import Exact, normalize
from prefix_sched.theory.stream import Stream

_COMPUTE = {
    "count": lambda ev, stream, ttft: len(ev.ttft),
    "mean": lambda ev, stream, ttft: ev.mean_ttft,
    "p50": lambda ev, stream, ttft: ev.percentile(50),
    "p90": lambda ev, stream, ttft: ev.percentile(90),
    "p99": lambda ev, stream, ttft: ev.percentile(99),
    "max": lambda ev, stream, ttft: ev.max_ttft,
    "makespan": lambda ev, stream, ttft: ev.makespan,
    "reused": lambda ev, stream, ttft: ev.total_reused,
    "reused_share": lambda ev, stream, ttft: normalize(Fraction(ev.total_reused, stream.total_tokens())),
    "violations": lambda ev, stream, ttft: ev.violations(ttft),
}
METRICS = tuple(_COMPUTE)
INTEGER_METRICS = ("count", "reused", "violations")
NEEDS_TTFT = ("violations",)


def measure(evaluation: Evaluation, stream: Stream, metrics: Sequence[str], ttft: Exact | None = None) -> dict[str, Exact]:
    """The named metrics (from :data:`METRICS`) of ``evaluation``, an evaluation of ``stream``.

    ``ttft`` is the bound ``T`` that ``violations`` counts against; the spec reader makes sure it
    is given when ``violations`` is asked for.
    """
    return {name: _COMPUTE[name](evaluation, stream, ttft) for name in metrics}
