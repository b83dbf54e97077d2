"""The reduction's self-check: decide both sides for a battery of instances and compare.

For each 3-PARTITION instance: decide it exactly (:func:`~prefix_sched.reductions.three_partition.decide_partition`),
build the Theorem 1 stream (:func:`~prefix_sched.reductions.construction.construct`), decide TTFT
feasibility with an exact solver (:func:`decide_ttft`), and check the certificates both ways:

- partition -> schedule: the partition's order is accepted by the Definition 2 evaluator;
- schedule -> partition: the solver's feasible order (checked by the evaluator) maps back to a
  3-partition, which is checked.

A case passes when both answers agree, neither is unknown, and every certificate checks. The
default battery is yes- and no-instances for ``m = 1 .. 5``; no no-instance exists for ``m = 1``
(three sizes summing to ``B`` are a partition), which the battery reports as such instead of
drawing one.

What it leaves out: the command line (:mod:`prefix_sched.commands.verify_reduction`) and timing
studies (``benchmarks/reduction.py``).

Examples
--------
>>> from prefix_sched.reductions.three_partition import ThreePartition
>>> case = run_case(ThreePartition((5, 6, 7, 5, 5, 8), 18), kind="input")
>>> print(case.partition_answer, case.ttft_status, case.certificates, case.ok)
True FEASIBLE ('partition->schedule', 'schedule->partition') True
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.provenance import package_versions
from prefix_sched.solvers import exact
from prefix_sched.solvers.deadline import Deadline
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.solvers.status import Solver, Status, parse_solver
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.stream import Stream

from prefix_sched.reductions.construction import (
    CertificateError,
    certify_schedule,
    check_x_length,
    construct,
    partition_from_schedule,
    schedule_from_partition,
)
from prefix_sched.reductions.three_partition import (
    DEFAULT_BOUND,
    ThreePartition,
    certified_no,
    check_bound,
    decide_partition,
    planted_yes,
)

ENGINES = (Solver.DP, Solver.CPSAT)
ENGINE_NAMES = tuple(engine.value for engine in ENGINES)  # the engines a case can run, by name
DEFAULT_SOLVER = Solver.DP.value
FEASIBLE, INFEASIBLE, UNKNOWN = Status.FEASIBLE, Status.INFEASIBLE, Status.UNKNOWN
DEFAULT_MS = (1, 2, 3, 4, 5)
DEFAULT_COUNT = 3
DEFAULT_COUNT_LARGE = 1  # m >= LARGE_M: the DP needs about 2 minutes and 1.3 GB per instance at m = 5
LARGE_M = 5
DEFAULT_WORKERS = 2
DEFAULT_TIME_LIMIT = 300.0
DP_MAX_STATES = 30_000_000
KINDS = ("yes", "no")
REPORT_FORMAT = "prefix-sched.verify-reduction"
VERSION = 1


@dataclass(frozen=True)
class TTFTVerdict:
    """An exact solver's answer to "is there an order with every TTFT <= T?".

    Attributes
    ----------
    status : Status
        FEASIBLE comes with ``order`` and its ``evaluation`` (max TTFT <= T, checked by the
        evaluator); INFEASIBLE is a proof by the solver; UNKNOWN is no answer (time or state cap).
    solver : str
    seconds : float
        Wall time of the solver.
    detail : str
        Why UNKNOWN, or the solver's own statistics.
    """

    status: Status
    solver: str
    seconds: float
    order: tuple[int, ...] | None = None
    evaluation: Evaluation | None = None
    detail: str = ""


def decide_ttft(
    stream: Stream, ttft: object, *, solver: str = DEFAULT_SOLVER,
    time_limit: float | Deadline = DEFAULT_TIME_LIMIT, max_states: int = DP_MAX_STATES,
) -> TTFTVerdict:
    """Decide TTFT feasibility of ``stream`` under bound ``ttft`` (alpha = 0) with an exact solver.

    ``dp`` runs :func:`~prefix_sched.solvers.exact.dp.feasible_endings` in a child process that is
    stopped when ``time_limit`` (seconds, or a :class:`~prefix_sched.solvers.deadline.Deadline`
    shared with the caller; the child's start-up counts) passes, and the answer is then UNKNOWN;
    ``cpsat`` runs :func:`prefix_sched.solvers.exact.decide` with CP-SAT alone (no warm-start
    shortcut) under the same deadline. The DP's processes come from a server started once per
    Python process (:func:`dp_processes`, before any clock starts). A feasible order is re-evaluated here; if the evaluator
    finds a TTFT above the bound, CertificateError is raised.
    """
    engine = parse_solver(solver, allowed=ENGINES)
    if engine is Solver.DP and not isinstance(time_limit, Deadline):
        dp_processes()  # the one-off server start is not the decision's time
    stop = Deadline.of(time_limit)
    bound = exact_number(ttft, "TTFT bound T", minimum=0)
    started = time.monotonic()
    if engine is Solver.CPSAT:
        result = exact.decide(stream, bound, solver=engine, time_limit=stop, shortcut=False)
        status, order, detail = result.status, result.order, f"CP-SAT, {result.settings['workers']} worker(s)"
        if status == UNKNOWN:
            detail += "; time limit reached"
    else:
        status, order, detail = _run_dp(stream, bound, stop, max_states)
    seconds = time.monotonic() - started
    evaluation = None
    if status == FEASIBLE:
        evaluation = evaluate(stream, order, alpha=0)
        if evaluation.max_ttft > bound:
            raise CertificateError(f"solver {engine} returned an order with max TTFT {evaluation.max_ttft} > T = {bound}")
    return TTFTVerdict(status, engine.value, seconds, order, evaluation, detail)


@functools.cache
def dp_processes():
    """The multiprocessing context the DP runs in, its server started and warmed up (once).

    forkserver: safe when the battery runs cases from several threads. Its server imports this
    module (ortools, numpy: one to two seconds) before it forks the first child; a first child that
    does nothing waits for that here, so that a case's time limit is not spent on it.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    warm_up = context.Process(target=_nothing, daemon=True)
    warm_up.start()
    warm_up.join()
    return context


def _nothing() -> None:
    """The warm-up child's work."""


_RUNNING: set = set()  # the DP children now at work, so that an interrupt can stop them
_RUNNING_LOCK = threading.Lock()


def stop_running_children() -> None:
    """Kill every DP child still at work (their cases then end at once as UNKNOWN)."""
    with _RUNNING_LOCK:
        for process in _RUNNING:
            process.kill()


def _run_dp(stream: Stream, bound, stop: Deadline, max_states: int) -> tuple[Status, tuple[int, ...] | None, str]:
    context = dp_processes()  # the stream travels to the child as records
    records = [(q.qid, q.prompt, q.arrival) for q in stream.queries]
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_dp_child, args=(sender, records, bound, max_states), daemon=True)
    with _RUNNING_LOCK:
        process.start()
        _RUNNING.add(process)
    sender.close()
    try:
        left = stop.remaining()
        if not receiver.poll(None if left == math.inf else left):
            process.kill()
            return UNKNOWN, None, "time limit reached"
        try:
            status, order, states = receiver.recv()
        except EOFError:
            return UNKNOWN, None, f"the DP process ended without an answer (exit code {process.exitcode})"
    finally:
        process.join()
        receiver.close()
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    detail = f"{states} states" + (f" (cap {max_states} reached)" if status == UNKNOWN else "")
    return Status(status), order, detail


