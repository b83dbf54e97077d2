"""3-PARTITION instances: the JSON file format, validation, seeded generators and an exact decider.

An instance (Definition 3 of the paper; SP15 in Garey and Johnson) is ``3m`` positive integers
``a_1 .. a_3m`` and a bound ``B`` with ``B/4 < a_i < B/2`` (strictly) and ``sum a_i = mB``; the
question is whether the indices split into ``m`` groups each summing to ``B``. The strict bounds
force every group to have exactly three members (two are below ``B``, four are above it).

What is here:

- :class:`ThreePartition`, validated when built (a violation is an InputError naming the value);
- the file format ``prefix-sched.3-partition`` version 1, one JSON object::

      {"format": "prefix-sched.3-partition", "version": 1, "B": 40, "sizes": [12, 13, 15], "meta": {}}

  ``B`` may be left out, then it is ``sum / m`` (which must be an integer); ``meta`` is optional;
- :func:`decide_partition`, an exact decider (depth-first search over triples with memoised failures) that
  returns a partition when there is one and a proof by exhaustion when there is none;
- seeded generators: :func:`planted_yes` (plant ``m`` triples, then shuffle) and
  :func:`certified_no` (draw, decide, keep a no; bounded tries, a clear error when none is found).

What it leaves out: the reduction itself (:mod:`prefix_sched.reductions.construction`). A valid
``m = 1`` instance is three numbers summing to ``B``, which is always a yes-instance, so
:func:`certified_no` refuses ``m = 1`` instead of pretending.

Examples
--------
>>> inst = ThreePartition((5, 6, 7, 5, 5, 8), 18)
>>> inst.m, decide_partition(inst).groups
(2, ((0, 3, 5), (1, 2, 4)))
>>> decide_partition(ThreePartition((5, 5, 5, 7, 7, 7), 18)).answer
False
>>> ThreePartition((4, 6, 8), 18)
Traceback (most recent call last):
...
prefix_sched.errors.InputError: 3-PARTITION size a_1 = 4 must satisfy B/4 < a_i < B/2 with B = 18, i.e. 5 <= a_i <= 8
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from prefix_sched.errors import FormatError, InputError
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.outputs import write_text
from prefix_sched.theory.formats import check_nesting, read_json_document

INSTANCE_FORMAT = "prefix-sched.3-partition"
VERSION = 1
DEFAULT_BOUND = 40
DEFAULT_MAX_TRIES = 1000


@dataclass(frozen=True)
class ThreePartition:
    """A validated 3-PARTITION instance.

    Attributes
    ----------
    sizes : tuple of int
        ``a_1 .. a_3m`` (index ``i`` holds ``a_{i+1}``).
    bound : int
        ``B``.
    meta : mapping
        Provenance (generator, seed, planted groups); not part of equality.
    """

    sizes: tuple[int, ...]
    bound: int
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if not sizes or len(sizes) % 3:
            raise InputError(f"3-PARTITION needs 3m sizes with m >= 1, got {len(sizes)} sizes")
        for i, a in enumerate(sizes, start=1):
            if isinstance(a, bool) or not isinstance(a, int) or a <= 0:
                raise InputError(f"3-PARTITION size a_{i} must be a positive integer, got {a!r}")
        bound = self.bound
        if isinstance(bound, bool) or not isinstance(bound, int) or bound <= 0:
            raise InputError(f"3-PARTITION bound B must be a positive integer, got {bound!r}")
        m = len(sizes) // 3
        lo, hi = size_range(bound)
        for i, a in enumerate(sizes, start=1):
            if not lo <= a <= hi:
                raise InputError(
                    f"3-PARTITION size a_{i} = {a} must satisfy B/4 < a_i < B/2 with B = {bound}, "
                    f"i.e. {lo} <= a_i <= {hi}"
                )
        if sum(sizes) != m * bound:
            raise InputError(
                f"3-PARTITION sizes must sum to m*B = {m}*{bound} = {m * bound}, got {sum(sizes)}"
            )
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def m(self) -> int:
        """The number of groups."""
        return len(self.sizes) // 3

    def check_partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Raise InputError unless ``groups`` (index triples) is a 3-partition of this instance.

        >>> ThreePartition((5, 6, 7), 18).check_partition([(0, 1)])
        Traceback (most recent call last):
        ...
        prefix_sched.errors.InputError: a 3-partition must use every index 0..2 exactly once, got [0, 1]
        """
        used = sorted(i for group in groups for i in group)
        if used != list(range(len(self.sizes))) or len(groups) != self.m:
            raise InputError(
                f"a 3-partition must use every index 0..{len(self.sizes) - 1} exactly once, got {used}"
            )
        for group in groups:
            total = sum(self.sizes[i] for i in group)
            if len(group) != 3 or total != self.bound:
                raise InputError(
                    f"group {tuple(group)} has sizes {[self.sizes[i] for i in group]} summing to "
                    f"{total}; every group must be 3 sizes summing to B = {self.bound}"
                )

    def to_json(self) -> dict[str, Any]:
        """The file record (format, version, B, sizes, meta)."""
        return {"format": INSTANCE_FORMAT, "version": VERSION, "B": self.bound,
                "sizes": list(self.sizes), "meta": dict(self.meta)}


