"""Benchmark: how far the exact check of Theorem 1's reduction reaches.

For m = 1, 2, ... decide one planted yes- and one certified no-instance (battery seeds) with the
exact DP under a time limit (default 60 s each), until one of them is unknown. Reports the largest
m for which both were decided, the DP time and state count per m, and the growth factor of the
time from one m to the next (a ratio measured in the same process, not an absolute speed claim).

Usage::

    python benchmarks/reduction.py [--time-limit 60] [--max-m 6] [--out docs/reduction_time.png] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import re

from prefix_sched.reductions.verify import BatterySettings, run_battery, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--max-m", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write a PNG figure of DP time per m")
    parser.add_argument("--json", default=None, help="write the measurements as JSON")
    args = parser.parse_args()

    rows = []
    largest = 0
    for m in range(1, args.max_m + 1):
        settings = BatterySettings(ms=(m,), count=1, seed=args.seed, time_limit=args.time_limit, workers=2)
        reports = [r for r in run_battery(settings) if r.instance is not None]
        for r in reports:
            states = re.match(r"(\d+) states", r.ttft_detail)
            rows.append({"m": m, "kind": r.kind, "status": r.ttft_status, "ok": r.ok,
                         "dp_seconds": round(r.ttft_seconds, 3), "states": int(states.group(1)) if states else None})
            print(f"m={m} {r.kind:3} {r.ttft_status:10} {r.ttft_seconds:8.2f} s  {rows[-1]['states']} states", flush=True)
        if all(r.ok for r in reports):
            largest = m
        else:
            break
    print(f"\nlargest m with a yes- and a no-instance both decided within {args.time_limit:g} s: {largest}")
    print("\n| m | kind | status | DP time (s) | states | time / time at m-1 |")
    print("|---|------|--------|-------------|--------|--------------------|")
    previous: dict[str, float] = {}
    for row in rows:
        before = previous.get(row["kind"])
        ratio = f"{row['dp_seconds'] / before:.1f}" if before and row["status"] != "UNKNOWN" else "-"
        print(f"| {row['m']} | {row['kind']} | {row['status']} | {row['dp_seconds']:.2f} | {row['states']} | {ratio} |")
        previous[row["kind"]] = row["dp_seconds"]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"time_limit_s": args.time_limit, "seed": args.seed, "largest_m": largest, "rows": rows,
                       "versions": versions()}, handle, indent=1)
    if args.out:
        _figure(rows, args.time_limit, args.out)


def _figure(rows, limit, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for kind, marker in (("yes", "o"), ("no", "s")):
        points = [(r["m"], r["dp_seconds"]) for r in rows if r["kind"] == kind and r["status"] != "UNKNOWN"]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, label=f"{kind}-instances")
    ax.axhline(limit, color="grey", linestyle="--", label=f"time limit {limit:g} s")
    ax.set_yscale("log")
    ax.set_xlabel("m (stream of 5m + 2 queries)")
    ax.set_ylabel("exact DP time (s)")
    ax.set_title("Theorem 1 reduction: exact TTFT feasibility")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
