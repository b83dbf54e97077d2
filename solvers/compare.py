"""Compare policies on one stream across offered loads: which k should a server run?

The offered load of a stream is its work without any prefix reuse divided by the span of its
arrivals, ``rho = sum |p_i| / (t_max - t_min)`` (alpha = 0; a server that reuses nothing is
saturated at ``rho = 1``). :func:`rescale_to_load` stretches or compresses the arrival times
(exactly, keeping their order and relative gaps) so that the stream has a chosen load;
:func:`compare_policies` then serves every rescaled stream with every policy, online, and reports
TTFT percentiles, reuse, the most decisions any query waited and Jain's index of per-query
slowdown (:mod:`~prefix_sched.solvers.simulate`), each from the Definition 2 evaluator, under each
cache model asked for (``caches``, default ``("last",)``). It leaves out choosing the time
unit: for a Mooncake trace the loads already absorb ``--tokens-per-ms``.

Examples
--------
>>> from prefix_sched.theory.generators import poisson_prefix_tree
>>> from prefix_sched.solvers.policies import parse_policy
>>> s = poisson_prefix_tree(groups=10, group_size=4, prefix_len=400, suffix_len=20, rate="1/300", seed=0)
>>> offered_load(rescale_to_load(s, "3/2"))
Fraction(3, 2)
>>> rows = compare_policies(s, [parse_policy("fcfs"), parse_policy("lpm")], loads=["1/2", 2])
>>> [(str(row.load), row.policy) for row in rows]
[('1/2', 'fcfs'), ('1/2', 'lpm'), ('2', 'fcfs'), ('2', 'lpm')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from prefix_sched.errors import InputError, OutputError
from prefix_sched.solvers.policies import PolicySpec
from prefix_sched.solvers.simulate import simulate
from prefix_sched.theory.cache import DEFAULT_CACHE, parse_cache
from prefix_sched.theory.exact import Exact, exact_number
from prefix_sched.theory.outputs import save_figure
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class ComparisonRow:
    """One policy at one load under one cache: TTFT statistics (token-times, exact), the share of
    tokens reused, the most decisions a query waited and Jain's index of slowdown."""

    load: Fraction
    policy: str
    p50: Exact
    p99: Exact
    max_ttft: Exact
    mean: Exact
    reused_share: Fraction
    cache: str = "last"
    max_waited: int = 0
    jain_slowdown: float = float("nan")


def offered_load(stream: Stream) -> Fraction:
    """``sum |p_i| / (t_max - t_min)``; a stream whose queries all arrive at once has no load.

    Raises
    ------
    InputError
        If every query arrives at the same time (the load is infinite).
    """
    arrivals = [q.arrival for q in stream.queries]
    span = max(arrivals) - min(arrivals)
    if span == 0:
        raise InputError("every query arrives at the same time: the offered load is infinite")
    return Fraction(stream.total_tokens()) / span


def rescale_to_load(stream: Stream, load: object) -> Stream:
    """The stream with arrivals ``t_min + (t - t_min) * offered_load / load``: same prompts and
    order of arrival, offered load ``load``."""
    target = exact_number(load, "load")
    if target <= 0:
        raise InputError(f"load must be > 0, got {load!r}")
    factor = offered_load(stream) / target
    first = min(q.arrival for q in stream.queries)
    queries = tuple(replace(q, arrival=exact_number(first + (q.arrival - first) * factor, "arrival"))
                    for q in stream.queries)
    return Stream(queries, {**stream.meta, "rescaled_to_load": str(target)})


def compare_policies(
    stream: Stream,
    policies: Sequence[PolicySpec],
    loads: Sequence[object],
    *,
    alpha: object = 0,
    view: str = "online",
    seed: int = 0,
    caches: Sequence[object] = (DEFAULT_CACHE,),
) -> tuple[ComparisonRow, ...]:
    """Serve ``stream`` rescaled to each load with each policy under each cache; one row per
    (cache, load, policy), in that nesting."""
    if not policies or not loads or not caches:
        raise InputError("compare needs at least one policy, one load and one cache model")
    models = [parse_cache(cache) for cache in caches]
    for model in models:
        model.check_stream(stream)
    rows = []
    total = stream.total_tokens()
    for model in models:
        for load in loads:
            rescaled = rescale_to_load(stream, load)
            for policy in policies:
                run = simulate(rescaled, policy, alpha=alpha, view=view, seed=seed, cache=model)
                ev = run.evaluation
                rows.append(ComparisonRow(
                    Fraction(exact_number(load, "load")), policy.label, ev.percentile(50), ev.percentile(99),
                    ev.max_ttft, ev.mean_ttft, Fraction(ev.total_reused, total), model.spec,
                    run.max_waited, run.jain_slowdown,
                ))
    return tuple(rows)


def plot_format(path: Path | str, option: str = "--plot") -> str:
    """The format matplotlib writes ``path`` in, from its extension; OutputError if it writes none.

    Check it before the work, so that ``--plot p99.txt`` costs nothing.

    >>> plot_format("p99.png"), plot_format("p99.PDF")
    ('png', 'pdf')
    >>> plot_format("p99.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    prefix_sched.errors.OutputError: --plot: cannot write p99.txt: matplotlib writes no '.txt' files (use .png, ...)
    """
    from matplotlib.backend_bases import FigureCanvasBase

    extension = Path(path).suffix.lower().removeprefix(".")
    if extension not in FigureCanvasBase.get_supported_filetypes():
        kind = f"{Path(path).suffix!r} files" if extension else "files without an extension"
        raise OutputError(f"{option}: cannot write {path}: matplotlib writes no {kind} (use .png, .pdf, .svg)")
    return extension


def plot_comparison(rows: Sequence[ComparisonRow], path: Path | str, option: str = "--plot") -> None:
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
