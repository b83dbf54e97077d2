"""The policy table: one row per online policy, and everything derived from it.

A policy is one module of this package (its key rule as a formula in the docstring, its indexed
waiting queue ``indexed_queue(spec, run)`` and its naive reference ``naive_queue(spec, run)``) plus
one row of :data:`POLICIES`. From the table come :class:`PolicyName` (the names the CLI accepts),
:data:`POLICY_FORMS`, :data:`LPM_FAMILY`, :data:`RANDOM_TIES`, :data:`PARAMETERS`,
:data:`POLICY_EXAMPLES` (every policy once, for studies, benchmarks and tests), the one parse point
:func:`parse_policy`, :func:`make_policy_queue` and the rules on the options a command shares
between its policy runs (:func:`policy_runs`, :func:`option_refusal`).

A policy name may carry its parameter after a colon (``k-lpm:3``, ``lpm-aging:64``,
``sglang-lpm:128``); :func:`parse_policy` reads both that form and the older keyword form
(``parse_policy("k-lpm", k=3)``) and names the text it cannot read. A spec names a rule only: the
simulator (:mod:`~prefix_sched.solvers.online.simulate`) applies it under the cache model it is
given.

Notation, at decision number ``s`` (from 0) made at time ``t``, for a waiting query ``q`` of
arrival rank ``r_q`` (0 = oldest; "oldest" is the smallest rank), arrival ``a_q``, prompt ``p_q``:
``m_q`` is its cached prefix under the current cache (``state.reuse(p_q)``), ``c_q =
(|p_q| - m_q) + alpha (|p_q|^2 - m_q^2)`` its Definition 2 cost, ``s_q`` the decision at which it
entered the queue (online: the first decision made at or after ``a_q``; fixed view: 0), ``o_q``
its output length. Each policy serves ``argmax`` of its key, ties to the oldest unless noted (each
module states its rule in full):

================================  ============================================================
policy                            key
================================  ============================================================
``fcfs``                          ``-r_q``
``lpm``                           ``m_q`` (random ties allowed)
``k-lpm:K`` (Algorithm 1)         ``K`` LPM steps, then one FCFS step (random ties allowed)
``sglang-lpm[:T]``                FCFS when more than ``T`` (128) wait, else LPM
``lpm-aging:N``                   ``m_q + N (s - s_q)`` (random ties allowed)
``spf``                           ``-(|p_q| - m_q)`` (random ties allowed)
``shortest-prompt``               ``-|p_q|``
``lof``                           ``o_q``
``hrrn``                          ``(t - a_q) / c_q``, exactly; ``c_q = 0`` first
``dfs-weight``                    SGLang's post-order walk of the cache tree by weight
``random``                        the ``j``-th oldest, ``j`` uniform from the seeded generator
================================  ============================================================

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

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from types import ModuleType

from prefix_sched.errors import InputError, UnknownPolicyError
from prefix_sched.solvers.online.policies import (
    dfs_weight, fcfs, hrrn, k_lpm, lof, lpm, lpm_aging, random, sglang_lpm, shortest_prompt, spf,
)
from prefix_sched.solvers.online.policies.k_lpm import INFINITY, fcfs_steps, parse_k
from prefix_sched.solvers.online.queues import QUEUES, QueueInputs
from prefix_sched.theory.cache import CacheState
from prefix_sched.theory.parameters import read_count
from prefix_sched.theory.prompt import Prompt

SGLANG_THRESHOLD = sglang_lpm.THRESHOLD
"""SGLang's default: LPM turns into FCFS above this many waiting requests."""
TIE_BREAKS = ("oldest", "random")
CYCLE_STARTS = ("lpm", "fcfs")


