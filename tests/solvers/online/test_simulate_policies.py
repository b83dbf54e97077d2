"""Runs of the registered policies through the simulator, ``compare`` and the CLI: the fairness
figures recomputed from the evaluator's times, the cache passed through, the shared-prefix workload.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.load_comparison import compare_policies
from prefix_sched.theory.generators import shared_prefix

from strategies import streams


@settings(max_examples=100, deadline=None)
@given(stream=streams(max_n=10, fractional=True), name=st.sampled_from(["fcfs", "lpm", "spf", "hrrn", "random"]),
       alpha=st.sampled_from([0, Fraction(1, 2)]))
def test_fairness_figures_recomputed(stream, name, alpha):
    """Online, B = 1: decision d is made at start[d]; a query enters at the first decision made at
    or after its arrival and has waited (its position) - (that decision). Jain's index from the
    exact slowdowns TTFT / (|p| + alpha |p|^2)."""
    run = simulate(stream, parse_policy(name), alpha=alpha, seed=1)
    ev = run.evaluation
    waited = []
    for position, index in enumerate(ev.order):
        arrival = stream.queries[index].arrival
        entered = next(d for d in range(len(ev.order)) if ev.start[d] >= arrival)
        waited.append(position - entered)
    assert run.waited == tuple(waited) and run.max_waited == max(waited)
    x = [Fraction(ev.ttft[p]) / (stream.lengths[i] + alpha * stream.lengths[i] ** 2) for p, i in enumerate(ev.order)]
    expected = 1 if not any(x) else sum(x) ** 2 / (len(x) * sum(v * v for v in x))
    assert run.jain_slowdown == pytest.approx(float(expected), rel=1e-12)


def test_shared_prefix_generator_matches_bench_serving():
    """64 groups of 16, 2048-token system prompts, 128-token questions of their own, 256 output
    tokens, all at time 0 (bench_serving's default infinite rate), shuffled by the seed."""
    stream = shared_prefix(seed=1)
    assert stream.n == 1024 and {q.length for q in stream.queries} == {2176}
    assert {q.output_length for q in stream.queries} == {256} and {q.arrival for q in stream.queries} == {0}
    systems = {q.prompt[0] for q in stream.queries}
    assert len(systems) == 64 and len({q.prompt[1] for q in stream.queries}) == 1024
    assert [q.prompt for q in stream.queries] != sorted(q.prompt for q in stream.queries)
    assert [q.prompt for q in shared_prefix(seed=1).queries] == [q.prompt for q in stream.queries]
    poisson = shared_prefix(groups=4, prompts_per_group=4, rate="1/100", seed=2)
    arrivals = [q.arrival for q in poisson.queries]
    assert arrivals[0] == 0 and arrivals == sorted(arrivals) and arrivals[-1] > 0


def test_compare_passes_the_cache_through_and_reports_fairness():
    stream = shared_prefix(groups=6, prompts_per_group=4, system_prompt_len=50, question_len=5, rate="1/20", seed=0)
    policies = [parse_policy("hrrn"), parse_policy("k-lpm:2")]
    rows = compare_policies(stream, policies, ["3/2"], caches=["last", "lru:120"])
    assert [(row.cache, row.policy) for row in rows] == [("last", "hrrn"), ("last", "k-lpm(k=2)"),
                                                         ("lru:120", "hrrn"), ("lru:120", "k-lpm(k=2)")]
    from prefix_sched.theory.load import rescale_to_load
    run = simulate(rescale_to_load(stream, "3/2"), policies[0], cache="lru:120")
    assert (rows[2].p99, rows[2].max_waited, rows[2].jain_slowdown) == (
        run.evaluation.percentile(99), run.max_waited, run.jain_slowdown)


def test_cli_runs_the_new_policies_and_caches(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    assert main(["generate", "shared-prefix", "--groups", "4", "--prompts-per-group", "3", "--system-prompt-len",
                 "40", "--question-len", "4", "--rate", "1/10", "--out", str(path)]) == 0
    assert main(["simulate", str(path), "--policy", "hrrn", "--policy", "sglang-lpm:2", "--policy", "k-lpm",
                 "--k", "2", "--cache", "lru:100"]) == 0
    out = capsys.readouterr().out
    assert "hrrn" in out and "sglang-lpm(fcfs above 2 waiting)" in out and "max waited" in out
    assert "cache: lru:100" in out
    out_file = tmp_path / "o.jsonl"
    assert main(["simulate", str(path), "--policy", "lof", "--cache", "unbounded", "--out", str(out_file)]) == 0
    header = out_file.read_text().splitlines()[0]
    assert '"cache": "unbounded"' in header and '"max_waited"' in header and '"policy": "lof"' in header
    assert main(["compare", str(path), "--policy", "spf", "--cache", "last", "--cache", "unbounded", "--load", "1"]) == 0
    assert "unbounded" in capsys.readouterr().out
    assert main(["simulate", str(path), "--policy", "lpm-aging:x"]) == 2
    assert "lpm-aging:x" in capsys.readouterr().err
