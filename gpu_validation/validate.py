"""The validation experiment: calibrate, fit Definition 2, replay FCFS / LPM / k-LPM, compare.

1. Calibration: prompts of each length in ``lengths`` with each fraction of ``reuse`` already cached
   (visited in a seeded random order, so drift in the machine's speed does not line up with size)
   are prefilled and timed.
2. Fit: :func:`~prefix_sched.gpu_validation.fit.fit_cost_model` with and without a fixed overhead.
   When a form's free fit puts no cost on new tokens (it happens on short, overhead-bound
   prompts), that form is refitted with alpha fixed at the architecture's FLOP-count value, and the
   result says so (``alpha_source: "fixed"``) rather than failing or hiding it.
3. Replay: each policy orders the stream in the model (with the fitted ``alpha``); the engine
   prefills the queries in that order reusing the previous prompt's cache (``ov`` tokens, as the
   evaluator counts them) and times every prefill.
4. Compare (:mod:`~prefix_sched.gpu_validation.agreement`): measured against predicted service and
   completion times and TTFTs, and the policies' rankings by max and p99 TTFT.

The result is one JSON-ready dict holding the settings, the environment (device name, dtype,
library versions), the model shape and every timing. Writing it and plotting it is
:mod:`~prefix_sched.gpu_validation.report`'s job.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from prefix_sched.errors import InputError
from prefix_sched.gpu_validation.agreement import ScheduleTimes, pairwise_agreement
from prefix_sched.gpu_validation.fit import CostFit, DegenerateFitError, fit_cost_model, r_squared
from prefix_sched.gpu_validation.models import (
    build_model, check_device, device_dtype, flop_alpha, get_shape, prefill_flops,
)
from prefix_sched.gpu_validation.replay import Prefill, PrefixCacheEngine, measure_matmul_peak
from prefix_sched.gpu_validation.tokens import prompt_token_ids, segment_token_ids
from prefix_sched.solvers.online.policies import PolicySpec
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.numbers import to_json
from prefix_sched.theory.stream import Stream

RESULT_FORMAT = "prefix-sched.validation"
RESULT_VERSION = 1
ALPHA_DENOMINATOR = 10 ** 12


@dataclass(frozen=True)
class Settings:
    """Everything that fixes a validation run (recorded in the result)."""

    device: str
    model: str
    lengths: tuple[int, ...]
    reuse: tuple[float, ...]
    warmup: int
    reps: int
    matmul_n: int
    view: str = "online"
    seed: int = 0
    threads: int | None = None

    def check(self) -> None:
        """Raise InputError naming the first bad value."""
        check_device(self.device)
        shape = get_shape(self.model)
        if not self.lengths or any(length < 2 for length in self.lengths):
            raise InputError(f"calibration lengths must be integers >= 2, got {list(self.lengths)}")
        if max(self.lengths) > shape.max_positions:
            raise InputError(f"calibration length {max(self.lengths)} exceeds model {self.model!r}'s "
                             f"{shape.max_positions} positions")
        if not self.reuse or any(not 0 <= f < 1 for f in self.reuse):
            raise InputError(f"reuse fractions must lie in [0, 1), got {list(self.reuse)}")
        if len(self.lengths) * len(self.reuse) < 4:
            raise InputError("the calibration grid needs at least 4 (length, reuse) points")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}")
        if self.reps < 1 or self.warmup < 0:
            raise InputError(f"need reps >= 1 and warmup >= 0, got reps={self.reps}, warmup={self.warmup}")


def environment(device: str) -> dict[str, Any]:
    """Device name, dtype and library versions."""
    import torch
    import transformers

    info = {
        "device": device, "dtype": str(device_dtype(device)).removeprefix("torch."),
        "torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": _cpu_name(), "torch_threads": torch.get_num_threads(),
    }
    if device == "cuda":
        info["device_name"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    else:
        info["device_name"] = info["cpu"]
    return info


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else the machine type."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def calibration_points(settings: Settings) -> list[tuple[int, int]]:
    """The ``(length, reused)`` grid in a seeded random order; ``reused = floor(f * length)``."""
    grid = [(length, int(fraction * length)) for length in settings.lengths for fraction in settings.reuse]
    rng = np.random.default_rng(settings.seed)
    return [grid[i] for i in rng.permutation(len(grid)).tolist()]


def calibrate(engine: PrefixCacheEngine, points: Sequence[tuple[int, int]], vocab_size: int,
              warmup: int, reps: int, progress: Callable[[str], None] | None = None) -> list[Prefill]:
    """Time one prefill per ``(length, reused)`` point, the prefix cached beforehand (untimed)."""
    out = []
    for number, (length, reused) in enumerate(points):
        ids = segment_token_ids(("calibration", number), length, vocab_size).tolist()
        engine.reset()
        if reused:
            engine.prefill(ids[:reused], 0)
        out.append(engine.prefill(ids, reused, warmup=warmup, reps=reps))
        if progress:
            progress(f"calibration {number + 1}/{len(points)}: {length} tokens, {reused} cached")
    return out


def replay(engine: PrefixCacheEngine, stream: Stream, order: Sequence[int], reused: Sequence[int],
           vocab_size: int, warmup: int, reps: int) -> list[Prefill]:
    """Prefill the stream's prompts in ``order`` from an empty cache, reusing ``reused[i]`` tokens."""
    engine.reset()
    out = []
    for index, ov in zip(order, reused):
        ids = prompt_token_ids(stream.queries[index].prompt, vocab_size)
        out.append(engine.prefill(ids, ov, warmup=warmup, reps=reps))
    return out


