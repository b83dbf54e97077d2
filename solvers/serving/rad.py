"""``rad`` and ``rad-fixed:F``: RAD, the second seed's throughput-optimal scheduler, as *reconstructed*.

**A reconstruction, not the authors' rule.** The seed (Bari, Hegde, de Veciana, arXiv 2508.01002) is
an abstract only; RAD's rule and its theorem could not be read. This module implements the team's
reading in ../shared/MODEL_SERVING.md ("rad (reading)"): every iteration runs a tile-aligned batch
of ``n*`` tokens when that much work is queued (work-conserving otherwise), the split between
decode and prefill follows the backlog (dynamic), never a fixed share; across engines, routing by
least outstanding work (the ``least-work`` router, RAD's default). Every output naming ``rad``
carries that note (the registry row's ``note``: :data:`~prefix_sched.solvers.serving.registry.RAD_NOTE`).

The batch size. ``n* = argmax_{1 <= n <= B} n / tau(n)`` with ``tau(n)`` the duration of a batch of
``n`` prefill tokens and no context (``c0 + cp T ceil(n / T)`` with a tile ``T``, ``c0 + cp n``
without), ``B`` the token budget; ties go to the largest ``n``. The context terms (``ckv``,
``catt``) depend on which requests run, not on ``n``, and are left out of the argmax (reading).
Without a tile and with ``c0 > 0``, ``n / tau(n)`` grows with ``n``: ``n* = B``. With a tile,
``tau`` is flat inside a tile, so ``n*`` is a multiple of ``T`` unless ``c0`` outweighs a tile
(``seed,tile=512`` with budget 520: ``n* = 512``, since ``512 / tau(512) > 520 / tau(1024)``).

Each iteration (RAD's dynamic split; reading):

1. The *backlog*: ``Bd`` = the output tokens the running decodes have still to emit, ``Bp`` = the
   prompt tokens still to prefill of the running prefills and of every waiting request (its
   ``|p'|``). The decodes' share is ``d0 = min(#decodes, ceil(n* Bd / (Bd + Bp)))`` tokens (one
   per decode, so a decode is never starved while it has a backlog).
2. The first ``d0`` decodes in *service order* (least recently served first: a decode that was left
   out goes before those that ran) take one token each; a decode finding no free KV block preempts
   the latest-arriving running request not taken in this iteration, repeatedly, and with none left
   preempts itself (Sarathi-Serve's and vLLM's victim).
3. Prefill fills ``n* - d``: running prefills in arrival order, then new prefills in the waiting
   order (``--order``, FCFS by default) while memory holds the whole prompt and fewer than
   ``max_num_seqs`` run (the first that cannot be admitted stops admission), each chunk
   ``min(remaining, n* - used)``.
4. Work-conserving: if prefill left room, more decodes (next in service order, while a block is
   free for them) fill it up to ``n*``.

So a batch holds exactly ``n*`` tokens when the engine has that much runnable work, and all of it
otherwise. After the batch, the decodes that ran go to the back of the service order (in the order
they ran), then the requests whose prefill completed (in batch order).

``rad-fixed:F`` (the variant for the claim "a fixed decode share is unstable inside the region"):
decodes get at most ``floor(F n*)`` tokens and prefill at most ``n* - floor(F n*)``, with no spill
either way (step 1's share is fixed and step 4 is left out). A share that leaves either kind no
token (``floor(F n*) = 0`` or ``n*``) is refused: nothing could ever finish.

Examples
--------
Cost ``c0 = 8``, ``cp = cd = 1`` us, tile 4, budget 9: ``tau`` is 12 for 1-4 tokens, 16 for 5-8,
20 for 9, so ``n* = 8`` (8/16 beats 4/12 and 9/20). A, B, C, D (prompt 1, output 3) at 0; E (prompt
20, output 1) at 1.

- Iteration 1 [0, 12]: no decodes; A-D's prompts (4 tokens < n*: all). First tokens at 12.
- Iteration 2 [12, 28]: Bd = 8 (2 left each), Bp = 20 (E): d0 = ceil(8 * 8/28) = 3: A, B, C decode;
  E gets 5 tokens: 8 in all.
- Iteration 3 [28, 44]: order D, A, B, C; Bd = 5, Bp = 15: d0 = ceil(8 * 5/20) = 2: D and A (A done);
  E 6 tokens.
- Iteration 4 [44, 60]: order B, C, D; Bd = 3, Bp = 9: d0 = 2: B and C (both done); E 6 tokens.
- Iteration 5 [60, 72]: D (Bd = 1, Bp = 3: d0 = 1) and E's last 3 tokens: D done, E's token at 72.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.solvers.serving.engine import serve
>>> w = Workload.from_lengths([1, 1, 1, 1, 20], [3, 3, 3, 3, 1], [0, 0, 0, 0, 1])
>>> run = serve(w, "rad", budget=9, cost="c0=8,cp=1,cd=1,tile=4")
>>> [run.token_times_us(i) for i in range(5)]
[[12, 28, 44], [12, 28, 60], [12, 28, 60], [12, 44, 72], [72]]

Sarathi with the same budget runs 9-token batches (20 us, the padded tile) and finishes E at 84:

>>> serve(w, "sarathi", budget=9, cost="c0=8,cp=1,cd=1,tile=4").token_times_us(4)
[84]

``rad-fixed:1/4``: decodes get at most 2 tokens, prefill at most 6, and neither lends to the other.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from prefix_sched.solvers.serving.engine import DECODE, EMPTY, PREFILL, Engine
from prefix_sched.theory.numbers import to_json
from prefix_sched.theory.serving.costs import TickCost

from prefix_sched.errors import InputError


def optimal_batch(tc: TickCost, budget: int) -> int:
    """``n* = argmax_{1 <= n <= budget} n / tau(n)``, ``tau(n)`` a batch of ``n`` prefill tokens with no
    context (ties: the largest ``n``; a zero duration counts as the best).

    >>> from prefix_sched.theory.serving.costs import parse_cost
    >>> optimal_batch(parse_cost("seed,tile=512").in_ticks(5), 520), optimal_batch(parse_cost("seed").in_ticks(5), 520)
    (512, 520)
    >>> optimal_batch(parse_cost("c0=8,cp=1,cd=1,tile=4").in_ticks(1), 9)
    8
    """
    best, best_tau = 1, tc.duration(1, 0)
    for n in range(2, budget + 1):
        tau = tc.duration(n, 0)
        if n * best_tau >= best * tau:  # n / tau >= best / best_tau, exactly (tau = 0: always)
            best, best_tau = n, tau
    return best


class Rad:
    """RAD (reconstruction); ``share`` fixes the decode share (``rad-fixed``), None for RAD's dynamic split."""

    def __init__(self, engine: Engine, share: Fraction | None = None) -> None:
        self.e = engine
        self.share = share
        self.nstar = optimal_batch(engine.tc, engine.budget)
        self.cap = None if share is None else int(share * self.nstar)  # floor(F n*)
        if self.cap is not None and not 1 <= self.cap < self.nstar:
            raise InputError(f"rad-fixed:{to_json(share)}: with n* = {self.nstar} tokens a batch the decode share "
                             f"floor(F n*) = {self.cap} leaves {'decodes' if self.cap < 1 else 'prefill'} no token "
                             f"(nothing could ever finish); F must lie in [{to_json(Fraction(1, self.nstar))}, "
                             f"{to_json(Fraction(self.nstar - 1, self.nstar))}] here")
        self.dec: list[int] = []  # running decodes, service order
        self.pre: list[int] = []  # running prefills, arrival order
        self._taken: list[int] = []

    def may_stretch(self, n: int, waiting: bool) -> bool:
        """Unchanged decode-only batches: nothing waits, no prefill runs, and every decode fits its share."""
        return not waiting and not self.pre and n <= (self.nstar if self.cap is None else self.cap)

    def form(self, now: int):
        e = self.e
        nstar = self.nstar
        dec = self.dec
        if self.cap is None:
            bd = int((e.out[dec] - e.gen[dec]).sum()) if dec else 0
            bp = e.work - e.out_left
            d0 = min(len(dec), -(-nstar * bd // (bd + bp))) if bd else 0
        else:
            d0 = min(len(dec), self.cap)
        taken = self._take_decodes(d0)
        used = len(taken)
        limit = nstar if self.cap is None else nstar - self.cap + used
        chunks: list[tuple[int, int]] = []
        for r in self.pre:
            if used >= limit:
                break
            x = min(e.remaining(r), limit - used)
            chunks.append((r, x))
            used += x
        for r, x in e.admit_new(now, limit - used):
            chunks.append((r, x))
            self.pre.append(r)
            used += x
        if self.cap is None and used < nstar:  # work-conserving: decodes fill what prefill left
            taken_set = set(taken)
            for r in self.dec:
                if used >= nstar:
                    break
                if r in taken_set:
                    continue
                if not e.reserve_one(r):
                    break
                taken.append(r)
                used += 1
        self._taken = taken
        return (np.array(taken, dtype=np.int64) if taken else EMPTY), chunks

    def _take_decodes(self, d0: int) -> list[int]:
        """The first ``d0`` decodes of the service order, each with its KV slot, preempting when short."""
        e = self.e
        want = self.dec[:d0]
        if not want:
            return []
        if e.reserve(np.array(want, dtype=np.int64)):
            return list(want)
        taken: list[int] = []
        for r in want:
            if e.phase[r] != DECODE:  # preempted as a victim in this pass
                continue
            while not e.reserve_one(r):
                victims = [v for v in (*self.dec, *self.pre) if v not in taken and v != r and e.phase[v] != 0]
                if victims:
                    self._preempt(max(victims))
                else:
                    self._preempt(r)
                    break
            else:
                taken.append(r)
        return taken

    def _preempt(self, r: int) -> None:
        self.e.preempt(r)
        if r in self.dec:
            self.dec.remove(r)
        else:
            self.pre.remove(r)

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        e = self.e
        taken = self._taken
        if taken:
            ran = set(taken)
            self.dec = [r for r in self.dec if r not in ran] + [r for r in taken if e.phase[r] == DECODE]
        elif len(finished):
            self.dec = [r for r in self.dec if e.phase[r] == DECODE]
        if completed or at_prefill:
            self.pre = [r for r in self.pre if e.phase[r] == PREFILL]
            self.dec.extend(completed)
        self._taken = []
