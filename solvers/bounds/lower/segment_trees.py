"""Two segment trees over the window ends, for the window bound's sweep (scaled integers).

- :class:`AddMaxTree`: range add, point assignment and range maximum, lazily (the sweep keeps
  ``w(trie(x..y)) - t_y`` per end ``y`` and adds a node's weight to a range of ends);
- :class:`MaxTree`: point assignment and "the first leaf at or after ``lo`` above ``k``" (the
  sweep finds where the ``last`` credit, a running maximum, steps up).

What it leaves out: what the leaves mean (:mod:`~prefix_sched.solvers.bounds.lower.window`).

Examples
--------
>>> tree = AddMaxTree(4)
>>> for end, value in enumerate((3, 1, 4, 1)):
...     tree.set(end, value)
>>> tree.add(0, 1, 10)
>>> tree.top(), tree.max(1, 3), tree.max(2, 3)
(13, 11, 4)
>>> points = MaxTree(4)
>>> for leaf, value in enumerate((0, 5, 2, 7)):
...     points.set(leaf, value)
>>> points.first_above(0, 4), points.first_above(2, 5), points.first_above(0, 7)
(1, 3, 4)
"""

from __future__ import annotations

NEG = float("-inf")


class AddMaxTree:
    """Range add, point activation and range maximum over ``size`` leaves (all ``-inf`` at first)."""

    def __init__(self, size: int) -> None:
        self.n = 1
        while self.n < max(size, 1):
            self.n *= 2
        self.h = self.n.bit_length() - 1
        self.t = [NEG] * (2 * self.n)
        self.d = [0] * (2 * self.n)

    def _build(self, i: int) -> None:
        t, d = self.t, self.d
        i >>= 1
        while i:
            a, b = t[2 * i], t[2 * i + 1]
            t[i] = (a if a > b else b) + d[i]
            i >>= 1

    def _push(self, leaf: int) -> None:
        t, d = self.t, self.d
        for s in range(self.h, 0, -1):
            i = leaf >> s
            v = d[i]
            if v:
                for c in (2 * i, 2 * i + 1):
                    t[c] += v
                    if c < self.n:
                        d[c] += v
                d[i] = 0

    def set(self, i: int, value: int) -> None:
        leaf = i + self.n
        self._push(leaf)
        self.t[leaf] = value
        self._build(leaf)

    def add(self, lo: int, hi: int, value: int) -> None:
        """Add ``value`` to leaves ``lo..hi`` (inclusive)."""
        t, d, n = self.t, self.d, self.n
        l, r = lo + n, hi + n + 1
        l0, r0 = l, r - 1
        while l < r:
            if l & 1:
                t[l] += value
                if l < n:
                    d[l] += value
                l += 1
            if r & 1:
                r -= 1
                t[r] += value
                if r < n:
                    d[r] += value
            l >>= 1
            r >>= 1
        self._build(l0)
        self._build(r0)

    def top(self) -> float | int:
        return self.t[1]

    def max(self, lo: int, hi: int) -> float | int:
        """Maximum over leaves ``lo..hi`` (inclusive)."""
        if lo > hi:
            return NEG
        n, t = self.n, self.t
        l, r = lo + n, hi + n + 1
        self._push(l)
        self._push(r - 1)
        best = NEG
        while l < r:
            if l & 1:
                if t[l] > best:
                    best = t[l]
                l += 1
            if r & 1:
                r -= 1
                if t[r] > best:
                    best = t[r]
            l >>= 1
            r >>= 1
        return best


class MaxTree:
    """Point assignment and "first leaf at or after ``lo`` above ``k``" over ``size`` leaves."""

    def __init__(self, size: int) -> None:
        self.n = 1
        while self.n < max(size, 1):
            self.n *= 2
        self.t = [-1] * (2 * self.n)

    def set(self, i: int, value: int) -> None:
        t = self.t
        i += self.n
        t[i] = value
        i >>= 1
        while i:
            a, b = t[2 * i], t[2 * i + 1]
            t[i] = a if a > b else b
            i >>= 1

    def get(self, i: int) -> int:
        return self.t[i + self.n]

    def first_above(self, lo: int, k: int) -> int:
        """The first leaf ``>= lo`` whose value is ``> k``, or ``self.n``."""
        t, i = self.t, lo + self.n
        if lo >= self.n:
            return self.n
        while t[i] <= k:
            while i & 1:
                i >>= 1
            if i == 0:
                return self.n
            i += 1
        while i < self.n:
            i = 2 * i if t[2 * i] > k else 2 * i + 1
        return i - self.n
