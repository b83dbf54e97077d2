"""Hold a computed schedule to the proven k-LPM bound of Theorem 2 (the CI check).

Given a Definition 4 stream (its parameters are read off the prompts and arrivals, not trusted
from metadata) and a processing order, re-evaluate the order with the Definition 2 evaluator and
compare its max TTFT with :data:`~prefix_sched.theory.theorem2.bounds.KLPM_TIGHT`. The bound is proven for
k-LPM with ``k = r - 1`` and ``cycle_start="fcfs"``, any tie-breaking, in two views:

- ``batch``: processing starts at ``s >= (n - 1) Delta`` (default: the last arrival);
- ``fixed``: the order is served from time 0 (Definition 2); every completion is at most the batch
  one with ``s = (n - 1) Delta``, so the same bound holds.

The online view has no proven bound (THEORY.md: the batch bound fails there, n = 10), so it is
refused rather than checked against a bound that does not hold. The bound is a theorem about
Definition 2's one-prompt cache, so an order or a run under another cache model (``cache`` of
:func:`check_order`, a schedule file's header, a run's evaluation) is refused too. It leaves out
running the policy (a simulator run is checked with :func:`check_run`; an example is in
:mod:`prefix_sched.studies.theorem2`).

Examples
--------
>>> from prefix_sched.theory.theorem2.definition4 import definition4_stream
>>> stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta=0)
>>> check_order(stream, [0, 2, 1, 3]).holds
True
>>> try:
...     assert_guarantee(check_order(stream, [1, 2, 3, 0]))
... except GuaranteeViolation as err:
...     print(err)
max TTFT 40 of query 'q0' breaks the proven k-LPM bound 30 (fixed view, s = 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import CheckFailed, InputError
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.cache import DEFAULT_CACHE, require_last_prompt
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.stream import Stream
from prefix_sched.theory.theorem2.definition4 import batch_ttfts, parse_definition4

PROVEN_VIEWS = ("batch", "fixed")
THE_BOUND = "Theorem 2's proven k-LPM bounds"
"""What :func:`~prefix_sched.theory.cache.require_last_prompt` names when it refuses a cache model."""


class GuaranteeViolation(CheckFailed):
    """A schedule's max TTFT exceeds a proven bound: a failed check (exit 1), not bad input."""


@dataclass(frozen=True)
class GuaranteeCheck:
    """The verdict for one order: its max TTFT (by the evaluator), the bound and who is worst."""

    view: str
    start: Fraction
    max_ttft: Fraction
    bound: Fraction
    worst_query: object

    @property
    def holds(self) -> bool:
        """Whether max TTFT <= bound."""
        return self.max_ttft <= self.bound


