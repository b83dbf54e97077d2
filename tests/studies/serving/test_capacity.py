"""Bisection on the rate: a bracket of two probed rates, the tolerance, the probe budget."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.errors import InputError
from prefix_sched.studies.serving.capacity import find_capacity
from prefix_sched.solvers.serving.engine import serve
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.measures import summarize
from prefix_sched.theory.serving.objectives import parse_objective
from prefix_sched.theory.serving.requests import Workload


@settings(max_examples=200, deadline=None)
@given(threshold=st.fractions(Fraction(1, 1000), 1000), start=st.fractions(Fraction(1, 10), 10),
       tolerance=st.fractions(Fraction(1, 100), 1))
def test_bracket_of_a_monotone_objective(threshold, start, tolerance):
    result = find_capacity(lambda rate: (rate <= threshold, []), start=start, tolerance=tolerance, max_probes=60)
    assert result.low is not None and result.high is not None
    assert result.low <= threshold < result.high
    assert result.high - result.low <= tolerance * result.low
    assert all(p.holds == (p.rate <= threshold) for p in result.probes)
    assert result.low in [p.rate for p in result.probes] and result.high in [p.rate for p in result.probes]


def test_probe_budget_and_one_sided_results():
    always = find_capacity(lambda rate: (True, []), start=1, max_probes=4)
    assert always.low == 8 and always.high is None and len(always.probes) == 4
    never = find_capacity(lambda rate: (False, []), start=1, max_probes=3)
    assert never.low is None and never.high == Fraction(1, 4)


@pytest.mark.parametrize("kwargs", [dict(start=0), dict(tolerance=0), dict(max_probes=1), dict(start="nan")])
def test_bad_settings(kwargs):
    with pytest.raises(InputError):
        find_capacity(lambda rate: (True, []), **kwargs)


def test_capacity_of_a_real_engine_is_a_bracket():
    """One request every 1/rate s of 100 prompt tokens and 10 outputs at 1 ms + 10 us per token: the
    median TTFT stays low until the engine saturates."""
    objective = parse_objective("ttft_p50<=20ms")

    def probe(rate):
        n = 60
        arrivals = [int(Fraction(10**6, 1) * k / rate) for k in range(n)]
        w = Workload.from_lengths([100] * n, [10] * n, arrivals)
        run = serve(w, "sarathi", budget=64, cost=parse_cost("c0=1000,cp=10,cd=10"))
        return objective.check(summarize(run.timeline))

    result = find_capacity(probe, start=1, tolerance=Fraction(1, 10), max_probes=30)
    assert result.low is not None and result.high is not None and result.low < result.high


def test_the_capacity_command_puts_every_scheduler_against_the_bound(tmp_path, capsys):
    """``prefix-sched capacity --scheduler a,b,c``: one row per scheduler in the table against the bound,
    the bound's line, and RAD's note (a reconstruction) wherever RAD is named. (The command's own tests
    are in tests/commands; this one checks what issue 22's study relies on.)"""
    from prefix_sched import cli
    from prefix_sched.solvers.serving.registry import RAD_NOTE
    from prefix_sched.theory.serving.capacity_bound import capacity_bound
    from prefix_sched.theory.serving.traces import load_workload

    csv = tmp_path / "len.csv"
    rows = "".join(f"{100 + 3 * i},{5 + i % 7}\n" for i in range(80))
    csv.write_text("num_prefill_tokens,num_decode_tokens\n" + rows)
    status = cli.main(["capacity", str(csv), "--format", "sharegpt", "--scheduler", "sarathi,slai,rad", "--objective",
                       "ttft_p50<=100ms", "--rate", "4", "--max-probes", "4", "--tolerance", "0.5"])
    text = capsys.readouterr().out
    assert status == 0
    assert f"note: rad is {RAD_NOTE}"[:60] in " ".join(text.split())
    bound = capacity_bound(load_workload(csv, "sharegpt", rate=4), "seed")
    assert f"against the bound ({float(bound.rate_req_s):.4f} req/s)" in text
    table = text[text.index("against the bound"):]
    assert all(f"│ {name} " in table for name in ("sarathi", "slai", "rad"))
