"""The waiting queue of the serving engine, and the order in which new prefills leave it.

The engine keeps one FCFS *waiting list*: a request is appended when it arrives (arrival <= the
iteration's start) and a preempted request is put at the front (the most recently preempted first),
as Sarathi-Serve and vLLM do (``waiting.insert(0, seq)``, ``waiting.prepend_request``). An *order*
ranks that list for admission; a scheduler walks the ranking and stops at the first request it
cannot admit (no skipping). Ties in every key go to the earlier place in the FCFS list, which for
requests never preempted is arrival order (so does a stable sort of the list, as SLAI and
Sarathi-Serve's ``sorted(waiting[:k], key=...)`` do it).

Orders, by the name of Part 1's policy registry (:mod:`prefix_sched.solvers.online.policies`); the
engine keeps no prefix cache, so the cache-aware keys reduce as stated:

- ``fcfs``: the FCFS list itself.
- ``shortest-prompt`` (SLAI's reordering) and ``spf`` (fewest uncached tokens, with no cache the
  whole prompt): ``|p'|`` ascending, where ``|p'|`` is the prompt the request will prefill (after a
  preemption: its prompt plus the tokens it had generated).
- ``lof``: the output length ``o_r``, longest first.
- ``hrrn``: ``(now - a_r) / |p'|`` highest first (Definition 2's cost without reuse and alpha),
  compared exactly.
- ``random``: at each admission decision, a uniformly drawn place ``j`` in the FCFS list, one draw
  of the engine's seeded generator (``integers(len)``) per decision.
- SLAI's own: ``strict-shortest`` (strict class first, then ``|p'|``: SLAI's ``user_priority``).

Orders whose key never changes while a request waits (all but ``hrrn`` and ``random``) are *static*:
the engine may then skip iterations in which an unchanged queue stays blocked.

Under a prefix cache (``--prefix-cache lru|unbounded``, :mod:`.prefix_cache`) the orders that read
the cache (:data:`CACHE_ORDERS`: ``lpm``, ``k-lpm:K``, ``sglang-lpm``, ``lpm-aging:N``,
``dfs-weight``, ``spf``, ``hrrn``) are Part 1's own waiting queues
(:func:`~prefix_sched.solvers.online.policies.make_policy_queue`, the indexed kind) over the
engine's cache, through :class:`PolicyQueue`: each key reads ``m_q``, the request's cached prefix
in the engine's tree now, and ties go to the oldest arrival rank. A request's arrival rank is its
Part 1 rank, the decision number ``s`` (k-LPM's cycle, lpm-aging's age) counts admissions, ``t``
is the iteration's start, HRRN's cost is the uncached prompt ``|p| - m_q`` (the iteration cost's
token term; attention left out, as without a cache), and a preempted request re-enters the queue
with its rank (Part 1's queues have no front). Each look at the head of the queue is the queue's
``peek`` at that moment; the admission that takes it is its ``pop``. The orders that do not read
the cache (``fcfs``, ``shortest-prompt``, ``lof``, ``random``) keep the engine's FCFS list.

Without a cache, the LPM family (``lpm``, ``k-lpm``, ``sglang-lpm``, ``lpm-aging``) and
``dfs-weight`` would be FCFS under another name, so they are refused (:func:`check_order`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from fractions import Fraction

from sortedcontainers import SortedList

from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import PolicyName, PolicySpec, make_policy_queue

SERVING_ORDERS = (PolicyName.FCFS, PolicyName.SPF, PolicyName.SHORTEST_PROMPT, PolicyName.LOF,
                  PolicyName.HRRN, PolicyName.RANDOM)
"""Part 1's policies that order new prefills in the serving engine without a prefix cache."""
CACHE_ORDERS = (PolicyName.LPM, PolicyName.KLPM, PolicyName.SGLANG_LPM, PolicyName.LPM_AGING,
                PolicyName.DFS_WEIGHT, PolicyName.SPF, PolicyName.HRRN)
"""The policies whose key reads the cache: Part 1's queues over the engine's prefix cache."""
STRICT_SHORTEST = "strict-shortest"
"""SLAI's order: strict class first, then shortest prompt."""


def check_order(spec: PolicySpec, cache: str | None = None) -> PolicySpec:
    """Return ``spec`` if it can order new prefills under ``cache`` (``"none"``, ``"lru"``,
    ``"unbounded"``; None: under some cache); refuse the others by name."""
    if spec.tie_break != "oldest":
        raise InputError(f"order {spec.label!r}: the serving engine breaks ties to the oldest only")
    if spec.name in SERVING_ORDERS or (spec.name in CACHE_ORDERS and cache != "none"):
        return spec
    if spec.name in CACHE_ORDERS:
        raise InputError(
            f"order {spec.label!r} ranks requests by their cached prefix, and this engine keeps no prefix cache "
            f"(it would run as FCFS under another name): give --prefix-cache lru or unbounded; orders without a "
            f"cache: {', '.join(p.value for p in SERVING_ORDERS)}")
    orders = sorted({p.value for p in (*SERVING_ORDERS, *CACHE_ORDERS)})
    raise InputError(f"order {spec.label!r} cannot order new prefills; orders: {', '.join(orders)}")


