"""Issue 20, values the engines cannot compute and numbers a report could not print: refused when read.

:func:`~prefix_sched.theory.limits.time_bound` is checked against real runs (every TTFT and the
makespan of every policy under every cache model stay below it), the refusals against the float
range, and the serving check against the engine's own bound.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.errors import InputError
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.solvers.serving.engine import MAX_TICKS
from prefix_sched.theory.formats import write_stream
from prefix_sched.theory.generators import regular_arrival_shuffled_queue
from prefix_sched.theory.limits import (
    FLOAT_MAX, TICKS_LIMIT, check_computable, computable_problem, serving_problem, time_bound,
)
from prefix_sched.theory.load import rescale_to_load
from prefix_sched.theory.serving.costs import parse_cost
from prefix_sched.theory.serving.requests import Workload

from strategies import streams


@settings(max_examples=80, deadline=None)
@given(stream=streams(min_n=1, max_n=6, fractional=True), alpha=st.sampled_from([0, Fraction(1, 7), 2]),
       policy=st.sampled_from(["fcfs", "lpm", "k-lpm:1", "hrrn"]), cache=st.sampled_from(["last", "unbounded"]),
       view=st.sampled_from(["online", "fixed"]), batch=st.sampled_from([1, 2]))
def test_time_bound_holds_for_every_run(stream, alpha, policy, cache, view, batch):
    """The bound the refusal uses: every completion of a run is at most the last arrival plus the
    cost of serving every prompt whole."""
    run = simulate(stream, parse_policy(policy), alpha=alpha, batch_size=batch, view=view, cache=cache)
    assert run.evaluation.makespan <= time_bound(stream, alpha=alpha)


def test_the_bound_of_a_rescaled_stream_is_that_of_the_rescaled_stream():
    stream = regular_arrival_shuffled_queue(n=8, r=2, u=5, d=3, delta=4, seed=1)
    for load in ("1/3", "2", "7/5"):
        assert time_bound(stream, load=load) == time_bound(rescale_to_load(stream, load))


@pytest.mark.parametrize("load, alpha, what", [("1e-400", 0, "load"), (1, "1e400", "alpha"), ("1e400", 0, "load"),
                                               (1, "1e306", "alpha")])
def test_values_whose_times_leave_a_float_are_refused_naming_them(load, alpha, what):
    stream = regular_arrival_shuffled_queue(n=8, r=2, u=5, d=3, delta=4, seed=1)
    problem = computable_problem(stream, load=load, alpha=alpha)
    assert problem is not None and problem[0] == what
    with pytest.raises(InputError, match=f"^--{what}: "):
        check_computable(stream, load=load, alpha=alpha, names=("STREAM", "--load", "--alpha"))
    assert computable_problem(stream, load="1e-300", alpha=0) is None  # 1e301 token-times still fit a float


def test_the_serving_tick_limit_is_the_engines():
    assert TICKS_LIMIT == MAX_TICKS
    workload = Workload.from_lengths([3, 4], [2, 2], [0, 10 ** 12])
    assert serving_problem(workload, parse_cost("seed")) is None
    assert "a tick would be 1/1" in serving_problem(workload, parse_cost("cp=1e-400"))
    assert "last arrival" in serving_problem(Workload.from_lengths([3], [2], [10 ** 18]), parse_cost("seed"))
    # a coefficient too large is named with its value, shortened (not the cost's 400 digits)
    assert serving_problem(workload, parse_cost("c0=1e400,cp=1")) == \
        "the cost's c0 = 1.0e+400 us is 1.0e+400 ticks of 1/1 us, beyond 2^62"


# --- through the commands: one line, exit 2, before the work; printing never fails after it ---------

@pytest.fixture(scope="module")
def stream_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "s.jsonl"
    write_stream(regular_arrival_shuffled_queue(n=8, r=2, u=5, d=3, delta=4, seed=0), path)
    return str(path)


@pytest.mark.parametrize("argv, named", [
    (["compare", "{s}", "--load", "1e-400"], "--load: 1e-400 makes the times"),
    (["compare", "{s}", "--load", "1e400"], "--load: must be at most"),
    (["simulate", "{s}", "--alpha", "1e306"], "--alpha: 1.0e+306 makes the times"),
    (["gap", "{s}", "--load", "1e-320", "--time-limit", "1"], "--load: 1e-320"),
    (["simulate", "{s}", "--ttft", "1e400"], "--ttft: must be at most"),
    (["approx", "{s}", "--ttft", "50", "--eps", "1e-400"], "--eps: 1e-400 with --ttft 50 makes the default block"),
    (["approx", "{s}", "--ttft", "1e308"], "--eps: 1/10 with --ttft 1.00e+308 makes the default block size"),
])
def test_commands_refuse_what_they_could_not_report(argv, named, stream_file, capsys):
    assert main([word.format(s=stream_file) for word in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exponent=st.integers(-400, 400), which=st.sampled_from(["--load", "--alpha"]))
def test_compare_reports_or_refuses_any_load_and_alpha(exponent, which, stream_file, capsys):
    """Property: compare with any load or alpha prints its table (every number finite) or refuses in
    one line naming the option, before the work; never a traceback after it."""
    capsys.readouterr()
    status = main(["compare", stream_file, which, f"1e{exponent}", "--policy", "fcfs"]
                  + (["--load", "1"] if which == "--alpha" else []))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if status == 2:
        assert captured.err.count("\n") == 1 and which in captured.err
    else:
        assert status == 0 and "inf" not in captured.out.replace("info", "")
    assert FLOAT_MAX > 0


def test_a_stream_too_long_by_itself_is_blamed_not_alpha_or_load():
    """With alpha = 0 and the arrivals as given, a stream whose own times leave a float's range is the
    value named (once "alpha: 0 makes the times ...")."""
    stream = regular_arrival_shuffled_queue(n=4, r=2, u=5, d=3, delta=10 ** 308, seed=0)
    assert computable_problem(stream, alpha=0)[0] == "stream"
    with pytest.raises(InputError, match="^STREAM: its arrivals and prompts make the times"):
        check_computable(stream, names=("STREAM", "--load", "--alpha"))
