"""The offered load of a stream, and the stream rescaled to a chosen load.

The offered load of a stream is its work without any prefix reuse divided by the span of its
arrivals, ``rho = sum |p_i| / (t_max - t_min)`` (alpha = 0; a server that reuses nothing is
saturated at ``rho = 1``). :func:`rescale_to_load` stretches or compresses the arrival times
(exactly, keeping their order and relative gaps) so that the stream has a chosen load. Studies,
the sweep and the commands all rescale through these two functions.

Examples
--------
>>> from prefix_sched.theory.generators import poisson_prefix_tree
>>> s = poisson_prefix_tree(groups=10, group_size=4, prefix_len=400, suffix_len=20, rate="1/300", seed=0)
>>> offered_load(rescale_to_load(s, "3/2"))
Fraction(3, 2)
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.stream import Stream


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