class PolicyQueue:
    """Part 1's waiting queue of a cache-reading policy over the engine's prefix cache (see the
    module docstring), on the engine's queue interface.

    :meth:`ordered` shows the queue's answer now (its ``peek``: the request its ``pop`` would serve,
    left waiting) and :meth:`take` serves it (its ``pop``). A candidate the scheduler looks at and
    does not take stays in the queue; the next look asks again, with the cache and the waiting list
    as they are then (a random choice of the policy drawn by the pop alone, as Part 1's runs draw).
    """

    static = False

    def __init__(self, spec: PolicySpec, engine) -> None:
        outputs = engine.out.tolist() if spec.needs_outputs else None
        self._queue = make_policy_queue(spec, "indexed", engine.segments, engine.arrival_list, outputs, engine.cache,
                                        1, 0)
        self._rng = engine.rng if spec.randomized else None  # as Part 1's simulator: draws only for a random choice
        self._step = 0
        self._now = 0
        self._count = 0  # waiting requests (the queue's len, kept here: the engine asks it every iteration)

    def __len__(self) -> int:
        return self._count

    def push_back(self, r: int) -> None:
        self._queue.add(r, self._step, self._now)
        self._count += 1

    push_front = push_back

    def ordered(self, now: int) -> Iterator[int]:
        self._now = now
        queue = self._queue
        while self._count:
            yield queue.peek(self._step, now, self._rng)

    def take(self, r: int) -> None:
        served = self._queue.pop(self._step, self._now, self._rng)
        assert served == r
        self._step += 1
        self._count -= 1


class FcfsQueue:
    """The FCFS waiting list; :meth:`ordered` yields its head until the caller stops taking."""

    static = True

    def __init__(self) -> None:
        self._items: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def push_back(self, r: int) -> None:
        self._items.append(r)

    def push_front(self, r: int) -> None:
        self._items.appendleft(r)

    def ordered(self, now: int) -> Iterator[int]:
        """Yield the next candidate; the caller must :meth:`take` it before asking for another."""
        items = self._items
        while items:
            yield items[0]

    def take(self, r: int) -> None:
        assert self._items[0] == r
        self._items.popleft()

    def snapshot(self) -> list[int]:
        return list(self._items)


class KeyedQueue:
    """The waiting list ranked by a static key ``key(r)``, ties to the FCFS place."""

    static = True

    def __init__(self, key: Callable[[int], tuple]) -> None:
        self._key = key
        self._sorted = SortedList()
        self._entry: dict[int, tuple] = {}
        self._back = 0
        self._front = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def _push(self, r: int, place: int) -> None:
        entry = (*self._key(r), place, r)
        self._entry[r] = entry
        self._sorted.add(entry)

    def push_back(self, r: int) -> None:
        self._back += 1
        self._push(r, self._back)

    def push_front(self, r: int) -> None:
        self._front -= 1
        self._push(r, self._front)

    def ordered(self, now: int) -> Iterator[int]:
        items = self._sorted
        while items:
            yield items[0][-1]

    def take(self, r: int) -> None:
        self._sorted.remove(self._entry.pop(r))

    def snapshot(self) -> list[int]:
        return [entry[-1] for entry in self._sorted]


class HrrnQueue:
    """The waiting list ranked at each iteration by ``(now - a_r) / |p'_r|``, highest first."""

    static = False

    def __init__(self, arrival: list[int], length: Callable[[int], int]) -> None:
        self._arrival = arrival
        self._length = length
        self._place: dict[int, int] = {}
        self._back = 0
        self._front = 0

    def __len__(self) -> int:
        return len(self._place)

    def push_back(self, r: int) -> None:
        self._back += 1
        self._place[r] = self._back

    def push_front(self, r: int) -> None:
        self._front -= 1
        self._place[r] = self._front

    def ordered(self, now: int) -> Iterator[int]:
        ranked = sorted(self._place, key=lambda r: (Fraction(self._arrival[r] - now, self._length(r)),
                                                    self._place[r]))
        for r in ranked:
            yield r

    def take(self, r: int) -> None:
        del self._place[r]

    def snapshot(self) -> list[int]:
        return sorted(self._place, key=self._place.__getitem__)


class RandomQueue:
    """The FCFS waiting list; each decision takes the ``j``-th, ``j`` drawn uniformly."""

    static = False

    def __init__(self, rng) -> None:
        self._rng = rng
        self._sorted = SortedList()
        self._place: dict[int, int] = {}
        self._back = 0
        self._front = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def push_back(self, r: int) -> None:
        self._back += 1
        self._place[r] = self._back
        self._sorted.add((self._back, r))

    def push_front(self, r: int) -> None:
        self._front -= 1
        self._place[r] = self._front
        self._sorted.add((self._front, r))

    def ordered(self, now: int) -> Iterator[int]:
        items = self._sorted
        while items:
            yield items[int(self._rng.integers(len(items)))][1]

    def take(self, r: int) -> None:
        self._sorted.remove((self._place.pop(r), r))

    def snapshot(self) -> list[int]:
        return [r for _, r in self._sorted]
