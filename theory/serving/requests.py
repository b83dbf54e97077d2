"""Requests of the serving model, objective classes, and a workload (the requests of one run).

A request ``r`` has an id, an arrival ``a_r`` in microseconds (exact), a prompt of ``|p_r| >= 1``
tokens (as segments, when the trace has them, or just a length), an output length ``o_r >= 1``
(the tokens it generates; the first one comes out of its prefill) and optionally an objective
class with its time-between-tokens objective ``TBT_r`` (../shared/MODEL_SERVING.md, "Requests").

Objective classes are written ``NAME=SHARE:TBT`` separated by commas, the shares adding up to 1
exactly and every TBT with its unit (``us``, ``ms`` or ``s``): the seed's experiments are
``strict=0.05:100ms,relaxed=0.95:500ms`` (5% "paying" requests at 100 ms, 95% "free" at 500 ms).
Each request gets its class by one seeded uniform draw (:func:`assign_classes`), as the seed's
benchmark does (``rng.random() < share``, numpy's generator). The *strict* class is the one with the
smallest TBT objective (SLAI's user priority).

A :class:`Workload` is validated once: ids unique (``str`` or ``int``), arrivals exact and ``>= 0``,
lengths positive integers. Requests keep the order given; :attr:`Workload.arrival_order` sorts them
by arrival, ties by that order, which is the "arrival order" of every scheduler.

Examples
--------
>>> classes = parse_classes("strict=0.05:100ms,relaxed=0.95:500ms")
>>> [(c.name, c.share, c.tbt_us) for c in classes]
[('strict', Fraction(1, 20), 100000), ('relaxed', Fraction(19, 20), 500000)]
>>> strict_classes(classes)
('strict',)
>>> parse_classes("a=0.5:1ms,b=0.4:2ms")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: classes 'a=0.5:1ms,b=0.4:2ms': the shares add up to 9/10, not 1
>>> w = Workload.from_lengths([3, 1], [2, 1], [0, 5])
>>> w.n, w.total_output_tokens, w.arrival_order
(2, 3, (0, 1))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief, normalize, to_json
from prefix_sched.theory.parameters import read_number
from prefix_sched.theory.prompt import Prompt, prompt_length

UNITS_US = {"us": 1, "ms": 1000, "s": 1_000_000}
MAX_DURATION_US = 10 ** 15
"""The longest duration read (31 years): objectives are compared in integer ticks held in int64."""
_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")
_DURATION = re.compile(r"\s*(.+?)\s*(us|ms|s)\s*\Z")


@dataclass(frozen=True, slots=True)
class Request:
    """One request; times in microseconds (exact)."""

    rid: int | str
    arrival_us: Exact
    prompt_tokens: int
    output_tokens: int
    prompt: Prompt | None = None
    cls: str | None = None
    tbt_slo_us: Exact | None = None


@dataclass(frozen=True)
class ObjectiveClass:
    """A class of requests: its name, its share of requests and its TBT objective (microseconds)."""

    name: str
    share: Fraction
    tbt_us: Exact

    @property
    def spec(self) -> str:
        return f"{self.name}={_share_text(self.share)}:{_us_text(self.tbt_us)}"


def parse_duration_us(text: str, what: str = "duration") -> Exact:
    """Read a duration with its unit (``100ms``, ``0.5s``, ``250us``) as exact microseconds > 0.

    >>> parse_duration_us("0.5s"), parse_duration_us("2.5ms"), parse_duration_us("7us")
    (500000, 2500, 7)
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(f"{what} must be a number with a unit (us, ms or s), like 100ms, got {brief(text)}")
    value = read_number(match.group(1), what)
    if value <= 0:
        raise InputError(f"{what} must be > 0, got {brief(text)}")
    value = normalize(value * UNITS_US[match.group(2)])
    if value > MAX_DURATION_US:
        raise InputError(f"{what} must be at most {MAX_DURATION_US} us (31 years), got {brief(text)}")
    return value


