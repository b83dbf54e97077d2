"""Compute one serving cell's record: build or read its workload, serve it, measure it.

The workload comes from its generator (``shared-prefix`` at the cell's seed) or from the trace
file's bytes (which must still have the SHA-256 the spec reader saw), read as ``prefix-sched serve``
reads it (:func:`~prefix_sched.theory.serving.traces.load_workload`: rescaled exactly to the cell's
rate, or arrivals generated at it for the ShareGPT lengths, objective classes drawn with the seed).
A generated workload gets its classes the same way (one draw per request from the seed's class
generator, :func:`~prefix_sched.theory.serving.traces.seeded_generators`). It is served by
:func:`~prefix_sched.solvers.serving.engine.serve` with the cell's server and seed, and the row
holds :data:`~prefix_sched.studies.sweep.schema.SERVING_MEASURES` from
:func:`~prefix_sched.theory.serving.measures.summarize` (as floats; exact in ``exact``), the figures
of each objective class in ``per_class`` and the engine's settings in ``engine`` (a reconstructed
scheduler's note included). A process keeps the last few workloads it built.

What it leaves out: which process runs the cell and storing the record (as for policy cells).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.studies.sweep.cells import ServingCell
from prefix_sched.studies.sweep.schema import SERVING_COLUMNS, SERVING_MEASURES, Record, blank_record
from prefix_sched.studies.sweep.serving_spec import AS_GIVEN, GENERATORS, TraceSource, read_trace
from prefix_sched.theory.numbers import Exact, to_json
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.measures import ALL, summarize
from prefix_sched.theory.serving.requests import Workload, assign_classes, parse_classes
from prefix_sched.theory.serving.traces import seeded_generators

WORKLOADS_KEPT = 8
PER_CLASS = ("requests", "tbt_slo", "ttft_p50", "ttft_p99", "tbt_p50", "tbt_p99", "tbt_max", "met", "goodput_req_s")
"""The figures of each objective class in the ``per_class`` column."""


def serving_settings(cell: ServingCell) -> Record:
    """The settings columns of ``cell``'s row (every value resolved: defaults filled in)."""
    server, spec = cell.server, cell.server.spec
    parameter = spec.offset if spec.offset is not None else spec.share
    objective = cell.objective
    return blank_record(cell.key, SERVING_COLUMNS) | {
        "trace": cell.trace.table, "variant": cell.trace.variant,
        "source": json.dumps(cell.trace.source(), sort_keys=True),
        "rate": AS_GIVEN if cell.rate is None else str(to_json(cell.rate)), "classes": cell.classes,
        "scheduler": spec.name.value + ("" if parameter is None else f":{to_json(parameter)}"),
        "order": server.order_text, "router": server.resolved_router or "", "engines": server.engines,
        "prefix_cache": server.prefix_cache, "cost": parse_cost(server.cost).name, "budget": server.budget,
        "kv_tokens": server.kv_tokens, "block_size": server.resolved_block, "max_seqs": server.max_seqs,
        "seed": cell.seed,
        "objective": "" if objective is None else objective.name if objective.name != "custom" else objective.text,
    }


def serving_record(cell: ServingCell, fetch: Callable[[], bytes] | None, versions: str) -> Record:
    """The ok record of ``cell`` (see the module docstring); raises what the run raises."""
    workload = cell_workload(cell.trace, cell.rate, cell.classes, cell.seed, fetch)
    run = serve(workload, **cell.server.options(), seed=cell.seed)
    summary = summarize(run.timeline)
    figures = dict(summary[ALL])
    prompt_tokens = workload.total_prompt_tokens
    figures["reused"] = figures["cached_tokens"]
    figures["reused_share"] = Fraction(figures["cached_tokens"], prompt_tokens)
    figures["iterations"] = run.iterations
    counts = [int((run.timeline.engine == g).sum()) for g in range(run.engines)]
    figures["imbalance"] = Fraction(max(counts) * len(counts), sum(counts))
    figures["objective_met"] = None if cell.objective is None else int(cell.objective.check(summary)[0])
    offered = offered_rate(workload)
    exact = {name: _json_value(figures[name]) for name, _ in SERVING_MEASURES}
    exact["offered_rate"] = None if offered is None else to_json(offered)
    per_class = {name: {key: _json_value(row.get(key)) for key in PER_CLASS} for name, row in summary.items()
                 if name != ALL}
    measures = {name: None if figures[name] is None else int(figures[name]) if kind == "int"
                else float(Fraction(figures[name])) for name, kind in SERVING_MEASURES}
    return serving_settings(cell) | {
        "status": "ok", "offered_rate": None if offered is None else float(offered),
        "per_class": json.dumps(per_class, sort_keys=True), "exact": json.dumps(exact, sort_keys=True),
        "engine": json.dumps(run.settings, sort_keys=True, default=_json_value), "versions": versions,
    } | measures


def offered_rate(workload: Workload) -> Fraction | None:
    """Requests per second over the arrivals' span, ``(n - 1) / (a_max - a_min)``; None when they
    all arrive at once."""
    arrivals = [r.arrival_us for r in workload.requests]
    span = max(arrivals) - min(arrivals)
    return None if span == 0 else Fraction(len(arrivals) - 1, 1) * 1_000_000 / Fraction(span)


def _json_value(value: Any) -> Any:
    return to_json(value) if isinstance(value, Fraction) else value


# --- workloads ----------------------------------------------------------------------------------

_WORKLOADS: OrderedDict[tuple, Workload] = OrderedDict()


def cell_workload(trace: TraceSource, rate: Exact | None, classes: str, seed: int,
                  fetch: Callable[[], bytes] | None = None) -> Workload:
    """The workload of ``trace`` at ``rate`` with ``classes`` and ``seed``."""
    key = (json.dumps(trace.identity(), sort_keys=True), None if rate is None else to_json(rate), classes, seed)
    if key in _WORKLOADS:
        _WORKLOADS.move_to_end(key)
        return _WORKLOADS[key]
    if trace.kind == "file":
        data = fetch() if fetch is not None else Path(trace.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != trace.sha256:
            raise InputError(f"{trace.file} changed since the sweep started (its SHA-256 is no longer {trace.sha256})")
        with tempfile.TemporaryDirectory(prefix="prefix-sched-sweep-") as folder:
            copy = Path(folder) / Path(trace.file).name
            copy.write_bytes(data)
            workload = read_trace(copy, trace.params, rate, seed, classes)
    else:
        function, _ = GENERATORS[trace.kind]
        workload = with_classes(function(**dict(trace.params), seed=seed), classes, seed)
    _WORKLOADS[key] = workload
    if len(_WORKLOADS) > WORKLOADS_KEPT:
        _WORKLOADS.popitem(last=False)
    return workload


def with_classes(workload: Workload, classes: str, seed: int) -> Workload:
    """``workload`` with objective classes drawn per request as a trace's are (one draw each from the
    seed's class generator, in request order); unchanged for no classes."""
    if not classes:
        return workload
    parsed = parse_classes(classes)
    index = assign_classes(workload.n, parsed, seeded_generators(seed)[1])
    requests = [r for r in workload.requests]
    return Workload.from_lengths([r.prompt_tokens for r in requests], [r.output_tokens for r in requests],
                                 [r.arrival_us for r in requests], ids=[r.rid for r in requests], classes=parsed,
                                 class_index=index, prompts=[r.prompt for r in requests], meta=workload.meta)
