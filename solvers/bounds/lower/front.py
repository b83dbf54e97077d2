"""Certified lower bounds on the least possible max TTFT ``T*`` of a stream: the front door.

:func:`lower_bound` returns the best of three bounds, each with the window of arrivals that
certifies it:

- the **per-query bound**: no query can cost less than its prompt beyond the longest prefix it
  shares with any other prompt (trivial, reported for comparison; the window bound dominates it);
- the **window bound** (every cache model; the window lemma,
  :mod:`~prefix_sched.solvers.bounds.lower.window`): the queries arriving in a window ``[x, y]``
  must all be prefilled inside ``[x, y + T]``; their distinct prefixes weigh ``work``, of which the
  cache can hold at most ``credit`` at time ``x``, so ``T* >= work - credit - (y - x)``. It is
  computed over **all** windows that start and end at arrival times;
- the **runs bound** (Definition 2's one-prompt cache only; the runs lemma,
  :mod:`~prefix_sched.solvers.bounds.lower.runs`): a prefix group served in ``b`` runs pays its
  shared core ``b`` times, and a run that has to wait across arrivals more than ``T`` apart idles;
  evaluated on a family of windows (the whole stream, the window bound's window, a grid, a hill
  climb of the window's ends), as any window gives a valid bound.

The lemmas are this toolkit's, proved in their modules; they are not the paper's theorems.

What it leaves out: the fewest queries over a given ``T``
(:func:`~prefix_sched.solvers.bounds.lower.violations.violations_lower_bound`), and cache models
that do not give what the credit needs (:mod:`~prefix_sched.solvers.bounds.lower.credit`).

Examples
--------
Two 10-token queries arrive together; they share nothing, so one of them waits for the other:
``work = 20``, no credit, ``T* >= 20 - 0``:

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("x", 10),), 0), ("b", (("y", 10),), 0)])
>>> lb = lower_bound(s)
>>> lb.value, lb.source, lb.window.work, lb.per_query
(20, 'window', 20, 10)

Section 4.2's toy example (T* = 30 by the exact solver): the trie of all four prompts weighs
``5 + 5 + 5 + 5 + 5 + 5 = 30`` (two users, four docs), all arriving at 0:

>>> t = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> lower_bound(t).value
30

A later query that extends an earlier one gets the earlier prompt as credit: ``b`` (15 tokens)
arrives at 10, after ``a`` (its first 10 tokens) was served; under ``last`` the window ``{b}``
gives ``15 - 10 = 5`` (``T* = 10``, from ``a`` itself):

>>> from prefix_sched.solvers.bounds.lower.window import window_value
>>> u = Stream.from_records([("a", (("p", 10),), 0), ("b", (("p", 10), ("q", 5)), 10)])
>>> window_value(u, 10, 10).credit, lower_bound(u).value
(10, 10)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.solvers.bounds.lower.credit import credit_rule
from prefix_sched.solvers.bounds.lower.runs import RunsBound, best_runs
from prefix_sched.solvers.bounds.lower.trie import SegmentTrie
from prefix_sched.solvers.bounds.lower.window import (
    WindowBound, sweep_last, sweep_plain, unbounded_window, window_value,
)
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.numbers import Exact, exact_number, to_json
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class LowerBound:
    """A certified lower bound on ``T*`` with its evidence.

    Attributes
    ----------
    value : exact number
        ``max(window.value, runs.value, per_query, 0)``.
    source : {"window", "runs", "query"}
        Which bound gives ``value``.
    window : WindowBound
        The best window of the window lemma (over all windows).
    runs : RunsBound or None
        The best runs bound found (``last`` only; None when none beat the window bound or it was
        not asked for).
    per_query : exact number
        The largest least possible cost of one query.
    per_query_index : int
        The query attaining it.
    cache : str
    alpha : exact number
    starts_checked : int
        Window starts whose credit was computed exactly (``last``).
    runs_windows : int
        Windows the runs bound was evaluated on.
    wall_time_s : float
    """

    value: Exact
    source: str
    window: WindowBound
    runs: RunsBound | None
    per_query: Exact
    per_query_index: int
    cache: str
    alpha: Exact
    starts_checked: int
    runs_windows: int
    wall_time_s: float

    def as_json(self, stream: Stream) -> dict[str, Any]:
        """The bound and its certificates for a result file."""
        return {"value": to_json(self.value), "source": self.source, "cache": self.cache,
                "alpha": to_json(self.alpha), "window": self.window.as_json(stream),
                "runs": None if self.runs is None else self.runs.as_json(),
                "per_query": to_json(self.per_query),
                "per_query_id": stream.queries[self.per_query_index].qid,
                "wall_time_s": round(self.wall_time_s, 3)}


def lower_bound(stream: Stream, *, alpha: object = 0, cache: str | CacheModel = "last", runs: bool = True,
                time_limit: float | None = None, upper: object = None) -> LowerBound:
    """A certified lower bound on the least possible max TTFT of ``stream`` (see the module docstring).

    Parameters
    ----------
    stream : Stream
    alpha : exact number, default 0
    cache : str or CacheModel, default "last"
        ``"last"``, ``"lru:TOKENS"`` or ``"unbounded"``; the bound holds for that model.
    runs : bool, default True
        Also try the runs lemma's bound (``last`` only; ignored for other models).
    time_limit : seconds or Deadline, optional
        For the runs bound's windows (the window bound always runs to the end); whatever
        is found by then is valid.
    upper : exact number, optional
        A known upper bound on ``T*`` (a schedule's max TTFT): the runs bound searches below it.

    Raises
    ------
    InputError
        For a bad ``alpha`` or cache spec, or a prompt longer than an ``lru`` capacity.
    """
    started = time.perf_counter()
    stop = Deadline.of(time_limit)
    alpha = exact_number(alpha, "alpha", minimum=0)
    model = parse_cache(cache)
    model.check_stream(stream)
    rule = credit_rule(model)
    trie = SegmentTrie(stream, alpha)
    floor_index, floor_scaled = _per_query(trie)
    starts = 0
    if rule.last:
        best, x, y, starts = sweep_last(trie, floor_scaled)
    else:
        best, x, y = unbounded_window(trie)
        if rule.capacity is not None:
            cap = rule.cap_scaled(trie.scale, trie.alpha_scaled)
            plain, px, py = sweep_plain(trie)
            if plain - cap > best:
                best, x, y = plain - cap, px, py
    window = window_value(stream, trie.exact(trie.t[x]), trie.exact(trie.t[y]), alpha=alpha, cache=model)
    if trie.exact(best) != window.value:  # pragma: no cover - the sweep and the plain trie must agree
        raise AssertionError(f"window sweep found {trie.exact(best)}, the window recomputes to {window.value}")
    per_query = trie.exact(floor_scaled)
    found = None
    checked = 0
    if runs and rule.last:
        ceiling = None if upper is None else math.ceil(exact_number(upper, "upper bound") * trie.scale)
        found, checked = best_runs(trie, max(best, floor_scaled, 0), (x, y), ceiling, stop)
    candidates = [(window.value, 2, "window"), (per_query, 1, "query")]
    if found is not None:
        candidates.append((found.value, 0, "runs"))
    value, _, source = max(candidates)
    if upper is not None and exact_number(upper, "upper bound") < value:
        raise InputError(f"the given upper bound {upper} is not one: every order's max TTFT is >= {value} "
                         f"({source} bound)")
    return LowerBound(value, source, window, found, per_query, trie.ranks[floor_index], model.spec,
                      alpha, starts, checked, time.perf_counter() - started)


def per_query_bound(stream: Stream, *, alpha: object = 0) -> tuple[Exact, int]:
    """The largest least possible cost of one query, and the query (stream index).

    A query's least cost is its prompt beyond the longest prefix it shares with any other prompt,
    under every cache model (a cache holds only prefixes of other served prompts).

    >>> from prefix_sched.theory.stream import Stream
    >>> per_query_bound(Stream.from_records([("a", (("p", 4), ("x", 2)), 0), ("b", (("p", 4),), 9)]))
    (2, 0)
    """
    trie = SegmentTrie(stream, exact_number(alpha, "alpha", minimum=0))
    rank, value = _per_query(trie)
    return trie.exact(value), trie.ranks[rank]


def _per_query(trie: SegmentTrie) -> tuple[int, int]:
    best, best_rank = -1, 0
    for rank, path in enumerate(trie.paths):
        shared = 0
        for node in path:
            if trie.count[node] >= 2:
                shared = trie.reach[node]
            else:
                break
        value = trie.full[rank] - shared  # D(p) - D(shared) = cost(|p| | shared): the trie's docstring
        if value > best:
            best, best_rank = value, rank
    return best_rank, best
