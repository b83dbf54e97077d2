"""Upper bounds on the least possible max TTFT: the best schedule found, every one checked by the evaluator.

Three sources, best first by (max TTFT, sum of TTFTs):

- **policies**: FCFS, LPM and k-LPM runs (:func:`~prefix_sched.solvers.online.simulate.simulate`, online);
- **grouped EDF** (:func:`grouped_edf`), an offline order built for the max TTFT: the prompts are
  grouped by their first ``depth`` segments (a user, a conversation); each group's queries, by
  arrival, are cut into *clusters* whose arrivals lie within ``span`` of the cluster's first; a
  cluster is released when its last query arrives and is served whole, its prompts in trie order
  (a prompt before its extensions, siblings together), so that its shared prefix is computed
  once; the server takes released clusters earliest-first-arrival first and, when none is
  released, idles (or, ``eager``, serves the arrived part of the cluster with the earliest
  arrival). The construction only fixes the *order*: Definition 2 then serves it without idling,
  so every time is no later than the construction's. ``span`` trades reuse against waiting;
  :func:`upper_bound` tries a few spans around the best policy's max TTFT, depths 1 to 3 and both
  idling rules;
- **window local search** (:func:`improve`, Definition 2's ``last`` cache): repeatedly take the
  query with the largest TTFT and windows of ``w`` consecutive positions around and before it;
  re-solve each window's order exactly with the clock and cache at its ends fixed (the first
  position starts from the previous position's completion and prompt; the last query of the window
  stays last and may finish no later), by dynamic programming over subsets (:func:`reorder_window`);
  a change is kept only if the Definition 2 evaluator, run on the whole new order, confirms a
  strictly smaller max TTFT, or an equal one with a smaller sum of TTFTs.

Why fixing the ends is safe: with the same last prompt and a completion no later, every later
position starts no later with the same cache (Definition 2 is monotone in the clock), so no
TTFT after the window grows; the evaluator re-checks it anyway.

The window DP: a state is (set ``S`` of the window's queries served, last one ``j``); its value is
the Pareto set of (completion, max TTFT, sum of TTFTs) over orders of ``S`` ending in ``j`` (a
triple dominated in all three can be dropped: the future depends on the completion and ``j``
only, and the objective is monotone in all three). The window's fixed last query is appended to
the full states; among the end triples that finish no later than before, the one giving the
smallest (max, sum) of the whole order wins, the suffix being re-timed by the shift it gets.

What it leaves out: moves across more than ``w`` positions (beyond the DP's reach), windows whose
last query changes, and any claim of optimality: an upper bound is a schedule, nothing more.
Other cache models get the policies and grouped EDF (evaluated under that cache) but no local
search, whose window DP is Definition 2's.

Examples
--------
Section 4.2's toy example (all at 0): FCFS reaches 40, LPM 30; the window search from FCFS's
order finds 30, the optimum:

>>> from prefix_sched.solvers.online.policies import parse_policy
>>> from prefix_sched.solvers.online.simulate import simulate
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> fcfs = simulate(s, parse_policy("fcfs")).order
>>> found = improve(s, fcfs, window=4)
>>> found.evaluation.max_ttft, found.evaluation.ttft, found.moves
(30, (10, 15, 25, 30), 1)
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.online.policies import PolicySpec, parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.cache import CacheModel, parse_cache
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.numbers import Exact, exact_int, exact_number
from prefix_sched.theory.prompt import EMPTY_PROMPT, overlap
from prefix_sched.theory.stream import Stream

DEFAULT_WINDOW = 8
MAX_WINDOW = 12
DEFAULT_POLICIES = ("fcfs", "lpm", "k-lpm:1", "k-lpm:2", "k-lpm:3", "k-lpm:4", "k-lpm:8")
SPAN_SHARES = (0, Fraction(1, 4), Fraction(3, 4), Fraction(5, 4))
SPAN_REFINE = (Fraction(4, 5), Fraction(9, 10), Fraction(11, 10), Fraction(5, 4))
GROUP_DEPTHS = (1, 2, 3)
BACKWARD_WINDOWS = 12  # windows tried before the worst query, each w - 1 positions further back


def default_policies() -> list[PolicySpec]:
    """FCFS, LPM and k-LPM for k = 1, 2, 3, 4, 8 (the cycle opening with its LPM steps)."""
    specs = []
    for name in DEFAULT_POLICIES:
        base, _, k = name.partition(":")
        specs.append(parse_policy(base, k=k or None))
    return specs


@dataclass(frozen=True)
class Candidate:
    """One schedule: where it came from and the evaluator's verdict on it."""

    label: str
    evaluation: Evaluation

    @property
    def key(self) -> tuple[Exact, Exact]:
        """(max TTFT, sum of TTFTs): what "better" means here."""
        return self.evaluation.max_ttft, sum(self.evaluation.ttft)


