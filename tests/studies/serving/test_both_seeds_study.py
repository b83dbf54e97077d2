"""The committed study file (docs/both_seeds_study.json) checked against what can be recomputed without
re-running it: every bound recomputed from the traces, every verdict re-derived from its drift interval,
every rate ratio re-divided, the predictions (tile ratio, fixed shares) recomputed, every bracket checked
against its own probes, the grids complete, and no row contradicting the bound beyond the verdict's
resolution. A missing file fails (it is committed with the study); the full-size re-runs of rows are in
test_both_seeds.py and test_stability.py."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from prefix_sched.studies.data import MOONCAKE_TRACE, SHAREGPT_LENGTHS, find_shared
from prefix_sched.studies.serving import both_seeds as bs
from prefix_sched.studies.serving import stability
from prefix_sched.theory.numbers import exact_number

STUDY = Path(__file__).resolve().parents[3] / "docs" / "both_seeds_study.json"
needs_data = pytest.mark.skipif(find_shared(MOONCAKE_TRACE) is None or find_shared(SHAREGPT_LENGTHS) is None,
                                reason="the shared traces are absent")
RESOLUTION = Fraction(1, 20)
"""How far above the bound a run may still read ``stable``: at ``q = 1 + e`` the drift is at least
``e Lambda w`` (about 60 tokens/s at e = 0.023 on the ShareGPT runs), inside the interval's half-width
(about 150 tokens/s at the bound), so the verdict cannot see it; beyond 5% it must."""


@pytest.fixture(scope="module")
def study() -> dict:
    assert STUDY.exists(), f"{STUDY} is committed with the study; it is missing"
    return bs.read_study(STUDY)


def F(value) -> Fraction:
    return Fraction(exact_number(value, "a study figure"))


def test_every_part_is_there(study):
    for part in ("orders", "routers", "stability", "capacity", "extras"):
        assert part in study, part
        assert study["wall_s"][part] > 0
    for part in ("boundary_unbounded_kv", "boundary_seed_kv", "tile", "fixed_share", "bisection_unbounded_kv",
                 "bisection_seed_kv"):
        assert part in study["stability"], part


def test_the_grids_are_complete(study):
    """Every point of the grids has a row or a recorded failure, once."""
    grid = bs.Grid(**study["grid"])
    for part, points in (("orders", bs.order_points(grid=grid)), ("routers", bs.router_points(grid=grid))):
        ran = [(r["label"], F(r["rate"])) for r in study[part]["rows"] + study[part]["failures"]]
        assert sorted(ran) == sorted((p.label, p.rate) for p in points), part
    stab = study["stability"]
    setup = stability.Setup(**stab["boundary_unbounded_kv"]["setup"])
    assert {(r.label, r.rate) for r in bs.stability_rows(study, "boundary_unbounded_kv")} == {
        (p.scheduler, p.rate) for p in stability.boundary_points(setup)}


@needs_data
def test_the_bounds_recompute(study):
    """The bound of every part, recomputed from the shared traces, equals the file's."""
    grid = bs.Grid(**study["grid"])
    for cache in bs.CACHES:
        assert bs.bound_for(grid, cache).as_dict() == study["bounds"][cache], cache
    for part in ("boundary_unbounded_kv", "boundary_seed_kv", "tile"):
        setup = stability.Setup(**study["stability"][part]["setup"])
        assert setup.bound().as_dict() == study["stability"][part]["bound"], part
    tile = study["stability"]["tile"]
    assert replace(stability.Setup(**tile["setup"]), budget=520).bound().as_dict() == tile["bound_520"]


@needs_data
def test_the_predictions_recompute(study):
    """The tile ratio by hand (512 tokens: 15,200 + 57.4 x 512 us; 520 charged as 640), and each fixed
    share's predicted boundary from the live bound."""
    tile = study["stability"]["tile"]
    assert F(tile["predicted_ratio"]) == Fraction(520 * 512 * Fraction("57.4") + 520 * 15200,
                                                  512 * (15200 + 640 * Fraction("57.4"))) == stability.tile_ratio()
    fixed = study["stability"]["fixed_share"]
    bound = stability.Setup(**fixed["setup"]).bound()
    assert F(fixed["decode_fraction"]) == Fraction(bound.outputs - bound.requests, bound.tokens)
    assert {F(k): F(v) for k, v in fixed["predicted"].items()} == {
        share: stability.fixed_share_boundary(bound, share) for share in stability.fixed_shares(bound)}