def _dp_child(sender, records, bound, max_states: int) -> None:
    result = feasible_endings(Stream.from_records(records), bound, max_states=max_states)
    sender.send((result.status, result.best_order(), result.states))
    sender.close()


@dataclass(frozen=True)
class CaseReport:
    """One instance of the battery, both answers and the certificates checked.

    ``kind`` is ``"yes"`` (planted), ``"no"`` (certified by the decider), ``"input"`` (the user's)
    or ``"no (impossible)"`` for ``m = 1`` no-instances, which do not exist (then ``instance`` is
    None and the row only records that). ``problem`` is None when the case passes.
    """

    m: int
    kind: str
    seed: tuple[int, ...] | None
    instance: ThreePartition | None
    partition_answer: bool | None = None
    partition_groups: tuple[tuple[int, ...], ...] | None = None
    partition_seconds: float = 0.0
    ttft: int | None = None
    ttft_status: Status | None = None
    solver: str | None = None
    ttft_seconds: float = 0.0
    ttft_detail: str = ""
    order_ids: tuple[str, ...] | None = None
    certificates: tuple[str, ...] = ()
    problem: str | None = None
    failed_checks: int = 0

    @property
    def ok(self) -> bool:
        """Whether the case passed (an impossible case passes: it asserts a fact about m = 1)."""
        return self.problem is None

    @property
    def undecided(self) -> bool:
        """Whether the case's only problem is an unknown TTFT answer (no check failed)."""
        return not self.ok and self.failed_checks == 0

    @property
    def seconds(self) -> float:
        """Both deciders' wall time."""
        return self.partition_seconds + self.ttft_seconds

    def to_json(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "m": self.m, "kind": self.kind, "seed": None if self.seed is None else list(self.seed),
            "B": None if inst is None else inst.bound, "sizes": None if inst is None else list(inst.sizes),
            "three_partition": self.partition_answer,
            "partition": None if self.partition_groups is None else [list(g) for g in self.partition_groups],
            "partition_seconds": round(self.partition_seconds, 6),
            "T": self.ttft, "ttft_status": self.ttft_status, "solver": self.solver,
            "ttft_seconds": round(self.ttft_seconds, 6), "solver_detail": self.ttft_detail,
            "feasible_order": None if self.order_ids is None else list(self.order_ids),
            "certificates": list(self.certificates), "ok": self.ok, "problem": self.problem,
        }


