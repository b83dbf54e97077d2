"""``prefix-sched serve``: serve a trace with a scheduler in the iteration-level serving model and
report TTFT, TBT, TPOT, throughput, goodput, preemptions and the mean batch make-up.

The model, the engine and the schedulers are :mod:`prefix_sched.theory.serving` and
:mod:`prefix_sched.solvers.serving`; this module parses options (each checked before any work) and
prints. Times are exact in the files (microseconds) and shown in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from typing import Any

from rich.table import Table

from prefix_sched.commands.common import (
    fmt,
    integer,
    not_applicable,
    number,
    progress_bar,
    stdout,
)
from prefix_sched.theory.parameters import SEED_MAX
from prefix_sched.errors import InputError, PrefixSchedError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.serving.engine import (
    DEFAULT_BLOCK,
    DEFAULT_BUDGET,
    DEFAULT_MAX_SEQS,
    PREFIX_CACHES,
    ServingRun,
    serve,
)
from prefix_sched.solvers.serving.orders import check_order
from prefix_sched.solvers.serving.registry import MAX_ENGINES, SCHEDULERS, parse_scheduler
from prefix_sched.solvers.serving.routers import ROUTERS, parse_router
from prefix_sched.theory.limits import serving_problem
from prefix_sched.theory.outputs import check_output_path
from prefix_sched.theory.serving.arrivals import ARRIVAL_PROCESSES
from prefix_sched.theory.serving.costs import DEFAULT_PRESET, PRESETS, parse_cost
from prefix_sched.theory.serving.formats import write_batches, write_serving
from prefix_sched.theory.serving.measures import ALL, batch_summary, engine_rows, summarize
from prefix_sched.theory.serving.requests import Workload, parse_classes
from prefix_sched.theory.serving.traces import TRACE_FORMATS, load_workload

PROGRESS_FROM = 2000
PREEMPTION_RULE = ("recompute: blocks freed, back to the front of the waiting list, prompt + generated tokens "
                   "prefilled again, emitted token times kept")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve a trace in the iteration-level serving model (prefill + decode batches)",
        description="Serve a trace with a scheduler (sarathi, vllm, sglang, slai, ...) in the serving model of the "
                    "second seed: iterations of prefill chunks and decodes under a token budget and KV memory. "
                    "Prints TTFT, TBT, TPOT (ms), throughput, goodput and preemptions per objective class.")
    add_engine_arguments(parser)
    parser.add_argument("--engines", type=integer(minimum=1, maximum=MAX_ENGINES), default=1,
                        help=f"serve on G identical engines behind a router (1 .. {MAX_ENGINES}, default 1)")
    parser.add_argument("--router", type=router_text, default=None, metavar="NAME",
                        help=f"with --engines > 1: {', '.join(r.value for r in ROUTERS)} (prefix-aware takes "
                             "cache=,abs=,rel=,interval=,max-tree=; default: the scheduler's own, least-work for "
                             "rad, else round-robin)")
    parser.add_argument("--prefix-cache", choices=tuple(PREFIX_CACHES), default="none",
                        help="each engine's prefix cache: none (default); lru (SGLang's radix cache sharing the "
                             "KV memory of --kv-tokens with the running requests, LRU eviction); unbounded (never "
                             "evicts, unused cached tokens free: an upper reference). Counts memory in tokens "
                             "(block size 1); lets --order take Part 1's cache policies (lpm, k-lpm:K, dfs-weight, "
                             "lpm-aging:N, sglang-lpm, ...)")
    parser.add_argument("--rate", type=number(above=0), default=None,
                        help="arrival rate (requests/s, > 0): generates arrivals for --format sharegpt (needed "
                             "there), rescales a trace's timestamps exactly to it otherwise")
    parser.add_argument("--out", default=None, help="write per-request results (JSONL: every token's time)")
    parser.add_argument("--batches", default=None, help="write one line per iteration (JSONL)")
    parser.set_defaults(run=run)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``serve`` and ``capacity`` share (read back by :func:`engine_options`)."""
    parser.add_argument("trace", metavar="TRACE", help="the trace file")
    parser.add_argument("--format", choices=TRACE_FORMATS, default="stream",
                        help="TRACE is a prefix-sched stream (default; arrival in us, output_length needed), a "
                             "Mooncake trace, the ShareGPT length CSV or the Azure LLM inference CSV")
    parser.add_argument("--limit", type=integer(minimum=1), default=None, help="read the first N requests (N >= 1)")
    parser.add_argument("--scheduler", type=scheduler_text, required=True, metavar="NAME",
                        help=f"{', '.join(s.value for s in SCHEDULERS)} (slai variants take a fixed offset: "
                             "slai-fcfs:10)")
    parser.add_argument("--order", type=order_text, default=None, metavar="POLICY",
                        help="order of new prefills (fcfs, spf, shortest-prompt, lof, hrrn, random; with "
                             "serve --prefix-cache also lpm, k-lpm:K, sglang-lpm, lpm-aging:N, dfs-weight); for "
                             "schedulers that let it be chosen")
    parser.add_argument("--budget", type=integer(minimum=1), default=None,
                        help=f"token budget per iteration (chunk size; >= 1, default {DEFAULT_BUDGET})")
    parser.add_argument("--cost", type=cost_text, default=None, metavar="PRESET|k=v,...",
                        help=f"iteration cost: a preset ({', '.join(PRESETS)}; default {DEFAULT_PRESET}) or "
                             "coefficients in us: c0=15200,cp=57.4,cd=57.4,ckv=0,catt=0[,tile=128]")
    parser.add_argument("--kv-tokens", type=integer(minimum=1), default=None,
                        help="KV memory in tokens (default: unbounded)")
    parser.add_argument("--block-size", type=integer(minimum=1), default=None,
                        help=f"KV block size in tokens (default {DEFAULT_BLOCK}); needs --kv-tokens")
    parser.add_argument("--max-seqs", type=integer(minimum=1), default=DEFAULT_MAX_SEQS,
                        help=f"max_num_seqs: admitted, unfinished requests at most (default {DEFAULT_MAX_SEQS})")
    parser.add_argument("--arrivals", choices=ARRIVAL_PROCESSES, default=None,
                        help="with --format sharegpt: gaps Exp(rate) (poisson, default) or min(Exp(rate), 3/rate) "
                             "(truncated-exp, the seed's runs)")
    parser.add_argument("--classes", type=classes_text, default=None, metavar="NAME=SHARE:TBT,...",
                        help="objective classes drawn per request, e.g. strict=0.05:100ms,relaxed=0.95:500ms")
    parser.add_argument("--seed", type=integer(minimum=0, maximum=SEED_MAX), default=0,
                        help="seed of the arrivals, the classes and random choices (>= 0, default 0)")


