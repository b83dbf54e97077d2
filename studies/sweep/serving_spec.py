"""The serving part of a sweep spec: trace sources, engine configurations, objective classes, seeds.

A spec with ``[traces.NAME]`` tables and ``[[servers]]`` tables has serving cells, one
``(trace, rate, classes, server, seed)`` each, served by :func:`~prefix_sched.solvers.serving.engine.serve`
(the model of ``prefix-sched serve``)::

    version = 1
    seeds = [0, 1]                 # required: arrivals drawn, classes drawn, random choices
    objective = "seed"             # optional: each row says whether the run meets it (objective_met)

    [traces.mooncake]              # a trace file: stream, mooncake, sharegpt or azure
    file = "trace.jsonl"           # relative to the spec's folder; a regular file
    format = "mooncake"
    limit = 200                    # the first N requests
    rates = ["as-given", 0.5, 1]   # requests/s: timestamps rescaled exactly (sharegpt: generated)
    arrivals = "poisson"           # sharegpt only: poisson or truncated-exp
    classes = ["strict=0.05:100ms,relaxed=0.95:500ms"]   # objective classes, drawn per request
    seeds = [0]                    # optional: this trace's own seeds

    [traces.shared]                # a generator: SGLang's shared-prefix workload
    generator = "shared-prefix"
    groups = 8                     # groups, prompts_per_group, system_prompt_len, question_len,
    prompts_per_group = 4          # output_len, rate (requests/s); a list sweeps the parameter
    rate = [2, 4]

    [[servers]]                    # engine configurations; a list sweeps the key
    scheduler = ["sarathi", "vllm"]        # required: a scheduler of prefix-sched serve
    order = "k-lpm:3"              # new prefills' order (schedulers that take one)
    prefix_cache = "lru"           # none (default), lru (needs kv_tokens), unbounded
    kv_tokens = 200000             # KV memory in tokens (default unbounded); block_size with it
    engines = [1, 4]               # engines behind a router (router: with engines > 1)
    cost = "seed"                  # a preset or c0=...,cp=... (default seed)
    budget = 512                   # token budget, max_seqs, block_size: as serve's options

Every combination of a ``[[servers]]`` table is checked with ``prefix-sched serve``'s rules (an
order the scheduler refuses or that needs a cache, ``block_size`` without ``kv_tokens`` or with a
prefix cache, ``lru`` without ``kv_tokens``, ``router`` with one engine), two combinations that make
the same run (``order = "fcfs"`` and no order, a preset and its coefficients) are refused naming
both, and each trace is read once and rescaled to each rate at its first seed so that its own checks
(a malformed line, a rate for a trace whose requests all arrive at once, a request that does not
fit ``kv_tokens``, exact times beyond ``2^62`` ticks) are bad input before any cell runs.

What it leaves out: running the cells (:mod:`~prefix_sched.studies.sweep.serving_cells`).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from prefix_sched.errors import PrefixSchedError
from prefix_sched.solvers.online.policies import PolicyName, parse_policy
from prefix_sched.solvers.serving.engine import (
    DEFAULT_BLOCK, DEFAULT_BUDGET, DEFAULT_MAX_SEQS, PREFIX_CACHES, Engine, EngineConfig, RequestTable,
)
from prefix_sched.solvers.serving.orders import check_order
from prefix_sched.solvers.serving.registry import MAX_ENGINES, SchedulerSpec, build_scheduler, parse_scheduler
from prefix_sched.solvers.serving.routers import parse_router
from prefix_sched.studies.sweep.reader import Reader, product
from prefix_sched.studies.sweep.sources import Source
from prefix_sched.theory.generators import show_rate
from prefix_sched.theory.limits import serving_problem
from prefix_sched.theory.numbers import Exact, brief, to_json
from prefix_sched.theory.serving.arrivals import ARRIVAL_PROCESSES
from prefix_sched.theory.serving.costs import DEFAULT_PRESET, parse_cost
from prefix_sched.theory.serving.generators import shared_prefix_workload
from prefix_sched.theory.serving.objectives import Objective, parse_objective
from prefix_sched.theory.serving.requests import Workload, parse_classes
from prefix_sched.theory.serving.traces import TRACE_FORMATS, engine_generator, load_workload

SERVING_KEYS = ("traces", "servers")
"""The top-level keys that make a spec one of serving cells."""
TOP_KEYS = ("version", "seeds", "objective", "traces", "servers")
TRACE_KEYS = ("rates", "classes", "seeds")
FILE_KEYS = ("file", "format", "limit", "arrivals")
POSITIVE, NUMBER = "integer >= 1", "number"
GENERATORS = {"shared-prefix": (shared_prefix_workload, {
    "groups": POSITIVE, "prompts_per_group": POSITIVE, "system_prompt_len": POSITIVE, "question_len": POSITIVE,
    "output_len": POSITIVE, "rate": NUMBER})}
"""The workload generators and their parameters (all but ``seed``; tests check the signatures)."""
SERVER_KEYS = ("scheduler", "order", "router", "engines", "prefix_cache", "cost", "budget", "kv_tokens",
               "block_size", "max_seqs")
AS_GIVEN = "as-given"


@dataclass(frozen=True)
class TraceSource(Source):
    """One serving workload: a trace file or a generator with parameters, with its rates, classes and seeds.

    Attributes
    ----------
    table, variant, kind, params, file, path, sha256 :
        As :class:`~prefix_sched.studies.sweep.sources.Source` (``kind`` is ``"file"`` or the
        generator's name; a file's ``params`` are its format, limit and arrival process).
    rates : tuple
        Requests per second (exact), ``None`` for the timestamps as given (or the generator's own).
    classes : tuple of str
        Objective classes (their canonical text), ``""`` for none.
    seeds : tuple of int
    """

    IDENTITY_KEY: ClassVar[str] = "trace"

    rates: tuple[Exact | None, ...]
    classes: tuple[str, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class ServerConfig:
    """One engine configuration, as the spec writes it and resolved (defaults filled in)."""

    scheduler: str
    order: str | None
    router: str | None
    engines: int
    prefix_cache: str
    cost: str
    budget: int
    kv_tokens: int | None
    block_size: int | None
    max_seqs: int

    @property
    def spec(self) -> SchedulerSpec:
        return parse_scheduler(self.scheduler, self.order, cache=self.prefix_cache)

    @property
    def resolved_router(self) -> str | None:
        """The router's text with every parameter (the scheduler's own when none is named), or None
        for one engine."""
        if self.engines == 1:
            return None
        return parse_router(self.spec.row.router if self.router is None else self.router).text

    @property
    def resolved_block(self) -> int | None:
        """The KV block size in effect: None without ``kv_tokens`` (memory is unbounded)."""
        if self.kv_tokens is None:
            return None
        return self.block_size or (1 if self.prefix_cache != "none" else DEFAULT_BLOCK)

    @property
    def order_text(self) -> str:
        spec = self.spec
        return spec.order if spec.order_spec is None else spec.order_spec.label

    def identity(self) -> dict[str, Any]:
        """What a run depends on (the cell hash): every setting resolved."""
        spec = self.spec
        return {"scheduler": spec.name.value, "offset": None if spec.offset is None else to_json(spec.offset),
                "share": None if spec.share is None else to_json(spec.share), "order": self.order_text,
                "router": self.resolved_router, "engines": self.engines, "prefix_cache": self.prefix_cache,
                "cost": parse_cost(self.cost).spec, "budget": self.budget, "kv_tokens": self.kv_tokens,
                "block_size": self.resolved_block, "max_seqs": self.max_seqs}

    def run_key(self) -> str:
        """What makes two configurations one run: :meth:`identity` with the order read as a policy's
        :attr:`~prefix_sched.solvers.online.policies.PolicySpec.run_key` (``k-lpm:inf`` is ``lpm``,
        ``k-lpm:0`` is ``fcfs``, as the policy spec of a sweep counts them)."""
        identity = self.identity()
        spec = self.spec
        order = spec.order_spec
        if order is None and spec.order in {name.value for name in PolicyName}:
            order = parse_policy(spec.order)
        if order is not None:
            identity["order"] = repr(order.run_key)
        return repr(sorted(identity.items()))

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~prefix_sched.solvers.serving.engine.serve`."""
        options: dict[str, Any] = {"scheduler": self.spec, "budget": self.budget, "cost": parse_cost(self.cost),
                                   "kv_tokens": self.kv_tokens, "block_size": self.block_size,
                                   "max_seqs": self.max_seqs, "engines": self.engines, "prefix_cache": self.prefix_cache}
        if self.engines > 1:
            options["router"] = self.resolved_router
        return options

    def config(self) -> EngineConfig:
        """Each engine's settings, as :func:`~prefix_sched.solvers.serving.engine.serve` makes them."""
        block = self.block_size or (1 if self.prefix_cache != "none" else DEFAULT_BLOCK)
        return EngineConfig(self.budget, self.max_seqs, self.kv_tokens, block, parse_cost(self.cost), self.prefix_cache)

    def text(self) -> str:
        """The configuration for a message."""
        parts = [self.scheduler]
        for key in SERVER_KEYS[1:]:
            value = getattr(self, key)
            if value is not None and not (key == "engines" and value == 1) and not (
                    key == "prefix_cache" and value == "none"):
                parts.append(f"{key}={value}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ServingSpec:
    """A checked sweep spec of serving cells."""

    path: str
    traces: tuple[TraceSource, ...]
    servers: tuple[ServerConfig, ...]
    objective: Objective | None


def serving_spec(data: Mapping[str, Any], reader: Reader) -> ServingSpec:
    """Check the serving spec ``data`` (see the module docstring) with ``reader``'s value checks."""
    return _ServingReader(reader.name, reader.folder).spec(data)


class _ServingReader(Reader):

    def spec(self, data: Mapping[str, Any]) -> ServingSpec:
        for key in ("streams", "policies"):
            if key in data:
                raise self.error("", key, "a spec has policy cells ([streams.NAME], [[policies]]) or serving cells "
                                          "([traces.NAME], [[servers]]), not both")
        self.known_keys("", data, TOP_KEYS)
        if "version" in data and (isinstance(data["version"], bool) or data["version"] != 1):
            raise self.error("", "version", f"only version 1 is known, got {brief(data['version'])}")
        seeds = self.seeds("", data)
        objective = self.text("", "objective", data["objective"], parse_objective) if "objective" in data else None
        tables = self.trace_tables(data)
        server_tables = self.server_tables(data)
        self.check_size(self.count(tables, seeds) * sum(
            product([len(values) for values in options.values()]) for options in server_tables))
        servers = self.servers(server_tables)
        traces = self.traces(tables, seeds, servers, objective)
        return ServingSpec(self.name, traces, servers, objective)

    # --- traces ----------------------------------------------------------------------------

    def trace_tables(self, data: Mapping[str, Any]) -> list[tuple[str, str, dict]]:
        if "traces" not in data:
            raise self.error("", "traces", "missing: add a [traces.NAME] table per trace or generator")
        tables = data["traces"]
        if not isinstance(tables, dict) or not tables:
            raise self.error("", "traces", f"must be [traces.NAME] tables, got {brief(tables)}")
        found = []
        for table, body in tables.items():
            where, body, kind = self.source_table(
                "traces", "trace", table, body, GENERATORS, TRACE_KEYS, FILE_KEYS, '"shared-prefix"',
                refused={"rates": "a generator draws its own arrivals: sweep its rate = [...]"})
            if kind is None:
                self.values(where, "rates", body.get("rates", [AS_GIVEN]))
            if "classes" in body:
                self.values(where, "classes", body["classes"], scalar=True)
            found.append((table, where, body))
        return found

    def count(self, tables, seeds) -> int:
        total = 0
        for _table, where, body in tables:
            variants = self.variants(where, body, GENERATORS)
            rates = len(body.get("rates", [AS_GIVEN]))
            classes = len(self.values(where, "classes", body["classes"], scalar=True)) if "classes" in body else 1
            own = len(self.values(where, "seeds", body["seeds"])) if "seeds" in body else len(seeds)
            total += variants * rates * classes * own
        return total

    def traces(self, tables, seeds, servers, objective) -> tuple[TraceSource, ...]:
        sources = []
        for table, where, body in tables:
            own_seeds = self.seeds(where, body) if "seeds" in body else seeds
            classes = self.classes(where, body, objective)
            if "generator" in body:
                found = self.generated(where, table, body, classes, own_seeds)
            else:
                found = self.from_file(where, table, body, classes, own_seeds)
            for source, workloads in found:
                self.check_fits(where, source, workloads, servers)
                sources.append(source)
        return tuple(sources)

    def classes(self, where: str, body: Mapping[str, Any], objective: Objective | None) -> tuple[str, ...]:
        texts = []
        for value in self.values(where, "classes", body["classes"], scalar=True) if "classes" in body else [""]:
            if value == "":
                texts.append("")
                continue
            classes = self.text(where, "classes", value, parse_classes)
            texts.append(",".join(c.spec for c in classes))
        self.unique(where, "classes", texts, show=lambda text: repr(text or "none"))
        if objective is not None:
            for text in texts:
                names = [part.partition("=")[0] for part in text.split(",")] if text else []
                for condition in objective.conditions:
                    if condition.cls is not None and condition.cls not in names:
                        raise self.error("", "objective", f"{condition.text}: {where} has no class {condition.cls!r} "
                                                          f"(classes: {text or 'none'})")
                    if condition.bound_us is None and not names:
                        raise self.error("", "objective", f"{condition.text} compares with each class's TBT objective, "
                                                          f"and {where} has no classes (give classes = [...])")
        return tuple(texts)

    def generated(self, where, table, body, classes, seeds) -> list[tuple[TraceSource, list[Workload]]]:
        kind = body["generator"]
        function, kinds = GENERATORS[kind]
        def read(name, value):
            if kinds[name] == NUMBER:
                return to_json(self.number(where, name, value, above=0))
            return self.integer(where, name, value, minimum=1)

        found = []
        for variant, combination in self.generator_variants(where, body, kinds, read):
            source = TraceSource(table, variant, kind, tuple(combination), None, None, None, (None,), classes, seeds)
            found.append((source, [self.generate(where, kind, variant, function, combination, seeds[0])]))
        return found

    def from_file(self, where, table, body, classes, seeds) -> list[tuple[TraceSource, list[Workload]]]:
        path = self.file(where, "file", body["file"])
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise self.error(where, "file", f"cannot read {path}: {err.strerror or err}") from None
        trace_format = self.choice(where, "format", body.get("format", "stream"), TRACE_FORMATS)
        limit = self.integer(where, "limit", body["limit"], minimum=1) if "limit" in body else None
        arrivals = None
        if "arrivals" in body:
            if trace_format != "sharegpt":
                raise self.error(where, "arrivals", f"only applies with format = \"sharegpt\" (a {trace_format} trace "
                                                    "has its own timestamps; rates rescale them)")
            arrivals = self.choice(where, "arrivals", body["arrivals"], ARRIVAL_PROCESSES)
        rates = []
        for value in self.values(where, "rates", body.get("rates", [AS_GIVEN])):
            if value == AS_GIVEN:
                if trace_format == "sharegpt":
                    raise self.error(where, "rates", "the ShareGPT length trace has no timestamps: give rates in "
                                                     "requests/s to generate arrivals")
                rates.append(None)
            else:
                rates.append(self.number(where, "rates", value, above=0, hint=f" or {AS_GIVEN!r}"))
        self.unique(where, "rates", rates, show=lambda v: AS_GIVEN if v is None else str(v))
        if trace_format == "sharegpt" and arrivals is None:
            arrivals = ARRIVAL_PROCESSES[0]
        params = (("format", trace_format), ("limit", limit), ("arrivals", arrivals))
        source = TraceSource(table, "", "file", params, body["file"], str(path), digest, tuple(rates), classes, seeds)
        workloads = []
        for rate in rates:
            try:
                workloads.append(read_trace(path, params, rate, seeds[0]))
            except PrefixSchedError as err:
                key = "file" if rate is None or "rat" not in str(err) else "rates"
                raise self.error(where, key, str(err) if rate is None else f"at rate {to_json(rate)}: {err}") from None
            except RecursionError:
                raise self.error(where, "file", f"{path}: nested too deeply to read") from None
        return [(source, workloads)]

    def check_fits(self, where: str, source: TraceSource, workloads: Sequence[Workload],
                   servers: Sequence[ServerConfig]) -> None:
        """The engine's own checks on each workload under each memory and cost (a request larger than
        the KV memory, exact times beyond 2^62 ticks)."""
        configs = {}
        for server in servers:
            configs.setdefault((server.budget, server.max_seqs, server.kv_tokens, server.resolved_block,
                                parse_cost(server.cost).spec, server.prefix_cache, server.spec.label), server)
        for workload in workloads:
            for server in configs.values():
                rate = workload.meta.get("rate")
                at = f" at rate {show_rate(rate)}" if rate is not None else ""
                problem = serving_problem(workload, parse_cost(server.cost))
                if problem is not None:
                    key = "cost" if "cost" in problem or "a tick" in problem else "rates" if rate is not None else \
                        "file" if source.kind == "file" else "generator"
                    raise self.error(where if key != "cost" else "[[servers]]", key,
                                     f"{source.label}{at} with cost {server.cost!r}: {problem}")
                try:
                    config = server.config()
                    engine = Engine(RequestTable(workload, config.cost), config, engine_generator(0, 0))
                    build_scheduler(server.spec, engine)
                except PrefixSchedError as err:
                    raise self.error(where, "file" if source.kind == "file" else "generator",
                                     f"{source.label}{at} under [[servers]] {server.text()}: {err}") from None

    # --- servers ---------------------------------------------------------------------------

    def server_tables(self, data: Mapping[str, Any]) -> list[dict[str, list]]:
        if "servers" not in data:
            raise self.error("", "servers", "missing: add a [[servers]] table per scheduler configuration")
        tables = data["servers"]
        if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
            raise self.error("", "servers", f"must be [[servers]] tables, got {brief(tables)}")
        found = []
        for number, body in enumerate(tables, start=1):
            where = f"[[servers]] #{number}"
            self.known_keys(where, body, SERVER_KEYS)
            if "scheduler" not in body:
                raise self.error(where, "scheduler", 'missing: a scheduler such as "sarathi" or "slai-fcfs:10"')
            found.append({key: self.values(where, key, body[key], scalar=True) for key in SERVER_KEYS if key in body})
        return found

    def servers(self, tables: Sequence[dict[str, list]]) -> tuple[ServerConfig, ...]:
        configs: list[tuple[str, ServerConfig]] = []
        for number, options in enumerate(tables, start=1):
            where = f"[[servers]] #{number}"
            read = {key: [self.server_value(where, key, value) for value in values] for key, values in options.items()}
            for key, values in read.items():
                self.unique(where, key, values)
            for combination in itertools.product(*([(key, v) for v in vs] for key, vs in read.items())):
                configs.append((where, self.server(where, dict(combination))))
        seen: dict[str, tuple[str, ServerConfig]] = {}
        for where, config in configs:
            key = config.run_key()
            if key in seen:
                other_where, other = seen[key]
                raise self.error(where, "scheduler", f"{config.text()} makes the same run as {other.text()} of "
                                                     f"{other_where}: list it once")
            seen[key] = (where, config)
        return tuple(config for _, config in configs)

    def server_value(self, where: str, key: str, value: Any) -> Any:
        if key in ("scheduler", "order", "router", "cost"):
            parse = {"scheduler": lambda t: parse_scheduler(t), "order": lambda t: t, "router": parse_router,
                     "cost": parse_cost}[key]
            self.text(where, key, value, parse)
            return value
        if key == "prefix_cache":
            return self.choice(where, key, value, tuple(PREFIX_CACHES))
        if key == "engines":
            return self.integer(where, key, value, minimum=1, maximum=MAX_ENGINES)
        return self.integer(where, key, value, minimum=1)

    def server(self, where: str, options: dict[str, Any]) -> ServerConfig:
        """One combination, checked with ``prefix-sched serve``'s rules."""
        cache = options.get("prefix_cache", "none")
        kv, block = options.get("kv_tokens"), options.get("block_size")
        engines = options.get("engines", 1)
        if block is not None and kv is None:
            raise self.error(where, "block_size", "only applies with kv_tokens (memory is unbounded without it)")
        if block is not None and cache != "none":
            raise self.error(where, "block_size", f"does not apply with prefix_cache = {cache!r} (the cache and the "
                                                  "running requests count KV memory in tokens, SGLang's page size 1)")
        if cache == "lru" and kv is None:
            raise self.error(where, "prefix_cache", "lru shares the KV memory with the running requests: give its "
                                                    "size (kv_tokens)")
        effective = block or (1 if cache != "none" else DEFAULT_BLOCK)
        if kv is not None and kv < effective:
            raise self.error(where, "kv_tokens", f"must hold at least one block of {effective} tokens, got {kv}")
        if "router" in options and engines == 1:
            raise self.error(where, "router", "only applies with engines > 1 (one engine takes every request)")
        try:
            spec = parse_scheduler(options["scheduler"], options.get("order"), cache=None)
        except PrefixSchedError as err:
            text = str(err)
            key = "order" if text.startswith("order: ") else "scheduler"
            raise self.error(where, key, text.removeprefix("order: ")) from None
        if spec.order_spec is not None:
            try:
                check_order(spec.order_spec, cache)
            except PrefixSchedError as err:
                raise self.error(where, "order", str(err)) from None
        return ServerConfig(options["scheduler"], options.get("order"), options.get("router"), engines, cache,
                            options.get("cost", DEFAULT_PRESET), options.get("budget", DEFAULT_BUDGET), kv, block,
                            options.get("max_seqs", DEFAULT_MAX_SEQS))


def read_trace(path: Path | str, params: Sequence[tuple[str, Any]], rate: Exact | None, seed: int,
               classes: str = "") -> Workload:
    """Read a trace file with a source's parameters at ``rate`` (None: as given) and ``seed``."""
    options = dict(params)
    return load_workload(path, options["format"], rate=rate, arrivals=options["arrivals"], limit=options["limit"],
                         classes=parse_classes(classes) if classes else (), seed=seed)
