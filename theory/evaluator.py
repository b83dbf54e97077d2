"""The Definition 2 evaluator: the single source of truth for completion times and TTFTs.

For an order ``pi`` of a stream, with only the previous prompt cached (the cache starts empty)::

    cost(q | prev) = (|p_q| - ov(p_q, p_prev)) + alpha * (|p_q|^2 - ov(p_q, p_prev)^2)
    c_pi(1) = t_pi(1) + cost(pi(1) | empty)
    c_pi(i) = max(c_pi(i-1), t_pi(i)) + cost(pi(i) | pi(i-1))
    TTFT_q  = c_q - t_q

(../shared/MODEL.md's reading of Definition 2.) With batch size ``B`` (Section 2.1) the order is cut
into consecutive bins of ``B``; reuse and start times are those of the batch-size-one order, and every
query of a bin completes when the bin's last query completes.

The reuse ``ov`` comes from a cache model (:mod:`~prefix_sched.theory.cache`): ``last``, the default,
is Definition 2's previous prompt (computed on a fast path: the segment overlap of consecutive
prompts); ``lru:TOKENS`` and ``unbounded`` replace ``ov(p_q, p_prev)`` by the longest prefix of
``p_q`` held by a radix cache that has served the order so far. The cost formula is unchanged.

Arithmetic is exact: times are scaled by the least common denominator of ``alpha`` and the
arrivals, computed with Python integers and returned as ``int`` or ``Fraction``.

Examples
--------
The toy example of Section 4.2 (alpha = 0, u = d = 5, all arrivals at 0):

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> evaluate(s, [0, 1, 2, 3]).ttft
(10, 20, 30, 40)
>>> evaluate(s, [0, 2, 1, 3]).ttft
(10, 15, 25, 30)

With every prefix cached, u2d4 also reuses u2 in arrival order:

>>> evaluate(s, [0, 1, 2, 3], cache="unbounded").reused
(0, 0, 5, 5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.cache import DEFAULT_CACHE, CacheModel, parse_cache
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.numbers import Exact, exact_int, exact_number, normalize
from prefix_sched.theory.stream import Stream

PERCENTILE_METHODS = ("linear", "inverted_cdf")


@dataclass(frozen=True)
class Evaluation:
    """Completion times and TTFTs of one order; every tuple is indexed by position in ``order``.

    Attributes
    ----------
    order : tuple of int
        Query indices in processing order.
    start, completion, ttft : tuple of exact numbers
        Per position: when processing starts, when the query's first token is out, ``c - t``.
    reused : tuple of int
        Per position: tokens reused from the cache; under ``last``, ``ov(p_pi(i), p_pi(i-1))``.
    alpha, batch_size :
        The model parameters used.
    cache : str
        The cache model's spec (``"last"``, ``"lru:TOKENS"`` or ``"unbounded"``).
    """

    order: tuple[int, ...]
    start: tuple[Exact, ...]
    completion: tuple[Exact, ...]
    ttft: tuple[Exact, ...]
    reused: tuple[int, ...]
    alpha: Exact
    batch_size: int
    cache: str = DEFAULT_CACHE

    @property
    def max_ttft(self) -> Exact:
        """The largest TTFT."""
        return max(self.ttft)

    @property
    def mean_ttft(self) -> Exact:
        """The mean TTFT, exactly."""
        return normalize(Fraction(sum(self.ttft), len(self.ttft)))

    @property
    def total_reused(self) -> int:
        """Prefix tokens reused over the whole order."""
        return sum(self.reused)

    @property
    def makespan(self) -> Exact:
        """Completion time of the last query."""
        return max(self.completion)

    def percentile(self, q: object, method: str = "linear") -> Exact:
        """The ``q``-th percentile TTFT; see :func:`percentile`."""
        return percentile(self.ttft, q, method)

    def violations(self, bound: object) -> int:
        """Number of queries with TTFT strictly above ``bound``."""
        limit = exact_number(bound, "TTFT bound T")
        return sum(1 for value in self.ttft if value > limit)

    def ttft_by_query(self) -> dict[int, Exact]:
        """Map query index to its TTFT."""
        return dict(zip(self.order, self.ttft))


def evaluate(
    stream: Stream, order: Sequence[int], *, alpha: object = 0, batch_size: int = 1,
    cache: str | CacheModel = DEFAULT_CACHE,
) -> Evaluation:
    """Evaluate the processing order ``order`` (query indices) under Definition 2.

    Parameters
    ----------
    stream : Stream
    order : sequence of int
        A permutation of ``range(stream.n)``.
    alpha : exact number, default 0
        Relative cost of attention, ``alpha >= 0``.
    batch_size : int, default 1
        Section 2.1's bin size ``B >= 1``.
    cache : str or CacheModel, default "last"
        The cache model (a spec for :func:`~prefix_sched.theory.cache.parse_cache`).

    Raises
    ------
    InputError
        If ``order`` is not a permutation of the stream's indices, ``alpha < 0``, ``B < 1``, the
        cache spec is bad, or a prompt is longer than the cache capacity.
    """
    alpha = exact_number(alpha, "alpha", minimum=0)
    batch_size = exact_int(batch_size, "batch size B", minimum=1)
    order = check_permutation(order, stream.n)
    cache = parse_cache(cache)
    cache.check_stream(stream)
    queries = stream.queries
    scale, alpha_scaled, scaled_arrivals = integer_timebase(stream, alpha)
    lengths = stream.lengths

    reused = cache.reuse_along([queries[index].prompt for index in order])
    starts, completions = [], []
    clock = 0
    for index, shared in zip(order, reused):
        arrival = scaled_arrivals[index]
        length = lengths[index]
        start = clock if clock > arrival else arrival
        clock = start + scaled_cost(length, shared, scale, alpha_scaled)
        starts.append(start)
        completions.append(clock)

    if batch_size > 1:
        for first in range(0, len(order), batch_size):
            last = min(first + batch_size, len(order)) - 1
            completions[first:last + 1] = [completions[last]] * (last + 1 - first)

    arrivals = [queries[i].arrival for i in order]
    if scale > 1:
        starts = [normalize(Fraction(x, scale)) for x in starts]
        completions = [normalize(Fraction(x, scale)) for x in completions]
    ttft = [normalize(c - t) for c, t in zip(completions, arrivals)]
    return Evaluation(
        order, tuple(starts), tuple(completions), tuple(ttft), tuple(reused), alpha, batch_size, cache.spec
    )


def check_permutation(order: Sequence[int], n: int) -> tuple[int, ...]:
    """Return ``order`` as a tuple after checking it is a permutation of ``range(n)``.

    >>> check_permutation([1, 0, 1], 3)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: order is not a permutation of the 3 queries: index 1 appears twice
    """
    order = tuple(order)
    seen = bytearray(n)
    for index in order:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise InputError(f"order holds {index!r}, not a query index in 0..{n - 1}")
        if seen[index]:
            raise InputError(f"order is not a permutation of the {n} queries: index {index} appears twice")
        seen[index] = 1
    if len(order) != n:
        missing = [i for i in range(n) if not seen[i]][:5]
        raise InputError(f"order has {len(order)} of {n} queries; missing indices include {missing}")
    return order


def percentile(values: Sequence[Exact] | np.ndarray, q: object, method: str = "linear", *,
               presorted: bool = False) -> Exact:
    """Return the ``q``-th percentile of ``values`` exactly: the one percentile of the package
    (Part 1's measures and the serving measures, :mod:`prefix_sched.theory.serving.measures`).

    Methods (numpy's names):

    - ``"linear"`` (numpy's default, what SGLang and Sarathi-Serve report): with
      ``h = (n - 1) q / 100``, ``x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h))`` over the
      sorted values (``x_(n - 1)`` when ``floor h = n - 1``).
    - ``"inverted_cdf"`` (nearest rank): the smallest value ``x`` with at least ``q`` percent of the
      values ``<= x``. The ``(1 - eps)`` percentile is at most ``T`` iff at most ``floor(eps n)``
      values exceed ``T``; Appendix A's guarantee is stated with this method.

    ``values`` are exact numbers in any order, or an integer numpy array, whose order statistics are
    found without sorting it (:func:`numpy.partition`) and read as ``int``; ``presorted`` says they
    are ascending already (nothing is sorted). The result is an ``int`` or a ``Fraction``.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 50, "inverted_cdf")
    (25, 20)
    >>> percentile(np.array([40, 10, 30, 20]), 99)
    Fraction(397, 10)
    """
    if method not in PERCENTILE_METHODS:
        raise InputError(f"unknown percentile method {method!r}; valid: {', '.join(PERCENTILE_METHODS)}")
    q = exact_number(q, "percentile q", minimum=0)
    if q > 100:
        raise InputError(f"percentile q must be <= 100, got {q}")
    n = len(values)
    if n == 0:
        raise InputError("percentile of an empty list of values")
    if method == "inverted_cdf":
        rank = max(math.ceil(Fraction(n * q, 100)), 1)
        return _order_statistics(values, (rank - 1,), presorted)[0]
    position = Fraction((n - 1) * q, 100)
    low = math.floor(position)
    if low + 1 >= n:
        return _order_statistics(values, (n - 1,), presorted)[0]
    below, above = _order_statistics(values, (low, low + 1), presorted)
    return normalize(below + (position - low) * (above - below))


def _order_statistics(values: Sequence[Exact] | np.ndarray, ranks: tuple[int, ...], presorted: bool) -> list[Exact]:
    """The values of ``ranks`` (0: the smallest) among ``values``; a numpy array's as ``int``."""
    if isinstance(values, np.ndarray):
        ordered = values if presorted else np.partition(values, list(ranks))
        return [int(ordered[rank]) for rank in ranks]
    ordered = values if presorted else sorted(values)
    return [ordered[rank] for rank in ranks]
