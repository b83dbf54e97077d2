"""gpu_validation: cached-prefix correctness, token mapping, fitting, schedule times, the validate CLI.

Everything here runs on CPU with the tiny model; the CUDA path is exercised only where a GPU exists
(the ``cuda``-without-a-GPU error is tested by hiding CUDA).
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from prefix_sched.cli import main
from prefix_sched.errors import InputError
from prefix_sched.gpu_validation.agreement import completion_times, pairwise_agreement, ranking
from prefix_sched.gpu_validation import validate as validate_module
from prefix_sched.gpu_validation.fit import DegenerateFitError, fit_cost_model, nonnegative_least_squares, r_squared
from prefix_sched.gpu_validation.models import SHAPES, build_model, get_shape
from prefix_sched.gpu_validation.replay import Prefill, PrefixCacheEngine
from prefix_sched.gpu_validation.tokens import prompt_token_ids
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.cost import prefill_cost
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.formats import write_stream

TINY = SHAPES["tiny"]


@pytest.fixture(scope="module")
def tiny_model():
    torch.set_num_threads(1)
    return build_model(TINY, "cpu", seed=0)


def _full_logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids]), logits_to_keep=0).logits[0]


# --- cached-prefix correctness -------------------------------------------------------------------

@pytest.mark.parametrize("shared", [0, 1, 17, 40])
def test_cropped_cache_prefill_matches_full_prefill(tiny_model, shared):
    """Prefill A, crop to the common prefix with B, prefill the rest of B: B's logits as from scratch."""
    rng = np.random.default_rng(shared)
    b = rng.integers(0, TINY.vocab_size, 48).tolist()
    a = b[:shared] + rng.integers(0, TINY.vocab_size, 60 - shared).tolist()
    a[shared] = (b[shared] + 1) % TINY.vocab_size  # A and B really diverge at position `shared`
    engine = PrefixCacheEngine(tiny_model, "cpu")
    engine.prefill(a, 0)
    run, logits = engine.prefill(b, shared, reps=2, keep_logits=True)
    expected = _full_logits(tiny_model, b)
    assert run.computed_reused == shared and engine.cached_length == len(b)
    torch.testing.assert_close(logits[0], expected[shared:], atol=1e-4, rtol=1e-4)


def test_prompt_that_is_a_prefix_of_the_cached_one_recomputes_its_last_token(tiny_model):
    rng = np.random.default_rng(5)
    a = rng.integers(0, TINY.vocab_size, 30).tolist()
    engine = PrefixCacheEngine(tiny_model, "cpu")
    engine.prefill(a, 0)
    run, logits = engine.prefill(a[:20], 20, keep_logits=True)
    assert (run.reused, run.computed_reused, run.new_tokens) == (20, 19, 1)
    torch.testing.assert_close(logits[0, -1], _full_logits(tiny_model, a[:20])[-1], atol=1e-4, rtol=1e-4)


def test_engine_refuses_a_wrong_overlap(tiny_model):
    engine = PrefixCacheEngine(tiny_model, "cpu")
    engine.prefill([1, 2, 3, 4], 0)
    with pytest.raises(AssertionError, match="does not hold"):
        engine.prefill([1, 9, 3, 4, 5], 3)
    with pytest.raises(InputError, match="reused must be in 0..4"):
        engine.prefill([1, 2, 3, 4, 5], 5)


# --- token mapping -------------------------------------------------------------------------------

def test_equal_segments_give_equal_tokens_and_different_ones_differ():
    p = (("user", 50), ("doc1", 30))
    q = (("user", 50), ("doc2", 30))
    tp, tq = prompt_token_ids(p, 1000), prompt_token_ids(q, 1000)
    assert len(tp) == 80 and all(0 <= t < 1000 for t in tp)
    assert tp[:50] == tq[:50] and tp[50:] != tq[50:]
    assert prompt_token_ids((("doc1", 30),), 1000) == tp[50:]  # a segment's tokens do not depend on its position


