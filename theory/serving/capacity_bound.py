"""An upper bound on the arrival rate that *any* scheduler of the serving model can sustain.

The fluid bound of ../shared/MODEL_SERVING.md (claim 2, a reading of the second seed) says that a
stable engine needs ``rate * E[|p| + o] <= n* / tau(n*)`` with ``n* = argmax n / tau(n)``. This
module proves a bound of that kind for the engine as it is implemented
(:mod:`prefix_sched.solvers.serving.engine` and its schedulers), and tightens it where the cost
model's context terms, ``max_num_seqs`` or the KV memory bind, and where a prefix cache saves work:
:func:`capacity_bound` returns a :class:`CapacityBound` whose :attr:`~CapacityBound.rate_req_s`
``Lambda`` no scheduler can exceed in the long run, and whose :attr:`~CapacityBound.busy_us` no run
of the workload can undercut (the summed durations of its iterations, over every engine).

What it assumes about reuse. With a prefix cache a request ``r`` can find cached at most
``L_r = min(|p_r| - 1, max_{q != r} ov(p_r, p_q))`` prompt tokens (``ov``: the longest common
prefix, :func:`~prefix_sched.theory.prompt.overlap`): the reuse of an unbounded cache in the best
order, every other request's prompt computed before ``r``. That is the most any cache (``lru`` or
``unbounded``, on any engine) can give, so the bound stays valid; it is loose when the cache is
small or the order poor. Without a cache (``prefix_cache="none"``) ``L_r = 0``.

What it leaves out: any claim that a rate below the bound is stable (the bound is necessary, not
sufficient), and routing (reuse across engines is bounded as if every engine held every prompt).

Examples
--------
A hand-worked case (the ``seed`` preset, 15.2 ms + 57.4 us per token; budget 512): every request
has 100 prompt and 10 output tokens, so it needs ``w = 100 + 10 - 1 = 109`` batch tokens. A batch
of ``n <= 512`` tokens costs ``15200 + 57.4 n`` us, so the cheapest token costs
``h* + cp = 15200 / 512 + 57.4 = 87.0875`` us, ``109`` of them ``9492.5375`` us: at most
``1e6 / 9492.5375 = 105.35`` requests per second, on each engine.

>>> from prefix_sched.theory.serving.requests import Workload
>>> w = Workload.from_lengths([100] * 4, [10] * 4, [0, 1, 2, 3])
>>> b = capacity_bound(w, "seed")
>>> b.nstar, b.overhead_us_per_token, b.per_request_us, float(b.rate_req_s)
(512, Fraction(475, 16), Fraction(759403, 80), 105.3459...)
>>> b.binding, b.rate_req_s == b.fluid_rate_req_s
('tokens', True)
>>> float(capacity_bound(w, "seed", engines=4).rate_req_s / b.rate_req_s)
4.0

``max_num_seqs`` binds an output-heavy workload: with 4 sequences a batch emits at most 4 tokens,
so 100 output tokens a request need 25 batches of at least ``c0 = 15.2`` ms.

>>> long = Workload.from_lengths([1] * 8, [100] * 8, [0] * 8)
>>> b = capacity_bound(long, "seed", max_seqs=4)
>>> b.binding, b.per_request_us == 385740, round(float(b.rate_req_s), 4)
('max_seqs', True, 2.5924)

Notes
-----
Symbols. A run serves requests ``r`` (prompt ``|p_r| = P_r`` tokens, output ``o_r``) in iterations
``b`` of ``N_b`` tokens. The iteration cost (:mod:`.costs`, the one place it is written) is, in
microseconds,

.. math:: \\tau_b = c_0 + c_p N^p_b + c_d N^d_b + c_p\\,\\mathrm{pad}(N_b) + c_{kv} \\sum_{\\text{decodes}} ctx
          + c_{att} \\sum_{\\text{chunks}} x (c + x/2),

``pad(N) = T ceil(N / T) - N`` with a tile ``T`` (0 without). The engine's rules used below are
those of :mod:`prefix_sched.solvers.serving.engine` and its schedulers.

**Step 1 (per-token prices).** ``x (c + x/2) = sum_{j=c}^{c+x-1} (j + 1/2)``, so a chunk's cost is
a sum over the prompt positions ``j`` it computes of ``c_p + c_att (j + 1/2)``, whatever the chunking;
a decode that emits token ``k`` of ``r`` has context ``P_r + k - 1`` (the engine's ``ctx``) and costs
``D_r(k) = c_d + c_kv (P_r + k - 1)``. Hence ``tau_b = phi(N_b) + (the prices of the batch's
tokens)`` with ``phi(N) = c_0 + c_p pad(N)``.

**Step 2 (work no schedule avoids; the reuse bound).** (a) Every prompt position ``j`` of ``r`` with
``L_r <= j < P_r`` is computed by ``r`` at least once before its first token: the engine's match is
a path of the radix tree of computed *prompt* tokens, capped at ``|p'| - 1``; a tree token at
position ``j >= max_{q != r} ov(p_r, p_q)`` of ``r``'s path lies on no other request's path, so
``r`` computed it itself. Cost at least ``c_p (P_r - L_r) + c_att (P_r^2 - L_r^2) / 2``.
(b) Each output token ``k >= 2`` is emitted by exactly one event: a decode (price ``D_r(k)``), or
the completion of a recompute prefill of ``|p'| = P_r + k - 1`` tokens after a preemption, whose
match holds prompt tokens only (``<= P_r``; none without a cache), so it computes at least the
positions ``P_r .. P_r + k - 2`` (without a cache ``0 .. P_r + k - 2``): price at least
``R_r(k) = c_p g + c_att g (P_r + g/2)``, ``g = k - 1`` (without a cache ``c_p (P_r + g) +
c_att (P_r + g)^2 / 2``). These positions are beyond the prompt, so (a) and (b) count no
computation twice. Per request, ``a_r = c_p (P_r - L_r) + c_att (P_r^2 - L_r^2)/2 +
sum_{k=2}^{o_r} min(D_r(k), R_r(k))``; every term is a lower bound on the prices the run pays for
``r``, so ``sum_b (tau_b - phi(N_b)) >= A = sum_r a_r``. (``R - D`` is a convex quadratic in ``g``,
so the ``k`` where the recompute is cheaper form one interval; it is found exactly.)

**Step 3 (tokens).** Each event of step 2 puts at least one token in a batch: ``sum_b N_b >= W =
sum_r (P_r - L_r + o_r - 1)``.

**Step 4 (batches).** (a) A batch holds at most ``S = max_num_seqs`` requests (admitted, unfinished
ones; each scheduler admits only while fewer than ``S`` run) and each emits at most one token, so
the number of batches is ``K >= O / S``, ``O = sum_r o_r``. (b) With KV memory ``M`` (in whole
blocks: ``M_eff = b floor(M / b)``), when ``r`` emits token ``k`` it holds at least
``mu_r(k) = b ceil((P_r + k - 1) / b)`` tokens (without a cache: the blocks of its sequence), or
``(P_r - ov*_r)^+ + k - 1`` under a prefix cache (its own generated tokens, and the prompt tokens on
no other request's path, which it keeps locked; ``ov*_r = max_{q != r} ov(p_r, p_q)``); these are
disjoint across the batch's requests and fit in ``M_eff``, so ``K >= U / M_eff``,
``U = sum_r sum_{k=1}^{o_r} mu_r(k)``.

**Step 5 (the fixed cost).** ``phi(N) >= c_0`` and ``phi(N) >= h* N`` with
``h* = min_{1 <= N <= N_max} phi(N) / N``, ``N_max`` the most tokens a batch can hold:
``max(B, S)`` (``vllm``, ``vllm-v0``, ``slai`` and ``rad`` stay within the budget ``B``;
``sarathi`` and ``sglang`` run every decode uncut, at most ``S``, and fill prefill only up to
``B``). So ``sum_b phi(N_b) >= max(c_0 K_min, h* W)``, ``K_min = max(O / S, U / M_eff)``.

**Step 6 (the bound).** Summed over the iterations of every engine,

.. math:: \\sum_b \\tau_b \\ge \\Pi = \\max(c_0 K_{min}, h^* W) + A \\quad (:attr:`CapacityBound.busy\\_us`),

and ``G`` engines deliver at most ``G t`` of it by time ``t``. ``Pi`` is subadditive over sets of
requests (a max of sums is at most the sum of the maxes), so the requests unfinished at ``t`` carry
``Pi(unfinished) >= Pi(arrived by t) - G t``. With requests drawn from the workload at rate
``lambda``, ``Pi(arrived by t) / t -> lambda pi`` (``pi = Pi / n``, the per-request mean), so the
backlog grows at least linearly, at ``lambda pi - G`` per unit time, when

.. math:: \\lambda > \\Lambda = G / \\pi  \\quad (:attr:`CapacityBound.rate\\_req\\_s`).

On a finite workload the same inequality says that the last token comes at least ``Pi / G`` after
the first arrival.

**Step 7 (the fluid bound).** With ``c_p = c_d``, ``c_kv = c_att = 0``, no cache and ``K_min``
not binding, ``pi = (h* + c_p) w = w tau(n*) / n*`` with ``n* = argmax_{n <= N_max} n / tau(n)``
(``h* + c_p = tau(N)/N`` at its minimum): ``Lambda = G n* / (tau(n*) E[P + o - 1])``, the fluid
bound, with ``E[P + o - 1]``, not ``E[P + o]``: a request's first token comes out of its prefill,
so it needs ``P + o - 1`` batch tokens (:attr:`CapacityBound.fluid_rate_req_s`).

Running time ``O(n (segments + log o) + N_max)`` integer operations.

References
----------
Bari, Hegde, de Veciana, "Optimal Scheduling Algorithms for LLM Inference: Theory and Practice",
arXiv 2508.01002 (claim 2, as read in ../shared/MODEL_SERVING.md); Li, Dai, Peng, arXiv 2504.07347
(work-conserving engines with a fixed batch budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import brief, normalize, to_json
from prefix_sched.theory.serving.costs import IterationCost, TickCost, parse_cost
from prefix_sched.theory.serving.requests import Workload

DEFAULT_BUDGET = 512
DEFAULT_MAX_SEQS = 128
DEFAULT_BLOCK = 16
"""The engine's defaults (``prefix_sched.solvers.serving.engine``; a test keeps them equal)."""
PREFIX_CACHES = ("none", "lru", "unbounded")
US_PER_S = 1_000_000


