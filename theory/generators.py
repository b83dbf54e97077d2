"""Seeded stream generators: Definition 4, Poisson arrivals over prefix-tree prompts, and SGLang
bench_serving's generated-shared-prefix workload.

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
>>> g = shared_prefix(groups=2, prompts_per_group=3, system_prompt_len=20, question_len=4, seed=0)
>>> g.n, g.queries[0].length, g.queries[0].output_length, {q.arrival for q in g.queries}
(6, 24, 256, {0})
"""

from __future__ import annotations

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, exact_int, exact_number, to_json
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
    arrivals = _poisson_arrivals(rng, n, rate)
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



def shared_prefix(
    groups: int = 64,
    prompts_per_group: int = 16,
    system_prompt_len: int = 2048,
    question_len: int = 128,
    output_len: int = 256,
    rate: object = None,
    seed: int | np.random.Generator = 0,
) -> Stream:
    """SGLang bench_serving's ``generated-shared-prefix`` workload.

    As ``sample_generated_shared_prefix_requests``: each of ``groups`` groups has its own system
    prompt of ``system_prompt_len`` tokens, and each of its ``prompts_per_group`` prompts is that
    system prompt followed by a question of its own, ``question_len`` tokens (a fresh random text
    per prompt); every request asks for ``output_len`` tokens; the requests are shuffled. Arrivals
    follow bench_serving's request rate: ``rate=None`` (its default, an infinite rate) sends every
    request at time 0; a rate in queries per token-time gives a Poisson process (exponential gaps
    of mean ``1 / rate``, arrival times rounded down to whole token-times, the first at 0).

    Segment ids are ``sys{g}`` and ``q{g}_{i}``; query ids ``q0 ..`` in the shuffled order.
    What it leaves out: the tokenizer (the lengths are exact token counts here, where
    bench_serving's decoded-and-re-encoded texts come out a few tokens off).
    """
    groups = exact_int(groups, "groups", minimum=1)
    prompts_per_group = exact_int(prompts_per_group, "prompts per group", minimum=1)
    system_prompt_len = exact_int(system_prompt_len, "system prompt length", minimum=1)
    question_len = exact_int(question_len, "question length", minimum=1)
    output_len = exact_int(output_len, "output length", minimum=0)
    if rate is not None:
        rate = exact_number(rate, "rate")
        if rate <= 0:
            raise InputError(f"rate must be > 0 queries per token-time, got {rate}")
    rng, seed = _rng(seed)
    n = groups * prompts_per_group
    permutation = rng.permutation(n)
    if rate is None:
        arrivals = [0] * n
    else:
        arrivals = _poisson_arrivals(rng, n, rate)
    queries = tuple(
        Query(f"q{i}", ((f"sys{j // prompts_per_group}", system_prompt_len),
                        (f"q{j // prompts_per_group}_{j % prompts_per_group}", question_len)),
              arrivals[i], output_length=output_len)
        for i, j in enumerate(permutation.tolist())
    )
    meta = {
        "generator": "shared-prefix", "groups": groups, "prompts_per_group": prompts_per_group,
        "system_prompt_len": system_prompt_len, "question_len": question_len, "output_len": output_len,
        "rate": None if rate is None else to_json(rate), "seed": seed,
    }
    return Stream(queries, meta)


def _poisson_arrivals(rng: np.random.Generator, n: int, rate: Exact) -> list[int]:
    """``n`` Poisson arrivals at ``rate`` per token-time, the first at 0, rounded down to integers."""
    gaps = rng.exponential(1.0 / float(rate), size=n)
    gaps[0] = 0.0
    return np.floor(np.cumsum(gaps)).astype(np.int64).tolist()
