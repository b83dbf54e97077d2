"""The seed's experiment in the model: every figure of a row recomputed independently on a slice.

The slice is the seed's setup with the first 256 ShareGPT requests (and a small KV memory for the
preemption cases); each check rebuilds its number from the engine's token times with plain Python
(exact Fractions, numpy's ``linear`` percentile written out), not with the study's own code.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from prefix_sched.errors import FormatError, InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.studies.data import SHAREGPT_LENGTHS, find_shared
from prefix_sched.studies.serving import seed_experiment as se
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.measures import summarize
from prefix_sched.theory.serving.objectives import parse_objective

pytestmark = pytest.mark.skipif(find_shared(SHAREGPT_LENGTHS) is None, reason="no ../shared/data")

SLICE = 256
RATE = Fraction(8, 5)


def percentile(values, q):
    """numpy's ``linear`` method, exactly: ``h = (n - 1) q / 100``, interpolate between neighbours."""
    values = sorted(values)
    h = Fraction(len(values) - 1) * q / 100
    low = math.floor(h)
    high = min(low + 1, len(values) - 1)
    return values[low] + (h - low) * (values[high] - values[low])


def by_hand(setup, scheduler, rate):
    """Serve the slice and rebuild the row's figures from each request's token times."""
    workload = setup.workload(rate)
    run = serve(workload, scheduler, budget=setup.budget, cost=setup.cost, kv_tokens=setup.kv_tokens,
                block_size=setup.block_size, max_seqs=setup.max_seqs, seed=setup.seed)
    ttft, gaps = [], {}
    for i, request in enumerate(workload.requests):
        times = run.token_times_us(i)
        ttft.append(Fraction(times[0]) - Fraction(request.arrival_us))
        gaps.setdefault(request.cls, []).extend(Fraction(b) - Fraction(a) for a, b in zip(times, times[1:]))
    return run, ttft, gaps


