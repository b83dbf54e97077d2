"""Adversarial local search over Definition 4 arrival orders, maximising a policy's max TTFT.

The search state is the user sequence in arrival order (docs are interchangeable). A move swaps
two arrivals of different users; a move is kept when it does not lower the objective (sideways
moves let the search cross plateaus). Each restart begins from a uniformly random order drawn from
the seeded generator. Every objective value is a max TTFT from the toolkit's simulator and the
Definition 2 evaluator (:func:`prefix_sched.studies.theorem2.max_ttft`). It leaves out the
bound it is compared with (:mod:`prefix_sched.theory.theorem2.bounds`).

Examples
--------
>>> from prefix_sched.studies.theorem2 import klpm_spec
>>> result = adversarial_search(8, 2, 3, 1, 1, klpm_spec(2), "online", iterations=30, restarts=1, seed=0)
>>> result.max_ttft <= result.bound, result.evaluations
(True, 24)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import PolicySpec
from prefix_sched.studies.theorem2 import max_ttft
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.numbers import exact_int, exact_number
from prefix_sched.theory.theorem2.definition4 import definition4_stream


@dataclass(frozen=True)
class AdversaryResult:
    """The worst arrival order found, its max TTFT, and KLPM_TIGHT at ``s = (n - 1) Delta``."""

    users: tuple[int, ...]
    max_ttft: Fraction
    bound: Fraction
    evaluations: int
    seed: int

    @property
    def gap(self) -> Fraction:
        """``bound - max_ttft``: 0 means the search reached the bound."""
        return self.bound - self.max_ttft


def adversarial_search(
    n: int,
    r: int,
    u: int,
    d: int,
    delta: object,
    policy: PolicySpec,
    view: str,
    *,
    iterations: int = 200,
    restarts: int = 2,
    seed: int = 0,
) -> AdversaryResult:
    """Local search (swap moves, seeded restarts) for the arrival order maximising max TTFT.

    Parameters
    ----------
    n, r, u, d, delta :
        Definition 4's parameters (``r`` divides ``n``).
    policy : PolicySpec
        The policy under attack (for the corrected theorem, ``klpm_spec(r)``).
    view : {"batch", "fixed", "online"}
        One of :data:`~prefix_sched.studies.theorem2.THEOREM2_VIEWS`.
    iterations, restarts : int
        Proposed swaps per restart, and restarts.
    seed : int
        Seeds the generator for starts and moves; random tie-breaking uses ``seed`` too.
    """
    n = exact_int(n, "n", minimum=1)
    r = exact_int(r, "r", minimum=1)
    if n % r:
        raise InputError(f"r must divide n, got n={n}, r={r}")
    delta = Fraction(exact_number(delta, "Delta", minimum=0))
    rng = np.random.default_rng(exact_int(seed, "seed", minimum=0))
    groups = np.repeat(np.arange(n // r), r)
    evaluations = 0

    def objective(users: np.ndarray) -> Fraction:
        nonlocal evaluations
        evaluations += 1
        return max_ttft(definition4_stream(users.tolist(), u, d, delta), policy, view, seed=seed)

    best_users, best_value = None, None
    for _ in range(restarts):
        current = rng.permutation(groups)
        value = objective(current)
        for _ in range(iterations):
            a, b = rng.integers(n, size=2)
            if current[a] == current[b]:
                continue
            current[a], current[b] = current[b], current[a]
            candidate = objective(current)
            if candidate >= value:
                value = candidate
            else:
                current[a], current[b] = current[b], current[a]
        if best_value is None or value > best_value:
            best_users, best_value = tuple(int(x) for x in current), value
    bound = bounds.KLPM_TIGHT.value(n=n, r=r, u=u, d=d, Delta=delta, s=(n - 1) * delta)
    return AdversaryResult(best_users, best_value, bound, evaluations, seed)