def run_validation(stream: Stream, settings: Settings, policies: Sequence[PolicySpec],
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole experiment; return the result dict (see the module docstring)."""
    settings.check()
    shape = get_shape(settings.model)
    longest = max(stream.lengths)
    if longest > shape.max_positions:
        raise InputError(f"the stream's longest prompt has {longest} tokens; model {settings.model!r} "
                         f"takes at most {shape.max_positions}")
    if not policies:
        raise InputError("no policy to replay")
    say = progress or (lambda message: None)
    if settings.threads is not None:
        import torch

        torch.set_num_threads(settings.threads)
    model = build_model(shape, settings.device, settings.seed)
    engine = PrefixCacheEngine(model, settings.device)
    say("warm-up")
    for length in sorted(set(settings.lengths))[:3]:
        engine.reset()
        engine.prefill(segment_token_ids("warm-up", length, shape.vocab_size).tolist(), 0, warmup=1, reps=1)
    say("matmul peak")
    peak = measure_matmul_peak(settings.device, settings.matmul_n, seed=settings.seed)

    points = calibration_points(settings)
    prefills = calibrate(engine, points, shape.vocab_size, settings.warmup, settings.reps, say)
    lengths = [p.length for p in prefills]
    reused = [p.reused for p in prefills]
    medians = [p.median_seconds for p in prefills]
    definition2, corrected = (fit_or_fix_alpha(lengths, reused, medians, flop_alpha(shape), overhead=form)
                              for form in (False, True))
    alpha = Fraction(definition2.alpha).limit_denominator(ALPHA_DENOMINATOR)

    schedules = []
    for spec in policies:
        say(f"replay {spec.label}")
        run = simulate(stream, spec, alpha=alpha, view=settings.view, seed=settings.seed)
        evaluation = run.evaluation
        steps = replay(engine, stream, run.order, evaluation.reused, shape.vocab_size,
                       settings.warmup, settings.reps)
        schedules.append(_schedule_result(stream, run, steps, definition2, corrected))

    flops = [prefill_flops(shape, p.length, p.computed_reused) for p in prefills]
    return {
        "format": RESULT_FORMAT, "version": RESULT_VERSION,
        "settings": {**asdict(settings), "policies": [spec.as_dict() for spec in policies]},
        "environment": environment(settings.device),
        "model": shape.as_dict(),
        "stream": {"n": stream.n, "total_tokens": stream.total_tokens(), "meta": dict(stream.meta)},
        "matmul_peak": peak.as_dict(),
        "calibration": [_prefill_record(p, f) for p, f in zip(prefills, flops)],
        "fits": {"definition2": definition2.as_dict(), "overhead": corrected.as_dict(),
                 "alpha_exact_used": to_json(alpha), "alpha_from_flop_count": flop_alpha(shape)},
        "flop_rate": _flop_rate(prefills, flops, peak.flops_per_second),
        "schedules": schedules,
        "rankings": _rankings(schedules),
    }


def fit_or_fix_alpha(lengths: Sequence[int], reused: Sequence[int], seconds: Sequence[float],
                     fallback_alpha: float, *, overhead: bool) -> CostFit:
    """The free fit, or, when it puts no cost on new tokens, the fit with ``alpha = fallback_alpha``.

    >>> lengths, reused = [100, 200, 300, 400], [0, 0, 0, 0]
    >>> fit = fit_or_fix_alpha(lengths, reused, [1e-6 * n * n for n in lengths], 0.01, overhead=False)
    >>> fit.alpha_source, fit.alpha
    ('fixed', 0.01)
    """
    try:
        return fit_cost_model(lengths, reused, seconds, overhead=overhead)
    except DegenerateFitError:
        return fit_cost_model(lengths, reused, seconds, overhead=overhead, alpha=fallback_alpha)


def _prefill_record(prefill: Prefill, flops: int) -> dict[str, Any]:
    return {"length": prefill.length, "reused": prefill.reused, "computed_reused": prefill.computed_reused,
            "new_tokens": prefill.new_tokens, "seconds": list(prefill.seconds),
            "median_seconds": prefill.median_seconds, "flops": flops}


def _flop_rate(prefills: Sequence[Prefill], flops: Sequence[int], peak: float) -> dict[str, float]:
    rates = [f / p.median_seconds for p, f in zip(prefills, flops)]
    best = int(np.argmax(rates))
    overall = sum(flops) / sum(p.median_seconds for p in prefills)
    return {"overall_flops_per_second": overall, "overall_fraction_of_peak": overall / peak,
            "best_flops_per_second": rates[best], "best_fraction_of_peak": rates[best] / peak,
            "best_at_length": prefills[best].length, "best_at_reused": prefills[best].reused,
            "matmul_peak_flops_per_second": peak}


def _schedule_result(stream: Stream, run, steps: Sequence[Prefill], definition2: CostFit,
                     corrected: CostFit) -> dict[str, Any]:
    evaluation = run.evaluation
    beta = definition2.beta
    arrivals = [beta * float(stream.queries[i].arrival) for i in run.order]
    # Predicted: the evaluator's completion times (token-times) in seconds.
    predicted_completion = [beta * float(c) for c in evaluation.completion]
    predicted_service = [definition2.predict(stream.lengths[i], ov) for i, ov in zip(run.order, evaluation.reused)]
    predicted = ScheduleTimes(tuple(arrivals), tuple(predicted_service), tuple(predicted_completion))
    corrected_times = ScheduleTimes.from_services(
        arrivals, [corrected.predict(stream.lengths[i], ov) for i, ov in zip(run.order, evaluation.reused)])
    measured = ScheduleTimes.from_services(arrivals, [s.median_seconds for s in steps])
    summaries = {"predicted": predicted.summary(), "corrected": corrected_times.summary(),
                 "measured": measured.summary()}
    errors = {
        f"{kind}_{metric}_relative_error": summaries[kind][metric] / summaries["measured"][metric] - 1
        for kind in ("predicted", "corrected") for metric in ("busy", "makespan", "max_ttft", "p99_ttft")
    }
    fit_quality = {}
    if len(steps) >= 2 and len(set(measured.services)) > 1:
        fit_quality = {"service_r2_definition2": r_squared(measured.services, predicted.services),
                       "service_r2_overhead": r_squared(measured.services, corrected_times.services)}
    queries = [
        {"position": pos, "id": stream.queries[i].qid, "arrival_token_times": to_json(stream.queries[i].arrival),
         "arrival_seconds": arrivals[pos], "length": step.length, "reused": step.reused,
         "computed_reused": step.computed_reused, "seconds": list(step.seconds),
         "measured_service": measured.services[pos], "predicted_service": predicted.services[pos],
         "corrected_service": corrected_times.services[pos],
         "measured_completion": measured.completions[pos], "predicted_completion": predicted.completions[pos],
         "corrected_completion": corrected_times.completions[pos],
         "predicted_completion_token_times": to_json(evaluation.completion[pos])}
        for pos, (i, step) in enumerate(zip(run.order, steps))
    ]
    return {"policy": run.policy.label, "settings": run.settings(), "summary": summaries,
            "errors": errors, **fit_quality, "queries": queries}


def _rankings(schedules: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for metric in ("max_ttft", "p99_ttft"):
        for kind in ("predicted", "corrected"):
            out[f"{metric}_{kind}"] = pairwise_agreement(
                {s["policy"]: s["summary"][kind][metric] for s in schedules},
                {s["policy"]: s["summary"]["measured"][metric] for s in schedules})
    return out
