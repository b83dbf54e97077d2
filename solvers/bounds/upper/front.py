"""Upper bounds on the least possible max TTFT: the best schedule found, every one checked by the evaluator.

:func:`upper_bound` tries three sources and keeps the best by (max TTFT, sum of TTFTs):

- **policies**: FCFS, LPM and k-LPM runs (:func:`~prefix_sched.solvers.online.simulate.simulate`, online);
- **grouped EDF** (:mod:`~prefix_sched.solvers.bounds.upper.grouped_edf`), an offline order built
  for the max TTFT: prompts grouped by their first segments, clusters of close arrivals served
  whole in trie order; a few spans around the best policy's max TTFT, depths 1 to 3 and both
  idling rules;
- **window local search** (:mod:`~prefix_sched.solvers.bounds.upper.local_search`, Definition 2's
  ``last`` cache) from the best of those: windows around and before the worst query re-solved
  exactly by the subset DP, a change kept only when the evaluator confirms it is better.

What it leaves out: any claim of optimality (an upper bound is a schedule, nothing more). Other
cache models get the policies and grouped EDF (evaluated under that cache) but no local search,
whose window DP is Definition 2's.

Examples
--------
Section 4.2's toy example (all at 0): FCFS reaches 40, LPM 30, the optimum:

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> best = upper_bound(s)
>>> best.value, best.label, [c.evaluation.max_ttft for c in best.candidates[:2]]
(30, 'lpm', [40, 30])
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.upper.grouped_edf import grouped_candidates
from prefix_sched.solvers.bounds.upper.local_search import DEFAULT_WINDOW, SearchResult, improve
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.online.policies import PolicySpec, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.numbers import Exact, exact_number
from prefix_sched.theory.stream import Stream

DEFAULT_POLICIES = ("fcfs", "lpm", "k-lpm:1", "k-lpm:2", "k-lpm:3", "k-lpm:4", "k-lpm:8")


def default_policies() -> list[PolicySpec]:
    """FCFS, LPM and k-LPM for k = 1, 2, 3, 4, 8 (the cycle opening with its LPM steps)."""
    specs = []
    for name in DEFAULT_POLICIES:
        base, _, k = name.partition(":")
        specs.append(parse_policy(base, k=k or None))
    return specs


@dataclass(frozen=True)
class Candidate:
    """One schedule: where it came from and the evaluator's verdict on it."""

    label: str
    evaluation: Evaluation

    @property
    def key(self) -> tuple[Exact, Exact]:
        """(max TTFT, sum of TTFTs): what "better" means here."""
        return self.evaluation.max_ttft, sum(self.evaluation.ttft)


@dataclass(frozen=True)
class UpperBound:
    """The best schedule found and every candidate behind it.

    Attributes
    ----------
    evaluation : Evaluation
        The best order's evaluator times; ``evaluation.max_ttft`` is the upper bound.
    label : str
        Its source (a policy label, ``grouped-edf(...)``, or ``local-search(<start>)``).
    candidates : tuple of Candidate
        Every schedule tried (policies first), evaluated under the cache model.
    search : SearchResult or None
        The local search run on the best candidate (``last`` only).
    cache : str
    wall_time_s : float
    """

    evaluation: Evaluation
    label: str
    candidates: tuple[Candidate, ...]
    search: SearchResult | None
    cache: str
    wall_time_s: float = field(default=0.0)

    @property
    def value(self) -> Exact:
        """The max TTFT of the best schedule."""
        return self.evaluation.max_ttft


def upper_bound(stream: Stream, *, alpha: object = 0, cache: str | CacheModel = "last",
                policies: Sequence[PolicySpec] | None = None, grouped: bool = True,
                search: bool = True, window: int = DEFAULT_WINDOW, time_limit: object = None,
                seed: int = 0) -> UpperBound:
    """The best schedule of the policies and grouped EDF, improved by the window local search.

    Parameters
    ----------
    stream : Stream
    alpha : exact number
    cache : str or CacheModel
        Every candidate is evaluated under this model; the local search runs under ``last`` only.
    policies : sequence of PolicySpec, optional
        Default :func:`default_policies`. A policy that draws at random uses ``seed``.
    grouped : bool
        Try grouped EDF.
    search : bool
        Run the local search on the best candidate.
    window : int
        The local search's window size ``w`` (2 to
        :data:`~prefix_sched.solvers.bounds.upper.local_search.MAX_WINDOW`).
    time_limit : seconds or Deadline, optional
        For the grouped EDF spans and the local search (the policies always run to the end).
    seed : int
        For policies that draw at random (random ties, the random policy).
    """
    started = time.perf_counter()
    alpha = exact_number(alpha, "alpha", minimum=0)
    model = parse_cache(cache)
    stop = Deadline.of(time_limit)
    specs = default_policies() if policies is None else list(policies)
    if not specs and not grouped:
        raise InputError("an upper bound needs at least one policy or grouped EDF")
    candidates = []
    for spec in specs:
        run = simulate(stream, spec, alpha=alpha, cache=model, seed=seed if spec.randomized else None)
        candidates.append(Candidate(spec.label, run.evaluation))
    if grouped:
        reference = min(c.evaluation.max_ttft for c in candidates) if candidates else None
        candidates.extend(Candidate(label, evaluation)
                          for label, evaluation in grouped_candidates(stream, alpha, model, reference, stop))
    best = min(candidates, key=lambda c: c.key)
    found = None
    if search and model.is_last_prompt and not stop.expired():
        found = improve(stream, best.evaluation.order, alpha=alpha, window=window, time_limit=stop)
        if (found.evaluation.max_ttft, sum(found.evaluation.ttft)) < best.key:
            best = Candidate(f"local-search({best.label})", found.evaluation)
    return UpperBound(best.evaluation, best.label, tuple(candidates), found, model.spec,
                      time.perf_counter() - started)
