"""The window local search (Definition 2's ``last`` cache), one source of the upper bound.

:func:`improve` repeatedly takes the query with the largest TTFT and windows of ``w`` consecutive
positions around and before it; re-solves each window's order exactly with the clock and cache at
its ends fixed (the first position starts from the previous position's completion and prompt; the
last query of the window stays last and may finish no later), by dynamic programming over subsets
(:func:`reorder_window`); a change is kept only if the Definition 2 evaluator, run on the whole
new order, confirms a strictly smaller max TTFT, or an equal one with a smaller sum of TTFTs.

Why fixing the ends is safe: with the same last prompt and a completion no later, every later
position starts no later with the same cache (Definition 2 is monotone in the clock), so no
TTFT after the window grows; the evaluator re-checks it anyway.

The window DP (the subset DP of :mod:`~prefix_sched.solvers.exact.subset_dp`): a state is (set
``S`` of the window's queries served, last one ``j``); its value is the Pareto set of (completion,
max TTFT, sum of TTFTs) over orders of ``S`` ending in ``j`` (a triple dominated in all three can
be dropped: the future depends on the completion and ``j`` only, and the objective is monotone in
all three). The window's fixed last query is appended to the full states; among the end triples
that finish no later than before, the one giving the smallest (max, sum) of the whole order wins,
the suffix being re-timed by the shift it gets.

What it leaves out: moves across more than ``w`` positions (beyond the DP's reach), windows whose
last query changes, and other cache models (the window DP is Definition 2's).

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

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.subset_dp import run_levels
from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.numbers import Exact, exact_int, exact_number
from prefix_sched.theory.prompt import EMPTY_PROMPT, overlap
from prefix_sched.theory.stream import Stream

DEFAULT_WINDOW = 8
MAX_WINDOW = 12
BACKWARD_WINDOWS = 12  # windows tried before the worst query, each w - 1 positions further back


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
    pair = [[state.cost(j, queries[i].prompt) for j in members] for i in members]
    pair.append([state.cost(i, previous) for i in members])  # row m: from the cache before the window
    to_anchor = [state.cost(anchor, queries[i].prompt) for i in members]

    arrival_of = [arrivals[member] for member in members]
    steps = [(k,) for k in range(m)]

    def expand(key: tuple[int, int], front: list, following: dict) -> None:
        mask, j = key
        row = pair[j]
        for k in range(m):
            if mask >> k & 1:
                continue
            arrival, cost, step = arrival_of[k], row[k], steps[k]
            bucket = following.setdefault((mask | 1 << k, k), [])
            for done, top, total, path in front:
                finish = (done if done > arrival else arrival) + cost
                wait = finish - arrival
                _offer(bucket, (finish, top if top > wait else wait, total + wait, path + step))

    # From the clock and cache before the window (row m), every order of the m free members.
    layer = run_levels({0: {(0, m): [(clock0, 0, 0, ())]}}, expand, last=m, fronts=True, keep=False).levels[-1]
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