@dataclass(frozen=True)
class CapacityBound:
    """The bound of the module docstring for one workload and engine configuration (exact numbers).

    Attributes
    ----------
    rate_req_s : Fraction or None
        ``Lambda``: no scheduler sustains a higher arrival rate (requests/s); None when every batch
        is free (all cost coefficients 0).
    busy_us : Fraction
        ``Pi``: every run of this workload spends at least this much in iterations, over all engines.
    fluid_rate_req_s : Fraction or None
        ``G n*_B / (tau(n*_B) E[P + o - 1])`` with ``n*_B = argmax_{n <= B} n / tau(n)``: the fluid
        bound of MODEL_SERVING.md (with ``o - 1``, and ``n`` up to the budget as MODEL_SERVING.md
        has it); equal to ``Lambda`` under step 7's conditions when ``max(B, S) = B``, and not a
        bound in general (it ignores the context terms, and ``sarathi``'s decode batches may exceed
        ``B`` when ``S > B``).
    nstar, nstar_tau_us : int, Fraction
        ``n* = argmax_{n <= N_max} n / tau(n)`` (ties: the largest) and ``tau(n*)``, ``tau(n)`` a
        batch of ``n`` prompt tokens without context.
    overhead_us_per_token : Fraction
        ``h* = min_{N <= N_max} (c0 + cp pad(N)) / N``.
    batches : dict
        Lower bounds on the number of batches: ``tokens`` (``h* W / c0``, what the token term is
        worth in batches; None when ``c0 = 0``), ``max_seqs`` (``O / S``), ``memory`` (``U / M``;
        None without a memory limit).
    binding : str
        The term that sets the fixed-cost part: ``tokens``, ``max_seqs`` or ``memory``.
    """

    rate_req_s: Fraction | None
    busy_us: Fraction
    fluid_rate_req_s: Fraction | None
    requests: int
    engines: int
    max_batch_tokens: int
    nstar: int
    nstar_tau_us: Fraction
    overhead_us_per_token: Fraction
    tokens: int
    outputs: int
    memory_token_events: int | None
    memory_tokens: int | None
    token_cost_us: Fraction
    prompt_tokens: int
    reuse_tokens: int
    batches: dict[str, Fraction | None]
    binding: str
    settings: dict[str, Any]

    @property
    def per_request_us(self) -> Fraction:
        """``pi``: the busy time per request (us)."""
        return Fraction(self.busy_us) / self.requests

    @property
    def token_rate_tok_s(self) -> Fraction | None:
        """``Lambda E[P - L + o - 1]``: the batch tokens per second the bound allows (all engines)."""
        return None if self.rate_req_s is None else self.rate_req_s * Fraction(self.tokens, self.requests)

    def as_dict(self) -> dict[str, Any]:
        """The bound and its terms as JSON-ready data (exact numbers as ``int`` or ``"p/q"``)."""
        def j(value):
            return None if value is None else to_json(value)

        return {"rate_req_s": j(self.rate_req_s), "busy_us": j(self.busy_us),
                "fluid_rate_req_s": j(self.fluid_rate_req_s), "requests": self.requests, "engines": self.engines,
                "max_batch_tokens": self.max_batch_tokens, "nstar": self.nstar, "nstar_tau_us": j(self.nstar_tau_us),
                "overhead_us_per_token": j(self.overhead_us_per_token), "tokens": self.tokens, "outputs": self.outputs,
                "memory_token_events": self.memory_token_events, "memory_tokens": self.memory_tokens,
                "token_cost_us": j(self.token_cost_us), "prompt_tokens": self.prompt_tokens,
                "reuse_tokens": self.reuse_tokens, "batches": {k: j(v) for k, v in self.batches.items()},
                "binding": self.binding, "settings": self.settings}


