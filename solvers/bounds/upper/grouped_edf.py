"""Grouped EDF: an offline order built for the max TTFT, one source of the upper bound.

The prompts are grouped by their first ``depth`` segments (a user, a conversation); each group's
queries, by arrival, are cut into *clusters* whose arrivals lie within ``span`` of the cluster's
first; a cluster is released when its last query arrives and is served whole, its prompts in trie
order (a prompt before its extensions, siblings together), so that its shared prefix is computed
once; the server takes released clusters earliest-first-arrival first and, when none is released,
idles (or, ``eager``, serves the arrived part of the cluster with the earliest arrival). The
construction only fixes the *order*: Definition 2 then serves it without idling, so every time is
no later than the construction's. ``span`` trades reuse against waiting;
:func:`grouped_candidates` tries a few spans around a reference max TTFT, depths 1 to 3 and both
idling rules, every order scored by the evaluator under the cache model.

What it leaves out: choosing among the sources (:mod:`~prefix_sched.solvers.bounds.upper.front`).
"""

from __future__ import annotations

import heapq
from fractions import Fraction

from prefix_sched.solvers.deadline import Deadline
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.numbers import Exact, exact_int, exact_number
from prefix_sched.theory.stream import Stream

SPAN_SHARES = (0, Fraction(1, 4), Fraction(3, 4), Fraction(5, 4))
SPAN_REFINE = (Fraction(4, 5), Fraction(9, 10), Fraction(11, 10), Fraction(5, 4))
GROUP_DEPTHS = (1, 2, 3)


def grouped_edf(stream: Stream, span: object, depth: int, *, eager: bool = False, alpha: object = 0,
                cache: str | CacheModel = "last") -> Evaluation:
    """The grouped EDF order for a cluster ``span`` and a grouping ``depth``, evaluated (module docstring).

    Examples
    --------
    Two users' queries alternate 10 apart; with span 10 each user's pair is one cluster, served
    when its second query arrives (reuse 5 each); with span 0 every query is its own cluster:

    >>> from prefix_sched.theory.stream import Stream
    >>> s = Stream.from_records([(f"q{i}", ((f"u{i % 2}", 5), (f"d{i}", 5)), 10 * i) for i in range(4)])
    >>> grouped_edf(s, 20, 1).order, grouped_edf(s, 20, 1).total_reused
    ((0, 2, 1, 3), 10)
    >>> grouped_edf(s, 0, 1).order
    (0, 1, 2, 3)
    """
    span = exact_number(span, "span", minimum=0)
    depth = exact_int(depth, "depth", minimum=1)
    alpha = exact_number(alpha, "alpha", minimum=0)
    model = parse_cache(cache)
    return evaluate(stream, grouped_order(stream, span, depth, alpha, model, eager), alpha=alpha, cache=model)


