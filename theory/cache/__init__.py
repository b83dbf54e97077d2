"""Prefix cache models: how many tokens a prompt reuses given the cache, and what is cached after it.

Every model implements one written interface (:mod:`~prefix_sched.theory.cache.base`): a
:class:`CacheModel` is parsed once from its spec (:func:`parse_cache`) and asked for a fresh
:class:`CacheState`, which answers ``state.reuse(p)`` (read-only) and ``state.serve(p)`` (serve
``p``, returning its reuse), in token-times of prefill saved. One module per model:

- :mod:`~prefix_sched.theory.cache.last`: ``last`` (:class:`LastPromptCache`, the default),
  Definition 2: only the previously served prompt is cached; the model of every theorem;
- :mod:`~prefix_sched.theory.cache.lru`: ``lru:TOKENS`` (:class:`LruCache`), SGLang's radix tree
  with a token capacity and LRU eviction;
- :mod:`~prefix_sched.theory.cache.unbounded`: ``unbounded`` (:class:`UnboundedCache`), the same
  tree without eviction;
- :mod:`~prefix_sched.theory.cache.radix`: the radix tree both of them hold (:class:`RadixState`,
  SGLang's rules, page size 1, and their proofs);
- :mod:`~prefix_sched.theory.cache.parse`: the one parse point (:func:`parse_cache`,
  :data:`CACHE_SPECS`, :data:`DEFAULT_CACHE`) and :func:`require_last_prompt`, the front door of
  the results that hold for Definition 2 only.

A new model is one module implementing :class:`CacheModel` and :class:`CacheState` (what the
bounds and the indexed queues need beyond reuse and serve is optional, and asked for through the
interface), plus its spec in :func:`parse_cache`.

Examples
--------
>>> from prefix_sched.theory.cache import parse_cache
>>> [parse_cache(spec).reuse_along([(("a", 2), ("x", 1)), (("b", 1),), (("a", 2), ("y", 1))])
...  for spec in ("last", "lru:4", "unbounded")]
[[0, 0, 0], [0, 0, 2], [0, 0, 2]]
"""

from prefix_sched.theory.cache.base import CacheModel, CacheState, Listener
from prefix_sched.theory.cache.last import LastPromptCache, LastPromptState
from prefix_sched.theory.cache.lru import LruCache
from prefix_sched.theory.cache.parse import CACHE_SPECS, DEFAULT_CACHE, RadixCache, parse_cache, require_last_prompt
from prefix_sched.theory.cache.radix import RadixNode, RadixState, paused_cyclic_gc
from prefix_sched.theory.cache.unbounded import UnboundedCache

__all__ = [
    "CACHE_SPECS", "DEFAULT_CACHE", "CacheModel", "CacheState", "LastPromptCache", "LastPromptState", "Listener",
    "LruCache", "RadixCache", "RadixNode", "RadixState", "UnboundedCache", "parse_cache", "paused_cyclic_gc",
    "require_last_prompt",
]
