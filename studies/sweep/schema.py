"""The rows of a sweep's results: their columns, what each column may hold, and the check of a row
read back.

A policy cell's row has the columns :data:`COLUMNS` (settings, ``status`` and ``error``, the
measures of :data:`SWEEP_MEASURES`, ``exact`` and ``versions``); a serving cell's row
:data:`SERVING_COLUMNS` (:data:`SERVING_MEASURES` among them); :data:`SCHEMAS` maps each kind to its
columns. :func:`check_record` refuses a row read back whose value in some column is not what a sweep
writes there (types, no NaN or infinity, labels and settings that parse, seeds and counts in range),
naming the place and the column. The file formats, resuming and the folder are
:mod:`~prefix_sched.studies.sweep.results`'s; what a column means is in its module docstring.

Examples
--------
>>> [name for name, kind in COLUMNS][:5]
['cell', 'stream', 'variant', 'source', 'load']
>>> check_record(blank_record("c0ffee") | {"status": "ok"}, "r.csv:2")
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: r.csv:2: column cell must be a cell key of 16 hex digits, got 'c0ffee'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from fractions import Fraction
from typing import Any

from prefix_sched.errors import FormatError, InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import CYCLE_STARTS, TIE_BREAKS, PolicyName, parse_k
from prefix_sched.solvers.online.simulate import VIEWS
from prefix_sched.solvers.serving.engine import PREFIX_CACHES
from prefix_sched.solvers.serving.registry import MAX_ENGINES, parse_scheduler
from prefix_sched.solvers.serving.routers import parse_router
from prefix_sched.studies.rows import PolicyRow
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.limits import FLOAT_MAX
from prefix_sched.theory.measures import MEASURES
from prefix_sched.theory.numbers import brief
from prefix_sched.theory.parameters import INT64_MAX, SEED_MAX, read_number
from prefix_sched.theory.serving.objectives import parse_objective
from prefix_sched.theory.serving.requests import parse_classes

SWEEP_MEASURES = ("count", "mean", "p50", "p90", "p99", "max", "makespan", "reused", "reused_share", "violations")
"""The measures a sweep can record (:data:`~prefix_sched.theory.measures.MEASURES`), in the order
of their columns; a spec's ``metrics`` picks from them (default all, ``violations`` only with
``ttft``). Persisted: the columns and the cell keys depend on this order."""
STR, INT, FLOAT = "str", "int", "float"
COLUMNS: tuple[tuple[str, str], ...] = (
    ("cell", STR), ("stream", STR), ("variant", STR), ("source", STR), ("load", STR), ("offered_load", FLOAT),
    ("policy", STR), ("k", STR), ("tie_break", STR), ("cycle_start", STR), ("cache", STR), ("seed", INT),
    ("alpha", STR), ("view", STR), ("batch_size", INT), ("ttft_bound", STR), ("status", STR), ("error", STR),
    *((name, INT if MEASURES[name].integer else FLOAT) for name in SWEEP_MEASURES),
    ("exact", STR), ("versions", STR),
)
SERVING_MEASURES: tuple[tuple[str, str], ...] = (
    ("requests", INT), ("ttft_p50", FLOAT), ("ttft_p90", FLOAT), ("ttft_p99", FLOAT), ("ttft_max", FLOAT),
    ("tbt_p50", FLOAT), ("tbt_p99", FLOAT), ("tbt_max", FLOAT), ("tpot_mean", FLOAT), ("tpot_p99", FLOAT),
    ("delay_p50", FLOAT), ("delay_p99", FLOAT), ("e2e_p50", FLOAT), ("e2e_p99", FLOAT),
    ("throughput_tok_s", FLOAT), ("goodput_req_s", FLOAT), ("met", INT), ("preemptions", INT), ("reused", INT),
    ("reused_share", FLOAT), ("iterations", INT), ("imbalance", FLOAT), ("objective_met", INT),
)
"""The measures of a serving row, in the order of their columns: the names of
:func:`~prefix_sched.theory.serving.measures.summarize` for all requests (times in microseconds,
throughput in output tokens/s, goodput in requests/s), ``reused`` and ``reused_share`` as in
:mod:`~prefix_sched.theory.measures` (prompt tokens found in the prefix cache, and their share of
all prompt tokens), the run's ``iterations`` and ``preemptions``, ``imbalance`` (the most requests
on one engine over the mean; 1 for one engine) and ``objective_met`` (1 when the run meets the
spec's objective, 0 when not, empty without one). Persisted: the columns and the keys depend on it."""
SERVING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cell", STR), ("trace", STR), ("variant", STR), ("source", STR), ("rate", STR), ("offered_rate", FLOAT),
    ("classes", STR), ("scheduler", STR), ("order", STR), ("router", STR), ("engines", INT), ("prefix_cache", STR),
    ("cost", STR), ("budget", INT), ("kv_tokens", INT), ("block_size", INT), ("max_seqs", INT), ("seed", INT),
    ("objective", STR), ("status", STR), ("error", STR), *SERVING_MEASURES,
    ("per_class", STR), ("exact", STR), ("engine", STR), ("versions", STR),
)
TIMING_COLUMNS: tuple[tuple[str, str], ...] = (("cell", STR), ("wall_s", FLOAT), ("host", STR))
SCHEMAS = {"policy": COLUMNS, "serving": SERVING_COLUMNS}
"""The row schema of each kind of cell."""