def size_range(bound: int) -> tuple[int, int]:
    """The integers allowed by ``B/4 < a < B/2``: ``(floor(B/4) + 1, ceil(B/2) - 1)``.

    >>> size_range(40), size_range(18)
    ((11, 19), (5, 8))
    """
    return bound // 4 + 1, (bound - 1) // 2


def from_json(record: object, where: str = "3-PARTITION instance") -> ThreePartition:
    """Read an instance from its JSON record (see the module docstring); FormatError if malformed.

    >>> from_json({"format": "prefix-sched.3-partition", "version": 1, "sizes": [5, 6, 7]}).bound
    18
    """
    if not isinstance(record, dict):
        raise FormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if record.get("format") != INSTANCE_FORMAT:
        raise FormatError(f"{where}: field 'format' must be {INSTANCE_FORMAT!r}, got {brief(record.get('format'))}")
    version = record.get("version")
    if type(version) is not int or version != VERSION:
        raise FormatError(f"{where}: unsupported version {brief(version)} (this reader knows {VERSION})")
    unknown = set(record) - {"format", "version", "B", "sizes", "meta"}
    if unknown:
        raise FormatError(f"{where}: unknown fields {brief(sorted(unknown))}")
    sizes = record.get("sizes")
    if not isinstance(sizes, list):
        raise FormatError(f"{where}: field 'sizes' must be a list of integers, got {brief(sizes)}")
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        raise FormatError(f"{where}: field 'meta' must be an object, got {brief(meta)}")
    try:
        check_nesting(meta, "field 'meta'")
    except FormatError as err:
        raise FormatError(f"{where}: {err}") from None
    bound = record.get("B")
    if bound is None:
        if not sizes or len(sizes) % 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in sizes):
            raise FormatError(f"{where}: cannot derive B: 'sizes' must be 3m integers, got {brief(sizes)}")
        m = len(sizes) // 3
        if sum(sizes) % m:
            raise FormatError(f"{where}: no 'B' given and sum(sizes) = {sum(sizes)} is not divisible by m = {m}")
        bound = sum(sizes) // m
    try:
        return ThreePartition(tuple(sizes), bound, meta)
    except InputError as err:
        raise FormatError(f"{where}: {err}") from err


def read_instance(path: Path | str) -> ThreePartition:
    """Read an instance file; FormatError naming the file when it cannot be read or is invalid.

    The file is read by :func:`~prefix_sched.theory.formats.read_json_document`: invalid UTF-8, a
    binary file, NaN, JSON nested too deeply and the like are one-line FormatErrors naming the
    file and the line; a wrong field names the file, the field and the value.
    """
    record = read_json_document(path)
    return from_json(record, str(path) if str(path).isprintable() else repr(str(path)))


def write_instance(instance: ThreePartition, path: Path | str, *, option: str = "instance file") -> None:
    """Write ``instance`` as a ``prefix-sched.3-partition`` file, atomically
    (:func:`~prefix_sched.theory.outputs.write_text`; ``option`` names it in error messages: a
    command passes its option)."""
    write_text(path, json.dumps(instance.to_json(), sort_keys=True) + "\n", option)


@dataclass(frozen=True)
class PartitionResult:
    """The exact decider's answer.

    Attributes
    ----------
    answer : bool
        Whether a 3-partition exists.
    groups : tuple of index triples, or None
        A 3-partition when ``answer`` is True (checked with ``check_partition``).
    nodes : int
        Search nodes visited (a no is proved by visiting every branch).
    """

    answer: bool
    groups: tuple[tuple[int, int, int], ...] | None
    nodes: int


def decide_partition(instance: ThreePartition) -> PartitionResult:
    """Decide ``instance`` exactly and return a partition if there is one.

    Depth-first search: the largest unplaced size must share a group with two others summing to
    ``B`` minus it; branches are over distinct value pairs, and a multiset of remaining sizes that
    failed once is remembered (equal values are interchangeable), so a no is a complete search.
    Exponential in ``m`` in the worst case (3-PARTITION is strongly NP-hard); fast for the small
    ``m`` the reduction is checked on.
    """
    bound = instance.bound
    failed: set[tuple[int, ...]] = set()
    nodes = 0

    def search(remaining: tuple[int, ...]) -> list[tuple[int, int, int]] | None:
        nonlocal nodes
        nodes += 1
        if not remaining:
            return []
        if remaining in failed:
            return None
        largest, rest = remaining[-1], remaining[:-1]
        tried = set()
        for i in range(len(rest)):
            for j in range(i + 1, len(rest)):
                pair = (rest[i], rest[j])
                if pair[0] + pair[1] != bound - largest or pair in tried:
                    continue
                tried.add(pair)
                found = search(rest[:i] + rest[i + 1:j] + rest[j + 1:])
                if found is not None:
                    return [(pair[0], pair[1], largest)] + found
        failed.add(remaining)
        return None

    triples = search(tuple(sorted(instance.sizes)))
    if triples is None:
        return PartitionResult(False, None, nodes)
    groups = _indices_of(instance.sizes, triples)
    instance.check_partition(groups)
    return PartitionResult(True, groups, nodes)