def _stability_rows(study):
    for part in ("boundary_unbounded_kv", "boundary_seed_kv", "tile", "fixed_share"):
        for row in study["stability"][part]["rows"]:
            yield part, row
    for part in ("bisection_unbounded_kv", "bisection_seed_kv"):
        for name, data in study["stability"][part]["schedulers"].items():
            for row in data["probes"]:
                yield f"{part}/{name}", row


def test_every_verdict_is_its_interval(study):
    """``unstable`` exactly when the drift's interval lies above 0; ``q`` is realised / bound; the
    interval holds the slope."""
    for part, row in _stability_rows(study):
        d = row["drift_tok_s"]
        assert row["verdict"] == d["verdict"] == ("unstable" if d["low"] > 0 else "stable"), (part, row["label"])
        assert d["low"] <= d["slope"] <= d["high"]
        assert row["q"] == pytest.approx(float(F(row["realised_rate"]) / F(row["bound_rate"])), rel=1e-12)
    for part in ("orders", "routers"):
        for row in study[part]["rows"]:
            d = row["drift"]
            assert d["verdict"] == ("unstable" if d["low"] > 0 else "stable"), row["label"]


def test_no_run_contradicts_the_bound(study):
    """No run reads stable beyond the verdict's resolution above the bound, and above the bound every
    drift interval reaches the floor ``(lambda - Lambda) w`` that the bound forces (the token term binds,
    ``cp = cd``, no context term)."""
    checked = 0
    for part, row in _stability_rows(study):
        q = F(row["realised_rate"]) / F(row["bound_rate"])
        if row["verdict"] == "stable":
            assert q < 1 + RESOLUTION, (part, row["label"], float(q))
        if row["drift_floor_tok_s"] is not None and q > 1:
            assert row["drift_tok_s"]["high"] >= row["drift_floor_tok_s"], (part, row["label"], float(q))
            checked += 1
    assert checked > 10


def test_the_brackets_are_their_probes(study):
    """Each bisection's lower end is a stable probe and its upper end an unstable one, no probe between;
    each capacity row's ratios are its realised rates over the bound, and its ends are its probes'."""
    for part in ("bisection_unbounded_kv", "bisection_seed_kv"):
        for name, data in study["stability"][part]["schedulers"].items():
            probes = {F(p["rate"]): p["verdict"] for p in data["probes"]}
            low, high = F(data["low"]["rate"]), F(data["high"]["rate"])
            assert probes[low] == "stable" and probes[high] == "unstable", (part, name)
            assert not any(low < rate < high for rate in probes), (part, name)
    extra = study["extras"]["tile_bisection"]["sarathi"]
    probes = {F(p["rate"]): p["verdict"] for p in extra["probes"]}
    assert probes[F(extra["low"]["rate"])] == "stable" and probes[F(extra["high"]["rate"])] == "unstable"
    cap = study["capacity"]
    bound = F(cap["bound"]["rate_req_s"])
    for row in cap["rows"]:
        assert F(row["low_ratio"]) == F(row["low_realised"]) / bound
        assert F(row["high_ratio"]) == F(row["high_realised"]) / bound
        holds = {F(p["rate"]): p["holds"] for p in row["probes"]}
        assert holds[F(row["low"])] is True and holds[F(row["high"])] is False, row["scheduler"]


def test_reuse_never_passes_the_bounds_reuse(study):
    """The bound counts at most ``min(|p| - 1, max shared prefix)`` cached tokens a request: no run's
    reuse passes that share (and none without a cache reuses anything)."""
    ceiling = {c: Fraction(b["reuse_tokens"], b["prompt_tokens"]) for c, b in study["bounds"].items()}
    for part in ("orders", "routers"):
        for row in study[part]["rows"]:
            assert 0 <= F(row["reuse"]) <= ceiling[row["cache"]], row["label"]
            if row["cache"] == "none":
                assert F(row["reuse"]) == 0
            assert F(row["imbalance_requests"]) >= 1
            assert F(row["ttft_p50_us"]) <= F(row["ttft_p90_us"]) <= F(row["ttft_p99_us"]) <= F(row["ttft_max_us"])
