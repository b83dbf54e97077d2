"""The violations lemma: at least how many queries exceed a TTFT bound ``T`` in every order.

Violations lemma
----------------
(This toolkit's lemma, not one of the paper's theorems.) For a bound ``T`` and a window (notation
of :mod:`~prefix_sched.solvers.bounds.lower.window`) with ``excess = work - credit - (y - x) - T > 0``,
at least ``c`` queries of the window have TTFT ``> T``, ``c`` the least number of window queries
whose whole weights ``|p| + alpha |p|^2`` sum to ``>= excess``. *Proof:* let ``M`` be the window
queries meeting ``T``; the window lemma's proof for ``M`` (its last query ends by ``y + T``) gives
``w(trie(M)) - credit(M) <= y + T - x``; ``credit(M) <= credit(W)`` and
``w(trie(W)) - w(trie(M)) <= sum over the others of their whole weights``. For windows with
``y_i + T < x_{i+1}`` the position ranges ``[k0, k1]`` of the proofs are disjoint, so the counts
add; :func:`violations_lower_bound` takes the best such family by dynamic programming.

What it leaves out: streams of more than a few thousand queries (every window is scanned,
``O(n^2)`` trie insertions; a ``time_limit`` skips the starts not reached).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from sortedcontainers import SortedList

from prefix_sched.solvers.bounds.lower.credit import credit_rule
from prefix_sched.solvers.bounds.lower.trie import SegmentTrie
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.numbers import Exact, exact_number
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class ViolationsBound:
    """At least ``count`` queries have TTFT ``> ttft`` in every order (the violations lemma).

    ``windows`` lists the certifying windows ``(first_arrival, last_arrival, excess, count)``, with
    ``last_arrival + ttft < next first_arrival``.
    """

    count: int
    ttft: Exact
    windows: tuple[tuple[Exact, Exact, Exact, int], ...]
    complete: bool


def violations_lower_bound(stream: Stream, ttft: object, *, alpha: object = 0,
                           cache: str | CacheModel = "last", time_limit: float | None = None) -> ViolationsBound:
    """A lower bound on the fewest queries with TTFT above ``ttft`` (the violations lemma).

    Every window is scanned (``O(n^2)`` trie insertions: meant for streams of a few thousand
    queries); with ``time_limit`` the starts not reached are skipped (``complete`` is False) and the
    count is still valid.

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([(q, ((q, 10),), 0) for q in "abc"])
    >>> violations_lower_bound(s, 15).count     # 30 token-times of work, room 15: two must wait
    2
    >>> violations_lower_bound(s, 9).count      # not even the first fits in 9
    3
    """
    stop = Deadline.of(time_limit)
    alpha = exact_number(alpha, "alpha", minimum=0)
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    model = parse_cache(cache)
    model.check_stream(stream)
    trie = SegmentTrie(stream, alpha)
    scaled = bound * trie.scale
    limit = math.floor(scaled)  # arrivals are integers: t > t_y + T iff t > t_y + floor(T)
    n = len(trie.t)
    t = trie.t
    rule = credit_rule(model)
    cap = rule.cap_scaled(trie.scale, trie.alpha_scaled)
    best_from = [0] * (n + 1)
    choice: list[tuple[int, int, int, int] | None] = [None] * (n + 1)
    complete = True
    for x in range(n - 1, -1, -1):
        best_from[x], choice[x] = best_from[x + 1], None
        if not trie.group_first[x]:
            continue
        if stop.expired():
            complete = False
            continue
        seen, work, credit_last, credit_union = set(), 0, 0, 0
        weights = SortedList()
        for y in range(x, n):
            for node in trie.paths[y]:
                if node not in seen:
                    seen.add(node)
                    work += trie.weight[node]
                    if trie.first[node] < x:
                        credit_union += trie.weight[node]
            credit_last = max(credit_last, trie.shared_depth_weight(y, x))
            weights.add(-trie.full[y])
            if not trie.group_last[y]:
                continue
            if rule.last:
                credit = credit_last
            else:
                credit = credit_union if cap is None else min(credit_union, cap)
            excess = work - credit - (t[y] - t[x]) - scaled
            if excess <= 0:
                continue
            count, total = 0, 0
            for w in weights:
                count += 1
                total -= w
                if total >= excess:
                    break
            nxt = bisect.bisect_right(t, t[y] + limit)  # the first arrival after y + T
            value = count + best_from[nxt]
            if value > best_from[x]:
                best_from[x], choice[x] = value, (y, nxt, excess, count)
    windows, x = [], 0
    while x < n:
        if choice[x] is None:
            x += 1
            continue
        y, nxt, excess, count = choice[x]
        windows.append((trie.exact(t[x]), trie.exact(t[y]), trie.exact(excess), count))
        x = nxt
    return ViolationsBound(best_from[0], bound, tuple(windows), complete)
