"""``prefix-sched generate def4|poisson``: write a seeded stream file."""

from __future__ import annotations

import argparse
import sys

from prefix_sched.theory.generators import poisson_prefix_tree, regular_arrival_shuffled_queue
from prefix_sched.theory.streamio import write_stream


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="write a seeded stream file (Definition 4 or Poisson)",
                                   description="Write a seeded stream as prefix-sched JSONL.")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    def4 = kinds.add_parser("def4", help="Definition 4: regular arrival shuffled queue")
    def4.add_argument("--n", required=True, help="number of queries")
    def4.add_argument("--r", required=True, help="queries per user (must divide n)")
    def4.add_argument("--u", required=True, help="user prefix length in tokens")
    def4.add_argument("--d", required=True, help="document length in tokens")
    def4.add_argument("--delta", required=True, help="inter-arrival gap in token-times (exact: 3, 2.5, 7/3)")
    poisson = kinds.add_parser("poisson", help="Poisson arrivals over groups sharing a prefix")
    poisson.add_argument("--groups", required=True, help="number of prefix groups")
    poisson.add_argument("--group-size", required=True, help="queries per group")
    poisson.add_argument("--prefix-len", required=True, help="tokens of each group's shared prefix")
    poisson.add_argument("--suffix-len", required=True, help="tokens of each query's own suffix")
    poisson.add_argument("--base-len", default="0", help="tokens of a base prompt shared by all (default 0)")
    poisson.add_argument("--rate", required=True, help="queries per token-time (exact: 0.002 or 1/500)")
    for sub in (def4, poisson):
        sub.add_argument("--seed", default="0", help="random seed (default 0)")
        sub.add_argument("--out", default="-", help="output file (default: stdout)")
        sub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "def4":
        stream = regular_arrival_shuffled_queue(args.n, args.r, args.u, args.d, args.delta, seed=args.seed)
    else:
        stream = poisson_prefix_tree(args.groups, args.group_size, args.prefix_len, args.suffix_len,
                                     args.rate, seed=args.seed, base_len=args.base_len)
    write_stream(stream, sys.stdout if args.out == "-" else args.out)
    return 0

