"""An upper bound for the percentile question: the fewest queries to serve last so the rest meet T.

The fewest violations of ``T`` over all orders (:func:`~prefix_sched.solvers.exact.minimize_violations`)
is what a P99 target asks. This module answers a restricted version exactly: choose a set ``D`` of
queries to *drop* (serve after all others, in arrival order) so that some order of the rest keeps
every TTFT ``<= T``, with ``|D|`` least. Such a schedule has at most ``|D|`` violations, so ``|D|`` is
an upper bound on the fewest violations, and the schedule is the incumbent the exact engines start
from. It is not always the optimum: a late query served in the middle can be the cache bridge that
keeps a later one on time (``tests/solvers/exact/test_drops.py`` has a stream where the restricted optimum is 2
and the true one 1).

The search is the feasibility DP of :mod:`~prefix_sched.solvers.exact.dp` with one more move (both
run the subset DP of :mod:`~prefix_sched.solvers.exact.subset_dp`). A state is
the set of queries *done* (served or dropped) and the cached prompt; its value is the Pareto front of
(completion time, drops): neither coordinate alone dominates, since an earlier clock can be bought
with a drop. Moves from a state whose oldest undone query is ``o``:

- drop ``o`` (canonical: any dropped query can be dropped at the moment it is the oldest undone one,
  since dropping takes no time and leaves the cache alone);
- serve an undone ``j`` arriving by ``o``'s deadline and finishing by its own (serving a later one
  would make ``o`` late, so ``o`` is dropped first).

A cached prompt no undone query shares a first segment with is merged into one "blank" cache (exact:
it saves no later query anything). ``cap`` bounds the drops (states over it are discarded), so a
known incumbent prunes the search. A time limit or state cap gives UNKNOWN (the clock is read at
each layer's start and every :data:`~prefix_sched.solvers.deadline.CHECK_EXPANSIONS` Pareto entries
expanded).

Examples
--------
Three 5-token queries at 0 with T = 12: at most two fit, the third is served last.

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([(f"q{i}", ((f"s{i}", 5),), 0) for i in range(3)])
>>> result = fewest_drops(s, 12)
>>> print(result.status, result.drops, result.order)  # q1, q2 within T (5, 10); q0 last (15)
FEASIBLE 1 (1, 2, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.subset_dp import move_windows, run_levels, scaled_instance
from prefix_sched.solvers.status import Status
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.numbers import exact_int, exact_number
from prefix_sched.theory.stream import Stream

FEASIBLE, NONE_WITHIN_CAP, UNKNOWN = Status.FEASIBLE, Status.NONE_WITHIN_CAP, Status.UNKNOWN
DEFAULT_MAX_STATES = 3_000_000


@dataclass(frozen=True)
class DropResult:
    """The restricted optimum.

    Attributes
    ----------
    status : Status
        FEASIBLE: ``order`` serves all but ``dropped`` within T, then ``dropped``; NONE_WITHIN_CAP:
        every such schedule drops more than ``cap`` (about the restricted class only, not a bound
        on violations); UNKNOWN: time limit or state cap.
    order : tuple of int or None
        Stream indices: the served ones, then the dropped ones in arrival order.
    dropped : tuple of int
    states : int
        Pareto entries kept over all layers.
    """

    status: Status
    order: tuple[int, ...] | None
    dropped: tuple[int, ...]
    states: int

    @property
    def drops(self) -> int | None:
        """``len(dropped)`` when a schedule was found."""
        return None if self.order is None else len(self.dropped)


def fewest_drops(stream: Stream, ttft: object, *, alpha: object = 0, cap: int | None = None,
                 max_states: int = DEFAULT_MAX_STATES, time_limit: float | Deadline | None = None,
                 cache: object = DEFAULT_CACHE) -> DropResult:
    """The fewest queries to serve last so that every other query meets ``ttft`` (module docstring).

    Raises
    ------
    InputError
        ``ttft`` or ``alpha`` negative or not a number, ``cap < 0``, ``max_states < 1``, a time
        limit that is not > 0 (``time_limit`` is seconds or a shared
        :class:`~prefix_sched.solvers.deadline.Deadline`); a ``cache`` other than ``"last"``
        (the search's state is Definition 2's one-prompt cache).
    """
    require_last_prompt(cache, "the drop DP's states")
    stop = Deadline.of(time_limit)
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    alpha = exact_number(alpha, "alpha", minimum=0)
    cap = stream.n if cap is None else exact_int(cap, "drop cap", minimum=0)
    max_states = exact_int(max_states, "max states", minimum=1)
    members = sorted(range(stream.n), key=lambda i: (stream.queries[i].arrival, i))
    problem = scaled_instance(stream, members, bound, alpha)
    status, final, states = _search(problem.arrivals, problem.deadlines, problem.cost, problem.partners,
                                    cap, max_states, stop)
    if final is None:
        return DropResult(status, None, (), states)
    served, dropped = [], []
    entry = final
    while entry[2] is not None:
        move = entry[3]
        (served if move >= 0 else dropped).append(members[move if move >= 0 else -1 - move])
        entry = entry[2]
    dropped.sort(key=lambda i: (stream.queries[i].arrival, i))
    return DropResult(FEASIBLE, tuple(reversed(served)) + tuple(dropped), tuple(dropped), states)


def _search(arrivals: Sequence[int], deadlines: Sequence[int], cost, partners, cap: int, max_states: int,
            stop: Deadline):
    """Layered search over (done mask, cache) (:func:`~prefix_sched.solvers.exact.subset_dp.run_levels`);
    entries are (clock, drops, parent entry, move).

    A move is ``j >= 0`` (served) or ``-1 - j`` (dropped). Returns (status, final entry, states).
    """
    m = len(arrivals)
    initial, blank = m, m + 1
    window = move_windows(arrivals, deadlines)

    def expand(key: tuple[int, int], entries: list, following: dict) -> None:
        mask, cache = key
        oldest = (~mask & (mask + 1)).bit_length() - 1  # oldest_unserved(mask), inline: once per state
        row = cost[cache]
        for entry in entries:
            clock, drops = entry[0], entry[1]
            if drops < cap:
                done = mask | 1 << oldest
                kept = cache if cache < m and partners[cache] & ~done else blank
                _offer(following, (done, kept), (clock, drops + 1, entry, -1 - oldest))
            for j in range(oldest, window[oldest]):
                if not mask >> j & 1:
                    finish = max(clock, arrivals[j]) + row[j]
                    if finish <= deadlines[j]:
                        done = mask | 1 << j
                        _offer(following, (done, j if partners[j] & ~done else blank), (finish, drops, entry, j))

    # The start (nothing done, the initial cache) counts as one state.
    run = run_levels({0: {(0, initial): [(0, 0, None, None)]}}, expand, last=m, stop=stop, fronts=True,
                     max_states=max_states, keep=False)
    if run.stopped is not None:
        return UNKNOWN, None, run.states
    layer = run.levels[-1]  # the last layer: all m done, or an empty one where the search ended
    if not layer:
        return NONE_WITHIN_CAP, None, run.states
    best = min((entry for entries in layer.values() for entry in entries), key=lambda e: (e[1], e[0]))
    return FEASIBLE, best, run.states


def _offer(layer: dict, key: tuple[int, int], entry: tuple) -> None:
    """Add ``entry`` to the Pareto front of (clock, drops) at ``key`` unless one there dominates it."""
    front = layer.setdefault(key, [])
    clock, drops = entry[0], entry[1]
    if any(c <= clock and d <= drops for c, d, *_ in front):
        return
    front[:] = [e for e in front if not (clock <= e[0] and drops <= e[1])]
    front.append(entry)
