"""Fit the serving model's iteration cost to Vidur's own predicted batch times (least squares).

Model (MODEL_SERVING.md, "Iteration cost"; microseconds)::

    tau = c0 + cp * N + ckv * sum_decodes(context) + catt * sum_chunks x (c + x/2)

with ``cp = cd`` (Vidur times the linear layers on the batch's total token count ``N = Np + Nd``)
and, with ``--tile T``, ``N`` charged as ``T * ceil(N / T)`` (Vidur itself rounds ``N`` up to a
multiple of 8). The fit on the 16,384-request run gives the ``vidur-llama2-7b-h100`` preset of
:mod:`prefix_sched.theory.serving.costs` (``c0 = 5145.37``, ``cp = cd = 20.2056``, ``ckv = 0.213456``,
``catt = 0.00180462``, R^2 0.999).

Input: CSV files of batches timed by Vidur 0.0.26 (Llama-2-7B, H100, TP1; recorded outside this
repository by a wrapper around Vidur's execution-time predictor, ``../shared/peers/vidur``; Vidur's
code is not used here), one row per batch with the columns

    time_us    Vidur's predicted batch time in microseconds
    n_tokens   total query tokens N
    sum_dctx   sum over decode entries of their KV length (Vidur's num_kv_tokens, new token included)
    sum_patt   sum over prefill chunks of x * (c + x/2), x the chunk, c the tokens computed before it

(other columns are ignored). Vidur's attention profile in that kit is synthetic (see
``../shared/peers/vidur/README.md``), so ``catt`` and ``ckv`` describe the kit, not a real H100.

Run: ``python benchmarks/vidur_fit.py BATCHES.csv [MORE.csv ...] [--tile 8] [--sample 200000] [--cross]``
(``--sample`` fits on a seeded sample of that many rows of each file, numpy's ``default_rng(0)``).
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

NAMES = ["c0", "cp=cd", "ckv", "catt"]
COLUMNS = ("time_us", "n_tokens", "sum_dctx", "sum_patt")


def read(path: str, sample: int = 0) -> dict[str, np.ndarray]:
    """The columns of :data:`COLUMNS` as float64 arrays (a seeded sample of ``sample`` rows if > 0)."""
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}")
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[header.index(c) for c in COLUMNS], ndmin=2)
    if sample and len(data) > sample:
        data = data[np.sort(np.random.default_rng(0).choice(len(data), sample, replace=False))]
    return {name: data[:, i] for i, name in enumerate(COLUMNS)}


def design(df: dict[str, np.ndarray], tile: int) -> np.ndarray:
    n = df["n_tokens"]
    if tile > 1:
        n = tile * np.ceil(n / tile)
    return np.column_stack([np.ones(len(n)), n, df["sum_dctx"], df["sum_patt"]])


def fit(df: dict[str, np.ndarray], tile: int) -> tuple[np.ndarray, np.ndarray]:
    x = design(df, tile)
    y = df["time_us"]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return coef, y - x @ coef


def report(label: str, df: dict[str, np.ndarray], coef: np.ndarray, resid: np.ndarray) -> None:
    y = df["time_us"]
    r2 = 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())
    rel = np.abs(resid) / y
    print(f"{label}: {len(y)} batches, time {y.min():.0f}..{y.max():.0f} us (mean {y.mean():.0f})")
    print("  " + ", ".join(f"{n} = {c:.6g}" for n, c in zip(NAMES, coef)) + " (us)")
    print(f"  R^2 = {r2:.6f}; residual rms {np.sqrt(np.mean(resid**2)):.1f} us, "
          f"max |r| {np.max(np.abs(resid)):.1f} us; |r|/t median {np.median(rel):.2%}, "
          f"p99 {np.quantile(rel, 0.99):.2%}, max {rel.max():.2%}; sum of times "
          f"{y.sum() / 1e6:.3f} s vs fitted {(y - resid).sum() / 1e6:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="+")
    parser.add_argument("--tile", type=int, default=1, help="charge N as T * ceil(N / T)")
    parser.add_argument("--sample", type=int, default=0, help="fit on a seeded sample of this many rows")
    parser.add_argument("--cross", action="store_true", help="also score each file with the others' fit")
    args = parser.parse_args()
    frames = {path: read(path, args.sample) for path in args.csv}
    fits = {}
    for path, df in frames.items():
        coef, resid = fit(df, args.tile)
        fits[path] = coef
        report(f"{path} (tile {args.tile})", df, coef, resid)
    if args.cross and len(frames) > 1:
        for path, df in frames.items():
            for other, coef in fits.items():
                if other != path:
                    report(f"{path} scored with the fit of {other}", df, coef,
                           df["time_us"] - design(df, args.tile) @ coef)


if __name__ == "__main__":
    main()
