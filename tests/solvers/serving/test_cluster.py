"""Many engines behind a router: a slow, obviously-correct cluster reference equal to the fast driver
on hypothesis workloads, for every router and every scheduler; one engine equal to the single-engine
run for every scheduler and router; the loads the routers read equal to their definition at every
step.

The cluster reference is written from the rules of :mod:`prefix_sched.solvers.serving.engine` (the
state at an arrival) and of each router's docstring: G reference engines of test_reference.py, each
run iteration by iteration while its next iteration starts before the arrival; each router's
choice recomputed from the requests' states (unfinished counts, outstanding tokens by their
definition, and for ``prefix-aware`` the longest prefix shared with any prompt routed to an engine
and the number of distinct prefix tokens routed to it, with no tree at all).
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefix_sched.solvers.serving.engine import loop as engine_module
from prefix_sched.solvers.serving.engine import DECODE, PREFILL, WAITING, serve
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS
from prefix_sched.solvers.serving.routers import ROUTERS, RouterName, parse_router
from prefix_sched.theory.serving.requests import Workload
from prefix_sched.theory.serving.traces import engine_generator, router_generator

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"serving_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load("test_reference")


# --- the cluster reference ----------------------------------------------------------------------

def _segments(prompt):
    return tuple(prompt)


def _shared(p, q):
    """Tokens of the longest common prefix of two prompts, whole segments (id and length) compared."""
    total = 0
    for a, b in zip(p, q):
        if a != b:
            break
        total += a[1]
    return total


class RefRouter:
    """Each router's rule, recomputed from the requests' states."""

    def __init__(self, spec, G, seed):
        self.spec = spec
        self.G = G
        self.count = 0
        self.rng = router_generator(seed)
        self.routed = [[] for _ in range(G)]  # prompts routed to each engine

    def choose(self, req, prompt, engines):
        name = self.spec.name
        if name == RouterName.ROUND_ROBIN:
            g = self.count % self.G
        elif name == RouterName.RANDOM:
            g = int(self.rng.integers(self.G))
        elif name == RouterName.LEAST_OUTSTANDING:
            loads = [sum(r.state != "done" for r in e.mine) for e in engines]
            g = loads.index(min(loads))
        elif name == RouterName.LEAST_WORK:
            loads = [sum(_work(r) for r in e.mine) for e in engines]
            g = loads.index(min(loads))
        else:
            g = self._prefix_aware(req, prompt, engines)
        self.count += 1
        self.routed[g].append(prompt)
        return g

    def _prefix_aware(self, req, prompt, engines):
        p = self.spec.param
        loads = [sum(r.state != "done" for r in e.mine) for e in engines]
        if max(loads) - min(loads) > p("abs") and max(loads) > p("rel") * min(loads):
            return loads.index(min(loads))
        shared = [max((_shared(prompt, q) for q in self.routed[g]), default=0) for g in range(self.G)]
        best = max(shared)
        first = shared.index(best)
        if Fraction(best, req.P) > p("cache"):
            return first
        sizes = [sum(prefix[-1][1] for prefix in {q[:i + 1] for q in self.routed[g] for i in range(len(q))})
                 for g in range(self.G)]
        return sizes.index(min(sizes))


def _work(r):
    if r.state == "done":
        return 0
    prefill = {"waiting": r.P + r.gen, "prefill": r.target - r.done, "decode": 0}[r.state]
    return prefill + r.o - r.gen


def reference_cluster(workload: Workload, scheduler: str, *, engines, router, order=None, budget, cost,
                      kv_tokens=None, block_size=None, max_seqs=128, seed=0, prefix_cache="none"):
    """Per request: token times (us), first-scheduled times, preemptions, engine; and iterations."""
    reqs = ref.make_requests(workload)
    spec = parse_router(router)
    cluster = []
    for g in range(engines):
        e = ref.make_engine([], scheduler, engine_generator(seed, g), order=order, budget=budget, cost=cost,
                            kv_tokens=kv_tokens, block_size=block_size, max_seqs=max_seqs, prefix_cache=prefix_cache)
        e.mine, e.now = [], None  # the requests routed to it; the start of its next iteration (None: idle)
        cluster.append(e)

    def advance(e, until):
        while e.now is not None and (until is None or e.now < until):
            end = e.iterate(e.now)
            e.now = end

    chooser = RefRouter(spec, engines, seed)
    engine_of = [None] * len(reqs)
    for i in workload.arrival_order:
        r = reqs[i]
        for e in cluster:
            advance(e, r.arrival)
        request = workload.requests[i]
        prompt = _segments(request.prompt) if request.prompt is not None else ((("#request", r.rank), r.P),)
        g = chooser.choose(r, prompt, cluster)
        e = cluster[g]
        r.state = "waiting"
        r.entered = e.decisions
        e.waiting.append(r)
        e.mine.append(r)
        e.reqs.append(r)
        if e.now is None:
            e.now = r.arrival
        engine_of[i] = g
    for e in cluster:
        advance(e, None)
    assert all(r.state == "done" for r in reqs)
    reference_cluster.cached = [r.cached for r in reqs]
    return ([r.times for r in reqs], [r.first for r in reqs], [r.preempted for r in reqs], engine_of,
            sum(e.iterations for e in cluster))


# --- hypothesis workloads with shared prefixes --------------------------------------------------

@st.composite
def prefix_workloads(draw, max_n=10, max_output=20):
    """Prompts of 1-3 segments from a small pool (each id one length), so that they share prefixes."""
    pool = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    n = draw(st.integers(1, max_n))
    prompts = [tuple((f"s{j}", pool[j]) for j in draw(st.lists(st.integers(0, len(pool) - 1), min_size=1,
                                                                    max_size=3)))
               for _ in range(n)]
    outputs = draw(st.lists(st.integers(1, max_output), min_size=n, max_size=n))
    if draw(st.booleans()):
        arrivals = draw(st.lists(st.integers(0, 80), min_size=n, max_size=n))
    else:
        arrivals = [Fraction(a, d) for a, d in draw(st.lists(st.tuples(st.integers(0, 160), st.integers(1, 3)),
                                                                min_size=n, max_size=n))]
    with_segments = draw(st.booleans())
    return Workload.from_lengths([sum(x for _, x in p) for p in prompts], outputs, arrivals,
                                 prompts=prompts if with_segments else None)


ROUTER_FORMS = [r.value for r in ROUTERS] + ["prefix-aware:abs=1,rel=1", "prefix-aware:abs=0,rel=3/2,cache=0"]
SCHEDULER_NAMES = list(SCHEDULER_FORMS)


def check_cluster(workload, scheduler, router, G, options):
    run = serve(workload, scheduler, engines=G, router=router, **options)
    times, first, preempted, engine_of, iterations = reference_cluster(workload, scheduler, engines=G, router=router,
                                                                       **options)
    assert run.timeline.engine.tolist() == engine_of
    assert [run.token_times_us(i) for i in range(workload.n)] == times
    assert [run.timeline.us(int(x)) for x in run.timeline.first_scheduled] == first
    assert run.timeline.preemptions.tolist() == preempted
    assert run.iterations == iterations
    return run


@pytest.mark.parametrize("router", ROUTER_FORMS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_cluster_equals_reference(router, data):
    workload = data.draw(prefix_workloads())
    scheduler = data.draw(st.sampled_from(SCHEDULER_NAMES))
    G = data.draw(st.integers(1, 3))
    options = data.draw(ref.settings_for(workload, scheduler, data.draw(st.booleans())))
    check_cluster(workload, scheduler, router, G, options)


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_scheduler_in_a_cluster_equals_reference(scheduler, data):
    workload = data.draw(prefix_workloads(max_n=12, max_output=40))
    router = data.draw(st.sampled_from(ROUTER_FORMS))
    options = data.draw(ref.settings_for(workload, scheduler, data.draw(st.booleans())))
    check_cluster(workload, scheduler, router, data.draw(st.integers(2, 4)), options)


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_engine_is_the_single_engine(scheduler, data):
    """G = 1 under every router: the same token times, first-scheduled times, preemptions, iterations and
    batches as the single-engine run (and engine 0 for every request)."""
    workload = data.draw(ref.workloads())
    options = data.draw(ref.settings_for(workload, scheduler, data.draw(st.booleans())))
    single = serve(workload, scheduler, record_batches=True, **options)
    for router in ROUTER_FORMS:
        one = serve(workload, scheduler, engines=1, router=router, record_batches=True, **options)
        assert np.array_equal(one.timeline.token_times, single.timeline.token_times)
        assert np.array_equal(one.timeline.first_scheduled, single.timeline.first_scheduled)
        assert np.array_equal(one.timeline.preemptions, single.timeline.preemptions)
        assert (one.timeline.engine == 0).all()
        assert one.iterations == single.iterations
        for field in ("start", "end", "prefill_tokens", "decode_tokens", "requests"):
            assert np.array_equal(getattr(one.batches, field), getattr(single.batches, field))


def test_loads_match_their_definition_after_every_step():
    """The incremental ``outstanding`` and ``work`` of every engine equal their definitions, recomputed
    from the request arrays, after every batch or stretch, with preemptions."""
    rng = np.random.default_rng(5)
    n = 150
    prompts = [((f"sys{int(g)}", 64), (f"q{i}", int(rng.integers(1, 80)))) for i, g in enumerate(rng.integers(0, 4, n))]
    w = Workload.from_lengths([sum(x for _, x in p) for p in prompts], rng.integers(1, 60, n).tolist(),
                              np.cumsum(rng.exponential(300, n)).astype(np.int64).tolist(), prompts=prompts)
    seen = []

    def audit(e):
        mine = np.flatnonzero(e.engine_of == e.index)
        unfinished = mine[e.phase[mine] != 3]
        assert e.outstanding == len(unfinished)
        phase = e.phase[unfinished]
        prefill = np.where(phase == WAITING, e.prompt[unfinished] + e.gen[unfinished],
                           np.where(phase == PREFILL, e.target[unfinished] - e.done[unfinished], 0))
        assert phase.tolist() == [p for p in phase.tolist() if p in (WAITING, PREFILL, DECODE)]
        assert e.work == int((prefill + e.out[unfinished] - e.gen[unfinished]).sum())
        seen.append(e.index)

    for scheduler in ("sarathi", "vllm", "sglang", "slai"):
        run = serve(w, scheduler, engines=3, router="least-work", budget=64, kv_tokens=400, block_size=16,
                    max_seqs=12, cost="c0=300,cp=2,cd=2", audit=audit)
        assert run.preemptions > 0
    assert set(seen) == {0, 1, 2}


@pytest.mark.parametrize("router", ["least-outstanding", "prefix-aware:abs=2,rel=1"])
def test_stretches_change_nothing_and_stop_before_the_next_cluster_arrival(router, monkeypatch):
    """Long decodes on 3 engines: every stretch's iterations start before the next arrival of the
    cluster (whichever engine it goes to), and the run with stretches switched off is identical."""
    rng = np.random.default_rng(2)
    n = 60
    prompts = [((f"sys{int(g)}", 32), (f"q{i}", int(rng.integers(1, 40)))) for i, g in enumerate(rng.integers(0, 3, n))]
    arrivals = np.cumsum(rng.exponential(20000, n)).astype(np.int64).tolist()
    w = Workload.from_lengths([sum(x for _, x in p) for p in prompts], rng.integers(50, 300, n).tolist(), arrivals,
                              prompts=prompts)
    options = dict(engines=3, router=router, budget=64, cost="c0=300,cp=2,cd=2,ckv=1", record_batches=True)  # D = 1: ticks are us
    original = engine_module._stretch_length
    bounds = []

    def checked(e, dec, now, tau, arrival):
        k = original(e, dec, now, tau, arrival)
        assert arrival is None or arrival in arrivals
        if arrival is not None:
            last_start = now + sum(tau + e.tc.kkv * len(dec) * j for j in range(k - 1))
            assert last_start < arrival
            nxt = min(a for a in arrivals if a > now)
            assert arrival == nxt  # the next arrival of the cluster, not of this engine
        bounds.append(k)
        return k

    monkeypatch.setattr(engine_module, "_stretch_length", checked)
    fast = serve(w, "sarathi", **options)
    assert fast.stretched_iterations > 0 and max(bounds) > 1
    monkeypatch.setattr(engine_module, "_stretch_length", lambda *args: 1)
    slow = serve(w, "sarathi", **options)
    assert slow.stretched_iterations == 0
    assert np.array_equal(fast.timeline.token_times, slow.timeline.token_times)
    assert np.array_equal(fast.timeline.engine, slow.timeline.engine)
    for field in ("start", "end", "prefill_tokens", "decode_tokens", "requests", "engine"):
        assert np.array_equal(getattr(fast.batches, field), getattr(slow.batches, field))


@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("router", ["prefix-aware:abs=1,rel=1", "least-work", "round-robin"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cluster_with_prefix_caches_equals_reference(cache, router, data):
    """Engines with their own prefix caches behind a router, new prefills in a Part 1 order: each
    request's engine, cached tokens and token times equal the cluster reference's."""
    workload = data.draw(ref.shared_workloads())
    scheduler = data.draw(st.sampled_from(["sarathi", "vllm", "sglang", "rad"]))
    options = data.draw(ref.cache_settings(workload, scheduler, cache))
    order = data.draw(st.sampled_from([None, "lpm", "k-lpm:2", "spf"]))
    G = data.draw(st.integers(1, 3))
    run = check_cluster(workload, scheduler, router, G, {**options, "order": order})
    assert run.timeline.cached_tokens.tolist() == reference_cluster.cached
