"""The one parse point of cache specs: ``last``, ``lru:TOKENS``, ``unbounded``.

:func:`parse_cache` is the only reader of spec text (a :class:`~prefix_sched.theory.cache.base.CacheModel`,
one's own included, passes through unchanged, and ``model.spec`` gives the text back);
:func:`require_last_prompt` is the front door of every solver and bound that holds for
Definition 2's one-prompt cache only.

Examples
--------
>>> cache = parse_cache("lru:8")
>>> cache.spec, parse_cache(cache.spec) == cache, parse_cache("last").reuse_along([(("a", 2),)] * 2)
('lru:8', True, [0, 2])
"""

from __future__ import annotations

import re

from prefix_sched.errors import InputError
from prefix_sched.theory.cache.base import CacheModel
from prefix_sched.theory.cache.last import LastPromptCache
from prefix_sched.theory.cache.lru import LruCache
from prefix_sched.theory.cache.unbounded import UnboundedCache
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.parameters import read_count

DEFAULT_CACHE = "last"
"""The cache model when none is named: Definition 2's previous prompt."""
CACHE_SPECS = ("last", "lru:TOKENS", "unbounded")
"""The spec forms :func:`parse_cache` reads, as the CLI lists them."""
_LRU = re.compile(r"lru:(.*)", re.DOTALL)


def parse_cache(spec: object) -> CacheModel:
    """Return the cache model for ``spec``: ``"last"``, ``"lru:TOKENS"`` or ``"unbounded"``.

    A :class:`~prefix_sched.theory.cache.base.CacheModel` is returned as it is. Names are lower
    case and exact (``"LRU:5"`` and ``" last"`` are refused, as policy names are); ``TOKENS`` is a
    positive integer written in ASCII digits (:func:`~prefix_sched.theory.parameters.read_count`)
    without sign, separators or leading zeros, so that ``model.spec`` gives back the text.

    Raises
    ------
    InputError
        Naming the text, e.g. for ``"lru"``, ``"lru:0"``, ``"lru:-5"``, ``"lru:abc"``, ``"lru:05"``.

    Examples
    --------
    >>> parse_cache("lru:100000"), parse_cache("unbounded").spec
    (LruCache(capacity=100000), 'unbounded')
    >>> parse_cache("lru:0")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: cache 'lru:0': the capacity must be a positive integer number of tokens (lru:TOKENS, e.g. lru:100000)
    >>> parse_cache("LRU:5")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: unknown cache model 'LRU:5'; valid: last, lru:TOKENS, unbounded
    """
    if isinstance(spec, CacheModel):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"a cache model must be a spec string ({', '.join(CACHE_SPECS)}), got {brief(spec)}")
    if spec == "last":
        return LastPromptCache()
    if spec == "unbounded":
        return UnboundedCache()
    if spec == "lru":
        raise InputError("cache 'lru' needs a capacity in tokens: lru:TOKENS, e.g. lru:100000")
    match = _LRU.fullmatch(spec)
    if match is None:
        raise InputError(f"unknown cache model {brief(spec)}; valid: {', '.join(CACHE_SPECS)}")
    digits = match.group(1)
    try:
        capacity = read_count(digits, "the capacity")
    except InputError as err:
        capacity = None
        if "ASCII" in str(err):
            raise InputError(f"cache {brief(spec)}: {err}") from None
    if capacity is not None and capacity > 0 and digits[0] == "0":
        raise InputError(f"cache {brief(spec)}: the capacity is written without leading zeros, got {brief(digits)}")
    if capacity is None or digits[0] == "0":
        raise InputError(
            f"cache {brief(spec)}: the capacity must be a positive integer number of tokens "
            "(lru:TOKENS, e.g. lru:100000)"
        )
    return LruCache(capacity)


def require_last_prompt(cache: object, what: str) -> CacheModel:
    """Return the ``last`` model, or refuse: ``what`` holds only for Definition 2's one-prompt cache.

    The front door of every solver and bound that is a theorem about Definition 2.

    >>> require_last_prompt("last", "the exact solvers").spec
    'last'
    >>> require_last_prompt("unbounded", "the exact solvers")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: the exact solvers hold for Definition 2's one-prompt cache (cache 'last') only, not for cache 'unbounded'
    """
    model = parse_cache(cache)
    if not model.is_last_prompt:
        raise InputError(
            f"{what} hold for Definition 2's one-prompt cache (cache 'last') only, "
            f"not for cache {model.spec!r}"
        )
    return model


def RadixCache(capacity: int | None) -> LruCache | UnboundedCache:
    """SGLang's ``RadixCache`` by its capacity: ``lru:capacity``, or ``unbounded`` for ``None``.

    >>> RadixCache(8) == parse_cache("lru:8"), RadixCache(None) == parse_cache("unbounded")
    (True, True)
    """
    return UnboundedCache() if capacity is None else LruCache(capacity)
