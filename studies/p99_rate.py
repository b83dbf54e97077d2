"""The seed's experiment (Section 5.2) in the model: P99 TTFT against request rate for k-LPM.

Poisson arrivals over groups of ``group_size`` prompts that share a long user history
(:func:`~prefix_sched.theory.generators.poisson_prefix_tree`), long prompts and a short unique
suffix, served online by k-LPM for each ``k`` (``k = 0`` is FCFS, ``k = inf`` is LPM); several
seeds per rate, with the spread (min, median, max) of the P99 over seeds. Each run is one
:class:`~prefix_sched.studies.rows.PolicyRow` (stream ``poisson``; variant ``rate=R`` and the
policy's label as a sweep names them, so ``examples/sweep_p99_rate.toml``'s rows match). Times are
token-times and rates queries per token-time (alpha = 0 unless given). Every P99 comes from the
Definition 2 evaluator via the simulator. It leaves out GPU timings (gpu_validation/).

Examples
--------
>>> rows = p99_vs_rate(["1/2000"], ks=(0, 3), groups=5, seeds=(0, 1))
>>> [(row.variant, row.policy, row.seed) for row in rows]
[('rate=1/2000', 'k-lpm(k=0)', 0), ('rate=1/2000', 'k-lpm(k=0)', 1), ('rate=1/2000', 'k-lpm(k=3)', 0), ('rate=1/2000', 'k-lpm(k=3)', 1)]
>>> list(spread(rows)) == [(Fraction(1, 2000), 'k-lpm(k=0)'), (Fraction(1, 2000), 'k-lpm(k=3)')]
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from statistics import median

from prefix_sched.solvers.online.policies import INFINITY, parse_k, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.rows import PolicyRow, policy_row
from prefix_sched.theory.numbers import exact_number, to_json
from prefix_sched.theory.generators import poisson_prefix_tree

KS = (0, 1, 2, 3, 4, INFINITY)
STREAM = "poisson"
RATE = "rate="


def p99_vs_rate(
    rates: Sequence[object],
    ks: Sequence[object] = KS,
    *,
    groups: int = 50,
    group_size: int = 4,
    prefix_len: int = 4000,
    suffix_len: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    cycle_start: str = "lpm",
    tie_break: str = "random",
    alpha: object = 0,
) -> tuple[PolicyRow, ...]:
    """Simulate every (rate, k, seed) online; one row per run, in that nesting, with its P99 TTFT
    (linear interpolation).

    The same stream (per rate and seed) is served by every ``k``. LPM ties are broken uniformly at
    random by default (Theorem 2's assumption; the seed's Section 5 finds it realistic for real
    prompts, whose small accidental overlaps scatter ties), seeded with the stream's seed; with
    ``tie_break="oldest"`` LPM's zero-overlap picks are oldest-first, which already mimics k-LPM.
    """
    rows = []
    for rate in rates:
        rate = Fraction(exact_number(rate, "rate"))
        streams = [poisson_prefix_tree(groups, group_size, prefix_len, suffix_len, rate, seed=seed) for seed in seeds]
        for k in ks:
            k = parse_k(k)
            policy = parse_policy("k-lpm", k=k, cycle_start=cycle_start, tie_break=tie_break)
            for stream, seed in zip(streams, seeds):
                run = simulate(stream, policy, alpha=alpha, seed=seed)
                rows.append(policy_row(run, stream, ("p99",), name=STREAM, variant=f"{RATE}{to_json(rate)}", seed=seed))
    return tuple(rows)


def rate_of(row: PolicyRow) -> Fraction:
    """The request rate of a row of :func:`p99_vs_rate` (its variant ``rate=R``)."""
    return Fraction(row.variant.removeprefix(RATE))


def spread(rows: Iterable[PolicyRow]) -> dict[tuple[Fraction, str], tuple[float, float, float]]:
    """Per (rate, policy), in the rows' order: ``(min, median, max)`` of the P99 over seeds, as
    floats for tables and plots."""
    values: dict[tuple[Fraction, str], list[float]] = {}
    for row in rows:
        values.setdefault((rate_of(row), row.policy), []).append(float(row.p99))
    return {key: (min(found), median(found), max(found)) for key, found in values.items()}


def plot_p99_vs_rate(rows: Sequence[PolicyRow], ax=None):
    """Median P99 against rate per ``k``, with the min-max band over seeds; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    spreads = spread(rows)
    for policy in dict.fromkeys(policy for _, policy in spreads):
        mine = sorted((rate, low_mid_high) for (rate, label), low_mid_high in spreads.items() if label == policy)
        x = [float(rate) for rate, _ in mine]
        low, mid, high = zip(*(values for _, values in mine))
        ax.plot(x, mid, marker="o", label=policy)
        ax.fill_between(x, low, high, alpha=0.15)
    ax.set_xlabel("request rate (queries per token-time)")
    ax.set_ylabel("P99 TTFT (token-times)")
    ax.set_yscale("log")
    ax.legend(title="k-LPM")
    return ax
