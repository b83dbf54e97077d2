"""Read and check a sweep spec (TOML): stream sources, loads, policies, cache models, seeds, metrics.

A spec (version 1) has top-level settings, one ``[streams.NAME]`` table per stream source and one
``[[policies]]`` table per policy family::

    version = 1                    # optional; only 1 is known
    seeds = [0, 1, 2]              # required: generator seeds and random tie-break seeds
    caches = ["last", "lru:20000"] # default ["last"]; see prefix_sched.theory.cache
    metrics = ["p50", "p99"]       # default all (violations only with ttft); see schema.SWEEP_MEASURES
    ttft = 5000                    # the bound T that "violations" counts against
    alpha = 0                      # default 0; view = "online" | "fixed"; batch_size = 1

    [streams.groups]               # a generator: def4 or poisson, with its parameters;
    generator = "poisson"          # a list value sweeps that parameter (one stream per value)
    groups = 25
    group_size = 4
    prefix_len = 4000
    suffix_len = 100
    rate = ["1/4000", "1/2000"]
    loads = ["as-given", 1.5]      # default ["as-given"]: the arrivals as generated

    [streams.trace]                # a file: a prefix-sched stream or a Mooncake trace
    file = "trace.jsonl"           # relative to the spec's folder
    format = "mooncake"            # default "stream"; tokens_per_ms and limit: mooncake only
    limit = 200
    loads = [0.8, 1, 1.5]          # offered loads (arrivals rescaled as `compare` does)
    seeds = [0]                    # optional: this stream's own seeds

    [[policies]]
    name = "k-lpm"                 # fcfs, lpm or k-lpm
    k = [1, 2, 4, "inf"]           # k, tie_break and cycle_start may be lists too
    tie_break = "random"

Numbers are exact: an integer, a decimal (read as printed: ``0.1`` is ``1/10``) or a string
``"p/q"``. Every mistake (an unknown key, a wrong type, a missing file, an empty list, a bad
value, a value given twice) is a :class:`~prefix_sched.errors.FormatError` naming the file and the
key, e.g. ``spec.toml: [streams.trace] limit: must be an integer >= 1, got 'x'``, raised before
any cell runs: each generated stream is built once at its first seed and each file read once, so
that their own checks (``r`` must divide ``n``, a malformed trace line, a load on a stream whose
queries all arrive at once, a prompt longer than an LRU capacity) are bad input too.

What it leaves out: expanding the grid into cells (:mod:`~prefix_sched.studies.sweep.cells`) and running
them.

Examples
--------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "s.toml").write_text('''
... seeds = [0, 1]
... [streams.d]
... generator = "def4"
... n = 8
... r = 2
... u = 5
... d = 5
... delta = [0, "1/2"]
... [[policies]]
... name = "k-lpm"
... k = [1, "inf"]
... ''')
>>> spec = read_spec(folder / "s.toml")
>>> [s.label for s in spec.streams], [p.label for p in spec.policies]
(['d[delta=0]', 'd[delta=1/2]'], ['k-lpm(k=1)', 'k-lpm(k=inf)'])
>>> bad = (folder / "s.toml").read_text().replace("n = 8", "n = 'x'")
>>> _ = (folder / "bad.toml").write_text(bad)
>>> read_spec(folder / "bad.toml")
Traceback (most recent call last):
...
prefix_sched.errors.FormatError: .../bad.toml: [streams.d] n: must be an integer >= 1, got 'x'
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefix_sched.errors import FormatError, PrefixSchedError
from prefix_sched.solvers.online.policies import (
    CYCLE_STARTS, TIE_BREAKS, PolicyName, PolicySpec, option_refusal, parse_k, parse_policy, same_run,
    takes_k_option,
)
from prefix_sched.solvers.online.simulate import VIEWS
from prefix_sched.studies.sweep.reader import Reader, product
from prefix_sched.studies.sweep.schema import SWEEP_MEASURES
from prefix_sched.studies.sweep.serving_spec import SERVING_KEYS, ServingSpec, serving_spec
from prefix_sched.studies.sweep.sources import Source
from prefix_sched.theory.cache import parse_cache
from prefix_sched.theory.formats import DEFAULT_TOKENS_PER_MS, read_mooncake, read_stream
from prefix_sched.theory.generators import poisson_prefix_tree, regular_arrival_shuffled_queue
from prefix_sched.theory.limits import computable_problem
from prefix_sched.theory.load import offered_load
from prefix_sched.theory.measures import MEASURES
from prefix_sched.theory.numbers import Exact, brief, to_json
from prefix_sched.theory.stream import Stream

SPEC_VERSION = 1
AS_GIVEN = "as-given"
FORMATS = ("stream", "mooncake")
POSITIVE, COUNT, NUMBER = "integer >= 1", "integer >= 0", "number"
# Each generator's parameters (all but ``seed``, which the seeds axis sets) and their kinds;
# tests/studies/sweep/test_sweep.py checks this table against the functions' signatures.
GENERATORS: Mapping[str, tuple[Callable[..., Stream], Mapping[str, str]]] = {
    "def4": (regular_arrival_shuffled_queue, {"n": POSITIVE, "r": POSITIVE, "u": POSITIVE, "d": POSITIVE,
                                              "delta": NUMBER}),
    "poisson": (poisson_prefix_tree, {"groups": POSITIVE, "group_size": POSITIVE, "prefix_len": POSITIVE,
                                      "suffix_len": POSITIVE, "rate": NUMBER, "base_len": COUNT}),
}
TOP_KEYS = ("version", "seeds", "caches", "metrics", "ttft", "alpha", "view", "batch_size", "streams", "policies")
STREAM_KEYS = ("loads", "seeds")
FILE_KEYS = ("file", "format", "tokens_per_ms", "limit")
POLICY_KEYS = ("name", "k", "tie_break", "cycle_start")
SPEC_NAMES = {"policy": "name"}
"""The [[policies]] key of each policy option of the library whose key differs (the policy is ``name``)."""


@dataclass(frozen=True)
class StreamSource(Source):
    """One stream: a generator with parameters, or a file, with its loads and seeds.

    Attributes
    ----------
    table : str
        The ``[streams.NAME]`` table it comes from.
    variant : str
        The swept generator parameters, ``"rate=1/2000"``; empty when none is swept.
    kind : str
        The generator's name (``"def4"``, ``"poisson"``) or ``"file"``.
    params : tuple of (str, int or str)
        Generator parameters, or a file's format, limit and tokens per ms; values as
        :func:`~prefix_sched.theory.numbers.to_json` writes them.
    file : str or None
        The file as the spec writes it; ``path`` the file it names, ``sha256`` its bytes' hash.
    loads : tuple
        Offered loads (exact), ``None`` for the arrivals as given.
    seeds : tuple of int
    """

    loads: tuple[Exact | None, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Settings:
    """The settings every cell of a sweep shares."""

    alpha: Exact
    view: str
    batch_size: int
    ttft: Exact | None
    metrics: tuple[str, ...]

    def identity(self) -> dict[str, Any]:
        """The settings as JSON values, for the cell hash."""
        return {"alpha": to_json(self.alpha), "view": self.view, "batch_size": self.batch_size,
                "ttft": None if self.ttft is None else to_json(self.ttft), "metrics": list(self.metrics)}


@dataclass(frozen=True)
class Spec:
    """A checked sweep spec of policy cells; ``path`` is the file as it was named."""

    path: str
    streams: tuple[StreamSource, ...]
    policies: tuple[PolicySpec, ...]
    caches: tuple[str, ...]
    settings: Settings


def read_spec(path: Path | str) -> Spec | ServingSpec:
    """Read and check the sweep spec at ``path``: policy cells, or serving cells
    (:mod:`~prefix_sched.studies.sweep.serving_spec`) when it has ``[traces.NAME]`` and ``[[servers]]``.

    Raises
    ------
    FormatError
        Naming the file and the key, for anything the module docstring lists.
    """
    name = str(path)
    try:
        if not Path(path).is_file():
            what = "a folder" if Path(path).is_dir() else "missing" if not Path(path).exists() else \
                "not a regular file"
            raise FormatError(f"cannot read the sweep spec {name}: {what}")
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as err:
        raise FormatError(f"cannot read the sweep spec {name}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise FormatError(f"{name}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FormatError(f"{name}: not valid TOML ({err})") from err
    except RecursionError:
        raise FormatError(f"{name}: not valid TOML (nested too deeply)") from None
    return check_spec(data, name, Path(path).resolve().parent)


def check_spec(data: Mapping[str, Any], name: str, folder: Path) -> Spec | ServingSpec:
    """Check a spec read from TOML (``data``); ``name`` is how errors name it, ``folder`` where its
    relative paths start. Every refusal is a :class:`~prefix_sched.errors.FormatError`."""
    if any(key in data for key in SERVING_KEYS):
        return serving_spec(data, Reader(name, folder))
    return _Reader(name, folder).spec(data)


class _Reader(Reader):
    """Checks one spec of policy cells; every error names ``self.name`` and the key."""

    # --- the whole spec --------------------------------------------------------------------

    def spec(self, data: Mapping[str, Any]) -> Spec:
        self.known_keys("", data, TOP_KEYS)
        if "version" in data and (isinstance(data["version"], bool) or data["version"] != SPEC_VERSION):
            raise self.error("", "version", f"only version {SPEC_VERSION} is known, got {brief(data['version'])}")
        seeds = self.seeds("", data)
        settings = self.settings(data)
        caches = self.caches(data)
        tables = self.stream_tables(data)
        policy_tables = self.policy_tables(data)
        self.check_size(self.count(tables, seeds) * len(caches) * sum(
            product([len(values) for values in options.values()]) for options in policy_tables))
        policies = self.policies(policy_tables)
        streams = self.streams(tables, seeds, caches, policies, settings)
        return Spec(self.name, streams, policies, caches, settings)

    def settings(self, data: Mapping[str, Any]) -> Settings:
        alpha = self.number("", "alpha", data.get("alpha", 0), minimum=0)
        view = self.choice("", "view", data.get("view", "online"), VIEWS)
        batch_size = self.integer("", "batch_size", data.get("batch_size", 1), minimum=1)
        ttft = self.number("", "ttft", data["ttft"], minimum=0) if "ttft" in data else None
        if "metrics" in data:
            metrics = tuple(self.choice("", "metrics", m, SWEEP_MEASURES)
                            for m in self.values("", "metrics", data["metrics"]))
            self.unique("", "metrics", metrics)
            for name in metrics:
                if MEASURES[name].needs_ttft and ttft is None:
                    raise self.error("", "metrics", f"{name!r} needs the bound ttft = T")
        else:
            metrics = tuple(m for m in SWEEP_MEASURES if ttft is not None or not MEASURES[m].needs_ttft)
        return Settings(alpha, view, batch_size, ttft, metrics)

    def caches(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        specs = []
        for value in self.values("", "caches", data.get("caches", ["last"])):
            try:
                specs.append(parse_cache(value).spec)
            except PrefixSchedError as err:
                raise self.error("", "caches", str(err)) from None
        self.unique("", "caches", specs)
        return tuple(specs)

    # --- streams ---------------------------------------------------------------------------

    def stream_tables(self, data: Mapping[str, Any]) -> list[tuple[str, str, dict]]:
        """``(name, where, body)`` of each ``[streams.NAME]`` table, its keys and list lengths checked."""
        if "streams" not in data:
            raise self.error("", "streams", "missing: add a [streams.NAME] table per stream source")
        tables = data["streams"]
        if not isinstance(tables, dict):
            raise self.error("", "streams", f"must be a table of [streams.NAME] tables, got {brief(tables)}")
        if not tables:
            raise self.error("", "streams", "no stream sources: add a [streams.NAME] table")
        found = []
        for table, body in tables.items():
            where, body, _ = self.source_table("streams", "stream", table, body, GENERATORS, STREAM_KEYS, FILE_KEYS,
                                               '"def4" | "poisson"')
            self.values(where, "loads", body.get("loads", [AS_GIVEN]))
            found.append((table, where, body))
        return found

    def count(self, tables: Sequence[tuple[str, str, dict]], seeds: tuple[int, ...]) -> int:
        """The streams' share of the grid: variants x loads x seeds, from the lists' lengths."""
        total = 0
        for _table, where, body in tables:
            own = len(self.values(where, "seeds", body["seeds"])) if "seeds" in body else len(seeds)
            total += self.variants(where, body, GENERATORS) * len(body.get("loads", [AS_GIVEN])) * own
        return total

    def streams(self, tables, seeds, caches, policies, settings) -> tuple[StreamSource, ...]:
        sources = []
        for table, where, body in tables:
            own_seeds = self.seeds(where, body) if "seeds" in body else seeds
            loads = self.loads(where, body)
            found = self.generated(where, table, body, loads, own_seeds) if "generator" in body \
                else [self.from_file(where, table, body, loads, own_seeds)]
            for source, stream in found:
                self.check_stream(where, source, stream, caches, policies, settings)
                sources.append(source)
        return tuple(sources)

    def generated(self, where, table, body, loads, seeds) -> list[tuple[StreamSource, Stream]]:
        kind = body["generator"]
        function, kinds = GENERATORS[kind]
        required = [name for name, p in inspect.signature(function).parameters.items()
                    if name in kinds and p.default is inspect.Parameter.empty]
        for name in required:
            if name not in body:
                raise self.error(where, name, f"missing: the {kind} generator needs {', '.join(required)}")
        def read(name, value):
            if kinds[name] == NUMBER:
                return to_json(self.number(where, name, value))
            return self.integer(where, name, value, minimum=1 if kinds[name] == POSITIVE else 0)

        found = []
        for variant, combination in self.generator_variants(where, body, kinds, read):
            source = StreamSource(table, variant, kind, tuple(combination), None, None, None, loads, seeds)
            found.append((source, self.generate(where, kind, variant, function, combination, seeds[0])))
        return found

    def from_file(self, where, table, body, loads, seeds) -> tuple[StreamSource, Stream]:
        file = body["file"]
        path = self.file(where, "file", file)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise self.error(where, "file", f"cannot read {path}: {err.strerror or err}") from None
        file_format = self.choice(where, "format", body.get("format", "stream"), FORMATS)
        if file_format != "mooncake":
            for key in ("tokens_per_ms", "limit"):
                if key in body:
                    raise self.error(where, key, 'only applies with format = "mooncake"')
            params: tuple = (("format", file_format),)
        else:
            rate = self.number(where, "tokens_per_ms", body.get("tokens_per_ms", DEFAULT_TOKENS_PER_MS), above=0)
            limit = self.integer(where, "limit", body["limit"], minimum=1) if "limit" in body else None
            params = (("format", file_format), ("tokens_per_ms", to_json(rate)), ("limit", limit))
        source = StreamSource(table, "", "file", params, file, str(path), digest, loads, seeds)
        try:
            return source, read_file_stream(path, params)
        except PrefixSchedError as err:
            raise self.error(where, "file", str(err)) from None
        except RecursionError:
            raise self.error(where, "file", f"{path}: nested too deeply to read") from None

    def check_stream(self, where: str, source: StreamSource, stream: Stream, caches: Sequence[str],
                     policies: Sequence[PolicySpec], settings: Settings) -> None:
        """The checks a stream's own code and the CLI make that would otherwise fail every cell: a
        load on a stream without one, a prompt longer than an LRU capacity, a policy reading output
        lengths the stream lacks, a load or alpha whose times a float cannot hold."""
        label = f" ({source.variant})" if source.variant else ""
        if any(load is not None for load in source.loads):
            try:
                offered_load(stream)
            except PrefixSchedError as err:
                raise self.error(where, "loads", f"cannot rescale the stream{label}: {err}") from None
        for cache in caches:
            try:
                parse_cache(cache).check_stream(stream)
            except PrefixSchedError as err:
                raise self.error(where, "caches", f"the stream{label}: {err}") from None
        missing = next((q for q in stream.queries if q.output_length is None), None)
        for policy in policies:
            if policy.needs_outputs and missing is not None:
                raise self.error("", "policies", f"policy {policy.name.value!r} needs output lengths, and query "
                                                 f"{missing.qid!r} of [streams.{source.table}]{label} has none")
        for load in source.loads:
            problem = computable_problem(stream, load=load, alpha=settings.alpha)
            if problem is None:
                continue
            what, reason = problem
            if what == "stream":
                raise self.error(where, "file" if source.kind == "file" else "generator", f"the stream{label}: {reason}")
            if what == "alpha":
                raise self.error("", "alpha", f"{reason} (on [streams.{source.table}]{label})")
            raise self.error(where, "loads", f"{reason}{f' (on the stream{label})' if label else ''}")

    def loads(self, where: str, body: Mapping[str, Any]) -> tuple[Exact | None, ...]:
        loads = []
        for value in self.values(where, "loads", body.get("loads", [AS_GIVEN])):
            loads.append(None if value == AS_GIVEN else self.number(where, "loads", value, above=0,
                                                                    hint=f" or {AS_GIVEN!r}"))
        self.unique(where, "loads", loads, show=lambda v: AS_GIVEN if v is None else str(v))
        return tuple(loads)

    # --- policies --------------------------------------------------------------------------

    def policy_tables(self, data: Mapping[str, Any]) -> list[dict[str, list]]:
        """Each [[policies]] table's keys as lists (checked: known keys, values of the right kind)."""
        if "policies" not in data:
            raise self.error("", "policies", "missing: add a [[policies]] table per policy")
        tables = data["policies"]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.error("", "policies", f"must be [[policies]] tables, got {brief(tables)}")
        if not tables:
            raise self.error("", "policies", "no policies: add a [[policies]] table")
        found = []
        for number, body in enumerate(tables, start=1):
            where = f"[[policies]] #{number}"
            self.known_keys(where, body, POLICY_KEYS)
            if "name" not in body:
                raise self.error(where, "name", 'missing: a policy such as "fcfs", "k-lpm:3" or "lpm-aging:64"')
            valid = {"tie_break": TIE_BREAKS, "cycle_start": CYCLE_STARTS}
            options = {}
            for key in POLICY_KEYS:
                if key in body:
                    options[key] = self.values(where, key, body[key], scalar=True)
                    for value in options[key]:
                        if key == "name":
                            base = value.partition(":")[0] if isinstance(value, str) else value
                            self.choice(where, key, base, tuple(p.value for p in PolicyName))
                        elif key in valid:
                            self.choice(where, key, value, valid[key])
                        else:
                            self.k(where, value)
            found.append(options)
        return found

    def policies(self, tables: Sequence[dict[str, list]]) -> tuple[PolicySpec, ...]:
        specs: list[PolicySpec] = []
        for number, options in enumerate(tables, start=1):
            where = f"[[policies]] #{number}"
            family = []
            for combination in itertools.product(*([(key, v) for v in vs] for key, vs in options.items())):
                settings = dict(combination)
                try:
                    family.append(parse_policy(settings.pop("name"), **settings))
                except PrefixSchedError as err:  # a bad parameter in the name; k missing, or not taken
                    raise self.error(where, "k" if "k" in settings or "needs k" in str(err) else "name",
                                     str(err)) from None
            given = set(options) - {"name"}
            refusal = option_refusal(options["name"], family, given, spell=lambda o: SPEC_NAMES.get(o, o))
            if refusal is None and "k" in given and not all(takes_k_option(n) for n in options["name"]):
                refusal = "k: only applies to name = 'k-lpm' (k-lpm:K carries its own k, fcfs and lpm have theirs)"
            if refusal is not None:
                key, _, message = refusal.partition(": ")
                raise self.error(where, key, message)
            specs.extend(family)
        self.unique("", "policies", specs, show=_policy_text)
        pair = same_run(specs)
        if pair is not None:
            first, second = pair
            raise self.error("", "policies", f"{_policy_text(first)} and {_policy_text(second)} make the same run "
                                             "(k-lpm with k = 0 is fcfs and with k = inf lpm; a tie rule without ties or "
                                             "a cycle start without cycles changes nothing): list one of them")
        return tuple(specs)

    def k(self, where: str, value: Any) -> None:
        if isinstance(value, bool) or (isinstance(value, float) and value != float("inf")):
            raise self.error(where, "k", f"must be an integer >= 0 or 'inf', got {brief(value)}")
        try:
            parse_k(value)
        except PrefixSchedError as err:
            detail = str(err).removeprefix("k ") if "ASCII" in str(err) else \
                f"must be an integer >= 0 or 'inf', got {brief(value)}"
            raise self.error(where, "k", detail) from None


def _policy_text(policy: PolicySpec) -> str:
    ties = ", random ties" if policy.tie_break == "random" else ""
    return f"{policy.label}{ties}"


def read_file_stream(path: Path | str, params: Sequence[tuple[str, Any]]) -> Stream:
    """Read a stream file with a source's format parameters (``format``, and for a Mooncake trace
    ``tokens_per_ms`` and ``limit``)."""
    options = dict(params)
    if options["format"] == "mooncake":
        return read_mooncake(path, options["tokens_per_ms"], limit=options["limit"])
    return read_stream(path)
