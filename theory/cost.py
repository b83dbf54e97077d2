"""Definition 2's prefill cost, written once: the exact form, the scaled-integer form and what is
built from it (the integer timebase, the pairwise cost matrix, each query's least cost).

A query with prompt ``p`` whose first ``m`` tokens are cached costs (../shared/MODEL.md's reading
of Definition 2, in token-times)::

    cost(p | m) = (|p| - m) + alpha (|p|^2 - m^2)

:func:`prefill_cost` computes it exactly (``int`` or ``Fraction``). Engines that run many
decisions work in integers instead: with ``D`` the least common denominator of ``alpha`` and the
arrivals (:func:`integer_timebase`), ``D * cost = D (|p| - m) + (alpha D) (|p|^2 - m^2)`` is an
integer, which :func:`scaled_cost` returns. The evaluator, the simulator, the policies' queues,
the bounds and the exact engines all charge a prefill through one of these two functions.

What it leaves out: which prefix is cached (the cache models of :mod:`~prefix_sched.theory.cache`)
and the serving model's iteration cost (:mod:`~prefix_sched.theory.serving`).

Examples
--------
>>> prefill_cost(10, 5), prefill_cost(10, 5, Fraction(1, 10))
(5, Fraction(25, 2))
>>> scaled_cost(10, 5, 10, 1)    # D = 10, alpha D = 1: ten times 25/2
125
"""

from __future__ import annotations

import math
from fractions import Fraction

from prefix_sched.theory.numbers import Exact, normalize
from prefix_sched.theory.prompt import Prompt, overlap, prompt_length
from prefix_sched.theory.stream import Stream


def prefill_cost(length: int, reused: int, alpha: Exact = 0) -> Exact:
    """Return ``(|p| - m) + alpha (|p|^2 - m^2)``, the Definition 2 cost of one query, exactly.

    Parameters
    ----------
    length : int
        ``|p|``, the prompt's tokens.
    reused : int
        ``m``, the cached prefix (``0 <= m <= |p|``).
    alpha : int or Fraction, default 0
        The attention term's weight.

    Examples
    --------
    >>> prefill_cost(10, 10), prefill_cost(4, 0, 1)
    (0, 20)
    """
    return normalize((length - reused) + alpha * (length * length - reused * reused))


def scaled_cost(length: int, reused: int, scale: int, alpha_scaled: int) -> int:
    """Return ``scale * cost(p | m)`` in integers: ``scale (|p| - m) + alpha_scaled (|p|^2 - m^2)``.

    ``scale`` and ``alpha_scaled = alpha * scale`` come from :func:`integer_timebase`.

    Examples
    --------
    >>> scaled_cost(10, 5, 1, 0), scaled_cost(3, 1, 2, 1)
    (5, 12)
    """
    return scale * (length - reused) + alpha_scaled * (length * length - reused * reused)


def integer_timebase(stream: Stream, alpha: Exact) -> tuple[int, int, list[int]]:
    """Return ``(D, alpha * D, [t_i * D])`` with ``D`` the least common denominator of alpha and
    the arrivals, so that Definition 2 can be computed in integers (times are then in units of
    ``1/D`` token-time).

    Examples
    --------
    >>> from prefix_sched.theory.stream import Stream
    >>> integer_timebase(Stream.from_records([("a", (("x", 1),), "1/2")]), Fraction(1, 3))
    (6, 2, [3])
    """
    arrivals = [q.arrival for q in stream.queries]
    if type(alpha) is int and all(type(t) is int for t in arrivals):
        return 1, alpha, arrivals
    scale = math.lcm(Fraction(alpha).denominator, *(Fraction(t).denominator for t in arrivals))
    if scale == 1:
        return 1, int(alpha), arrivals
    return scale, int(alpha * scale), [int(t * scale) for t in arrivals]


def scaled_cost_matrix(prompts: list[Prompt], initial: Prompt, scale: int, alpha_scaled: int) -> list[list[int]]:
    """``cost[i][j]``: :func:`scaled_cost` of prompt ``j`` right after prompt ``i`` (Definition 2's
    one-prompt cache); the last row is for the ``initial`` cache.

    Prompts whose first segments differ share nothing, so each row starts from the full costs and
    overlaps are computed only within groups of prompts with one first segment.

    Examples
    --------
    >>> scaled_cost_matrix([(("u", 5), ("a", 5)), (("u", 5), ("b", 5))], (), 1, 0)
    [[0, 5], [5, 0], [10, 10]]
    """
    lengths = [prompt_length(p) for p in prompts]
    full = [scaled_cost(length, 0, scale, alpha_scaled) for length in lengths]
    groups: dict[object, list[int]] = {}
    for j, prompt in enumerate(prompts):
        if prompt:
            groups.setdefault(prompt[0], []).append(j)
    matrix = []
    for previous in list(prompts) + [initial]:
        row = full.copy()
        for j in groups.get(previous[0], ()) if previous else ():
            row[j] = scaled_cost(lengths[j], overlap(prompts[j], previous), scale, alpha_scaled)
        matrix.append(row)
    return matrix


def cost_floors(stream: Stream) -> tuple[int, ...]:
    """``lb_q = |p_q| - max_{q' != q} ov(p_q, p_q')``: the least cost (alpha = 0) ``q`` can have
    after any other prompt, by a trie of the prompts in time linear in the segments.

    Examples
    --------
    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([("a", (("u", 3), ("x", 1)), 0), ("b", (("u", 3), ("y", 2)), 1),
    ...                          ("c", (("u", 3),), 2)])
    >>> cost_floors(s)          # c is a prefix of a and b: after either it costs nothing
    (1, 2, 0)
    """
    root: dict = {}
    for query in stream.queries:  # a trie node is [number of prompts through it, children]
        node = root
        for segment in query.prompt:
            child = node.setdefault(segment, [0, {}])
            child[0] += 1
            node = child[1]
    floors = []
    for query, length in zip(stream.queries, stream.lengths):
        shared, depth, node = 0, 0, root
        for segment in query.prompt:
            count, node = node[segment]
            depth += segment[1]
            if count >= 2:
                shared = depth
        floors.append(length - shared)
    return tuple(floors)
