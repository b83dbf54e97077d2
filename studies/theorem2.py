"""Theorem 2 against simulation: policies on Definition 4 streams, exhaustive search, Monte Carlo.

Every TTFT here comes from the toolkit's simulator (:func:`~prefix_sched.solvers.online.simulate.simulate`)
and the Definition 2 evaluator. The batch view runs the policy with every query waiting (the
simulator's fixed-order view) and scores that order with
:func:`~prefix_sched.theory.theorem2.definition4.batch_ttfts` (processing starts at ``s``; FCFS still takes
the oldest). It leaves out the Definition 4 stream builders, the batch-view scoring and the
enumeration of arrival orders (pure functions in :mod:`prefix_sched.theory.theorem2.definition4`), the bounds
(:mod:`prefix_sched.theory.theorem2.bounds`) and the adversarial local search
(:mod:`prefix_sched.studies.adversary`).

Examples
--------
Section 4.2's toy example in the batch view: LPM pairs each user's queries, FCFS does not.

>>> stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta=0)
>>> max_ttft(stream, parse_policy("fcfs"), "batch"), max_ttft(stream, parse_policy("lpm"), "batch")
(Fraction(40, 1), Fraction(30, 1))

The CI check of :mod:`prefix_sched.theory.theorem2.guarantee` on a simulator run of the theorem's k-LPM:

>>> from prefix_sched.theory.theorem2.guarantee import check_run
>>> check_run(stream, simulate(stream, klpm_spec(2), view="fixed")).holds
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import PolicySpec, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.numbers import exact_int, exact_number
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.theorem2.definition4 import (
    batch_ttfts, canonical_user_sequences, definition4_stream, evaluate_upper, parse_definition4,
)

THEOREM2_VIEWS = ("batch", "fixed", "online")
"""The views a Theorem 2 study scores: the batch view (every query waiting, processing from ``s``)
and the simulator's two (:data:`~prefix_sched.solvers.online.simulate.VIEWS`)."""


def klpm_spec(r: int, tie_break: str = "oldest") -> PolicySpec:
    """The k-LPM of the corrected Theorem 2: ``k = r - 1`` LPM steps after one FCFS step per cycle.

    >>> klpm_spec(3).k, klpm_spec(3).cycle_start
    (2, 'fcfs')
    """
    return parse_policy("k-lpm", k=exact_int(r, "r", minimum=1) - 1, tie_break=tie_break, cycle_start="fcfs")


def batch_order(stream: Stream, policy: PolicySpec, seed: int | None = None) -> tuple[int, ...]:
    """The policy's order with every query waiting (indices of ``stream``), from the simulator."""
    run = simulate(stream, policy, view="fixed", seed=seed)
    return run.order


def max_ttft(stream: Stream, policy: PolicySpec, view: str, seed: int | None = None, start: object | None = None) -> Fraction:
    """Max TTFT of ``policy`` on ``stream`` in ``view`` (``batch`` starts at ``start``, default the last arrival).

    >>> max_ttft(definition4_stream([0, 1], 1, 1, 0), parse_policy("fcfs"), "offline")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: unknown view 'offline'; valid: batch, fixed, online
    """
    if view not in THEOREM2_VIEWS:
        raise InputError(f"unknown view {view!r}; valid: {', '.join(THEOREM2_VIEWS)}")
    if view == "batch":
        return max(batch_ttfts(stream, batch_order(stream, policy, seed), start))
    return Fraction(simulate(stream, policy, view=view, seed=seed).evaluation.max_ttft)


@dataclass(frozen=True)
class WorstCase:
    """The largest max TTFT over the searched arrival orders, with the order that attains it."""

    users: tuple[int, ...]
    max_ttft: Fraction
    orders_searched: int


def exhaustive_worst(
    n: int, r: int, u: int, d: int, delta: object, policy: PolicySpec, view: str, seed: int | None = None
) -> WorstCase:
    """Exact worst case over every arrival order (:func:`canonical_user_sequences`); tiny ``n`` only.

    >>> worst = exhaustive_worst(4, 2, 5, 5, 0, parse_policy("fcfs"), "batch")
    >>> worst.users, worst.max_ttft, worst.orders_searched
    ((0, 1, 0, 1), Fraction(40, 1), 3)
    """
    best, count = None, 0
    for users in canonical_user_sequences(n, r):
        value = max_ttft(definition4_stream(users, u, d, delta), policy, view, seed)
        count += 1
        if best is None or value > best[1]:
            best = (users, value)
    return WorstCase(best[0], best[1], count)


@dataclass(frozen=True)
class Counterexample:
    """A Definition 4 instance on which a statement's bound fails, with the evidence."""

    n: int
    r: int
    u: int
    d: int
    delta: Fraction
    users: tuple[int, ...]
    view: str
    max_ttft: Fraction
    bound: Fraction


