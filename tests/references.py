"""Independent reference implementations that several test modules check the package against.

- :class:`TokenTrie`: SGLang's radix cache (page size 1) written at token level, with explicit
  per-token timestamps and node-start flags (no segment arithmetic, no node splitting code).
"""

from __future__ import annotations

class _Unit:
    __slots__ = ("children", "parent", "unit", "weight", "time", "starts_node")

    def __init__(self, parent, unit, weight, time):
        self.children, self.parent, self.unit, self.weight = {}, parent, unit, weight
        self.time, self.starts_node = time, True


class TokenTrie:
    """The reference cache: SGLang's rules applied unit by unit (``capacity`` None: unbounded)."""

    def __init__(self, capacity, lock=True):
        self.capacity, self.lock, self.size, self.served = capacity, lock, 0, 0
        self.root = _Unit(None, None, 0, 0)

    def reuse(self, units):
        """The cached prefix of ``units``, in weight, without touching anything."""
        at, total = self.root, 0
        for unit, weight in units:
            if unit not in at.children:
                break
            at = at.children[unit]
            total += weight
        return total

    def _node_of(self, unit):
        """The units of the compressed node holding ``unit``."""
        while not unit.starts_node:
            unit = unit.parent
        chain = [unit]
        while len(chain[-1].children) == 1:
            (child,) = chain[-1].children.values()
            if child.starts_node:
                break
            chain.append(child)
        return chain

    def _nodes(self):
        stack, out = list(self.root.children.values()), []
        while stack:
            unit = stack.pop()
            if unit.starts_node:
                out.append(self._node_of(unit))
            stack.extend(unit.children.values())
        return out

    def serve(self, units):
        """``units``: a list of ``(unit, weight)``; returns the reuse in weight."""
        self.served += 1
        matched_at, inserted_at = 2 * self.served - 1, 2 * self.served
        at, matched = self.root, []
        for unit, weight in units:
            if unit not in at.children:
                break
            at = at.children[unit]
            matched.append(at)
        for unit in matched:  # every node the match enters, whole (before the split)
            for member in self._node_of(unit):
                member.time = matched_at
        if matched and len(at.children) == 1:
            (child,) = at.children.values()
            child.starts_node = True  # the match ended inside a node: split it
        reuse = sum(unit.weight for unit in matched)
        locked = set(map(id, matched)) if self.lock else set()
        need = sum(weight for _, weight in units) - reuse
        while self.capacity is not None and self.capacity - self.size < need:
            leaves = [node for node in self._nodes() if not node[-1].children and id(node[0]) not in locked]
            oldest = min(node[0].time for node in leaves)
            assert [node[0].time for node in leaves].count(oldest) == 1, "two leaves share the oldest time"
            (victim,) = [node for node in leaves if node[0].time == oldest]
            del victim[0].parent.children[victim[0].unit]
            self.size -= sum(unit.weight for unit in victim)
        for unit in matched:
            unit.time = inserted_at
        first = True
        for unit, weight in units[len(matched):]:
            at.children[unit] = _Unit(at, unit, weight, inserted_at)
            at = at.children[unit]
            at.starts_node, first = first, False
            self.size += weight
        for node in self._nodes():
            assert len({unit.time for unit in node}) == 1, "a node's units carry two times"
        return reuse

    def described(self):
        """Every node as ``(units from the root to its end, weight before it, time)``."""
        out = set()
        for node in self._nodes():
            path, unit = [], node[-1]
            while unit is not self.root:
                path.append(unit)
                unit = unit.parent
            path.reverse()
            start = sum(unit.weight for unit in path[: len(path) - len(node)])
            out.add((tuple(unit.unit for unit in path), start, node[0].time))
        return out
