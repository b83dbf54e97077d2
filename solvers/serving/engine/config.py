"""An engine's settings: the token budget, ``max_num_seqs``, KV memory and its block size, the
iteration cost and the prefix cache (:class:`EngineConfig`), their defaults and the prefix caches'
rules (:data:`PREFIX_CACHES`). Every engine of a run has the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.serving.costs import DEFAULT_PRESET, PRESETS, IterationCost

DEFAULT_BUDGET = 512
DEFAULT_MAX_SEQS = 128
DEFAULT_BLOCK = 16
PREFIX_CACHES = {
    "none": "no prefix cache: every prompt is computed whole",
    "lru": "SGLang's radix cache in the KV pool: running requests lock their matched path, free memory is taken "
           "from unlocked LRU leaves (whole nodes, oldest first), each prefill chunk enters the tree, finished "
           "prompts stay cached until evicted",
    "unbounded": "the same tree that never evicts, whose unlocked tokens do not count against KV memory (the "
                 "locked ones, in use by running requests, do): an upper reference for lru",
}
"""The engine's prefix caches (``--prefix-cache``) and their rules (:mod:`.prefix_cache`)."""


@dataclass(frozen=True)
class EngineConfig:
    """The engine's settings: token budget ``B``, ``max_num_seqs``, KV memory in tokens (None:
    unbounded) and its block size, the iteration cost."""

    budget: int = DEFAULT_BUDGET
    max_seqs: int = DEFAULT_MAX_SEQS
    kv_tokens: int | None = None
    block_size: int = DEFAULT_BLOCK
    cost: IterationCost = PRESETS[DEFAULT_PRESET]
    prefix_cache: str = "none"

    def __post_init__(self) -> None:
        if self.prefix_cache not in PREFIX_CACHES:
            raise InputError(f"unknown prefix cache {brief(self.prefix_cache)}; valid: {', '.join(PREFIX_CACHES)}")
        if self.prefix_cache != "none" and self.block_size != 1:
            raise InputError(f"a prefix cache counts KV memory in tokens (SGLang's page size 1): the block size "
                             f"must be 1, got {brief(self.block_size)}")
        if self.prefix_cache == "lru" and self.kv_tokens is None:
            raise InputError("the lru prefix cache shares the KV memory with the running requests: give its "
                             "size (kv_tokens)")
        for name, value, low in (("budget", self.budget, 1), ("max_seqs", self.max_seqs, 1),
                                 ("block_size", self.block_size, 1)):
            if type(value) is not int or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {brief(value)}")
        if self.kv_tokens is not None and (type(self.kv_tokens) is not int or self.kv_tokens < self.block_size):
            raise InputError(f"kv_tokens must be an integer >= the block size {self.block_size}, "
                             f"got {brief(self.kv_tokens)}")
        if not isinstance(self.cost, IterationCost):
            raise InputError(f"cost must be an IterationCost, got {brief(self.cost)}")

    def as_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "max_seqs": self.max_seqs, "kv_tokens": self.kv_tokens,
                "block_size": self.block_size if self.kv_tokens is not None else None, "cost": self.cost.as_dict(),
                "prefix_cache": self.prefix_cache, "prefix_cache_rule": PREFIX_CACHES[self.prefix_cache]}
