"""The one parse point of cache specs: specs round-trip, bad text is named."""

from __future__ import annotations

import pytest

from prefix_sched.errors import InputError
from prefix_sched.theory.cache import parse_cache


@pytest.mark.parametrize("text", ["last", "unbounded", "lru:1", "lru:100000"])
def test_specs_round_trip(text):
    assert parse_cache(text).spec == text and parse_cache(parse_cache(text)) == parse_cache(text)


@pytest.mark.parametrize("text, message", [
    ("lru", "needs a capacity"), ("lru:0", "'lru:0': the capacity must be a positive integer"),
    ("lru:-5", "'lru:-5'"), ("lru:abc", "'lru:abc'"), ("lru:05", "'lru:05'"), ("lru:1.5", "'lru:1.5'"),
    ("lru: 5", "'lru: 5'"), ("lru:", "'lru:'"), ("lru:٣", "'lru:٣'"), ("LRU:5", "unknown cache model 'LRU:5'"),
    ("Last", "unknown cache model"), (" last", "unknown cache model"), ("fifo:5", "unknown cache model"),
    (5, "must be a spec string"),
])
def test_bad_specs_are_named(text, message):
    with pytest.raises(InputError, match=message):
        parse_cache(text)