Record = dict[str, Any]
"""One line of a results file, by column (:data:`COLUMNS`)."""


def blank_record(cell: str, columns=COLUMNS) -> Record:
    """A record of ``columns`` for ``cell`` with every other value empty (``""`` or None)."""
    return {name: (cell if name == "cell" else "" if kind == STR else None) for name, kind in columns}


def measure_columns(row: PolicyRow) -> Record:
    """The measures ``row`` holds as their columns: integers as they are, the rest as floats."""
    return {name: value if MEASURES[name].integer else float(Fraction(value))
            for name, value in row.measured().items()}


# --- what a row may hold, column by column ----------------------------------------------------

_CELL = re.compile(r"[0-9a-f]{16}\Z")
_LABEL = re.compile(r"[A-Za-z0-9_-]+\Z")
_VARIANT = re.compile(r"([a-z_]+=[0-9./-]+(,[a-z_]+=[0-9./-]+)*)?\Z")


def _json_object(value: str) -> str | None:
    try:
        return None if isinstance(json.loads(value), dict) else "must be a JSON object"
    except (ValueError, RecursionError):
        return "must be JSON"


def _exact_object(value: str) -> str | None:
    """The ``exact`` column: a JSON object of exact numbers (an integer, or text like ``"7/3"``) or null."""
    problem = _json_object(value)
    if problem is not None:
        return problem
    for key, number in json.loads(value).items():
        if number is None or type(number) is int:
            continue
        if type(number) is not str or _exact_text(number.removeprefix("-")) is not None:
            return f"must hold exact numbers (an integer or text like \"7/3\"), and {brief(key)} is {brief(number)}"
    return None


def _exact_text(value: str, above: bool = False, empty: bool = False, as_given: bool = False) -> str | None:
    if empty and value == "" or as_given and value == AS_GIVEN_TEXT:
        return None
    try:
        number = read_number(value, "value")
    except InputError:
        return "must be an exact number like 3, 2.5 or 7/3" + (" or 'as-given'" if as_given else "")
    if number < 0 or (above and number == 0):
        return f"must be {'> 0' if above else '>= 0'}"
    if number > FLOAT_MAX:
        return "must lie in a float's range"
    return None


def _parses(parse: Callable[[str], Any], empty: bool = False) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if empty and value == "":
            return None
        try:
            parse(value)
        except (PrefixSchedError, ValueError, TypeError) as err:
            return f"does not parse ({err})"
        return None
    return check


def _policy_label(value: str) -> str | None:
    base, _, rest = value.partition("(")
    if base not in {p.value for p in PolicyName} or (rest and not rest.endswith(")")):
        return "must be a policy label like 'fcfs' or 'k-lpm(k=3)'"
    if base == PolicyName.KLPM.value:
        k = rest.removeprefix("k=").split(")")[0].split(",")[0]
        if not rest.startswith("k=") or _parses(parse_k)(k) is not None:
            return "must be a k-lpm label like 'k-lpm(k=3)' or 'k-lpm(k=inf)'"
    return None


