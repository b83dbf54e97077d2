"""The scheduler registry: one row per serving scheduler, one parse point for scheduler names.

A name may carry a parameter after a colon: the SLAI variants take a fixed offset
(``slai-fcfs:10`` is SLAI's ``fcfs_fixed_offset`` configuration); without it SLAI's offset is
memory-triggered (5 mean batch durations, 10 once KV use is >= 96%). ``order`` takes a policy of
Part 1's registry for the schedulers that let the order of new prefills be chosen
(:mod:`.orders`); the others fix their order and refuse one by name.

======================  =====================================================  ================
name                    rule                                                   new prefills
======================  =====================================================  ================
``sarathi``             Sarathi-Serve stall-free batching                       ``order``
``sarathi-spf``         Sarathi-Serve with shortest prompt first (SLAI fork)    shortest prompt
``vllm``                vLLM V1: running requests first, chunked prefill        ``order``
``vllm-v0``             vLLM V0: whole-prompt prefill batches first             ``order``
``sglang``              SGLang: a prefill batch when one can be formed          ``order``
``sglang-mixed``        SGLang ``--enable-mixed-chunk``                         ``order``
``slai``                SLAI: deferred decodes, strict class then shortest      SLAI's own
``slai-sp``             SLAI without user priority                              shortest prompt
``slai-fcfs``           SLAI with FCFS admission                                FCFS
``rad``                 RAD (a reconstruction): n* tokens a batch, split by     ``order``
                        backlog; routed by least work
``rad-fixed:F``         RAD with a fixed decode share F (no spill)              ``order``
======================  =====================================================  ================

``rad`` and ``rad-fixed`` are reconstructions of the seed's RAD (../shared/MODEL_SERVING.md, "rad
(reading)"): their row's ``note`` says so, and every output naming them carries it.

Examples
--------
>>> parse_scheduler("slai").label, parse_scheduler("slai-fcfs:10").label
('slai', 'slai-fcfs(offset=10)')
>>> parse_scheduler("sarathi", "spf").label
'sarathi(order=spf)'
>>> parse_scheduler("slai", "fcfs")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.InputError: order: scheduler 'slai' orders new prefills itself (strict class first, ...
>>> parse_scheduler("orca")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.InputError: unknown scheduler 'orca'; schedulers: sarathi, sarathi-spf, vllm, ...
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from prefix_sched.errors import InputError, PrefixSchedError
from fractions import Fraction

from prefix_sched.solvers.online.policies import PolicyName, PolicySpec, parse_policy
from prefix_sched.solvers.serving.orders import (
    CACHE_ORDERS,
    STRICT_SHORTEST,
    PolicyQueue,
    FcfsQueue,
    HrrnQueue,
    KeyedQueue,
    RandomQueue,
    check_order,
)
from prefix_sched.theory.numbers import Exact, brief, to_json
from prefix_sched.theory.parameters import read_number


RAD_NOTE = ("a reconstruction (../shared/MODEL_SERVING.md, 'rad (reading)'): the seed's RAD could not be read; "
            "n* = argmax n/tau(n) tokens a batch, the decode/prefill split following the backlog")
RAD_FIXED_NOTE = ("a reconstruction (../shared/MODEL_SERVING.md, 'rad (reading)') with a fixed decode share, no "
                  "spill between decode and prefill")


class SchedulerName(str, Enum):
    """Registered schedulers; the values are the names the CLI accepts."""

    SARATHI = "sarathi"
    SARATHI_SPF = "sarathi-spf"
    VLLM = "vllm"
    VLLM_V0 = "vllm-v0"
    SGLANG = "sglang"
    SGLANG_MIXED = "sglang-mixed"
    SLAI = "slai"
    SLAI_SP = "slai-sp"
    SLAI_FCFS = "slai-fcfs"
    RAD = "rad"
    RAD_FIXED = "rad-fixed"


@dataclass(frozen=True)
class SchedulerRow:
    """One scheduler: the module and class that implement it, its options, the order of new
    prefills when fixed (None: ``order``, FCFS by default), whether it takes a fixed offset,
    a one-line rule, its router across many engines when none is named, and a note that every
    output naming it carries (a reconstruction says so)."""

    module: str
    cls: str
    options: tuple[tuple[str, Any], ...]
    fixed_order: str | None
    takes_offset: bool
    rule: str
    router: str = "round-robin"
    note: str | None = None
    takes_share: bool = False


SCHEDULERS: dict[SchedulerName, SchedulerRow] = {
    SchedulerName.SARATHI: SchedulerRow("sarathi", "Sarathi", (), None, False,
                                        "every running decode, running prefills, then new prefills"),
    SchedulerName.SARATHI_SPF: SchedulerRow("sarathi", "Sarathi", (), PolicyName.SHORTEST_PROMPT.value, False,
                                            "sarathi with new prefills shortest prompt first"),
    SchedulerName.VLLM: SchedulerRow("vllm", "VllmV1", (), None, False,
                                     "running requests in admission order within the budget, then new prefills"),
    SchedulerName.VLLM_V0: SchedulerRow("vllm_v0", "VllmV0", (), None, False,
                                        "a batch of whole prompts when one can be formed, else decodes"),
    SchedulerName.SGLANG: SchedulerRow("sglang", "SGLang", (("mixed", False),), None, False,
                                       "a prefill batch when one can be formed, else a decode batch"),
    SchedulerName.SGLANG_MIXED: SchedulerRow("sglang", "SGLang", (("mixed", True),), None, False,
                                             "every running decode with the prefill batch"),
    SchedulerName.SLAI: SchedulerRow("slai", "Slai", (), STRICT_SHORTEST, True,
                                     "critical decodes, started prefills, new prefills, other decodes"),
    SchedulerName.SLAI_SP: SchedulerRow("slai", "Slai", (), PolicyName.SHORTEST_PROMPT.value, True,
                                        "slai without the strict class first"),
    SchedulerName.SLAI_FCFS: SchedulerRow("slai", "Slai", (), PolicyName.FCFS.value, True,
                                          "slai with FCFS admission"),
    SchedulerName.RAD: SchedulerRow("rad", "Rad", (), None, False,
                                    "n* = argmax n/tau(n) tokens a batch, decode/prefill split by backlog",
                                    router="least-work", note=RAD_NOTE),
    SchedulerName.RAD_FIXED: SchedulerRow("rad", "Rad", (), None, False,
                                          "rad with a fixed decode share F of n*, no spill", router="least-work",
                                          note=RAD_FIXED_NOTE, takes_share=True),
}
"""The registry: every list of schedulers (CLI, tests, benchmarks, docs) comes from this table."""

MAX_ENGINES = 65536
"""The most engines a run may have (each holds its own queue, memory and scheduler state)."""

SCHEDULER_FORMS = tuple(name.value + (":1/4" if row.takes_share else "") for name, row in SCHEDULERS.items())
"""One runnable form of every scheduler (a parameter where one is needed: ``rad-fixed:1/4``)."""

ORDER_TEXT = {STRICT_SHORTEST: "strict class first, then shortest prompt",
              PolicyName.SHORTEST_PROMPT.value: "shortest prompt first", PolicyName.FCFS.value: "FCFS"}


@dataclass(frozen=True)
class SchedulerSpec:
    """A fully specified scheduler: its name, the order of new prefills, SLAI's fixed offset."""

    name: SchedulerName
    order: str
    order_spec: PolicySpec | None = None
    offset: Exact | None = None
    share: Fraction | None = None

    @property
    def row(self) -> SchedulerRow:
        return SCHEDULERS[self.name]

    @property
    def label(self) -> str:
        extra = []
        if self.offset is not None:
            extra.append(f"offset={to_json(self.offset)}")
        if self.share is not None:
            extra.append(f"share={to_json(self.share)}")
        if self.row.fixed_order is None and self.order != PolicyName.FCFS.value:
            extra.append(f"order={self.order}")
        return self.name.value + (f"({','.join(extra)})" if extra else "")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scheduler_name": self.name.value, "order": self.order}
        if self.row.note is not None:
            out["scheduler_note"] = self.row.note
        if self.row.takes_offset:
            out["offset"] = "memory-triggered 5/10 at 96% KV" if self.offset is None else to_json(self.offset)
        if self.row.takes_share:
            out["decode_share"] = to_json(self.share)
        return out


