"""Issue 20, sweep specs: checked whole before any cell runs, with exactly the CLI's rules.

- A table of every key a spec may have (:data:`SPEC_KEYS`, with a valid value each); a
  completeness test fails when the spec modules gain a key the table lacks.
- Property: any TOML value for any key gives a checked spec whose every cell then runs ok, or one
  FormatError line naming the file and the key; never another exception, never a failed cell.
- Each rule of the issue by hand: values the engine cannot compute (loads, alpha, rates), the
  CLI's combinations (output lengths, ties and cycles, two spellings of one policy; serving's
  order, router, memory rules), the grid counted before anything is built, trace paths that are
  not regular files (refused without opening them), seeds and stored values that a Parquet column
  holds, and the old policy cells' keys unchanged.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paths import HEAD300, REPO
from prefix_sched.cli import main
from prefix_sched.errors import FormatError, PrefixSchedError
from prefix_sched.studies.sweep import reader as reader_module
from prefix_sched.studies.sweep import serving_spec, spec as spec_module
from prefix_sched.studies.sweep.cells import expand
from prefix_sched.studies.sweep.run_cell import run_cell
from prefix_sched.studies.sweep.spec import check_spec, read_spec

# --- the table of keys ------------------------------------------------------------------------------

# (place, key) -> a valid value in the base spec of that place. Places: "top", "stream" (a [streams.d]
# def4 table), "poisson" (a [streams.p] poisson table), "file" (a [streams.f] mooncake file table),
# "policy" (a [[policies]] table); serving: "serving", "trace" (a [traces.t] file), "generated" (a
# [traces.g] shared-prefix table), "server" (a [[servers]] table).
SPEC_KEYS = {
    ("top", "version"): 1, ("top", "seeds"): [0], ("top", "caches"): ["last"], ("top", "metrics"): ["p99"],
    ("top", "ttft"): 1000, ("top", "alpha"): 0, ("top", "view"): "online", ("top", "batch_size"): 1,
    ("stream", "generator"): "def4", ("stream", "n"): 4, ("stream", "r"): 2, ("stream", "u"): 5, ("stream", "d"): 3,
    ("stream", "delta"): 4, ("stream", "loads"): ["as-given"], ("stream", "seeds"): [0],
    ("poisson", "generator"): "poisson", ("poisson", "groups"): 2, ("poisson", "group_size"): 2,
    ("poisson", "prefix_len"): 5, ("poisson", "suffix_len"): 2, ("poisson", "rate"): "1/10", ("poisson", "base_len"): 0,
    ("file", "file"): str(HEAD300), ("file", "format"): "mooncake", ("file", "tokens_per_ms"): 20,
    ("file", "limit"): 5, ("policy", "name"): "k-lpm", ("policy", "k"): 2, ("policy", "tie_break"): "random",
    ("policy", "cycle_start"): "lpm",
    ("serving", "version"): 1, ("serving", "seeds"): [0], ("serving", "objective"): "ttft_p99<=10s",
    ("trace", "file"): str(HEAD300), ("trace", "format"): "mooncake", ("trace", "limit"): 12, ("trace", "rates"): [1],
    ("trace", "arrivals"): None, ("trace", "classes"): ["a=1:1s"], ("trace", "seeds"): [0],
    ("generated", "generator"): "shared-prefix", ("generated", "groups"): 2, ("generated", "prompts_per_group"): 2,
    ("generated", "system_prompt_len"): 16, ("generated", "question_len"): 4, ("generated", "output_len"): 3,
    ("generated", "rate"): 10,
    ("server", "scheduler"): "sarathi", ("server", "order"): "fcfs", ("server", "router"): None,
    ("server", "engines"): 1, ("server", "prefix_cache"): "none", ("server", "cost"): "seed", ("server", "budget"): 64,
    ("server", "kv_tokens"): 100000, ("server", "block_size"): 16, ("server", "max_seqs"): 8,
}
"""Every key of every table (None: no value is valid in the base spec, e.g. a router for one engine)."""


def _module_keys() -> set[tuple[str, str]]:
    keys = {("top", key) for key in spec_module.TOP_KEYS if key not in ("streams", "policies")}
    keys |= {(place, key) for place in ("stream", "poisson", "file") for key in spec_module.STREAM_KEYS
             if place == "stream"}
    keys |= {("stream", "generator"), ("poisson", "generator")}
    keys |= {("stream", key) for key in spec_module.GENERATORS["def4"][1]}
    keys |= {("poisson", key) for key in spec_module.GENERATORS["poisson"][1]}
    keys |= {("file", key) for key in spec_module.FILE_KEYS}
    keys |= {("policy", key) for key in spec_module.POLICY_KEYS}
    keys |= {("serving", key) for key in serving_spec.TOP_KEYS if key not in serving_spec.SERVING_KEYS}
    keys |= {("trace", key) for key in (*serving_spec.FILE_KEYS, *serving_spec.TRACE_KEYS)}
    keys |= {("generated", "generator")} | {("generated", key) for key in serving_spec.GENERATORS["shared-prefix"][1]}
    keys |= {("server", key) for key in serving_spec.SERVER_KEYS}
    return keys


def test_the_table_has_every_key_of_the_spec():
    """Fails when a spec module gains a key :data:`SPEC_KEYS` lacks (add it with a valid value)."""
    assert _module_keys() - set(SPEC_KEYS) == set(), "keys the table lacks"
    assert set(SPEC_KEYS) - _module_keys() == set(), "keys the spec no longer has"


def test_the_generator_tables_match_the_generators_signatures():
    import inspect

    for table in (spec_module.GENERATORS, serving_spec.GENERATORS):
        for name, (function, kinds) in table.items():
            assert set(kinds) == set(inspect.signature(function).parameters) - {"seed"}, name


# --- base specs and random values ---------------------------------------------------------------

def policy_spec() -> dict:
    return {
        "seeds": [0], "ttft": 1000,
        "streams": {"d": {"generator": "def4", "n": 4, "r": 2, "u": 5, "d": 3, "delta": 4},
                    "p": {"generator": "poisson", "groups": 2, "group_size": 2, "prefix_len": 5, "suffix_len": 2,
                          "rate": "1/10"},
                    "f": {"file": str(HEAD300), "format": "mooncake", "limit": 5}},
        "policies": [{"name": "k-lpm", "k": 2}, {"name": "fcfs"}],
    }


def serving_spec_data() -> dict:
    return {
        "seeds": [0],
        "traces": {"t": {"file": str(HEAD300), "format": "mooncake", "limit": 12, "rates": [1]},
                   "g": {"generator": "shared-prefix", "groups": 2, "prompts_per_group": 2, "system_prompt_len": 16,
                         "question_len": 4, "output_len": 3, "rate": 10}},
        "servers": [{"scheduler": "sarathi", "budget": 64, "max_seqs": 8}],
    }


PLACES = {"top": ("policy", None), "stream": ("policy", ("streams", "d")), "poisson": ("policy", ("streams", "p")),
          "file": ("policy", ("streams", "f")), "policy": ("policy", ("policies", 0)), "serving": ("serving", None),
          "trace": ("serving", ("traces", "t")), "generated": ("serving", ("traces", "g")),
          "server": ("serving", ("servers", 0))}


def with_value(place: str, key: str, value) -> dict:
    kind, path = PLACES[place]
    data = policy_spec() if kind == "policy" else serving_spec_data()
    table = data if path is None else data[path[0]][path[1]]
    table[key] = value
    return data


PLAUSIBLE = ["as-given", "inf", "1/2", "0.5", "1e-400", "1e400", "²", "３", "+3", "-1", "k-lpm:²", "k-lpm:3", "lpm",
             "fcfs", "lof", "hrrn", "random", "oldest", "fixed", "lru:０", "lru:8", "unbounded", "p99", "violations",
             "stream", "mooncake", "sharegpt", "azure", "def4", "poisson", "shared-prefix", "sarathi", "slai",
             "slai-fcfs:+1", "rad-fixed:2", "prefix-aware:abs=-1", "round-robin", "seed", "cp=nan", "c0=1e-400",
             "lru", "none", "a=1:1e400ms", "a=0.5:1ms", "seed-tile128", "ttft_p42<=1s", "/dev/zero", "/", "",
             "x" * 300, "truncated-exp"]
SCALARS = st.one_of(
    st.integers(-3, 60), st.sampled_from([0, 1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, -2 ** 63,
                                         10 ** 30, 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-0.0, 5e-324, 1e308, 0.1, 1.5]),
    st.text(max_size=12), st.sampled_from(PLAUSIBLE), st.booleans(),
    st.datetimes(max_value=datetime.datetime(2100, 1, 1)), st.dates(), st.times(),
)
TOML_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.lists(st.lists(SCALARS, max_size=2), max_size=2),
                        st.dictionaries(st.text(max_size=5), SCALARS, max_size=2))
# Sizes are kept small where a value is accepted and its cells then run (a stream of 10^6 queries
# is valid, only slow).
TOO_BIG = {"n", "u", "d", "groups", "group_size", "prefix_len", "suffix_len", "base_len", "limit", "prompts_per_group",
           "system_prompt_len", "question_len", "output_len", "kv_tokens", "budget", "max_seqs", "engines", "batch_size"}


def _sized(key: str, value) -> bool:
    def small(v):
        return not (isinstance(v, int) and not isinstance(v, bool) and 200 < v < 10 ** 12)
    values = value if isinstance(value, list) else [value]
    return key not in TOO_BIG or all(small(v) for v in values if not isinstance(v, list))


@pytest.mark.parametrize("place, key", sorted(SPEC_KEYS), ids=[f"{p}.{k}" for p, k in sorted(SPEC_KEYS)])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=TOML_VALUES)
def test_any_value_of_any_key_is_checked_before_any_cell_runs(place, key, value):
    """Property: a spec with any value at any key is refused in one line naming the file and the key,
    or accepted, and then every one of its cells runs ok (the reader let nothing through that would
    fail a cell)."""
    if not _sized(key, value):
        return
    data = with_value(place, key, value)
    try:
        spec = check_spec(data, "s.toml", REPO)
    except FormatError as err:
        message = str(err)
        assert message.startswith("s.toml: ") and "\n" not in message
        return
    cells = expand(spec)
    assert len(cells) <= 64, "a random value grew the grid"
    for cell in cells:
        record = run_cell(cell).record
        assert record["status"] == "ok", (key, value, record["error"])


@pytest.mark.parametrize("place, key", sorted(k for k, v in SPEC_KEYS.items() if v is not None),
                         ids=[f"{p}.{k}" for p, k in sorted(k for k, v in SPEC_KEYS.items() if v is not None)])
def test_every_tables_valid_value_is_accepted(place, key):
    value = SPEC_KEYS[(place, key)]
    data = with_value(place, key, value)
    if place == "file" and key == "tokens_per_ms" or place == "trace" and key == "arrivals":
        pass
    if place == "server" and key == "block_size":
        data["servers"][0]["kv_tokens"] = 100000
    check_spec(data, "s.toml", REPO)


# --- each rule of the issue, through the command --------------------------------------------------

def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def write_spec(folder: Path, data: dict, name: str = "spec.toml") -> Path:
    lines = [f"{key} = {_toml(value)}" for key, value in data.items() if not isinstance(value, (dict,)) and not (
        isinstance(value, list) and value and isinstance(value[0], dict))]
    for group in ("streams", "traces"):
        for table, body in data.get(group, {}).items():
            lines.append(f"[{group}.{table}]")
            lines += [f"{key} = {_toml(value)}" for key, value in body.items()]
    for group in ("policies", "servers"):
        for body in data.get(group, []):
            lines.append(f"[[{group}]]")
            lines += [f"{key} = {_toml(value)}" for key, value in body.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def refused(tmp_path, capsys, data: dict) -> str:
    """Run the spec through the command: exit 2 with one line, nothing written; return the line."""
    spec = write_spec(tmp_path, data)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"prefix-sched sweep: error: {spec}: "), err
    assert not (tmp_path / "out").exists()
    return lines[0]


def _policy(**changes) -> dict:
    data = policy_spec()
    for path, value in changes.items():
        table = data
        *heads, last = path.split("__")
        for head in heads:
            table = table[int(head)] if head.isdigit() else table[head]
        table[last] = value
    return data


RULES = [
    # values the engine cannot compute
    (lambda: _policy(streams__d__loads=["1e-400"]), "[streams.d] loads: 1e-400 makes the times of a run reach"),
    (lambda: _policy(alpha="1e306"), "alpha: 1.0e+306 makes the times of a run reach"),
    (lambda: _policy(streams__p__rate="1e-300"), "[streams.p] rate: poisson: rate 1e-300: the arrival times"),
    (lambda: _policy(streams__p__rate="1e-400"), "[streams.p] rate: poisson: rate 1e-400: its mean gap"),
    (lambda: _policy(streams__d__delta="1e400"), "[streams.d] delta: must be at most"),
    (lambda: _policy(streams__d__n=10 ** 12, streams__d__r=1), "1000000000000: that many queries need about"),
    # parameters in names and values
    (lambda: _policy(policies__0__name="k-lpm:²", policies__0__k=None), "'²' (SUPERSCRIPT TWO)"),
    (lambda: _policy(policies__0__k="３"), "[[policies]] #1 k: must be written in ASCII digits: '３'"),
    (lambda: _policy(caches=["lru:１0"]), "caches: cache 'lru:１0': the capacity must be written in ASCII digits"),
    (lambda: _policy(streams__d__delta="+4"), "[streams.d] delta: is written without a sign, got '+4'"),
    # combinations the CLI refuses
    (lambda: _policy(policies=[{"name": "lof"}]), "policies: policy 'lof' needs output lengths, and query"),
    (lambda: _policy(policies=[{"name": "fcfs", "tie_break": "random"}]), "[[policies]] #1 tie_break: no policy run"),
    (lambda: _policy(policies=[{"name": "lpm", "cycle_start": "fcfs"}]), "[[policies]] #1 cycle_start: only applies"),
    (lambda: _policy(policies=[{"name": "lpm", "k": "inf"}]), "[[policies]] #1 k: only applies to name k-lpm"),
    (lambda: _policy(policies=[{"name": "fcfs"}, {"name": "k-lpm", "k": 0}]),
     "policies: fcfs and k-lpm(k=0) make the same run"),
    (lambda: _policy(policies=[{"name": "k-lpm", "k": [0, 2], "tie_break": ["oldest", "random"]}]),
     "policies: k-lpm(k=0) and k-lpm(k=0), random ties make the same run"),
    (lambda: _policy(policies=[{"name": "k-lpm:2"}, {"name": "k-lpm", "k": 2}]), "policies: k-lpm(k=2) is given twice"),
    # seeds and stored values
    (lambda: _policy(seeds=[2 ** 64 - 1]), "seeds: must be at most 2^63 - 1 (a signed 64-bit integer), got 18446744073709551615"),
    (lambda: _policy(batch_size=2 ** 63), "batch_size: must be at most 2^63 - 1"),
    (lambda: _policy(streams__f__limit=2 ** 70), "[streams.f] limit: must be at most 2^63 - 1"),
]


@pytest.mark.parametrize("make, message", RULES, ids=[m for _, m in RULES])
def test_each_rule_refuses_in_one_line_before_any_cell(make, message, tmp_path, capsys):
    data = make()
    for table in data.get("policies", []):
        for key in [k for k, v in table.items() if v is None]:
            del table[key]
    line = refused(tmp_path, capsys, data)
    assert message in line, line


SERVING_RULES = [
    ({"servers": [{"scheduler": "sarathi", "router": "least-work"}]}, "[[servers]] #1 router: only applies with engines"),
    ({"servers": [{"scheduler": "sarathi", "block_size": 8}]}, "[[servers]] #1 block_size: only applies with kv_tokens"),
    ({"servers": [{"scheduler": "sarathi", "prefix_cache": "lru"}]}, "[[servers]] #1 prefix_cache: lru shares the KV"),
    ({"servers": [{"scheduler": "sarathi", "prefix_cache": "lru", "kv_tokens": 9000, "block_size": 1}]},
     "[[servers]] #1 block_size: does not apply with prefix_cache = 'lru'"),
    ({"servers": [{"scheduler": "slai", "order": "fcfs"}]}, "[[servers]] #1 order: scheduler 'slai' orders new"),
    ({"servers": [{"scheduler": "sarathi", "order": "lpm"}]}, "[[servers]] #1 order: order 'lpm' ranks requests by"),
    ({"servers": [{"scheduler": "sarathi"}, {"scheduler": "sarathi", "order": "fcfs"}]}, "makes the same run as sarathi"),
    ({"servers": [{"scheduler": "sarathi", "cost": ["seed", "c0=15200,cp=57.4,cd=57.4"]}]}, "makes the same run as"),
    ({"servers": [{"scheduler": "sarathi", "engines": [1, 2], "router": "least-work"}]}, "router: only applies"),
    ({"servers": [{"scheduler": "sarathi", "kv_tokens": 100}]}, "tokens of KV memory"),
    ({"servers": [{"scheduler": "sarathi", "cost": "cp=1e-400"}]}, "[[servers]] cost: t at rate 1 with cost 'cp=1e-400': a tick would be 1/1.0e+400 us"),
    ({"servers": [{"scheduler": "sarathi", "engines": 10 ** 6}]}, "[[servers]] #1 engines: must be at most 65536"),
    ({"servers": [{"scheduler": "slai-fcfs:+1"}]}, "[[servers]] #1 scheduler: scheduler 'slai-fcfs:+1': the offset is"),
    ({"traces": {"t": {"file": str(HEAD300), "format": "mooncake", "limit": 12, "rates": ["1e-300"]}}},
     "[traces.t] rates: t at rate 1e-300 with cost 'seed': the last arrival"),
    ({"traces": {"t": {"file": str(HEAD300), "format": "mooncake", "limit": 12, "arrivals": "poisson"}}},
     "[traces.t] arrivals: only applies with format = \"sharegpt\""),
    ({"traces": {"t": {"file": str(HEAD300), "format": "mooncake", "limit": 12, "classes": "a=1:1e400ms"}}},
     "[traces.t] classes: classes 'a=1:1e400ms'"),
    ({"objective": "tbt_p99<=slo"}, "objective: tbt_p99<=slo compares with each class's TBT objective"),
    ({"objective": "tbt_p99[gold]<=1s"}, "objective: tbt_p99[gold]<=1s: [traces.t] has no class 'gold'"),
    ({"traces": {"g": {"generator": "shared-prefix", "groups": 10 ** 12}}}, "that many queries need about"),
    ({"traces": {"g": {"generator": "shared-prefix", "rate": "1e-300"}}}, "[traces.g] rate: shared-prefix: rate 1e-300"),
    ({"policies": [{"name": "fcfs"}]}, "policies: a spec has policy cells"),
    ({"servers": [{"scheduler": "sarathi", "prefix_cache": "unbounded", "order": ["k-lpm:inf", "lpm"]}]},
     "order=lpm, prefix_cache=unbounded, cost=seed, budget=512, max_seqs=128 makes the same run as sarathi, "
     "order=k-lpm:inf"),
    ({"servers": [{"scheduler": "sarathi", "prefix_cache": "unbounded", "order": "k-lpm:0"},
                  {"scheduler": "sarathi", "prefix_cache": "unbounded"}]}, "[[servers]] #2 scheduler: sarathi, "
     "prefix_cache=unbounded, cost=seed, budget=512, max_seqs=128 makes the same run as sarathi, order=k-lpm:0"),
]


@pytest.mark.parametrize("changes, message", SERVING_RULES, ids=[m for _, m in SERVING_RULES])
def test_each_serving_rule_refuses_in_one_line_before_any_cell(changes, message, tmp_path, capsys):
    data = serving_spec_data()
    data.update(changes)
    line = refused(tmp_path, capsys, data)
    assert message in line, line


def test_the_grid_is_counted_before_anything_is_built(tmp_path, capsys, monkeypatch):
    def no_build(**kwargs):
        raise AssertionError("a stream was built before the grid was counted")
    monkeypatch.setitem(spec_module.GENERATORS, "def4", (no_build, spec_module.GENERATORS["def4"][1]))
    data = _policy(streams__d__delta=list(range(1000)), streams__d__u=list(range(1, 1001)))
    line = refused(tmp_path, capsys, data)
    assert f"the grid has {1000 * 1000 * 2 + 2 + 2} cells, more than the {reader_module.MAX_CELLS}" in line


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_trace_path_that_is_not_a_regular_file_is_refused_without_opening_it(kind, tmp_path):
    """Run in a child with a time limit: opening a named pipe with no writer would block forever."""
    target = {"fifo": tmp_path / "pipe", "device": Path("/dev/zero"), "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    data = _policy(streams__f__file=str(target))
    spec = write_spec(tmp_path, data)
    result = subprocess.run([sys.executable, "-m", "prefix_sched.cli", "sweep", str(spec), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"[streams.f] file: {target} is a" in result.stderr and "not a regular file" in result.stderr


def test_the_spec_file_itself_must_be_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "spec.toml")
    result = subprocess.run([sys.executable, "-m", "prefix_sched.cli", "sweep", str(tmp_path / "spec.toml"), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and "cannot read the sweep spec" in result.stderr and "not a regular file" in result.stderr


def test_the_largest_seed_fits_the_parquet_file(tmp_path, capsys):
    data = _policy(seeds=[2 ** 63 - 1], policies=[{"name": "fcfs"}])
    del data["streams"]["p"], data["streams"]["f"]
    spec = write_spec(tmp_path, data)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 0
    from prefix_sched.studies.sweep.results import read_results

    rows = read_results(tmp_path / "out" / "results.parquet")
    assert [row["seed"] for row in rows] == [2 ** 63 - 1]


def test_a_spec_read_twice_gives_the_same_cells(tmp_path):
    spec = write_spec(tmp_path, policy_spec())
    assert [c.key for c in expand(read_spec(spec))] == [c.key for c in expand(read_spec(spec))]


# --- the old policy cells keep their keys ------------------------------------------------------

SMALL_KEYS_SHA256 = "f30d90d104cb4f801e4d13f28f52b189e665a8b0b6ef8ca93019e83a4c9dfc4f"
"""The SHA-256 of the sorted cell keys of examples/sweep_small.toml before issue 20 (its 64 rows):
a results folder of an earlier release resumes only if this holds."""


def test_the_example_specs_cells_keep_their_keys():
    cells = expand(read_spec(REPO / "examples" / "sweep_small.toml"))
    keys = ",".join(sorted(cell.key for cell in cells))
    assert len(cells) == 64 and hashlib.sha256(keys.encode()).hexdigest() == SMALL_KEYS_SHA256


def test_errors_never_escape_as_anything_but_format_errors():
    """A few values that used to escape: a datetime, a nested table, NaN, an unhashable name."""
    for place, key, value in [("stream", "n", datetime.date(2020, 1, 1)), ("policy", "name", {"a": 1}),
                              ("top", "alpha", math.nan), ("policy", "name", [["fcfs"]]),
                              ("poisson", "rate", "1e-400"), ("server", "scheduler", ["sarathi", ["x"]])]:
        with pytest.raises(PrefixSchedError):
            check_spec(with_value(place, key, value), "s.toml", REPO)


def test_more_local_workers_than_memory_holds_are_refused_before_any_starts(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(REPO / "examples" / "sweep_small.toml"), "--out", str(out), "--workers",
                 str(10 ** 9)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers: 1000000000 local worker processes need at least" in err
    assert not (out / "results.csv").exists()
