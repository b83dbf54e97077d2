"""Theorem 2's bounds evaluated exactly: sympy against plain-Fraction formulas, the domain, the CLI.

Every expected value here is recomputed with ``fractions.Fraction`` from the formulas as THEORY.md
states them, written out in this file, never from sympy.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.errors import CheckFailed, InputError, PrefixSchedError
from prefix_sched.theory.theorem2 import bounds
from prefix_sched.theory.theorem2.guarantee import GuaranteeViolation, assert_guarantee, check_order
from prefix_sched.theory.formats import read_schedule_order, read_stream
from prefix_sched.theory.theorem2.definition4 import definition4_stream, parse_definition4

# ---- the formulas, by hand ------------------------------------------------------------------------


def klpm_tight(n, r, u, d, delta, s):
    m = Fraction(n, r)
    return s + max(u + d, (m - 1) * (u + r * d - delta) + u + d, m * (u + r * d - delta))


def klpm_paper(n, r, u, d, delta, s):
    return s + delta + n * (u / Fraction(r) + d - delta / Fraction(r))


def klpm_model_reading(n, r, u, d, delta):
    return n * (u / Fraction(r) + d - delta / Fraction(r))


def lpm_lower(n, r, u, d, delta, s, eps):
    return s + (1 - eps) * n * (u / Fraction(r) + d) - (eps * n - 1) * delta


def fcfs_lower(n, u, d, delta, s, eps):
    return s + n * (u + d) - eps * n * u - (n - 1) * delta


def lpm_failure(n, eps):
    early = math.floor(eps * n)
    late = n - math.ceil((1 - eps) * n) + 1
    return min(Fraction(1), Fraction(math.comb(n - early, late), math.comb(n, late)))


def fcfs_failure(n, r, eps):
    return min(Fraction(1), (r - 1) / (eps * n))


# ---- random rationals in the domain ---------------------------------------------------------------

def rationals(least: int, big: int = 10**9):
    """Exact numbers >= least: integers, small and huge fractions (numerators up to 10^9 * 10^6)."""
    fraction = st.builds(lambda p, q: least + Fraction(p, q), st.integers(0, big), st.integers(1, 10**6))
    return st.one_of(st.integers(least, 1000), fraction)


@st.composite
def parameters(draw):
    r = draw(st.integers(1, 12))
    n = r * draw(st.integers(1, 40))
    delta = Fraction(draw(rationals(0)))
    s = (n - 1) * delta + Fraction(draw(st.one_of(st.just(0), rationals(0))))
    p, q = draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))
    eps = Fraction(min(p, q), max(p, q) + 1)  # 0 < eps < 1
    return dict(n=n, r=r, u=Fraction(draw(rationals(1))), d=Fraction(draw(rationals(1))), Delta=delta, s=s, eps=eps)


def as_given(value: Fraction, how: int) -> object:
    """The same number as the API accepts it: a Fraction, a "p/q" string, or an int when integral."""
    if how == 1:
        return f"{value.numerator}/{value.denominator}"
    if how == 2 and value.denominator == 1:
        return int(value)
    return value


@settings(max_examples=1000, deadline=None)
@given(parameters(), st.integers(0, 2))
def test_every_statement_matches_its_fraction_formula(p, how):
    """1000 draws of seven random rationals each (huge numerators and denominators included):
    each statement's sympy bound and failure probability equal the hand-written Fraction formula."""
    given_p = {name: as_given(value, how) for name, value in p.items()}
    n, r, u, d, delta, s, eps = (p[x] for x in ("n", "r", "u", "d", "Delta", "s", "eps"))
    n, r = int(n), int(r)
    core = {k: given_p[k] for k in ("n", "r", "u", "d", "Delta", "s")}
    checks = [
        (bounds.KLPM_TIGHT.value(**core), klpm_tight(n, r, u, d, delta, s)),
        (bounds.KLPM_PAPER.value(**core), klpm_paper(n, r, u, d, delta, s)),
        (bounds.KLPM_MODEL_READING.value(**{k: core[k] for k in ("n", "r", "u", "d", "Delta")}),
         klpm_model_reading(n, r, u, d, delta)),
        (bounds.LPM_LOWER.value(**core, eps=given_p["eps"]), lpm_lower(n, r, u, d, delta, s, eps)),
        (bounds.FCFS_LOWER.value(**core, eps=given_p["eps"]), fcfs_lower(n, u, d, delta, s, eps)),
        (bounds.LPM_LOWER.failure_probability(n=n, eps=given_p["eps"]), lpm_failure(n, eps)),
        (bounds.FCFS_LOWER.failure_probability(n=n, r=r, eps=given_p["eps"]), fcfs_failure(n, r, eps)),
        (bounds.lpm_failure(n, given_p["eps"]), lpm_failure(n, eps)),
    ]
    for got, expected in checks:
        assert type(got) is Fraction and got == expected