def capacity_bound(workload: Workload, cost: IterationCost | str, *, budget: int = DEFAULT_BUDGET,
                   max_seqs: int = DEFAULT_MAX_SEQS, kv_tokens: int | None = None, block_size: int | None = None,
                   prefix_cache: str = "none", engines: int = 1, max_batch_tokens: int | None = None) -> CapacityBound:
    """The capacity bound of ``workload`` on ``engines`` engines (see the module docstring).

    Parameters
    ----------
    workload : Workload
        The requests; their arrivals are not used (the bound is on the rate at which they come).
    cost : IterationCost or str
        The iteration cost (``--cost`` text or an IterationCost).
    budget, max_seqs, kv_tokens, block_size, prefix_cache, engines :
        The engine's settings, as :func:`~prefix_sched.solvers.serving.engine.serve` takes them
        (``block_size`` defaults to 16, or 1 with a prefix cache; ``kv_tokens`` None: unbounded).
    max_batch_tokens : int, optional
        ``N_max``, the most tokens a batch can hold; default ``max(budget, max_seqs)`` (step 5).

    Returns
    -------
    CapacityBound

    Raises
    ------
    InputError
        A setting that is not a positive integer, an unknown prefix cache, a block size other than 1
        with a cache, a workload with no request.
    """
    if isinstance(cost, str):
        cost = parse_cost(cost)
    if not isinstance(cost, IterationCost):
        raise InputError(f"cost must be an IterationCost or --cost text, got {brief(cost)}")
    if prefix_cache not in PREFIX_CACHES:
        raise InputError(f"unknown prefix cache {brief(prefix_cache)}; valid: {', '.join(PREFIX_CACHES)}")
    if block_size is None:
        block_size = 1 if prefix_cache != "none" else DEFAULT_BLOCK
    for name, value in (("budget", budget), ("max_seqs", max_seqs), ("block_size", block_size), ("engines", engines)):
        if type(value) is not int or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {brief(value)}")
    if prefix_cache != "none" and block_size != 1:
        raise InputError(f"a prefix cache counts KV memory in tokens: the block size must be 1, got {block_size}")
    if kv_tokens is not None and (type(kv_tokens) is not int or kv_tokens < block_size):
        raise InputError(f"kv_tokens must be an integer >= the block size {block_size}, got {brief(kv_tokens)}")
    if max_batch_tokens is None:
        max_batch_tokens = max(budget, max_seqs)
    elif type(max_batch_tokens) is not int or max_batch_tokens < 1:
        raise InputError(f"max_batch_tokens must be an integer >= 1, got {brief(max_batch_tokens)}")
    if not isinstance(workload, Workload) or workload.n == 0:
        raise InputError("a capacity bound needs a workload with at least one request")
    return _bound(workload, cost, budget, max_seqs, kv_tokens, block_size, prefix_cache, engines, max_batch_tokens)


