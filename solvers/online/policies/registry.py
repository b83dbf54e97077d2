"""The policy registry: one parse point for every online policy, each a priority rule over the
waiting queries given the cache state, the clock and the decision count.

A policy name may carry its parameter after a colon (``k-lpm:3``, ``lpm-aging:64``,
``sglang-lpm:128``); :func:`parse_policy` reads both that form and the older keyword form
(``parse_policy("k-lpm", k=3)``) and names the text it cannot read. A spec names a rule only: the
simulator (:mod:`~prefix_sched.solvers.online.simulate`) applies it under the cache model it is given,
with the waiting queues of :mod:`~prefix_sched.solvers.online.waiting` (FCFS, LPM, k-LPM,
``sglang-lpm``) and :mod:`~prefix_sched.solvers.online.priority` (the others).

Notation, at decision number ``s`` (from 0) made at time ``t``, for a waiting query ``q`` of
arrival rank ``r_q`` (0 = oldest; "oldest" is the smallest rank), arrival ``a_q``, prompt ``p_q``:
``m_q`` is its cached prefix under the current cache (``state.reuse(p_q)``), ``c_q =
(|p_q| - m_q) + alpha (|p_q|^2 - m_q^2)`` its Definition 2 cost, ``s_q`` the decision at which it
entered the queue (online: the first decision made at or after ``a_q``; fixed view: 0), ``o_q``
its output length. Each policy serves ``argmax`` of its key, ties to the oldest unless noted:

- ``fcfs``: ``-r_q``.
- ``lpm``: ``m_q`` (ties: oldest, or with ``tie_break="random"`` a uniformly random tied query).
- ``k-lpm:K`` (Algorithm 1): cycles of ``K + 1`` decisions, ``K`` LPM steps and one FCFS step
  (``cycle_start`` says which comes first); ``K = 0`` is FCFS, ``K = inf`` is LPM.
- ``sglang-lpm[:T]`` (SGLang's LPM as it runs): an FCFS step at every decision where more than
  ``T`` (default 128) queries wait, an LPM step otherwise; its label says so.
- ``lpm-aging:N``: ``m_q + N (s - s_q)``, the matched tokens plus ``N`` per earlier decision at
  which the query already waited.
- ``spf`` (shortest prefill first): ``-(|p_q| - m_q)``, the fewest uncached tokens.
- ``shortest-prompt`` (SLAI's prefill reordering; cache-unaware): ``-|p_q|``.
- ``lof`` (longest output first): ``o_q``; a stream without output lengths is refused.
- ``hrrn`` (highest response ratio next): ``(t - a_q) / c_q``, compared exactly; a query with
  ``c_q = 0`` (fully cached) ranks above every other.
- ``dfs-weight`` (SGLang): each waiting query is attached to the deepest cache node on its path,
  the node ending exactly at its match point (SGLang's match splits a node there); a node's
  weight is the number of waiting queries attached in its subtree; the tree is walked in
  post-order, children by decreasing weight (ties: the child whose subtree holds the oldest
  waiting query), a node's own queries in arrival order; the first query of the walk is served.
  Under ``last`` the tree is one node, the previous prompt, and the walk picks LPM's query.
- ``random``: the ``j``-th oldest waiting query, ``j`` drawn uniformly from the run's seeded
  generator (one draw per decision).

Examples
--------
>>> spec = parse_policy("k-lpm", k=2)
>>> spec.label, [spec.is_fcfs_step(s) for s in range(6)]
('k-lpm(k=2)', [False, False, True, False, False, True])
>>> parse_policy("k-lpm:2") == spec, parse_policy("lpm-aging:64").label, parse_policy("sglang-lpm").label
(True, 'lpm-aging(N=64)', 'sglang-lpm(fcfs above 128 waiting)')
>>> parse_policy("sjf")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.UnknownPolicyError: unknown policy 'sjf'; valid policies: fcfs, lpm, k-lpm:K, ...
>>> parse_policy("lpm-aging:x")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: policy 'lpm-aging:x': N must be a non-negative integer, got 'x'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from prefix_sched.errors import InputError, UnknownPolicyError

INFINITY = math.inf
SGLANG_THRESHOLD = 128
"""SGLang's default: LPM turns into FCFS above this many waiting requests."""