def test_the_issues_fractional_case_by_hand():
    """n = 12, r = 3, u = 16, d = 1, Delta = 383/2, s = 4219/2 (the issue's repro): the three terms
    are s + 17 = 4253/2, s + 3 (19 - 383/2) + 17 = 1609 and s + 4 (19 - 383/2) = 2839/2. sympy's
    nsimplify had turned 4253/2 into 1361367 2^(32/111) 3^(38/111) 5^(64/111) 7^(71/111) / 10000."""
    p = dict(n=12, r=3, u=16, d=1, Delta="383/2", s="4219/2")
    assert bounds.KLPM_TIGHT.value(**p) == Fraction(4253, 2) == klpm_tight(12, 3, 16, 1, Fraction(383, 2), Fraction(4219, 2))
    assert bounds.evaluate_expression(bounds.KLPM_TIGHT.bound, **p) == Fraction(4253, 2)


def test_u_zero_is_refused_and_the_old_319_was_below_an_attained_ttft():
    """n = 26, r = 2, u = 0, d = 6, Delta = 13, s = 325: the formula's three terms are 331, 319 and
    312, so its value is 331; the old evaluator said 319 because sympy, substituting one symbol at a
    time, dropped the first term while u was still a symbol assumed to be a positive integer
    (12 u - 12 >= 0 for u >= 1). 319 is even below what every order reaches: the oldest query is
    served first and waits until s, so its TTFT is s + u + d = 331. u = 0 is outside Definition 4
    (a user prefix is a segment of positive length; the CLI refuses --u 0), so it is refused."""
    assert klpm_tight(26, 2, 0, 6, 13, 325) == 331
    with pytest.raises(InputError, match="u must be >= 1, got 0"):
        bounds.KLPM_TIGHT.value(n=26, r=2, u=0, d=6, Delta=13, s=325)
    for u in (1, 2, Fraction(3, 2)):  # just inside the domain the value is the formula's
        assert bounds.KLPM_TIGHT.value(n=26, r=2, u=u, d=6, Delta=13, s=325) == klpm_tight(26, 2, u, 6, 13, 325)


@pytest.mark.parametrize("params,message", [
    (dict(n=0), "n must be >= 1, got 0"),
    (dict(n="5/2"), "n must be an integer, got '5/2'"),
    (dict(r=0), "r must be >= 1, got 0"),
    (dict(n=6, r=4), "r must divide n, got n=6, r=4"),
    (dict(u=0), "u must be >= 1, got 0"),
    (dict(u="1/2"), "u must be >= 1, got '1/2'"),
    (dict(d=-1), "d must be >= 1, got -1"),
    (dict(Delta="-1/3"), "Delta must be >= 0, got '-1/3'"),
    (dict(s=-1), "s must be >= 0, got -1"),
    (dict(eps=0), "eps must be > 0, got 0"),
    (dict(eps=1), "eps must be < 1, got 1"),
    (dict(eps=float("nan")), "eps must be finite, got nan"),
    (dict(Delta=True), "Delta must be a number, got True"),
    (dict(alpha=1), r"unknown parameter\(s\) \['alpha'\]"),
])
def test_out_of_domain_parameters_name_the_value(params, message):
    with pytest.raises(InputError, match=message):
        bounds.check_parameters(**params)
    with pytest.raises(InputError, match=message):
        bounds.evaluate_expression(bounds.n, **{"n": 1, **params})


def test_batch_statements_refuse_a_start_before_the_last_arrival():
    p = dict(n=4, r=2, u=1, d=1, Delta=2)
    for statement in (bounds.KLPM_TIGHT, bounds.KLPM_PAPER):
        with pytest.raises(InputError, match=r"s >= \(n - 1\) Delta = 6, got s = 11/2"):
            statement.value(**p, s="11/2")
    with pytest.raises(InputError, match="s >= "):
        bounds.LPM_LOWER.value(**p, s=5, eps="1/4")
    # FCFS's lower bound is also claimed online and fixed, from s = 0
    assert bounds.FCFS_LOWER.value(**p, s=0, eps="1/4") == fcfs_lower(4, 1, 1, 2, 0, Fraction(1, 4))


def test_missing_symbols_and_non_rational_values_are_refused():
    with pytest.raises(InputError, match=r"needs values for \['Delta', 's'\]"):
        bounds.KLPM_TIGHT.value(n=4, r=2, u=1, d=1)
    with pytest.raises(InputError, match=r"needs values for \['eps'\]"):
        bounds.LPM_LOWER.failure_probability(n=4)
    with pytest.raises(InputError, match="not a rational number"):
        bounds.evaluate_expression(bounds.PAIR_PROBABILITY, n=1, r=1)  # 0/0


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**6), rationals(0, big=10**6))
def test_effective_lengths_by_hand(u, d, alpha):
    alpha = Fraction(alpha)
    assert bounds.effective_lengths(u, d, alpha) == (u + alpha * u * u, d + alpha * (2 * u * d + d * d))