def check_order(stream: Stream, order: Sequence[int], view: str = "fixed", start: object | None = None, *,
                cache: object = DEFAULT_CACHE) -> GuaranteeCheck:
    """Evaluate ``order`` on the Definition 4 ``stream`` and compare with KLPM_TIGHT.

    ``start`` is the batch view's ``s`` (default, and the only value for ``fixed``: the last
    arrival ``(n - 1) Delta``); it may be any exact number ``>= (n - 1) Delta``, fractions included.
    ``cache`` is the model the order was made under (a schedule file's header); the bound holds
    for ``"last"`` only, so any other model is refused.

    Raises
    ------
    InputError
        If ``view`` has no proven bound, ``stream`` is not a Definition 4 stream, ``order`` is not a
        permutation of its queries, ``start`` is not an exact number ``>= (n - 1) Delta`` (for
        ``fixed``: not equal to it), or ``cache`` is not ``"last"``. A broken bound is not an
        error: see :attr:`GuaranteeCheck.holds` and :func:`assert_guarantee`.

    Examples
    --------
    >>> from prefix_sched.theory.theorem2.definition4 import definition4_stream
    >>> stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta="1/2")
    >>> check = check_order(stream, [0, 2, 1, 3], "batch", start="5/2")
    >>> check.max_ttft, check.bound, check.holds
    (Fraction(31, 1), Fraction(63, 2), True)
    >>> check_order(stream, [0, 2, 1, 3], "batch", start=1)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: the batch view needs start s >= (n - 1) Delta = 3/2, got 1
    >>> check_order(stream, [0, 2, 1, 3], cache="lru:100")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: Theorem 2's proven k-LPM bounds hold for Definition 2's one-prompt cache (cache 'last') only, not for cache 'lru:100'
    """
    require_last_prompt(cache, THE_BOUND)
    if view not in PROVEN_VIEWS:
        raise InputError(f"no proven k-LPM bound for view {view!r}; proven views: {', '.join(PROVEN_VIEWS)}")
    model = parse_definition4(stream)
    last = (model.n - 1) * model.delta
    s = last if start is None else Fraction(exact_number(start, "start s"))
    if view == "fixed" and s != last:
        raise InputError(f"the fixed view's bound uses s = (n - 1) Delta = {last}, got start {start}")
    if s < last:
        raise InputError(f"the batch view needs start s >= (n - 1) Delta = {last}, got {start}")
    if view == "batch":
        ttft = batch_ttfts(stream, order, s)
        order = tuple(order)
    else:
        evaluation = evaluate(stream, order)
        ttft, order = evaluation.ttft, evaluation.order
    worst = max(range(len(ttft)), key=lambda p: ttft[p])
    bound = bounds.KLPM_TIGHT.value(**model.params(s))
    shown_s = s if view == "batch" else Fraction(0)
    return GuaranteeCheck(view, shown_s, Fraction(ttft[worst]), bound, stream.queries[order[worst]].qid)


def check_run(stream: Stream, run: Any) -> GuaranteeCheck:
    """Check a simulator run; the run must be the k-LPM the theorem is about, at alpha = 0, B = 1.

    ``run`` is anything with ``.policy``, ``.view``, ``.order`` and ``.evaluation`` (a
    :class:`~prefix_sched.solvers.online.simulate.PolicyRun`; this layer does not import the simulator).
    The bound is for alpha = 0, batch size one and the one-prompt cache (``"last"``); a run with
    other settings is refused rather than re-evaluated under settings it did not use (for
    alpha > 0 see :func:`~prefix_sched.theory.theorem2.bounds.effective_lengths`).

    Raises
    ------
    InputError
        If the run used alpha != 0, B > 1, a cache model other than ``"last"``, or a policy other
        than k-LPM with ``k = r - 1`` and ``cycle_start="fcfs"``; and as :func:`check_order`.
    """
    model = parse_definition4(stream)
    if run.evaluation.cache != "last":
        raise InputError(
            f"the k-LPM bound is a theorem about Definition 2's one-prompt cache 'last', "
            f"got a run under cache {run.evaluation.cache!r}"
        )
    if run.evaluation.alpha != 0 or run.evaluation.batch_size != 1:
        raise InputError(
            f"the k-LPM bound is checked at alpha = 0 and batch size 1, got alpha = {run.evaluation.alpha}, "
            f"batch size {run.evaluation.batch_size}"
        )
    policy = run.policy
    if policy.k != model.r - 1 or (policy.k > 0 and policy.cycle_start != "fcfs"):
        raise InputError(
            f"the k-LPM bound is proven for k = r - 1 = {model.r - 1} with cycle_start 'fcfs', "
            f"got {policy.label}"
        )
    return check_order(stream, run.order, run.view)


def assert_guarantee(check: GuaranteeCheck) -> GuaranteeCheck:
    """Return ``check`` if it holds; raise :class:`GuaranteeViolation` naming the query otherwise."""
    if not check.holds:
        raise GuaranteeViolation(
            f"max TTFT {check.max_ttft} of query {check.worst_query!r} breaks the proven k-LPM bound "
            f"{check.bound} ({check.view} view, s = {check.start})"
        )
    return check