def smallest_counterexample(
    statement: bounds.Statement,
    view: str,
    policy_for_r=klpm_spec,
    max_n: int = 6,
    lengths: Sequence[int] = (1, 2, 3),
    deltas: Sequence[object] = (0, 1, 2, 3, 4, 5, 6, 8, 10),
    min_r: int = 1,
) -> Counterexample | None:
    """The first violation of an upper bound, searching by ``n``, then ``r``, ``u``, ``d``, ``Delta``
    and arrival order (all of them); ``None`` if the searched space holds none.

    The bound's start ``s`` is the view's: the last arrival for ``batch``, 0 otherwise (the reading
    under test); ``policy_for_r`` maps ``r`` to the policy (default :func:`klpm_spec`); ``min_r``
    skips degenerate ``r`` (``r = 1`` makes k-LPM plain FCFS).

    >>> found = smallest_counterexample(bounds.KLPM_MODEL_READING, "fixed")
    >>> found.n, found.u, found.d, found.delta, found.max_ttft, found.bound  # one query: u + d > 1
    (1, 1, 1, Fraction(1, 1), Fraction(2, 1), Fraction(1, 1))
    """
    for n_value in range(1, max_n + 1):
        for r_value in (x for x in range(min_r, n_value + 1) if n_value % x == 0):
            policy = policy_for_r(r_value)
            for u_value in lengths:
                for d_value in lengths:
                    for delta in deltas:
                        delta = Fraction(exact_number(delta, "Delta"))
                        s = (n_value - 1) * delta if view == "batch" else 0
                        bound = evaluate_upper(statement, n_value, r_value, u_value, d_value, delta, s)
                        for users in canonical_user_sequences(n_value, r_value):
                            stream = definition4_stream(users, u_value, d_value, delta)
                            value = max_ttft(stream, policy, view, seed=0)
                            if value > bound:
                                return Counterexample(n_value, r_value, u_value, d_value, delta, users, view, value, bound)
    return None


@dataclass(frozen=True)
class FrequencyRow:
    """How often a statement held over ``trials`` Definition 4 queues of size ``n``."""

    statement: str
    n: int
    trials: int
    held: int
    failure_bound: Fraction

    @property
    def frequency(self) -> float:
        """Empirical frequency of the bound holding."""
        return self.held / self.trials


def monte_carlo(
    ns: Sequence[int] = (8, 32, 128),
    r: int = 4,
    u: int = 20,
    d: int = 2,
    delta: object = 5,
    eps: object = "1/4",
    trials: int = 20,
    seed: int = 0,
) -> tuple[FrequencyRow, ...]:
    """Theorem 2 on random Definition 4 queues, batch view (``s`` = last arrival).

    For each ``n`` draws ``trials`` queues (seeds from ``seed``) and counts how often LPM (random
    ties) is at least LPM_LOWER, FCFS at least FCFS_LOWER, and k-LPM (``klpm_spec(r)``, oldest
    ties) at most KLPM_TIGHT. Failure bounds are the proofs' (LPM exact, FCFS Markov).

    >>> [(row.n, row.held == row.trials) for row in monte_carlo(ns=(8,), trials=2)][2]  # k-LPM's row
    (8, True)
    """
    trials = exact_int(trials, "trials", minimum=1)
    rng = np.random.default_rng(seed)
    lpm = parse_policy("lpm", tie_break="random")
    fcfs = parse_policy("fcfs")
    klpm = klpm_spec(r)
    rows = []
    for n_value in ns:
        held = Counter()
        for _ in range(trials):
            trial_seed = int(rng.integers(2**31))
            stream = regular_arrival_shuffled_queue(n_value, r, u, d, delta, seed=trial_seed)
            params = parse_definition4(stream).params()
            held["lpm"] += max_ttft(stream, lpm, "batch", seed=trial_seed) >= bounds.LPM_LOWER.value(**params, eps=eps)
            held["fcfs"] += max_ttft(stream, fcfs, "batch") >= bounds.FCFS_LOWER.value(**params, eps=eps)
            held["klpm"] += max_ttft(stream, klpm, "batch") <= bounds.KLPM_TIGHT.value(**params)
        p = dict(n=n_value, r=r, eps=eps)
        rows += [
            FrequencyRow(bounds.LPM_LOWER.name, n_value, trials, held["lpm"], bounds.LPM_LOWER.failure_probability(**p)),
            FrequencyRow(bounds.FCFS_LOWER.name, n_value, trials, held["fcfs"], bounds.FCFS_LOWER.failure_probability(**p)),
            FrequencyRow(bounds.KLPM_TIGHT.name, n_value, trials, held["klpm"], Fraction(0)),
        ]
    return tuple(rows)


@dataclass(frozen=True)
class Corollary3Row:
    """One queue in Corollary 3's regime: the three policies' max TTFT, batch view."""

    seed: int
    lpm: Fraction
    fcfs: Fraction
    klpm: Fraction
    klpm_bound: Fraction

    @property
    def klpm_wins(self) -> bool:
        """Whether k-LPM beat both LPM and FCFS on this queue."""
        return self.klpm < self.lpm and self.klpm < self.fcfs


def corollary3_runs(
    n: int = 400, r: int = 4, u: int = 100, d: int = 5, delta: object = 50, trials: int = 5, seed: int = 0
) -> tuple[Corollary3Row, ...]:
    """Max TTFT of LPM (random ties), FCFS and k-LPM on ``trials`` random queues, batch view.

    >>> corollary3_runs(delta=150)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: (r=4, u=100, Delta=150) is outside Corollary 3's region r >= 2, 0 < Delta < u
    """
    if not bounds.in_corollary3_region(r, u, delta):
        raise InputError(f"(r={r}, u={u}, Delta={delta}) is outside Corollary 3's region r >= 2, 0 < Delta < u")
    rows = []
    for trial in range(trials):
        trial_seed = seed + trial
        stream = regular_arrival_shuffled_queue(n, r, u, d, delta, seed=trial_seed)
        params = parse_definition4(stream).params()
        rows.append(Corollary3Row(
            trial_seed,
            max_ttft(stream, parse_policy("lpm", tie_break="random"), "batch", seed=trial_seed),
            max_ttft(stream, parse_policy("fcfs"), "batch"),
            max_ttft(stream, klpm_spec(r), "batch"),
            bounds.KLPM_TIGHT.value(**params),
        ))
    return tuple(rows)