def _indices_of(sizes: tuple[int, ...], triples: list[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """Turn value triples into index triples, taking equal values' indices in increasing order."""
    free: dict[int, list[int]] = {}
    for index, a in enumerate(sizes):
        free.setdefault(a, []).append(index)
    for indices in free.values():
        indices.reverse()
    groups = [tuple(sorted(free[a].pop() for a in triple)) for triple in triples]
    return tuple(sorted(groups))


def check_bound(bound: int) -> tuple[int, int]:
    """Return :func:`size_range` of ``B``, or raise InputError if no allowed triple sums to ``B``.

    >>> check_bound(8)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: B = 8 admits no triple of sizes with B/4 < a_i < B/2 summing to B
    """
    if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
        raise InputError(f"B must be a positive integer, got {bound!r}")
    lo, hi = size_range(bound)
    if 3 * lo > bound or 3 * hi < bound:
        raise InputError(f"B = {bound} admits no triple of sizes with B/4 < a_i < B/2 summing to B")
    return lo, hi


def _check_generator_args(m: int, bound: int) -> tuple[int, int]:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise InputError(f"m must be an integer >= 1, got {m!r}")
    return check_bound(bound)


def planted_yes(m: int, bound: int = DEFAULT_BOUND, *, seed: int | np.random.Generator = 0) -> ThreePartition:
    """A yes-instance: ``m`` planted triples summing to ``B``, shuffled.

    Each triple draws ``a, b`` uniformly from the allowed sizes and keeps them when ``B - a - b`` is
    allowed too. The planted groups (after the shuffle) are in ``meta["planted"]``.

    >>> inst = planted_yes(3, seed=1)
    >>> inst.check_partition(inst.meta["planted"]); inst.m
    3
    """
    lo, hi = _check_generator_args(m, bound)
    rng = np.random.default_rng(seed)
    values: list[int] = []
    while len(values) < 3 * m:
        a, b = (int(x) for x in rng.integers(lo, hi + 1, size=2))
        if lo <= bound - a - b <= hi:
            values += [a, b, bound - a - b]
    permutation = [int(i) for i in rng.permutation(3 * m)]
    sizes = tuple(values[i] for i in permutation)
    where = {old: new for new, old in enumerate(permutation)}
    planted = sorted(tuple(sorted(where[3 * g + k] for k in range(3))) for g in range(m))
    meta = {"generator": "planted_yes", "planted": [list(g) for g in planted]}
    return ThreePartition(sizes, bound, meta)


def certified_no(
    m: int, bound: int = DEFAULT_BOUND, *, seed: int | np.random.Generator = 0, max_tries: int = DEFAULT_MAX_TRIES
) -> ThreePartition:
    """A no-instance, certified by :func:`decide_partition`.

    Draws ``3m - 1`` sizes uniformly from the allowed range and sets the last to ``mB`` minus their
    sum (redrawing when it falls outside), decides the instance and keeps it if it is a no. The
    number of tries is recorded in ``meta["tries"]``.

    Raises
    ------
    InputError
        For ``m = 1`` (every valid instance is a yes-instance), or when ``max_tries`` draws gave no
        no-instance.

    >>> inst = certified_no(2, seed=0)
    >>> decide_partition(inst).answer
    False
    """
    lo, hi = _check_generator_args(m, bound)
    if m == 1:
        raise InputError("no 3-PARTITION no-instance exists for m = 1: three sizes summing to B are a partition")
    rng = np.random.default_rng(seed)
    for tries in range(1, max_tries + 1):
        head = [int(x) for x in rng.integers(lo, hi + 1, size=3 * m - 1)]
        last = m * bound - sum(head)
        if not lo <= last <= hi:
            continue
        instance = ThreePartition(tuple(head + [last]), bound)
        result = decide_partition(instance)
        if not result.answer:
            meta = {"generator": "certified_no", "tries": tries, "decider_nodes": result.nodes}
            return ThreePartition(instance.sizes, bound, meta)
    raise InputError(f"no no-instance found in {max_tries} tries for m = {m}, B = {bound}; raise max_tries or change B")