# --- option types -----------------------------------------------------------------------------

def _typed(parse, text: str):
    try:
        return parse(text)
    except PrefixSchedError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def scheduler_text(text: str) -> str:
    """An argparse ``type``: a registered scheduler (``slai``, ``slai-fcfs:10``)."""
    _typed(parse_scheduler, text)
    return text


def router_text(text: str) -> str:
    """An argparse ``type``: a registered router (``least-work``, ``prefix-aware:abs=32``)."""
    _typed(parse_router, text)
    return text


def order_text(text: str) -> str:
    """An argparse ``type``: a policy of Part 1's registry that can order new prefills (under some
    cache; whether this run has one is checked with the other options)."""
    _typed(lambda t: check_order(parse_policy(t), None), text)
    return text


def cost_text(text: str):
    """An argparse ``type``: a cost preset or coefficients."""
    return _typed(parse_cost, text)


def classes_text(text: str):
    """An argparse ``type``: objective classes."""
    return _typed(parse_classes, text)


# --- running ----------------------------------------------------------------------------------

def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """Check the shared options against each other (before any work); the engine's keyword arguments."""
    cache = getattr(args, "prefix_cache", "none")
    if args.block_size is not None and args.kv_tokens is None:
        raise not_applicable("--block-size", "only applies with --kv-tokens (memory is unbounded without it)")
    if args.block_size is not None and cache != "none":
        raise not_applicable("--block-size", f"does not apply with --prefix-cache {cache} (the cache and the running "
                                             "requests count KV memory in tokens, SGLang's page size 1)")
    if cache == "lru" and args.kv_tokens is None:
        raise InputError("--prefix-cache: lru shares the KV memory with the running requests: give its size "
                         "(--kv-tokens)")
    block = (1 if cache != "none" else DEFAULT_BLOCK) if args.block_size is None else args.block_size
    if args.kv_tokens is not None and args.kv_tokens < block:
        raise InputError(f"--kv-tokens: must hold at least one block of {block} tokens, got {args.kv_tokens}")
    if args.arrivals is not None and args.format != "sharegpt":
        raise not_applicable("--arrivals", f"only applies with --format sharegpt (a {args.format} trace has its "
                                           "own timestamps; --rate rescales them)")
    try:
        spec = parse_scheduler(args.scheduler, args.order, cache=None)
    except InputError as err:  # the library names the parameter "order", the command --order
        raise InputError(f"--{err}" if str(err).startswith("order: ") else str(err)) from None
    if spec.order_spec is not None:
        try:
            check_order(spec.order_spec, cache)
        except InputError as err:
            raise InputError(f"--order: {err}") from None
    options = {"scheduler": spec, "budget": DEFAULT_BUDGET if args.budget is None else args.budget,
               "cost": PRESETS[DEFAULT_PRESET] if args.cost is None else args.cost, "kv_tokens": args.kv_tokens,
               "block_size": block, "max_seqs": args.max_seqs, "seed": args.seed}
    if cache != "none":
        options["prefix_cache"] = cache
    engines = getattr(args, "engines", 1)
    router = getattr(args, "router", None)
    if router is not None and engines == 1:
        raise not_applicable("--router", "only applies with --engines > 1 (one engine takes every request)")
    if engines > 1:
        options["engines"] = engines
        options["router"] = parse_router(spec.row.router if router is None else router)
    return options