class PolicyName(str, Enum):
    """Registered policies; the values are the names the CLI accepts (before any ``:PARAMETER``)."""

    FCFS = "fcfs"
    LPM = "lpm"
    KLPM = "k-lpm"
    SGLANG_LPM = "sglang-lpm"
    LPM_AGING = "lpm-aging"
    SPF = "spf"
    SHORTEST_PROMPT = "shortest-prompt"
    LOF = "lof"
    HRRN = "hrrn"
    DFS_WEIGHT = "dfs-weight"
    RANDOM = "random"


LPM_FAMILY = (PolicyName.FCFS, PolicyName.LPM, PolicyName.KLPM)
"""Algorithm 1's policies: a spec of these has a numeric ``k``."""
PARAMETERS = {PolicyName.KLPM: "K", PolicyName.LPM_AGING: "N", PolicyName.SGLANG_LPM: "T"}
"""The policies that take a parameter, and its name (``sglang-lpm``'s is optional)."""
RANDOM_TIES = (PolicyName.LPM, PolicyName.KLPM, PolicyName.SGLANG_LPM, PolicyName.LPM_AGING, PolicyName.SPF)
"""The policies with ``tie_break="random"``; the others break ties to the oldest."""
TIE_BREAKS = ("oldest", "random")
CYCLE_STARTS = ("lpm", "fcfs")
POLICY_FORMS = ("fcfs", "lpm", "k-lpm:K", "sglang-lpm[:T]", "lpm-aging:N", "spf", "shortest-prompt",
                "lof", "hrrn", "dfs-weight", "random")


