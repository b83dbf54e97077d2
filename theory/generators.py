"""Seeded stream generators: Definition 4 and Poisson arrivals over prefix-tree prompts.

Randomness enters only through ``seed`` (an ``int``) or a ``numpy.random.Generator``; the same
arguments give the same stream, query for query.

Examples
--------
>>> s = regular_arrival_shuffled_queue(n=4, r=2, u=5, d=5, delta=0, seed=1)
>>> [q.length for q in s.queries], sorted({q.prompt[0][0] for q in s.queries})
([10, 10, 10, 10], ['u0', 'u1'])
>>> p = poisson_prefix_tree(groups=2, group_size=3, prefix_len=100, suffix_len=10, rate="1/50", seed=0)
>>> p.n, p.queries[0].length
(6, 110)
"""

from __future__ import annotations

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.exact import exact_int, exact_number, to_json
from prefix_sched.theory.stream import Query, Stream


def _rng(seed: int | np.random.Generator) -> tuple[np.random.Generator, int | str]:
    """The generator to draw from and how to record the seed in the stream's meta."""
    if isinstance(seed, np.random.Generator):
        return seed, "numpy.random.Generator"
    seed = exact_int(seed, "seed", minimum=0)
    return np.random.default_rng(seed), seed


def regular_arrival_shuffled_queue(
    n: int, r: int, u: int, d: int, delta: object, seed: int | np.random.Generator = 0
) -> Stream:
    """Definition 4: ``n/r`` users of ``u`` tokens, each in ``r`` queries, ``n`` docs of ``d`` tokens.

    A uniformly random permutation orders the ``n`` prompts ``(user)(doc)``; the ``i``-th (from 0)
    arrives at ``i * delta``. Query ids are ``q0 .. q{n-1}`` in arrival order; segment ids ``u{j}``
    and ``d{i}`` (the doc index is the query's index before shuffling, so ``d{i}`` belongs to user
    ``u{i // r}``).

    Raises
    ------
    InputError
        If ``r`` does not divide ``n``, a length is not positive, or ``delta < 0``.
    """
    n = exact_int(n, "n", minimum=1)
    r = exact_int(r, "r", minimum=1)
    u = exact_int(u, "u", minimum=1)
    d = exact_int(d, "d", minimum=1)
    delta = exact_number(delta, "Delta", minimum=0)
    if n % r:
        raise InputError(f"r must divide n, got n={n}, r={r}")
    rng, seed = _rng(seed)
    permutation = rng.permutation(n)
    queries = tuple(
        Query(f"q{i}", ((f"u{j // r}", u), (f"d{j}", d)), i * delta)
        for i, j in enumerate(permutation.tolist())
    )
    meta = {"generator": "def4", "n": n, "r": r, "u": u, "d": d, "delta": to_json(delta), "seed": seed}
    return Stream(queries, meta)


def poisson_prefix_tree(
    groups: int,
    group_size: int,
    prefix_len: int,
    suffix_len: int,
    rate: object,
    seed: int | np.random.Generator = 0,
    base_len: int = 0,
) -> Stream:
    """Poisson arrivals over prompts from a height-two prefix tree.

    Each of ``groups`` groups has its own prefix (a system prompt or user history) of
    ``prefix_len`` tokens shared by ``group_size`` queries, each with its own suffix of
    ``suffix_len`` tokens; an optional ``base_len``-token base prompt is shared by every query
    (like SGLang's generated-shared-prefix benchmark). The ``groups * group_size`` prompts are put in
    uniformly random order and arrive as a Poisson process with ``rate`` queries per token-time:
    gaps are exponential with mean ``1 / rate``, and arrival times are rounded down to whole
    token-times, so that all arithmetic stays in integers.
    """
    groups = exact_int(groups, "groups", minimum=1)
    group_size = exact_int(group_size, "group size", minimum=1)
    prefix_len = exact_int(prefix_len, "prefix length", minimum=1)
    suffix_len = exact_int(suffix_len, "suffix length", minimum=1)
    base_len = exact_int(base_len, "base length", minimum=0)
    rate = exact_number(rate, "rate")
    if rate <= 0:
        raise InputError(f"rate must be > 0 queries per token-time, got {rate}")
    rng, seed = _rng(seed)
    n = groups * group_size
    permutation = rng.permutation(n)
    gaps = rng.exponential(1.0 / float(rate), size=n)
    gaps[0] = 0.0
    arrivals = np.floor(np.cumsum(gaps)).astype(np.int64).tolist()
    base = (("base", base_len),) if base_len else ()
    queries = tuple(
        Query(f"q{i}", base + ((f"g{j // group_size}", prefix_len), (f"s{j}", suffix_len)), arrivals[i])
        for i, j in enumerate(permutation.tolist())
    )
    meta = {
        "generator": "poisson", "groups": groups, "group_size": group_size, "prefix_len": prefix_len,
        "suffix_len": suffix_len, "base_len": base_len, "rate": to_json(rate), "seed": seed,
    }
    return Stream(queries, meta)

