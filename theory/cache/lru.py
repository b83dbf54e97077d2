"""The ``lru:TOKENS`` cache model: SGLang's radix tree with a token capacity and LRU eviction.

The state is :class:`~prefix_sched.theory.cache.radix.RadixState` with ``capacity = TOKENS``; its
module states SGLang's rules (match, lock, evict the oldest unlocked leaf a whole node at a time,
insert the uncached rest as one node) and their proofs. A prompt longer than the capacity cannot
be served: :meth:`LruCache.check_stream` refuses such a stream before any work, naming the query.

Examples
--------
>>> cache = LruCache(8)
>>> cache.spec, cache.token_capacity(), cache.reuse_along([(("s", 4), ("x", 2)), (("s", 4), ("y", 2)), (("t", 3),)])
('lru:8', 8, [0, 4, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.errors import InputError
from prefix_sched.theory.cache.base import CacheModel
from prefix_sched.theory.cache.radix import RadixState, serve_all
from prefix_sched.theory.prompt import Prompt
from prefix_sched.theory.stream import Stream


@dataclass(frozen=True)
class LruCache(CacheModel):
    """RadixAttention's radix tree holding at most ``capacity`` tokens, LRU eviction (``lru:TOKENS``).

    Attributes
    ----------
    capacity : int
        The most tokens cached at once.
    """

    capacity: int

    @property
    def spec(self) -> str:
        return f"lru:{self.capacity}"

    def token_capacity(self) -> int:
        return self.capacity

    def new_state(self) -> RadixState:
        return RadixState(self.capacity)

    def reuse_along(self, prompts: Sequence[Prompt]) -> list[int]:
        """Each prompt's reuse when served in this order from an empty cache (the GC paused)."""
        return serve_all(self.new_state(), prompts)

    def check_stream(self, stream: Stream) -> None:
        """Refuse a stream with a prompt longer than the capacity, naming the query.

        >>> from prefix_sched.theory.stream import Stream
        >>> LruCache(4).check_stream(Stream.from_records([("a", (("x", 3),), 0), ("b", (("y", 5),), 0)]))
        Traceback (most recent call last):
        ...
        prefix_sched.errors.InputError: query 'b' has 5 tokens, more than the cache capacity of 4 tokens (lru:4)
        """
        for query, length in zip(stream.queries, stream.lengths):
            if length > self.capacity:
                raise InputError(
                    f"query {query.qid!r} has {length} tokens, more than the cache capacity of "
                    f"{self.capacity} tokens ({self.spec})"
                )
