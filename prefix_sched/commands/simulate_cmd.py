"""``prefix-sched simulate``: serve a stream with any registered policy and report TTFTs and fairness.

With no STREAM it serves the built-in Definition 4 example (:data:`DEFAULT_EXAMPLE`) with FCFS,
LPM and k-LPM, which is the toolkit's quick demonstration of why k-LPM exists.
"""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, integer, k_value, load_stream, not_applicable, number,
    progress_bar, refuse_repeats, stdout,
)
from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import (
    CYCLE_STARTS, INFINITY, LPM_FAMILY, POLICY_FORMS, RANDOM_TIES, TIE_BREAKS, PolicyName, PolicySpec, parse_policy,
)
from prefix_sched.theory.cache import CACHE_SPECS, DEFAULT_CACHE, parse_cache
from prefix_sched.solvers.online.simulate import VIEWS, PolicyRun, simulate
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import write_schedule

DEFAULT_EXAMPLE = {"n": 400, "r": 4, "u": 1000, "d": 100, "delta": 300, "seed": 0}
DEFAULT_POLICIES = ("fcfs", "lpm", "k-lpm")
DEFAULT_SEED = 0
PROGRESS_FROM = 50_000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="serve a stream with a policy and report TTFTs",
        description="Serve a stream with a policy (Definition 2 cost model, under a cache model) and report "
                    "TTFTs, the most decisions any query waited and Jain's index of per-query slowdown. "
                    "Times are in token-times: the time to prefill one token with alpha = 0.")
    add_stream_arguments(parser, optional=True)
    add_policy_arguments(parser, default_k="3")
    parser.add_argument("--cache", type=cache_spec, default=None,
                        help=f"cache model: {', '.join(CACHE_SPECS)} (default {DEFAULT_CACHE})")
    parser.add_argument("--view", choices=VIEWS, default="online", help="online server (default) or fixed order")
    parser.add_argument("--alpha", type=number(minimum=0), default=0,
                        help="attention cost alpha >= 0 (exact, default 0)")
    parser.add_argument("--batch-size", type=integer(minimum=1), default=1,
                        help="Section 2.1 batch size B >= 1 (default 1)")
    parser.add_argument("--ttft", type=number(minimum=0), default=None,
                        help="TTFT bound T >= 0: count queries over it")
    parser.add_argument("--out", default=None, help="write per-query results (JSONL); needs one policy run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_stream_arguments(args)
    specs = policy_specs(args)
    if args.out is not None and len(specs) != 1:
        raise InputError(f"--out: writes one run, but {len(specs)} policy runs were asked for; pick one policy")
    out = None if args.out is None else check_output_path(args.out, "--out")
    if args.stream is None:
        stream = regular_arrival_shuffled_queue(**DEFAULT_EXAMPLE)
        source = "built-in Definition 4 example " + " ".join(f"{k}={v}" for k, v in DEFAULT_EXAMPLE.items())
    else:
        stream = load_stream(args)
        source = args.stream
    cache = args.cache or DEFAULT_CACHE
    runs = []
    for spec in specs:
        with progress_bar(stream.n, spec.label, stream.n >= PROGRESS_FROM and sys.stderr.isatty()) as done:
            runs.append(simulate(stream, spec, alpha=args.alpha, batch_size=args.batch_size, view=args.view,
                                 cache=cache, seed=policy_seed(args, spec), progress=done))
    if out is not None:
        write_schedule(stream, runs[0].evaluation, out, {**runs[0].settings(), **runs[0].fairness()})
    stdout.print(f"stream: {source} ({stream.n} queries); view: {args.view}; cache: {cache}; alpha = {args.alpha}; "
                 f"B = {args.batch_size}; times in token-times")
    stdout.print(_table(runs, args.ttft))
    if out is not None:
        stdout.print(f"wrote {stream.n} per-query results to {out}")
    return 0


def add_policy_arguments(parser: argparse.ArgumentParser, default_k: str) -> None:
    """``--policy``, ``--k``, ``--tie-break``, ``--cycle-start`` and ``--seed``, read by :func:`policy_specs`."""
    parser.add_argument("--policy", action="append", metavar="NAME", type=policy_text,
                        help=f"{', '.join(POLICY_FORMS)}; repeat to compare (default: fcfs, lpm, k-lpm)")
    parser.add_argument("--k", action="append", metavar="K", type=k_value,
                        help=f"k-LPM's LPM steps per cycle, an integer >= 0 or 'inf'; repeat for several "
                             f"(default {default_k}); needs k-lpm among the policies")
    parser.add_argument("--tie-break", choices=TIE_BREAKS, default=None,
                        help="ties in the key (default oldest); needs a run of LPM steps, lpm-aging or spf")
    parser.add_argument("--cycle-start", choices=CYCLE_STARTS, default=None,
                        help="whether a k-LPM cycle opens with its LPM steps (default) or its FCFS step; "
                             "needs k-lpm with 0 < k < inf")
    parser.add_argument("--seed", type=integer(minimum=0), default=None,
                        help=f"seed of the random choices, >= 0 (default {DEFAULT_SEED}); needs --tie-break random "
                             "or --policy random")
    parser.set_defaults(default_k=default_k.split())


def policy_specs(args: argparse.Namespace) -> list[PolicySpec]:
    """The policy runs asked for by ``--policy``/``--k``/``--tie-break``/``--cycle-start``; an option
    that no run would use is refused (InputError naming it).

    ``--policy k-lpm`` takes its k from ``--k`` (one run per k); ``--policy k-lpm:3`` carries it.
    """
    names = args.policy or list(DEFAULT_POLICIES)
    refuse_repeats("--policy", names)
    if args.k:
        refuse_repeats("--k", args.k, _k_text)
        if PolicyName.KLPM.value not in names:
            raise not_applicable("--k", "only applies to --policy k-lpm (k-lpm:K carries its own k)")
    ks = args.k or args.default_k
    tie_break = args.tie_break or TIE_BREAKS[0]
    cycle_start = args.cycle_start or CYCLE_STARTS[0]
    specs = []
    for name in names:
        base = PolicyName(name.partition(":")[0])
        ties = tie_break if base in LPM_FAMILY or base in RANDOM_TIES else TIE_BREAKS[0]
        cycles = cycle_start if base in LPM_FAMILY else CYCLE_STARTS[0]
        for k in ks if name == PolicyName.KLPM.value else [None]:
            specs.append(parse_policy(name, k=k, tie_break=ties, cycle_start=cycles))
    if args.tie_break is not None and not any(_has_ties(spec) for spec in specs):
        raise not_applicable("--tie-break", "no policy run breaks ties in a key (FCFS, k = 0 and "
                                            "oldest-only policies)")
    if args.cycle_start is not None and not any(spec.k is not None and 0 < spec.k < INFINITY for spec in specs):
        raise not_applicable("--cycle-start", "only applies to --policy k-lpm with 0 < k < inf")
    if args.seed is not None and not any(spec.randomized for spec in specs):
        raise not_applicable("--seed", "only applies with --tie-break random or --policy random (the random choices)")
    refuse_repeats("--policy", [spec.label for spec in specs])
    return specs


def _has_ties(spec: PolicySpec) -> bool:
    return (spec.k is not None and spec.k > 0) or spec.name in RANDOM_TIES and spec.name not in LPM_FAMILY


def policy_text(text: str) -> str:
    """An argparse ``type``: a registered policy, with its parameter if it takes one (``k-lpm:3``,
    ``lpm-aging:64``); bare ``k-lpm`` takes k from ``--k``."""
    if text == PolicyName.KLPM.value:
        return text
    try:
        parse_policy(text)
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def cache_spec(text: str) -> str:
    """An argparse ``type``: a cache model spec (``last``, ``lru:TOKENS``, ``unbounded``)."""
    try:
        return parse_cache(text).spec
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def policy_seed(args: argparse.Namespace, spec: PolicySpec) -> int | None:
    """The seed of a run: ``--seed`` (default 0) when it draws at random, else None (unused)."""
    if not spec.randomized:
        return None
    return DEFAULT_SEED if args.seed is None else args.seed


def _k_text(k: float) -> str:
    return "k = inf" if k == INFINITY else f"k = {k}"


def _table(runs: list[PolicyRun], bound) -> Table:
    table = Table(title="TTFT (token-times)")
    columns = ["policy", "count", "mean", "p50", "p90", "p99", "max"]
    if bound is not None:
        columns.append(f"over T={fmt(bound)}")
    columns += ["tokens reused", "max waited", "Jain"]
    for column in columns:
        table.add_column(column, justify="left" if column == "policy" else "right")
    for run in runs:
        ev = run.evaluation
        row = [run.policy.label, str(len(ev.ttft)), fmt(ev.mean_ttft)]
        row += [fmt(ev.percentile(q)) for q in (50, 90, 99)] + [fmt(ev.max_ttft)]
        if bound is not None:
            row.append(str(ev.violations(bound)))
        row += [str(ev.total_reused), str(run.max_waited), f"{run.jain_slowdown:.3f}"]
        table.add_row(*row)
    fallbacks = [f"{run.policy.label}: {run.fallbacks} of {len(run.order)} decisions by FCFS"
                 for run in runs if run.fallbacks is not None]
    if fallbacks:
        table.caption = "; ".join(fallbacks)
    return table
