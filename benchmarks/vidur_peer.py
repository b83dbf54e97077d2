"""Benchmark: the serving engine against Vidur on the workload Vidur simulated, back to back.

Run::

    VIDUR_VENV=/work/vidur/venv VIDUR_WORK=/work/vidur/work python benchmarks/vidur_peer.py

(``--workload CSV`` and ``--vidur-requests CSV`` name the files when ``VIDUR_WORK`` is not set;
``--skip-vidur`` times ``serve`` alone; ``--core K`` is the core both are pinned to, default 1.)

Workload: the 16,384 requests Vidur 0.0.26 generated for its Sarathi run (``../shared/peers/vidur``:
Llama-2-7B on one H100, chunk 512, at most 128 running, ShareGPT lengths clipped to prompt + output
<= 4,096, Poisson 1.0 requests/s, seed 42), exported from Vidur's own generator to
``$VIDUR_WORK/workload_16384.csv`` (``arrival_s, prompt_tokens, output_tokens``); arrivals rounded to
the nearest microsecond. Engine: ``sarathi``, budget 512, ``max_num_seqs`` 128, KV 118,784 tokens
(7,424 blocks of 16: Vidur's count for that card), the ``vidur-llama2-7b-h100`` cost preset (fitted
to Vidur's predicted batch times, ``benchmarks/vidur_fit.py``), every token's emission time kept.

Then, when ``VIDUR_VENV`` and ``VIDUR_WORK`` are set, Vidur itself
(``taskset -c K ../shared/peers/vidur/run_vidur.sh 16384 TAG``), its wall time from this process
and its own figures from the ``VIDUR_BENCH`` line its shim prints. ``serve`` runs pinned to the same
core (``os.sched_setaffinity``). Printed: both wall times and their ratio, iterations, median and
P99 TTFT side by side, and how far the two engines' per-request TTFTs are apart
(``$VIDUR_WORK/vidur_requests_full.csv``: Vidur's per-request results). The engines differ in the
batch-time model (Vidur's random-forest/linear predictor per operation against four fitted
coefficients) and in small scheduling details, so their TTFTs differ by a few percent.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from prefix_sched.solvers.serving.engine import serve
from prefix_sched.studies.data import find_shared
from prefix_sched.theory.serving.measures import exact_percentile
from prefix_sched.theory.serving.requests import Workload

PRESET = "vidur-llama2-7b-h100"
KV_TOKENS = 118_784
RUNNER = "peers/vidur/run_vidur.sh"
VIDUR_LINE = re.compile(r"VIDUR_BENCH (.*)")


def read_workload(path: Path) -> Workload:
    """Vidur's exported workload: arrivals rounded to whole microseconds, lengths as Vidur clipped them."""
    arrivals, prompts, outputs = [], [], []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            arrivals.append(round(float(row["arrival_s"]) * 1_000_000))
            prompts.append(int(row["prompt_tokens"]))
            outputs.append(int(row["output_tokens"]))
    return Workload.from_lengths(prompts, outputs, arrivals, meta={"trace": path.name})


def pinned(core: int | None):
    """Run the rest of the process on ``core`` (None: leave the affinity as it is); return the old set."""
    old = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})
    return old


def run_serve(workload: Workload, core: int | None):
    old = pinned(core)
    try:
        started = time.perf_counter()
        run = serve(workload, "sarathi", budget=512, max_seqs=128, kv_tokens=KV_TOKENS, block_size=16, cost=PRESET)
        return run, time.perf_counter() - started
    finally:
        os.sched_setaffinity(0, old)


