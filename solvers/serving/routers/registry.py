"""The router registry: one row per router, one parse point for router names and their parameters.

A router sends each request of a cluster, at its arrival, to one engine
(:mod:`~prefix_sched.solvers.serving.engine` says exactly what state of each engine it sees). The
rule of each is in its module; ties between engines always go to the lowest engine index.

=======================  ================================================================
name                     rule
=======================  ================================================================
``round-robin``          the ``k``-th request (arrival order) to engine ``k mod G``
``random``               one uniform draw of the router's seeded generator per request
``least-outstanding``    the engine with the fewest unfinished requests
``least-work``           the engine with the fewest outstanding prompt-plus-output tokens
``prefix-aware``         SGLang's router (sgl-router, ``cache_aware``): the engine whose
                         routed text shares the longest prefix with the request, unless the
                         loads are out of balance (then the least loaded)
=======================  ================================================================

``prefix-aware`` takes its thresholds as parameters, ``prefix-aware:cache=0.3,abs=64,rel=1.5,
interval=120s,max-tree=67108864`` (any subset; these are SGLang's launcher defaults).

Examples
--------
>>> parse_router("least-work").label, parse_router("prefix-aware:abs=8").label
('least-work', 'prefix-aware(cache=3/10,abs=8,rel=3/2,interval=120s,max-tree=67108864)')
>>> parse_router("nearest")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.InputError: unknown router 'nearest'; routers: round-robin, random, least-outstanding, ...
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import Any

from prefix_sched.theory.numbers import brief, to_json
from prefix_sched.theory.parameters import read_number
from prefix_sched.theory.serving.requests import parse_duration_us

from prefix_sched.errors import InputError


class RouterName(str, Enum):
    """Registered routers; the values are the names the CLI accepts."""

    ROUND_ROBIN = "round-robin"
    RANDOM = "random"
    LEAST_OUTSTANDING = "least-outstanding"
    LEAST_WORK = "least-work"
    PREFIX_AWARE = "prefix-aware"


@dataclass(frozen=True)
class RouterRow:
    """One router: its module and class, its parameters with their defaults (None: takes none),
    and a one-line rule."""

    module: str
    cls: str
    parameters: tuple[tuple[str, Any], ...] | None
    rule: str


PREFIX_AWARE_DEFAULTS = (("cache", Fraction(3, 10)), ("abs", 64), ("rel", Fraction(3, 2)), ("interval", 120_000_000),
                         ("max-tree", 2 ** 26))
"""SGLang's launcher defaults (sgl-router ``py_src/sglang_router/router_args.py``): cache_threshold 0.3,
balance_abs_threshold 64, balance_rel_threshold 1.5, eviction_interval_secs 120 (here in
microseconds), max_tree_size 2^26 (here in tokens)."""

ROUTERS: dict[RouterName, RouterRow] = {
    RouterName.ROUND_ROBIN: RouterRow("round_robin", "RoundRobin", None, "the k-th request to engine k mod G"),
    RouterName.RANDOM: RouterRow("random", "Random", None, "a uniformly drawn engine (seeded)"),
    RouterName.LEAST_OUTSTANDING: RouterRow("least_outstanding", "LeastOutstanding", None,
                                            "the engine with the fewest unfinished requests"),
    RouterName.LEAST_WORK: RouterRow("least_work", "LeastWork", None,
                                     "the engine with the fewest outstanding prompt + output tokens"),
    RouterName.PREFIX_AWARE: RouterRow("prefix_aware", "PrefixAware", PREFIX_AWARE_DEFAULTS,
                                       "SGLang's cache-aware router: longest routed prefix unless imbalanced"),
}
"""The registry: every list of routers (CLI, tests, benchmarks, docs) comes from this table."""


@dataclass(frozen=True)
class RouterSpec:
    """A fully specified router: its name and its parameters (all of them, defaults filled in)."""

    name: RouterName
    params: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def row(self) -> RouterRow:
        return ROUTERS[self.name]

    def param(self, key: str) -> Any:
        return dict(self.params)[key]

    @property
    def label(self) -> str:
        if not self.params:
            return self.name.value
        return f"{self.name.value}({','.join(f'{k}={_text(k, v)}' for k, v in self.params)})"

    @property
    def text(self) -> str:
        """The spec as ``--router`` text (reads back to an equal spec)."""
        if not self.params:
            return self.name.value
        return f"{self.name.value}:{','.join(f'{k}={_text(k, v)}' for k, v in self.params)}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"router_name": self.name.value}
        out.update({f"router_{k.replace('-', '_')}": to_json(v) if isinstance(v, Fraction) else v
                    for k, v in self.params})
        return out


def parse_router(name: Any) -> RouterSpec:
    """Return the spec for ``name`` (``"least-work"``, ``"prefix-aware:abs=8"``, a RouterSpec).

    Raises
    ------
    InputError
        An unknown name (listing the valid ones), a parameter for a router that takes none, an
        unknown or repeated parameter, a value out of range (naming the text).
    """
    if isinstance(name, RouterSpec):
        return name
    if not isinstance(name, str):
        raise InputError(f"a router must be a name such as 'least-work', got {brief(name)}")
    base, colon, text = name.partition(":")
    try:
        key = RouterName(base)
    except ValueError:
        raise InputError(f"unknown router {name!r}; routers: {', '.join(r.value for r in RouterName)}") from None
    row = ROUTERS[key]
    if row.parameters is None:
        if colon:
            raise InputError(f"router {name!r}: {base!r} takes no parameter")
        return RouterSpec(key)
    values = dict(row.parameters)
    given: set[str] = set()
    for part in (p.strip() for p in text.split(",")) if colon else ():
        k, equals, v = (piece.strip() for piece in part.partition("="))
        if not equals or k not in values:
            raise InputError(f"router {name!r}: {part!r} is not k=v with k one of {', '.join(values)}")
        if k in given:
            raise InputError(f"router {name!r}: {k} is given twice")
        given.add(k)
        values[k] = _value(name, k, v)
    return RouterSpec(key, tuple(values.items()))


def _value(name: str, key: str, text: str) -> Any:
    try:
        if key == "interval":
            return 0 if text in ("0", "never") else parse_duration_us(text, "interval")
        number = read_number(text, key)
    except InputError as err:
        raise InputError(f"router {name!r}: {err}") from None
    if key == "cache" and not 0 <= number <= 1:
        raise InputError(f"router {name!r}: cache must lie in [0, 1], got {text!r}")
    if key == "abs" and (not isinstance(number, int) or number < 0):
        raise InputError(f"router {name!r}: abs must be an integer >= 0, got {text!r}")
    if key == "rel" and number < 1:
        raise InputError(f"router {name!r}: rel must be >= 1, got {text!r}")
    if key == "max-tree" and (not isinstance(number, int) or number < 0):
        raise InputError(f"router {name!r}: max-tree must be an integer >= 0 (tokens), got {text!r}")
    return Fraction(number) if key in ("cache", "rel") else number


def _text(key: str, value: Any) -> str:
    if key == "interval":
        if value == 0:
            return "never"
        value = Fraction(value)
        for unit, scale in (("s", 1_000_000), ("ms", 1000)):
            if (value / scale).denominator == 1:
                return f"{int(value / scale)}{unit}"
        return f"{to_json(value)}us"
    return str(to_json(value)) if isinstance(value, Fraction) else str(value)


def build_router(spec: RouterSpec, table: Any, engines: list[Any], rng: Any):
    """Make ``spec``'s router over the engines of a run (``table``: their shared request table)."""
    row = spec.row
    cls = getattr(importlib.import_module(f"prefix_sched.solvers.serving.routers.{row.module}"), row.cls)
    return cls(spec, table, engines, rng)