def load(args: argparse.Namespace, rate) -> Workload:
    return load_workload(args.trace, args.format, rate=rate, arrivals=args.arrivals, limit=args.limit,
                         classes=args.classes or (), seed=args.seed)


def check_ticks(workload: Workload, cost, name: str) -> None:
    """Refuse a workload whose exact times the engine could not hold under ``cost`` (before it builds
    an array), naming ``name`` (:func:`~prefix_sched.theory.limits.serving_problem`)."""
    problem = serving_problem(workload, cost)
    if problem is not None:
        raise InputError(f"{name}: {problem}")


def run_engine(workload: Workload, options: dict[str, Any], record_batches: bool = False) -> ServingRun:
    """Serve with a progress bar on stderr when it is a terminal and the run is long."""
    show = workload.n >= PROGRESS_FROM and sys.stderr.isatty()
    with progress_bar(workload.n, f"serving ({options['scheduler'].label})", show) as done:
        return serve(workload, **options, record_batches=record_batches, progress=done)


def run(args: argparse.Namespace) -> int:
    options = engine_options(args)
    if args.format == "sharegpt" and args.rate is None:
        raise InputError("--rate: needed with --format sharegpt (the trace has no timestamps)")
    out = None if args.out is None else check_output_path(args.out, "--out")
    batches = None if args.batches is None else check_output_path(args.batches, "--batches")
    if out is not None and batches is not None and out.resolve() == batches.resolve():
        raise InputError(f"--batches: the same file as --out ({out})")
    workload = load(args, args.rate)
    check_ticks(workload, options["cost"], "--cost" if args.cost is not None else "--rate" if args.rate is not None
                else "TRACE")
    result = run_engine(workload, options, record_batches=True)  # the mean batch make-up is printed
    summary = summarize(result.timeline)
    settings = {**result.settings, "workload": workload.settings(), "preemption": PREEMPTION_RULE}
    if out is not None:
        rows = engine_rows(result.timeline, result.engines, result.batches) if result.engines > 1 else None
        write_serving(out, result.timeline, settings, summary, engines=rows)
    if batches is not None:
        write_batches(batches, result.batches, result.timeline.ticks_per_us, settings)
    print_run(workload, result, summary)
    for path, what in ((out, f"{workload.n} per-request results"), (batches, f"{result.iterations} iterations")):
        if path is not None:
            stdout.print(f"wrote {what} to {path}", markup=False)
    return 0


