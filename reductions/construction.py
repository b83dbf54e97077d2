r"""Theorem 1's reduction: a 3-PARTITION instance becomes a query stream and a TTFT bound ``T``.

The seed paper's sketch (queries A, X, Y, s, e; alpha = 0; one uniform bound ``T``) lost its
lengths, arrival times and ``T``. This module fixes them, proves the equivalence both ways below,
and turns each direction of the proof into a certificate that the Definition 2 evaluator checks.

The stream
----------
Input: sizes ``a_1 .. a_3m`` and ``B`` (``B/4 < a_i < B/2``, ``sum a_i = mB``). Choose the length
``L`` of the X queries with ``1 <= L <= B`` (default ``L = 1``: the proof holds for every such ``L``, and short X queries
let the exact DP prune more) and put::

    T   = mB + (m - 1) L                       the TTFT bound
    r_j = j (B + L)          (j = 1 .. m)      arrival of x_j

    query   prompt (segments)        arrival          length
    s       its own segment          0                T
    a_i     its own segment          T                a_i         (i = 1 .. 3m)
    x_j     segment X_j              r_j              L           (j = 1 .. m)
    y_j     segment X_j (= x_j)      r_j + T          L
    e       its own segment          T + m(B + L)     T           (= 2T + L)

Only ``x_j`` and ``y_j`` share a prompt; every other pair of prompts has overlap 0. With alpha = 0
a query costs its length, except that ``y_j`` right after ``x_j`` (or ``x_j`` right after ``y_j``)
costs 0.

Timeline of a feasible schedule (``G_j`` a group of three A queries with sizes summing to ``B``)::

    0      T      T+B     T+(B+L)       T+(j-1)(B+L)   +B    T+j(B+L)    2T+L         3T+L
    |--s---|--G_1--|--x_1--|--G_2--| ... |-----G_j-----|--x_j--| ...  --x_m--|-----e------|
                           y_1 (cost 0)                        y_j (cost 0)  y_m

Theorem (the reading implemented here). The stream has an order with every TTFT ``<= T`` if and
only if the instance has a 3-partition.

Proof, partition => schedule. Given groups ``G_1 .. G_m``, process
``s, G_1, x_1, y_1, G_2, x_2, y_2, ..., G_m, x_m, y_m, e``. No query waits (each has arrived when
the server turns to it) and the clock advances by costs only:

- ``s`` runs in ``[0, T]``: TTFT ``T``.
- An A query of ``G_j`` starts at ``>= T`` (its arrival) and completes by
  ``T + (j-1)(B+L) + B <= T + mB + (m-1)L = 2T``: TTFT ``<= T``.
- ``x_j`` starts at ``T + (j-1)(B+L) + B >= j(B+L) = r_j`` (as ``T >= B >= L``) and completes at
  ``T + j(B+L) = r_j + T``: TTFT ``T``.
- ``y_j`` arrives at ``r_j + T``, exactly when ``x_j`` completes, and costs 0: TTFT 0.
- ``e`` arrives at ``T + m(B+L)``, exactly when ``y_m`` completes, and runs for ``T``: TTFT ``T``.

Proof, schedule => partition. Take an order with every TTFT ``<= T``.

1. ``s`` is first and runs in ``[0, T]``: the first query costs its full length (the cache starts
   empty), so anything before ``s`` delays its start past 0 and its completion past ``T``.
2. ``e`` starts at its arrival ``t_e = 2T + L``: it costs ``T`` after any prompt and its deadline is
   ``t_e + T``. So every query before ``e`` has completed by ``t_e``.
3. Nothing runs after ``e``: such a query completes after ``t_e + T = 3T + L``, but the deadlines
   are ``2T`` (A), ``r_j + T <= 2T + L`` (x_j) and ``r_j + 2T <= 3T + L`` for y_j, whose cost after
   ``e`` is ``L`` (its twin ``x_j`` cannot run after ``e``), so it completes at ``>= 3T + 2L``.
4. So the 5m middle queries run in the window ``[T, t_e]`` of length ``T + L = m(B + L)``, and
   their costs sum to at most that. An A query costs ``a_i`` whatever precedes it. Of a pair
   ``x_j, y_j`` each costs ``L`` unless its twin is right before it, which holds for at most one
   of the two: the pair costs ``>= L``, and exactly ``L`` only when the twins are adjacent. The
   costs sum to ``>= mB + mL``: equality holds, so (a) all twins are adjacent, (b) there is no
   idle time in ``[T, t_e]`` (every middle query has arrived when its predecessor completes).
5. ``x_j`` comes before ``y_j``: otherwise ``y_j`` costs ``L`` and starts at ``>= r_j + T``, and
   ``x_j`` (cost 0 after it) completes at ``>= r_j + T + L``, past its deadline ``r_j + T``. So
   ``y_j`` follows ``x_j`` and by (b) ``r_j + T <= c(x_j)``; with ``x_j``'s deadline,
   ``c(x_j) = r_j + T = T + j(B+L)``: ``x_j`` occupies ``[T + j(B+L) - L, T + j(B+L)]``.
6. The rest of the window, ``I_j = [T + (j-1)(B+L), T + (j-1)(B+L) + B]`` for ``j = 1 .. m``, is
   busy by (b) and only A queries can fill it (the X slots are taken, Y queries take no time).
   Processing is non-preemptive, so each A query lies inside one ``I_j``: the A queries in
   ``I_j`` (in the order: those between ``x_{j-1}`` and ``x_j``) sum to exactly ``B``, and
   ``B/4 < a_i < B/2`` makes them three. These groups are a 3-partition. QED

Why each part is there (``tests/reductions/test_construction_necessity.py`` checks each with the solvers):
``s`` closes the window's left end (without it an X query runs before ``T`` and its twin is paid
for inside the window, which lets the gaps take sums other than ``B``); ``e`` closes the right end
(without it Y queries are paid for after the window and every instance is feasible); ``y_j``
identical to ``x_j`` is the only reuse in the stream (without it the window is ``mL`` too short and
every instance is infeasible); ``T`` is the least bound for which the A queries fit (built from
``T - 1``, every instance is infeasible, as step 6 then puts the last group past ``t_A + T``).

What it leaves out: deciding either side (:mod:`prefix_sched.reductions.three_partition`,
:mod:`prefix_sched.solvers.exact.dp`); the battery (:mod:`prefix_sched.reductions.verify`).

Examples
--------
>>> from prefix_sched.reductions.three_partition import ThreePartition
>>> c = construct(ThreePartition((5, 6, 7, 5, 5, 8), 18), x_length=2)
>>> c.ttft, c.stream.n, c.window
(38, 12, (38, 78))
>>> order = schedule_from_partition(c, ((0, 3, 5), (1, 2, 4)))
>>> certify_schedule(c, order).max_ttft
38
>>> partition_from_schedule(c, order)
((0, 3, 5), (1, 2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from prefix_sched.errors import CheckFailed, InputError
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.stream import Stream

from prefix_sched.reductions.three_partition import ThreePartition


DEFAULT_X_LENGTH = 1


class CertificateError(CheckFailed):
    """A certificate failed: a schedule the evaluator rejects, or a schedule that maps to no partition.

    Either would refute the reduction's proof for the instance at hand; the message says which. It
    is a failed check (exit 1), not bad input.
    """


class Change(str, Enum):
    """Deliberate changes to the construction, each of which breaks the equivalence."""

    TTFT_ONE_LESS = "ttft-one-less"  # every time built from T - 1
    Y_DIFFERS = "y-differs"  # y_j gets its own segment
    NO_S = "no-s"
    NO_E = "no-e"


@dataclass(frozen=True)
class Construction:
    """The stream built from a 3-PARTITION instance, with its bound and layout.

    Attributes
    ----------
    instance : ThreePartition
    stream : Stream
        Queries in the order ``s, a_1 .. a_3m, x_1 .. x_m, y_1 .. y_m, e`` (ids ``"s"``, ``"a1"``,
        ..., ``"x1"``, ..., ``"y1"``, ..., ``"e"``); ``s`` or ``e`` is absent under those changes.
    ttft : int
        The bound ``T``.
    x_length : int
        ``L``.
    change : Change or None
        The deliberate change, if any (None: the reduction proper).
    """

    instance: ThreePartition
    stream: Stream
    ttft: int
    x_length: int
    change: Change | None = None

    @property
    def window(self) -> tuple[int, int]:
        """``(T, T + m(B+L))``: where A, X and Y run in every feasible schedule."""
        m, bound = self.instance.m, self.instance.bound
        return self.ttft, self.ttft + m * (bound + self.x_length)

    def index(self, qid: str) -> int:
        """Query index of ``qid`` (``"s"``, ``"a3"``, ``"x1"``, ...)."""
        return self.stream.index_of(qid)


def construct(instance: ThreePartition, *, x_length: int | None = None) -> Construction:
    """Build the Theorem 1 stream and bound ``T = mB + (m-1)L`` for ``instance`` (see module docstring).

    Parameters
    ----------
    instance : ThreePartition
    x_length : int, optional
        ``L``, with ``1 <= L <= B``; default 1.
    """
    length = check_x_length(x_length, instance.bound)
    ttft = instance.m * instance.bound + (instance.m - 1) * length
    return _build(instance, length, ttft, None)


def check_x_length(x_length: int | None, bound: int) -> int:
    """Return ``L`` (default :data:`DEFAULT_X_LENGTH`), or raise InputError unless ``1 <= L <= B``."""
    length = DEFAULT_X_LENGTH if x_length is None else x_length
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= bound:
        raise InputError(f"x_length L must be an integer with 1 <= L <= B = {bound}, got {x_length!r}")
    return length


def construct_changed(instance: ThreePartition, change: Change | str, *, x_length: int | None = None) -> Construction:
    """The construction with one deliberate change (:class:`Change`), to show each part is needed.

    ``ttft-one-less`` builds every time and length from ``T - 1``; ``y-differs`` gives each ``y_j``
    its own segment; ``no-s`` / ``no-e`` drop that query.
    """
    try:
        change = Change(change)
    except ValueError:
        raise InputError(f"unknown change {change!r}; expected one of {[c.value for c in Change]}") from None
    proper = construct(instance, x_length=x_length)
    ttft = proper.ttft - 1 if change is Change.TTFT_ONE_LESS else proper.ttft
    return _build(instance, proper.x_length, ttft, change)


def _build(instance: ThreePartition, length: int, ttft: int, change: Change | None) -> Construction:
    m, bound = instance.m, instance.bound
    records = []
    if change is not Change.NO_S:
        records.append(("s", (("S", ttft),), 0))
    for i, a in enumerate(instance.sizes, start=1):
        records.append((f"a{i}", ((f"A{i}", a),), ttft))
    for j in range(1, m + 1):
        records.append((f"x{j}", ((f"X{j}", length),), j * (bound + length)))
    for j in range(1, m + 1):
        segment = f"Y{j}" if change is Change.Y_DIFFERS else f"X{j}"
        records.append((f"y{j}", ((segment, length),), j * (bound + length) + ttft))
    if change is not Change.NO_E:
        records.append(("e", (("E", ttft),), ttft + m * (bound + length)))
    meta = {"reduction": "theorem-1", "B": bound, "m": m, "L": length, "T": ttft,
            "change": None if change is None else change.value}
    return Construction(instance, Stream.from_records(records, meta), ttft, length, change)


def schedule_from_partition(construction: Construction, groups: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The order ``s, G_1, x_1, y_1, ..., G_m, x_m, y_m, e`` for a 3-partition ``groups``.

    ``groups`` are index triples into ``instance.sizes``; they are checked to be a 3-partition.
    Check the order with :func:`certify_schedule`.
    """
    construction.instance.check_partition(groups)
    c = construction
    order = [c.index("s")]
    for j, group in enumerate(groups, start=1):
        order += [c.index(f"a{i + 1}") for i in group]
        order += [c.index(f"x{j}"), c.index(f"y{j}")]
    order.append(c.index("e"))
    return tuple(order)