def parse_scheduler(name: Any, order: Any = None, cache: str | None = "none") -> SchedulerSpec:
    """Return the spec for ``name`` (``"slai"``, ``"slai-fcfs:10"``, a SchedulerSpec) and ``order``
    under the prefix cache ``cache`` (None: the order is checked against the cache later, by
    :func:`~.orders.check_order`).

    Raises
    ------
    InputError
        An unknown name (listing the valid ones), a bad offset, an order the scheduler refuses
        (naming both).
    """
    if isinstance(name, SchedulerSpec):
        if order is None:
            return name
        parameter = name.offset if name.offset is not None else name.share
        name = name.name.value + ("" if parameter is None else f":{to_json(parameter)}")
    if not isinstance(name, str):
        raise InputError(f"a scheduler must be a name such as 'slai', got {brief(name)}")
    base, colon, text = name.partition(":")
    try:
        key = SchedulerName(base)
    except ValueError:
        names = ", ".join(s.value for s in SchedulerName)
        raise InputError(f"unknown scheduler {name!r}; schedulers: {names}") from None
    row = SCHEDULERS[key]
    offset = share = None
    if colon and row.takes_share:
        try:
            share = Fraction(read_number(text, "the decode share"))
        except InputError as err:
            raise InputError(f"scheduler {name!r}: {err}") from None
        if not 0 <= share <= 1:
            raise InputError(f"scheduler {name!r}: the decode share must lie in [0, 1], got {text!r}")
    elif row.takes_share:
        raise InputError(f"scheduler {name!r} needs its decode share F in [0, 1]: {base}:F (like {base}:0.25)")
    elif colon:
        if not row.takes_offset:
            raise InputError(f"scheduler {name!r}: {base!r} takes no parameter")
        try:
            offset = read_number(text, "the offset")
        except InputError as err:
            raise InputError(f"scheduler {name!r}: {err}") from None
        if offset < 0:
            raise InputError(f"scheduler {name!r}: the offset must be >= 0, got {text!r}")
    order_spec = None
    if order is not None:
        text_order = order.label if isinstance(order, PolicySpec) else order
        if row.fixed_order is not None:
            takes = [s.value for s, r in SCHEDULERS.items() if r.fixed_order is None]
            raise InputError(f"order: scheduler {base!r} orders new prefills itself ({ORDER_TEXT[row.fixed_order]}), "
                             f"got {text_order!r}; schedulers that take an order: {', '.join(takes)}")
        try:
            order_spec = check_order(order if isinstance(order, PolicySpec) else parse_policy(order), cache)
        except PrefixSchedError as err:
            raise InputError(f"order: {err}") from None
        order_name = order_spec.name.value
    else:
        order_name = row.fixed_order or PolicyName.FCFS.value
    return SchedulerSpec(key, order_name, order_spec, offset, share)