def test_token_mapping_is_the_same_in_another_process():
    """Python's hash is salted per process; the mapping must not be."""
    prompt = (("u", 7), (("t", 3), 5), (12, 4))
    code = ("from prefix_sched.gpu_validation.tokens import prompt_token_ids;"
            f"print(prompt_token_ids({prompt!r}, 5000))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert outputs == {str(prompt_token_ids(prompt, 5000))}


# --- fitting -------------------------------------------------------------------------------------

def _grid():
    lengths = [256, 512, 1024, 2048, 4096, 8192, 16384]
    pairs = [(length, int(f * length)) for length in lengths for f in (0, 0.3, 0.6, 0.9)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.mark.parametrize("overhead", [0.0, 0.004])
def test_fit_recovers_known_coefficients(overhead):
    lengths, reused = _grid()
    beta, alpha = 3e-5, 2e-5
    seconds = [overhead + beta * float(prefill_cost(length, ov, Fraction(2, 100000)))
               for length, ov in zip(lengths, reused)]
    fit = fit_cost_model(lengths, reused, seconds, overhead=True)
    assert fit.beta == pytest.approx(beta, rel=1e-8) and fit.alpha == pytest.approx(alpha, rel=1e-8)
    assert fit.overhead == pytest.approx(overhead, abs=1e-10) and fit.r2 == pytest.approx(1.0)
    if overhead == 0:
        plain = fit_cost_model(lengths, reused, seconds)
        assert plain.beta == pytest.approx(beta, rel=1e-8) and plain.alpha == pytest.approx(alpha, rel=1e-8)


def test_fit_with_noise_is_close_and_r2_is_the_squared_correlation():
    """For least squares with an intercept, R^2 equals corr(measured, fitted)^2 (computed separately)."""
    lengths, reused = _grid()
    rng = np.random.default_rng(0)
    truth = np.array([0.002 + 4e-5 * ((l - o) + 1e-5 * (l * l - o * o)) for l, o in zip(lengths, reused)])
    seconds = truth * (1 + 0.02 * rng.standard_normal(truth.size))
    fit = fit_cost_model(lengths, reused, seconds.tolist(), overhead=True)
    assert fit.beta == pytest.approx(4e-5, rel=0.1) and fit.alpha == pytest.approx(1e-5, rel=0.2)
    fitted = seconds - np.array(fit.residuals)
    assert fit.r2 == pytest.approx(np.corrcoef(seconds, fitted)[0, 1] ** 2, rel=1e-9)
    assert fit.r2 == pytest.approx(r_squared(seconds, fitted))


@pytest.mark.parametrize("seed", range(5))
def test_nonnegative_least_squares_meets_the_kkt_conditions(seed):
    """x >= 0, the gradient vanishes where x > 0 and is >= 0 where x = 0: the optimum of a convex problem."""
    rng = np.random.default_rng(seed)
    design = rng.standard_normal((12, 3))
    target = rng.standard_normal(12)
    x = nonnegative_least_squares(design, target)
    gradient = design.T @ (design @ x - target)
    assert np.all(x >= 0)
    assert np.all(np.abs(gradient[x > 0]) < 1e-9) and np.all(gradient[x == 0] > -1e-9)


def test_fit_rejects_bad_input():
    with pytest.raises(InputError, match="at least 4"):
        fit_cost_model([1, 2], [0, 0], [1.0, 2.0])
    with pytest.raises(InputError, match="reused <= length"):
        fit_cost_model([1, 2, 3, 4], [0, 3, 0, 0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(DegenerateFitError, match="no per-token cost"):
        fit_cost_model([10, 20, 30, 40], [0, 0, 0, 0], [-1.0, -2.0, -3.0, -4.0])
    with pytest.raises(DegenerateFitError, match="does not grow with the tokens"):
        fit_cost_model([10, 20, 30, 40], [0, 0, 0, 0], [4.0, 3.0, 2.0, 1.0], overhead=True, alpha=0.01)
    with pytest.raises(InputError, match="finite and >= 0"):
        fit_cost_model([10, 20, 30, 40], [0, 0, 0, 0], [1.0, 2.0, 3.0, 4.0], alpha=float("nan"))


@pytest.mark.parametrize("overhead", [False, True])
def test_fixed_alpha_fit_recovers_beta_and_overhead(overhead):
    lengths, reused = _grid()
    c0, beta, alpha = (0.003 if overhead else 0.0), 5e-5, 3e-5
    seconds = [c0 + beta * ((l - o) + alpha * (l * l - o * o)) for l, o in zip(lengths, reused)]
    fit = fit_cost_model(lengths, reused, seconds, overhead=overhead, alpha=alpha)
    assert fit.alpha_source == "fixed" and fit.alpha == alpha
    assert fit.beta == pytest.approx(beta, rel=1e-8) and fit.overhead == pytest.approx(c0, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0)


# --- schedule times ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_completion_recurrence_reproduces_the_evaluator(seed):
    stream = regular_arrival_shuffled_queue(n=12, r=3, u=40, d=7, delta=15, seed=seed)
    order = np.random.default_rng(seed).permutation(stream.n).tolist()
    alpha, beta = Fraction(1, 50), 0.25
    ev = evaluate(stream, order, alpha=alpha)
    services = [beta * float(prefill_cost(stream.lengths[i], ov, alpha)) for i, ov in zip(order, ev.reused)]
    arrivals = [beta * float(stream.queries[i].arrival) for i in order]
    assert completion_times(arrivals, services) == pytest.approx([beta * float(c) for c in ev.completion])


def test_pairwise_agreement_counts_pairs():
    predicted = {"a": 3.0, "b": 1.0, "c": 2.0}
    measured = {"a": 2.5, "b": 2.0, "c": 1.0}
    result = pairwise_agreement(predicted, measured)
    assert ranking(predicted) == ["b", "c", "a"] and result["measured"] == ["c", "b", "a"]
    assert (result["agree"], result["disagree"], result["tied"], result["same_order"]) == (2, 1, 0, False)


# --- the CLI -------------------------------------------------------------------------------------

def test_validate_writes_json_and_plots(tmp_path):
    stream = regular_arrival_shuffled_queue(n=8, r=2, u=60, d=20, delta=30, seed=1)
    write_stream(stream, tmp_path / "s.jsonl")
    out = tmp_path / "out"
    status = main(["validate", "--stream", str(tmp_path / "s.jsonl"), "--lengths", "64,256,512",
                   "--reuse", "0,0.5", "--warmup", "0", "--reps", "2", "--matmul-n", "64", "--quiet",
                   "--out", str(out)])
    assert status == 0
    result = json.loads((out / "validation.json").read_text())
    env = result["environment"]
    assert env["device"] == "cpu" and env["dtype"] == "float32" and env["device_name"]
    assert env["torch"] == torch.__version__ and env["transformers"]
    assert result["model"]["name"] == "tiny" and result["model"]["parameters"] == TINY.parameter_count()
    assert result["command"].startswith("prefix-sched validate --device cpu --model tiny")
    assert len(result["calibration"]) == 6 and all(len(p["seconds"]) == 2 for p in result["calibration"])
    assert {s["policy"] for s in result["schedules"]} == {"fcfs", "lpm", "k-lpm(k=3)"}
    beta = result["fits"]["definition2"]["beta_seconds_per_token"]
    alpha = Fraction(result["fits"]["alpha_exact_used"])
    for schedule in result["schedules"]:
        queries = schedule["queries"]
        assert len(queries) == stream.n and all(len(q["seconds"]) == 2 for q in queries)
        order = [stream.index_of(q["id"]) for q in queries]
        ev = evaluate(stream, order, alpha=alpha)  # predictions are the evaluator's, in seconds
        assert [q["predicted_completion"] for q in queries] == pytest.approx([beta * float(c) for c in ev.completion])
        measured = completion_times([q["arrival_seconds"] for q in queries], [q["measured_service"] for q in queries])
        assert [q["measured_completion"] for q in queries] == pytest.approx(measured)
        assert schedule["summary"]["measured"]["max_ttft"] == pytest.approx(
            max(c - q["arrival_seconds"] for c, q in zip(measured, queries)))
    for name in ("time_vs_new_tokens.png", "measured_vs_predicted.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validate_reports_a_degenerate_fit_instead_of_failing(tmp_path, monkeypatch):
    """Short prompts can make a pure quadratic the best non-negative fit (CI saw it once).

    The run must still finish: alpha is fixed at the FLOP-count value, beta refitted, and the result
    file and the summary say so. The calibration is replaced by times that only a quadratic explains.
    """
    def quadratic_only(engine, points, vocab_size, warmup, reps, progress=None):
        # unconstrained least squares would need a negative per-token cost: c_new = -1e-8
        return [Prefill(length, ov, ov, (1e-9 * (length * length - ov * ov) - 1e-8 * (length - ov),) * reps)
                for length, ov in points]

    monkeypatch.setattr(validate_module, "calibrate", quadratic_only)
    stream = regular_arrival_shuffled_queue(n=4, r=2, u=20, d=6, delta=10, seed=0)
    write_stream(stream, tmp_path / "s.jsonl")
    status = main(["validate", "--stream", str(tmp_path / "s.jsonl"), "--lengths", "32,64", "--reuse", "0,0.5",
                   "--warmup", "0", "--reps", "1", "--matmul-n", "32", "--quiet", "--out", str(tmp_path / "out")])
    assert status == 0
    fits = json.loads((tmp_path / "out" / "validation.json").read_text())["fits"]
    flop = fits["alpha_from_flop_count"]
    assert fits["definition2"]["alpha_source"] == "fixed" and fits["definition2"]["alpha"] == flop
    assert Fraction(fits["alpha_exact_used"]) == Fraction(flop).limit_denominator(10 ** 12)
    assert fits["definition2"]["beta_seconds_per_token"] > 0


def test_validate_exits_3_when_the_timings_leave_the_cost_undetermined(tmp_path, monkeypatch, capsys):
    """Prefill times that fall as prompts grow: no beta > 0 fits, not even with alpha fixed. That is
    a measurement outcome, not bad input: exit 3 (unknown), one line saying so, no report."""
    def falling(engine, points, vocab_size, warmup, reps, progress=None):
        return [Prefill(length, ov, ov, (1.0 / (length - ov),) * reps) for length, ov in points]

    monkeypatch.setattr(validate_module, "calibrate", falling)
    stream = regular_arrival_shuffled_queue(n=4, r=2, u=20, d=6, delta=10, seed=0)
    write_stream(stream, tmp_path / "s.jsonl")
    status = main(["validate", "--stream", str(tmp_path / "s.jsonl"), "--lengths", "32,64", "--reuse", "0,0.5",
                   "--warmup", "0", "--reps", "1", "--matmul-n", "32", "--quiet", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 3 and captured.err == ""
    assert "no fit: the measured prefill time does not grow with the tokens" in captured.out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--model", "70b"], "--model: unknown model '70b'"),
    (["--lengths", "64,abc"], "--lengths: must be an integer, got 'abc'"),
    (["--reuse", "0,1.5"], "--reuse: must be < 1, got '1.5'"),
    (["--device", "cuda"], "--device: device 'cuda' was requested but torch sees no CUDA GPU"),
    (["--lengths", "64,9000"], "--lengths: 9000 exceeds the 8192 positions of model 'tiny'"),
    (["--limit", "5"], "--limit: only applies with --format mooncake"),
    (["--format", "mooncake"], "--format: describes the --stream FILE file, and none is given"),
])
def test_validate_bad_input_exits_2(args, message, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["validate", "--out", str(tmp_path), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "validation.json").exists()


def test_get_shape_knows_the_documented_models():
    assert [get_shape(name).name for name in ("tiny", "small", "1b", "8b")] == ["tiny", "small", "1b", "8b"]
