"""The policy registry: FCFS, LPM and k-LPM (Algorithm 1), one parse point that fails loudly.

k-LPM serves in cycles of ``k + 1`` decisions: ``k`` longest-prefix-match steps and one oldest-first
(FCFS) step. ``cycle_start="lpm"`` (the default, the seed's prose: "it first performs k greedy
prefix-match steps ... after these steps, it processes the oldest query") puts the FCFS step last in
each cycle; ``cycle_start="fcfs"`` puts it first. ``k = 0`` is FCFS, ``k = inf`` is LPM.

LPM picks the waiting query with the longest cached prefix under the run's cache model
(:mod:`~prefix_sched.theory.cache`): its overlap with the last served prompt under ``last``
(Definition 2), its longest prefix held anywhere in the radix tree under ``lru:TOKENS`` and
``unbounded``. Ties go to the oldest (SGLang's stable sort) or, with ``tie_break="random"``, to a
uniformly random tied query drawn from the run's seeded generator (the Theorem 2 assumption). A
spec names a priority rule only; the simulator (:mod:`~prefix_sched.solvers.simulate`) applies it
with the cache model it is given, so one spec runs under every model.

Examples
--------
>>> spec = parse_policy("k-lpm", k=2)
>>> spec.label, [spec.is_fcfs_step(s) for s in range(6)]
('k-lpm(k=2)', [False, False, True, False, False, True])
>>> parse_policy("sjf")
Traceback (most recent call last):
...
prefix_sched.errors.UnknownPolicyError: unknown policy 'sjf'; valid policies: fcfs, lpm, k-lpm
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from prefix_sched.errors import InputError, UnknownPolicyError

INFINITY = math.inf


class PolicyName(str, Enum):
    """Registered policies; the values are the names the CLI accepts."""

    FCFS = "fcfs"
    LPM = "lpm"
    KLPM = "k-lpm"


TIE_BREAKS = ("oldest", "random")
CYCLE_STARTS = ("lpm", "fcfs")


@dataclass(frozen=True)
class PolicySpec:
    """A fully specified policy.

    Attributes
    ----------
    name : PolicyName
    k : int or math.inf
        LPM steps per cycle (``0`` for FCFS, ``inf`` for LPM).
    tie_break : {"oldest", "random"}
        How LPM breaks ties in prefix overlap.
    cycle_start : {"lpm", "fcfs"}
        Whether a k-LPM cycle opens with its LPM steps or its FCFS step.
    """

    name: PolicyName
    k: float
    tie_break: str = "oldest"
    cycle_start: str = "lpm"

    def is_fcfs_step(self, step: int) -> bool:
        """Whether decision number ``step`` (from 0) is an oldest-first step."""
        if self.k == 0:
            return True
        if self.k == INFINITY:
            return False
        position = step % (int(self.k) + 1)
        return position == 0 if self.cycle_start == "fcfs" else position == self.k

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``k-lpm(k=3)``."""
        if self.name is PolicyName.KLPM:
            k = "inf" if self.k == INFINITY else int(self.k)
            extra = "" if self.cycle_start == "lpm" else ",fcfs-first"
            return f"k-lpm(k={k}{extra})"
        return self.name.value

    def as_dict(self) -> dict[str, object]:
        """The settings, for result files."""
        return {
            "policy": self.name.value, "k": "inf" if self.k == INFINITY else int(self.k),
            "tie_break": self.tie_break, "cycle_start": self.cycle_start,
        }


def parse_k(value: object) -> float:
    """Read k: a non-negative integer or ``"inf"``.

    >>> parse_k("3"), parse_k("inf")
    (3, inf)
    """
    k = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("inf", "infinity"):
            return INFINITY
        k = int(text) if text.lstrip("-").isdigit() else None
    elif value == INFINITY:
        return INFINITY
    if isinstance(k, bool) or not isinstance(k, int):
        raise InputError(f"k must be a non-negative integer or 'inf', got {value!r}")
    if k < 0:
        raise InputError(f"k must be >= 0, got {value!r}")
    return k


def parse_policy(
    name: str, k: object = None, tie_break: str = "oldest", cycle_start: str = "lpm"
) -> PolicySpec:
    """Return the PolicySpec for ``name``; unknown names and bad options raise errors naming them.

    ``k`` is required for ``k-lpm`` and must be left out (or match) for ``fcfs`` (k = 0) and
    ``lpm`` (k = inf).
    """
    try:
        policy = PolicyName(name)
    except ValueError:
        valid = ", ".join(p.value for p in PolicyName)
        raise UnknownPolicyError(f"unknown policy {name!r}; valid policies: {valid}") from None
    if tie_break not in TIE_BREAKS:
        raise InputError(f"unknown tie break {tie_break!r}; valid: {', '.join(TIE_BREAKS)}")
    if cycle_start not in CYCLE_STARTS:
        raise InputError(f"unknown cycle start {cycle_start!r}; valid: {', '.join(CYCLE_STARTS)}")
    implied = {PolicyName.FCFS: 0, PolicyName.LPM: INFINITY}.get(policy)
    if policy is PolicyName.KLPM:
        if k is None:
            raise InputError("policy 'k-lpm' needs k (a non-negative integer or 'inf')")
        k_value = parse_k(k)
    else:
        if k is not None and parse_k(k) != implied:
            raise InputError(f"policy {name!r} has k = {implied}; got k = {k!r} (use 'k-lpm' to set k)")
        k_value = implied
    return PolicySpec(policy, k_value, tie_break, cycle_start)
