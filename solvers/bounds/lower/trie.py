"""The stream's segment-level radix trie in scaled integers, which every lower bound here walks.

Notation (shared by the lemmas of :mod:`~prefix_sched.solvers.bounds.lower`): query ``q`` has
prompt ``p_q`` and arrival ``t_q``. A *prefix* is a nonempty token prefix ``p[:j]``; position ``j``
(1-based) weighs ``w(j) = 1 + alpha (2j - 1)``, a set ``P`` of prefixes weighs
``w(P) = sum of w(|pi|)``. A prompt alone weighs ``|p| + alpha |p|^2``.

Why a weight is Definition 2's cost. The weights telescope: ``sum_{j=m+1}^{e} w(j) =
(e - m) + alpha (e^2 - m^2)`` (``j^2 - (j-1)^2 = 2j - 1``), which is
:func:`~prefix_sched.theory.cost.prefill_cost` ``(e, m, alpha)``: what a prompt of ``e`` tokens
costs with ``m`` of them cached. So the cost of ``p`` after a reuse of ``m`` tokens is the weight of
the prefixes of ``p`` longer than ``m``, and the trie's numbers are theory.cost's cost, never a
formula of their own: a node for segment ``s`` ending at token ``e`` below a parent ending at
``d = e - |s|`` weighs ``cost(e | d)`` (its tokens, computed with everything above it cached), and
``reach(v) = D(v) = cost(e | 0)`` is the whole prefix from an empty cache. A prompt's nodes below
its reuse add up to ``cost(|p| | m)``, and ``D(u) - D(v) = cost(e_u | e_v)`` for an ancestor ``v``.
All of them in units of ``1 / D`` token-time (:func:`~prefix_sched.theory.cost.scaled_cost` with the
stream's :func:`~prefix_sched.theory.cost.integer_timebase`).

What it leaves out: the bounds themselves (:mod:`~prefix_sched.solvers.bounds.lower.window`,
:mod:`~prefix_sched.solvers.bounds.lower.runs`, :mod:`~prefix_sched.solvers.bounds.lower.violations`).

Examples
--------
>>> from prefix_sched.theory.stream import Stream
>>> trie = SegmentTrie(Stream.from_records([("a", (("p", 4), ("x", 2)), 0), ("b", (("p", 4),), 9)]), 0)
>>> trie.paths, trie.weight, trie.reach, trie.count
([[0, 1], [0]], [4, 2], [4, 6], [2, 1])
>>> SegmentTrie(Stream.from_records([("a", (("p", 2), ("x", 1)), 0)]), 1).weight   # 2 + 4 and 1 + (9 - 4)
[6, 6]
"""

from __future__ import annotations

from fractions import Fraction

from prefix_sched.theory.cost import integer_timebase, scaled_cost
from prefix_sched.theory.numbers import Exact, normalize
from prefix_sched.theory.stream import Stream


class SegmentTrie:
    """The stream's segment-level radix trie in integers (times and weights times ``scale``).

    Ranks are positions in arrival order. ``paths[r]`` lists the node ids of rank ``r``'s prompt,
    root first; ``weight[v]`` is the node's prefix weight, ``reach[v] = D(v)`` the weight of the
    whole prefix ending at ``v`` (both Definition 2's cost: module docstring); ``first[v]`` the
    first rank through ``v``; ``count[v]`` the prompts through ``v``; ``full[r]`` the weight of rank
    ``r``'s whole prompt; ``group_first[r]`` / ``group_last[r]`` whether ``r`` starts / ends a group
    of equal arrivals.
    """

    def __init__(self, stream: Stream, alpha: Exact) -> None:
        scale, alpha_scaled, arrivals = integer_timebase(stream, alpha)
        self.scale, self.alpha_scaled = scale, alpha_scaled
        self.ranks = stream.arrival_order
        self.t = [arrivals[i] for i in self.ranks]
        nodes: dict[tuple[int, object], int] = {}
        weight, reach, first, count = [], [], [], []
        paths = []
        for rank, index in enumerate(self.ranks):
            parent, depth, above, path = -1, 0, 0, []   # above: D of the parent node
            for segment in stream.queries[index].prompt:
                key = (parent, segment)
                node = nodes.get(key)
                end = depth + segment[1]
                if node is None:
                    node = nodes[key] = len(weight)
                    whole = scaled_cost(end, 0, scale, alpha_scaled)
                    reach.append(whole)
                    weight.append(whole - above)   # D(e) - D(d) = cost(e | d)
                    first.append(rank)
                    count.append(0)
                count[node] += 1
                path.append(node)
                parent, depth, above = node, end, reach[node]
            paths.append(path)
        self.paths, self.weight, self.reach, self.first, self.count = paths, weight, reach, first, count
        self.full = [reach[path[-1]] for path in paths]
        n = len(self.t)
        self.group_first = [r == 0 or self.t[r - 1] != self.t[r] for r in range(n)]
        self.group_last = [r == n - 1 or self.t[r + 1] != self.t[r] for r in range(n)]

    def exact(self, value: int) -> Exact:
        """A scaled integer back in token-times."""
        return normalize(Fraction(value, self.scale))

    def shared_depth_weight(self, rank: int, before: int) -> int:
        """``D`` of the deepest node of ``rank``'s prompt whose first rank is ``< before`` (0 if none)."""
        path, first = self.paths[rank], self.first
        lo, hi = 0, len(path)  # first[] does not decrease along a path
        while lo < hi:
            mid = (lo + hi) // 2
            if first[path[mid]] < before:
                lo = mid + 1
            else:
                hi = mid
        return self.reach[path[lo - 1]] if lo else 0