def make_queue(order: str, engine: Any, order_spec: PolicySpec | None = None):
    """The waiting queue for ``order`` over ``engine``'s requests (:mod:`.orders`): under a prefix
    cache, Part 1's queue for the orders that read it."""
    if engine.cache is not None and order in {p.value for p in CACHE_ORDERS}:
        return PolicyQueue(order_spec if order_spec is not None else parse_policy(order), engine)
    target = engine.prefill_target
    if order == PolicyName.FCFS.value:
        return FcfsQueue()
    if order in (PolicyName.SHORTEST_PROMPT.value, PolicyName.SPF.value):
        return KeyedQueue(lambda r: (target(r),))
    if order == STRICT_SHORTEST:
        strict = engine.strict
        return KeyedQueue(lambda r: (0 if strict[r] else 1, target(r)))
    if order == PolicyName.LOF.value:
        out = engine.out
        return KeyedQueue(lambda r: (-int(out[r]),))
    if order == PolicyName.HRRN.value:
        return HrrnQueue(engine.arrival_list, target)
    if order == PolicyName.RANDOM.value:
        return RandomQueue(engine.rng)
    raise InputError(f"unknown order {order!r}")


def build_scheduler(spec: SchedulerSpec, engine: Any):
    """Make ``spec``'s scheduler over ``engine`` (and the engine's waiting queue)."""
    row = spec.row
    engine.queue = make_queue(spec.order, engine, spec.order_spec)
    cls = getattr(importlib.import_module(f"prefix_sched.solvers.serving.{row.module}"), row.cls)
    options = dict(row.options)
    if row.takes_offset:
        options["offset"] = spec.offset
    if row.takes_share:
        options["share"] = spec.share
    return cls(engine, **options)
