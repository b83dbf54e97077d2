"""``prefix-sched validate``: replay FCFS, LPM and k-LPM on a real transformer and test Definition 2.

With no arguments it runs on CPU with the tiny model and a small built-in Definition 4 stream, in
well under a minute. ``--model 8b --device cuda`` is the GPU experiment (Llama-3.1-8B shape, bf16).
Each model has a default calibration grid and stream (:data:`DEFAULTS`); the options override them.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from prefix_sched.commands.common import (
    DEFAULT_TOKENS_PER_MS, INT32_MAX, add_format_arguments, check_stream_arguments, integer, k_value, listed,
    load_stream, named, number, stdout,
)
from prefix_sched.errors import EXIT_UNKNOWN, InputError
from prefix_sched.gpu_validation.fit import DegenerateFitError
from prefix_sched.gpu_validation.models import DEVICES, SHAPES, check_device, get_shape
from prefix_sched.gpu_validation.report import check_report_folder, summary_lines, write_report
from prefix_sched.gpu_validation.validate import Settings, run_validation
from prefix_sched.solvers.online.policies import INFINITY, parse_policy
from prefix_sched.solvers.online.simulate import VIEWS
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

MAX_MATMUL_N = 2 ** 16
DEFAULT_K = 3
_CPU = {"reuse": (0.0, 0.3, 0.6, 0.9), "warmup": 1, "reps": 3, "matmul_n": 512}
_GPU = {"lengths": (256, 512, 1024, 2048, 4096, 8192, 16384), "reuse": (0.0, 0.3, 0.6, 0.9),
        "warmup": 2, "reps": 5, "matmul_n": 8192,
        "stream": {"n": 64, "r": 4, "u": 3000, "d": 500, "delta": 1500, "seed": 0}}
DEFAULTS = {
    "tiny": {**_CPU, "lengths": (64, 128, 256, 512, 1024),
             "stream": {"n": 24, "r": 4, "u": 600, "d": 100, "delta": 400, "seed": 0}},
    "small": {**_CPU, "lengths": (128, 256, 512, 1024, 2048),
              "stream": {"n": 32, "r": 4, "u": 1000, "d": 200, "delta": 700, "seed": 0}},
    "1b": _GPU,
    "8b": _GPU,
}
DEFAULT_OUT = "validation-results"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate", help="replay schedules on a real transformer and fit Definition 2's cost",
        description="Time prefills with prefix reuse on a Llama-shaped model with random weights, fit "
                    "Definition 2's per-token cost and alpha, replay FCFS / LPM / k-LPM schedules of a stream "
                    "and compare measured against predicted completion times and TTFTs.")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="cpu (fp32, default) or cuda (bf16)")
    parser.add_argument("--model", type=_model_name, default="tiny", metavar="NAME",
                        help=f"model shape: {', '.join(SHAPES)} (default tiny)")
    parser.add_argument("--stream", default=None, metavar="FILE",
                        help="stream file to replay (default: the model's built-in Definition 4 stream)")
    add_format_arguments(parser, "--stream FILE")
    parser.add_argument("--lengths", type=listed(integer(minimum=2)), default=None,
                        help="calibration prompt lengths, integers >= 2, comma-separated")
    parser.add_argument("--reuse", type=listed(number(minimum=0, below=1)), default=None,
                        help="calibration cached fractions in [0, 1) (exact: 0.3 or 3/10), comma-separated")
    parser.add_argument("--warmup", type=integer(minimum=0), default=None,
                        help="untimed runs (>= 0) before each timed prefill")
    parser.add_argument("--reps", type=integer(minimum=1), default=None,
                        help="timed runs (>= 1) per prefill (the median is used)")
    parser.add_argument("--matmul-n", type=integer(minimum=1, maximum=MAX_MATMUL_N), default=None,
                        help=f"size (1 .. {MAX_MATMUL_N}) of the matmul that measures the peak")
    parser.add_argument("--k", type=k_value, default=DEFAULT_K,
                        help=f"k of the k-LPM schedule, an integer >= 0 or 'inf' (default {DEFAULT_K})")
    parser.add_argument("--view", choices=VIEWS, default="online", help="how policies order the stream")
    parser.add_argument("--seed", type=integer(minimum=0, maximum=INT32_MAX), default=0,
                        help="weights, calibration order and tie seed (>= 0, default 0)")
    parser.add_argument("--threads", type=integer(minimum=1, maximum=INT32_MAX), default=None,
                        help="torch CPU threads >= 1 (default: 1 on cpu, torch's default on cuda)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args, "--stream FILE")
    named("--device", check_device, args.device)
    defaults = DEFAULTS[args.model]
    _check_grid(args, defaults)
    settings = Settings(
        device=args.device, model=args.model,
        lengths=args.lengths or defaults["lengths"],
        reuse=tuple(float(f) for f in args.reuse) if args.reuse else defaults["reuse"],
        warmup=defaults["warmup"] if args.warmup is None else args.warmup,
        reps=defaults["reps"] if args.reps is None else args.reps,
        matmul_n=defaults["matmul_n"] if args.matmul_n is None else args.matmul_n,
        view=args.view, seed=args.seed,
        threads=args.threads if args.threads is not None else (1 if args.device == "cpu" else None))
    settings.check()
    out = check_report_folder(args.out, "--out")
    stream = regular_arrival_shuffled_queue(**defaults["stream"]) if args.stream is None else load_stream(args)
    policies = [parse_policy("fcfs"), parse_policy("lpm"), parse_policy("k-lpm", k=args.k)]
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    try:
        result = run_validation(stream, settings, policies, progress)
    except DegenerateFitError as outcome:
        # A measurement outcome, not bad input: the timings leave Definition 2's cost undetermined.
        stdout.print(f"no fit: {outcome}; Definition 2 is neither confirmed nor refuted by these timings "
                     "(exit 3: unknown)", soft_wrap=True)
        return EXIT_UNKNOWN
    paths = write_report(result, out, _command(args, settings), "--out")
    for line in summary_lines(result):
        stdout.print(line)
    stdout.print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _model_name(text: str) -> str:
    try:
        return get_shape(text).name
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _check_grid(args: argparse.Namespace, defaults: dict) -> None:
    """The calibration grid fits the model and has enough points (Settings.check says so too, unnamed)."""
    lengths, reuse = args.lengths or defaults["lengths"], args.reuse or defaults["reuse"]
    positions = SHAPES[args.model].max_positions
    if max(lengths) > positions:
        raise InputError(f"--lengths: {max(lengths)} exceeds the {positions} positions of model {args.model!r}")
    if len(lengths) * len(reuse) < 4:
        option = "--lengths" if args.lengths else "--reuse"
        raise InputError(f"{option}: the calibration grid needs at least 4 (length, reuse) points, got "
                         f"{len(lengths)} lengths x {len(reuse)} fractions")


def _command(args: argparse.Namespace, settings: Settings) -> str:
    """The command line with every effective setting spelled out, to rerun this exact experiment."""
    words = ["prefix-sched", "validate", "--device", settings.device, "--model", settings.model]
    if args.stream is not None:
        words += ["--stream", args.stream, "--format", args.format]
        if args.format == "mooncake":
            rate = DEFAULT_TOKENS_PER_MS if args.tokens_per_ms is None else args.tokens_per_ms
            words += ["--tokens-per-ms", str(rate)]
            if args.limit is not None:
                words += ["--limit", str(args.limit)]
    words += ["--lengths", ",".join(map(str, settings.lengths)),
              "--reuse", ",".join(map(str, args.reuse or settings.reuse)),
              "--warmup", str(settings.warmup), "--reps", str(settings.reps), "--matmul-n", str(settings.matmul_n),
              "--k", "inf" if args.k == INFINITY else str(args.k), "--view", settings.view,
              "--seed", str(settings.seed), "--out", str(args.out)]
    if settings.threads is not None:
        words += ["--threads", str(settings.threads)]
    return shlex.join(words)