@dataclass(frozen=True)
class SearchResult:
    """The local search's final order and what it did.

    Attributes
    ----------
    evaluation : Evaluation
        The evaluator's times for the final order.
    start : Evaluation
        The order it started from.
    moves : int
        Changes kept (each confirmed by the evaluator).
    windows : int
        Windows re-solved.
    history : tuple of exact numbers
        The max TTFT after each kept change.
    stopped : str
        ``"local optimum"`` (no window around the worst query helps) or ``"time limit"``.
    """

    evaluation: Evaluation
    start: Evaluation
    moves: int
    windows: int
    history: tuple[Exact, ...]
    stopped: str


@dataclass(frozen=True)
class UpperBound:
    """The best schedule found and every candidate behind it.

    Attributes
    ----------
    evaluation : Evaluation
        The best order's evaluator times; ``evaluation.max_ttft`` is the upper bound.
    label : str
        Its source (a policy label, ``grouped-edf(...)``, or ``local-search(<start>)``).
    candidates : tuple of Candidate
        Every schedule tried (policies first), evaluated under the cache model.
    search : SearchResult or None
        The local search run on the best candidate (``last`` only).
    cache : str
    wall_time_s : float
    """

    evaluation: Evaluation
    label: str
    candidates: tuple[Candidate, ...]
    search: SearchResult | None
    cache: str
    wall_time_s: float = field(default=0.0)

    @property
    def value(self) -> Exact:
        """The max TTFT of the best schedule."""
        return self.evaluation.max_ttft


def upper_bound(stream: Stream, *, alpha: object = 0, cache: str | CacheModel = "last",
                policies: Sequence[PolicySpec] | None = None, grouped: bool = True,
                search: bool = True, window: int = DEFAULT_WINDOW, time_limit: object = None,
                seed: int = 0) -> UpperBound:
    """The best schedule of the policies and grouped EDF, improved by the window local search.

    Parameters
    ----------
    stream : Stream
    alpha : exact number
    cache : str or CacheModel
        Every candidate is evaluated under this model; the local search runs under ``last`` only.
    policies : sequence of PolicySpec, optional
        Default :func:`default_policies`. A policy that draws at random uses ``seed``.
    grouped : bool
        Try grouped EDF.
    search : bool
        Run the local search on the best candidate.
    window : int
        The local search's window size ``w`` (2 to :data:`MAX_WINDOW`).
    time_limit : seconds or Deadline, optional
        For the grouped EDF spans and the local search (the policies always run to the end).
    seed : int
        For policies that draw at random (random ties, the random policy).
    """
    started = time.perf_counter()
    alpha = exact_number(alpha, "alpha", minimum=0)
    model = parse_cache(cache)
    stop = Deadline.of(time_limit)
    specs = default_policies() if policies is None else list(policies)
    if not specs and not grouped:
        raise InputError("an upper bound needs at least one policy or grouped EDF")
    candidates = []
    for spec in specs:
        run = simulate(stream, spec, alpha=alpha, cache=model, seed=seed if spec.randomized else None)
        candidates.append(Candidate(spec.label, run.evaluation))
    if grouped:
        reference = min(c.evaluation.max_ttft for c in candidates) if candidates else None
        candidates.extend(_grouped_candidates(stream, alpha, model, reference, stop))
    best = min(candidates, key=lambda c: c.key)
    found = None
    if search and model.is_last_prompt and not stop.expired():
        found = improve(stream, best.evaluation.order, alpha=alpha, window=window, time_limit=stop)
        if (found.evaluation.max_ttft, sum(found.evaluation.ttft)) < best.key:
            best = Candidate(f"local-search({best.label})", found.evaluation)
    return UpperBound(best.evaluation, best.label, tuple(candidates), found, model.spec,
                      time.perf_counter() - started)


# --- grouped EDF ----------------------------------------------------------------------------

