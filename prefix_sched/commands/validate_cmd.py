"""``prefix-sched validate``: replay FCFS, LPM and k-LPM on a real transformer and test Definition 2.

With no arguments it runs on CPU with the tiny model and a small built-in Definition 4 stream, in
well under a minute. ``--model 8b --device cuda`` is the GPU experiment (Llama-3.1-8B shape, bf16).
Each model has a default calibration grid and stream (:data:`DEFAULTS`); the options override them.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from prefix_sched.commands.common import DEFAULT_TOKENS_PER_MS, load_stream, stdout
from prefix_sched.errors import InputError
from prefix_sched.gpu_validation.models import DEVICES, SHAPES, get_shape
from prefix_sched.gpu_validation.report import summary_lines, write_report
from prefix_sched.gpu_validation.validate import Settings, run_validation
from prefix_sched.solvers.policies import parse_policy
from prefix_sched.solvers.simulate import VIEWS
from prefix_sched.theory.generators import regular_arrival_shuffled_queue

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
    parser.add_argument("--model", default="tiny", metavar="NAME",
                        help=f"model shape: {', '.join(SHAPES)} (default tiny)")
    parser.add_argument("--stream", default=None, metavar="FILE",
                        help="stream file to replay (default: the model's built-in Definition 4 stream)")
    parser.add_argument("--format", choices=("stream", "mooncake"), default="stream",
                        help="FILE is a prefix-sched stream (default) or a Mooncake trace")
    parser.add_argument("--tokens-per-ms", default=str(DEFAULT_TOKENS_PER_MS),
                        help="Mooncake only: prefill tokens per millisecond, to turn ms into token-times")
    parser.add_argument("--limit", type=int, default=None, help="Mooncake only: read the first N requests")
    parser.add_argument("--lengths", default=None, help="calibration prompt lengths, comma-separated")
    parser.add_argument("--reuse", default=None, help="calibration cached fractions in [0, 1), comma-separated")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs before each timed prefill")
    parser.add_argument("--reps", type=int, default=None, help="timed runs per prefill (the median is used)")
    parser.add_argument("--matmul-n", type=int, default=None, help="size of the matmul that measures the peak")
    parser.add_argument("--k", default="3", help="k of the k-LPM schedule (default 3)")
    parser.add_argument("--view", choices=VIEWS, default="online", help="how policies order the stream")
    parser.add_argument("--seed", type=int, default=0, help="weights, calibration order and tie seed (default 0)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 on cpu, torch's default on cuda)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    shape = get_shape(args.model)
    defaults = DEFAULTS[shape.name]
    settings = Settings(
        device=args.device, model=shape.name,
        lengths=_numbers(args.lengths, int, "--lengths") if args.lengths else defaults["lengths"],
        reuse=_numbers(args.reuse, float, "--reuse") if args.reuse else defaults["reuse"],
        warmup=defaults["warmup"] if args.warmup is None else args.warmup,
        reps=defaults["reps"] if args.reps is None else args.reps,
        matmul_n=defaults["matmul_n"] if args.matmul_n is None else args.matmul_n,
        view=args.view, seed=args.seed,
        threads=args.threads if args.threads is not None else (1 if args.device == "cpu" else None))
    settings.check()
    if args.stream is None:
        if args.format != "stream":
            raise InputError("--format mooncake needs --stream FILE")
        stream = regular_arrival_shuffled_queue(**defaults["stream"])
    else:
        stream = load_stream(args)
    policies = [parse_policy("fcfs"), parse_policy("lpm"), parse_policy("k-lpm", k=args.k)]
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    result = run_validation(stream, settings, policies, progress)
    command = _command(args, settings)
    paths = write_report(result, args.out, command)
    for line in summary_lines(result):
        stdout.print(line)
    stdout.print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _command(args: argparse.Namespace, settings: Settings) -> str:
    """The command line with every effective setting spelled out, to rerun this exact experiment."""
    words = ["prefix-sched", "validate", "--device", settings.device, "--model", settings.model]
    if args.stream is not None:
        words += ["--stream", args.stream, "--format", args.format]
        if args.format == "mooncake":
            words += ["--tokens-per-ms", args.tokens_per_ms]
            if args.limit is not None:
                words += ["--limit", str(args.limit)]
    words += ["--lengths", ",".join(map(str, settings.lengths)), "--reuse", ",".join(map(str, settings.reuse)),
              "--warmup", str(settings.warmup), "--reps", str(settings.reps), "--matmul-n", str(settings.matmul_n),
              "--k", args.k, "--view", settings.view, "--seed", str(settings.seed), "--out", args.out]
    if settings.threads is not None:
        words += ["--threads", str(settings.threads)]
    return shlex.join(words)


def _numbers(text: str, kind: type, option: str) -> tuple:
    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"{option} must be a comma-separated list of numbers, got {text!r}") from None
