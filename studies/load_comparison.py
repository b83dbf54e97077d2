"""Compare policies on one stream across offered loads: which k should a server run?

The stream is rescaled to each offered load (:func:`~prefix_sched.theory.load.rescale_to_load`:
work without reuse over the span of arrivals); :func:`compare_policies` then serves every rescaled
stream with every policy, online, under each cache model asked for (``caches``, default
``("last",)``), and returns one :class:`~prefix_sched.studies.rows.PolicyRow` per run with the
measures of :data:`COMPARE_MEASURES` (TTFT percentiles, reuse, the most decisions any query waited
and Jain's index of per-query slowdown; :mod:`~prefix_sched.theory.measures`), each from the
Definition 2 evaluator. It leaves out choosing the time unit: for a Mooncake trace the loads
already absorb ``--tokens-per-ms``.

Examples
--------
>>> from prefix_sched.theory.generators import poisson_prefix_tree
>>> from prefix_sched.solvers.online.policies import parse_policy
>>> s = poisson_prefix_tree(groups=10, group_size=4, prefix_len=400, suffix_len=20, rate="1/300", seed=0)
>>> rows = compare_policies(s, [parse_policy("fcfs"), parse_policy("lpm")], loads=["1/2", 2])
>>> [(str(row.load), row.policy) for row in rows]
[('1/2', 'fcfs'), ('1/2', 'lpm'), ('2', 'fcfs'), ('2', 'lpm')]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import PolicySpec
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.rows import PolicyRow, policy_row
from prefix_sched.theory.cache import DEFAULT_CACHE, parse_cache
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.load import rescale_to_load
from prefix_sched.theory.outputs import plot_format, save_figure
from prefix_sched.theory.stream import Stream

COMPARE_MEASURES = ("p50", "p99", "max", "mean", "reused_share", "max_waited", "jain_slowdown")
"""What each row of :func:`compare_policies` measures (:mod:`~prefix_sched.theory.measures`)."""


def compare_policies(
    stream: Stream,
    policies: Sequence[PolicySpec],
    loads: Sequence[object],
    *,
    alpha: object = 0,
    view: str = "online",
    seed: int = 0,
    caches: Sequence[object] = (DEFAULT_CACHE,),
    name: str = "",
    variant: str = "",
) -> tuple[PolicyRow, ...]:
    """Serve ``stream`` rescaled to each load with each policy under each cache; one row per
    (cache, load, policy), in that nesting (``name`` and ``variant`` name the stream in the rows)."""
    if not policies or not loads or not caches:
        raise InputError("compare needs at least one policy, one load and one cache model")
    models = [parse_cache(cache) for cache in caches]
    for model in models:
        model.check_stream(stream)
    rows = []
    for model in models:
        for load in loads:
            rescaled = rescale_to_load(stream, load)
            for policy in policies:
                run = simulate(rescaled, policy, alpha=alpha, view=view, seed=seed, cache=model)
                rows.append(policy_row(run, rescaled, COMPARE_MEASURES, name=name, variant=variant,
                                       load=exact_number(load, "load")))
    return tuple(rows)


def plot_comparison(rows: Sequence[PolicyRow], path: Path | str, option: str = "--plot") -> None:
    """Save P99 TTFT against offered load, one line per policy (and cache, if several), log scale.

    The format follows the extension (:func:`plot_format`); the file is written atomically
    (:func:`~prefix_sched.theory.outputs.save_figure`), so a failed or killed write leaves the old
    file as it was.
    """
    file_format = plot_format(path, option)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    several = len({row.cache for row in rows}) > 1
    for key in dict.fromkeys((row.cache, row.policy) for row in rows):
        mine = sorted((row for row in rows if (row.cache, row.policy) == key), key=lambda row: row.load)
        label = f"{key[1]} [{key[0]}]" if several else key[1]
        ax.plot([float(r.load) for r in mine], [float(r.p99) for r in mine], marker="o", label=label)
    ax.set_xlabel("offered load without reuse (sum of prompt tokens / arrival span)")
    ax.set_ylabel("P99 TTFT (token-times)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, option, file_format=file_format)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
