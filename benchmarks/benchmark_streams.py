"""The stream family of the exact-solver benchmarks: prefix-tree prompts, Poisson arrivals at a load.

Groups of 4 prompts share a 300-token prefix and have 30-token unique suffixes; the rate is
``load / mean prompt length``; the first ``n`` arrivals are kept.
"""

from __future__ import annotations

from fractions import Fraction

from prefix_sched.theory.generators import poisson_prefix_tree
from prefix_sched.theory.stream import Stream

PREFIX, SUFFIX = 300, 30


def bench_stream(n: int, load: str, seed: int) -> Stream:
    """The first ``n`` arrivals of a seeded Poisson prefix-tree stream at offered load ``load``."""
    rate = Fraction(load) / (PREFIX + SUFFIX)
    full = poisson_prefix_tree(groups=-(-n // 4), group_size=4, prefix_len=PREFIX, suffix_len=SUFFIX,
                               rate=rate, seed=seed)
    return Stream(tuple(full.queries[i] for i in full.arrival_order[:n]), {**full.meta, "n": n})