def parse_classes(text: str) -> tuple[ObjectiveClass, ...]:
    """Read ``NAME=SHARE:TBT,...`` (see the module docstring).

    Raises
    ------
    InputError
        Naming the text: a part that is not ``NAME=SHARE:TBT``, a name given twice, a share
        outside ``(0, 1]``, a TBT without a unit or not > 0, shares not adding up to 1.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"classes must be NAME=SHARE:TBT,..., got {brief(text)}")
    classes = []
    for part in (piece.strip() for piece in text.split(",")):
        name, equals, rest = part.partition("=")
        share_text, colon, tbt_text = rest.partition(":")
        name = name.strip()
        if not equals or not colon or not _NAME.match(name):
            raise InputError(f"classes {text!r}: {part!r} is not NAME=SHARE:TBT (like strict=0.05:100ms)")
        if any(c.name == name for c in classes):
            raise InputError(f"classes {text!r}: class {name!r} is given twice")
        try:
            share = read_number(share_text.strip(), f"the share of {name!r}")
            tbt = parse_duration_us(tbt_text, f"the TBT objective of {name!r}")
        except InputError as err:
            raise InputError(f"classes {text!r}: {err}") from None
        if not 0 < share <= 1:
            raise InputError(f"classes {text!r}: the share of {name!r} must lie in (0, 1], got {share_text.strip()!r}")
        classes.append(ObjectiveClass(name, Fraction(share), tbt))
    total = sum(c.share for c in classes)
    if total != 1:
        raise InputError(f"classes {text!r}: the shares add up to {total}, not 1")
    return tuple(classes)


def strict_classes(classes: Sequence[ObjectiveClass]) -> tuple[str, ...]:
    """The names of the classes with the smallest TBT objective (SLAI's strict users)."""
    if not classes:
        return ()
    least = min(c.tbt_us for c in classes)
    return tuple(c.name for c in classes if c.tbt_us == least)


def assign_classes(n: int, classes: Sequence[ObjectiveClass], rng: np.random.Generator) -> np.ndarray:
    """Draw each of ``n`` requests' class: one ``rng.random()`` each, compared with the cumulative
    shares (as floats) in the order the classes are given. Returns class indices (int64).

    >>> cls = parse_classes("strict=0.05:100ms,relaxed=0.95:500ms")
    >>> idx = assign_classes(20000, cls, np.random.default_rng(0))
    >>> bool(0.04 < (idx == 0).mean() < 0.06)
    True
    """
    if not classes:
        return np.full(n, -1, dtype=np.int64)
    bounds = np.cumsum([float(c.share) for c in classes])
    bounds[-1] = np.inf  # a draw always lands in some class
    return np.searchsorted(bounds, rng.random(n), side="right").astype(np.int64)


@dataclass(frozen=True)
class Workload:
    """The requests of one run, validated; see the module docstring.

    Attributes
    ----------
    requests : tuple of Request
        In the order given.
    classes : tuple of ObjectiveClass
        The objective classes the requests were drawn from (empty: no objectives).
    meta : mapping
        Provenance: trace, format, arrival process, rate, seed, limit (not part of equality).
    arrival_order : tuple of int
        Request indices sorted by ``(arrival, index)``.
    """

    requests: tuple[Request, ...]
    classes: tuple[ObjectiveClass, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    arrival_order: tuple[int, ...] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        requests = tuple(self.requests)
        if not requests:
            raise InputError("a workload needs at least one request, got none")
        names = {c.name: c for c in self.classes}
        seen: dict[int | str, int] = {}
        for i, r in enumerate(requests):
            _check_request(r, names)
            if r.rid in seen:
                raise InputError(f"duplicate request id {r.rid!r} (requests {seen[r.rid]} and {i})")
            seen[r.rid] = i
        order = sorted(range(len(requests)), key=lambda i: requests[i].arrival_us)
        object.__setattr__(self, "requests", requests)
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "arrival_order", tuple(order))

    @classmethod
    def from_lengths(cls, prompt_tokens: Sequence[int], output_tokens: Sequence[int], arrivals_us: Sequence[Exact],
                     *, ids: Sequence[int | str] | None = None, classes: Sequence[ObjectiveClass] = (),
                     class_index: Sequence[int] | None = None, prompts: Sequence[Prompt | None] | None = None,
                     meta: Mapping[str, Any] | None = None) -> Workload:
        """Build a workload from per-request columns (``class_index[i] = -1``: no class)."""
        n = len(prompt_tokens)
        if len(output_tokens) != n or len(arrivals_us) != n:
            raise InputError(f"prompt lengths, output lengths and arrivals must have one entry per request, got "
                             f"{n}, {len(output_tokens)} and {len(arrivals_us)}")
        classes = tuple(classes)
        requests = []
        for i in range(n):
            k = -1 if class_index is None else int(class_index[i])
            c = classes[k] if k >= 0 else None
            requests.append(Request(
                i if ids is None else ids[i], arrivals_us[i], int(prompt_tokens[i]), int(output_tokens[i]),
                None if prompts is None else prompts[i], None if c is None else c.name,
                None if c is None else c.tbt_us))
        return cls(tuple(requests), classes, {} if meta is None else meta)

    @property
    def n(self) -> int:
        return len(self.requests)

    def __len__(self) -> int:
        return len(self.requests)

    @property
    def total_output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests)

    @property
    def total_prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.requests)

    def settings(self) -> dict[str, Any]:
        """The workload's provenance and classes, for result headers."""
        out = dict(self.meta)
        out["requests"] = self.n
        out["classes"] = [c.spec for c in self.classes]
        return out