@dataclass(frozen=True)
class PolicyEntry:
    """One policy: its entry (a row) in the table :data:`POLICIES`.

    Attributes
    ----------
    name : str
        The name the CLI accepts (before any ``:PARAMETER``).
    member : str
        Its :class:`PolicyName` member.
    module : module
        Its rule, with ``indexed_queue(spec, run)`` and ``naive_queue(spec, run)``.
    algorithm_one : bool
        One of Algorithm 1's policies (FCFS and LPM steps): a spec has a numeric ``k``, and takes
        ``cycle_start`` and random ties.
    k : float or None
        Algorithm 1's fixed ``k`` (FCFS 0, LPM inf); ``None`` for k-LPM, whose ``k`` is its parameter.
    parameter : str or None
        The symbol of the parameter after the colon (``K``, ``N``, ``T``).
    meaning : str
        What the parameter is, for the error that asks for it.
    default : int or None
        The parameter's value when the name leaves it out (``None``: required).
    example : str or None
        The parameter the studies and benchmarks run it with (:data:`POLICY_EXAMPLES`).
    random_ties : bool
        Whether ``tie_break="random"`` applies to its key.
    draws : bool
        Whether the rule itself draws from the run's seeded generator.
    outputs : bool
        Whether the rule reads output lengths.
    label : callable, optional
        ``label(spec, ties)`` when the label shows more than the name (``ties``: ``",random-ties"``
        or ``""``).
    """

    name: str
    member: str
    module: ModuleType
    algorithm_one: bool = False
    k: float | None = None
    parameter: str | None = None
    meaning: str = ""
    default: int | None = None
    example: str | None = None
    random_ties: bool = False
    draws: bool = False
    outputs: bool = False
    label: Callable[[PolicySpec, str], str] | None = None

    @property
    def form(self) -> str:
        """How the name is written with its parameter: ``k-lpm:K``, ``sglang-lpm[:T]``, ``fcfs``."""
        if self.parameter is None:
            return self.name
        return f"{self.name}[:{self.parameter}]" if self.default is not None else f"{self.name}:{self.parameter}"

    @property
    def example_policy(self) -> str:
        """The policy as the studies and benchmarks run it (``k-lpm:3``, ``lpm-aging:64``, ``hrrn``)."""
        return self.name if self.example is None else f"{self.name}:{self.example}"


POLICIES = (
    PolicyEntry("fcfs", "FCFS", fcfs, algorithm_one=True, k=0),
    PolicyEntry("lpm", "LPM", lpm, algorithm_one=True, k=INFINITY, random_ties=True),
    PolicyEntry("k-lpm", "KLPM", k_lpm, algorithm_one=True, parameter="K", meaning="LPM steps per cycle",
              example="3", random_ties=True, label=k_lpm.label),
    PolicyEntry("sglang-lpm", "SGLANG_LPM", sglang_lpm, parameter="T", meaning="FCFS above this many waiting",
              default=sglang_lpm.THRESHOLD, random_ties=True, label=sglang_lpm.label),
    PolicyEntry("lpm-aging", "LPM_AGING", lpm_aging, parameter="N", meaning="the tokens credited per decision waited",
              example="64", random_ties=True, label=lpm_aging.label),
    PolicyEntry("spf", "SPF", spf, random_ties=True),
    PolicyEntry("shortest-prompt", "SHORTEST_PROMPT", shortest_prompt),
    PolicyEntry("lof", "LOF", lof, outputs=True),
    PolicyEntry("hrrn", "HRRN", hrrn),
    PolicyEntry("dfs-weight", "DFS_WEIGHT", dfs_weight),
    PolicyEntry("random", "RANDOM", random, draws=True),
)
"""The registry: every list of policies (CLI, studies, benchmarks, tests, docs) comes from this table."""

PolicyName = Enum("PolicyName", [(row.member, row.name) for row in POLICIES], type=str, module=__name__,
                  qualname="PolicyName")
PolicyName.__doc__ = ("Registered policies, one per row of :data:`POLICIES`; the values are the names the CLI "
                      "accepts (before any ``:PARAMETER``).")
ROWS: dict[PolicyName, PolicyEntry] = {PolicyName(row.name): row for row in POLICIES}
"""The row of each policy."""
_BY_NAME = {row.name: row for row in POLICIES}

