"""``prefix-sched capacity``: the largest arrival rate at which each scheduler meets an objective, by
bisection on the rate (:mod:`prefix_sched.studies.serving.capacity`), printing every probe's figures,
each scheduler's bracket, and the brackets against the capacity bound that no scheduler can pass
(:mod:`prefix_sched.theory.serving.capacity_bound`): the gap of Part 2.

Objectives (:mod:`prefix_sched.theory.serving.objectives`): ``seed`` (median TTFT <= 0.5 s and each
class's P99 TBT within its objective), ``sarathi`` (P99 TBT within the objective and median
scheduling delay <= 2 s), or an expression such as ``ttft_p99<=2s,tbt_p99[strict]<=100ms``.
``--scheduler`` takes one name or several separated by commas (``sarathi,vllm,sglang,slai,rad``);
``--engines``, ``--router`` and ``--prefix-cache`` are ``serve``'s.

The bound is computed on the trace's requests (their lengths and prompts; the rate does not change
it) with the same engine settings; each bracket's rates are compared with it as *realised* rates
(``(n - 1) / (a_n - a_1)`` of the probe's arrivals). A ratio above 1 means the objective held on a
finite run whose backlog grows: the objective does not test stability.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

from rich.table import Table

from prefix_sched.commands.common import fmt, integer, number, stdout
from prefix_sched.commands.serve_cmd import (
    add_engine_arguments,
    engine_options,
    load,
    router_text,
    run_engine,
    scheduler_text,
)
from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.serving.engine import PREFIX_CACHES
from prefix_sched.solvers.serving.registry import SCHEDULERS
from prefix_sched.solvers.serving.routers import ROUTERS
from prefix_sched.studies.serving.capacity import AgainstBound, Probe, against_bound, find_capacity
from prefix_sched.theory.serving.capacity_bound import CapacityBound, capacity_bound, offered_rate
from prefix_sched.theory.serving.measures import summarize
from prefix_sched.theory.serving.objectives import NAMED, parse_objective

DEFAULT_START = 1
DEFAULT_TOLERANCE = Fraction(1, 50)
DEFAULT_PROBES = 16


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capacity", help="the largest arrival rate meeting an objective (bisection on the rate), against the bound",
        description="Bisect on the arrival rate for the largest one at which each scheduler meets the objective; "
                    "each probe regenerates the arrivals (ShareGPT lengths, same seed) or rescales the trace's "
                    "timestamps to the rate. Prints each probe's figures, the brackets, and each bracket against "
                    "the capacity bound no scheduler can pass.")
    add_engine_arguments(parser)
    for action in parser._actions:  # --scheduler takes a comma-separated list here
        if action.dest == "scheduler":
            action.type = schedulers_text
            action.metavar = "NAME[,NAME...]"
            action.help = (f"one or more of {', '.join(s.value for s in SCHEDULERS)}, separated by commas (slai "
                           "variants take a fixed offset: slai-fcfs:10; rad-fixed a share: rad-fixed:1/4)")
    parser.add_argument("--engines", type=integer(minimum=1), default=1,
                        help="serve on G identical engines behind a router (>= 1, default 1)")
    parser.add_argument("--router", type=router_text, default=None, metavar="NAME",
                        help=f"with --engines > 1: {', '.join(r.value for r in ROUTERS)} (default: the scheduler's "
                             "own, least-work for rad, else round-robin)")
    parser.add_argument("--prefix-cache", choices=tuple(PREFIX_CACHES), default="none",
                        help="each engine's prefix cache: none (default), lru (needs --kv-tokens) or unbounded, as "
                             "in serve; the bound then counts only the prompt tokens no cache could hold")
    parser.add_argument("--objective", type=objective_text, default="seed", metavar="seed|sarathi|EXPR",
                        help=f"{', '.join(f'{k} ({v})' for k, v in NAMED.items())}, or METRIC<=BOUND,... "
                             "(default seed)")
    parser.add_argument("--rate", type=number(above=0), default=DEFAULT_START,
                        help=f"the first rate probed (requests/s, > 0; default {DEFAULT_START})")
    parser.add_argument("--tolerance", type=number(above=0, maximum=1), default=DEFAULT_TOLERANCE,
                        help="stop when the bracket is narrower than this fraction of its low end "
                             f"(0 < t <= 1, default {DEFAULT_TOLERANCE})")
    parser.add_argument("--max-probes", type=integer(minimum=2, maximum=200), default=DEFAULT_PROBES,
                        help=f"at most this many runs per scheduler (2 .. 200, default {DEFAULT_PROBES})")
    parser.set_defaults(run=run)


def schedulers_text(text: str) -> list[str]:
    """An argparse ``type``: one or more registered schedulers separated by commas, none twice."""
    names = [part.strip() for part in text.split(",")]
    for name in names:
        scheduler_text(name)
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a scheduler is named twice in {text!r}")
    return names


def objective_text(text: str) -> str:
    """An argparse ``type``: seed, sarathi or an objective expression."""
    try:
        parse_objective(text)
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def run(args: argparse.Namespace) -> int:
    names = args.scheduler
    every = [engine_options(argparse.Namespace(**{**vars(args), "scheduler": name})) for name in names]
    objective = parse_objective(args.objective)
    if any(c.bound_us is None for c in objective.conditions) and not args.classes:
        raise InputError(f"--objective: {objective.text} checks each class's TBT objective (slo): give --classes")
    classes = {c.name for c in args.classes or ()}
    for c in objective.conditions:
        if c.cls is not None and c.cls not in classes:
            raise InputError(f"--objective: no class {c.cls!r} in --classes")
    first = every[0]
    bound = capacity_bound(load(args, args.rate), first["cost"], budget=first["budget"], max_seqs=first["max_seqs"],
                           kv_tokens=first["kv_tokens"], block_size=first["block_size"],
                           prefix_cache=first.get("prefix_cache", "none"), engines=first.get("engines", 1))
    stdout.print(f"objective: {objective.text}; scheduler{'s' if len(names) > 1 else ''}: "
                 f"{', '.join(o['scheduler'].label for o in every)}; trace: {args.trace} ({args.format}); "
                 f"budget {first['budget']}; cost {first['cost'].name}", markup=False)
    stdout.print(_bound_line(bound), markup=False)
    for options in every:
        if options["scheduler"].row.note is not None:
            stdout.print(f"note: {options['scheduler'].label} is {options['scheduler'].row.note}", markup=False)
    results: list[AgainstBound] = []
    for options in every:
        if len(every) > 1:
            stdout.print(f"scheduler {options['scheduler'].label}:", markup=False)
        capacity = find_capacity(_prober(args, options, objective), start=args.rate, tolerance=args.tolerance,
                                 max_probes=args.max_probes, on_probe=_show)
        stdout.print(_table(capacity.probes))
        stdout.print(_verdict(capacity), markup=False)
        results.append(against_bound(options["scheduler"].label, capacity, bound.rate_req_s))
    stdout.print(_bound_table(results, bound))
    if any(r.low_ratio is not None and r.low_ratio > 1 for r in results):
        stdout.print("a scheduler meets the objective above the bound: on this finite run its backlog grows, so the "
                     "objective does not test stability", markup=False)
    return 0


def _prober(args: argparse.Namespace, options: dict, objective):
    def probe(rate: Fraction):
        started = time.perf_counter()
        workload = load(args, rate)
        result = run_engine(workload, options)
        holds, rows = objective.check(summarize(result.timeline))
        return holds, rows, {"seconds": time.perf_counter() - started, "preemptions": result.preemptions,
                             "realised_rate": offered_rate(workload)}

    return probe


def _show(p: Probe) -> None:
    figures = "; ".join(f"{what} {_ms(value)} ms (<= {_ms(bound)}){'' if ok else ' FAILS'}"
                        for what, value, bound, ok in p.rows)
    stdout.print(f"rate {fmt(p.rate, 4)}/s: {'meets' if p.holds else 'fails'}: {figures}; "
                 f"preemptions {p.extra['preemptions']}; {p.extra['seconds']:.1f} s", markup=False)


def _verdict(capacity) -> str:
    if capacity.low is None:
        return f"capacity: no probed rate meets the objective (down to {fmt(capacity.high, 4)} requests/s)"
    if capacity.high is None:
        return f"capacity: at least {fmt(capacity.low, 4)} requests/s (every probed rate met the objective)"
    return f"capacity: between {fmt(capacity.low, 4)} (meets) and {fmt(capacity.high, 4)} (fails) requests/s"


def _bound_line(bound: CapacityBound) -> str:
    if bound.rate_req_s is None:
        return "bound: none (every batch costs nothing under this cost)"
    return (f"bound: no scheduler sustains more than {fmt(bound.rate_req_s, 4)} requests/s on these requests "
            f"({fmt(bound.token_rate_tok_s, 1)} batch tokens/s; n* = {bound.nstar} tokens a batch; "
            f"{_binding(bound)}; reuse at most {fmt(Fraction(bound.reuse_tokens, bound.prompt_tokens), 3)} of the "
            f"prompt tokens); fluid n*/tau(n*) reading {fmt(bound.fluid_rate_req_s, 4)}")


def _binding(bound: CapacityBound) -> str:
    return {"tokens": "the token term binds", "max_seqs": "max_num_seqs binds (tokens emitted a batch)",
            "memory": "KV memory binds (sequences a batch)"}[bound.binding]


def _table(probes) -> Table:
    table = Table(title="probes")
    table.add_column("rate (req/s)", justify="right")
    table.add_column("realised", justify="right")
    table.add_column("verdict")
    for p in sorted(probes, key=lambda p: p.rate):
        table.add_row(fmt(p.rate, 4), fmt(p.extra.get("realised_rate", p.rate), 4), "meets" if p.holds else "fails")
    return table


def _bound_table(rows: list[AgainstBound], bound: CapacityBound) -> Table:
    table = Table(title=f"against the bound ({'-' if bound.rate_req_s is None else fmt(bound.rate_req_s, 4)} req/s)")
    for name in ("scheduler", "meets (req/s)", "fails (req/s)", "realised meets", "realised fails",
                 "meets / bound", "fails / bound"):
        table.add_column(name, justify="left" if name == "scheduler" else "right")
    for r in rows:
        table.add_row(r.scheduler, *(_num(v) for v in (r.low, r.high, r.low_realised, r.high_realised, r.low_ratio,
                                                       r.high_ratio)))
    return table


def _num(value) -> str:
    return "-" if value is None else fmt(value, 4)


def _ms(us) -> str:
    return "-" if us is None else fmt(Fraction(us) / 1000, 2)
