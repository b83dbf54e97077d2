"""Exact TTFT feasibility by dynamic programming over (served set, last query).

A state is the set ``S`` of served queries and the last one served, ``j``; its value is the earliest
completion time over orders of ``S`` ending in ``j`` that keep every TTFT in ``S`` at most ``T``.
Earlier is never worse (the future depends on ``(S, j)`` and the clock only, and Definition 2 is
monotone in the clock), so keeping the earliest completion per state is exact. States are built
layer by layer (``|S| = 1, 2, ...``, the subset DP of :mod:`~prefix_sched.solvers.exact.subset_dp`)
and a state is dropped when it cannot be completed:

- a query whose completion would pass its deadline ``t_q + T`` (or the ``horizon``);
- the deadline test of the unserved queries: with ``p_q`` the cheapest cost ``q`` can have after any
  predecessor, every unserved ``q`` with deadline ``<= x`` must be processed after the clock ``c``,
  so ``c + sum(p_q : t_q + T <= x) <= x`` for every unserved deadline ``x`` (EDF without releases,
  a necessary condition; checked over the 64 oldest unserved queries).

Only queries arriving by the oldest unserved query's deadline are tried next (serving a later one
would make the oldest miss its deadline), so with a bounded number of arrivals per ``T`` window a
state costs a bounded amount of work.

Cache merging (exact): two prompts share a prefix only if their first segments are equal. When no
unserved query with the first segment of the last one ``j`` arrives by the oldest unserved
deadline, no query that can come next reuses ``j``'s cache: it costs what it would after a cache
that shares nothing. Such states are kept as one, ``(S, BLANK)``, with the earliest completion and
the query that reached it (for the witness). The last layer is not merged, so ``endings`` still
names every query that can end a feasible order.

What it leaves out: minimising the max TTFT (done by :mod:`prefix_sched.solvers.exact` through this
feasibility test) and the number of violations (CP-SAT and brute force only); big streams (the
state space is exponential: a ``max_states`` cap or a ``time_limit`` turns a run that grows too
large into UNKNOWN, never into INFEASIBLE; the clock is read every
:data:`~prefix_sched.solvers.deadline.CHECK_EXPANSIONS` expansions and every
:data:`~prefix_sched.solvers.deadline.CHECK_EVERY` filtered states; ``benchmarks/time_limits.py``
measures how closely the limit is kept).

Options for Appendix A: ``subset`` restricts the stream to some queries, ``initial_prompt`` is the
cache at the start, ``start_time`` the earliest start, ``horizon`` a time every completion must
respect. The result lists, for every query that can be last, its earliest completion and a witness
order: the feasible (cache initialisation, last query) pairs.

Examples
--------
The toy example of Section 4.2 (all arrive at 0; LPM reaches max TTFT 30):

>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([
...     ("u1d1", (("u1", 5), ("d1", 5)), 0), ("u2d3", (("u2", 5), ("d3", 5)), 0),
...     ("u1d2", (("u1", 5), ("d2", 5)), 0), ("u2d4", (("u2", 5), ("d4", 5)), 0)])
>>> print(feasible_endings(s, 30).status, feasible_endings(s, 29).status)
FEASIBLE INFEASIBLE
>>> result = feasible_endings(s, 30)
>>> sorted(result.endings.items())        # by symmetry any query can end an order at 30
[(0, 30), (1, 30), (2, 30), (3, 30)]
>>> result.witness(3)                      # u1d1, u1d2, u2d3, u2d4: TTFTs 10, 15, 25, 30
(0, 2, 1, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.subset_dp import move_windows, run_levels, scaled_instance
from prefix_sched.solvers.status import Status
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.numbers import Exact, exact_int, exact_number, normalize
from prefix_sched.theory.prompt import EMPTY_PROMPT, Prompt
from prefix_sched.theory.stream import Stream

FEASIBLE, INFEASIBLE, UNKNOWN = Status.FEASIBLE, Status.INFEASIBLE, Status.UNKNOWN
DEFAULT_MAX_STATES = 4_000_000
EDF_WINDOW = 64  # unserved queries the deadline test looks at (fewer: a weaker, still valid test)


@dataclass(frozen=True)
class DPResult:
    """The DP's answer.

    Attributes
    ----------
    status : Status
        FEASIBLE, INFEASIBLE, or UNKNOWN when the state cap or the time limit was hit.
    endings : dict
        For each query index that can be served last in a feasible order: its earliest completion.
    states : int
        States kept over all layers.
    """

    status: Status
    endings: dict[int, Exact] = field(default_factory=dict)
    states: int = 0
    _rebuild: Callable[[int], tuple[int, ...]] | None = field(default=None, repr=False, compare=False)

    def witness(self, last: int) -> tuple[int, ...]:
        """A feasible order (query indices) ending in ``last`` and completing at ``endings[last]``."""
        if last not in self.endings:
            raise InputError(f"query {last} is not a feasible last query")
        return self._rebuild(last)

    def best_order(self) -> tuple[int, ...] | None:
        """A feasible order finishing earliest, or None."""
        if not self.endings:
            return None
        return self.witness(min(self.endings, key=lambda j: (self.endings[j], j)))


def feasible_endings(
    stream: Stream,
    ttft: object,
    *,
    alpha: object = 0,
    subset: Sequence[int] | None = None,
    initial_prompt: Prompt = EMPTY_PROMPT,
    start_time: object = 0,
    horizon: object = None,
    max_states: int = DEFAULT_MAX_STATES,
    time_limit: float | Deadline | None = None,
    cache: object = DEFAULT_CACHE,
) -> DPResult:
    """Decide whether some order of ``subset`` (default: the whole stream) keeps every TTFT <= ``ttft``.

    Parameters
    ----------
    stream : Stream
    ttft : exact number
        The uniform TTFT bound ``T >= 0``.
    alpha : exact number, default 0
    subset : sequence of int, optional
        Query indices to schedule (others are ignored).
    initial_prompt : Prompt
        Cached prompt before the first query (default empty).
    start_time : exact number
        The server is free from this time on.
    horizon : exact number, optional
        Every completion must be at most this.
    max_states : int
        Cap on kept states; reaching it gives status UNKNOWN.
    time_limit : float or Deadline, optional
        Seconds, or a :class:`~prefix_sched.solvers.deadline.Deadline` shared with a caller; read
        every few thousand steps of expansion and filtering; UNKNOWN when passed.
    cache : str or CacheModel, default "last"
        Must be ``"last"``: the DP's state (mask, last query) is Definition 2's one-prompt cache;
        another model is refused (InputError).
    """
    require_last_prompt(cache, "the feasibility DP's states")
    stop = Deadline.of(time_limit)
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    alpha = exact_number(alpha, "alpha", minimum=0)
    start = exact_number(start_time, "start time", minimum=0)
    limit = None if horizon is None else exact_number(horizon, "horizon", minimum=0)
    max_states = exact_int(max_states, "max states", minimum=1)
    members = list(range(stream.n)) if subset is None else list(subset)
    if len(set(members)) != len(members) or any(not 0 <= i < stream.n for i in members):
        raise InputError(f"subset must list distinct query indices in 0..{stream.n - 1}, got {list(subset)[:10]}")
    if not members:
        raise InputError("subset is empty")
    members.sort(key=lambda i: (stream.queries[i].arrival, i))  # deadlines then ascend with the index

    problem = scaled_instance(stream, members, bound, alpha, initial_prompt, start, limit)
    scale, arrivals, deadlines, cost = problem.scale, problem.arrivals, problem.deadlines, problem.cost
    if stop.expired():
        return DPResult(UNKNOWN, {}, 0)
    search = _search(arrivals, deadlines, cost, problem.partners, problem.start, max_states, stop)
    status, layers, reached, states = search
    if status != FEASIBLE:
        return DPResult(status, {}, states)
    local = {members[last]: (mask, last) for (mask, last) in layers[-1]}

    def rebuild(last: int) -> tuple[int, ...]:
        return tuple(members[i] for i in _backtrack(layers, reached, cost, arrivals, local[last]))

    endings = {members[last]: normalize(Fraction(clock, scale)) for (_, last), clock in layers[-1].items()}
    return DPResult(status, endings, states, rebuild)


def _search(arrivals, deadlines, cost, partners, start, max_states, stop):
    """The layered search of :func:`~prefix_sched.solvers.exact.subset_dp.run_levels`; queries are
    indexed in arrival order, so deadlines ascend with the index.

    ``cost`` has a row per query, then the initial cache's row (``m``) and the BLANK row (``m + 1``).
    Returns the status, the layers ``|S| = 1, 2, ...`` (state -> earliest completion; the last one
    holds the complete orders when FEASIBLE), the query that reached each merged ``(mask, BLANK)``
    state (by mask: a mask belongs to one layer), and the number of states kept.
    """
    m = len(arrivals)
    blank, full = m + 1, (1 << m) - 1
    cheapest = [min(column[:j] + column[j + 1:]) for j, column in enumerate(zip(*cost))]  # after any other
    window = move_windows(arrivals, deadlines)
    reached: dict[int, int] = {}

    def completable(key: tuple[int, int], clock: int) -> bool:
        """The EDF test of the unserved queries (module docstring)."""
        mask = key[0]
        total, checked, j = clock, 0, (~mask & (mask + 1)).bit_length() - 1
        while j < m and checked < EDF_WINDOW:
            if not mask >> j & 1:
                total += cheapest[j]
                checked += 1
                if total > deadlines[j]:
                    return False
            j += 1
        return True

    def expand(key: tuple[int, int], clock: int, following: dict) -> None:
        mask, last = key
        row = cost[last]
        oldest = (~mask & (mask + 1)).bit_length() - 1  # oldest_unserved(mask), inline: once per state
        for j in range(oldest, window[oldest]):
            if not mask >> j & 1:
                arrival = arrivals[j]
                finish = (clock if clock > arrival else arrival) + row[j]
                if finish <= deadlines[j]:
                    done = mask | 1 << j
                    # the cache: j, or BLANK when no unserved partner of j can be served next
                    rest = partners[j] & ~done
                    if done == full or (rest and arrivals[(rest & -rest).bit_length() - 1]
                                        <= deadlines[(~done & (done + 1)).bit_length() - 1]):
                        state = (done, j)
                    else:
                        state = (done, blank)
                    known = following.get(state)
                    if known is None or finish < known:
                        following[state] = finish
                        if state[1] == blank:
                            reached[done] = j

    # From the initial cache (row m) at the start time; the EDF filter admits each layer.
    run = run_levels({0: {(0, m): start}}, expand, last=m, stop=stop, admit=completable,
                     max_states=max_states + 1)
    layers, states = run.levels[1:], run.states - 1  # the start state is not counted
    if run.stopped is not None:
        return UNKNOWN, layers, reached, states
    return (FEASIBLE if len(layers) == m and layers[-1] else INFEASIBLE), layers, reached, states


def _backtrack(layers, reached, cost, arrivals, key):
    """Rebuild an order reaching ``key`` with its recorded earliest completion."""
    m = len(arrivals)
    blank = m + 1
    mask, last = key
    order = []
    for depth in range(len(layers) - 1, -1, -1):
        clock = layers[depth][(mask, last)]
        served = reached[mask] if last == blank else last
        order.append(served)
        if depth == 0:
            break
        previous_mask = mask & ~(1 << served)
        for plast in [*range(m), blank]:
            pclock = layers[depth - 1].get((previous_mask, plast))
            if pclock is not None and max(pclock, arrivals[served]) + cost[plast][served] == clock:
                mask, last = previous_mask, plast
                break
        else:  # pragma: no cover - the layers always hold the predecessor that produced a state
            raise AssertionError(f"no predecessor for state {(mask, last)}")
    return tuple(reversed(order))
