"""Query streams (Definition 1): queries with an id, a prompt and an arrival time.

A :class:`Stream` is validated once, when it is built: query ids are unique, arrivals are exact and
non-negative, prompts are non-empty tuples of ``(segment id, length)`` pairs, every query id and
segment id is a ``str`` or an ``int`` and nothing else (no bool, float or None, which Python would
let equal ``1``; see :mod:`~prefix_sched.theory.prompt`), and each segment id has one length in the
whole stream.
Nothing is repaired or dropped: a violation is a :class:`~prefix_sched.errors.StreamError` naming
the query and the value.

Queries keep the order they were given in (file order); ``arrival_order`` sorts them by arrival,
ties by that order, which is the "oldest first" order every policy uses.

Examples
--------
>>> s = Stream.from_records([("a", (("u", 5),), 3), ("b", (("u", 5), ("d", 2)), 1)])
>>> s.n, s.arrival_order, s.index_of("b")
(2, (1, 0), 1)
>>> Stream((Query("a", (("u", 5),), 0, output_length=-1),))
Traceback (most recent call last):
...
prefix_sched.errors.StreamError: query 'a': output_length must be a non-negative integer or None, got -1
>>> Stream.from_records([("a", ((True, 5),), 0)])
Traceback (most recent call last):
...
prefix_sched.errors.InputError: query 'a' segment 0: an id must be a string or an integer, got True (bool)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from prefix_sched.errors import InputError, StreamError
from prefix_sched.theory.numbers import Exact, brief, exact_number
from prefix_sched.theory.prompt import Prompt, check_segment_id, make_prompt, prompt_length

QueryId = int | str


@dataclass(frozen=True, slots=True)
class Query:
    """One query ``q_i = (p_i, t_i)`` with its id; ``arrival`` is in token-times.

    ``output_length`` is the number of tokens the query will generate, when known (a Mooncake
    trace's ``output_length``): not part of Definition 1 and unused by the evaluator; policies that
    look at it (longest-output-first) read it, ``None`` means unknown.
    """

    qid: QueryId
    prompt: Prompt
    arrival: Exact
    output_length: int | None = None

    @property
    def length(self) -> int:
        """``|p_i|`` in tokens."""
        return prompt_length(self.prompt)


@dataclass(frozen=True)
class Stream:
    """A validated, immutable query stream.

    Attributes
    ----------
    queries : tuple of Query
        In the order given (file order).
    meta : mapping
        Provenance (generator name, parameters, seed); not part of equality.
    arrival_order : tuple of int
        Query indices sorted by ``(arrival, index)``.
    lengths : tuple of int
        ``|p_i|`` per query, in query order.
    """

    queries: tuple[Query, ...]
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    arrival_order: tuple[int, ...] = field(init=False, compare=False, hash=False, repr=False)
    lengths: tuple[int, ...] = field(init=False, compare=False, hash=False, repr=False)
    _index: Mapping[QueryId, int] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.queries, Iterable) or isinstance(self.queries, (str, bytes)):
            raise StreamError(f"queries must be a tuple of Query, got {brief(self.queries)}")
        if not isinstance(self.meta, Mapping):
            raise StreamError(f"a stream's meta must be a mapping, got {brief(self.meta)}")
        queries = tuple(self.queries)
        if not queries:
            raise StreamError("a stream needs at least one query, got an empty stream")
        index: dict[QueryId, int] = {}
        for i, query in enumerate(queries):
            if not isinstance(query, Query):
                raise StreamError(f"query {i} must be a Query, got {type(query).__name__}")
            _check_query(query)
            if query.qid in index:
                raise StreamError(f"duplicate query id {query.qid!r} (queries {index[query.qid]} and {i})")
            index[query.qid] = i
        check_segment_lengths(queries)
        order = sorted(range(len(queries)), key=lambda i: queries[i].arrival)
        object.__setattr__(self, "queries", queries)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "arrival_order", tuple(order))
        object.__setattr__(self, "lengths", tuple(prompt_length(q.prompt) for q in queries))
        object.__setattr__(self, "_index", MappingProxyType(index))

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[QueryId, Prompt, object]], meta: Mapping[str, Any] | None = None
    ) -> Stream:
        """Build a stream from ``(id, prompt, arrival)`` triples; arrivals are read exactly and
        prompts checked by :func:`~prefix_sched.theory.prompt.make_prompt`."""
        queries = []
        for qid, prompt, arrival in records:
            where = f"query {brief(qid)}"
            queries.append(Query(qid, make_prompt(prompt, where=where), exact_number(arrival, f"arrival of {where}")))
        return cls(tuple(queries), {} if meta is None else meta)

    @property
    def n(self) -> int:
        """Number of queries."""
        return len(self.queries)

    def __len__(self) -> int:
        return len(self.queries)

    def index_of(self, qid: QueryId) -> int:
        """Return the index of the query with id ``qid``; unknown ids raise InputError.

        The id must be a ``str`` or an ``int`` itself: ``True`` does not find the query ``1``.
        """
        check_segment_id(qid, "query id")
        try:
            return self._index[qid]
        except KeyError:
            raise InputError(f"no query with id {brief(qid)} in the stream") from None

    def total_tokens(self) -> int:
        """Sum of prompt lengths, the work with no prefix reuse (alpha = 0)."""
        return sum(self.lengths)


def _check_query(query: Query) -> None:
    if type(query.qid) is not str and type(query.qid) is not int:
        raise StreamError(f"query id must be a string or an integer, got {brief(query.qid)} "
                          f"({type(query.qid).__name__})")
    name = f"query {brief(query.qid)}"
    arrival = query.arrival
    if isinstance(arrival, bool) or not isinstance(arrival, Exact):
        raise StreamError(f"{name}: arrival must be an exact int or Fraction, got {brief(arrival)}")
    if arrival < 0:
        raise StreamError(f"{name}: arrival must be >= 0, got {arrival}")
    if type(query.prompt) is not tuple:
        raise StreamError(f"{name}: the prompt must be a tuple of (segment id, length) pairs, "
                          f"got {brief(query.prompt)}")
    if not query.prompt:
        raise StreamError(f"{name}: the prompt is empty")
    output = query.output_length
    if output is not None and (type(output) is not int or output < 0):
        raise StreamError(f"{name}: output_length must be a non-negative integer or None, got {brief(output)}")
    for index, segment in enumerate(query.prompt):
        if type(segment) is not tuple or len(segment) != 2:
            raise StreamError(f"{name} segment {index} must be a pair (id, length), got {brief(segment)}")
        sid, length = segment
        if type(sid) is not str and type(sid) is not int:
            try:
                check_segment_id(sid, f"{name} segment {index}")
            except InputError as err:
                raise StreamError(str(err)) from None
        if type(length) is not int or length <= 0:
            raise StreamError(
                f"{name}: segment {brief(sid)} has length {brief(length)}, expected a positive integer"
            )


def check_segment_lengths(queries: Iterable[Query]) -> None:
    """Raise StreamError if one segment id appears with two different lengths.

    A segment id denotes one token sequence; two lengths would make the segment-level overlap
    differ from the token-level one, so such a stream is refused rather than guessed at.
    """
    seen: dict[object, tuple[int, QueryId]] = {}
    for query in queries:
        for sid, length in query.prompt:
            first = seen.setdefault(sid, (length, query.qid))
            if first[0] != length:
                raise StreamError(
                    f"segment id {brief(sid)} has length {first[0]} in query {brief(first[1])} "
                    f"but {length} in query {brief(query.qid)}; one id must denote one token sequence"
                )