def test_kv_tokens_of_the_seed_card():
    """48 GB at 90% less Mistral-7B's bf16 weights, over 32 layers x 8 KV heads x 128 dims x K,V x 2 B."""
    per_token = 32 * 8 * 128 * 2 * 2
    assert per_token == 128 * 1024 == se.KV_BYTES_PER_TOKEN
    tokens = (48 * 10**9 * 9 // 10 - 7_240_000_000 * 2) // per_token
    assert tokens == 219_116
    assert se.SEED_KV_TOKENS == tokens // 16 * 16 == 219_104
    with pytest.raises(InputError):
        se.kv_tokens_for(card_bytes=10**9)


def test_loads_are_ten_evenly_spaced_from_02_to_16():
    loads = se.SEED_LOADS
    assert len(loads) == 10 and loads[0] == Fraction(1, 5) and loads[-1] == Fraction(8, 5)
    assert len({b - a for a, b in zip(loads, loads[1:])}) == 1


@pytest.mark.parametrize("kv_tokens", [se.SEED_KV_TOKENS, 12_000])
@pytest.mark.parametrize("scheduler", se.GRID_SCHEDULERS + ("slai:10",))
def test_row_recomputed_from_token_times(scheduler, kv_tokens):
    setup = se.seed_setup(requests=SLICE, kv_tokens=kv_tokens)
    row = se.run_point(se.Point(setup, scheduler, RATE))
    run, ttft, gaps = by_hand(setup, scheduler, RATE)
    assert row.requests == SLICE and row.iterations == run.iterations and row.preemptions == run.preemptions
    assert row.ttft_p50_us == percentile(ttft, 50)
    assert row.ttft_p99_us == percentile(ttft, 99) and row.ttft_max_us == max(ttft)
    objective = {"strict": Fraction(100_000), "relaxed": Fraction(500_000)}
    for cls, bound in objective.items():
        assert row.tbt_p99_us[cls] == percentile(gaps[cls], 99)
        assert row.tbt_p50_us[cls] == percentile(gaps[cls], 50)
    meets = percentile(ttft, 50) <= 500_000 and all(percentile(gaps[c], 99) <= b for c, b in objective.items())
    assert row.meets == meets


def test_figures_equal_summarize():
    """The study's fast measures are summarize's, value for value, with memory pressure."""
    setup = se.seed_setup(requests=SLICE, kv_tokens=12_000)
    workload = setup.workload(RATE)
    run = serve(workload, "slai", budget=512, kv_tokens=12_000, max_seqs=128)
    fast, full = se.figures(run.timeline), summarize(run.timeline)
    assert set(fast) == set(full)
    for name in full:
        assert {k: full[name].get(k) for k in se.FIGURES} == fast[name]
    assert parse_objective("seed").check(fast) == parse_objective("seed").check(full)


def test_grid_on_two_workers_equals_one_process_and_reductions():
    setup = se.seed_setup(requests=128)
    points = se.grid_points(setup, ("sarathi", "slai"), (Fraction(4, 5), RATE))
    assert [(p.scheduler, p.rate) for p in points][:2] == [("sarathi", RATE), ("slai", RATE)]
    parallel, serial = se.run_grid(points, workers=2), se.run_grid(points, workers=1)
    assert parallel.rows == serial.rows
    reduction = se.reductions(parallel.rows)
    by = {(r.scheduler, r.rate): r.ttft_p50_us for r in serial.rows}
    assert reduction == {rate: 1 - Fraction(by[("slai", rate)]) / by[("sarathi", rate)] for rate in (Fraction(4, 5), RATE)}


def test_figure_5a_is_the_chunk_sum_of_the_preset():
    """One 2048-token prompt alone: ``sum over chunks (c0 + cp x)`` with the seed preset's 15.2 ms + 57.4 us."""
    rows = se.figure_5a(budgets=(64, 384, 1024), requests=5)
    for row in rows:
        chunks = [min(row.budget, 2048 - k * row.budget) for k in range(row.chunks)]
        assert sum(chunks) == 2048
        assert row.model_ttft_us == sum(15200 + Fraction("57.4") * x for x in chunks)
    assert [r.seed_ttft_ms for r in rows] == [se.SEED_FIGURE_5A_MS[b] for b in (64, 384, 1024)]


def test_fit_of_figure_5a_solves_the_normal_equations():
    c0, cp = se.fit_figure_5a()
    points = [(-(-2048 // b), ms * 1000) for b, ms in se.SEED_FIGURE_5A_MS.items() if b >= 256]
    residuals = [y - n * c0 - 2048 * cp for n, y in points]
    assert sum(residuals) == 0 and sum(n * r for (n, _), r in zip(points, residuals)) == 0
    assert 7000 < c0 < 8000 and 90 < cp < 91


def test_capacity_bracket_is_confirmed_by_its_probes():
    setup = se.seed_setup(requests=SLICE, cost="seed")
    result = se.capacity(setup, "sarathi", objective="ttft_p50<=250ms", start=1, tolerance=Fraction(1, 4), max_probes=8)
    assert result.low is not None and result.high is not None and result.low < result.high
    for probe in result.probes:
        again = se.run_point(se.Point(setup, "sarathi", probe.rate, "ttft_p50<=250ms"))
        assert again.meets == probe.holds == (again.ttft_p50_us <= 250_000)


def test_study_file_round_trip(tmp_path):
    setup = se.seed_setup(requests=64)
    grid = se.run_grid(se.grid_points(setup, ("slai",), (RATE,)), workers=1)
    study = {"format": se.STUDY_FORMAT, "version": se.STUDY_VERSION, "grid": grid.as_json()}
    path = tmp_path / "study.json"
    se.write_study(study, path)
    assert se.grid_rows(se.read_study(path)) == list(grid.rows)
    path.write_text('{"format": "other"}')
    with pytest.raises(FormatError):
        se.read_study(path)


def test_bad_settings():
    with pytest.raises(InputError):
        se.Point(se.seed_setup(), "orca", RATE)
    with pytest.raises(InputError):
        se.Setup(trace="azure")  # the Azure trace keeps its own timestamps
    with pytest.raises(InputError):
        se.run_grid([], workers=0)
    assert parse_cost(se.driver_setups()[-1][1].cost).cp == Fraction("90.66")


STUDY_FILE = Path(__file__).resolve().parents[3] / "docs" / "serving_seed_study.json"


@pytest.mark.slow
@pytest.mark.parametrize("scheduler", ["sarathi", "slai"])
@pytest.mark.parametrize("rate", [Fraction(8, 5), Fraction(16, 5)])
def test_committed_study_rows_recompute_exactly(scheduler, rate):
    """The study file's full-size rows behind the headline (5.8% at 1.6/s, 48.4% at 3.2/s) come back
    exactly from a fresh run of the engine."""
    study = se.read_study(STUDY_FILE)
    rows = se.table(se.grid_rows(study, "grid") + se.grid_rows(study, "beyond"))
    setup = se.Setup(**study["setup"])
    assert setup == se.seed_setup()
    assert se.run_point(se.Point(setup, scheduler, rate)) == rows[(scheduler, rate)]
