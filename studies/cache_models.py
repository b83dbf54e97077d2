"""The cache-model study (notebook 06): do the paper's policy conclusions survive a real prefix cache?

Section 2.1 of the paper simplifies RadixAttention to "only the last processed prompt is cached"
and expects the behaviour to stay similar "when prompt length is fairly uniform and the query
arrival rate is high relative to the TTFT constraint". This module serves one stream, rescaled to
several offered loads (:func:`~prefix_sched.studies.load_comparison.rescale_to_load`), with FCFS, LPM and
k-LPM (k = 1, 2, 3) online under each cache model (:mod:`~prefix_sched.theory.cache`): ``last``, an
LRU radix cache at capacities from one (the longest) prompt up to the whole stream, and
``unbounded``; every number comes from the evaluator of the simulated order. Each run is one
:class:`~prefix_sched.studies.rows.PolicyRow` with the measures of :data:`CACHE_STUDY_MEASURES`
(:mod:`~prefix_sched.theory.measures`). It then reads off the policy rankings per (load, cache)
and where they differ from the ranking under ``last``.

It leaves out batches (B = 1), alpha > 0 and the offline views; plotting is done by the caller on
the rows (:func:`series` gives one line per policy).

Examples
--------
>>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
>>> s = regular_arrival_shuffled_queue(n=24, r=4, u=50, d=5, delta=1)
>>> capacity_ladder(s, factors=(1, 4))
('last', 'lru:55', 'lru:220', 'lru:1320', 'unbounded')
>>> rows = cache_study(s, "def4", loads=[2], caches=["last", "unbounded"])
>>> [(row.cache, row.policy, str(row.reused_share)) for row in rows if row.policy in ("fcfs", "lpm")]
[('last', 'fcfs', '5/66'), ('last', 'lpm', '15/44'), ('unbounded', 'fcfs', '15/22'), ('unbounded', 'lpm', '15/22')]
>>> ranking(rows, "max")[(Fraction(2), "unbounded")][0]
'fcfs'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.theory.load import rescale_to_load
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.rows import PolicyRow, policy_row
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.measures import Measure, parse_measure
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.stream import Stream

STUDY_POLICIES = ("fcfs", "lpm", "k-lpm:1", "k-lpm:2", "k-lpm:3")
LADDER_FACTORS = (1, 8, 64, 512)
"""Capacities of the LRU rungs, in multiples of the longest prompt (the smallest legal capacity)."""
CACHE_STUDY_MEASURES = ("p50", "p99", "max", "reused_share")
"""What each row of :func:`cache_study` measures (:mod:`~prefix_sched.theory.measures`)."""


def capacity_ladder(stream: Stream, factors: Sequence[int] = LADDER_FACTORS) -> tuple[str, ...]:
    """``last``, then ``lru`` at each factor times the longest prompt (those below the stream's
    total), ``lru`` at the stream's total tokens (never evicts: it must agree with ``unbounded``),
    then ``unbounded``."""
    longest, total = max(stream.lengths), stream.total_tokens()
    rungs = sorted({factor * longest for factor in factors if factor * longest < total})
    return ("last", *(f"lru:{c}" for c in rungs), f"lru:{total}", "unbounded")


def cache_study(stream: Stream, name: str, loads: Iterable[object], caches: Iterable[str],
                policies: Sequence[str] = STUDY_POLICIES) -> tuple[PolicyRow, ...]:
    """Serve ``stream`` (called ``name`` in the rows) rescaled to each load with each policy
    (online) under each cache model; rows carry the policies' labels (``k-lpm:1`` is
    ``k-lpm(k=1)``)."""
    models = [parse_cache(cache) for cache in caches]
    specs = [parse_policy(policy) for policy in policies]
    rows = []
    for load in loads:
        target = Fraction(exact_number(load, "load"))
        rescaled = rescale_to_load(stream, target)
        for model in models:
            for spec in specs:
                run = simulate(rescaled, spec, cache=model)
                rows.append(policy_row(run, rescaled, CACHE_STUDY_MEASURES, name=name, load=target))
    return tuple(rows)


def ranking(rows: Iterable[PolicyRow], metric: str) -> dict[tuple[Fraction, str], tuple[str, ...]]:
    """Per (load, cache): the policies from best to worst by the measure ``metric`` (lower is
    better, except where :attr:`~prefix_sched.theory.measures.Measure.higher_is_better`, e.g.
    ``reused_share``); ties keep the order of :data:`STUDY_POLICIES`."""
    groups: dict[tuple[Fraction, str], list[PolicyRow]] = {}
    for row in rows:
        groups.setdefault((row.load, row.cache), []).append(row)
    sign = -1 if _measure(metric).higher_is_better else 1
    return {key: tuple(row.policy for row in sorted(group, key=lambda row: sign * row.measure(metric)))
            for key, group in groups.items()}


def ranking_changes(rows: Iterable[PolicyRow], metric: str) -> list[tuple[Fraction, str, str, str]]:
    """Where a cache model changes the best policy by ``metric`` against ``last`` at the same load:
    ``(load, cache, best under last, best under cache)``, only where the two differ."""
    ranks = ranking(rows, metric)
    changes = []
    for (load, cache), order in ranks.items():
        base = ranks.get((load, "last"))
        if cache != "last" and base is not None and base[0] != order[0]:
            changes.append((load, cache, base[0], order[0]))
    return changes


def series(rows: Iterable[PolicyRow], load: object, metric: str) -> dict[str, tuple[list[str], list[float]]]:
    """For one load: per policy, the caches in study order and ``metric`` under each (for a plot)."""
    target = Fraction(exact_number(load, "load"))
    _measure(metric)
    out: dict[str, tuple[list[str], list[float]]] = {}
    for row in rows:
        if row.load == target:
            caches, values = out.setdefault(row.policy, ([], []))
            caches.append(row.cache)
            values.append(float(row.measure(metric)))
    return out


def disagreements(rows: Iterable[PolicyRow], cache: str, reference: str = "unbounded") -> list[PolicyRow]:
    """Rows under ``cache`` whose measures differ from those under ``reference`` at the same load and
    policy (an LRU cache as large as the whole stream never evicts, so it must agree with unbounded)."""
    rows = list(rows)
    base = {(row.load, row.policy): row for row in rows if row.cache == reference}
    return [row for row in rows if row.cache == cache and row.measured() != base[row.load, row.policy].measured()]


def _measure(name: str) -> Measure:
    if name not in CACHE_STUDY_MEASURES:
        raise InputError(f"unknown metric {name!r}; valid: {', '.join(CACHE_STUDY_MEASURES)}")
    return parse_measure(name)