def _bound(workload, cost, budget, max_seqs, kv_tokens, block, cache, engines, nmax) -> CapacityBound:
    D = cost.ticks_per_us()
    tc = cost.in_ticks(D)
    cached = cache != "none"
    prompts = [r.prompt_tokens for r in workload.requests]
    outputs = [r.output_tokens for r in workload.requests]
    overlaps = shared_prefixes(workload) if cached else [0] * workload.n
    memory_limit = None if kv_tokens is None else kv_tokens // block * block
    tokens = outputs_total = reuse = 0
    price = 0  # ticks
    memory = 0
    for P, o, ov in zip(prompts, outputs, overlaps):
        L = min(P - 1, ov)
        reuse += L
        tokens += P - L + o - 1
        outputs_total += o
        price += tc.kp * (P - L) + tc.katt2 * (P * P - L * L) + _output_prices(tc, P, o, cached)
        if memory_limit is not None:
            memory += (o * max(P - ov, 0) + o * (o - 1) // 2) if cached else block * (
                _ceil_sum(P + o - 1, block) - _ceil_sum(P - 1, block))
    nstar, h_ticks = _best_batch(tc, nmax)
    overhead_tokens = h_ticks * tokens
    count_seqs = Fraction(outputs_total, max_seqs)
    count_memory = None if memory_limit is None else Fraction(memory, memory_limit)
    counts = {"tokens": (overhead_tokens / tc.k0) if tc.k0 else None, "max_seqs": count_seqs,
              "memory": count_memory}
    fixed = max(tc.k0 * count_seqs, tc.k0 * (count_memory or 0))
    binding = "tokens"
    if fixed > overhead_tokens:
        binding = "memory" if count_memory is not None and count_memory > count_seqs else "max_seqs"
    busy_ticks = max(fixed, overhead_tokens) + price
    busy_us = Fraction(busy_ticks) / D
    n = workload.n
    rate = None if busy_us == 0 else Fraction(engines * n * US_PER_S) / busy_us
    nstar_b, _ = _best_batch(tc, budget)
    tau_b = Fraction(tc.duration(nstar_b, 0), D)
    naive = sum(prompts) + sum(outputs) - n
    fluid = None if tau_b == 0 else Fraction(engines * nstar_b * US_PER_S * n) / (tau_b * naive)
    settings = {"cost": cost.as_dict(), "budget": budget, "max_seqs": max_seqs, "kv_tokens": kv_tokens,
                "block_size": block if kv_tokens is not None or cached else None, "prefix_cache": cache,
                "engines": engines, "max_batch_tokens": nmax,
                "reuse": ("at most min(|p|-1, max over other requests of the common prefix) per request"
                          if cached else "none (no prefix cache)")}
    return CapacityBound(
        rate_req_s=None if rate is None else normalize(rate), busy_us=normalize(busy_us),
        fluid_rate_req_s=None if fluid is None else normalize(fluid), requests=n, engines=engines,
        max_batch_tokens=nmax, nstar=nstar, nstar_tau_us=normalize(Fraction(tc.duration(nstar, 0), D)),
        overhead_us_per_token=normalize(Fraction(h_ticks) / D), tokens=tokens, outputs=outputs_total,
        memory_token_events=memory if memory_limit is not None else None, memory_tokens=memory_limit,
        token_cost_us=normalize(Fraction(price, D)), prompt_tokens=sum(prompts), reuse_tokens=reuse,
        batches={k: None if v is None else normalize(Fraction(v)) for k, v in counts.items()}, binding=binding,
        settings=settings)


