"""Invariants of the engine on random streams, for every scheduler, with and without memory pressure:
every request finishes with each of its tokens emitted once and in order, at the end of an
iteration that held it; memory never goes over its limit and the blocks held add up; at most
``max_num_seqs`` requests run; no iteration is idle while an arrived request is unfinished, and an
idle engine starts again at the next arrival; the stretch fast path changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from prefix_sched.solvers.serving.engine import loop as engine_module
from prefix_sched.solvers.serving.engine import DONE, PREFILL, serve
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.requests import Workload, parse_classes

SCHEDULERS = list(SCHEDULER_FORMS)
CLASSES = parse_classes("gold=0.2:2ms,free=0.8:20ms")
COST = parse_cost("c0=500,cp=3,cd=2,ckv=1/8,catt=1/100")


def random_workload(seed: int, n: int = 120) -> Workload:
    rng = np.random.default_rng(seed)
    prompts = rng.integers(1, 300, n)
    outputs = rng.integers(1, 60, n)
    arrivals = np.cumsum(rng.exponential(4000, n)).astype(np.int64)
    index = rng.integers(0, 2, n)
    return Workload.from_lengths(prompts.tolist(), outputs.tolist(), arrivals.tolist(), classes=CLASSES,
                                 class_index=index.tolist())


def settings_for(scheduler: str, pressure: bool):
    options = dict(budget=128, cost=COST, max_seqs=24)
    if scheduler == "vllm-v0":
        options["budget"] = 400
    if pressure:
        options.update(kv_tokens=1200, block_size=16)
    return options


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("pressure", [False, True], ids=["unbounded", "pressure"])
@pytest.mark.parametrize("seed", [0, 1])
def test_invariants(scheduler, pressure, seed):
    workload = random_workload(seed)
    options = settings_for(scheduler, pressure)
    audits = []

    def audit(e):
        running = (e.phase == PREFILL) | (e.phase == 2)
        assert e.n_running == int(running.sum()) <= options["max_seqs"]
        if e.limited:
            assert 0 <= e.free <= e.total_blocks
            assert int(e.blocks.sum()) == e.total_blocks - e.free
            assert (e.blocks[~running] == 0).all()
            # a running request holds exactly the blocks of its computed tokens or more (its prompt)
            decoding = e.phase == 2
            assert (e.blocks[decoding] == -(-(e.ctx[decoding] - 1) // e.block)).all()
        audits.append(e.n_done)

    run = serve(workload, scheduler, record_batches=True, audit=audit, **options)
    t = run.timeline
    log = run.batches
    assert audits[-1] == workload.n
    # every request: o tokens, in order, the first after its arrival and its first scheduling
    assert (np.diff(t.offsets) == [r.output_tokens for r in workload.requests]).all()
    for i in range(workload.n):
        own = t.token_times[t.offsets[i]:t.offsets[i + 1]]
        assert (np.diff(own) > 0).all()  # c0 > 0: two tokens never share an iteration
        assert t.arrival[i] <= t.first_scheduled[i] < own[0]
    # every token time is an iteration end, and no iteration emits more tokens than it holds requests
    ends, counts = np.unique(t.token_times, return_counts=True)
    where = np.searchsorted(log.end, ends)
    assert (log.end[where] == ends).all()
    assert (counts <= log.requests[where]).all()
    # iterations are back to back, or idle until an arrival with nothing unfinished that had arrived
    assert (log.start[1:] >= log.end[:-1]).all()
    assert (log.end > log.start).all()
    arrival = np.sort(t.arrival)
    finish = t.last_token()
    for k in np.flatnonzero(log.start[1:] > log.end[:-1]):
        gap_from, gap_to = log.end[k], log.start[k + 1]
        arrived = t.arrival <= gap_from
        assert (finish[arrived] <= gap_from).all(), "idle while an arrived request was unfinished"
        assert gap_to == arrival[np.searchsorted(arrival, gap_from, side="right")]
    # batches respect the budget (Sarathi and SGLang-mixed: decodes may not be cut, but prefills never
    # take more than what the decodes leave)
    assert (log.prefill_tokens <= np.maximum(options["budget"] - log.decode_tokens, 0)).all()
    if scheduler in ("vllm", "vllm-v0", "slai", "slai-sp", "slai-fcfs", "rad", "rad-fixed:1/4"):
        assert (log.prefill_tokens + log.decode_tokens <= options["budget"]).all()
    if scheduler in ("vllm-v0", "sglang"):
        assert ((log.prefill_tokens == 0) | (log.decode_tokens == 0)).all()
    if pressure:
        assert run.preemptions == int(t.preemptions.sum())


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("pressure", [False, True], ids=["unbounded", "pressure"])
def test_stretches_change_nothing(scheduler, pressure, monkeypatch):
    """The same run with the stretch fast path switched off: identical token times, batches, counters."""
    workload = random_workload(7, n=150)
    options = settings_for(scheduler, pressure)
    fast = serve(workload, scheduler, record_batches=True, **options)
    assert fast.stretched_iterations > 0
    monkeypatch.setattr(engine_module, "_stretch_length", lambda *args: 1)
    slow = serve(workload, scheduler, record_batches=True, **options)
    assert slow.stretched_iterations == 0
    assert np.array_equal(fast.timeline.token_times, slow.timeline.token_times)
    assert np.array_equal(fast.timeline.first_scheduled, slow.timeline.first_scheduled)
    assert np.array_equal(fast.timeline.preemptions, slow.timeline.preemptions)
    for field in ("start", "end", "prefill_tokens", "decode_tokens", "requests"):
        assert np.array_equal(getattr(fast.batches, field), getattr(slow.batches, field))


def test_memory_pressure_preempts_and_unbounded_memory_never_does():
    workload = random_workload(3)
    assert serve(workload, "sarathi", **settings_for("sarathi", False)).preemptions == 0
    assert serve(workload, "sarathi", **settings_for("sarathi", True)).preemptions > 0


def test_done_requests_hold_nothing():
    workload = random_workload(4, n=40)
    seen = []

    def audit(e):
        done = e.phase == DONE
        seen.append(int(done.sum()))
        assert (e.blocks[done] == 0).all()

    serve(workload, "slai", audit=audit, **settings_for("slai", True))
    assert seen[-1] == 40


def shared_workload(seed: int, n: int = 120) -> Workload:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 5, n)
    prompts = [((f"sys{int(g)}", 64), (f"t{int(g)}_{int(rng.integers(0, 3))}", 32), (f"q{i}", int(rng.integers(1, 120))))
               for i, g in enumerate(groups)]
    return Workload.from_lengths([sum(x for _, x in p) for p in prompts], rng.integers(1, 60, n).tolist(),
                                 np.cumsum(rng.exponential(2000, n)).astype(np.int64).tolist(), prompts=prompts)


def _tree_counts(cache):
    total = locked = 0
    stack = list(cache.root.children.values())
    while stack:
        node = stack.pop()
        total += node.end - node.start
        locked += (node.end - node.start) if node.lock else 0
        stack.extend(node.children.values())
    return total, locked


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("order", [None, "k-lpm:2"])
def test_invariants_with_a_prefix_cache(scheduler, cache, order):
    """After every batch: free memory is the pool less the running requests' own tokens and the cache's
    (lru: all of it; unbounded: its locked part); the cache's counts equal a recount; a running
    request's path is locked and holds at least its computed prompt tokens; a decoding request owns
    exactly its generated tokens beyond its prompt; every request finishes."""
    if scheduler in ("slai", "slai-sp", "slai-fcfs", "sarathi-spf") and order is not None:
        return
    workload = shared_workload(5)
    options = dict(budget=128 if scheduler != "vllm-v0" else 400, cost=COST, max_seqs=24, kv_tokens=1500,
                   prefix_cache=cache, order=order)

    def audit(e):
        c = e.cache
        assert _tree_counts(c) == (c.tokens, c.locked_tokens)
        counted = c.tokens if cache == "lru" else c.locked_tokens
        assert e.free == e.total_blocks - int(e.blocks.sum()) - counted >= 0
        running = np.flatnonzero((e.phase == PREFILL) | (e.phase == 2))
        assert sorted(e.node) == running.tolist()
        for r in running.tolist():
            assert e.node[r].lock >= 1
            assert c.reuse(e.segments[r]) >= min(int(e.done[r]), int(e.prompt[r]))
        decoding = e.phase == 2
        assert (e.blocks[decoding] == e.ctx[decoding] - 1 - e.prompt[decoding]).all()

    run = serve(workload, scheduler, audit=audit, **options)
    assert (run.timeline.cached_tokens > 0).sum() > workload.n // 2
