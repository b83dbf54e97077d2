"""The stability study: the backlog recomputed request by request from the token times, the drift on
series whose slope is known, the operational verdict on both sides of the bound, the predictions
(tile ratio, fixed-share boundary) by hand, the claims of docs/both_seeds.md re-created at a
smaller scale, and committed rows of docs/both_seeds_study.json re-run exactly."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.solvers.serving.registry import SCHEDULER_FORMS
from prefix_sched.studies.data import SHAREGPT_LENGTHS, find_shared
from prefix_sched.studies.serving import stability
from prefix_sched.theory.serving.capacity_bound import capacity_bound
from prefix_sched.theory.serving.requests import Workload

STUDY = Path(__file__).resolve().parents[3] / "docs" / "both_seeds_study.json"
needs_data = pytest.mark.skipif(find_shared(SHAREGPT_LENGTHS) is None, reason="the shared ShareGPT trace is absent")


def reference_backlog(timeline, t: int) -> tuple[int, int]:
    """Request by request: the uncached prompt while the first token is not out, plus each later token
    not yet out; and the arrived requests whose last token is not out."""
    work = requests = 0
    for i, r in enumerate(timeline.workload.requests):
        if timeline.arrival[i] > t:
            continue
        times = timeline.token_times[timeline.offsets[i]:timeline.offsets[i + 1]]
        if times[0] > t:
            work += r.prompt_tokens - int(timeline.cached_tokens[i])
        work += int((times[1:] > t).sum())
        requests += int(times[-1] > t)
    return work, requests


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scheduler=st.sampled_from(SCHEDULER_FORMS),
       cache=st.sampled_from(["none", "unbounded"]))
def test_backlog_equals_the_request_by_request_count(seed, scheduler, cache):
    rng = np.random.default_rng(seed)
    n = 30
    prompts = rng.integers(1, 40, n).tolist()
    segments = [(("s", 1), (f"q{i}", p - 1)) if p > 1 else (("s", 1),) for i, p in enumerate(prompts)]
    w = Workload.from_lengths(prompts, rng.integers(1, 8, n).tolist(), np.cumsum(rng.integers(0, 60, n)).tolist(),
                              prompts=segments)
    run = serve(w, scheduler, budget=48, cost="c0=20,cp=1,cd=1", max_seqs=6, prefix_cache=cache)
    t = run.timeline
    times = np.unique(np.concatenate([t.arrival, t.token_times, t.token_times - 1, [0]]))
    work, requests = stability.backlog(t, times)
    for k in range(0, len(times), max(1, len(times) // 25)):
        assert (int(work[k]), int(requests[k])) == reference_backlog(t, int(times[k]))
    assert work[-1] == 0 and requests[-1] == 0


def test_drift_recovers_a_known_slope():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 100, 400)
    d = stability.drift(t, 5 * t + rng.normal(0, 20, 400))
    assert d.low < 5 < d.high and d.verdict == "unstable"
    flat = stability.drift(t, rng.normal(0, 20, 400))
    assert flat.low < 0 < flat.high and flat.verdict == "stable"
    walk = stability.drift(t, np.abs(np.cumsum(rng.normal(0, 1, 400))))  # a reflected walk: no trend
    assert walk.blocks == 10
    with pytest.raises(InputError, match="2 blocks"):
        stability.drift(t[:10], t[:10], blocks=10)


def test_tile_ratio_by_hand():
    """seed-tile128: 512 tokens cost 15,200 + 57.4 * 512 = 44,588.8 us, 520 cost 15,200 + 57.4 * 640 =
    51,936 us: (520 / 51936) / (512 / 44588.8) = 90571 / 103872."""
    assert stability.tile_ratio() == Fraction(520 * Fraction("44588.8"), 512 * 51936) == Fraction(90571, 103872)
    assert stability.tile_ratio("seed") > 1  # without the tile 520 tokens are the better batch


def test_fixed_share_boundary_by_hand():
    """Prompt 70, output 11: w = 80 batch tokens, 10 of them decodes: f = 1/8. With n* = 512 and F = 1/8
    (64 decode and 448 prefill tokens a batch) both caps saturate at Lambda = 1 / (80 c0 / 512 + 80 cp)
    (70 / 448 = 10 / 64 = 80 / 512); F = 1/2 starves prefill: 1 / (70 c0 / 256 + 80 cp)."""
    w = Workload.from_lengths([70] * 4, [11] * 4, [0] * 4)
    bound = capacity_bound(w, "seed")
    assert bound.binding == "tokens" and stability.decode_fraction(bound) == Fraction(1, 8)
    assert stability.fixed_share_boundary(bound, Fraction(1, 8)) == bound.rate_req_s
    expected = 1 / (70 * Fraction(15200) / 256 + 80 * Fraction("57.4")) * 10**6
    assert stability.fixed_share_boundary(bound, Fraction(1, 2)) == expected < bound.rate_req_s
    assert stability.fixed_shares(bound)[1] == Fraction(1, 8)


def test_rates_around_round_to_four_digits():
    w = Workload.from_lengths([3] * 4, [2] * 4, [0] * 4)
    bound = capacity_bound(w, "seed")
    rates = stability.rates_around(bound, [Fraction(1, 2), 1])
    assert all(abs(r / (q * bound.rate_req_s) - 1) < Fraction(1, 1000) for r, q in zip(rates, [Fraction(1, 2), 1]))
    assert all(len(str(r * 10**12).rstrip("0")) <= 4 for r in rates)  # four significant digits, exactly


def test_measure_needs_spread_arrivals():
    w = Workload.from_lengths([3, 3], [2, 2], [5, 5])
    run = serve(w, "sarathi", cost="seed")
    with pytest.raises(InputError, match="spread"):
        stability.measure(run.timeline, None)


# --- the claims, at a smaller scale (the study file has the full-size runs) ---------------------------

def _rows(setup, specs):
    bound = setup.bound()
    out = {}
    for label, setup_, scheduler, q in specs:
        rate = stability.rates_around(bound, [q])[0]
        out[(label, q)] = stability.run_point(stability.Point(setup_, scheduler, rate, label=label))
    return out


@needs_data
def test_below_the_bound_stable_above_it_growing_at_least_at_the_floor():
    """Claim 2, first part, for Sarathi (unbounded KV, 4,096 ShareGPT requests): stable at 0.8 Lambda, and at
    1.25 Lambda the backlog grows at least at the bound's floor (lambda - Lambda) w, within its interval."""
    setup = stability.Setup(kv_tokens=None, requests=4096)
    rows = _rows(setup, [("sarathi", setup, "sarathi", Fraction(4, 5)), ("sarathi", setup, "sarathi", Fraction(5, 4))])
    low, high = rows[("sarathi", Fraction(4, 5))], rows[("sarathi", Fraction(5, 4))]
    assert low.q < 1 and low.verdict == "stable"
    assert high.q > 1 and high.verdict == "unstable" and high.drift_tok_s.high >= high.drift_floor_tok_s > 0