def run_vidur(n: int, core: int) -> tuple[float, dict[str, str], str]:
    runner = find_shared(RUNNER)
    if runner is None:
        sys.exit(f"no {RUNNER} in ../shared")
    tag = f"peer_{int(time.time())}"
    started = time.perf_counter()
    done = subprocess.run(["taskset", "-c", str(core), "bash", str(runner), str(n), tag],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"Vidur failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    match = VIDUR_LINE.search(done.stdout + done.stderr)
    figures = dict(part.split("=", 1) for part in match.group(1).split()) if match else {}
    return seconds, figures, tag


def main() -> None:
    work = os.environ.get("VIDUR_WORK")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", type=Path, default=Path(work) / "workload_16384.csv" if work else None)
    parser.add_argument("--vidur-requests", type=Path,
                        default=Path(work) / "vidur_requests_full.csv" if work else None)
    parser.add_argument("--core", type=int, default=1)
    parser.add_argument("--skip-vidur", action="store_true")
    args = parser.parse_args()
    if args.workload is None or not args.workload.exists():
        sys.exit("no workload: set VIDUR_WORK or give --workload (Vidur's exported workload_16384.csv)")
    workload = read_workload(args.workload)
    print(f"workload: {workload.n:,} requests, {workload.total_prompt_tokens:,} prompt and "
          f"{workload.total_output_tokens:,} output tokens ({args.workload})")
    run, serve_s = run_serve(workload, args.core)
    t = run.timeline
    ttft = np.sort(t.ttft())
    p50 = float(exact_percentile(ttft, 50, presorted=True)) / t.ticks_per_us / 1000
    p99 = float(exact_percentile(ttft, 99, presorted=True)) / t.ticks_per_us / 1000
    print(f"serve (sarathi, budget 512, max-seqs 128, kv-tokens {KV_TOKENS}, block 16, cost {PRESET}), pinned to "
          f"core {args.core}: {serve_s:.2f} s; {run.iterations:,} iterations ({run.stretched_iterations:,} in "
          f"decode stretches); {run.preemptions} preemptions; token times kept: {len(t.token_times):,} int64 "
          f"({t.token_times.nbytes / 2**20:.1f} MiB); median TTFT {p50:.2f} ms, P99 {p99:.2f} ms")
    if args.vidur_requests is not None and args.vidur_requests.exists():
        compare(t, args.vidur_requests)
    if args.skip_vidur or not (work and os.environ.get("VIDUR_VENV")):
        print("Vidur not run (set VIDUR_VENV and VIDUR_WORK, without --skip-vidur)")
        return
    vidur_s, figures, tag = run_vidur(workload.n, args.core)
    print(f"Vidur 0.0.26 (taskset -c {args.core} {RUNNER} {workload.n} {tag}): {vidur_s:.1f} s wall; its own "
          f"figures: {figures}")
    iterations = int(figures.get("num_batches", 0))
    print(f"ratio: Vidur {vidur_s:.1f} s / serve {serve_s:.2f} s = {vidur_s / serve_s:.1f}x; iterations: Vidur "
          f"{iterations:,}, serve {run.iterations:,}")
    if "ttft_median_s" in figures:
        print(f"median TTFT: Vidur {float(figures['ttft_median_s']) * 1000:.2f} ms, serve {p50:.2f} ms; "
              f"P99 TTFT: Vidur {float(figures['ttft_p99_s']) * 1000:.2f} ms, serve {p99:.2f} ms")


def compare(t, path: Path) -> None:
    """Per request, serve's TTFT against Vidur's (same request order as the workload file)."""
    vidur_ttft, vidur_e2e, restarts, arrivals = [], [], [], []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            arrivals.append(float(row["arrival_s"]))
            vidur_ttft.append(float(row["ttft_s"]) * 1000)
            vidur_e2e.append(float(row["e2e_s"]) * 1000)
            restarts.append(int(row["restarts"]))
    if len(vidur_ttft) != t.workload.n:
        print(f"Vidur's per-request file has {len(vidur_ttft)} rows, the workload {t.workload.n}: not compared")
        return
    ours_arrival = t.arrival / t.ticks_per_us / 1e6
    if np.max(np.abs(ours_arrival - np.array(arrivals))) > 1e-3:  # the file keeps about 9 digits
        print("Vidur's per-request arrivals differ from the workload's: not compared")
        return
    ours = t.ttft() / t.ticks_per_us / 1000
    ours_e2e = t.e2e() / t.ticks_per_us / 1000
    v = np.array(vidur_ttft)
    rel = (ours - v) / v
    print(f"per request, serve against Vidur: TTFT median of (serve - Vidur) / Vidur {np.median(rel):+.1%}, "
          f"middle 90% {np.quantile(rel, 0.05):+.1%} .. {np.quantile(rel, 0.95):+.1%}; mean TTFT {ours.mean():.2f} "
          f"vs {v.mean():.2f} ms; mean end-to-end {ours_e2e.mean() / 1000:.2f} vs {np.mean(vidur_e2e) / 1000:.2f} s; "
          f"preempted requests {int((t.preemptions > 0).sum())} vs {int((np.array(restarts) > 0).sum())}")


if __name__ == "__main__":
    main()
