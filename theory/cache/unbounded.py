"""The ``unbounded`` cache model: SGLang's radix tree without eviction.

Every prefix ever served stays cached, so a prompt reuses its longest prefix shared with any
earlier prompt. The state is :class:`~prefix_sched.theory.cache.radix.RadixState` without a
capacity. For one fixed order it reuses at least as much as ``lru:C`` for any ``C``, which reuses
at least as much as ``last`` when ``C`` holds the longest prompt (tests/theory/cache/test_lru.py).

Examples
--------
>>> UnboundedCache().spec, UnboundedCache().token_capacity()
('unbounded', None)
>>> UnboundedCache().reuse_along([(("a", 2), ("x", 1)), (("b", 3),), (("a", 2), ("y", 1))])
[0, 0, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.theory.cache.base import CacheModel
from prefix_sched.theory.cache.radix import RadixState, serve_all
from prefix_sched.theory.prompt import Prompt


@dataclass(frozen=True)
class UnboundedCache(CacheModel):
    """RadixAttention's radix tree that never evicts (spec ``"unbounded"``)."""

    @property
    def spec(self) -> str:
        return "unbounded"

    def token_capacity(self) -> None:
        """No limit."""
        return None

    def new_state(self) -> RadixState:
        return RadixState(None)

    def reuse_along(self, prompts: Sequence[Prompt]) -> list[int]:
        """Each prompt's reuse when served in this order from an empty cache (the GC paused)."""
        return serve_all(self.new_state(), prompts)
