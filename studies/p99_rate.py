"""The seed's experiment (Section 5.2) in the model: P99 TTFT against request rate for k-LPM.

Poisson arrivals over groups of ``group_size`` prompts that share a long user history
(:func:`~prefix_sched.theory.generators.poisson_prefix_tree`), long prompts and a short unique
suffix, served online by k-LPM for each ``k`` (``k = 0`` is FCFS, ``k = inf`` is LPM); several
seeds per rate, with the spread (min, median, max) of the P99 over seeds. Times are token-times
and rates queries per token-time (alpha = 0 unless given). Every P99 comes from the Definition 2
evaluator via the simulator. It leaves out GPU timings (gpu_validation/).

Examples
--------
>>> rows = p99_vs_rate(["1/2000"], ks=(0, 3), groups=5, seeds=(0, 1))
>>> [(row.k, len(row.p99)) for row in rows]
[('0', 2), ('3', 2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import median

from prefix_sched.solvers.online.policies import INFINITY, parse_k, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.generators import poisson_prefix_tree

KS = (0, 1, 2, 3, 4, INFINITY)


@dataclass(frozen=True)
class P99Row:
    """P99 TTFT of one ``k`` at one rate, one value per seed."""

    rate: Fraction
    k: str
    seeds: tuple[int, ...]
    p99: tuple[Fraction, ...]

    @property
    def spread(self) -> tuple[float, float, float]:
        """``(min, median, max)`` of the P99 over seeds, as floats for tables and plots."""
        values = [float(x) for x in self.p99]
        return min(values), median(values), max(values)


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
) -> tuple[P99Row, ...]:
    """Simulate every (rate, k, seed) online and return the P99 TTFT (linear interpolation).

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
            p99 = tuple(
                Fraction(simulate(stream, policy, alpha=alpha, seed=seed).evaluation.percentile(99))
                for stream, seed in zip(streams, seeds)
            )
            rows.append(P99Row(rate, "inf" if k == INFINITY else str(k), tuple(seeds), p99))
    return tuple(rows)


def plot_p99_vs_rate(rows: Sequence[P99Row], ax=None):
    """Median P99 against rate per ``k``, with the min-max band over seeds; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for k in dict.fromkeys(row.k for row in rows):
        mine = sorted((row for row in rows if row.k == k), key=lambda row: row.rate)
        x = [float(row.rate) for row in mine]
        low, mid, high = zip(*(row.spread for row in mine))
        ax.plot(x, mid, marker="o", label=f"k = {k}")
        ax.fill_between(x, low, high, alpha=0.15)
    ax.set_xlabel("request rate (queries per token-time)")
    ax.set_ylabel("P99 TTFT (token-times)")
    ax.set_yscale("log")
    ax.legend(title="k-LPM")
    return ax
