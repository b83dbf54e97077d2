"""``prefix-sched serve`` and ``prefix-sched capacity``: a golden run recomputed independently from
its file (the reference engine of tests/solvers/serving and numpy's percentiles), bad input in one
line with exit 2, outputs checked before any work, the capacity bracket."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from prefix_sched import cli
from prefix_sched.commands import serve_cmd
from prefix_sched.theory.formats import write_stream
from prefix_sched.theory.numbers import exact_number
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.formats import read_serving
from prefix_sched.theory.serving.traces import load_workload
from prefix_sched.theory.stream import Query, Stream

HERE = Path(__file__).resolve().parent
HEAD300 = HERE.parent / "data" / "mooncake_conversation_head300.jsonl"
CLASSES = "gold=0.3:5ms,free=0.7:50ms"


def _reference():
    spec = importlib.util.spec_from_file_location("serving_reference", HERE.parent / "solvers" / "serving" /
                                                  "test_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stream_file(tmp_path_factory):
    rng = np.random.default_rng(11)
    queries = []
    t = 0
    for i in range(40):
        t += int(rng.integers(0, 3000))
        length, output = int(rng.integers(1, 200)), int(rng.integers(1, 30))
        queries.append(Query(f"r{i}", ((f"s{i}", length),), t, output_length=output))
    path = tmp_path_factory.mktemp("serve") / "s.jsonl"
    write_stream(Stream(tuple(queries)), path)
    return path


def _run(argv, capsys):
    status = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("scheduler", ["sarathi", "slai", "vllm", "sglang-mixed"])
def test_golden_run_recomputed_from_its_file(scheduler, stream_file, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    batches = tmp_path / "b.jsonl"
    argv = ["serve", stream_file, "--scheduler", scheduler, "--budget", "64", "--cost", "c0=800,cp=7.5,cd=3,ckv=0.01",
            "--kv-tokens", "400", "--block-size", "8", "--max-seqs", "6", "--classes", CLASSES, "--seed", "3",
            "--out", out, "--batches", batches]
    status, text, err = _run(argv, capsys)
    assert status == 0, err
    header, records = read_serving(out)
    settings = header["settings"]
    assert settings["budget"] == 64 and settings["kv_tokens"] == 400 and settings["block_size"] == 8
    assert settings["max_seqs"] == 6 and settings["seed"] == 3 and settings["cost"]["cp"] == "15/2"
    assert settings["workload"]["classes"] == ["gold=3/10:5ms", "free=7/10:50ms"]
    assert "recompute" in settings["preemption"]
    # the token times equal the reference engine's on the same workload
    workload = load_workload(stream_file, "stream", classes=serve_cmd.parse_classes(CLASSES), seed=3)
    reference = _reference()
    times, first, preempted, iterations = reference.reference_serve(
        workload, scheduler, budget=64, cost=parse_cost("c0=800,cp=7.5,cd=3,ckv=0.01"), kv_tokens=400, block_size=8,
        max_seqs=6, seed=3)
    assert [[exact_number(v, "t") for v in r["token_times_us"]] for r in records] == times
    assert [exact_number(r["first_scheduled_us"], "t") for r in records] == first
    assert [r["preemptions"] for r in records] == preempted
    _, rows = read_serving(batches)
    assert len(rows) == iterations
    # the summary in the header equals numpy's percentiles of the file's own times
    ttft = np.array([float(exact_number(r["ttft_us"], "t")) for r in records])
    summary = header["summary"]["all"]
    assert float(exact_number(summary["ttft_p50"], "s")) == pytest.approx(np.percentile(ttft, 50))
    assert float(exact_number(summary["ttft_p99"], "s")) == pytest.approx(np.percentile(ttft, 99))
    gaps = np.concatenate([np.diff([float(exact_number(v, "t")) for v in r["token_times_us"]]) for r in records])
    assert float(exact_number(summary["tbt_p99"], "s")) == pytest.approx(np.percentile(gaps, 99))
    met = sum(1 for r in records if len(r["token_times_us"]) < 2 or max(
        np.diff([exact_number(v, "t") for v in r["token_times_us"]])) <= exact_number(r["tbt_slo_us"], "s"))
    assert summary["met"] == met
    # the printed table shows the median TTFT in ms
    assert f"{np.percentile(ttft, 50) / 1000:.2f}" in text
    assert f"wrote 40 per-request results to {out}" in text


def test_sharegpt_run_prints_every_class(tmp_path, capsys):
    csv = tmp_path / "len.csv"
    csv.write_text("num_prefill_tokens,num_decode_tokens\n" + "".join(f"{50 + 7 * i},{1 + i % 9}\n" for i in range(60)))
    status, text, err = _run(["serve", csv, "--format", "sharegpt", "--rate", "3", "--arrivals", "truncated-exp",
                              "--scheduler", "slai", "--classes", "strict=0.05:100ms,relaxed=0.95:500ms"], capsys)
    assert status == 0, err
    for word in ("strict", "relaxed", "TTFT p50", "throughput", "goodput", "preemptions 0", "mean batch"):
        assert word in text
    assert "truncated-exp(rate=3, seed=0)" in text


def test_capacity_brackets_the_rate(tmp_path, capsys):
    csv = tmp_path / "len.csv"
    rows = "".join(f"{100 + 3 * i},{5 + i % 7}\n" for i in range(80))
    csv.write_text("num_prefill_tokens,num_decode_tokens\n" + rows)
    status, text, err = _run(["capacity", csv, "--format", "sharegpt", "--scheduler", "sarathi", "--objective",
                              "ttft_p50<=100ms", "--rate", "4", "--max-probes", "8", "--tolerance", "0.2"], capsys)
    assert status == 0, err
    probes = [line for line in text.splitlines() if line.startswith("rate ")]
    assert 2 <= len(probes) <= 8
    assert "capacity: between" in text or "capacity: at least" in text or "no probed rate" in text


@pytest.mark.parametrize("extra, fragment", [
    (["--scheduler", "orca"], "--scheduler: unknown scheduler 'orca'"),
    (["--scheduler", "sarathi", "--rate", "nan"], "--rate: "),
    (["--scheduler", "sarathi", "--budget", "-1"], "--budget: must be >= 1"),
    (["--scheduler", "sarathi", "--cost", "cp=nan"], "--cost: cost 'cp=nan'"),
    (["--scheduler", "sarathi", "--kv-tokens", "1000", "--block-size", "16"],
     "request 'm3' needs 8029 tokens of KV memory (prompt 7236 + output 794 - 1)"),
    (["--scheduler", "sarathi", "--block-size", "16"], "--block-size: only applies with --kv-tokens"),
    (["--scheduler", "sarathi", "--arrivals", "poisson"], "--arrivals: only applies with --format sharegpt"),
    (["--scheduler", "sarathi", "--order", "lpm"], "ranks requests by their cached prefix"),
    (["--scheduler", "slai", "--order", "spf"], "--order: scheduler 'slai' orders new prefills itself"),
    (["--scheduler", "vllm-v0", "--budget", "512"], "vllm-v0 prefills whole prompts"),
    (["--scheduler", "sarathi", "--classes", "a=0.5:1ms"], "the shares add up to 1/2"),
    (["--scheduler", "sarathi", "--kv-tokens", "8", "--block-size", "16"], "--kv-tokens: must hold at least one block"),
])
def test_bad_input_is_one_line_exit_2(extra, fragment, capsys):
    status, _, err = _run(["serve", HEAD300, "--format", "mooncake", "--limit", "5", *extra], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("prefix-sched serve: error: "), err
    assert fragment in lines[0]


def test_bad_files(tmp_path, capsys):
    write_stream(Stream((Query("a", (("x", 3),), 0),)), tmp_path / "no_output.jsonl")
    (tmp_path / "len.csv").write_text("num_prefill_tokens,num_decode_tokens\n5,0\n")
    cases = [(["serve", tmp_path / "no_output.jsonl", "--scheduler", "sarathi"], "needs an output_length >= 1"),
             (["serve", tmp_path / "nope.jsonl", "--scheduler", "sarathi"], "nope.jsonl"),
             (["serve", tmp_path / "len.csv", "--format", "sharegpt", "--scheduler", "sarathi"], "--rate: needed"),
             (["serve", tmp_path / "len.csv", "--format", "sharegpt", "--rate", "1", "--scheduler", "sarathi"],
              "len.csv:2: num_decode_tokens must be a positive integer"),
             (["capacity", HEAD300, "--format", "mooncake", "--scheduler", "sarathi"], "--objective: "),
             (["capacity", HEAD300, "--format", "mooncake", "--scheduler", "sarathi", "--classes", "a=1:1s",
               "--objective", "tbt_p99[b]<=1s"], "no class 'b'")]
    for argv, fragment in cases:
        status, _, err = _run(argv, capsys)
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and fragment in lines[0], (argv, err)


@pytest.mark.parametrize("option", ["--out", "--batches"])
def test_outputs_are_checked_before_any_work(option, tmp_path, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr(serve_cmd, "load_workload", no_work)
    target = tmp_path / "missing" / "o.jsonl"
    status, _, err = _run(["serve", HEAD300, "--format", "mooncake", "--scheduler", "sarathi", option, target], capsys)
    assert status == 2 and f"error: {option}: cannot write {target}" in err


def test_rate_rescales_a_trace(capsys, tmp_path):
    out = tmp_path / "o.jsonl"
    status, _, err = _run(["serve", HEAD300, "--format", "mooncake", "--limit", "11", "--rate", "2", "--scheduler",
                           "sarathi", "--out", out], capsys)
    assert status == 0, err
    _, records = read_serving(out)
    arrivals = sorted(exact_number(r["arrival_us"], "a") for r in records)
    assert arrivals[0] == 0 and arrivals[-1] == 5_000_000  # 10 gaps at 2 requests/s


def _cluster_reference():
    spec = importlib.util.spec_from_file_location("serving_cluster", HERE.parent / "solvers" / "serving" /
                                                  "test_cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("router", ["least-outstanding", "prefix-aware:abs=2,rel=1"])
def test_cluster_run_recomputed_from_its_file(router, tmp_path, capsys):
    """Three engines behind a router: each request's engine and token times in the file equal the
    cluster reference's; the per-engine table and the header's per-engine rows add up."""
    out = tmp_path / "o.jsonl"
    argv = ["serve", HEAD300, "--format", "mooncake", "--limit", "40", "--scheduler", "vllm", "--budget", "256",
            "--cost", "c0=800,cp=7.5,cd=3", "--engines", "3", "--router", router, "--out", out]
    status, text, err = _run(argv, capsys)
    assert status == 0, err
    header, records = read_serving(out)
    assert header["version"] == 2 and header["settings"]["engines"] == 3
    workload = load_workload(HEAD300, "mooncake", limit=40)
    times, first, preempted, engine_of, _ = _cluster_reference().reference_cluster(
        workload, "vllm", engines=3, router=router, budget=256, cost=parse_cost("c0=800,cp=7.5,cd=3"))
    assert [r["engine"] for r in records] == engine_of
    assert [[exact_number(v, "t") for v in r["token_times_us"]] for r in records] == times
    assert all(r["cached_tokens"] == 0 for r in records)
    rows = header["engines"]
    assert [row["requests"] for row in rows] == [engine_of.count(g) for g in range(3)]
    assert "per engine" in text and "imbalance" in text and "3 engines, router" in text


@pytest.mark.parametrize("order", [None, "k-lpm:1", "lpm"])
def test_prefix_cache_run_recomputed_from_its_file(order, tmp_path, capsys):
    """--prefix-cache lru with a Part 1 order: each request's cached tokens and token times in the file
    equal the reference engine's (its cache written from the rules, token by token)."""
    out = tmp_path / "o.jsonl"
    extra = [] if order is None else ["--order", order]
    argv = ["serve", HEAD300, "--format", "mooncake", "--limit", "12", "--scheduler", "sarathi", "--budget", "2048",
            "--cost", "c0=800,cp=7.5,cd=3", "--prefix-cache", "lru", "--kv-tokens", "120000", "--rate", "4",
            "--out", out, *extra]
    status, text, err = _run(argv, capsys)
    assert status == 0, err
    header, records = read_serving(out)
    assert header["settings"]["prefix_cache"] == "lru" and header["settings"]["block_size"] == 1
    workload = load_workload(HEAD300, "mooncake", limit=12, rate=4)
    times, first, preempted, _, cached = _reference().reference_serve(
        workload, "sarathi", order=order, budget=2048, cost=parse_cost("c0=800,cp=7.5,cd=3"), kv_tokens=120000,
        prefix_cache="lru", cached=True)
    assert [r["cached_tokens"] for r in records] == cached and sum(cached) > 0
    assert [[exact_number(v, "t") for v in r["token_times_us"]] for r in records] == times
    assert "prefix cache lru:" in text