def run_case(
    instance: ThreePartition, *, kind: str, seed: tuple[int, ...] | None = None, solver: str = DEFAULT_SOLVER,
    time_limit: float = DEFAULT_TIME_LIMIT, x_length: int | None = None,
) -> CaseReport:
    """Decide ``instance`` both ways, check the certificates, and say whether everything agrees.

    ``time_limit`` is the case's: its clock starts here, so the TTFT decision gets what the
    3-PARTITION decision and the construction left (a time-out is UNKNOWN, a failed case).
    """
    if parse_solver(solver, allowed=ENGINES) is Solver.DP:
        dp_processes()
    stop = Deadline.of(time_limit)
    started = time.monotonic()
    partition = decide_partition(instance)
    partition_seconds = time.monotonic() - started
    construction = construct(instance, x_length=x_length)
    base = dict(m=instance.m, kind=kind, seed=seed, instance=instance, partition_answer=partition.answer,
                partition_groups=partition.groups, partition_seconds=partition_seconds,
                ttft=construction.ttft, solver=solver)
    certificates, problems = [], []
    if partition.answer:
        try:
            certify_schedule(construction, schedule_from_partition(construction, partition.groups))
            certificates.append("partition->schedule")
        except CertificateError as err:
            problems.append(f"certificate failed: {err}")
    try:
        verdict = decide_ttft(construction.stream, construction.ttft, solver=solver, time_limit=stop)
    except CertificateError as err:
        problems.append(f"certificate failed: {err}")
        return CaseReport(**base, certificates=tuple(certificates), problem="; ".join(problems),
                          failed_checks=len(problems))
    base.update(ttft_status=verdict.status, ttft_seconds=verdict.seconds, ttft_detail=verdict.detail)
    if verdict.order is not None:
        base["order_ids"] = tuple(str(construction.stream.queries[i].qid) for i in verdict.order)
    disagreement = _disagreement(kind, partition.answer, verdict)
    if disagreement:
        problems.insert(0, disagreement)
    if verdict.status == FEASIBLE:
        try:
            partition_from_schedule(construction, verdict.order)
            certificates.append("schedule->partition")
        except CertificateError as err:
            problems.append(f"certificate failed: {err}")
    failed = len(problems) - (verdict.status == UNKNOWN)
    return CaseReport(**base, certificates=tuple(certificates), problem="; ".join(problems) or None,
                      failed_checks=failed)


def _disagreement(kind: str, answer: bool, verdict: TTFTVerdict) -> str | None:
    if verdict.status == UNKNOWN:
        return f"TTFT feasibility unknown ({verdict.solver}: {verdict.detail})"
    if kind in KINDS and answer != (kind == "yes"):
        return f"generated as a {kind}-instance but the 3-PARTITION decider says {'yes' if answer else 'no'}"
    if answer != (verdict.status == FEASIBLE):
        return (f"disagreement: 3-PARTITION says {'yes' if answer else 'no'}, "
                f"TTFT feasibility says {verdict.status}")
    return None


def impossible_case(m: int) -> CaseReport:
    """The row reporting that no m = 1 no-instance exists."""
    return CaseReport(m=m, kind="no (impossible)", seed=None, instance=None,
                      ttft_detail="every valid m = 1 instance is a yes-instance")


