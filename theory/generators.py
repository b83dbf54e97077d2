"""Seeded stream generators: Definition 4, Poisson arrivals over prefix-tree prompts, and SGLang
bench_serving's generated-shared-prefix workload.

Randomness enters only through ``seed`` (an ``int``) or a ``numpy.random.Generator``; the same
arguments give the same stream, query for query.

Sizes and rates are checked before anything is drawn or allocated: a stream must fit in this
machine's memory (:func:`check_size`: about :data:`BYTES_PER_QUERY` bytes a query, against the
physical memory or the process's cgroup limit, whichever is smaller), and a Poisson rate so small
that the arrival times would leave a signed 64-bit integer is refused naming the rate
(:func:`poisson_gaps`).

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

import os
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief, exact_int, exact_number, to_json
from prefix_sched.theory.stream import Query, Stream

BYTES_PER_QUERY = 700
"""About the peak memory of one generated query as Python objects (measured with tracemalloc on
10^5 queries of each generator: 630 to 640 bytes), for :func:`check_size`."""
INT64_LIMIT = 2 ** 63


def memory_bytes() -> int:
    """This machine's physical memory, or the process's cgroup memory limit when that is smaller."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not POSIX: no limit known
        return 2 ** 62
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isascii() and text.isdigit():
            memory = min(memory, int(text))
    return memory


def check_size(count: int, what: str, bytes_each: int = BYTES_PER_QUERY) -> None:
    """Refuse to generate ``count`` items of about ``bytes_each`` bytes when they cannot fit in memory
    (:func:`memory_bytes`); ``what`` says where the count comes from (``"groups * group_size"``).

    >>> check_size(10 ** 12, "n")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: n = 1000000000000: that many queries need about 700 TB of memory (700 bytes each), ...
    """
    need = count * bytes_each
    have = memory_bytes()
    if need > have:
        raise InputError(f"{what} = {count}: that many queries need about {_bytes(need)} of memory ({bytes_each} "
                         f"bytes each), more than this machine's {_bytes(have)}")


def show_rate(rate: object) -> str:
    """A rate for a message: as written when short, else in scientific notation.

    >>> show_rate("1/4000"), show_rate(Fraction(1, 10 ** 300))
    ('1/4000', '1e-300')
    """
    try:
        value = Fraction(exact_number(rate, "rate"))
    except InputError:
        return brief(rate)
    text = str(value)
    if len(text) <= 20:
        return text
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.3g}"


def _bytes(count: int) -> str:
    for unit, size in (("TB", 10 ** 12), ("GB", 10 ** 9), ("MB", 10 ** 6)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def check_rate(rate: object, unit: str = "queries per token-time") -> Exact:
    """``rate`` exactly: a number > 0 whose mean gap ``1 / rate`` a float holds (the gaps are drawn
    as floats)."""
    value = exact_number(rate, "rate")
    if value <= 0:
        raise InputError(f"rate must be > 0 {unit}, got {value}")
    try:
        mean = 1.0 / float(value)
    except (OverflowError, ZeroDivisionError):
        mean = float("inf")
    if not (0 < mean < float("inf")):
        raise InputError(f"rate {show_rate(rate)}: its mean gap 1 / rate is beyond a float's range; use a rate "
                         f"between 1e-300 and 1e300 {unit}")
    return value


def poisson_gaps(rng: np.random.Generator, n: int, mean: float, rate: object, unit: str = "token-times",
                 first_at_zero: bool = True) -> np.ndarray:
    """``n`` exponential gaps of mean ``mean``, summed (the first at 0 when ``first_at_zero``), as
    float64 arrival times; refused naming ``rate`` when the last would not fit a signed 64-bit integer."""
    gaps = rng.exponential(mean, size=n)
    if first_at_zero:
        gaps[0] = 0.0
    with np.errstate(over="ignore"):  # an overflow to inf is refused below
        times = np.cumsum(gaps)
    if not times[-1] < INT64_LIMIT:  # also NaN and inf
        raise InputError(f"rate {show_rate(rate)}: the arrival times of {n} queries reach {float(times[-1]):.3g} "
                         f"{unit}, beyond a signed 64-bit integer (9.2e18); use a larger rate")
    return times


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
    check_size(n, "n")
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
    rate = check_rate(rate)
    check_size(groups * group_size, "groups * group size")
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
        rate = check_rate(rate)
    check_size(groups * prompts_per_group, "groups * prompts per group")
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
    return np.floor(poisson_gaps(rng, n, 1.0 / float(rate), rate)).astype(np.int64).tolist()
