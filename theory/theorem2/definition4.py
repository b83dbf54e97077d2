"""Definition 4 streams, their exhaustive arrival orders and the batch view, as pure functions.

Builds a Definition 4 stream for a chosen arrival order (:func:`definition4_stream`), reads
``(n, r, u, d, Delta)`` back off any stream (:func:`parse_definition4`), enumerates every arrival
order up to renaming users (:func:`canonical_user_sequences`), and scores a given order in the
*batch view* (processing starts at ``s``, after every query has arrived): the order runs on a
*gated* copy of the stream whose queries all arrive at ``s``, the Definition 2 evaluator gives the
completion times, and TTFT is completion minus the query's true arrival. It leaves out running
policies (the simulator, Monte Carlo, counterexample and adversarial searches live above, in
:mod:`prefix_sched.studies.theorem2` and :mod:`prefix_sched.studies.adversary`) and the
bounds themselves (:mod:`prefix_sched.theory.theorem2.bounds`).

Examples
--------
Section 4.2's toy example: FCFS serves users 0, 1, 0, 1 as they come, LPM pairs each user's queries.

>>> stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta=0)
>>> max(batch_ttfts(stream, [0, 1, 2, 3])), max(batch_ttfts(stream, [0, 2, 1, 3]))
(Fraction(40, 1), Fraction(30, 1))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.evaluator import check_permutation, evaluate
from prefix_sched.theory.numbers import exact_int, exact_number
from prefix_sched.theory.stream import Query, Stream


@dataclass(frozen=True)
class Definition4:
    """The parameters of a Definition 4 stream and its user sequence in arrival order."""

    n: int
    r: int
    u: int
    d: int
    delta: Fraction
    users: tuple[object, ...]

    def params(self, start: object | None = None) -> dict[str, object]:
        """Keyword arguments for :meth:`bounds.Statement.value`; ``s`` defaults to the last arrival.

        The batch-view statements refuse ``s < (n - 1) Delta`` (:meth:`bounds.Statement.value`).
        """
        s = (self.n - 1) * self.delta if start is None else exact_number(start, "start s")
        return {"n": self.n, "r": self.r, "u": self.u, "d": self.d, "Delta": self.delta, "s": s}


def definition4_stream(users: Sequence[object], u: int, d: int, delta: object) -> Stream:
    """A Definition 4 stream with a chosen arrival order: ``users[i]`` is the user of the i-th arrival.

    Each user must occur equally often (``r`` times). Prompts are ``(u{user}, u)(d{i}, d)``.

    >>> definition4_stream(["a", "b", "a"], 1, 1, 0)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: every user must occur r times in Definition 4, got counts {'a': 2, 'b': 1}
    """
    counts = Counter(str(x) for x in users)
    if len(set(counts.values())) > 1:
        raise InputError(f"every user must occur r times in Definition 4, got counts {dict(counts)}")
    u = exact_int(u, "u", minimum=1)
    d = exact_int(d, "d", minimum=1)
    delta = exact_number(delta, "Delta", minimum=0)
    queries = tuple(Query(f"q{i}", ((f"u{x}", u), (f"d{i}", d)), i * delta) for i, x in enumerate(users))
    r = next(iter(counts.values())) if counts else 0
    return Stream(queries, {"generator": "def4", "n": len(queries), "r": r, "u": u, "d": d, "delta": str(delta)})


def parse_definition4(stream: Stream) -> Definition4:
    """Read ``(n, r, u, d, Delta)`` and the user sequence off the stream itself (not its meta).

    Users and docs are segment ids, compared by value and type (the user ``1`` and the user
    ``"1"`` are two users, as they are two segments). The result lies in Definition 4's domain by
    construction: ``n >= 1``, ``r`` divides ``n``, ``u, d >= 1`` (segment lengths are positive
    integers), ``Delta >= 0`` (arrivals are).

    Raises
    ------
    InputError
        If ``stream`` is not a :class:`Stream`, or not a Definition 4 stream: two segments
        ``(user)(doc)`` per prompt, one user length and one doc length, distinct docs, every user in
        ``r`` queries, arrivals ``(i - 1) Delta`` in file order.

    Examples
    --------
    >>> model = parse_definition4(definition4_stream([0, 1, 0, 1], u=3, d=2, delta="1/2"))
    >>> model.n, model.r, model.u, model.d, model.delta, model.users
    (4, 2, 3, 2, Fraction(1, 2), ('u0', 'u1', 'u0', 'u1'))
    >>> two_users = Stream((Query("a", ((1, 2), ("x", 1)), 0), Query("b", (("1", 2), ("y", 1)), 1)))
    >>> parse_definition4(two_users).r
    1
    """
    if not isinstance(stream, Stream):
        raise InputError(f"a Definition 4 stream must be a Stream, got {type(stream).__name__}")
    queries = stream.queries
    if any(len(q.prompt) != 2 for q in queries):
        raise InputError("a Definition 4 prompt is (user)(doc): two segments per query")
    user_lengths = {q.prompt[0][1] for q in queries}
    doc_lengths = {q.prompt[1][1] for q in queries}
    if len(user_lengths) != 1 or len(doc_lengths) != 1:
        raise InputError(f"Definition 4 needs one user length and one doc length, got {user_lengths}, {doc_lengths}")
    docs = [q.prompt[1][0] for q in queries]
    users = tuple(q.prompt[0][0] for q in queries)
    if len(set(docs)) != len(docs) or set(docs) & set(users):
        raise InputError("Definition 4 docs must be distinct and differ from every user")
    counts = set(Counter(users).values())
    if len(counts) != 1:
        raise InputError(f"every user must occur equally often in Definition 4, got counts {sorted(counts)}")
    n = len(queries)
    delta = Fraction(queries[1].arrival - queries[0].arrival) if n > 1 else Fraction(0)
    for index, query in enumerate(queries):
        if query.arrival != index * delta:
            raise InputError(f"query {query.qid!r} arrives at {query.arrival}, Definition 4 needs {index * delta}")
    return Definition4(n, counts.pop(), user_lengths.pop(), doc_lengths.pop(), delta, users)


def gated_stream(stream: Stream, start: object) -> Stream:
    """The same queries, all arriving at ``start`` (file order = the true arrival order)."""
    start = exact_number(start, "start s", minimum=0)
    if any(q.arrival > start for q in stream.queries):
        raise InputError(f"the batch view needs start s >= last arrival {max(q.arrival for q in stream.queries)}, got {start}")
    ranked = [stream.queries[i] for i in stream.arrival_order]
    return Stream(tuple(Query(q.qid, q.prompt, start) for q in ranked), dict(stream.meta))


def batch_ttfts(stream: Stream, order: Sequence[int], start: object | None = None) -> tuple[Fraction, ...]:
    """Batch-view TTFTs of ``order`` (query indices of ``stream``), per position, via the evaluator.

    ``start`` defaults to the last arrival. The order's query indices refer to ``stream``.
    """
    order = check_permutation(order, stream.n)
    s = max(q.arrival for q in stream.queries) if start is None else start
    gated = gated_stream(stream, s)
    position = {qid: p for p, qid in enumerate(q.qid for q in gated.queries)}
    gated_order = [position[stream.queries[i].qid] for i in order]
    completion = evaluate(gated, gated_order).completion
    return tuple(Fraction(c - stream.queries[i].arrival) for c, i in zip(completion, order))


def canonical_user_sequences(n: int, r: int) -> Iterator[tuple[int, ...]]:
    """Every arrival order of Definition 4 up to renaming users (users numbered by first arrival).

    >>> [''.join(map(str, x)) for x in canonical_user_sequences(4, 2)]
    ['0011', '0101', '0110']
    """
    n = exact_int(n, "n", minimum=1)
    r = exact_int(r, "r", minimum=1)
    if n % r:
        raise InputError(f"r must divide n, got n={n}, r={r}")
    groups = n // r
    counts = [0] * groups

    def extend(prefix: list[int], opened: int) -> Iterator[tuple[int, ...]]:
        if len(prefix) == n:
            yield tuple(prefix)
            return
        for user in range(min(opened + 1, groups)):
            if counts[user] < r:
                counts[user] += 1
                prefix.append(user)
                yield from extend(prefix, max(opened, user + 1))
                prefix.pop()
                counts[user] -= 1

    yield from extend([], 0)


def evaluate_upper(statement: bounds.Statement, n: int, r: int, u: int, d: int, delta: object, s: object) -> Fraction:
    """An upper-bound statement's value, passing only the symbols it uses.

    >>> evaluate_upper(bounds.KLPM_MODEL_READING, n=2, r=2, u=1, d=1, delta=2, s=0)  # 2 (1/2 + 1 - 2/2)
    Fraction(1, 1)
    """
    params = {"n": n, "r": r, "u": u, "d": d, "Delta": delta, "s": s}
    used = {str(x) for x in statement.bound.free_symbols}
    return statement.value(**{key: val for key, val in params.items() if key in used})