@dataclass(frozen=True)
class PolicySpec:
    """A fully specified policy.

    Attributes
    ----------
    name : PolicyName
    k : int, math.inf or None
        LPM steps per cycle for Algorithm 1's policies (``0`` for FCFS, ``inf`` for LPM); ``None``
        for every other policy.
    tie_break : {"oldest", "random"}
        How ties in the key are broken (``random`` only for :data:`RANDOM_TIES`).
    cycle_start : {"lpm", "fcfs"}
        Whether a k-LPM cycle opens with its LPM steps or its FCFS step.
    param : int or None
        ``N`` of ``lpm-aging``, ``T`` of ``sglang-lpm``; ``None`` otherwise.
    """

    name: PolicyName
    k: float | None
    tie_break: str = "oldest"
    cycle_start: str = "lpm"
    param: int | None = None

    def is_fcfs_step(self, step: int) -> bool:
        """Whether decision number ``step`` (from 0) is an oldest-first step of Algorithm 1."""
        if self.k == 0:
            return True
        if self.k is None or self.k == INFINITY:
            return False
        position = step % (int(self.k) + 1)
        return position == 0 if self.cycle_start == "fcfs" else position == self.k

    @property
    def randomized(self) -> bool:
        """Whether a run draws from the seeded generator (``random``, or random ties)."""
        return self.name is PolicyName.RANDOM or self.tie_break == "random"

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``k-lpm(k=3)``."""
        ties = ",random-ties" if self.tie_break == "random" and self.name not in LPM_FAMILY else ""
        if self.name is PolicyName.KLPM:
            k = "inf" if self.k == INFINITY else int(self.k)
            extra = "" if self.cycle_start == "lpm" else ",fcfs-first"
            return f"k-lpm(k={k}{extra})"
        if self.name is PolicyName.LPM_AGING:
            return f"lpm-aging(N={self.param}{ties})"
        if self.name is PolicyName.SGLANG_LPM:
            return f"sglang-lpm(fcfs above {self.param} waiting{ties})"
        return self.name.value + (f"({ties[1:]})" if ties else "")

    def as_dict(self) -> dict[str, object]:
        """The settings, for result files."""
        k = None if self.k is None else "inf" if self.k == INFINITY else int(self.k)
        out: dict[str, object] = {"policy": self.name.value, "k": k, "tie_break": self.tie_break,
                                  "cycle_start": self.cycle_start}
        if self.param is not None:
            out["param"] = self.param
        return out


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


def _count(text: str, what: str, spelled: str) -> int:
    """A non-negative integer written in decimal (the parameter of ``spelled``)."""
    if not (text.isascii() and text.isdigit()):
        raise InputError(f"policy {spelled!r}: {what} must be a non-negative integer, got {text!r}")
    return int(text)


def parse_policy(
    name: str, k: object = None, tie_break: str = "oldest", cycle_start: str = "lpm"
) -> PolicySpec:
    """Return the PolicySpec for ``name`` (``"k-lpm:3"``, ``"lpm-aging:64"``, ``"hrrn"``, ...).

    ``k`` (the keyword form) is required for ``k-lpm`` unless the name carries it, and must be
    left out (or match) for ``fcfs`` (k = 0) and ``lpm`` (k = inf); no other policy takes it.

    Raises
    ------
    UnknownPolicyError
        For a name that is not registered, naming it and listing the valid forms.
    InputError
        For a bad or missing parameter or option, naming the text.
    """
    if not isinstance(name, str):
        raise UnknownPolicyError(f"a policy must be a name such as 'k-lpm:3', got {name!r}")
    base, colon, text = name.partition(":")
    try:
        policy = PolicyName(base)
    except ValueError:
        raise UnknownPolicyError(f"unknown policy {name!r}; valid policies: {', '.join(POLICY_FORMS)}") from None
    if colon and policy not in PARAMETERS:
        raise InputError(f"policy {name!r}: {base!r} takes no parameter")
    if tie_break not in TIE_BREAKS:
        raise InputError(f"unknown tie break {tie_break!r}; valid: {', '.join(TIE_BREAKS)}")
    if tie_break == "random" and policy not in RANDOM_TIES and policy is not PolicyName.FCFS:
        raise InputError(f"policy {base!r} breaks ties to the oldest only; tie break 'random' needs one of "
                         f"{', '.join(p.value for p in RANDOM_TIES)}")
    if cycle_start not in CYCLE_STARTS:
        raise InputError(f"unknown cycle start {cycle_start!r}; valid: {', '.join(CYCLE_STARTS)}")
    if k is not None and policy not in LPM_FAMILY:
        raise InputError(f"policy {base!r} takes no k (only k-lpm does); got k = {k!r}")
    if policy is PolicyName.KLPM:
        if colon:
            try:
                k_value = parse_k(text)
            except InputError as err:
                raise InputError(f"policy {name!r}: {err}") from None
            if k is not None and parse_k(k) != k_value:
                raise InputError(f"policy {name!r} has k = {text}; got k = {k!r} as well")
        elif k is None:
            raise InputError("policy 'k-lpm' needs k (a non-negative integer or 'inf'), e.g. 'k-lpm:3'")
        else:
            k_value = parse_k(k)
        return PolicySpec(policy, k_value, tie_break, cycle_start)
    if policy in LPM_FAMILY:
        implied = 0 if policy is PolicyName.FCFS else INFINITY
        if k is not None and parse_k(k) != implied:
            raise InputError(f"policy {name!r} has k = {implied}; got k = {k!r} (use 'k-lpm' to set k)")
        return PolicySpec(policy, implied, tie_break, cycle_start)
    if cycle_start != CYCLE_STARTS[0]:
        raise InputError(f"policy {base!r} has no cycles; cycle start {cycle_start!r} applies to k-lpm only")
    param = None
    if policy is PolicyName.LPM_AGING:
        if not colon:
            raise InputError("policy 'lpm-aging' needs N, the tokens credited per decision waited: 'lpm-aging:N'")
        param = _count(text, "N", name)
    elif policy is PolicyName.SGLANG_LPM:
        param = _count(text, "T", name) if colon else SGLANG_THRESHOLD
    return PolicySpec(policy, None, tie_break, cycle_start, param)