def _check_request(r: Request, classes: Mapping[str, ObjectiveClass]) -> None:
    if not isinstance(r, Request):
        raise InputError(f"a workload holds Requests, got {brief(r)}")
    if type(r.rid) is not str and type(r.rid) is not int:
        raise InputError(f"a request id must be a string or an integer, got {brief(r.rid)}")
    name = f"request {r.rid!r}"
    if isinstance(r.arrival_us, bool) or not isinstance(r.arrival_us, (int, Fraction)) or r.arrival_us < 0:
        raise InputError(f"{name}: the arrival must be an exact number of microseconds >= 0, got {brief(r.arrival_us)}")
    if type(r.prompt_tokens) is not int or r.prompt_tokens < 1:
        raise InputError(f"{name}: the prompt must have at least one token, got {brief(r.prompt_tokens)}")
    if type(r.output_tokens) is not int or r.output_tokens < 1:
        raise InputError(f"{name}: the output length must be an integer >= 1 (the first token comes out of the "
                         f"prefill), got {brief(r.output_tokens)}")
    if r.prompt is not None and prompt_length(r.prompt) != r.prompt_tokens:
        raise InputError(f"{name}: its segments hold {prompt_length(r.prompt)} tokens, not {r.prompt_tokens}")
    if r.cls is not None:
        if r.cls not in classes:
            raise InputError(f"{name}: unknown class {r.cls!r}")
        if r.tbt_slo_us != classes[r.cls].tbt_us:
            raise InputError(f"{name}: its TBT objective {r.tbt_slo_us} is not its class's {classes[r.cls].tbt_us}")
    elif r.tbt_slo_us is not None:
        raise InputError(f"{name}: a TBT objective needs a class")


def _share_text(share: Fraction) -> str:
    value = to_json(share)
    return str(value)


def _us_text(us: Exact) -> str:
    value = Fraction(us)
    for unit, scale in (("s", 1_000_000), ("ms", 1000)):
        if (value / scale).denominator == 1:
            return f"{int(value / scale)}{unit}"
    return f"{to_json(value)}us"
