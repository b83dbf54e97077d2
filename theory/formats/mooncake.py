"""Mooncake traces: ``timestamp`` (ms), ``input_length``, ``hash_ids`` of 512-token blocks.

:func:`read_mooncake` turns each line into a query whose segments are its blocks (the last one
``input_length - 512 (len - 1)`` tokens; a line whose block count is not
``ceil(input_length / 512)`` is an error) and whose arrival is the timestamp times
``tokens_per_ms`` (token-times); a line's ``output_length``, when present, must be a non-negative
integer and is kept on the query. Other fields of a trace line are ignored (in the toolkit's own
files an unknown field is an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefix_sched.theory.formats.jsonio import located, read_json_lines, required_field, source_name
from prefix_sched.theory.formats.streams import check_lengths, output_length
from prefix_sched.theory.numbers import Exact, brief, exact_number, to_json
from prefix_sched.theory.prompt import make_prompt
from prefix_sched.theory.stream import Query, Stream

from prefix_sched.errors import FormatError, InputError

MOONCAKE_BLOCK = 512
DEFAULT_TOKENS_PER_MS = 20  # Mooncake milliseconds to token-times: 20k prefill tokens per second


def read_mooncake(path: Path | str, tokens_per_ms: object, limit: int | None = None) -> Stream:
    """Read a Mooncake trace: each line's ``hash_ids`` become 512-token segments (the last one
    ``input_length - 512 (len - 1)`` tokens), its ``timestamp`` (ms) times ``tokens_per_ms`` the
    arrival in token-times. Query ids are ``m{line}`` (1-based line numbers).

    ``limit`` (a positive integer, or None for all) reads only the first ``limit`` requests.

    Raises
    ------
    FormatError
        If the file cannot be read (module docstring), a line lacks a field, a hash id is not a
        string or an integer, ``len(hash_ids) != ceil(input_length / 512)``, or one hash id stands
        for blocks of two lengths, or an ``output_length`` given is not a non-negative integer.
    InputError
        If ``tokens_per_ms`` is not a number > 0 or ``limit`` not a positive integer.
    """
    rate = exact_number(tokens_per_ms, "tokens per ms")
    if rate <= 0:
        raise InputError(f"tokens per ms must be > 0, got {brief(tokens_per_ms)}")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise InputError(f"limit must be a positive integer (or None for the whole trace), got {brief(limit)}")
    name = source_name(path)
    queries = []
    lengths: dict[int | str, tuple[int, int]] = {}
    for number, record in read_json_lines(path):
        if limit is not None and len(queries) >= limit:
            break
        with located(name, number):
            if "format" in record:
                raise FormatError(f"a header with format {brief(record['format'])}: a prefix-sched file, "
                                  "not a Mooncake trace")
            query = _mooncake_query(record, number, rate)
            check_lengths(query.prompt, number, lengths)
            queries.append(query)
    if not queries:
        raise FormatError(f"{name}: no requests in the trace")
    meta = {"generator": "mooncake", "source": Path(path).name, "tokens_per_ms": to_json(rate)}
    with located(name, None):
        return Stream(tuple(queries), meta)


def _mooncake_query(record: Mapping[str, Any], number: int, rate: Exact) -> Query:
    timestamp = exact_number(required_field(record, "timestamp"), "timestamp", minimum=0)
    length = required_field(record, "input_length")
    hashes = required_field(record, "hash_ids")
    if type(length) is not int or length <= 0:
        raise FormatError(f"input_length must be a positive integer, got {brief(length)}")
    blocks = -(-length // MOONCAKE_BLOCK)
    if not isinstance(hashes, list) or len(hashes) != blocks:
        raise FormatError(f"hash_ids must list ceil(input_length / {MOONCAKE_BLOCK}) = {blocks} blocks, "
                          f"got {brief(hashes)}")
    last = length - MOONCAKE_BLOCK * (blocks - 1)
    segments = [(h, MOONCAKE_BLOCK) for h in hashes[:-1]] + [(hashes[-1], last)]
    return Query(f"m{number}", make_prompt(segments, where="hash_ids"), timestamp * rate, output_length(record))
