"""The policy study of notebook 07 and docs/policies.md: every serving policy on three workloads.

Workloads (each served online, alpha = 0, at several offered loads by
:func:`~prefix_sched.studies.load_comparison.rescale_to_load`):

- the Mooncake conversation trace (``read_mooncake`` at 20 tokens per ms), under ``last`` and an
  LRU radix cache;
- Definition 4 inside Corollary 3's region (``r >= 2``, ``0 < Delta < u``), where k-LPM with
  ``k = r - 1`` has its guarantee;
- SGLang bench_serving's generated-shared-prefix workload
  (:func:`~prefix_sched.theory.generators.shared_prefix`) with Poisson arrivals.

The loops are :func:`~prefix_sched.studies.load_comparison.compare_policies` (one
:class:`~prefix_sched.studies.rows.PolicyRow` per run); this module adds the workloads, the
summaries (who wins P99, who starves) and the plots. It leaves out any claim about
a real server: times are Definition 2 token-times.

Examples
--------
>>> rows = definition4_rows(n=40, deltas=(300,), policies=("fcfs", "k-lpm:3", "hrrn"))
>>> [row.policy for row in rows], str(rows[0].load)
(['fcfs', 'k-lpm(k=3)', 'hrrn'], '440/117')
>>> summary(rows)[0]["p99 winner"]
'k-lpm(k=3)'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefix_sched.studies.load_comparison import compare_policies
from prefix_sched.studies.rows import PolicyRow
from prefix_sched.theory.load import offered_load
from prefix_sched.solvers.online.policies import POLICY_EXAMPLES, parse_policy
from prefix_sched.theory.generators import regular_arrival_shuffled_queue, shared_prefix
from prefix_sched.theory.formats import read_mooncake
from prefix_sched.studies.data import MOONCAKE_TRACE, find_shared

STUDY_POLICIES = POLICY_EXAMPLES
"""Every registered policy once (``lof`` only where the workload has output lengths)."""
LOADS = ("0.8", "1", "1.2", "1.5", "2")


def _specs(policies: Sequence[str], outputs: bool):
    return [parse_policy(name) for name in policies if outputs or name != "lof"]


def mooncake_rows(path: Path | str | None = None, limit: int | None = None, loads: Sequence[str] = LOADS,
                  caches: Sequence[str] = ("last", "lru:1000000"), policies: Sequence[str] = STUDY_POLICIES,
                  tokens_per_ms: str = "20") -> tuple[PolicyRow, ...]:
    """The conversation trace (its first ``limit`` requests; default the shared one) through every
    policy, load and cache."""
    stream = read_mooncake(find_shared(MOONCAKE_TRACE) if path is None else path, tokens_per_ms, limit=limit)
    outputs = all(q.output_length is not None for q in stream.queries)
    return compare_policies(stream, _specs(policies, outputs), loads, caches=caches, name="mooncake")


def definition4_rows(n: int = 400, r: int = 4, u: int = 1000, d: int = 100, deltas: Sequence[int] = (100, 300, 600, 900),
                     policies: Sequence[str] = STUDY_POLICIES, seed: int = 0) -> tuple[PolicyRow, ...]:
    """Definition 4 under ``last`` at each ``Delta`` of ``deltas``, all inside Corollary 3's region
    (``r >= 2``, ``0 < Delta < u``); each stream is served at its own offered load
    ``n (u + d) / ((n - 1) Delta)`` (rescaling would move ``Delta``, and with it out of the
    region). The stream has no output lengths, so ``lof`` is left out.
    """
    rows = []
    for delta in deltas:
        if not (r >= 2 and 0 < delta < u):
            raise ValueError(f"(r, u, Delta) = ({r}, {u}, {delta}) is outside Corollary 3's region")
        stream = regular_arrival_shuffled_queue(n=n, r=r, u=u, d=d, delta=delta, seed=seed)
        rows += compare_policies(stream, _specs(policies, False), [offered_load(stream)], name="def4",
                                 variant=f"delta={delta}")
    return tuple(rows)


def shared_prefix_rows(groups: int = 64, prompts_per_group: int = 16, rate: str = "1/500", seed: int = 0,
                       loads: Sequence[str] = LOADS, caches: Sequence[str] = ("last", "lru:100000"),
                       policies: Sequence[str] = STUDY_POLICIES, **lengths) -> tuple[PolicyRow, ...]:
    """bench_serving's generated-shared-prefix workload with Poisson arrivals (then rescaled to
    each load; ``lengths`` go to :func:`~prefix_sched.theory.generators.shared_prefix`)."""
    stream = shared_prefix(groups, prompts_per_group, rate=rate, seed=seed, **lengths)
    return compare_policies(stream, _specs(policies, True), loads, caches=caches, name="shared-prefix")


def summary(rows: Sequence[PolicyRow]) -> list[dict[str, object]]:
    """Per (cache, load): the policies with the lowest P99 (all of them if tied), those that
    starve a query longest (most decisions waited), and where k-LPM and HRRN stand (their P99s)."""
    out = []
    for key in dict.fromkeys((row.cache, row.load) for row in rows):
        mine = [row for row in rows if (row.cache, row.load) == key]
        best = min(row.p99 for row in mine)
        worst = max(row.max_waited for row in mine)
        by_name = {row.policy.split("(")[0]: row for row in mine}
        out.append({
            "cache": key[0], "load": str(key[1]),
            "p99 winner": ", ".join(row.policy for row in mine if row.p99 == best), "p99": best,
            "starves": ", ".join(row.policy for row in mine if row.max_waited == worst), "max waited": worst,
            "k-lpm p99": by_name["k-lpm"].p99 if "k-lpm" in by_name else None,
            "hrrn p99": by_name["hrrn"].p99 if "hrrn" in by_name else None,
        })
    return out


def markdown_table(rows: Sequence[PolicyRow]) -> str:
    """One line per (cache, load, policy): P99, max TTFT, mean, max decisions waited, Jain."""
    lines = ["| cache | load | policy | P99 | max | mean | max waited | Jain |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.cache} | {row.load} | {row.policy} | {float(row.p99):.4g} | {float(row.max):.4g} | "
                     f"{float(row.mean):.4g} | {row.max_waited} | {row.jain_slowdown:.3f} |")
    return "\n".join(lines)


def plot_study(rows: Sequence[PolicyRow], title: str):
    """A figure per cache model: P99 TTFT (log) and the most decisions waited against load, one
    line per policy; k-LPM and HRRN drawn thick. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    caches = list(dict.fromkeys(row.cache for row in rows))
    fig, axes = plt.subplots(2, len(caches), figsize=(6 * len(caches), 7), squeeze=False, sharex=True)
    for column, cache in enumerate(caches):
        mine = [row for row in rows if row.cache == cache]
        for number, policy in enumerate(dict.fromkeys(row.policy for row in mine)):
            line = sorted((row for row in mine if row.policy == policy), key=lambda row: row.load)
            style = {"marker": "os^vD<>px*h"[number % 11], "color": plt.cm.tab20(number % 20),
                     "lw": 3 if policy.startswith(("k-lpm", "hrrn")) else 1.2, "label": policy}
            loads = [float(row.load) for row in line]
            axes[0][column].plot(loads, [float(row.p99) for row in line], **style)
            axes[1][column].plot(loads, [row.max_waited for row in line], **style)
        axes[0][column].set_yscale("log")
        axes[0][column].set_title(f"{title} — cache {cache}")
        axes[0][column].set_ylabel("P99 TTFT (token-times)")
        axes[1][column].set_ylabel("most decisions a query waited")
        axes[1][column].set_xlabel("offered load without reuse")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
