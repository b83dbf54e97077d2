"""Theorem 2 against simulation: Definition 4 streams, the batch view, Monte Carlo, exhaustive search.

Every TTFT here comes from the toolkit's simulator (:func:`~prefix_sched.solvers.simulate.simulate`)
and the Definition 2 evaluator. The batch view (processing starts at ``s``, after every query has
arrived) is run on a *gated* copy of the stream whose queries all arrive at ``s``: the policy
decides as it would at ``s`` (FCFS still takes the oldest, since the copy keeps arrival order as
file order), the evaluator gives the completion times, and TTFT is completion minus the query's
true arrival. The adversarial local search lives in :mod:`prefix_sched.theory.adversary`; the
bounds themselves in :mod:`prefix_sched.theory.bounds`.

Examples
--------
>>> stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta=0)
>>> max_ttft(stream, parse_policy("fcfs"), "batch"), max_ttft(stream, parse_policy("lpm"), "batch")
(Fraction(40, 1), Fraction(30, 1))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.solvers.policies import PolicySpec, parse_policy
from prefix_sched.solvers.simulate import simulate
from prefix_sched.theory import bounds
from prefix_sched.theory.evaluator import check_order, evaluate
from prefix_sched.theory.exact import exact_int, exact_number
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.stream import Query, Stream

VIEWS = ("batch", "fixed", "online")


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


def klpm_spec(r: int, tie_break: str = "oldest") -> PolicySpec:
    """The k-LPM of the corrected Theorem 2: ``k = r - 1`` LPM steps after one FCFS step per cycle."""
    return parse_policy("k-lpm", k=exact_int(r, "r", minimum=1) - 1, tie_break=tie_break, cycle_start="fcfs")


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
    order = check_order(order, stream.n)
    s = max(q.arrival for q in stream.queries) if start is None else start
    gated = gated_stream(stream, s)
    position = {qid: p for p, qid in enumerate(q.qid for q in gated.queries)}
    gated_order = [position[stream.queries[i].qid] for i in order]
    completion = evaluate(gated, gated_order).completion
    return tuple(Fraction(c - stream.queries[i].arrival) for c, i in zip(completion, order))


def batch_order(stream: Stream, policy: PolicySpec, seed: int | None = None) -> tuple[int, ...]:
    """The policy's order with every query waiting (indices of ``stream``), from the simulator."""
    run = simulate(stream, policy, view="fixed", seed=seed)
    return run.order


def max_ttft(stream: Stream, policy: PolicySpec, view: str, seed: int | None = None, start: object | None = None) -> Fraction:
    """Max TTFT of ``policy`` on ``stream`` in ``view`` (``batch`` starts at ``start``, default the last arrival)."""
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}; valid: {', '.join(VIEWS)}")
    if view == "batch":
        return max(batch_ttfts(stream, batch_order(stream, policy, seed), start))
    return Fraction(simulate(stream, policy, view=view, seed=seed).evaluation.max_ttft)


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


@dataclass(frozen=True)
class WorstCase:
    """The largest max TTFT over the searched arrival orders, with the order that attains it."""

    users: tuple[int, ...]
    max_ttft: Fraction
    orders_searched: int


def exhaustive_worst(
    n: int, r: int, u: int, d: int, delta: object, policy: PolicySpec, view: str, seed: int | None = None
) -> WorstCase:
    """Exact worst case over every arrival order (:func:`canonical_user_sequences`); tiny ``n`` only."""
    best, count = None, 0
    for users in canonical_user_sequences(n, r):
        value = max_ttft(definition4_stream(users, u, d, delta), policy, view, seed)
        count += 1
        if best is None or value > best[1]:
            best = (users, value)
    return WorstCase(best[0], best[1], count)


@dataclass(frozen=True)
class Counterexample:
    """A Definition 4 instance on which a statement's bound fails, with the evidence."""

    n: int
    r: int
    u: int
    d: int
    delta: Fraction
    users: tuple[int, ...]
    view: str
    max_ttft: Fraction
    bound: Fraction


def smallest_counterexample(
    statement: bounds.Statement,
    view: str,
    policy_for_r=klpm_spec,
    max_n: int = 6,
    lengths: Sequence[int] = (1, 2, 3),
    deltas: Sequence[object] = (0, 1, 2, 3, 4, 5, 6, 8, 10),
    min_r: int = 1,
) -> Counterexample | None:
    """The first violation of an upper bound, searching by ``n``, then ``r``, ``u``, ``d``, ``Delta``
    and arrival order (all of them); ``None`` if the searched space holds none.

    The bound's start ``s`` is the view's: the last arrival for ``batch``, 0 otherwise (the reading
    under test); ``policy_for_r`` maps ``r`` to the policy (default :func:`klpm_spec`); ``min_r``
    skips degenerate ``r`` (``r = 1`` makes k-LPM plain FCFS).
    """
    for n_value in range(1, max_n + 1):
        for r_value in (x for x in range(min_r, n_value + 1) if n_value % x == 0):
            policy = policy_for_r(r_value)
            for u_value in lengths:
                for d_value in lengths:
                    for delta in deltas:
                        delta = Fraction(exact_number(delta, "Delta"))
                        s = (n_value - 1) * delta if view == "batch" else 0
                        bound = evaluate_upper(statement, n_value, r_value, u_value, d_value, delta, s)
                        for users in canonical_user_sequences(n_value, r_value):
                            stream = definition4_stream(users, u_value, d_value, delta)
                            value = max_ttft(stream, policy, view, seed=0)
                            if value > bound:
                                return Counterexample(n_value, r_value, u_value, d_value, delta, users, view, value, bound)
    return None