def _k_text(value: str) -> str | None:
    return None if value == "None" or _parses(parse_k)(value) is None else "must be an integer >= 0, 'inf' or 'None'"


def _one_of(valid: Collection[str]) -> Callable[[str], str | None]:
    return lambda value: None if value in valid else f"must be one of {', '.join(valid)}"


def _integer(low: int, high: int = INT64_MAX) -> Callable[[int], str | None]:
    return lambda value: None if low <= value <= high else f"must lie in [{low}, {high}]"


def _nonnegative(value: float) -> str | None:
    return None if value >= 0 else "must be >= 0"


AS_GIVEN_TEXT = "as-given"
_ANY: Callable[[Any], str | None] = lambda value: None
_NONEMPTY: Callable[[str], str | None] = lambda value: None if value else "must not be empty"
_STATUS = _one_of(("ok", "failed"))

CHECKS: dict[str, Callable[[Any], str | None]] = {
    "cell": lambda value: None if _CELL.match(value) else "must be a cell key of 16 hex digits",
    "stream": lambda value: None if _LABEL.match(value) else "must be a stream's name",
    "trace": lambda value: None if _LABEL.match(value) else "must be a trace's name",
    "variant": lambda value: None if _VARIANT.match(value) else "must be swept parameters like 'rate=1/2,n=4'",
    "error": _ANY,
    "source": _json_object, "exact": _exact_object, "versions": _json_object, "per_class": _json_object,
    "engine": _json_object,
    "load": lambda value: _exact_text(value, above=True, as_given=True),
    "rate": lambda value: _exact_text(value, above=True, as_given=True),
    "offered_load": _nonnegative, "offered_rate": _nonnegative,
    "policy": _policy_label, "k": _k_text, "tie_break": _one_of(TIE_BREAKS), "cycle_start": _one_of(CYCLE_STARTS),
    "cache": lambda value: None if _parses(parse_cache)(value) is None and parse_cache(value).spec == value
    else "must be a cache model spec (last, lru:TOKENS, unbounded)",
    "seed": _integer(0, SEED_MAX), "alpha": lambda value: _exact_text(value), "view": _one_of(VIEWS),
    "batch_size": _integer(1), "ttft_bound": lambda value: _exact_text(value, empty=True), "status": _STATUS,
    "classes": _parses(parse_classes, empty=True), "scheduler": _parses(parse_scheduler), "order": _NONEMPTY,
    "router": _parses(parse_router, empty=True), "engines": _integer(1, MAX_ENGINES),
    "prefix_cache": _one_of(tuple(PREFIX_CACHES)), "cost": _NONEMPTY, "budget": _integer(1), "kv_tokens": _integer(1),
    "block_size": _integer(1), "max_seqs": _integer(1), "objective": _parses(parse_objective, empty=True),
    "objective_met": _integer(0, 1), "imbalance": _nonnegative,
}
"""A check per column name (both schemas): ``check(value)`` is None or what is wrong. Measures not
listed are counts ``>= 0`` (integers) or finite numbers ``>= 0``; empty values are None and fine."""


def check_record(record: Mapping[str, Any], where: str, columns=COLUMNS) -> None:
    """Refuse a record read back whose value in some column is not what a sweep writes there (the
    module docstring), naming ``where`` (file and line) and the column.

    >>> check_record(blank_record("c0ffee") | {"status": "ok"}, "r.csv:2")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.FormatError: r.csv:2: column cell must be a cell key of 16 hex digits, got 'c0ffee'
    """
    for name, kind in columns:
        value = record[name]
        if value is None:
            if kind == STR:
                raise FormatError(f"{where}: column {name} must be text, got None")
            continue
        expected = str if kind == STR else int if kind == INT else float
        if type(value) is not expected and not (expected is float and type(value) is int):
            raise FormatError(f"{where}: column {name} must be {'text' if kind == STR else kind}, got {brief(value)}")
        if kind == FLOAT and not math.isfinite(value):
            raise FormatError(f"{where}: column {name} must be a finite number, got {brief(value)}")
        check = CHECKS.get(name, _integer(0) if kind == INT else _nonnegative if kind == FLOAT else _ANY)
        problem = check(value)
        if problem is not None:
            raise FormatError(f"{where}: column {name} {problem}, got {brief(value)}")
