"""Prompts as sequences of segments, and the prefix overlap ``ov(p, p')`` of Section 1.3.

A prompt is a tuple of segments ``(segment_id, length)``. A segment stands for ``length`` tokens
that no other segment id shares: segment ``(s, l)`` expands to the tokens ``(s, 0), ..., (s, l-1)``.
So a Definition 4 prompt is two segments (user, doc), a Mooncake request is its 512-token blocks,
and a plain token list is segments of length one (:func:`prompt_from_tokens`).

With that expansion the token-level longest common prefix of two prompts is the summed length of
their common leading segments, which is what :func:`overlap` computes. A segment id must denote
one token sequence throughout a stream, so one id with two different lengths is rejected by
:class:`~prefix_sched.theory.stream.Stream` (``check_segment_lengths``) with an error naming the id.

Identity: a segment id (and so a token, and a Mooncake hash id) is a ``str`` or an ``int`` and
nothing else (:func:`check_segment_id`). Ids are compared by value, and Python's
``True == 1 == 1.0`` would make ``true``, ``1.0`` and ``1`` one segment: prefix reuse that does
not exist. So booleans, floats, None, lists and objects are refused, and so are subclasses of
``str`` and ``int`` (an ``IntEnum`` member equals its value). ``1`` and ``"1"`` are two different
ids (``1 != "1"``): they share no prefix.

Examples
--------
>>> p = (("u1", 5), ("d1", 5))
>>> q = (("u1", 5), ("d2", 5))
>>> prompt_length(p), overlap(p, q), overlap(p, p), overlap(p, ())
(10, 5, 10, 0)
>>> overlap(((1, 3),), (("1", 3),))
0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import brief

SegmentId = int | str
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


def check_segment_id(value: object, where: str) -> SegmentId:
    """Return ``value`` if it is a ``str`` or an ``int`` (exactly), else raise InputError.

    ``where`` says what the value is (``"prompt segment 0"``, ``"token 3"``), for the message.

    >>> check_segment_id("u1", "segment 0"), check_segment_id(7, "token 2")
    ('u1', 7)
    >>> check_segment_id(True, "token 2")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: token 2: an id must be a string or an integer, got True (bool)
    """
    if type(value) is not str and type(value) is not int:
        raise InputError(f"{where}: an id must be a string or an integer, got {brief(value)} "
                         f"({type(value).__name__})")
    return value


def prompt_from_tokens(tokens: Iterable[object], *, where: str = "prompt") -> Prompt:
    """Return the prompt whose segments are single tokens (each a ``str`` or an ``int``).

    >>> prompt_from_tokens([7, 7, 3])
    ((7, 1), (7, 1), (3, 1))
    >>> prompt_from_tokens([7, 1.0])
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: prompt token 1: an id must be a string or an integer, got 1.0 (float)
    """
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
        raise InputError(f"{where}: tokens must be a list of ids, got {brief(tokens)}")
    return tuple((check_segment_id(token, f"{where} token {index}"), 1) for index, token in enumerate(tokens))


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
        If a segment is not a pair, its id is not a ``str`` or an ``int``
        (:func:`check_segment_id`), or its length is not a positive ``int``.

    >>> make_prompt([["u", 3], ("d", 2)])
    (('u', 3), ('d', 2))
    >>> make_prompt([["u", 3], ["d", 0]])
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: prompt segment 1 ('d'): length must be a positive integer, got 0
    """
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Iterable):
        raise InputError(f"{where}: segments must be a list of [id, length] pairs, got {brief(segments)}")
    prompt = []
    for index, segment in enumerate(segments):
        sequence = type(segment) in (tuple, list) or (  # the common case first: no ABC check
            isinstance(segment, Sequence) and not isinstance(segment, (str, bytes)))
        if not sequence or len(segment) != 2:
            raise InputError(f"{where} segment {index} must be a pair [id, length], got {brief(segment)}")
        sid, length = segment
        if type(sid) is not str and type(sid) is not int:
            check_segment_id(sid, f"{where} segment {index}")
        if type(length) is not int or length <= 0:
            raise InputError(
                f"{where} segment {index} ({brief(sid)}): length must be a positive integer, "
                f"got {brief(length)}"
            )
        prompt.append((sid, length))
    return tuple(prompt)
