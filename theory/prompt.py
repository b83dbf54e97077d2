"""Prompts as sequences of segments, and the prefix overlap ``ov(p, p')`` of Section 1.3.

A prompt is a tuple of segments ``(segment_id, length)``. A segment stands for ``length`` tokens
that no other segment id shares: segment ``(s, l)`` expands to the tokens ``(s, 0), ..., (s, l-1)``.
So a Definition 4 prompt is two segments (user, doc), a Mooncake request is its 512-token blocks,
and a plain token list is segments of length one (:func:`prompt_from_tokens`).

With that expansion the token-level longest common prefix of two prompts is the summed length of
their common leading segments, which is what :func:`overlap` computes. A segment id must denote
one token sequence throughout a stream, so one id with two different lengths is rejected by
:class:`~prefix_sched.theory.stream.Stream` (``check_segment_lengths``) with an error naming the id.

Examples
--------
>>> p = (("u1", 5), ("d1", 5))
>>> q = (("u1", 5), ("d2", 5))
>>> prompt_length(p), overlap(p, q), overlap(p, p), overlap(p, ())
(10, 5, 10, 0)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from prefix_sched.errors import InputError

SegmentId = Hashable
Segment = tuple[SegmentId, int]
Prompt = tuple[Segment, ...]

EMPTY_PROMPT: Prompt = ()


def prompt_length(prompt: Prompt) -> int:
    """Return ``|p|``, the number of tokens of ``prompt``."""
    return sum(length for _, length in prompt)


def overlap(p: Prompt, q: Prompt) -> int:
    """Return ``ov(p, q)``: the number of tokens in the longest common prefix of ``p`` and ``q``.

    Both prompts must come from one stream (so an id has one length everywhere).
    """
    total = 0
    for (pid, plen), (qid, _) in zip(p, q):
        if pid != qid:
            break
        total += plen
    return total


def prompt_from_tokens(tokens: Iterable[Hashable]) -> Prompt:
    """Return the prompt whose segments are single tokens.

    >>> prompt_from_tokens([7, 7, 3])
    ((7, 1), (7, 1), (3, 1))
    """
    return tuple((token, 1) for token in tokens)


def expand_tokens(prompt: Prompt) -> list[tuple[SegmentId, int]]:
    """Return the token-level expansion of ``prompt`` (segment ``(s, l)`` gives ``(s, 0..l-1)``).

    This is the reference the segment-level :func:`overlap` is tested against.

    >>> expand_tokens((("a", 2), ("b", 1)))
    [('a', 0), ('a', 1), ('b', 0)]
    """
    return [(sid, j) for sid, length in prompt for j in range(length)]


def make_prompt(segments: Sequence[Sequence[object]], *, where: str = "prompt") -> Prompt:
    """Validate ``segments`` (pairs of id and positive integer length) and return a prompt.

    Raises
    ------
    InputError
        If a segment is not a pair, its id is not hashable, or its length is not a positive int.

    >>> make_prompt([["u", 3], ["d", 0]])
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: prompt segment 1 ('d'): length must be a positive integer, got 0
    """
    prompt = []
    for index, segment in enumerate(segments):
        if not isinstance(segment, Sequence) or isinstance(segment, str) or len(segment) != 2:
            raise InputError(f"{where} segment {index} must be a pair [id, length], got {segment!r}")
        sid, length = segment
        if isinstance(sid, list):
            sid = tuple(sid)
        try:
            hash(sid)
        except TypeError as err:
            raise InputError(f"{where} segment {index}: id {sid!r} is not hashable") from err
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            raise InputError(
                f"{where} segment {index} ({sid!r}): length must be a positive integer, "
                f"got {length!r}"
            )
        prompt.append((sid, length))
    return tuple(prompt)