def evaluate_upper(statement: bounds.Statement, n: int, r: int, u: int, d: int, delta: object, s: object) -> Fraction:
    """An upper-bound statement's value, passing only the symbols it uses."""
    params = {"n": n, "r": r, "u": u, "d": d, "Delta": delta, "s": s}
    used = {str(x) for x in statement.bound.free_symbols}
    return statement.value(**{key: val for key, val in params.items() if key in used})


@dataclass(frozen=True)
class FrequencyRow:
    """How often a statement held over ``trials`` Definition 4 queues of size ``n``."""

    statement: str
    n: int
    trials: int
    held: int
    failure_bound: Fraction

    @property
    def frequency(self) -> float:
        """Empirical frequency of the bound holding."""
        return self.held / self.trials


def monte_carlo(
    ns: Sequence[int] = (8, 32, 128),
    r: int = 4,
    u: int = 20,
    d: int = 2,
    delta: object = 5,
    eps: object = "1/4",
    trials: int = 20,
    seed: int = 0,
) -> tuple[FrequencyRow, ...]:
    """Theorem 2 on random Definition 4 queues, batch view (``s`` = last arrival).

    For each ``n`` draws ``trials`` queues (seeds from ``seed``) and counts how often LPM (random
    ties) is at least LPM_LOWER, FCFS at least FCFS_LOWER, and k-LPM (``klpm_spec(r)``, oldest
    ties) at most KLPM_TIGHT. Failure bounds are the proofs' (LPM exact, FCFS Markov).
    """
    trials = exact_int(trials, "trials", minimum=1)
    rng = np.random.default_rng(seed)
    lpm = parse_policy("lpm", tie_break="random")
    fcfs = parse_policy("fcfs")
    klpm = klpm_spec(r)
    rows = []
    for n_value in ns:
        held = Counter()
        for _ in range(trials):
            trial_seed = int(rng.integers(2**31))
            stream = regular_arrival_shuffled_queue(n_value, r, u, d, delta, seed=trial_seed)
            params = parse_definition4(stream).params()
            held["lpm"] += max_ttft(stream, lpm, "batch", seed=trial_seed) >= bounds.LPM_LOWER.value(**params, eps=eps)
            held["fcfs"] += max_ttft(stream, fcfs, "batch") >= bounds.FCFS_LOWER.value(**params, eps=eps)
            held["klpm"] += max_ttft(stream, klpm, "batch") <= bounds.KLPM_TIGHT.value(**params)
        p = dict(n=n_value, r=r, eps=eps)
        rows += [
            FrequencyRow(bounds.LPM_LOWER.name, n_value, trials, held["lpm"], bounds.LPM_LOWER.failure_probability(**p)),
            FrequencyRow(bounds.FCFS_LOWER.name, n_value, trials, held["fcfs"], bounds.FCFS_LOWER.failure_probability(**p)),
            FrequencyRow(bounds.KLPM_TIGHT.name, n_value, trials, held["klpm"], Fraction(0)),
        ]
    return tuple(rows)


@dataclass(frozen=True)
class Corollary3Row:
    """One queue in Corollary 3's regime: the three policies' max TTFT, batch view."""

    seed: int
    lpm: Fraction
    fcfs: Fraction
    klpm: Fraction
    klpm_bound: Fraction

    @property
    def klpm_wins(self) -> bool:
        """Whether k-LPM beat both LPM and FCFS on this queue."""
        return self.klpm < self.lpm and self.klpm < self.fcfs


def corollary3_runs(
    n: int = 400, r: int = 4, u: int = 100, d: int = 5, delta: object = 50, trials: int = 5, seed: int = 0
) -> tuple[Corollary3Row, ...]:
    """Max TTFT of LPM (random ties), FCFS and k-LPM on ``trials`` random queues, batch view."""
    if not bounds.in_corollary3_region(r, u, delta):
        raise InputError(f"(r={r}, u={u}, Delta={delta}) is outside Corollary 3's region r >= 2, 0 < Delta < u")
    rows = []
    for trial in range(trials):
        trial_seed = seed + trial
        stream = regular_arrival_shuffled_queue(n, r, u, d, delta, seed=trial_seed)
        params = parse_definition4(stream).params()
        rows.append(Corollary3Row(
            trial_seed,
            max_ttft(stream, parse_policy("lpm", tie_break="random"), "batch", seed=trial_seed),
            max_ttft(stream, parse_policy("fcfs"), "batch"),
            max_ttft(stream, klpm_spec(r), "batch"),
            bounds.KLPM_TIGHT.value(**params),
        ))
    return tuple(rows)
