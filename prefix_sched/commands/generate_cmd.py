"""``prefix-sched generate def4|poisson|shared-prefix``: write a seeded stream file."""

from __future__ import annotations

import argparse
import sys

from prefix_sched.commands.common import integer, number
from prefix_sched.theory.parameters import SEED_MAX
from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact
from prefix_sched.theory.generators import check_rate, poisson_prefix_tree, regular_arrival_shuffled_queue, shared_prefix
from prefix_sched.theory.limits import check_computable
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import write_stream

STDOUT = "-"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="write a seeded stream file (Definition 4, Poisson or shared-prefix)",
                                   description="Write a seeded stream as prefix-sched JSONL.")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    positive = integer(minimum=1)
    def4 = kinds.add_parser("def4", help="Definition 4: regular arrival shuffled queue")
    def4.add_argument("--n", required=True, type=positive, help="number of queries (>= 1)")
    def4.add_argument("--r", required=True, type=positive, help="queries per user (>= 1, must divide n)")
    def4.add_argument("--u", required=True, type=positive, help="user prefix length in tokens (>= 1)")
    def4.add_argument("--d", required=True, type=positive, help="document length in tokens (>= 1)")
    def4.add_argument("--delta", required=True, type=number(minimum=0),
                      help="inter-arrival gap in token-times, >= 0 (exact: 3, 2.5, 7/3)")
    poisson = kinds.add_parser("poisson", help="Poisson arrivals over groups sharing a prefix")
    poisson.add_argument("--groups", required=True, type=positive, help="number of prefix groups (>= 1)")
    poisson.add_argument("--group-size", required=True, type=positive, help="queries per group (>= 1)")
    poisson.add_argument("--prefix-len", required=True, type=positive,
                         help="tokens of each group's shared prefix (>= 1)")
    poisson.add_argument("--suffix-len", required=True, type=positive, help="tokens of each query's own suffix (>= 1)")
    poisson.add_argument("--base-len", type=integer(minimum=0), default=0,
                         help="tokens of a base prompt shared by all (>= 0, default 0)")
    poisson.add_argument("--rate", required=True, type=_rate,
                         help="queries per token-time, > 0 (exact: 0.002 or 1/500)")
    shared = kinds.add_parser("shared-prefix", help="SGLang bench_serving's generated-shared-prefix workload")
    shared.add_argument("--groups", type=positive, default=64, help="system prompts (>= 1, default 64)")
    shared.add_argument("--prompts-per-group", type=positive, default=16,
                        help="prompts per system prompt (>= 1, default 16)")
    shared.add_argument("--system-prompt-len", type=positive, default=2048,
                        help="tokens of each system prompt (>= 1, default 2048)")
    shared.add_argument("--question-len", type=positive, default=128,
                        help="tokens of each prompt's own question (>= 1, default 128)")
    shared.add_argument("--output-len", type=integer(minimum=0), default=256,
                        help="output tokens per request (>= 0, default 256)")
    shared.add_argument("--rate", type=_rate, default=None,
                        help="Poisson arrivals, queries per token-time > 0 (default: all at time 0, "
                             "bench_serving's infinite rate)")
    for sub in (def4, poisson, shared):
        sub.add_argument("--seed", type=integer(minimum=0, maximum=SEED_MAX), default=0,
                         help="random seed, 0 .. 2^63 - 1 (default 0)")
        sub.add_argument("--out", default=STDOUT, help="output file (default: stdout)")
        sub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "def4" and args.n % args.r:
        raise InputError(f"--r: must divide --n, got n={args.n}, r={args.r}")
    target = sys.stdout if args.out == STDOUT else check_output_path(args.out, "--out")
    if args.kind == "def4":
        stream = regular_arrival_shuffled_queue(args.n, args.r, args.u, args.d, args.delta, seed=args.seed)
    elif args.kind == "shared-prefix":
        stream = shared_prefix(args.groups, args.prompts_per_group, args.system_prompt_len, args.question_len,
                               args.output_len, args.rate, seed=args.seed)
    else:
        stream = poisson_prefix_tree(args.groups, args.group_size, args.prefix_len, args.suffix_len,
                                     args.rate, seed=args.seed, base_len=args.base_len)
    options = {"def4": "--n, --u, --d, --delta", "shared-prefix": "--groups, --prompts-per-group, --system-prompt-len, "
               "--question-len, --rate", "poisson": "--groups, --group-size, --prefix-len, --suffix-len, --base-len, "
               "--rate"}[args.kind]
    # a stream no command could run (token counts past 64 bits, times past a float) is not written
    check_computable(stream, names=(f"the stream of {options}", "--load", "--alpha"))
    write_stream(stream, target)
    return 0


def _rate(text: str) -> Exact:
    """``--rate``: exact and > 0 whose mean gap ``1 / rate`` a float holds (the generators' own
    check, :func:`~prefix_sched.theory.generators.check_rate`)."""
    rate = _positive(text)
    try:
        return check_rate(rate)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("rate ")) from None


_positive = number(above=0)