POLICY_FORMS = tuple(row.form for row in POLICIES)
"""Every policy as the CLI writes it: ``fcfs``, ``lpm``, ``k-lpm:K``, ``sglang-lpm[:T]``, ..."""
LPM_FAMILY = tuple(name for name, row in ROWS.items() if row.algorithm_one)
"""Algorithm 1's policies: a spec of these has a numeric ``k``."""
RANDOM_TIES = tuple(name for name, row in ROWS.items() if row.random_ties)
"""The policies with ``tie_break="random"``; the others break ties to the oldest."""
PARAMETERS = {name: row.parameter for name, row in ROWS.items() if row.parameter is not None}
"""The policies that take a parameter, and its name (``sglang-lpm``'s is optional)."""
POLICY_EXAMPLES = tuple(row.example_policy for row in POLICIES)
"""Every registered policy once, with the parameter the studies and benchmarks use."""


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

    @property
    def row(self) -> PolicyEntry:
        """Its row of :data:`POLICIES`."""
        return ROWS[self.name]

    def is_fcfs_step(self, step: int) -> bool:
        """Whether decision number ``step`` (from 0) is an oldest-first step of Algorithm 1."""
        return fcfs_steps(self.k, self.cycle_start)(step)

    @property
    def randomized(self) -> bool:
        """Whether a run draws from the seeded generator (``random``, or random ties)."""
        return self.row.draws or self.tie_break == "random"

    @property
    def breaks_ties(self) -> bool:
        """Whether a tie rule can change a run: LPM steps (``k > 0``) or a key with random ties."""
        return (self.k is not None and self.k > 0) or (self.row.random_ties and not self.row.algorithm_one)

    @property
    def has_cycles(self) -> bool:
        """Whether the run alternates LPM and FCFS steps in cycles (k-LPM with ``0 < k < inf``)."""
        return self.k is not None and 0 < self.k < INFINITY

    @property
    def run_key(self) -> tuple:
        """What the run depends on: two specs with the same key make the same run on every stream.

        ``k-lpm`` with ``k = 0`` is ``fcfs`` and with ``k = inf`` is ``lpm`` (they share one queue,
        :mod:`~prefix_sched.solvers.online.policies.k_lpm`); a tie rule matters only when the run
        breaks ties (:attr:`breaks_ties`), a cycle start only when it has cycles (:attr:`has_cycles`).

        >>> parse_policy("k-lpm:0").run_key == parse_policy("fcfs", tie_break="random").run_key
        True
        >>> parse_policy("k-lpm:inf").run_key == parse_policy("lpm", tie_break="random").run_key
        False
        """
        name = self.name
        if self.row.algorithm_one:
            name = PolicyName.FCFS if self.k == 0 else PolicyName.LPM if self.k == INFINITY else name
        return (name.value, self.k, self.tie_break if self.breaks_ties else TIE_BREAKS[0],
                self.cycle_start if self.has_cycles else CYCLE_STARTS[0], self.param)

    @property
    def needs_outputs(self) -> bool:
        """Whether the rule reads the queries' output lengths (``lof``)."""
        return self.row.outputs

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. ``k-lpm(k=3)``."""
        row = self.row
        ties = ",random-ties" if self.tie_break == "random" and not row.algorithm_one else ""
        if row.label is not None:
            return row.label(self, ties)
        return self.name.value + (f"({ties[1:]})" if ties else "")

    def as_dict(self) -> dict[str, object]:
        """The settings, for result files."""
        k = None if self.k is None else "inf" if self.k == INFINITY else int(self.k)
        out: dict[str, object] = {"policy": self.name.value, "k": k, "tie_break": self.tie_break,
                                  "cycle_start": self.cycle_start}
        if self.param is not None:
            out["param"] = self.param
        return out


def _count(text: str, what: str, spelled: str) -> int:
    """A non-negative integer written in digits 0-9 (the parameter of ``spelled``;
    :func:`~prefix_sched.theory.parameters.read_count`)."""
    try:
        return read_count(text, what)
    except InputError as err:
        detail = str(err) if "ASCII" in str(err) else f"{what} must be a non-negative integer, got {text!r}"
        raise InputError(f"policy {spelled!r}: {detail}") from None


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
    row = ROWS[policy]
    if colon and row.parameter is None:
        raise InputError(f"policy {name!r}: {base!r} takes no parameter")
    if tie_break not in TIE_BREAKS:
        raise InputError(f"unknown tie break {tie_break!r}; valid: {', '.join(TIE_BREAKS)}")
    if tie_break == "random" and not (row.random_ties or row.algorithm_one):
        raise InputError(f"policy {base!r} breaks ties to the oldest only; tie break 'random' needs one of "
                         f"{', '.join(p.value for p in RANDOM_TIES)}")
    if cycle_start not in CYCLE_STARTS:
        raise InputError(f"unknown cycle start {cycle_start!r}; valid: {', '.join(CYCLE_STARTS)}")
    if k is not None and not row.algorithm_one:
        raise InputError(f"policy {base!r} takes no k (only k-lpm does); got k = {k!r}")
    if row.algorithm_one and row.k is None:  # k-lpm: k from the name or the keyword
        if colon:
            try:
                k_value = parse_k(text)
            except InputError as err:
                raise InputError(f"policy {name!r}: {err}") from None
            if k is not None and parse_k(k) != k_value:
                raise InputError(f"policy {name!r} has k = {text}; got k = {k!r} as well")
        elif k is None:
            raise InputError(f"policy {base!r} needs k (a non-negative integer or 'inf'), e.g. '{base}:3'")
        else:
            k_value = parse_k(k)
        return PolicySpec(policy, k_value, tie_break, cycle_start)
    if row.algorithm_one:
        if k is not None and parse_k(k) != row.k:
            raise InputError(f"policy {name!r} has k = {row.k}; got k = {k!r} (use 'k-lpm' to set k)")
        return PolicySpec(policy, row.k, tie_break, cycle_start)
    if cycle_start != CYCLE_STARTS[0]:
        raise InputError(f"policy {base!r} has no cycles; cycle start {cycle_start!r} applies to k-lpm only")
    param = None
    if row.parameter is not None:
        if colon:
            param = _count(text, row.parameter, name)
        elif row.default is None:
            raise InputError(f"policy {base!r} needs {row.parameter}, {row.meaning}: {row.form!r}")
        else:
            param = row.default
    return PolicySpec(policy, None, tie_break, cycle_start, param)


def make_policy_queue(spec: PolicySpec, kind: str, prompts: Sequence[Prompt], arrivals: Sequence[int],
                      outputs: Sequence[int] | None, state: CacheState, scale: int, alpha: int):
    """The waiting queue of ``spec`` (``kind``: ``"indexed"`` for its index, ``"naive"`` for its
    reference rescan), from its row's module.

    ``arrivals`` are scaled integer times, ``outputs`` the output lengths (``lof`` only),
    ``scale`` and ``alpha`` the integer timebase of the cost ``scale (|p| - m) + alpha (|p|^2 - m^2)``.

    Raises
    ------
    InputError
        For an unknown ``kind``, or a cache state without what the index needs.
    """
    if kind not in QUEUES:
        raise InputError(f"unknown queue {kind!r}; valid: {', '.join(QUEUES)}")
    run = QueueInputs(prompts, arrivals, outputs, state, scale, alpha)
    module = spec.row.module
    return module.indexed_queue(spec, run) if kind == "indexed" else module.naive_queue(spec, run)


# --- the options a command shares between its policy runs -------------------------------------

POLICY_OPTIONS = ("k", "tie_break", "cycle_start", "seed")
"""The options shared by a command's policy runs, by their library names (``policy`` names the
policies themselves)."""


def takes_k_option(name: str) -> bool:
    """Whether the policy ``name`` takes its ``k`` from the ``k`` option (a bare ``k-lpm``)."""
    base, colon, _ = name.partition(":")
    row = _BY_NAME.get(base)
    return row is not None and not colon and row.algorithm_one and row.k is None


def policy_runs(names: Sequence[str], ks: Sequence[object], tie_break: str | None = None,
                cycle_start: str | None = None) -> list[PolicySpec]:
    """The policy runs asked for by ``names`` and the shared options, in order.

    A bare ``k-lpm`` gives one run per ``k`` of ``ks``; ``tie_break`` goes to the policies that
    break ties in a key (Algorithm 1's and :data:`RANDOM_TIES`), ``cycle_start`` to Algorithm 1's;
    the others run with the defaults. :func:`option_refusal` says whether an option is used at all.

    >>> [spec.label for spec in policy_runs(["hrrn", "k-lpm"], ["1", "inf"], tie_break="random")]
    ['hrrn', 'k-lpm(k=1)', 'k-lpm(k=inf)']
    """
    tie_break = tie_break or TIE_BREAKS[0]
    cycle_start = cycle_start or CYCLE_STARTS[0]
    specs = []
    for name in names:
        row = ROWS[PolicyName(name.partition(":")[0])]
        ties = tie_break if row.algorithm_one or row.random_ties else TIE_BREAKS[0]
        cycles = cycle_start if row.algorithm_one else CYCLE_STARTS[0]
        for k in ks if takes_k_option(name) else [None]:
            specs.append(parse_policy(name, k=k, tie_break=ties, cycle_start=cycles))
    return specs


def option_refusal(names: Sequence[str], specs: Sequence[PolicySpec], given: Collection[str],
                   spell: Callable[[str], str] = str) -> str | None:
    """The refusal of the first option of ``given`` (:data:`POLICY_OPTIONS`) that no run would use, or None.

    ``names`` are the policies asked for, ``specs`` their runs (:func:`policy_runs`); ``spell(option)``
    says how the caller writes an option (``"policy"`` included), e.g. ``--tie-break`` for a command.

    >>> specs = policy_runs(["hrrn"], ["3"])
    >>> option_refusal(["hrrn"], specs, {"seed", "cycle_start"})
    'cycle_start: only applies to policy k-lpm with 0 < k < inf'
    >>> option_refusal(["hrrn"], specs, {"k"}, spell=lambda option: "--" + option.replace("_", "-"))
    '--k: only applies to --policy k-lpm (k-lpm:K carries its own k)'
    """
    if "k" in given and not any(takes_k_option(name) for name in names):
        return f"{spell('k')}: only applies to {spell('policy')} k-lpm (k-lpm:K carries its own k)"
    if "tie_break" in given and not any(spec.breaks_ties for spec in specs):
        return f"{spell('tie_break')}: no policy run breaks ties in a key (FCFS, k = 0 and oldest-only policies)"
    if "cycle_start" in given and not any(spec.has_cycles for spec in specs):
        return f"{spell('cycle_start')}: only applies to {spell('policy')} k-lpm with 0 < k < inf"
    if "seed" in given and not any(spec.randomized for spec in specs):
        return (f"{spell('seed')}: only applies with {spell('tie_break')} random or {spell('policy')} random "
                "(the random choices)")
    return None


def same_run(specs: Sequence[PolicySpec]) -> tuple[PolicySpec, PolicySpec] | None:
    """The first two of ``specs`` that make the same run (:attr:`PolicySpec.run_key`), or None.

    >>> [s.label for s in same_run(policy_runs(["fcfs", "lpm", "k-lpm"], ["2", "0"]))]
    ['fcfs', 'k-lpm(k=0)']
    """
    seen: dict[tuple, PolicySpec] = {}
    for spec in specs:
        key = spec.run_key
        if key in seen:
            return seen[key], spec
        seen[key] = spec
    return None
