"""A Ray head node on this machine that talks to loopback only, with token authentication.

For the tests, the benchmark and trying ``prefix-sched sweep --ray`` on one machine:
:func:`loopback_cluster` runs ``ray start --head --block`` in a session of its own and yields its
address and the environment a driver needs (:data:`LOOPBACK_ENV` plus the token and temp folder),
then stops the session's processes. What keeps it on loopback (checked with ``strace`` in a
network namespace that has only ``lo``; docs/sweep.md):

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: Ray's node address is 127.0.0.1. Without it Ray uses
  the machine's interface address and listens on every interface, even with
  ``--node-ip-address=127.0.0.1``, and a driver rewrites ``127.0.0.1:PORT`` to that address too.
  The same setting stops other machines from joining, so a real cluster leaves it out.
- ``RAY_USAGE_STATS_ENABLED=0`` and ``RAY_USAGE_STATS_REPORT_URL``, ``http(s)_proxy`` pointing
  at a loopback port that refuses connections (``no_proxy`` for 127.0.0.1 and localhost): even
  with usage stats disabled, the head's dashboard process (started with
  ``--include-dashboard=false`` too, to run its usage-stats module) posts a "disabled" report to
  usage-stats.ray.io and probes the cloud metadata addresses (169.254.169.254,
  metadata.google.internal); these settings send both to the refusing loopback port.
- ``RAY_AUTH_MODE=token`` with a fresh random token in a file of the temp folder
  (``RAY_AUTH_TOKEN_PATH``): the head refuses drivers without it; nothing is written to
  ``~/.ray``.

What it leaves out: multi-machine clusters (docs/sweep.md says what a cluster user does).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}
STARTED = "Ray runtime started"


@dataclass(frozen=True)
class LoopbackCluster:
    """A running head: ``address`` (``127.0.0.1:PORT``), the driver ``env``, the ``ray start``
    process (its session holds every process of the cluster) and its log file."""

    address: str
    env: dict[str, str]
    process: subprocess.Popen
    log: Path


@contextmanager
def loopback_cluster(num_cpus: int = 2, timeout_s: float = 120.0) -> Iterator[LoopbackCluster]:
    """Start a loopback-only head with ``num_cpus`` CPUs (see the module docstring); stop it on exit.

    Raises
    ------
    RuntimeError
        If the head does not start within ``timeout_s`` seconds (with the tail of its log).
    """
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    refuser = socket.socket()
    refuser.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
    refused = f"http://127.0.0.1:{refuser.getsockname()[1]}"
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {**os.environ, **LOOPBACK_ENV, "RAY_TMPDIR": str(folder), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_REPORT_URL": f"{refused}/",
           "http_proxy": refused, "https_proxy": refused, "HTTP_PROXY": refused, "HTTPS_PROXY": refused}
    port = _free_port()
    log = folder / "ray_start.log"
    ray = Path(sys.executable).with_name("ray")
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
             f"--num-cpus={num_cpus}", "--include-dashboard=false", "--disable-usage-stats"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while STARTED not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start did not start a head: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield LoopbackCluster(f"127.0.0.1:{port}", env, process, log)
    finally:
        _stop(process)
        refuser.close()
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Kill every process of the head's session (a throwaway cluster needs no 30 s drain)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
