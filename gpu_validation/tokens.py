"""Turn a stream's segments into token ids, deterministically: equal segments give equal tokens.

A segment ``(id, length)`` stands for ``length`` tokens that no other segment id shares
(:mod:`prefix_sched.theory.prompt`). Here its tokens are ``length`` ids drawn uniformly from
``[0, vocab_size)`` by a numpy generator seeded with a BLAKE2b hash of ``repr(id)``: the same id
gives the same tokens in every process and on every machine (Python's ``hash`` is salted, so it is
not used), and a prompt's tokens are the concatenation of its segments' tokens.

Two different segments may, rarely, draw the same first token, so a token-level longest common
prefix can exceed the segment-level ``ov(p, q)``. The replay therefore reuses exactly
``ov(p, q)`` tokens (:func:`~prefix_sched.theory.prompt.overlap`), the quantity Definition 2
charges for, and never searches the token ids for a longer match.

Examples
--------
>>> a = prompt_token_ids((("u1", 3), ("d1", 2)), 1000)
>>> b = prompt_token_ids((("u1", 3), ("d2", 2)), 1000)
>>> len(a), a[:3] == b[:3], a == prompt_token_ids((("u1", 3), ("d1", 2)), 1000)
(5, True, True)
"""

from __future__ import annotations

import hashlib

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.theory.prompt import Prompt, SegmentId


def segment_seed(segment_id: SegmentId) -> int:
    """A 64-bit seed from ``repr(segment_id)``, the same in every process.

    >>> segment_seed("u1") == segment_seed("u1") != segment_seed("u2")
    True
    """
    digest = hashlib.blake2b(repr(segment_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def segment_token_ids(segment_id: SegmentId, length: int, vocab_size: int) -> np.ndarray:
    """The ``length`` token ids of segment ``segment_id`` (int64, in ``[0, vocab_size)``)."""
    if vocab_size < 2:
        raise InputError(f"vocab_size must be >= 2, got {vocab_size}")
    rng = np.random.default_rng(segment_seed(segment_id))
    return rng.integers(0, vocab_size, size=length, dtype=np.int64)


def prompt_token_ids(prompt: Prompt, vocab_size: int) -> list[int]:
    """The token ids of ``prompt``: its segments' tokens, concatenated."""
    if not prompt:
        return []
    parts = [segment_token_ids(sid, length, vocab_size) for sid, length in prompt]
    return np.concatenate(parts).tolist()