@dataclass(frozen=True)
class BatterySettings:
    """What the battery runs: ``count`` yes- and ``count`` no-instances for each ``m`` in ``ms``.

    ``count`` None means :data:`DEFAULT_COUNT` per kind for ``m < 5`` and :data:`DEFAULT_COUNT_LARGE`
    from ``m = 5`` on (the exact DP takes minutes there). Case ``k`` of kind ``kind`` for ``m`` is
    drawn with the seed ``(seed, m, kind, k)`` (kind 0 = yes, 1 = no), so any case can be rebuilt.
    ``workers`` cases are decided at once (each in its own process).
    """

    ms: tuple[int, ...] = DEFAULT_MS
    count: int | None = None
    seed: int = 0
    bound: int = DEFAULT_BOUND
    x_length: int | None = None
    solver: str = DEFAULT_SOLVER
    time_limit: float = DEFAULT_TIME_LIMIT
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if not self.ms or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in self.ms):
            raise InputError(f"m values must be integers >= 1, got {list(self.ms)}")
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)
                                       or self.count < 1):
            raise InputError(f"count must be an integer >= 1, got {self.count!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(f"workers must be an integer >= 1, got {self.workers!r}")
        parse_solver(self.solver, allowed=ENGINES)
        check_bound(self.bound)
        check_x_length(self.x_length, self.bound)
        if not self.time_limit > 0:
            raise InputError(f"time limit must be > 0 seconds, got {self.time_limit!r}")

    def cases(self) -> Iterator[tuple[int, str, tuple[int, ...] | None]]:
        """``(m, kind, seed)`` for every case, in battery order (``seed`` None: impossible)."""
        for m in self.ms:
            for code, kind in enumerate(KINDS):
                if kind == "no" and m == 1:
                    yield m, kind, None
                    continue
                for k in range(self.count_for(m)):
                    yield m, kind, (self.seed, m, code, k)

    def count_for(self, m: int) -> int:
        """Instances per kind for ``m``."""
        if self.count is not None:
            return self.count
        return DEFAULT_COUNT if m < LARGE_M else DEFAULT_COUNT_LARGE

    def to_json(self) -> dict[str, Any]:
        return {"m": list(self.ms), "count_per_m": {str(m): self.count_for(m) for m in self.ms},
                "seed": self.seed, "B": self.bound, "x_length": self.x_length, "solver": self.solver,
                "time_limit_s": self.time_limit, "workers": self.workers}


def instance_for(m: int, kind: str, seed: tuple[int, ...], bound: int) -> ThreePartition:
    """The battery's instance for one case (a planted yes or a certified no)."""
    rng = np.random.default_rng(seed)
    return planted_yes(m, bound, seed=rng) if kind == "yes" else certified_no(m, bound, seed=rng)


def run_battery(
    settings: BatterySettings, *, on_case: Callable[[int, int, CaseReport, str], None] | None = None
) -> list[CaseReport]:
    """Run every case of ``settings`` (``workers`` at once); reports come back in battery order.

    ``on_case(done, total, report, label)`` is called, from the calling thread, as cases finish.
    """
    cases = list(settings.cases())
    labels = [f"m={m} {kind}" + ("" if seed is None else f" #{seed[-1]}") for m, kind, seed in cases]
    reports: list[CaseReport | None] = [None] * len(cases)
    pool = ThreadPoolExecutor(max_workers=settings.workers)
    try:
        futures = {pool.submit(_battery_case, settings, *case): index for index, case in enumerate(cases)}
        for done, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            reports[index] = future.result()
            if on_case:
                on_case(done, len(cases), reports[index], labels[index])
    except BaseException:
        # Ctrl-C or a failed case: drop the queued cases and stop the running DP children, so the
        # interpreter does not wait for the whole battery before it exits.
        pool.shutdown(wait=False, cancel_futures=True)
        stop_running_children()
        raise
    pool.shutdown()
    return reports


def _battery_case(settings: BatterySettings, m: int, kind: str, seed: tuple[int, ...] | None) -> CaseReport:
    if seed is None:
        return impossible_case(m)
    instance = instance_for(m, kind, seed, settings.bound)
    return run_case(instance, kind=kind, seed=seed, solver=settings.solver, time_limit=settings.time_limit,
                    x_length=settings.x_length)


def versions() -> dict[str, str]:
    """Versions of what the verdicts depend on."""
    return package_versions("prefix-sched", "ortools", "numpy")


@dataclass(frozen=True)
class Summary:
    """Counts over a battery's reports."""

    reports: Sequence[CaseReport] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def decided(self) -> int:
        return sum(1 for r in self.reports if r.ttft_status in (FEASIBLE, INFEASIBLE))

    @property
    def failures(self) -> list[CaseReport]:
        return [r for r in self.reports if not r.ok]

    @property
    def exit_status(self) -> int:
        """1 if a check failed in some case, else 3 if some case stayed unknown, else 0."""
        if any(not r.ok and not r.undecided for r in self.reports):
            return Status.INFEASIBLE.exit_code
        if any(r.undecided for r in self.reports):
            return Status.UNKNOWN.exit_code
        return Status.FEASIBLE.exit_code


def report_json(reports: Sequence[CaseReport], settings: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The machine-readable report (``prefix-sched.verify-reduction`` version 1)."""
    summary = Summary(tuple(reports))
    return {
        "format": REPORT_FORMAT, "version": VERSION, "settings": settings, "versions": versions(),
        "ok": summary.ok, "cases": len(reports), "decided": summary.decided,
        "failures": len(summary.failures), "wall_seconds": round(seconds, 3),
        "reduction": "Theorem 1: T = mB + (m-1)L; see prefix_sched.reductions.construction",
        "results": [r.to_json() for r in reports],
    }