def certify_schedule(construction: Construction, order: Sequence[int]) -> Evaluation:
    """Evaluate ``order`` with the Definition 2 evaluator (alpha = 0) and require max TTFT <= T.

    Raises
    ------
    CertificateError
        If some query's TTFT exceeds ``T`` (the message names the first such query).
    """
    evaluation = evaluate(construction.stream, order, alpha=0)
    for index, ttft in zip(evaluation.order, evaluation.ttft):
        if ttft > construction.ttft:
            qid = construction.stream.queries[index].qid
            raise CertificateError(f"the schedule gives query {qid!r} TTFT {ttft} > T = {construction.ttft}")
    return evaluation


def partition_from_schedule(construction: Construction, order: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Read the 3-partition off a feasible order (step 6 of the proof) and check it.

    Group ``j`` is the set of A queries between ``x_{j-1}`` and ``x_j`` in the order. The order is
    first checked by :func:`certify_schedule`.

    Raises
    ------
    CertificateError
        If the order is not feasible, or its groups are not a 3-partition (which would refute the
        proof for this instance).
    """
    certify_schedule(construction, order)
    queries = construction.stream.queries
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    for index in order:
        qid = str(queries[index].qid)
        if qid.startswith("a"):
            current.append(int(qid[1:]) - 1)
        elif qid.startswith("x"):
            groups.append(tuple(sorted(current)))
            current = []
    try:
        construction.instance.check_partition(groups)
    except InputError as err:
        raise CertificateError(f"a feasible schedule maps to no 3-partition: {err}") from err
    return tuple(groups)
