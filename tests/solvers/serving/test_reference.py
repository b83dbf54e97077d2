"""A slow, obviously-correct reference engine, written from the rules in the schedulers' docstrings
(one request object each, lists, times as exact Fractions of microseconds, no ticks, no numpy
arrays, no stretches), and the fast engine held equal to it on hypothesis workloads: every token's
time, every first-scheduled time, every preemption count and the iteration count, for every
scheduler of the registry and every order, with and without memory pressure.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import SCHEDULERS, SchedulerName
from prefix_sched.theory.serving.costs import IterationCost
from prefix_sched.theory.serving.requests import Workload, parse_classes

SLAI_DEFAULT_TBT = Fraction(200_000)


class Req:
    def __init__(self, rank, arrival, prompt, out, tbt, strict):
        self.rank, self.arrival, self.P, self.o = rank, Fraction(arrival), prompt, out
        self.tbt, self.strict = tbt, strict
        self.gen = 0
        self.target = 0
        self.done = 0
        self.blocks = 0
        self.state = "future"
        self.times: list[Fraction] = []
        self.first = None
        self.preempted = 0
        self.lst = None


class Reference:
    """The engine's mechanics; one subclass per scheduler writes its rule."""

    def __init__(self, reqs, budget, cost, kv_tokens, block, max_seqs, order, rng):
        self.reqs = reqs
        self.B, self.cost, self.block, self.S, self.order, self.rng = budget, cost, block, max_seqs, order, rng
        self.limited = kv_tokens is not None
        self.total_blocks = kv_tokens // block if self.limited else 0
        self.free = self.total_blocks
        self.waiting: list[Req] = []
        self.running: list[Req] = []
        self.iterations = 0

    # --- memory and states ---
    def blocks_for(self, tokens):
        return -(-tokens // self.block)

    def can_alloc(self, r):
        return not self.limited or self.blocks_for(r.P + r.gen) <= self.free

    def admit(self, r, now):
        self.waiting.remove(r)
        r.target, r.done, r.state = r.P + r.gen, 0, "prefill"
        if self.limited:
            r.blocks = self.blocks_for(r.target)
            self.free -= r.blocks
            assert self.free >= 0
        if r.first is None:
            r.first = now
        self.running.append(r)
        return r.target

    def slot(self, r):
        """A decode's slot: a new block when its sequence length |p| + g needs one."""
        if not self.limited or self.blocks_for(r.P + r.gen) == r.blocks:
            return True
        if self.free == 0:
            return False
        r.blocks += 1
        self.free -= 1
        return True

    def preempt(self, r):
        self.free += r.blocks
        r.blocks, r.state, r.done = 0, "waiting", 0
        r.preempted += 1
        self.running.remove(r)
        self.waiting.insert(0, r)
        self.on_preempt(r)

    def on_preempt(self, r):
        pass

    def finish(self, r):
        self.free += r.blocks
        r.blocks, r.state = 0, "done"
        self.running.remove(r)

    # --- the order of new prefills ---
    def pick(self, now):
        """The next candidate of the waiting list (a draw for ``random``)."""
        w = self.waiting
        if self.order == "fcfs":
            return w[0]
        if self.order in ("shortest-prompt", "spf"):
            return sorted(w, key=lambda r: r.P + r.gen)[0]
        if self.order == "strict-shortest":
            return sorted(w, key=lambda r: (0 if r.strict else 1, r.P + r.gen))[0]
        if self.order == "lof":
            return sorted(w, key=lambda r: -r.o)[0]
        if self.order == "hrrn":
            return sorted(w, key=lambda r: -(now - r.arrival) / (r.P + r.gen))[0]
        if self.order == "random":
            return w[int(self.rng.integers(len(w)))]
        raise AssertionError(self.order)

    # --- the cost, written from the formula ---
    def duration(self, decodes, chunks):
        c = self.cost
        np_, nd = sum(x for _, x in chunks), len(decodes)
        linear = c.cp * np_ + c.cd * nd
        if c.tile is not None:
            n = np_ + nd
            linear += c.cp * (c.tile * -(-n // c.tile) - n)
        return (c.c0 + linear + c.ckv * sum(r.P + r.gen for r in decodes)
                + c.catt * sum(x * (r.done + Fraction(x, 2)) for r, x in chunks))

    # --- the loop ---
    def run(self):
        pending = sorted(self.reqs, key=lambda r: r.rank)
        now = pending[0].arrival
        while any(r.state != "done" for r in self.reqs):
            while pending and pending[0].arrival <= now:
                r = pending.pop(0)
                r.state = "waiting"
                self.waiting.append(r)
            decodes, chunks = self.step(now)
            if not decodes and not chunks:
                assert pending, "nothing runnable and no arrival left"
                now = pending[0].arrival
                continue
            assert len(set(map(id, decodes))) == len(decodes)
            assert self.B >= 0
            tau = self.duration(decodes, chunks)
            end = now + tau
            for r in decodes:
                assert r.state == "decode"
                r.times.append(end)
                r.gen += 1
            completed = []
            for r, x in chunks:
                assert r.state == "prefill" and x > 0
                r.done += x
                assert r.done <= r.target
                if r.done == r.target:
                    r.times.append(end)
                    r.gen += 1
                    r.state = "decode"
                    completed.append(r)
            for r in decodes + [r for r, _ in chunks]:
                if r.state == "decode" and r.gen == r.o:
                    self.finish(r)
            assert not self.limited or 0 <= self.free <= self.total_blocks
            self.after(end, tau, decodes, chunks, completed)
            self.iterations += 1
            now = end

    def after(self, end, tau, decodes, chunks, completed):
        pass

    def by_arrival(self, reqs):
        return sorted(reqs, key=lambda r: r.rank)


class RefSarathi(Reference):
    def step(self, now):
        rem = self.by_arrival(self.running)
        decodes, prefills = [], []
        while rem:
            r = rem.pop(0)
            if r.state == "prefill":
                prefills.append(r)
                continue
            while not self.slot(r):
                if rem:
                    self.preempt(rem.pop())
                else:
                    self.preempt(r)
                    break
            else:
                decodes.append(r)
        used = len(decodes)
        chunks = []
        for r in prefills:
            x = min(r.target - r.done, self.B - used)
            if x > 0:
                chunks.append((r, x))
                used += x
        while self.waiting and used < self.B:
            r = self.pick(now)
            if len(self.running) >= self.S or not self.can_alloc(r):
                break
            x = min(self.admit(r, now), self.B - used)
            chunks.append((r, x))
            used += x
        return decodes, chunks


class RefVllm(Reference):
    def step(self, now):
        budget = self.B
        decodes, chunks = [], []
        preempted = False
        i = 0
        while i < len(self.running) and budget > 0:
            r = self.running[i]
            if r.state == "prefill":
                x = min(r.target - r.done, budget)
                chunks.append((r, x))
                budget -= x
                i += 1
                continue
            ok = True
            while not self.slot(r):
                victim = self.running[-1]
                self.preempt(victim)
                preempted = True
                if victim is r:
                    ok = False
                    break
            if not ok:
                break
            decodes.append(r)
            budget -= 1
            i += 1
        if not preempted:
            while self.waiting and budget > 0:
                r = self.pick(now)
                if len(self.running) >= self.S or not self.can_alloc(r):
                    break
                x = min(self.admit(r, now), budget)
                chunks.append((r, x))
                budget -= x
        return decodes, chunks


class RefVllmV0(Reference):
    def step(self, now):
        if self.waiting:
            used, chunks = 0, []
            while self.waiting:
                r = self.pick(now)
                length = r.P + r.gen
                if used + length > self.B or len(self.running) >= self.S or not self.can_alloc(r):
                    break
                self.admit(r, now)
                chunks.append((r, length))
                used += length
            if chunks:
                return [], chunks
        rem = self.by_arrival(self.running)
        decodes = []
        while rem and len(decodes) < self.B:
            r = rem.pop(0)
            while not self.slot(r):
                if rem:
                    self.preempt(rem.pop())
                else:
                    self.preempt(r)
                    break
            else:
                decodes.append(r)
        return decodes, []


class RefSGLang(Reference):
    mixed = False

    def __init__(self, *args):
        super().__init__(*args)
        self.chunked = None

    def decode_set(self):
        decs = self.by_arrival([r for r in self.running if r.state == "decode"])
        while decs:
            need = sum(1 for r in decs if self.limited and self.blocks_for(r.P + r.gen) > r.blocks)
            if need <= self.free or not self.limited:
                for r in decs:
                    assert self.slot(r)
                return decs
            victim = min(decs, key=lambda r: (r.gen, -r.P, -r.rank))
            self.preempt(victim)
            decs.remove(victim)
        return decs

    def step(self, now):
        decodes = self.decode_set() if self.mixed else []
        budget = self.B - len(decodes)
        chunks = []
        if self.chunked is not None and budget > 0:
            r = self.chunked
            x = min(r.target - r.done, budget)
            chunks.append((r, x))
            budget -= x
        while self.waiting and budget > 0:
            r = self.pick(now)
            if len(self.running) >= self.S or not self.can_alloc(r):
                break
            length = self.admit(r, now)
            x = min(length, budget)
            chunks.append((r, x))
            budget -= x
            if x < length:
                self.chunked = r
                break
        if not self.mixed:
            if chunks:
                return [], chunks
            decodes = self.decode_set()
        return decodes, chunks

    def after(self, end, tau, decodes, chunks, completed):
        if self.chunked is not None and self.chunked.state != "prefill":
            self.chunked = None


class RefSGLangMixed(RefSGLang):
    mixed = True


class RefSlai(Reference):
    limit = 128

    def __init__(self, *args, offset=None):
        super().__init__(*args)
        self.fixed = offset
        self.offset = 5 if offset is None else offset
        self.decq: list[Req] = []
        self.paused: list[Req] = []
        self.total = Fraction(0)
        self.count = 0

    def on_preempt(self, r):
        if r in self.decq:
            self.decq.remove(r)

    def head(self):
        return min(self.decq, key=lambda r: (r.lst, r.rank))

    def take_decodes(self, now, used, count, critical_only, decodes):
        while self.decq and used < self.B and count < self.limit:
            r = self.head()
            if critical_only and now < r.lst:
                break
            self.decq.remove(r)
            count += 1
            while not self.slot(r):
                if self.paused:
                    self.preempt(self.paused.pop())
                else:
                    count -= 1
                    self.preempt(r)
                    break
            else:
                decodes.append(r)
                used += 1
        return used, count

    def step(self, now):
        decodes = []
        used, count = self.take_decodes(now, 0, 0, True, decodes)
        chunks = []
        self.started = []
        while self.paused and used < self.B:
            r = self.paused.pop(0)
            x = min(r.target - r.done, self.B - used)
            chunks.append((r, x))
            self.started.append(r)
            used += x
        while self.waiting and used < self.B:
            r = self.pick(now)
            if not self.can_alloc(r) or len(self.running) >= self.S:
                break
            x = min(self.admit(r, now), self.B - used)
            chunks.append((r, x))
            self.started.append(r)
            used += x
        self.take_decodes(now, used, count, False, decodes)
        return decodes, chunks

    def after(self, end, tau, decodes, chunks, completed):
        self.total += tau
        self.count += 1
        for r in self.started:
            if r.state == "prefill":
                self.paused.append(r)
        if self.fixed is None:
            used = self.total_blocks - self.free
            self.offset = 10 if self.limited and used >= Fraction(96, 100) * self.total_blocks else 5
        mean = self.total / self.count
        for r in decodes + completed:
            if r.state == "decode":
                r.lst = end + (SLAI_DEFAULT_TBT if r.tbt is None else r.tbt) - self.offset * mean
                self.decq.append(r)


REFERENCES = {
    SchedulerName.SARATHI: (RefSarathi, None),
    SchedulerName.SARATHI_SPF: (RefSarathi, "shortest-prompt"),
    SchedulerName.VLLM: (RefVllm, None),
    SchedulerName.VLLM_V0: (RefVllmV0, None),
    SchedulerName.SGLANG: (RefSGLang, None),
    SchedulerName.SGLANG_MIXED: (RefSGLangMixed, None),
    SchedulerName.SLAI: (RefSlai, "strict-shortest"),
    SchedulerName.SLAI_SP: (RefSlai, "shortest-prompt"),
    SchedulerName.SLAI_FCFS: (RefSlai, "fcfs"),
}


def reference_serve(workload: Workload, scheduler: str, *, order=None, budget, cost, kv_tokens=None, block_size=16,
                    max_seqs=128, seed=0):
    """Token times (us, Fractions), first-scheduled times, preemptions and iterations, per request."""
    base, _, param = scheduler.partition(":")
    cls, fixed = REFERENCES[SchedulerName(base)]
    strict_tbt = min((c.tbt_us for c in workload.classes), default=None)
    ranks = {i: k for k, i in enumerate(workload.arrival_order)}
    reqs = [Req(ranks[i], r.arrival_us, r.prompt_tokens, r.output_tokens,
                None if r.tbt_slo_us is None else Fraction(r.tbt_slo_us),
                r.tbt_slo_us is not None and r.tbt_slo_us == strict_tbt)
            for i, r in enumerate(workload.requests)]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    args = (reqs, budget, cost, kv_tokens, block_size, max_seqs, fixed or order or "fcfs", rng)
    engine = cls(*args, offset=Fraction(param)) if param else cls(*args)
    engine.run()
    return ([r.times for r in reqs], [r.first for r in reqs], [r.preempted for r in reqs], engine.iterations)


# --- hypothesis workloads -----------------------------------------------------------------------

CLASSES = parse_classes("gold=1/2:40us,free=1/2:400us")


@st.composite
def workloads(draw, max_n=8, max_prompt=12, max_output=25):
    n = draw(st.integers(1, max_n))
    prompts = draw(st.lists(st.integers(1, max_prompt), min_size=n, max_size=n))
    outputs = draw(st.lists(st.integers(1, max_output), min_size=n, max_size=n))
    if draw(st.booleans()):
        arrivals = draw(st.lists(st.integers(0, 120), min_size=n, max_size=n))
    else:
        arrivals = [Fraction(a, d) for a, d in draw(st.lists(st.tuples(st.integers(0, 240), st.integers(1, 3)),
                                                                min_size=n, max_size=n))]
    with_classes = draw(st.booleans())
    index = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)) if with_classes else None
    return Workload.from_lengths(prompts, outputs, arrivals, classes=CLASSES if with_classes else (),
                                 class_index=index)


@st.composite
def costs(draw):
    frac = st.one_of(st.integers(0, 4), st.fractions(0, 3, max_denominator=4))
    return IterationCost(c0=draw(st.integers(0, 12)), cp=draw(frac), cd=draw(frac),
                         ckv=draw(st.sampled_from([0, 0, Fraction(1, 3), 1])),
                         catt=draw(st.sampled_from([0, 0, Fraction(1, 5), 1])),
                         tile=draw(st.sampled_from([None, None, 2, 5])))


@st.composite
def settings_for(draw, workload, scheduler, pressure):
    longest = max(r.prompt_tokens + r.output_tokens - 1 for r in workload.requests)
    low = longest if scheduler == "vllm-v0" else 1
    budget = draw(st.integers(low, max(low, 16)))
    block = draw(st.integers(1, 4))
    kv = None
    if pressure:
        need = -(-longest // block)
        kv = block * draw(st.integers(need, need + 6))
    return dict(budget=budget, cost=draw(costs()), kv_tokens=kv, block_size=block,
                max_seqs=draw(st.integers(1, 5)), seed=draw(st.integers(0, 3)))


SCHEDULER_NAMES = [s.value for s in SCHEDULERS] + ["slai-fcfs:3", "slai:0"]
ORDERS = [None, "spf", "shortest-prompt", "lof", "hrrn", "random"]


def check_equal(workload, scheduler, order, options):
    run = serve(workload, scheduler, order=order, **options)
    times, first, preempted, iterations = reference_serve(workload, scheduler, order=order, **options)
    got = [run.token_times_us(i) for i in range(workload.n)]
    assert got == times
    assert [run.timeline.us(int(x)) for x in run.timeline.first_scheduled] == first
    assert run.timeline.preemptions.tolist() == preempted
    assert run.iterations == iterations
    return run


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
@pytest.mark.parametrize("pressure", [False, True], ids=["memory-unbounded", "memory-pressure"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_engine_equals_reference(scheduler, pressure, data):
    workload = data.draw(workloads())
    options = data.draw(settings_for(workload, scheduler, pressure))
    check_equal(workload, scheduler, None, options)


@pytest.mark.parametrize("scheduler", [s.value for s, row in SCHEDULERS.items() if row.fixed_order is None])
@pytest.mark.parametrize("order", ORDERS[1:])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_engine_equals_reference_for_every_order(scheduler, order, data):
    workload = data.draw(workloads())
    options = data.draw(settings_for(workload, scheduler, data.draw(st.booleans())))
    check_equal(workload, scheduler, order, options)


@pytest.mark.parametrize("scheduler", ["sarathi", "slai", "vllm", "sglang"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_long_decode_stretches_equal_reference(scheduler, data):
    """Few arrivals and long outputs: most iterations are advanced as stretches by the fast engine."""
    workload = data.draw(workloads(max_n=4, max_prompt=6, max_output=120))
    options = data.draw(settings_for(workload, scheduler, data.draw(st.booleans())))
    check_equal(workload, scheduler, None, options)