def print_run(workload: Workload, result: ServingRun, summary: dict[str, dict[str, Any]]) -> None:
    s = result.settings
    cost = s["cost"]
    memory = "unbounded" if s["kv_tokens"] is None else f"{s['kv_tokens']} tokens in blocks of {s['block_size']}"
    if s.get("prefix_cache", "none") != "none":
        memory += f"; prefix cache {s['prefix_cache']}"
    cluster = f"; {s['engines']} engines, router {s['router']}" if s.get("engines", 1) > 1 else ""
    stdout.print(f"trace: {workload.meta.get('trace')} ({workload.n} requests, {workload.meta.get('format')}; "
                 f"arrivals: {workload.meta.get('arrivals')}); scheduler: {s['scheduler']}; budget {s['budget']}; "
                 f"max_seqs {s['max_seqs']}; KV memory {memory}; cost {cost['preset']}{cluster}", markup=False)
    if s.get("scheduler_note"):
        stdout.print(f"note: {s['scheduler']} is {s['scheduler_note']}", markup=False)
    stdout.print(_table(summary))
    if result.engines > 1:
        stdout.print(_engine_table(engine_rows(result.timeline, result.engines, result.batches)))
    log = batch_summary(result.batches, result.timeline.ticks_per_us) if result.batches is not None else None
    all_row = summary[ALL]
    line = (f"throughput {_num(all_row['throughput_tok_s'])} output tokens/s; goodput {_num(all_row['goodput_req_s'])} "
            f"requests/s ({all_row['met']} of {all_row['requests']} met every objective); preemptions "
            f"{result.preemptions}; iterations {result.iterations}")
    stdout.print(line, markup=False)
    if s.get("prefix_cache", "none") != "none":
        prompt_tokens = workload.total_prompt_tokens
        stdout.print(f"prefix cache {s['prefix_cache']}: {all_row['cached_tokens']} of {prompt_tokens} prompt tokens "
                     f"found cached ({fmt(Fraction(all_row['cached_tokens'], prompt_tokens), 3)})", markup=False)
    if log is not None:
        stdout.print(f"mean batch: {fmt(log['mean_prefill_tokens'], 1)} prefill + {fmt(log['mean_decode_tokens'], 1)} "
                     f"decode tokens, {fmt(log['mean_requests'], 1)} requests, {_ms(log['mean_batch_us'])} ms",
                     markup=False)


def _table(summary: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="latency (ms)")
    columns = ["class", "requests", "TBT obj", "TTFT p50", "p90", "p99", "max", "TBT p50", "p99", "max",
               "TPOT mean", "delay p50", "met"]
    for column in columns:
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in summary.items():
        if row["requests"] == 0:
            table.add_row(name, "0", *([""] * (len(columns) - 2)))
            continue
        table.add_row(name, str(row["requests"]), "" if row["tbt_slo"] is None else _ms(row["tbt_slo"]),
                      *(_ms(row[k]) for k in ("ttft_p50", "ttft_p90", "ttft_p99", "ttft_max", "tbt_p50", "tbt_p99",
                                              "tbt_max", "tpot_mean", "delay_p50")), str(row["met"]))
    return table


def _engine_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="per engine (ms)")
    for column in ("engine", "requests", "prompt tok", "cached", "reuse", "TTFT p50", "p99", "TBT p99", "iterations",
                   "busy s", "preempt"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["engine"]), str(row["requests"]), str(row["prompt_tokens"]), str(row["cached_tokens"]),
                      "-" if row["reuse"] is None else fmt(row["reuse"], 3), _ms(row["ttft_p50"]),
                      _ms(row["ttft_p99"]), _ms(row["tbt_p99"]), str(row.get("iterations", "-")),
                      "-" if row.get("busy_us") is None else fmt(Fraction(row["busy_us"]) / 1_000_000, 2),
                      str(row["preemptions"]))
    counts = [row["requests"] for row in rows]
    mean = Fraction(sum(counts), len(counts))
    table.caption = f"imbalance: most requests on one engine / mean = {fmt(max(counts) / mean, 3)}"
    return table


def _ms(us) -> str:
    return "-" if us is None else fmt(Fraction(us) / 1000, 2)


def _num(value) -> str:
    return "-" if value is None else fmt(value, 2)
