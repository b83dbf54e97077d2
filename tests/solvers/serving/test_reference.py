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
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS, SCHEDULERS, SchedulerName
from prefix_sched.theory.serving.costs import IterationCost
from prefix_sched.theory.serving.requests import Workload, parse_classes

SLAI_DEFAULT_TBT = Fraction(200_000)


class RNode:
    def __init__(self, parent, tokens):
        self.parent, self.tokens, self.children, self.time, self.lock = parent, tuple(tokens), {}, 0, 0


class RefCache:
    """The engine's prefix cache from its docstring (solvers/serving/prefix_cache.py): nodes hold
    expanded tokens, counts are recounted, the oldest unlocked leaf is found by a scan."""

    def __init__(self, evicts):
        self.evicts = evicts
        self.root = RNode(None, ())
        self.root.lock = 1
        self.clock = 0

    def nodes(self):
        out, stack = [], list(self.root.children.values())
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(node.children.values())
        return out

    def tokens(self):
        return sum(len(n.tokens) for n in self.nodes())

    def locked(self):
        return sum(len(n.tokens) for n in self.nodes() if n.lock)

    def counted(self):
        return self.tokens() if self.evicts else self.locked()

    def evictable(self):
        return self.tokens() - self.locked() if self.evicts else 0

    def walk(self, tokens, limit):
        """The nodes a match of ``tokens`` (at most ``limit``) enters, with the tokens matched in each."""
        node, depth, out = self.root, 0, []
        while depth < min(limit, len(tokens)):
            child = node.children.get(tokens[depth])
            if child is None:
                break
            k = 0
            while k < len(child.tokens) and depth + k < min(limit, len(tokens)) and child.tokens[k] == tokens[depth + k]:
                k += 1
            out.append((child, k))
            depth += k
            if k < len(child.tokens):
                break
            node = child
        return out

    def reuse(self, tokens):
        return sum(k for _, k in self.walk(tokens, len(tokens)))

    def probe(self, tokens, limit):
        entered = self.walk(tokens, limit)
        return sum(k for _, k in entered), sum(k for n, k in entered if not n.lock)

    def _stamp(self):
        self.clock += 1
        return self.clock

    def split(self, node, k):
        upper = RNode(node.parent, node.tokens[:k])
        upper.time, upper.lock = node.time, node.lock
        node.parent.children[upper.tokens[0]] = upper
        node.tokens = node.tokens[k:]
        node.parent = upper
        upper.children[node.tokens[0]] = node
        return upper

    def match(self, tokens, limit):
        stamp = self._stamp()
        node, depth = self.root, 0
        for child, k in self.walk(tokens, limit):
            child.time = stamp
            depth += k
            node = self.split(child, k) if k < len(child.tokens) else child
        return node, depth

    def lock(self, node, delta=1):
        while node is not None:
            node.lock += delta
            node = node.parent

    def stamp_path(self, node):
        stamp = self._stamp()
        while node is not None:
            node.time = stamp
            node = node.parent

    def insert(self, node, tokens, start, stop):
        old, depth = node, start
        while depth < stop:
            child = node.children.get(tokens[depth])
            if child is None:
                break
            k = 0
            while k < len(child.tokens) and depth + k < stop and child.tokens[k] == tokens[depth + k]:
                k += 1
            depth += k
            if k < len(child.tokens):
                node = self.split(child, k)
                break
            node = child
        if depth < stop:
            leaf = RNode(node, tokens[depth:stop])
            node.children[leaf.tokens[0]] = leaf
            node = leaf
        if node is not old:
            self.lock(node)
            self.lock(old, -1)
        self.stamp_path(node)
        return node

    def release(self, node):
        self.stamp_path(node)
        self.lock(node, -1)

    def evict(self, amount):
        freed = 0
        while freed < amount:
            leaves = [n for n in self.nodes() if not n.children and not n.lock]
            if not leaves:
                break
            oldest = min(n.time for n in leaves)
            victims = [n for n in leaves if n.time == oldest]
            assert len(victims) == 1, "two unlocked leaves with one stamp"
            victim = victims[0]
            del victim.parent.children[victim.tokens[0]]
            freed += len(victim.tokens)
        return freed


