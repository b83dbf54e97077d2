"""The scheduler registry: one row per serving scheduler, one parse point for scheduler names.

A name may carry a parameter after a colon: the SLAI variants take a fixed offset
(``slai-fcfs:10`` is SLAI's ``fcfs_fixed_offset`` configuration); without it SLAI's offset is
memory-triggered (5 mean batch durations, 10 once KV use is >= 96%). ``--order`` takes a policy of
Part 1's registry for the schedulers that let the order of new prefills be chosen
(:mod:`.orders`); the others fix their order and refuse one by name.

======================  =====================================================  ================
name                    rule                                                   new prefills
======================  =====================================================  ================
``sarathi``             Sarathi-Serve stall-free batching                       ``--order``
``sarathi-spf``         Sarathi-Serve with shortest prompt first (SLAI fork)    shortest prompt
``vllm``                vLLM V1: running requests first, chunked prefill        ``--order``
``vllm-v0``             vLLM V0: whole-prompt prefill batches first             ``--order``
``sglang``              SGLang: a prefill batch when one can be formed          ``--order``
``sglang-mixed``        SGLang ``--enable-mixed-chunk``                         ``--order``
``slai``                SLAI: deferred decodes, strict class then shortest      SLAI's own
``slai-sp``             SLAI without user priority                              shortest prompt
``slai-fcfs``           SLAI with FCFS admission                                FCFS
======================  =====================================================  ================

Examples
--------
>>> parse_scheduler("slai").label, parse_scheduler("slai-fcfs:10").label
('slai', 'slai-fcfs(offset=10)')
>>> parse_scheduler("sarathi", "spf").label
'sarathi(order=spf)'
>>> parse_scheduler("slai", "fcfs")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.InputError: --order: scheduler 'slai' orders new prefills itself (strict class first, ...
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
from prefix_sched.solvers.online.policies import PolicyName, PolicySpec, parse_policy
from prefix_sched.solvers.serving.orders import (
    STRICT_SHORTEST,
    FcfsQueue,
    HrrnQueue,
    KeyedQueue,
    RandomQueue,
    check_order,
)
from prefix_sched.theory.numbers import Exact, brief, exact_number, to_json


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


@dataclass(frozen=True)
class SchedulerRow:
    """One scheduler: the module and class that implement it, its options, the order of new
    prefills when fixed (None: ``--order``, FCFS by default), whether it takes a fixed offset,
    and a one-line rule."""

    module: str
    cls: str
    options: tuple[tuple[str, Any], ...]
    fixed_order: str | None
    takes_offset: bool
    rule: str


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
}
"""The registry: every list of schedulers (CLI, tests, benchmarks, docs) comes from this table."""

ORDER_TEXT = {STRICT_SHORTEST: "strict class first, then shortest prompt",
              PolicyName.SHORTEST_PROMPT.value: "shortest prompt first", PolicyName.FCFS.value: "FCFS"}


@dataclass(frozen=True)
class SchedulerSpec:
    """A fully specified scheduler: its name, the order of new prefills, SLAI's fixed offset."""

    name: SchedulerName
    order: str
    order_spec: PolicySpec | None = None
    offset: Exact | None = None

    @property
    def row(self) -> SchedulerRow:
        return SCHEDULERS[self.name]

    @property
    def label(self) -> str:
        extra = []
        if self.offset is not None:
            extra.append(f"offset={to_json(self.offset)}")
        if self.row.fixed_order is None and self.order != PolicyName.FCFS.value:
            extra.append(f"order={self.order}")
        return self.name.value + (f"({','.join(extra)})" if extra else "")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scheduler_name": self.name.value, "order": self.order}
        if self.row.takes_offset:
            out["offset"] = "memory-triggered 5/10 at 96% KV" if self.offset is None else to_json(self.offset)
        return out


def parse_scheduler(name: Any, order: Any = None) -> SchedulerSpec:
    """Return the spec for ``name`` (``"slai"``, ``"slai-fcfs:10"``, a SchedulerSpec) and ``order``.

    Raises
    ------
    InputError
        An unknown name (listing the valid ones), a bad offset, an order the scheduler refuses
        (naming both).
    """
    if isinstance(name, SchedulerSpec):
        if order is None:
            return name
        name = name.name.value + ("" if name.offset is None else f":{to_json(name.offset)}")
    if not isinstance(name, str):
        raise InputError(f"a scheduler must be a name such as 'slai', got {brief(name)}")
    base, colon, text = name.partition(":")
    try:
        key = SchedulerName(base)
    except ValueError:
        names = ", ".join(s.value for s in SchedulerName)
        raise InputError(f"unknown scheduler {name!r}; schedulers: {names}") from None
    row = SCHEDULERS[key]
    offset = None
    if colon:
        if not row.takes_offset:
            raise InputError(f"scheduler {name!r}: {base!r} takes no parameter")
        try:
            offset = exact_number(text, f"the offset of {name!r}")
        except InputError as err:
            raise InputError(f"scheduler {name!r}: {err}") from None
        if offset < 0:
            raise InputError(f"scheduler {name!r}: the offset must be >= 0, got {text!r}")
    order_spec = None
    if order is not None:
        text_order = order.label if isinstance(order, PolicySpec) else order
        if row.fixed_order is not None:
            takes = [s.value for s, r in SCHEDULERS.items() if r.fixed_order is None]
            raise InputError(f"--order: scheduler {base!r} orders new prefills itself ({ORDER_TEXT[row.fixed_order]}), "
                             f"got {text_order!r}; schedulers that take --order: {', '.join(takes)}")
        try:
            order_spec = check_order(order if isinstance(order, PolicySpec) else parse_policy(order))
        except PrefixSchedError as err:
            raise InputError(f"--order: {err}") from None
        order_name = order_spec.name.value
    else:
        order_name = row.fixed_order or PolicyName.FCFS.value
    return SchedulerSpec(key, order_name, order_spec, offset)


def make_queue(order: str, engine: Any):
    """The waiting queue for ``order`` over ``engine``'s requests (:mod:`.orders`)."""
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
    engine.queue = make_queue(spec.order, engine)
    cls = getattr(importlib.import_module(f"prefix_sched.solvers.serving.{row.module}"), row.cls)
    options = dict(row.options)
    if row.takes_offset:
        options["offset"] = spec.offset
    return cls(engine, **options)