def offered_rate(workload: Workload) -> Fraction:
    """The realised arrival rate ``(n - 1) / (a_n - a_1)`` in requests per second, exactly.

    >>> offered_rate(Workload.from_lengths([1, 1, 1], [1, 1, 1], [0, 250_000, 1_000_000]))
    Fraction(2, 1)
    """
    arrivals = [Fraction(r.arrival_us) for r in workload.requests]
    if len(arrivals) < 2 or max(arrivals) == min(arrivals):
        raise InputError("a rate needs at least two requests arriving at different times")
    return Fraction(len(arrivals) - 1) * US_PER_S / (max(arrivals) - min(arrivals))


def optimal_batch(cost: IterationCost | str, max_tokens: int) -> tuple[int, Fraction]:
    """``(n*, tau(n*))``: ``n* = argmax_{1 <= n <= max_tokens} n / tau(n)`` (ties: the largest ``n``),
    ``tau(n)`` the cost of ``n`` prompt tokens without context, in microseconds.

    >>> optimal_batch("seed-tile128", 520), optimal_batch("seed", 520)[0]
    ((512, Fraction(222944, 5)), 520)
    """
    if isinstance(cost, str):
        cost = parse_cost(cost)
    if type(max_tokens) is not int or max_tokens < 1:
        raise InputError(f"max_tokens must be an integer >= 1, got {brief(max_tokens)}")
    D = cost.ticks_per_us()
    tc = cost.in_ticks(D)
    nstar, _ = _best_batch(tc, max_tokens)
    return nstar, normalize(Fraction(tc.duration(nstar, 0), D))


