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
from prefix_sched.studies.sweep.spec import Settings, Spec, StreamSource
from prefix_sched.theory.numbers import Exact, to_json

CELL_FORMAT = "prefix-sched.sweep-cell"
CELL_VERSION = 1
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


def cell_key(identity: dict[str, Any]) -> str:
    """The first :data:`KEY_DIGITS` hex digits of the SHA-256 of ``identity`` as canonical JSON.

    >>> cell_key({"b": 1, "a": [2, "3/4"]}) == cell_key({"a": [2, "3/4"], "b": 1})
    True
    """
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:KEY_DIGITS]


def expand(spec: Spec) -> tuple[Cell, ...]:
    """Every cell of ``spec``: streams in spec order, then seeds, loads, caches and policies.

    Cells of one stream and seed come together, so a worker reuses the stream it has built.
    """
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
