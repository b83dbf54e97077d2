"""Expand a checked sweep spec into cells, each named by a content hash of its inputs.

A cell is one ``(stream, load, policy, cache, seed)`` with the sweep's shared settings (alpha,
view, batch size, the bound ``T``, the metrics). Its key is the first 16 hex digits of the
SHA-256 of a canonical JSON of everything its row depends on: the stream's label and source (a
generator's name and parameters, or a file's bytes' SHA-256 with its format, limit and tokens per
ms; not the file's name, so a moved file keeps its cells), the load, the policy's settings, the
cache spec, the seed and the shared settings. Two cells with the same key compute the same row;
a resumed sweep skips the keys it has. Package versions are left out of the key on purpose: they
are recorded in each row (a new release does not rerun a finished sweep; rerun it in a new folder
to compare releases).

A serving cell (:class:`ServingCell`) is one ``(trace, rate, classes, server, seed)`` of a spec of
serving cells (:mod:`~prefix_sched.studies.sweep.serving_spec`), keyed the same way
(:data:`SERVING_CELL_FORMAT`): the trace's label and source, the rate, the classes, the server's
resolved settings (:meth:`~prefix_sched.studies.sweep.serving_spec.ServerConfig.identity`), the
seed and the objective.

What it leaves out: reading the spec (:mod:`~prefix_sched.studies.sweep.spec`) and running cells.

Examples
--------
>>> import pathlib, tempfile
>>> from prefix_sched.studies.sweep.spec import read_spec
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
>>> _ = path.write_text('''
... seeds = [0, 1]
... [streams.d]
... generator = "def4"
... n = 8
... r = 2
... u = 5
... d = 5
... delta = 1
... loads = ["as-given", 2]
... [[policies]]
... name = "fcfs"
... [[policies]]
... name = "lpm"
... ''')
>>> cells = expand(read_spec(path))
>>> len(cells), len({cell.key for cell in cells}), len(cells[0].key)
(8, 8, 16)
>>> cells[0].identity()["policy"]
{'policy': 'fcfs', 'k': 0, 'tie_break': 'oldest', 'cycle_start': 'lpm'}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from prefix_sched.solvers.online.policies import PolicySpec
from prefix_sched.studies.sweep.serving_spec import ServerConfig, ServingSpec, TraceSource
from prefix_sched.studies.sweep.spec import Settings, Spec, StreamSource
from prefix_sched.theory.numbers import Exact, to_json
from prefix_sched.theory.serving.objectives import Objective

CELL_FORMAT = "prefix-sched.sweep-cell"
CELL_VERSION = 1
SERVING_CELL_FORMAT = "prefix-sched.sweep-serving-cell"
SERVING_CELL_VERSION = 1
KEY_DIGITS = 16


@dataclass(frozen=True)
class Cell:
    """One run of one policy on one stream; ``key`` is the hash of :meth:`identity`."""

    key: str
    stream: StreamSource
    load: Exact | None
    policy: PolicySpec
    cache: str
    seed: int
    settings: Settings

    def identity(self) -> dict[str, Any]:
        """Everything the cell's row depends on, as JSON values."""
        return _identity(self.stream, self.load, self.policy, self.cache, self.seed, self.settings)

    @property
    def source(self) -> StreamSource:
        """Where its input comes from (a file's bytes go to Ray's object store once)."""
        return self.stream


@dataclass(frozen=True)
class ServingCell:
    """One serving run: a trace at a rate with objective classes, on a server, at a seed."""

    key: str
    trace: TraceSource
    rate: Exact | None
    classes: str
    server: ServerConfig
    seed: int
    objective: Objective | None

    def identity(self) -> dict[str, Any]:
        return _serving_identity(self.trace, self.rate, self.classes, self.server, self.seed, self.objective)

    @property
    def source(self) -> TraceSource:
        return self.trace


def cell_key(identity: dict[str, Any]) -> str:
    """The first :data:`KEY_DIGITS` hex digits of the SHA-256 of ``identity`` as canonical JSON.

    >>> cell_key({"b": 1, "a": [2, "3/4"]}) == cell_key({"a": [2, "3/4"], "b": 1})
    True
    """
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:KEY_DIGITS]


def expand(spec: Spec | ServingSpec) -> tuple[Cell, ...] | tuple[ServingCell, ...]:
    """Every cell of ``spec``: streams in spec order, then seeds, loads, caches and policies (for
    serving cells: traces, seeds, rates, classes and servers).

    Cells of one stream and seed come together, so a worker reuses the stream it has built.
    """
    if isinstance(spec, ServingSpec):
        return _expand_serving(spec)
    cells = []
    for stream in spec.streams:
        for seed in stream.seeds:
            for load in stream.loads:
                for cache in spec.caches:
                    for policy in spec.policies:
                        identity = _identity(stream, load, policy, cache, seed, spec.settings)
                        cells.append(Cell(cell_key(identity), stream, load, policy, cache, seed, spec.settings))
    keys = {cell.key for cell in cells}
    if len(keys) != len(cells):  # the spec reader refuses repeated values, so this is a bug
        raise AssertionError(f"{len(cells) - len(keys)} cells of {spec.path} share a key")
    return tuple(cells)


def _identity(stream: StreamSource, load, policy: PolicySpec, cache: str, seed: int, settings: Settings) -> dict[str, Any]:
    return {
        "format": CELL_FORMAT, "version": CELL_VERSION, "stream": stream.identity(),
        "load": None if load is None else to_json(load), "policy": policy.as_dict(), "cache": cache,
        "seed": seed, **settings.identity(),
    }


def _expand_serving(spec: ServingSpec) -> tuple[ServingCell, ...]:
    cells = []
    for trace in spec.traces:
        for seed in trace.seeds:
            for rate in trace.rates:
                for classes in trace.classes:
                    for server in spec.servers:
                        identity = _serving_identity(trace, rate, classes, server, seed, spec.objective)
                        cells.append(ServingCell(cell_key(identity), trace, rate, classes, server, seed,
                                                 spec.objective))
    if len({cell.key for cell in cells}) != len(cells):  # the spec reader refuses repeated values: a bug
        raise AssertionError(f"cells of {spec.path} share a key")
    return tuple(cells)


def _serving_identity(trace: TraceSource, rate, classes: str, server: ServerConfig, seed: int,
                      objective: Objective | None) -> dict[str, Any]:
    return {
        "format": SERVING_CELL_FORMAT, "version": SERVING_CELL_VERSION, "trace": trace.identity(),
        "rate": None if rate is None else to_json(rate), "classes": classes, "server": server.identity(),
        "seed": seed, "objective": None if objective is None else objective.text,
    }