def shared_prefixes(workload: Workload) -> list[int]:
    """``max_{q != r} ov(p_r, p_q)`` for every request ``r`` (workload order): the longest prefix of its
    prompt that another request's prompt shares (0 for a request given only as a length).

    >>> from prefix_sched.theory.serving.requests import Workload
    >>> w = Workload.from_lengths([10, 10, 12, 4], [1] * 4, [0] * 4, prompts=[
    ...     (("s", 4), ("a", 6)), (("s", 4), ("b", 6)), (("s", 4), ("a", 6), ("c", 2)), None])
    >>> shared_prefixes(w)
    [10, 4, 10, 0]
    """
    root: dict = {}  # segment -> [requests whose prompt passes here, children]
    for r in workload.requests:
        node = root
        for segment in r.prompt or ():
            child = node.get(segment)
            if child is None:
                child = node[segment] = [0, {}]
            child[0] += 1
            node = child[1]
    out = []
    for r in workload.requests:
        total = 0
        node = root
        for segment in r.prompt or ():
            child = node[segment]
            if child[0] < 2:
                break
            total += segment[1]
            node = child[1]
        out.append(total)
    return out


# --- helpers (integer ticks) -----------------------------------------------------------------------

def _best_batch(tc: TickCost, nmax: int) -> tuple[int, Fraction]:
    """``(n*, h*)`` in ticks: ``h* = min_N phi(N) / N``, ``phi(N) = c0 + cp pad(N)``, ``n*`` its
    argmin (ties: the largest), which is ``argmax N / tau(N)`` since ``tau(N) / N = phi(N) / N + cp``."""
    best, best_phi = 1, tc.duration(1, 0) - tc.kp
    for n in range(2, nmax + 1):
        phi = tc.duration(n, 0) - tc.kp * n
        if phi * best <= best_phi * n:
            best, best_phi = n, phi
    return best, Fraction(best_phi, best)