def grouped_edf(stream: Stream, span: object, depth: int, *, eager: bool = False, alpha: object = 0,
                cache: str | CacheModel = "last") -> Evaluation:
    """The grouped EDF order for a cluster ``span`` and a grouping ``depth`` (module docstring).

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
    return evaluate(stream, _grouped_order(stream, span, depth, alpha, model, eager), alpha=alpha, cache=model)


def _grouped_order(stream: Stream, span: Exact, depth: int, alpha: Exact, model: CacheModel,
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


def _grouped_candidates(stream: Stream, alpha: Exact, model: CacheModel, reference: Exact | None,
                        stop: Deadline) -> list[Candidate]:
    """Grouped EDF: spans ``reference / 2`` and ``reference`` for each depth and both idling rules,
    then, for the best depth and rule, the other shares of :data:`SPAN_SHARES` and factors of
    :data:`SPAN_REFINE` around the best span."""
    reference = exact_number(stream.total_tokens() if reference is None else reference, "reference")
    depths = [k for k in GROUP_DEPTHS if k == 1 or len({q.prompt[:k] for q in stream.queries}) > 1]
    out: list[tuple[tuple, Candidate]] = []
    tried = set()

    def attempt(span, depth, eager):
        span = exact_number(span, "span")
        if (span, depth, eager) in tried or stop.expired():
            return
        tried.add((span, depth, eager))
        order = _grouped_order(stream, span, depth, alpha, model, eager)
        label = f"grouped-edf(span={float(span):.6g},depth={depth}{',eager' if eager else ''})"
        out.append(((span, depth, eager), Candidate(label, evaluate(stream, order, alpha=alpha, cache=model))))

    for depth in depths:
        for eager in (False, True):
            for share in (Fraction(1, 2), 1):
                attempt(reference * share, depth, eager)
    if not out:
        return []
    _, depth, eager = min(out, key=lambda item: item[1].key)[0]
    for share in SPAN_SHARES:
        attempt(reference * exact_number(share, "share"), depth, eager)
    span = min(out, key=lambda item: item[1].key)[0][0]
    for factor in SPAN_REFINE:
        attempt(span * exact_number(factor, "factor"), depth, eager)
    return [candidate for _, candidate in out]


# --- the window local search ----------------------------------------------------------------

def improve(stream: Stream, order: Sequence[int], *, alpha: object = 0, window: int = DEFAULT_WINDOW,
            time_limit: object = None) -> SearchResult:
    """Local search on ``order`` under Definition 2 (module docstring); never returns a worse order.

    Raises
    ------
    InputError
        If ``order`` is not a permutation of the stream or ``window`` is outside 2..MAX_WINDOW.
    """
    alpha = exact_number(alpha, "alpha", minimum=0)
    window = exact_int(window, "window", minimum=2)
    if window > MAX_WINDOW:
        raise InputError(f"window must be <= {MAX_WINDOW} (the DP is exponential in it), got {window}")
    stop = Deadline.of(time_limit)
    current = evaluate(stream, order, alpha=alpha)
    start = current
    state = _Timeline(stream, alpha, current.order)
    moves, tried, history = 0, 0, []
    stopped = "local optimum"
    while True:
        if stop.expired():
            stopped = "time limit"
            break
        improved = False
        for first, last in _windows(state, window):
            if stop.expired():
                break
            tried += 1
            proposal = reorder_window(state, first, last)
            if proposal is None:
                continue
            candidate = list(state.order)
            candidate[first:last + 1] = proposal
            checked = evaluate(stream, candidate, alpha=alpha)
            if (checked.max_ttft, sum(checked.ttft)) < (current.max_ttft, sum(current.ttft)):
                current = checked
                state = _Timeline(stream, alpha, checked.order)
                moves += 1
                history.append(checked.max_ttft)
                improved = True
                break
        if not improved:
            if stop.expired():
                stopped = "time limit"
            break
    return SearchResult(current, start, moves, tried, tuple(history), stopped)


class _Timeline:
    """One order's Definition 2 times in scaled integers, with prefix and suffix sums for the
    incremental objective of a window change."""

    def __init__(self, stream: Stream, alpha: Exact, order: Sequence[int]) -> None:
        scale, alpha_scaled, arrivals = integer_timebase(stream, alpha)
        self.stream, self.scale, self.alpha_scaled = stream, scale, alpha_scaled
        self.arrivals = arrivals
        self.order = list(order)
        prompts = [stream.queries[i].prompt for i in self.order]
        self.prompts = prompts
        n = len(order)
        completion, ttft, clock, previous = [], [], 0, EMPTY_PROMPT
        for i, prompt in zip(self.order, prompts):
            clock = max(clock, arrivals[i]) + self.cost(i, previous)
            completion.append(clock)
            ttft.append(clock - arrivals[i])
            previous = prompt
        self.completion, self.ttft = completion, ttft
        self.prefix_max, self.prefix_sum = [0] * (n + 1), [0] * (n + 1)
        for k in range(n):
            self.prefix_max[k + 1] = max(self.prefix_max[k], ttft[k])
            self.prefix_sum[k + 1] = self.prefix_sum[k] + ttft[k]
        self.suffix_max = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            self.suffix_max[k] = max(self.suffix_max[k + 1], ttft[k])
        # slack[k]: how much earlier position k could start if its predecessor ended earlier
        self.slack = [0] + [max(completion[k - 1] - arrivals[self.order[k]], 0) for k in range(1, n)]

    def cost(self, i: int, previous) -> int:
        length = self.stream.lengths[i]
        shared = overlap(self.stream.queries[i].prompt, previous)
        return scaled_cost(length, shared, self.scale, self.alpha_scaled)

    def worst(self) -> int:
        """The first position with the largest TTFT."""
        best = max(self.ttft)
        return self.ttft.index(best)

    def after(self, last: int, shift: int) -> tuple[int, int]:
        """Max and sum of the TTFTs after position ``last`` when it completes ``shift`` earlier."""
        n = len(self.order)
        top, total, k = 0, 0, last + 1
        while k < n and shift > 0:
            shift = min(shift, self.slack[k])
            value = self.ttft[k] - shift
            top, total, k = max(top, value), total + value, k + 1
        if k < n:
            top = max(top, self.suffix_max[k])
            total += self.prefix_sum[n] - self.prefix_sum[k]
        return top, total


def _windows(state: _Timeline, w: int):
    """Windows (first, last) around and before the worst query, nearest first."""
    n = len(state.order)
    if n < 2:
        return
    worst = state.worst()
    size = min(w, n)
    seen = set()
    for last in range(worst, min(worst + size, n)):
        first = max(0, last - size + 1)
        if (first, last) not in seen and last - first >= 1:
            seen.add((first, last))
            yield first, last
    last = worst - 1
    for _ in range(BACKWARD_WINDOWS):
        if last < 1:
            break
        first = max(0, last - size + 1)
        if (first, last) not in seen:
            seen.add((first, last))
            yield first, last
        last -= size - 1


def reorder_window(state: _Timeline, first: int, last: int) -> list[int] | None:
    """The best order of positions ``first..last`` with both ends fixed, or None if the current
    one is best (see the module docstring for the DP and the objective)."""
    order, arrivals = state.order, state.arrivals
    members = order[first:last]            # free to permute
    anchor = order[last]                   # stays last
    clock0 = state.completion[first - 1] if first else 0
    previous = state.prompts[first - 1] if first else EMPTY_PROMPT
    limit = state.completion[last]
    m = len(members)
    queries = state.stream.queries
    cost_from_start = [state.cost(i, previous) for i in members]
    pair = [[state.cost(j, queries[i].prompt) for j in members] for i in members]
    to_anchor = [state.cost(anchor, queries[i].prompt) for i in members]
    layer: dict[tuple[int, int], list[tuple[int, int, int, tuple[int, ...]]]] = {}
    for j, member in enumerate(members):
        done = max(clock0, arrivals[member]) + cost_from_start[j]
        wait = done - arrivals[member]
        layer[(1 << j, j)] = [(done, wait, wait, (j,))]
    for _ in range(m - 1):
        following: dict[tuple[int, int], list] = {}
        for (mask, j), front in layer.items():
            row = pair[j]
            for k in range(m):
                if mask >> k & 1:
                    continue
                member = members[k]
                key = (mask | 1 << k, k)
                bucket = following.setdefault(key, [])
                for done, top, total, path in front:
                    finish = max(done, arrivals[member]) + row[k]
                    wait = finish - arrivals[member]
                    _offer(bucket, (finish, max(top, wait), total + wait, path + (k,)))
        layer = following
    best_key, best_path = None, None
    base_top, base_total = state.prefix_max[first], state.prefix_sum[first]
    for (_, j), front in layer.items():
        for done, top, total, path in front:
            finish = max(done, arrivals[anchor]) + to_anchor[j]
            if finish > limit:
                continue
            wait = finish - arrivals[anchor]
            after_top, after_total = state.after(last, limit - finish)
            key = (max(base_top, top, wait, after_top), base_total + total + wait + after_total)
            if best_key is None or key < best_key:
                best_key, best_path = key, path
    if best_path is None:
        return None
    current = (max(state.ttft), sum(state.ttft))
    if best_key >= current:
        return None
    return [members[k] for k in best_path] + [anchor]


def _offer(bucket: list, item: tuple) -> None:
    """Keep ``bucket`` a Pareto set of (completion, max, sum) triples (smaller is better in each)."""
    done, top, total = item[0], item[1], item[2]
    for other in bucket:
        if other[0] <= done and other[1] <= top and other[2] <= total:
            return
    bucket[:] = [o for o in bucket if not (done <= o[0] and top <= o[1] and total <= o[2])]
    bucket.append(item)