@pytest.mark.parametrize("args,message", [
    ((0, 1, 0), "u must be >= 1, got 0"),
    ((1, "3/2", 0), "d must be an integer"),
    ((1, 1, "-1/2"), "alpha must be >= 0"),
])
def test_effective_lengths_domain(args, message):
    with pytest.raises(InputError, match=message):
        bounds.effective_lengths(*args)


def test_corollary3_helpers_check_their_parameters():
    with pytest.raises(InputError, match="r must be >= 1, got 0"):
        bounds.in_corollary3_region(0, 100, 50)
    with pytest.raises(InputError, match="r must be an integer, got 2.5"):
        bounds.corollary3_threshold(2.5, 100, 5, 50, "1/10")
    with pytest.raises(InputError, match="eps must be < 1"):
        bounds.lpm_failure(10, 1)
    with pytest.raises(InputError, match=r"failure probability\) must be in \(0, 1\), got 0"):
        bounds.corollary3_sample_size(4, 100, 5, 50, "1/10", 0)
    # the region r >= 2, 0 < Delta < u holds for fractional Delta too, exactly up to the edge
    assert bounds.in_corollary3_region(2, 100, "199/2") and not bounds.in_corollary3_region(2, 100, 100)


def test_guarantee_violation_is_a_failed_check_not_bad_input():
    assert issubclass(GuaranteeViolation, CheckFailed)
    assert not issubclass(GuaranteeViolation, (PrefixSchedError, ValueError))
    stream = definition4_stream([0, 1, 0, 1], u=5, d=5, delta="1/2")
    with pytest.raises(GuaranteeViolation, match="breaks the proven k-LPM bound 63/2"):
        assert_guarantee(check_order(stream, [1, 2, 3, 0], "batch", start="5/2"))


# ---- the issue's CLI repro, end to end ----------------------------------------------------------

def batch_by_hand(stream, order, s):
    """Batch-view max TTFT of ``order`` on a Definition 4 stream, by hand: the clock starts at s; a
    query costs d after a query of its user, u + d otherwise; TTFT = completion - arrival."""
    clock, previous, worst = Fraction(s), None, Fraction(-1)
    for index in order:
        query = stream.queries[index]
        (user, u), (_, d) = query.prompt
        clock += d if user == previous else u + d
        previous = user
        worst = max(worst, clock - query.arrival)
    return worst


def test_cli_guarantee_with_a_fractional_gap_and_start(tmp_path, capsys):
    """generate def4 --n 12 --r 3 --u 16 --d 1 --delta 383/2 --seed 1; k-LPM (k = 2, FCFS first) in
    the fixed view; guarantee --view batch --start 4219/2 exited 2 ("bound needs values for its
    symbols"). It now answers: exit 0 with the bound 4253/2 for k-LPM's order, and exit 1 (BROKEN)
    for an order that serves the oldest query last, each verdict recomputed by hand."""
    stream_path, good, bad = tmp_path / "s.jsonl", tmp_path / "sched.jsonl", tmp_path / "bad.jsonl"
    assert main(["generate", "def4", "--n", "12", "--r", "3", "--u", "16", "--d", "1", "--delta", "383/2",
                 "--seed", "1", "--out", str(stream_path)]) == 0
    assert main(["simulate", str(stream_path), "--policy", "k-lpm", "--k", "2", "--cycle-start", "fcfs",
                 "--view", "fixed", "--out", str(good)]) == 0
    stream = read_stream(stream_path)
    model = parse_definition4(stream)
    assert (model.n, model.r, model.u, model.d, model.delta) == (12, 3, 16, 1, Fraction(383, 2))
    s = Fraction(4219, 2)
    bound = klpm_tight(12, 3, 16, 1, Fraction(383, 2), s)
    assert bound == Fraction(4253, 2)
    capsys.readouterr()

    order = read_schedule_order(good, stream)
    expected = batch_by_hand(stream, order, s)
    assert expected <= bound
    assert main(["guarantee", str(stream_path), str(good), "--view", "batch", "--start", "4219/2"]) == 0
    out = capsys.readouterr().out
    assert f"max TTFT {float(expected):.2f}" in out and "bound 2126.50 (batch view): holds" in out

    lines = good.read_text().splitlines()
    records = [json.loads(line) for line in lines[1:]]
    records.reverse()  # the oldest query (served first by k-LPM) now last
    for position, record in enumerate(records):
        record["position"] = position
    bad.write_text("\n".join([lines[0]] + [json.dumps(x) for x in records]) + "\n")
    broken = batch_by_hand(stream, read_schedule_order(bad, stream), s)
    assert broken > bound
    assert main(["guarantee", str(stream_path), str(bad), "--view", "batch", "--start", "4219/2"]) == 1
    out = capsys.readouterr().out
    assert f"max TTFT {float(broken):.2f}" in out and "BROKEN" in out

    assert main(["guarantee", str(stream_path), str(good), "--view", "batch", "--start", "4211/2"]) == 2
    assert "s >= (n - 1) Delta = 4213/2, got 4211/2" in capsys.readouterr().err
