"""One row type for policy runs: a policy run on a stream, at a load, under a cache, with a seed.

Every table of policy runs holds :class:`PolicyRow` s: ``compare``
(:mod:`~prefix_sched.studies.load_comparison`), the cache study, the policy study, P99 against rate
and the sweep (whose results file stores a row's settings and measures as columns). A row says
where the run was (the stream's name and swept parameters, the offered load its arrivals were
rescaled to, the cache model, the seed), which policy ran (its label), and its measures, named as
in :mod:`~prefix_sched.theory.measures` (None where the table did not ask for one). Values are the
run's own: exact numbers, Jain's index a float. It leaves out formatting (each command and study
formats its table) and the settings shared by a whole table (alpha, view, batch size).

Examples
--------
>>> from prefix_sched.solvers.online.policies import parse_policy
>>> from prefix_sched.solvers.online.simulate import simulate
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("v", 9),), 0), ("c", (("u", 5),), 0)])
>>> row = policy_row(simulate(s, parse_policy("lpm")), s, ("p50", "max", "reused_share", "max_waited"), name="toy")
>>> row.policy, row.cache, row.p50, row.max, row.reused_share, row.max_waited, row.p99
('lpm', 'last', 10, 19, Fraction(5, 24), 2, None)
>>> row.measure("max") == row.max
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from fractions import Fraction

from prefix_sched.solvers.online.simulate import PolicyRun
from prefix_sched.theory.measures import MEASURES, Value, parse_measure
from prefix_sched.theory.numbers import Exact
from prefix_sched.theory.stream import Stream

_UNSET = object()


@dataclass(frozen=True)
class PolicyRow:
    """One policy run: where it ran, the policy, and its measures (token-times, exact).

    Attributes
    ----------
    stream : str
        The stream's name (``""`` where a table has one stream).
    variant : str
        The stream's swept generator parameters, e.g. ``"rate=1/2000"`` (``""`` when none).
    load : Fraction or None
        The offered load the arrivals were rescaled to; None for the arrivals as given.
    cache : str
        The cache model's spec.
    policy : str
        The policy's label (:attr:`~prefix_sched.solvers.online.policies.PolicySpec.label`).
    seed : int or None
        The seed of the run (of its random choices, and of the stream's generator where the table
        generated the stream); None when none was given.
    count, mean, p50, p90, p99, max, makespan, reused, reused_share, violations, jain_slowdown, \
max_waited, fcfs_fallbacks :
        The measures of :data:`~prefix_sched.theory.measures.MEASURES`, in its order; None where
        not measured.
    """

    stream: str
    variant: str
    load: Fraction | None
    cache: str
    policy: str
    seed: int | None
    count: int | None = None
    mean: Exact | None = None
    p50: Exact | None = None
    p90: Exact | None = None
    p99: Exact | None = None
    max: Exact | None = None
    makespan: Exact | None = None
    reused: int | None = None
    reused_share: Exact | None = None
    violations: int | None = None
    jain_slowdown: float | None = None
    max_waited: int | None = None
    fcfs_fallbacks: int | None = None

    def measure(self, name: str) -> Value:
        """The value of the measure ``name`` (InputError naming the valid ones if unknown)."""
        return getattr(self, parse_measure(name).name)

    def measured(self) -> dict[str, Value]:
        """Every measure this row holds (not None), by name in the vocabulary's order."""
        return {name: value for name in MEASURES if (value := getattr(self, name)) is not None}


SETTINGS = tuple(f.name for f in fields(PolicyRow) if f.name not in MEASURES)
"""The fields of a row that say where it ran, before its measures."""


def policy_row(run: PolicyRun, stream: Stream, measures: Sequence[str], *, name: str = "", variant: str = "",
               load: Exact | None = None, seed: object = _UNSET, ttft: Exact | None = None) -> PolicyRow:
    """The row of ``run``, a run of ``stream`` (the stream it served, after any rescaling).

    Parameters
    ----------
    run : PolicyRun
    stream : Stream
    measures : sequence of str
        The measures to record (names from :data:`~prefix_sched.theory.measures.MEASURES`).
    name, variant : str
        The stream's name and swept parameters.
    load : exact number, optional
        The offered load the arrivals were rescaled to (None: as given).
    seed : int or None, optional
        Default: the seed the run was given (:attr:`PolicyRun.seed`).
    ttft : exact number, optional
        The bound that ``violations`` counts against.
    """
    return PolicyRow(
        name, variant, None if load is None else Fraction(load), run.evaluation.cache,
        run.policy.label, run.seed if seed is _UNSET else seed,
        **run.measures(stream, measures, ttft),
    )
