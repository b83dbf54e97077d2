"""The match tracker: every waiting query's cached prefix ``m_q``, kept current without a rescan.

Shared by the indexed queues of LPM under a radix cache and of every policy whose key reads
``m_q`` (``lpm-aging``, ``spf``, ``hrrn``). Work per decision: the waiting queries that share the
leading segments of what the cache changed, not the queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefix_sched.theory.cache import CacheState
from prefix_sched.theory.prompt import Prompt


class _Trie:
    """A node of :class:`MatchTracker`'s trie of waiting prompts over segment ids."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.children: dict[object, _Trie] = {}
        self.members: set[int] = set()


class MatchTracker:
    """Every waiting query's cached prefix ``m_q``, kept current by the cache's changes.

    The tracker watches the cache (:meth:`~prefix_sched.theory.cache.base.CacheState.watch`): each
    change is reported as ``(prompt, k)``, and can change ``m_q`` only for the prompts whose first
    ``k + 1`` segment ids are ``prompt``'s, which a trie of the waiting prompts finds. Under a radix
    cache a change is an inserted or evicted node (its leading segments); under ``last`` a change of
    cached prompt from ``old`` to ``new``, agreeing on their first ``c`` segments, is reported for
    ``old`` and ``new`` at ``c`` (any other query agrees with both on the same leading segments).
    ``refresh()`` recomputes exactly the matches of the queries found.

    Parameters
    ----------
    prompts : sequence of Prompt
        ``prompts[rank]`` is the prompt of the query of that arrival rank.
    state : CacheState
        The run's cache; it must report its changes (``state.watch``), else InputError.

    Attributes
    ----------
    match : list of int
        ``match[rank]`` is ``m_q`` as last reported (``-1``: not waiting).

    Examples
    --------
    >>> from prefix_sched.theory.cache import parse_cache
    >>> state = parse_cache("unbounded").new_state()
    >>> tracker = MatchTracker([(("a", 3), ("b", 1)), (("c", 2),)], state)
    >>> tracker.add(0), tracker.add(1), tracker.refresh()
    (0, 0, [])
    >>> _ = state.serve((("a", 3), ("x", 1)))
    >>> tracker.refresh(), tracker.match
    ([(0, 3)], [3, 0])
    """

    def __init__(self, prompts: Sequence[Prompt], state: CacheState) -> None:
        self._prompts = prompts
        self._state = state
        state.watch(self._changed)
        self._root = _Trie()
        self._paths: list[list[_Trie] | None] = [None] * len(prompts)
        self.match = [-1] * len(prompts)
        self._dirty: list[_Trie] = []

    def add(self, rank: int) -> int:
        """Make the query of arrival rank ``rank`` wait; return its ``m_q``."""
        prompt = self._prompts[rank]
        node, path = self._root, []
        for sid, _ in prompt:
            child = node.children.get(sid)
            if child is None:
                child = node.children[sid] = _Trie()
            child.members.add(rank)
            path.append(child)
            node = child
        self._paths[rank] = path
        value = self.match[rank] = self._state.reuse(prompt)
        return value

    def remove(self, rank: int) -> None:
        """The query of arrival rank ``rank`` stops waiting."""
        path, self._paths[rank] = self._paths[rank], None
        self.match[rank] = -1
        parent, emptied = self._root, None
        for node, (sid, _) in zip(path, self._prompts[rank]):
            node.members.discard(rank)
            if emptied is None and not node.members:  # nobody waits below: drop the branch
                emptied = parent, sid
            parent = node
        if emptied is not None:
            del emptied[0].children[emptied[1]]

    def refresh(self) -> list[tuple[int, int]]:
        """The ``(rank, m_q)`` of the waiting queries whose match changed since last reported."""
        dirty = self._dirty
        if not dirty:
            return []
        ranks = dirty[0].members if len(dirty) == 1 else set().union(*(node.members for node in dirty))
        reuse, match, prompts, changed = self._state.reuse, self.match, self._prompts, []
        for rank in ranks:
            value = reuse(prompts[rank])
            if value != match[rank]:
                match[rank] = value
                changed.append((rank, value))
        dirty.clear()
        return changed

    def _changed(self, prompt: Prompt, k: int) -> None:
        """The cache's listener: what changed starts with ``prompt``'s segments ``0..k``; remember
        the waiting queries that share them."""
        node = self._root
        for index in range(k + 1):
            node = node.children.get(prompt[index][0])
            if node is None:
                return
        self._dirty.append(node)