class Req:
    def __init__(self, rank, arrival, prompt, out, tbt, strict, tokens=None):
        self.rank, self.arrival, self.P, self.o = rank, Fraction(arrival), prompt, out
        self.tbt, self.strict = tbt, strict
        self.tokens = tokens if tokens is not None else [(("#request", rank), j) for j in range(prompt)]
        self.node = None
        self.cached = 0
        self.entered = 0
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

    def __init__(self, reqs, budget, cost, kv_tokens, block, max_seqs, order, rng, cache=None):
        self.reqs = reqs
        self.B, self.cost, self.block, self.S, self.order, self.rng = budget, cost, block, max_seqs, order, rng
        self.limited = kv_tokens is not None
        self.total_blocks = kv_tokens // block if self.limited else 0
        self.cache = None if cache in (None, "none") else RefCache(cache == "lru")
        self.waiting: list[Req] = []
        self.running: list[Req] = []
        self.iterations = 0
        self.decisions = 0  # admissions so far (Part 1's decision number)

    # --- memory and states ---
    @property
    def free(self):
        """Free blocks (tokens with a cache), recounted: the pool less every request's and the cache's."""
        used = sum(r.blocks for r in self.reqs) + (self.cache.counted() if self.cache else 0)
        return self.total_blocks - used

    def room(self):
        """Free blocks plus what eviction could free."""
        return self.free + (self.cache.evictable() if self.cache else 0)

    def blocks_for(self, tokens):
        return -(-tokens // self.block)

    def can_alloc(self, r):
        if not self.limited:
            return True
        if self.cache is None:
            return self.blocks_for(r.P + r.gen) <= self.free
        target = r.P + r.gen
        m, unlocked = self.cache.probe(r.tokens, target - 1)
        return target - m <= self.room() - unlocked

    def prefill_length(self, r):
        target = r.P + r.gen
        return target if self.cache is None else target - min(self.cache.reuse(r.tokens), target - 1)

    def admit(self, r, now):
        self.waiting.remove(r)
        r.target, r.done, r.state = r.P + r.gen, 0, "prefill"
        if self.cache is not None:
            r.node, r.done = self.cache.match(r.tokens, r.target - 1)
            r.cached = r.done
            self.cache.lock(r.node)
        if self.limited:
            need = self.blocks_for(r.target - r.done)
            if self.cache is not None and need > self.free:
                self.cache.evict(need - self.free)
            r.blocks = need
            assert self.free >= 0
        if r.first is None:
            r.first = now
        self.running.append(r)
        self.decisions += 1
        return r.target - r.done

    def slot(self, r):
        """A decode's slot: a new block when its sequence length |p| + g needs one (with a cache: a
        token, taken from an evicted leaf when none is free)."""
        if not self.limited:
            return True
        if self.cache is None and self.blocks_for(r.P + r.gen) == r.blocks:
            return True
        if self.free == 0:
            if self.cache is None or self.cache.evictable() == 0:
                return False
            self.cache.evict(1)
        r.blocks += 1
        return True

    def on_chunk(self, r, start, stop):
        """Prompt tokens [start, stop) of ``r`` computed: they enter the cache."""
        if self.cache is not None and stop > start:
            r.node = self.cache.insert(r.node, r.tokens, start, stop)
            if self.limited:
                r.blocks -= stop - start

    def release(self, r):
        if self.cache is not None:
            self.cache.release(r.node)
            r.node = None

    def preempt(self, r):
        self.release(r)
        r.blocks, r.state, r.done = 0, "waiting", 0
        r.preempted += 1
        r.entered = self.decisions
        self.running.remove(r)
        self.waiting.insert(0, r)
        self.on_preempt(r)

    def on_preempt(self, r):
        pass

    def finish(self, r):
        self.release(r)
        r.blocks, r.state = 0, "done"
        self.running.remove(r)

    # --- the order of new prefills ---
    def pick(self, now):
        """The next candidate of the waiting list (a draw for ``random``); under a cache, the
        orders that read it rank by ``m`` (the cached prefix now), ties to the oldest arrival."""
        w = self.waiting
        if self.cache is not None and self.order.partition(":")[0] in CACHE_KEYS:
            return self.pick_cached(now)
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

    def pick_cached(self, now):
        w = sorted(self.waiting, key=lambda r: r.rank)
        name, _, param = self.order.partition(":")
        m = {id(r): self.cache.reuse(r.tokens) for r in w}
        lpm = max(w, key=lambda r: (m[id(r)], -r.rank))
        s = self.decisions
        if name == "lpm":
            return lpm
        if name == "k-lpm":
            k = int(param)
            return w[0] if s % (k + 1) == k else lpm
        if name == "sglang-lpm":
            return w[0] if len(w) > (int(param) if param else 128) else lpm
        if name == "lpm-aging":
            return max(w, key=lambda r: (m[id(r)] + int(param) * (s - r.entered), -r.rank))
        if name == "spf":
            return min(w, key=lambda r: (r.P - m[id(r)], r.rank))
        if name == "hrrn":
            return max(w, key=lambda r: (float("inf") if r.P == m[id(r)] else Fraction(now - r.arrival, 1) / (
                r.P - m[id(r)]), -r.rank))
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
    def iterate(self, now):
        """Form and run the iteration starting at ``now``; return its end, or None when nothing is runnable."""
        decodes, chunks = self.step(now)
        if not decodes and not chunks:
            return None
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
            self.on_chunk(r, r.done, min(r.done + x, r.P))
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
        return end

    def run(self):
        pending = sorted(self.reqs, key=lambda r: r.rank)
        now = pending[0].arrival
        while any(r.state != "done" for r in self.reqs):
            while pending and pending[0].arrival <= now:
                r = pending.pop(0)
                r.state = "waiting"
                r.entered = self.decisions
                self.waiting.append(r)
            end = self.iterate(now)
            if end is None:
                assert pending, "nothing runnable and no arrival left"
                now = pending[0].arrival
                continue
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
                length = self.prefill_length(r)
                if used + length > self.B or len(self.running) >= self.S or not self.can_alloc(r):
                    break
                length = self.admit(r, now)
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
            if need <= self.room() or not self.limited:
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
            used = self.total_blocks - self.room()
            self.offset = 10 if self.limited and used >= Fraction(96, 100) * self.total_blocks else 5
        mean = self.total / self.count
        for r in decodes + completed:
            if r.state == "decode":
                r.lst = end + (SLAI_DEFAULT_TBT if r.tbt is None else r.tbt) - self.offset * mean
                self.decq.append(r)


class RefRad(Reference):
    """RAD (reconstruction) from its docstring: n* from the cost formula, the backlog split, service order."""

    def __init__(self, *args, share=None):
        super().__init__(*args)
        self.share = share
        c = self.cost

        def tau(n):
            pad = c.tile * -(-n // c.tile) - n if c.tile is not None else 0
            return c.c0 + c.cp * (n + pad)

        self.nstar = max(range(1, self.B + 1), key=lambda n: (Fraction(n) / tau(n) if tau(n) else float("inf"), n))
        self.order_dec: list[Req] = []
        self.taken: list[Req] = []

    def on_preempt(self, r):
        if r in self.order_dec:
            self.order_dec.remove(r)

    def step(self, now):
        decs = list(self.order_dec)
        if self.share is None:
            bd = sum(r.o - r.gen for r in decs)
            bp = sum(r.target - r.done for r in self.running if r.state == "prefill") + sum(
                r.P + r.gen for r in self.waiting)
            d0 = min(len(decs), -(-self.nstar * bd // (bd + bp))) if bd else 0
        else:
            d0 = min(len(decs), int(self.share * self.nstar))
        taken = []
        for r in decs[:d0]:
            if r.state != "decode":
                continue
            while not self.slot(r):
                victims = [v for v in self.running if v not in taken and v is not r]
                if victims:
                    self.preempt(max(victims, key=lambda v: v.rank))
                else:
                    self.preempt(r)
                    break
            else:
                taken.append(r)
        used = len(taken)
        limit = self.nstar if self.share is None else self.nstar - int(self.share * self.nstar) + used
        chunks = []
        for r in self.by_arrival([r for r in self.running if r.state == "prefill"]):
            if used >= limit:
                break
            x = min(r.target - r.done, limit - used)
            chunks.append((r, x))
            used += x
        while self.waiting and used < limit:
            r = self.pick(now)
            if len(self.running) >= self.S or not self.can_alloc(r):
                break
            x = min(self.admit(r, now), limit - used)
            chunks.append((r, x))
            used += x
        if self.share is None:
            for r in self.order_dec:
                if used >= self.nstar:
                    break
                if r in taken:
                    continue
                if not self.slot(r):
                    break
                taken.append(r)
                used += 1
        self.taken = taken
        return taken, chunks

    def after(self, end, tau, decodes, chunks, completed):
        self.order_dec = ([r for r in self.order_dec if r not in self.taken]
                          + [r for r in self.taken if r.state == "decode"]
                          + [r for r in completed if r.state == "decode"])


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
    SchedulerName.RAD: (RefRad, None),
    SchedulerName.RAD_FIXED: (RefRad, None),
}


def make_requests(workload: Workload):
    """One reference request per workload request (workload order), its prompt as expanded tokens."""
    strict_tbt = min((c.tbt_us for c in workload.classes), default=None)
    ranks = {i: k for k, i in enumerate(workload.arrival_order)}
    return [Req(ranks[i], r.arrival_us, r.prompt_tokens, r.output_tokens,
                None if r.tbt_slo_us is None else Fraction(r.tbt_slo_us),
                r.tbt_slo_us is not None and r.tbt_slo_us == strict_tbt,
                None if r.prompt is None else [(sid, j) for sid, length in r.prompt for j in range(length)])
            for i, r in enumerate(workload.requests)]


CACHE_KEYS = {"lpm", "k-lpm", "sglang-lpm", "lpm-aging", "spf", "hrrn"}
"""The orders that read the cache (dfs-weight is checked against Part 1's simulator instead)."""


def make_engine(reqs, scheduler: str, rng, *, order=None, budget, cost, kv_tokens=None, block_size=None, max_seqs=128,
                prefix_cache="none"):
    """A reference engine of ``scheduler`` over ``reqs`` (the requests it will serve)."""
    base, _, param = scheduler.partition(":")
    cls, fixed = REFERENCES[SchedulerName(base)]
    if block_size is None:
        block_size = 1 if prefix_cache != "none" else 16
    args = (reqs, budget, cost, kv_tokens, block_size, max_seqs, fixed or order or "fcfs", rng, prefix_cache)
    if cls is RefRad:
        return cls(*args, share=Fraction(param) if param else None)
    return cls(*args, offset=Fraction(param)) if param else cls(*args)


def reference_serve(workload: Workload, scheduler: str, *, order=None, budget, cost, kv_tokens=None, block_size=None,
                    max_seqs=128, seed=0, prefix_cache="none", cached=False):
    """Token times (us, Fractions), first-scheduled times, preemptions and iterations, per request
    (and with ``cached``, each request's cached tokens at its last admission)."""
    reqs = make_requests(workload)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    engine = make_engine(reqs, scheduler, rng, order=order, budget=budget, cost=cost, kv_tokens=kv_tokens,
                         block_size=block_size, max_seqs=max_seqs, prefix_cache=prefix_cache)
    engine.run()
    out = ([r.times for r in reqs], [r.first for r in reqs], [r.preempted for r in reqs], engine.iterations)
    return out + ([r.cached for r in reqs],) if cached else out


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
    low = longest if scheduler == "vllm-v0" else 8 if scheduler.startswith("rad-fixed") else 1
    budget = draw(st.integers(low, max(low, 16)))
    block = draw(st.integers(1, 4))
    kv = None
    if pressure:
        need = -(-longest // block)
        kv = block * draw(st.integers(need, need + 6))
    return dict(budget=budget, cost=draw(costs()), kv_tokens=kv, block_size=block,
                max_seqs=draw(st.integers(1, 5)), seed=draw(st.integers(0, 3)))


SCHEDULER_NAMES = list(SCHEDULER_FORMS) + ["slai-fcfs:3", "slai:0", "rad-fixed:3/5"]
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


@pytest.mark.parametrize("scheduler", [form for form, row in zip(SCHEDULER_FORMS, SCHEDULERS.values())
                                       if row.fixed_order is None])
@pytest.mark.parametrize("order", ORDERS[1:])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_engine_equals_reference_for_every_order(scheduler, order, data):
    workload = data.draw(workloads())
    options = data.draw(settings_for(workload, scheduler, data.draw(st.booleans())))
    check_equal(workload, scheduler, order, options)


@pytest.mark.parametrize("scheduler", ["sarathi", "slai", "vllm", "sglang", "rad"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_long_decode_stretches_equal_reference(scheduler, data):
    """Few arrivals and long outputs: most iterations are advanced as stretches by the fast engine."""
    workload = data.draw(workloads(max_n=4, max_prompt=6, max_output=120))
    options = data.draw(settings_for(workload, scheduler, data.draw(st.booleans())))
    check_equal(workload, scheduler, None, options)


# --- the prefix cache ---------------------------------------------------------------------------

@st.composite
def shared_workloads(draw, max_n=10, max_output=20):
    """Prompts of 1-3 segments from a small pool (each id one length): they share prefixes."""
    pool = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    n = draw(st.integers(1, max_n))
    prompts = [tuple((f"s{j}", pool[j]) for j in draw(st.lists(st.integers(0, len(pool) - 1), min_size=1,
                                                                    max_size=3)))
               for _ in range(n)]
    outputs = draw(st.lists(st.integers(1, max_output), min_size=n, max_size=n))
    arrivals = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    return Workload.from_lengths([sum(x for _, x in p) for p in prompts], outputs, arrivals, prompts=prompts)


CACHE_ORDERS = [None, "lpm", "k-lpm:1", "k-lpm:2", "sglang-lpm:2", "lpm-aging:3", "spf", "hrrn", "shortest-prompt"]


def check_cached(workload, scheduler, order, options):
    run = serve(workload, scheduler, order=order, **options)
    times, first, preempted, iterations, cached = reference_serve(workload, scheduler, order=order, cached=True,
                                                                  **options)
    assert run.timeline.cached_tokens.tolist() == cached
    assert [run.token_times_us(i) for i in range(workload.n)] == times
    assert [run.timeline.us(int(x)) for x in run.timeline.first_scheduled] == first
    assert run.timeline.preemptions.tolist() == preempted
    assert run.iterations == iterations
    return run


@st.composite
def cache_settings(draw, workload, scheduler, cache):
    longest = max(r.prompt_tokens + r.output_tokens - 1 for r in workload.requests)
    low = longest if scheduler == "vllm-v0" else 8 if scheduler.startswith("rad-fixed") else 1
    kv = None
    if cache == "lru" or draw(st.booleans()):
        kv = draw(st.integers(longest, longest + 40))
    return dict(budget=draw(st.integers(low, max(low, 16))), cost=draw(costs()), kv_tokens=kv,
                max_seqs=draw(st.integers(1, 5)), seed=draw(st.integers(0, 3)), prefix_cache=cache)


@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_engine_with_a_prefix_cache_equals_reference(cache, scheduler, data):
    workload = data.draw(shared_workloads())
    options = data.draw(cache_settings(workload, scheduler, cache))
    check_cached(workload, scheduler, None, options)


@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("order", CACHE_ORDERS[1:])
@pytest.mark.parametrize("scheduler", ["sarathi", "vllm", "sglang", "vllm-v0", "rad"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_order_under_a_prefix_cache_equals_reference(cache, order, scheduler, data):
    workload = data.draw(shared_workloads())
    options = data.draw(cache_settings(workload, scheduler, cache))
    check_cached(workload, scheduler, order, options)


def _naive_kind(make):
    """``make_policy_queue`` with the naive reference kind in place of the indexed one."""
    def naive(spec, kind, *args, **kwargs):
        return make(spec, "naive", *args, **kwargs)
    return naive


@pytest.mark.parametrize("cache", ["lru", "unbounded"])
@pytest.mark.parametrize("order", ["dfs-weight", *CACHE_ORDERS[1:]])
@pytest.mark.parametrize("scheduler", ["sarathi", "sglang", "vllm"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_indexed_orders_equal_their_naive_references_on_the_engines_cache(cache, order, scheduler, data):
    """Part 1's indexed queues read the engine's cache tree, whose nodes may end inside a segment
    (a chunk's end, a match capped one token short): each order's indexed queue gives the token
    times its naive rescan gives. Budgets of 1-16 tokens split the 1-6-token segments."""
    from prefix_sched.solvers.serving import orders

    workload = data.draw(shared_workloads())
    options = data.draw(cache_settings(workload, scheduler, cache))
    indexed = serve(workload, scheduler, order=order, **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(orders, "make_policy_queue", _naive_kind(orders.make_policy_queue))
        naive = serve(workload, scheduler, order=order, **options)
    assert [indexed.token_times_us(i) for i in range(workload.n)] == [naive.token_times_us(i) for i in range(workload.n)]
    assert indexed.timeline.cached_tokens.tolist() == naive.timeline.cached_tokens.tolist()
