"""The replay engine: prefill prompts on a real model, reusing the previous prompt's KV cache.

Definition 2's cache holds only the previously processed prompt. :class:`PrefixCacheEngine` keeps
exactly that: one ``transformers.DynamicCache`` with the last prompt's keys and values. To process
a prompt that shares ``ov`` leading tokens with the cached one, it crops the cache to ``ov`` tokens
and prefills the remaining ``|p| - ov``, producing the logits of the next token (the first output
token, so a prefill ends where a TTFT ends). When the prompt is a prefix of (or equal to) the
cached one, Definition 2 charges nothing, but a real server still needs one forward step to produce
the first token's logits: the engine recomputes the last token and records that it did
(``computed_reused = |p| - 1``), so that gap shows up in the measurements instead of being hidden.

Timing: CUDA events around the forward call, then ``torch.cuda.synchronize``, on a GPU;
``time.perf_counter`` on CPU. Each prefill is run ``warmup + reps`` times from the same cache state
(crop back to ``ov`` before each run) and the ``reps`` timed runs are kept. Cropping is not timed.

:func:`measure_matmul_peak` times a square matmul to give the machine's attainable FLOP rate.
This module leaves out which prompts are replayed (:mod:`~prefix_sched.gpu_validation.validate`).

Examples
--------
>>> from prefix_sched.gpu_validation.models import SHAPES, build_model
>>> engine = PrefixCacheEngine(build_model(SHAPES["tiny"], "cpu"), "cpu")
>>> run = engine.prefill([5, 6, 7, 8], reused=0, reps=2)
>>> run = engine.prefill([5, 6, 9], reused=2, reps=2)
>>> run.new_tokens, run.computed_reused, len(run.seconds), engine.cached_length
(1, 2, 2, 3)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prefix_sched.errors import InputError
from prefix_sched.gpu_validation.models import check_device


@dataclass(frozen=True)
class Prefill:
    """One timed prefill.

    Attributes
    ----------
    length : int
        ``|p|``.
    reused : int
        ``ov`` as Definition 2 charges it.
    computed_reused : int
        Cached tokens actually kept (``min(ov, |p| - 1)``: one token is always computed).
    seconds : tuple of float
        The timed repetitions.
    """

    length: int
    reused: int
    computed_reused: int
    seconds: tuple[float, ...]

    @property
    def new_tokens(self) -> int:
        """Tokens actually prefilled."""
        return self.length - self.computed_reused

    @property
    def median_seconds(self) -> float:
        """The median of the timed repetitions."""
        ordered = sorted(self.seconds)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timer(device: str) -> Callable[[Callable[[], object]], tuple[float, object]]:
    """A function ``measure(fn) -> (seconds, fn())`` for ``device``.

    On CUDA it records events around ``fn`` and synchronizes before reading them; on CPU it reads
    ``time.perf_counter`` around ``fn``.
    """
    check_device(device)
    import torch

    if device == "cuda":
        def measure_cuda(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            result = fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1000.0, result
        return measure_cuda

    def measure_cpu(fn):
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result
    return measure_cpu


class PrefixCacheEngine:
    """A model plus the KV cache of the previously processed prompt (Definition 2's cache).

    Parameters
    ----------
    model : transformers causal LM
        From :func:`~prefix_sched.gpu_validation.models.build_model`.
    device : {"cpu", "cuda"}
    """

    def __init__(self, model, device: str) -> None:
        self.model = model
        self.device = device
        self._measure = timer(device)
        # transformers renamed the cache argument (``past_key_values`` until 5.x, then ``cache``).
        accepted = inspect.signature(model.forward).parameters
        self._cache_keyword = "cache" if "cache" in accepted else "past_key_values"
        self.reset()

    def reset(self) -> None:
        """Empty the cache (the state before the first query of an order)."""
        from transformers import DynamicCache

        self._cache = DynamicCache(config=self.model.config)
        self._cached_ids: list[int] = []

    @property
    def cached_length(self) -> int:
        """Tokens held in the cache."""
        return len(self._cached_ids)

    def prefill(self, ids: Sequence[int], reused: int, *, warmup: int = 0, reps: int = 1,
                keep_logits: bool = False):
        """Prefill ``ids`` reusing its first ``reused`` tokens from the cache; return a :class:`Prefill`.

        With ``keep_logits`` the return value is ``(Prefill, logits)``, the logits of every
        prefilled position of the last run (for correctness checks).

        Raises
        ------
        InputError
            If ``ids`` is empty, ``reused`` is out of range, or ``reps < 1``.
        AssertionError
            If the cache does not hold ``ids[:reused]`` (the caller's overlap is wrong).
        """
        import torch

        ids = list(ids)
        if not ids:
            raise InputError("cannot prefill an empty prompt")
        if not 0 <= reused <= min(len(ids), self.cached_length):
            raise InputError(f"reused must be in 0..{min(len(ids), self.cached_length)}, got {reused}")
        if reps < 1 or warmup < 0:
            raise InputError(f"need reps >= 1 and warmup >= 0, got reps={reps}, warmup={warmup}")
        kept = min(reused, len(ids) - 1)
        if self._cached_ids[:kept] != ids[:kept]:
            raise AssertionError(f"the cache does not hold the first {kept} tokens of the prompt")
        suffix = torch.tensor([ids[kept:]], dtype=torch.long, device=self.device)
        keep = 0 if keep_logits else 1
        times = []
        logits = None
        with torch.inference_mode():
            for run in range(warmup + reps):
                self._crop(kept)
                seconds, output = self._measure(lambda: self.model(
                    input_ids=suffix, **{self._cache_keyword: self._cache}, use_cache=True, logits_to_keep=keep))
                if run >= warmup:
                    times.append(seconds)
                logits = output.logits
        self._cached_ids = ids
        result = Prefill(len(ids), reused, kept, tuple(times))
        return (result, logits) if keep_logits else result

    def _crop(self, length: int) -> None:
        """Keep the first ``length`` cached tokens."""
        extra = self._cache.get_seq_length() - length
        if extra > 0:
            # A negative argument removes that many tokens, in both the old and new crop APIs.
            self._cache.crop(-extra)
        elif extra < 0:
            raise AssertionError(f"cache holds {self._cache.get_seq_length()} tokens, need {length}")


@dataclass(frozen=True)
class MatmulPeak:
    """The FLOP rate of an ``n x n`` by ``n x n`` matmul, measured on this machine."""

    n: int
    dtype: str
    seconds: tuple[float, ...]

    @property
    def flops_per_second(self) -> float:
        """``2 n^3`` over the median time."""
        ordered = sorted(self.seconds)
        return 2 * self.n ** 3 / ordered[len(ordered) // 2]

    def as_dict(self) -> dict[str, object]:
        """For result files."""
        return {"n": self.n, "dtype": self.dtype, "seconds": list(self.seconds),
                "flops_per_second": self.flops_per_second}


def measure_matmul_peak(device: str, n: int, *, warmup: int = 3, reps: int = 10, seed: int = 0) -> MatmulPeak:
    """Time ``A @ B`` for random ``n x n`` matrices in the device's dtype (bf16 CUDA, fp32 CPU).

    On an H100 the customary size is ``n = 8192``; on CPU a few hundred is enough.

    >>> measure_matmul_peak("cpu", 64, warmup=0, reps=1).flops_per_second > 0
    True
    """
    import torch

    from prefix_sched.gpu_validation.models import device_dtype

    check_device(device)
    if n < 1:
        raise InputError(f"matmul size n must be >= 1, got {n}")
    dtype = device_dtype(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    a = torch.randn(n, n, generator=generator, device=device, dtype=dtype)
    b = torch.randn(n, n, generator=generator, device=device, dtype=dtype)
    measure = timer(device)
    times = []
    with torch.inference_mode():
        for run in range(warmup + reps):
            seconds, _ = measure(lambda: a @ b)
            if run >= warmup:
                times.append(seconds)
    return MatmulPeak(n, str(dtype).removeprefix("torch."), tuple(times))