def _output_prices(tc: TickCost, P: int, o: int, cached: bool) -> int:
    """``sum_{g=1}^{o-1} min(D(g), R(g))`` in ticks (step 2 (b)): ``D(g) = kd + kkv (P + g)``;
    ``R(g) = kp g + katt2 g (2P + g)`` under a cache, ``kp (P + g) + katt2 (P + g)^2`` without."""
    m = o - 1
    if m <= 0:
        return 0
    decodes = m * (tc.kd + tc.kkv * P) + tc.kkv * m * (m + 1) // 2
    # f(g) = R(g) - D(g) = alpha + beta g + gamma g^2
    gamma = tc.katt2
    beta = tc.kp + 2 * tc.katt2 * P - tc.kkv
    alpha = -tc.kd - tc.kkv * P
    if not cached:
        alpha += tc.kp * P + tc.katt2 * P * P
    low, high = _negative_interval(alpha, beta, gamma, m)
    if low is None:
        return decodes
    return decodes + _quadratic_sum(alpha, beta, gamma, low, high)


def _negative_interval(alpha: int, beta: int, gamma: int, m: int) -> tuple[int | None, int | None]:
    """The integers ``g`` in ``[1, m]`` with ``alpha + beta g + gamma g^2 < 0`` (``gamma >= 0``: a convex
    function, so they form one interval ``[low, high]``); ``(None, None)`` when there are none."""
    def f(g: int) -> int:
        return alpha + beta * g + gamma * g * g

    if gamma == 0:
        g_min = 1 if beta >= 0 else m
    else:
        g_min = min(max(math.floor(Fraction(-beta, 2 * gamma)), 1), m)
        if g_min < m and f(g_min + 1) < f(g_min):
            g_min += 1
    if f(g_min) >= 0:
        return None, None
    lo, hi = 1, g_min  # smallest g in [1, g_min] with f(g) < 0; f is non-increasing there
    while lo < hi:
        mid = (lo + hi) // 2
        if f(mid) < 0:
            hi = mid
        else:
            lo = mid + 1
    low = lo
    lo, hi = g_min, m  # largest g in [g_min, m] with f(g) < 0; f is non-decreasing there
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid - 1
    return low, lo


def _quadratic_sum(alpha: int, beta: int, gamma: int, a: int, b: int) -> int:
    """``sum_{g=a}^{b} alpha + beta g + gamma g^2``, exactly."""
    def s1(n: int) -> int:
        return n * (n + 1) // 2

    def s2(n: int) -> int:
        return n * (n + 1) * (2 * n + 1) // 6

    return alpha * (b - a + 1) + beta * (s1(b) - s1(a - 1)) + gamma * (s2(b) - s2(a - 1))


def _ceil_sum(n: int, b: int) -> int:
    """``sum_{j=1}^{n} ceil(j / b)`` (0 for ``n <= 0``): ``b q (q + 1) / 2 + (n mod b)(q + 1)``, ``q = n // b``."""
    if n <= 0:
        return 0
    q, rem = divmod(n, b)
    return b * q * (q + 1) // 2 + rem * (q + 1)