@needs_data
def test_a_budget_off_the_tile_lowers_a_fixed_budget_engine_not_rad():
    """seed-tile128, 8,192 requests (4,096 are too few to show the drift at 0.95), at 0.95 Lambda (above the
    predicted 0.872 Lambda of budget 520): Sarathi at 520 is unstable, Sarathi at 512 and RAD at 520
    (n* = 512) are stable; at 0.8 Lambda all are."""
    setup = stability.Setup(kv_tokens=None, requests=8192, cost="seed-tile128")
    off = replace(setup, budget=520)
    specs = [(label, s, name, q) for q in (Fraction(4, 5), Fraction(19, 20))
             for label, s, name in (("sarathi@512", setup, "sarathi"), ("sarathi@520", off, "sarathi"),
                                    ("rad@520", off, "rad"))]
    rows = _rows(setup, specs)
    assert rows[("sarathi@520", Fraction(19, 20))].verdict == "unstable"
    assert rows[("sarathi@512", Fraction(19, 20))].verdict == "stable"
    assert rows[("rad@520", Fraction(19, 20))].verdict == "stable"
    assert all(rows[(label, Fraction(4, 5))].verdict == "stable" for label in ("sarathi@512", "sarathi@520", "rad@520"))


@needs_data
def test_a_fixed_decode_share_is_unstable_inside_the_region_unless_it_matches():
    """rad-fixed:F at 0.9 Lambda (4,096 requests, unbounded KV): F = 1/16 and F = 1/2 are unstable (predicted
    boundaries 0.66 and 0.81 Lambda), F at the decode fraction is stable."""
    setup = stability.Setup(kv_tokens=None, requests=4096)
    bound = setup.bound()
    low, matched, high = stability.fixed_shares(bound)
    assert stability.fixed_share_boundary(bound, low) < Fraction(7, 10) * bound.rate_req_s
    assert stability.fixed_share_boundary(bound, high) < Fraction(17, 20) * bound.rate_req_s
    specs = [(f"F={F}", setup, f"rad-fixed:{F}", Fraction(9, 10)) for F in (low, matched, high)]
    rows = _rows(setup, specs)
    verdicts = {label: row.verdict for (label, _), row in rows.items()}
    assert verdicts == {f"F={low}": "unstable", f"F={matched}": "stable", f"F={high}": "unstable"}


@needs_data
def test_rad_falls_short_of_full_batches_above_the_bound():
    """The reconstruction's split starves decodes when the waiting queue is long: above the bound part of
    RAD's batches hold decodes only and fewer than n* tokens, while Sarathi's hold n* = 512 each."""
    setup = stability.Setup(kv_tokens=None, requests=3000)
    rate = stability.rates_around(setup.bound(), [Fraction(21, 20)])[0]
    rad = stability.batch_fill(stability.Point(setup, "rad", rate))
    sarathi = stability.batch_fill(stability.Point(setup, "sarathi", rate))
    assert sarathi["full_share"] == 1 and sarathi["decode_only_share"] == 0
    assert rad["decode_only_share"] > 0.1 and rad["mean_tokens"] < 480


@needs_data
def test_committed_rows_recompute_exactly():
    """A full-size row of the study file (16,384 requests), re-run: every figure equal. The file is
    committed with the study: its absence is a failure."""
    from prefix_sched.studies.serving.both_seeds import read_study, stability_rows

    assert STUDY.exists(), f"{STUDY} is committed with the study; it is missing"
    study = read_study(STUDY)
    tile = next(r for r in stability_rows(study, "tile") if r.label == "sarathi@520" and 0.95 < float(r.q) < 0.97)
    setup = stability.Setup(**{**study["stability"]["tile"]["setup"], "budget": 520})
    again = stability.run_point(stability.Point(setup, "sarathi", tile.rate, label="sarathi@520"))
    assert again == tile
