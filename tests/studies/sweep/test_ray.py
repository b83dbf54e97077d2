"""``prefix-sched sweep --ray``: a real local Ray head (2 CPUs, no dashboard, loopback only, token
authentication) runs the same cells as the local executor and gives byte-identical files.

One head serves the module (starting one costs seconds on 2 cores). Every socket of the head's
processes and of the sweep is checked to be on loopback. CI installs the ``sweep`` extra, so
there this module fails when ray is missing; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import ray  # noqa: F401  (only to know whether the extra is installed)
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("ray is not installed (pip install 'prefix-sched[sweep]'); CI installs it and never skips this",
                allow_module_level=True)

from paths import HEAD300, REPO
from prefix_sched.studies.sweep.executors import LocalExecutor
from prefix_sched.studies.sweep.local_ray import loopback_cluster
from prefix_sched.studies.sweep.results import ResultsFolder
from prefix_sched.studies.sweep.runner import run_sweep
from prefix_sched.studies.sweep.spec import read_spec

TRACE = HEAD300
SPEC = f"""
seeds = [0, 1]
caches = ["last", "lru:200000"]
[streams.d]
generator = "def4"
n = 4000
r = 4
u = 1000
d = 100
delta = 1000
loads = ["as-given", 1.5]
[streams.trace]
file = "{TRACE}"
format = "mooncake"
limit = 100
loads = [0.8]
seeds = [0]
[[policies]]
name = "fcfs"
[[policies]]
name = "k-lpm"
k = [2, "inf"]
tie_break = "random"
"""
CELLS = 2 * 2 * 2 * 3 + 2 * 3


@pytest.fixture(scope="module")
def cluster():
    with loopback_cluster(num_cpus=2) as head:
        yield head


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The spec and the results folder of the local executor."""
    folder = tmp_path_factory.mktemp("ray")
    spec = folder / "spec.toml"
    spec.write_text(SPEC)
    results = ResultsFolder(folder / "local")
    results.check()
    assert not run_sweep(read_spec(spec), results, LocalExecutor(2)).failed
    return spec, folder / "local"


def run_cli(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "prefix_sched.cli", "sweep", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def same_files(a: Path, b: Path) -> bool:
    return all((a / name).read_bytes() == (b / name).read_bytes() for name in ("results.csv", "results.parquet"))


def test_ray_gives_the_local_executors_rows_and_stays_on_loopback(cluster, reference, tmp_path):
    spec, local = reference
    process = run_cli(cluster.env, str(spec), "--out", str(tmp_path / "ray"), "--ray", cluster.address)
    csv = tmp_path / "ray" / "results.csv"
    deadline = time.monotonic() + 300
    while not (csv.exists() and csv.read_text().count("\n") >= 2):  # the header and a row: connected
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    driver = tcp_sockets({process.pid})
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert f"{CELLS} cells (0 done before, {CELLS} run now, 0 failed) on Ray cluster {cluster.address}" in stdout
    assert same_files(tmp_path / "ray", local)
    head = tcp_sockets(session_pids(cluster.process.pid))
    assert driver and head, "no sockets found: the check would be empty"
    assert [s for s in driver + head if not s[1]] == []


def test_ray_auto_finds_the_head_and_one_cell_at_a_time_changes_nothing(cluster, reference, tmp_path):
    spec, local = reference
    env = {key: value for key, value in cluster.env.items() if key != "RAY_AUTH_MODE"}  # auto finds the token
    process = run_cli(env, str(spec), "--out", str(tmp_path / "auto"), "--ray", "auto", "--workers", "1")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "on Ray cluster auto, at most 1 cells at once" in stdout
    assert same_files(tmp_path / "auto", local)


def test_a_ray_worker_killed_mid_cell_loses_and_duplicates_nothing(cluster, reference, tmp_path):
    spec, local = reference
    process = run_cli(cluster.env, str(spec), "--out", str(tmp_path / "killed"), "--ray", cluster.address)
    killed = []
    deadline = time.monotonic() + 300
    while not killed:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        for pid in session_pids(cluster.process.pid):
            if command_line(pid).startswith("ray::_ray_cell"):  # a worker running a cell right now
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
        time.sleep(0.01)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert f"(0 done before, {CELLS} run now, 0 failed)" in stdout
    assert same_files(tmp_path / "killed", local)


# --- sockets -------------------------------------------------------------------------------------

def session_pids(session: int) -> set[int]:
    """The processes of the session ``session`` (the Ray head's processes)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[3]) == session:
                found.add(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def tcp_sockets(pids: set[int]) -> list[tuple[str, bool]]:
    """The TCP sockets of ``pids`` (listening or connected), each with whether all its addresses
    are loopback."""
    inodes = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes:
                addresses = [_address(local)] if fields[3] == "0A" else [_address(local), _address(remote)]
                text = f"pid {inodes[inode]} {command_line(inodes[inode])[:40]}: {' -> '.join(map(str, addresses))}"
                found.append((text, all(_loopback(a) for a in addresses)))  # state 0A is LISTEN: no remote end
    return found


def _address(text: str):
    host = bytes.fromhex(text.split(":")[0])
    if len(host) == 4:
        return ipaddress.IPv4Address(host[::-1])
    return ipaddress.IPv6Address(b"".join(host[i:i + 4][::-1] for i in range(0, 16, 4)))


def _loopback(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


# --- serving cells -------------------------------------------------------------------------------

SERVING_SPEC = f"""
seeds = [0, 1]
objective = "ttft_p99<=2s"
[traces.head]
file = "{TRACE}"
format = "mooncake"
limit = 40
rates = ["as-given", 2]
seeds = [0]
[traces.shared]
generator = "shared-prefix"
groups = 3
prompts_per_group = 4
system_prompt_len = 256
question_len = 32
output_len = 8
rate = 4
classes = ["strict=1/2:100ms,relaxed=1/2:500ms"]
[[servers]]
scheduler = "sarathi"
order = ["fcfs", "k-lpm:2"]
prefix_cache = "lru"
kv_tokens = 100000
cost = "blis-h100"
[[servers]]
scheduler = "sglang"
engines = 2
router = "round-robin"
"""
SERVING_CELLS = 2 * 3 + 1 * 2 * 3  # (head: 2 rates x 1 seed, shared: 1 rate x 2 seeds) x 3 servers


def test_serving_cells_give_the_same_rows_on_ray_as_locally(cluster, tmp_path):
    """The serving part of a spec (scheduler, order, router, engines, cost preset, objective, classes,
    a trace file and a generator) runs on Ray with byte-identical rows (the trace file goes through
    Ray's object store)."""
    spec = tmp_path / "serving.toml"
    spec.write_text(SERVING_SPEC)
    local = ResultsFolder(tmp_path / "local")
    local.check()
    assert not run_sweep(read_spec(spec), local, LocalExecutor(1)).failed
    process = run_cli(cluster.env, str(spec), "--out", str(tmp_path / "ray"), "--ray", cluster.address)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert f"{SERVING_CELLS} cells (0 done before, {SERVING_CELLS} run now, 0 failed)" in stdout
    assert same_files(tmp_path / "ray", tmp_path / "local")
    rows = (tmp_path / "ray" / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + SERVING_CELLS and all(",ok," in row for row in rows[1:])
