"""``prefix-sched simulate``: serve a stream with any registered policy and report TTFTs and fairness.

With no STREAM it serves the built-in Definition 4 example (:data:`DEFAULT_EXAMPLE`) with FCFS,
LPM and k-LPM, which is the toolkit's quick demonstration of why k-LPM exists.
"""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from prefix_sched.commands.common import (
    add_stream_arguments, check_stream_arguments, fmt, integer, k_value, load_stream, number,
    progress_bar, refuse_repeats, stdout,
)
from prefix_sched.theory.parameters import SEED_MAX
from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import (
    CYCLE_STARTS, INFINITY, POLICY_FORMS, TIE_BREAKS, PolicySpec, option_refusal, parse_policy, policy_runs,
    same_run, takes_k_option,
)
from prefix_sched.theory.cache import CACHE_SPECS, DEFAULT_CACHE, parse_cache
from prefix_sched.solvers.online.simulate import VIEWS, PolicyRun, simulate
from prefix_sched.studies.rows import policy_row
from prefix_sched.theory.measures import FLOAT, MEASURES
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.limits import check_computable
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.formats import write_schedule
from prefix_sched.theory.stream import Stream

DEFAULT_EXAMPLE = {"n": 400, "r": 4, "u": 1000, "d": 100, "delta": 300, "seed": 0}
DEFAULT_POLICIES = ("fcfs", "lpm", "k-lpm")
DEFAULT_SEED = 0
PROGRESS_FROM = 50_000
SIMULATE_MEASURES = ("count", "mean", "p50", "p90", "p99", "max", "violations", "reused", "max_waited",
                     "jain_slowdown")
"""The columns of the table, named as in :mod:`~prefix_sched.theory.measures`."""
_HEADERS = {"reused": "tokens reused", "max_waited": "max waited", "jain_slowdown": "Jain"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate", help="serve a stream with a policy and report TTFTs",
        description="Serve a stream with a policy (Definition 2 cost model, under a cache model) and report "
                    "TTFTs, the most decisions any query waited and Jain's index of per-query slowdown. "
                    "Times are in token-times: the time to prefill one token with alpha = 0.")
    add_stream_arguments(parser, optional=True)
    add_policy_arguments(parser, default_k="3")
    parser.add_argument("--cache", action="append", type=cache_spec, default=None, metavar="MODEL",
                        help=f"cache model: {', '.join(CACHE_SPECS)} (default {DEFAULT_CACHE}); repeat for one run "
                             "per model")
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
    caches = args.cache or [DEFAULT_CACHE]
    refuse_repeats("--cache", caches)
    if args.out is not None and len(specs) != 1:
        raise InputError(f"--out: writes one run, but {len(specs)} policy runs were asked for; pick one policy")
    if args.out is not None and len(caches) != 1:
        raise InputError(f"--out: writes one run, but {len(caches)} cache models were asked for; pick one")
    out = None if args.out is None else check_output_path(args.out, "--out")
    if args.stream is None:
        stream = regular_arrival_shuffled_queue(**DEFAULT_EXAMPLE)
        source = "built-in Definition 4 example " + " ".join(f"{k}={v}" for k, v in DEFAULT_EXAMPLE.items())
    else:
        stream = load_stream(args)
        source = args.stream
    check_computable(stream, alpha=args.alpha, names=(args.stream or "the example", "--load", "--alpha"))
    runs = []
    for cache in caches:
        for spec in specs:
            with progress_bar(stream.n, spec.label, stream.n >= PROGRESS_FROM and sys.stderr.isatty()) as done:
                runs.append(simulate(stream, spec, alpha=args.alpha, batch_size=args.batch_size, view=args.view,
                                     cache=cache, seed=policy_seed(args, spec), progress=done))
    if out is not None:
        write_schedule(stream, runs[0].evaluation, out, {**runs[0].settings(), **runs[0].fairness()})
    stdout.print(f"stream: {source} ({stream.n} queries); view: {args.view}; cache: {', '.join(caches)}; "
                 f"alpha = {args.alpha}; "
                 f"B = {args.batch_size}; times in token-times")
    stdout.print(_table(runs, stream, args.ttft, several_caches=len(caches) > 1))
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
    parser.add_argument("--seed", type=integer(minimum=0, maximum=SEED_MAX), default=None,
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
    given = {"k"} if args.k else set()
    given |= {option for option in ("tie_break", "cycle_start", "seed") if getattr(args, option) is not None}
    specs = policy_runs(names, args.k or args.default_k, args.tie_break, args.cycle_start)
    refusal = option_refusal(names, specs, given, spell=_flag)
    if refusal is not None:
        raise InputError(refusal)
    refuse_repeats("--policy", [spec.label for spec in specs])
    pair = same_run(specs)
    if pair is not None:
        raise InputError(f"--policy: {pair[0].label} and {pair[1].label} make the same run (k-lpm with k = 0 is fcfs "
                         "and with k = inf lpm); ask for one of them")
    return specs


def _flag(option: str) -> str:
    """The command-line flag of a policy option of the library (``tie_break`` is ``--tie-break``)."""
    return "--" + option.replace("_", "-")


def policy_text(text: str) -> str:
    """An argparse ``type``: a registered policy, with its parameter if it takes one (``k-lpm:3``,
    ``lpm-aging:64``); bare ``k-lpm`` takes k from ``--k``."""
    if takes_k_option(text):
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


def _table(runs: list[PolicyRun], stream: Stream, bound, several_caches: bool = False) -> Table:
    """One line per run: the measures of :data:`SIMULATE_MEASURES` (``violations`` only with a
    bound; the cache model first when there are several), the FCFS fallbacks in the caption."""
    names = [name for name in SIMULATE_MEASURES if bound is not None or not MEASURES[name].needs_ttft]
    headers = _HEADERS if bound is None else _HEADERS | {"violations": f"over T={fmt(bound)}"}
    rows = [policy_row(run, stream, (*names, "fcfs_fallbacks"), ttft=bound) for run in runs]
    table = Table(title="TTFT (token-times)")
    if several_caches:
        table.add_column("cache", justify="left")
    table.add_column("policy", justify="left")
    for name in names:
        table.add_column(headers.get(name, name), justify="right")
    for run, row in zip(runs, rows):
        first = [run.evaluation.cache] if several_caches else []
        table.add_row(*first, row.policy, *(_show(name, row.measure(name)) for name in names))
    fallbacks = [f"{row.policy}{f' ({run.evaluation.cache})' if several_caches else ''}: {row.fcfs_fallbacks} of {row.count} "
                 "decisions by FCFS" for run, row in zip(runs, rows) if row.fcfs_fallbacks is not None]
    if fallbacks:
        table.caption = "; ".join(fallbacks)
    return table


def _show(name: str, value) -> str:
    """A measure for the table: counts as they are, Jain's index to 3 places, times by :func:`fmt`."""
    measure = MEASURES[name]
    if measure.integer:
        return str(value)
    return f"{value:.3f}" if measure.kind == FLOAT else fmt(value)
