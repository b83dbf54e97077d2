"""Issue 22's study: the grids come from the registries, each row's figures are recomputed from the
token times, a run the engine cannot finish is recorded and credited to nobody, rankings by hand,
the study file round-trips, its figures draw, and committed rows re-run exactly."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from prefix_sched.errors import FormatError
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.studies.data import MOONCAKE_TRACE, find_shared
from prefix_sched.studies.serving import both_seeds as bs
from prefix_sched.theory.serving.measures import exact_percentile

STUDY = Path(__file__).resolve().parents[3] / "docs" / "both_seeds_study.json"
needs_data = pytest.mark.skipif(find_shared(MOONCAKE_TRACE) is None, reason="the shared Mooncake trace is absent")


def committed_study() -> dict:
    """The committed study file: its absence is a failure, not a skip."""
    assert STUDY.exists(), f"{STUDY} is committed with the study; it is missing"
    return bs.read_study(STUDY)


def test_the_grids():
    assert bs.orders_for("none") == ("fcfs", "hrrn")
    assert bs.orders_for("lru") == bs.orders_for("unbounded") == bs.ORDERS
    points = bs.order_points()
    assert len(points) == len(bs.ORDER_RATES) * (len(bs.ORDER_SCHEDULERS) * 12 + 3 + 3)
    assert len({p.label + str(p.rate) for p in points}) == len(points)
    routers = bs.router_points()
    assert {(p.engines, p.router) for p in routers if p.engines == 1} == {(1, None)}
    assert all(p.rate == bs.ROUTER_RATE_PER_ENGINE * p.engines for p in routers)


@needs_data
def test_a_row_is_its_run_recomputed():
    grid = bs.Grid(requests=300)
    for point in (bs.ServePoint("sarathi", "fcfs", "none", Fraction(1, 2), grid=grid),
                  bs.ServePoint("sglang", "lpm", "unbounded", Fraction(3, 2), 3, "prefix-aware", grid=grid)):
        row = bs.run_serve_point(point)
        w = bs.workload_at("mooncake", point.rate, 300)
        run = serve(w, point.scheduler, order=point.order, prefix_cache=point.cache, kv_tokens=grid.kv_tokens,
                    engines=point.engines, router=point.router)
        t = run.timeline
        D = t.ticks_per_us
        assert row.ttft_p99_us == Fraction(exact_percentile(np.sort(t.ttft()), 99), D)
        assert row.reuse == Fraction(int(t.cached_tokens.sum()), w.total_prompt_tokens)
        counts = np.bincount(t.engine, minlength=point.engines)
        assert row.imbalance_requests == Fraction(int(counts.max()) * point.engines, w.n)
        assert row.bound_rate == bs.bound_for(grid, point.cache, point.engines).rate_req_s
        assert row.drift["verdict"] in ("stable", "unstable")
        assert bs.ServeRow.from_json(row.as_json()) == row


def test_a_run_that_cannot_finish_is_recorded_not_credited(monkeypatch):
    def broken(point):
        raise AssertionError("a radix node ends inside a segment")

    monkeypatch.setattr(bs, "run_serve_point", broken)
    rows, failures, _ = bs.run_serve_points([bs.ServePoint("sarathi", "dfs-weight", "lru", 1)], workers=1)
    assert rows == [] and failures[0]["order"] == "dfs-weight" and "radix node" in failures[0]["error"]


def _row(scheduler, cache, rate, order, p99):
    return bs.ServeRow(f"{scheduler}/{order}/{cache}", scheduler, order, cache, Fraction(rate), 1, None, 10, 1, 1, p99,
                       p99, None, None, Fraction(0), 0, 0, Fraction(1), None, {}, None)


def test_rankings_and_ratios_by_hand():
    rows = [_row("sarathi", "lru", 1, "fcfs", 30), _row("sarathi", "lru", 1, "lpm", 10),
            _row("sarathi", "lru", 1, "k-lpm:3", 20), _row("vllm", "none", 1, "fcfs", 5), _row("slai", "lru", 1, None, 1)]
    assert bs.rankings(rows) == {("sarathi", "lru", Fraction(1)): ["lpm", "k-lpm:3", "fcfs"],
                                 ("vllm", "none", Fraction(1)): ["fcfs"]}
    assert bs.ratio_to(rows, "k-lpm:3", "lpm") == {("sarathi", "lru", Fraction(1)): 2}


def test_the_study_file_round_trips(tmp_path):
    study = {"format": bs.STUDY_FORMAT, "version": bs.STUDY_VERSION, "orders": {"rows": []}}
    bs.write_study(study, tmp_path / "s.json")
    assert bs.read_study(tmp_path / "s.json") == study
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(FormatError, match="not a prefix-sched-both-seeds-study"):
        bs.read_study(tmp_path / "bad.json")


def test_the_figures_draw(tmp_path):
    from prefix_sched.studies.serving import both_seeds_plots

    paths = both_seeds_plots.write_figures(committed_study(), tmp_path)
    assert {p.name for p in paths} == set(both_seeds_plots.FIGURES)
    assert all(p.stat().st_size > 10_000 for p in paths)


@needs_data
def test_committed_rows_recompute_exactly():
    """A row of the order grid and one of the router grid (all 12,031 requests), re-run: equal figures."""
    study = committed_study()
    for part, pick in (("orders", lambda r: r.label == "sglang/lpm/unbounded" and r.rate == Fraction(2, 5)),
                       ("routers", lambda r: r.engines == 4 and r.router == "prefix-aware" and r.cache == "lru")):
        saved = next(r for r in bs.serve_rows(study, part) if pick(r))
        point = bs.ServePoint(saved.scheduler, saved.order, saved.cache, saved.rate, saved.engines, saved.router,
                              bs.Grid(**study["grid"]))
        assert bs.run_serve_point(point) == saved


@pytest.mark.filterwarnings("ignore:'prefix_sched.studies.serving.both_seeds' found in sys.modules:RuntimeWarning")
def test_every_part_runs_from_the_command_line(tmp_path, monkeypatch):
    """``python -m ...both_seeds OUT --parts extras`` reaches every function it names (the module runs
    ``main`` as a script: a part defined below the ``__main__`` guard would be a NameError there); the
    long runs are replaced by stand-ins."""
    import runpy
    import sys

    from prefix_sched.studies.serving import stability
    from prefix_sched.studies.serving.capacity import Capacity
    from prefix_sched.theory.serving import traces
    from prefix_sched.theory.serving.capacity_bound import capacity_bound

    monkeypatch.setattr(stability, "stability_boundary", lambda *a, **k: Capacity(None, None, ()))
    monkeypatch.setattr(stability, "boundary_json", lambda cap, bound: {"low": None, "high": None, "probes": []})
    monkeypatch.setattr(stability, "batch_fills", lambda points, workers: ([{"label": p.label} for p in points], 0.0))
    monkeypatch.setattr(stability.Setup, "bound", lambda self: capacity_bound(_tiny(), "seed"))
    monkeypatch.setattr(traces, "load_workload", lambda *args, **kwargs: _tiny())  # the module re-imports it
    out = tmp_path / "s.json"
    monkeypatch.setattr(sys, "argv", ["both_seeds", str(out), "--workers", "1", "--parts", "extras"])
    runpy.run_module("prefix_sched.studies.serving.both_seeds", run_name="__main__")
    study = bs.read_study(out)
    assert len(study["extras"]["batches"]["rows"]) == 12 and "tile_bisection" in study["extras"]


def _tiny():
    from prefix_sched.theory.serving.requests import Workload

    return Workload.from_lengths([100] * 4, [10] * 4, [0, 1, 2, 3])


def test_a_run_past_the_time_limit_is_recorded_not_credited(monkeypatch):
    import time

    def slow(point):
        time.sleep(5)

    monkeypatch.setattr(bs, "run_serve_point", slow)
    started = time.perf_counter()
    failure = bs.try_serve_point(bs.ServePoint("sarathi", "hrrn", "none", 1), limit_s=0.2)
    assert time.perf_counter() - started < 3
    assert failure["order"] == "hrrn" and failure["error"] == "TimeLimit: did not finish within 0.2 s of wall time"
