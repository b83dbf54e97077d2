"""The layered subset DP that four engines share: states (done set, cache), one level per done count.

A state is a bit mask of the queries *done* (served, or for the engines that may drop one, given
up) and the cache the next query sees: the last query served, a row for the cache at the start,
or a merged "blank" cache that no query that can come next shares a prefix with. Its *label* is
what the engine keeps per state: the earliest completion, or a Pareto front of labels (completion
and a second or third criterion, with whatever the engine needs to rebuild its order). Every move
marks at least one more query done, so a state's successors are on higher *levels* (level = bits
set) and the levels are processed lowest first: when a level is expanded, every label it will
ever hold has been merged into it, which is what makes "keep only the undominated labels" exact.

:func:`run_levels` is that loop, for everyone: it takes the first states by level and a
function that expands one state (its moves, the engine's own dominance rule); it admits
each level through an optional filter, counts the states (or the labels of the fronts), stops at a
state cap, reads the clock at each level's start and every
:data:`~prefix_sched.solvers.deadline.CHECK_EXPANSIONS` states (labels) expanded, and returns the
levels it kept. A time-out or the cap is reported as such, never as "no order exists": the engine
turns it into UNKNOWN.

Its users, each with its moves, its label and its tests:

- :mod:`~prefix_sched.solvers.exact.dp`: the feasibility DP (serve a query within its deadline;
  the earliest completion per state; an EDF filter per level);
- :mod:`~prefix_sched.solvers.exact.drops`: the drop DP (serve, or drop the oldest undone query;
  the Pareto front of (completion, drops));
- :mod:`~prefix_sched.solvers.bounds.upper`: the local search's window DP (any order of the
  window; the Pareto front of (completion, max TTFT, sum of TTFTs));
- :mod:`~prefix_sched.solvers.approx.appendix_a`: Appendix A's block DP (serve, and give up the
  optional queries that can no longer make their deadline: a move may skip levels; the earliest
  (completion, dropped) per state, from many start states).

Also here, shared by the deadline-driven engines: the integer instance they work on
(:func:`scaled_instance`), which queries may come next (:func:`move_windows`, with
:func:`oldest_unserved`), and which prompts can share a prefix at all (:func:`prefix_partners`).

What it leaves out: each engine's moves, labels and dominance (in the engine), and any claim about
the answer: the loop only says whether it went through every level.

Examples
--------
Orders of three queries that arrive at 0 and cost 2 each, one state per (done set, last query)
with the earliest completion: three levels, 3 + 6 + 3 states.

>>> def expand(key, clock, following):
...     mask, _ = key
...     for j in range(3):
...         if not mask >> j & 1:
...             following[mask | 1 << j, j] = clock + 2
>>> run = run_levels({0: {(0, None): 0}}, expand, last=3)
>>> run.stopped, run.states, [len(level) for level in run.levels], run.levels[-1][0b111, 0]
(None, 13, [1, 3, 6, 3], 6)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.solvers.deadline import CHECK_EVERY, CHECK_EXPANSIONS, Deadline
from prefix_sched.theory.cost import integer_timebase, scaled_cost_matrix
from prefix_sched.theory.numbers import Exact
from prefix_sched.theory.prompt import EMPTY_PROMPT, Prompt
from prefix_sched.theory.stream import Stream

TIME_LIMIT, STATE_CAP = "time limit", "state cap"
"""Why :func:`run_levels` stopped early (``LevelRun.stopped``)."""

Expand = Callable[[Any, Any, dict], None]


@dataclass(frozen=True)
class LevelRun:
    """What :func:`run_levels` did.

    Attributes
    ----------
    stopped : str or None
        None: every level was processed (the last level, or an empty one, ends the run);
        :data:`TIME_LIMIT` or :data:`STATE_CAP`: it stopped there, no claim either way.
    levels : list of dict
        The levels admitted, lowest first, the lowest start level first; without ``keep``, only the
        last one admitted (with ``stopped`` None: the ``last`` level, or the empty level that ended
        the run).
    states : int
        States counted over the levels admitted (labels, for fronts), the start states included.
    """

    stopped: str | None
    levels: list[dict]
    states: int


def run_levels(levels: dict[int, dict], expand: Expand, *, last: int | None = None,
               stop: Deadline | None = None, admit: Callable[[Any, Any], bool] | None = None,
               fronts: bool = False, max_states: int | None = None, keep: bool = True) -> LevelRun:
    """Process the states of ``levels`` (level -> {state: label}) lowest level first.

    For each level, lowest first:

    1. keep the states that ``admit(state, label)`` accepts (all when None; the levels given at the
       start are taken as they are);
    2. count them (with ``fronts`` the labels are lists and each entry counts) and stop with
       :data:`STATE_CAP` once the count passes ``max_states``;
    3. unless the level is ``last`` or empty, call ``expand(state, label, following)`` on each
       state, ``following`` being the next level's dictionary (a move that skips levels adds to
       ``levels`` itself).

    The clock of ``stop`` is read before a level's first state and every :data:`CHECK_EXPANSIONS`
    states (entries, with ``fronts``) expanded, and every :data:`CHECK_EVERY` states admitted; a
    passed deadline stops with :data:`TIME_LIMIT`. ``levels`` is consumed.
    """
    kept: list[dict] = []
    states = 0
    every, between = CHECK_EVERY - 1, CHECK_EXPANSIONS - 1  # masks: both are powers of two
    given = set(levels)
    while levels:
        level = min(levels)
        layer = levels.pop(level)
        if admit is not None and level not in given:
            admitted = {}
            for checked, (key, label) in enumerate(layer.items()):
                if not checked & every and stop is not None and stop.expired():
                    return LevelRun(TIME_LIMIT, kept, states)
                if admit(key, label):
                    admitted[key] = label
            layer = admitted
        states += sum(map(len, layer.values())) if fronts else len(layer)
        if max_states is not None and states > max_states:
            return LevelRun(STATE_CAP, kept, states)
        if keep or not kept:
            kept.append(layer)
        else:
            kept[0] = layer
        if not layer or level == last:
            continue
        following = levels.setdefault(level + 1, {})
        if fronts:
            due = 0  # entries left before the next clock read
            for key, label in layer.items():
                if due <= 0:
                    if stop is not None and stop.expired():
                        return LevelRun(TIME_LIMIT, kept, states)
                    due = CHECK_EXPANSIONS
                due -= len(label)
                expand(key, label, following)
        else:
            for expanded, (key, label) in enumerate(layer.items()):
                if not expanded & between and stop is not None and stop.expired():
                    return LevelRun(TIME_LIMIT, kept, states)
                expand(key, label, following)
    return LevelRun(None, kept, states)


def oldest_unserved(mask: int) -> int:
    """Index of the lowest zero bit of ``mask`` (queries are indexed in arrival order).

    >>> oldest_unserved(0b1011)
    2
    """
    return (~mask & (mask + 1)).bit_length() - 1


def move_windows(arrivals: Sequence[int], deadlines: Sequence[int]) -> list[int]:
    """For each query ``o`` (arrival order), the end of the queries that may be served next when
    ``o`` is the oldest one not done: those arriving by ``o``'s deadline (serving a later one would
    start past that deadline, and ``o`` would miss it). The moves from such a state try
    ``range(o, window[o])``.

    >>> move_windows([0, 0, 5, 9], [4, 4, 9, 13])
    [2, 2, 4, 4]
    """
    return [max(bisect.bisect_right(arrivals, due), o) for o, due in enumerate(deadlines)]


@dataclass(frozen=True)
class ScaledInstance:
    """Queries in arrival order with every time an integer multiple of ``1 / scale`` token-time.

    ``cost`` has a row per query, then the initial cache's row (index ``m``) and the BLANK row
    (``m + 1``: a cache that shares nothing). ``partners[j]`` is the bit mask of the other queries
    whose prompt starts with ``j``'s first segment (only those can share a prefix with ``j``).
    """

    scale: int
    arrivals: list[int]
    deadlines: list[int]
    cost: list[list[int]]
    partners: list[int]
    start: int


def scaled_instance(stream: Stream, members: Sequence[int], ttft: Exact, alpha: Exact,
                    initial_prompt: Prompt = EMPTY_PROMPT, start: Exact = 0,
                    horizon: Exact | None = None) -> ScaledInstance:
    """The integer data the DPs work on, for ``members`` (stream indices, sorted by arrival)."""
    base, alpha_scaled, scaled = integer_timebase(stream, alpha)
    extra = [Fraction(x).denominator for x in (ttft, start) + (() if horizon is None else (horizon,))]
    scale = math.lcm(base, *extra)
    factor = scale // base
    alpha_s = alpha_scaled * factor
    prompts = [stream.queries[i].prompt for i in members]
    arrivals = [scaled[i] * factor for i in members]
    deadlines = [a + int(ttft * scale) for a in arrivals]
    if horizon is not None:
        deadlines = [min(x, int(horizon * scale)) for x in deadlines]
    cost = scaled_cost_matrix(prompts, initial_prompt, scale, alpha_s)
    # the BLANK row: after an empty initial cache it is the initial row itself
    cost.append(cost[-1] if not initial_prompt else scaled_cost_matrix(prompts, EMPTY_PROMPT, scale, alpha_s)[-1])
    return ScaledInstance(scale, arrivals, deadlines, cost, prefix_partners(prompts), int(start * scale))


def prefix_partners(prompts: Sequence[Prompt]) -> list[int]:
    """For each prompt, the bit mask of the other prompts that start with the same segment.

    >>> prefix_partners([(("u", 2), ("a", 1)), (("v", 1),), (("u", 2),)])
    [4, 0, 1]
    """
    groups: dict[object, int] = {}
    for j, prompt in enumerate(prompts):
        if prompt:
            groups[prompt[0]] = groups.get(prompt[0], 0) | 1 << j
    return [groups[prompt[0]] & ~(1 << j) if prompt else 0 for j, prompt in enumerate(prompts)]