def grouped_order(stream: Stream, span: Exact, depth: int, alpha: Exact, model: CacheModel,
                   eager: bool) -> list[int]:
    queries = stream.queries
    ranks = stream.arrival_order
    node_of: dict[tuple, int] = {}
    keys = {}
    for i in ranks:  # trie order: a prompt's key is its node ids, so prefixes sort first
        parent, key = -1, []
        for segment in queries[i].prompt:
            parent = node_of.setdefault((parent, segment), len(node_of))
            key.append(parent)
        keys[i] = key
    groups: dict[tuple, list[int]] = {}
    for i in ranks:
        prompt = queries[i].prompt
        groups.setdefault(tuple(keys[i][:depth]) if len(prompt) >= depth else ("alone", i), []).append(i)
    clusters = []
    for members in groups.values():
        current = [members[0]]
        for i in members[1:]:
            if queries[i].arrival - queries[current[0]].arrival <= span:
                current.append(i)
            else:
                clusters.append(current)
                current = [i]
        clusters.append(current)
    scale, alpha_scaled, arrivals = integer_timebase(stream, alpha)
    cluster_of = {i: c for c, members in enumerate(clusters) for i in members}
    release = sorted(range(len(clusters)), key=lambda c: (arrivals[clusters[c][-1]], c))
    left = [list(members) for members in clusters]   # unserved members, by arrival
    state = model.new_state()
    order, waiting, pending = [], [], []
    clock, released, arrived = 0, 0, 0
    n = stream.n

    def serve(members):
        nonlocal clock
        for i in sorted(members, key=lambda i: keys[i]):
            length = stream.lengths[i]
            reused = state.serve(queries[i].prompt)
            clock = max(clock, arrivals[i]) + scaled_cost(length, reused, scale, alpha_scaled)
            order.append(i)

    while len(order) < n:
        while released < len(clusters) and arrivals[clusters[release[released]][-1]] <= clock:
            c = release[released]
            if left[c]:
                heapq.heappush(waiting, (arrivals[left[c][0]], c))
            released += 1
        while arrived < n and arrivals[ranks[arrived]] <= clock:
            i = ranks[arrived]
            heapq.heappush(pending, (arrivals[i], cluster_of[i]))
            arrived += 1
        if waiting:
            _, c = heapq.heappop(waiting)
            members, left[c] = left[c], []
            serve(members)
            continue
        while eager and pending and (not left[pending[0][1]] or arrivals[left[pending[0][1]][0]] > clock):
            heapq.heappop(pending)
        if eager and pending:
            _, c = heapq.heappop(pending)
            ready = [i for i in left[c] if arrivals[i] <= clock]
            left[c] = [i for i in left[c] if arrivals[i] > clock]
            serve(ready)
            continue
        upcoming = [arrivals[clusters[release[released]][-1]]] if released < len(clusters) else []
        if eager and arrived < n:
            upcoming.append(arrivals[ranks[arrived]])
        clock = min(upcoming)
    return order


def grouped_candidates(stream: Stream, alpha: Exact, model: CacheModel, reference: Exact | None,
                       stop: Deadline) -> list[tuple[str, Evaluation]]:
    """Grouped EDF: spans ``reference / 2`` and ``reference`` (default: the stream's tokens) for each
    depth and both idling rules, then, for the best depth and rule, the other shares of
    :data:`SPAN_SHARES` and factors of :data:`SPAN_REFINE` around the best span, until ``stop``.
    Returns ``(label, evaluation)`` per order tried; "best" is by (max TTFT, sum of TTFTs)."""
    reference = exact_number(stream.total_tokens() if reference is None else reference, "reference")
    depths = [k for k in GROUP_DEPTHS if k == 1 or len({q.prompt[:k] for q in stream.queries}) > 1]
    out: list[tuple[tuple, tuple[str, Evaluation]]] = []
    tried = set()

    def attempt(span, depth, eager):
        span = exact_number(span, "span")
        if (span, depth, eager) in tried or stop.expired():
            return
        tried.add((span, depth, eager))
        order = grouped_order(stream, span, depth, alpha, model, eager)
        label = f"grouped-edf(span={float(span):.6g},depth={depth}{',eager' if eager else ''})"
        out.append(((span, depth, eager), (label, evaluate(stream, order, alpha=alpha, cache=model))))

    for depth in depths:
        for eager in (False, True):
            for share in (Fraction(1, 2), 1):
                attempt(reference * share, depth, eager)
    if not out:
        return []
    _, depth, eager = min(out, key=_key)[0]
    for share in SPAN_SHARES:
        attempt(reference * exact_number(share, "share"), depth, eager)
    span = min(out, key=_key)[0][0]
    for factor in SPAN_REFINE:
        attempt(span * exact_number(factor, "factor"), depth, eager)
    return [candidate for _, candidate in out]


def _key(item: tuple[tuple, tuple[str, Evaluation]]) -> tuple[Exact, Exact]:
    """(max TTFT, sum of TTFTs) of a tried order: what "better" means for an upper bound."""
    evaluation = item[1][1]
    return evaluation.max_ttft, sum(evaluation.ttft)
