"""``sglang`` and ``sglang-mixed``: SGLang's scheduler, prefill batch first.

Rule, each iteration with ``B = chunked_prefill_size`` (github sgl-project/sglang,
``python/sglang/srt/managers/scheduler.py``: ``get_next_batch_to_run``, ``get_new_batch_prefill``;
``schedule_policy.py``: ``PrefillAdder``; ``schedule_batch.py``: ``retract_decode``):

1. A prefill batch when one can be formed: first the request whose prefill was cut in the last
   prefill batch (``chunked_req``, at most one) gets ``min(remaining, budget)``; then new prefills in
   the waiting order (FCFS, or ``--order``: SGLang's ``--schedule-policy``) while budget is left,
   fewer than ``max_running_requests`` run and the whole prompt fits in memory (the first that does
   not stops): each gets ``min(|p'|, budget left)``; one that is cut becomes the chunked request and
   ends the batch.
2. Otherwise a decode batch of every running decode (no token budget).
3. ``sglang-mixed`` (``--enable-mixed-chunk``): every running decode joins the batch first and the
   prefill part gets ``B`` minus the number of decodes (``rem_chunk_tokens -= running_bs``).

Memory for decodes: when their new blocks do not fit, decodes are retracted (preempted by recompute)
one at a time until they do, the victim being the decode with the fewest generated tokens, ties the
longest original prompt, then the latest arrival (``sorted_indices.sort(key=(len(output_ids),
-len(origin_input_ids)), reverse=True); pop()``). Where this reading differs from SGLang: SGLang
appends retracted requests to its waiting queue, here they go to the front as in every scheduler of
the engine; SGLang reserves memory for the estimated outputs of running requests when admitting
(``new_token_ratio``), here admission needs the whole prompt only.

Examples
--------
Budget 4, cost ``10 + 1`` per token (us); A (6 prompt, 3 output) at 0, B (2 prompt, 2 output) at 0.
``sglang``: iteration 1 [0, 14]: A's first 4 (A is chunked). Iteration 2 [14, 28]: A's last 2, then
B's 2: first tokens at 28. Iterations 3 [28, 40] and 4 [40, 51]: decodes.

>>> from prefix_sched.theory.serving.requests import Workload
>>> from prefix_sched.theory.serving.costs import parse_cost
>>> from prefix_sched.solvers.serving.engine import serve
>>> w = Workload.from_lengths([6, 2], [3, 2], [0, 0])
>>> [serve(w, "sglang", budget=4, cost=parse_cost("c0=10,cp=1,cd=1")).token_times_us(i) for i in range(2)]
[[28, 40, 51], [28, 40]]

A third request C (3 prompt, 1 output) arriving at 20 shows the difference: ``sglang`` runs C's
prefill alone at 28 (A and B wait: [28, 41]), ``sglang-mixed`` adds it to the decodes (budget 4 - 2
decodes = 2 tokens of C: [28, 42], then C's last token with A's decode: [42, 54]).

>>> w = Workload.from_lengths([6, 2, 3], [3, 2, 1], [0, 0, 20])
>>> [serve(w, "sglang", budget=4, cost=parse_cost("c0=10,cp=1,cd=1")).token_times_us(i) for i in range(3)]
[[28, 53, 64], [28, 53], [41]]
>>> [serve(w, "sglang-mixed", budget=4, cost=parse_cost("c0=10,cp=1,cd=1")).token_times_us(i) for i in range(3)]
[[28, 42, 54], [28, 42], [54]]
"""

from __future__ import annotations

import numpy as np

from prefix_sched.solvers.serving.engine import DECODE, EMPTY, PREFILL, Engine


class SGLang:
    """SGLang; ``mixed`` is ``--enable-mixed-chunk``; the order of new prefills is the engine's queue."""

    def __init__(self, engine: Engine, mixed: bool = False) -> None:
        self.e = engine
        self.mixed = mixed
        self.dec = EMPTY  # running decodes, arrival order
        self.chunked: int | None = None

    def may_stretch(self, n: int, waiting: bool) -> bool:
        return True  # a decode batch holds every running decode, with no budget

    def form(self, now: int):
        e = self.e
        dec = EMPTY
        if self.mixed and len(self.dec):
            dec = self._decodes()
        budget = e.budget - len(dec)
        chunks: list[tuple[int, int]] = []
        if self.chunked is not None and budget > 0:
            x = min(e.remaining(self.chunked), budget)
            chunks.append((self.chunked, x))
            budget -= x
        queue = e.queue
        if budget > 0 and len(queue):
            for r in queue.ordered(now):
                if e.n_running >= e.max_seqs or not e.can_allocate(r):
                    break
                queue.take(r)
                length = e.admit(r, now)
                x = min(length, budget)
                chunks.append((r, x))
                budget -= x
                if x < length:
                    self.chunked = r
                    break
                if budget <= 0:
                    break
        if not self.mixed:
            if chunks:
                return EMPTY, chunks
            dec = self._decodes() if len(self.dec) else EMPTY
        return dec, chunks

    def _decodes(self) -> np.ndarray:
        """Every running decode, retracting the victims of ``retract_decode`` while memory is short."""
        e = self.e
        dec = self.dec
        if e.reserve(dec):
            return dec
        victims = sorted(dec.tolist(), key=lambda r: (int(e.gen[r]), -int(e.prompt[r]), -r))
        keep = set(dec.tolist())
        for v in victims:
            e.preempt(v)
            keep.discard(v)
            dec = np.array(sorted(keep), dtype=np.int64)
            if e.reserve(dec):
                break
        self.dec = dec
        return dec

    def after_batch(self, end, duration, count, finished, completed, at_prefill) -> None:
        e = self.e
        if len(finished):
            self.dec = self.dec[e.phase[self.dec] == DECODE]
        if completed:
            self.dec = np.sort(np.concatenate([self.dec, np.array(completed, dtype=np.int64)]))
        if self.chunked is not None and e.phase[self.chunked] != PREFILL:
            self.chunked = None
