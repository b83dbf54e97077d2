"""The policy table: every index against its naive rescan under every cache model and tie rule,
hand-worked first decisions of every rule, the one parse point, the labels, the option rules the
commands share, and the lists derived from the table (the CLI's, the studies', the docs')."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import REPO
from prefix_sched.commands.simulate_cmd import add_policy_arguments, policy_specs
from prefix_sched.errors import InputError, UnknownPolicyError
from prefix_sched.solvers.online.policies import (
    INFINITY, LPM_FAMILY, PARAMETERS, POLICIES, POLICY_EXAMPLES, POLICY_FORMS, RANDOM_TIES, PolicyName,
    option_refusal, parse_policy, policy_runs,
)
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.studies.policies import STUDY_POLICIES
from prefix_sched.theory.generators import poisson_prefix_tree
from prefix_sched.theory.stream import Query, Stream

from strategies import streams, toy_stream


def _forms(entry) -> list[str]:
    """A policy of the table with several parameters (0, 1, 2, 7; and bare where it is optional)."""
    if entry.parameter is None:
        return [entry.name]
    return [f"{entry.name}:{value}" for value in (0, 1, 2, 7)] + ([entry.name] if entry.default is not None else [])


NEW_POLICIES = [form for entry in POLICIES if not entry.algorithm_one for form in _forms(entry)]
"""The policies beyond Algorithm 1 (whose own tests are test_k_lpm.py), from the table."""


def _stream(rows) -> Stream:
    """``(prompt, arrival, output_length)`` rows; ids r0, r1, ... (arrival rank = index here)."""
    return Stream(tuple(Query(f"r{i}", prompt, arrival, output_length=out) for i, (prompt, arrival, out) in
                        enumerate(rows)))


def _ranks(run) -> list[int]:
    return list(run.order)


# A: s4 x2 at 0 (out 1); B: t3 at 1 (out 9); C: s4 y2 at 1 (out 2); D: s4 x2 z1 at 2 (out 5); E: u1 at 3 (out 0).
FIVE = _stream([((("s", 4), ("x", 2)), 0, 1), ((("t", 3),), 1, 9), ((("s", 4), ("y", 2)), 1, 2),
                ((("s", 4), ("x", 2), ("z", 1)), 2, 5), ((("u", 1),), 3, 0)])


@pytest.mark.parametrize("name, order", [
    ("lpm", [0, 3, 2, 1, 4]), ("spf", [0, 3, 4, 1, 2]), ("shortest-prompt", [0, 4, 1, 2, 3]),
    ("lof", [0, 1, 3, 2, 4]), ("hrrn", [0, 3, 4, 1, 2]), ("dfs-weight", [0, 3, 2, 1, 4]),
    ("sglang-lpm:1", [0, 1, 2, 3, 4]), ("sglang-lpm:4", [0, 3, 2, 1, 4]),
])
def test_first_decisions_worked_by_hand(name, order):
    """Stream FIVE under ``last``, alpha = 0. Decision 0 (t = 0): only A waits; A runs 0-6 and
    caches s4 x2. Decision 1 (t = 6): B, C, D, E wait, with matches 0, 4, 6, 0, lengths 3, 6, 7,
    1, uncached 3, 2, 1, 1, outputs 9, 2, 5, 0, waits 5, 5, 4, 3.

    - lpm: D (6); then (t = 7, cached s4 x2 z1) C (4); then B, E (0, oldest first).
    - spf: D and E tie at 1 uncached: D (older); t = 7: B 3, C 2, E 1: E; t = 8: B 3, C 6: B; C.
    - shortest-prompt: E (1); then B (3), C (6), D (7).
    - lof: B (9), D (5), C (2), E (0).
    - hrrn: ratios 5/3, 5/2, 4/1, 3/1: D (6-7); t = 7: B 6/3, C 6/2, E 4/1: E (7-8); t = 8:
      B 7/3, C 7/6: B; C.
    - dfs-weight: the cache is one node, s4 x2, split at each match point: C's match (4 tokens)
      and D's (all 6) enter it (weight 2), B and E stay at the root. D matches the node whole and
      it has no children: D. Then the node is s4 x2 z1; only C's match enters it, ending at 4
      tokens: C. Then s4 y2: nobody's match enters it: the root's queries in arrival order, B, E.
    - sglang-lpm:1: 4 > 1 queries wait at decision 1, 3 at 2, 2 at 3: FCFS throughout; then 1
      waits, not more than 1: an LPM step (one query): arrival order.
    - sglang-lpm:4: never more than 4 wait: LPM's order.
    """
    run = simulate(FIVE, parse_policy(name))
    assert _ranks(run) == order
    if name == "sglang-lpm:1":
        assert run.fcfs_fallbacks == 3 and "fcfs above 1 waiting" in run.policy.label
    if name == "sglang-lpm:4":
        assert run.fcfs_fallbacks == 0


def _with_outputs(stream: Stream, draw) -> Stream:
    return Stream(tuple(dataclasses.replace(q, output_length=draw(st.integers(0, 3))) for q in stream.queries))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), stream=streams(max_n=12, fractional=True), name=st.sampled_from(NEW_POLICIES),
       cache=st.sampled_from(["last", "unbounded", "lru", "lru-tight"]), extra=st.integers(0, 10),
       tie_break=st.sampled_from(["oldest", "random"]), view=st.sampled_from(["online", "fixed"]),
       alpha=st.sampled_from([0, Fraction(1, 3)]), seed=st.integers(0, 3))
def test_every_index_decides_as_the_naive_rescan(data, stream, name, cache, extra, tie_break, view, alpha, seed):
    stream = _with_outputs(stream, data.draw)
    try:
        spec = parse_policy(name, tie_break=tie_break)
    except InputError:
        spec = parse_policy(name)  # an oldest-ties-only policy
    longest = max(stream.lengths)
    model = {"lru": f"lru:{longest + extra}", "lru-tight": f"lru:{longest}"}.get(cache, cache)
    indexed = simulate(stream, spec, view=view, cache=model, alpha=alpha, seed=seed, queue="indexed")
    naive = simulate(stream, spec, view=view, cache=model, alpha=alpha, seed=seed, queue="naive")
    assert indexed.order == naive.order
    assert (indexed.waited, indexed.fcfs_fallbacks) == (naive.waited, naive.fcfs_fallbacks)


@pytest.mark.parametrize("cache", ["last", "lru:700", "unbounded"])
def test_every_index_decides_as_the_naive_rescan_on_a_backed_up_stream(cache):
    stream = poisson_prefix_tree(groups=40, group_size=10, prefix_len=60, suffix_len=9, rate="1/12", seed=5,
                                 base_len=4)
    stream = Stream(tuple(dataclasses.replace(q, output_length=i % 7) for i, q in enumerate(stream.queries)))
    for name in NEW_POLICIES:
        spec = parse_policy(name)
        indexed = simulate(stream, spec, cache=cache, seed=3, alpha="1/100")
        assert indexed.order == simulate(stream, spec, cache=cache, seed=3, alpha="1/100", queue="naive").order


@pytest.mark.parametrize("text, error, message", [
    ("sjf", UnknownPolicyError, "unknown policy 'sjf'"),
    ("k-lpm:x", InputError, "policy 'k-lpm:x': k must be a non-negative integer or 'inf', got 'x'"),
    ("k-lpm:-1", InputError, "policy 'k-lpm:-1'"),
    ("lpm-aging", InputError, "needs N"),
    ("lpm-aging:1.5", InputError, "policy 'lpm-aging:1.5': N must be a non-negative integer, got '1.5'"),
    ("sglang-lpm:", InputError, "policy 'sglang-lpm:': T must be a non-negative integer, got ''"),
    ("hrrn:3", InputError, "policy 'hrrn:3': 'hrrn' takes no parameter"),
    ("LPM", UnknownPolicyError, "unknown policy 'LPM'"),
])
def test_parse_errors_name_the_text(text, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(text)


def test_parse_refuses_options_a_policy_does_not_take():
    with pytest.raises(InputError, match="policy 'hrrn' breaks ties to the oldest only"):
        parse_policy("hrrn", tie_break="random")
    with pytest.raises(InputError, match="policy 'spf' takes no k"):
        parse_policy("spf", k=2)
    with pytest.raises(InputError, match="'k-lpm:3' has k = 3; got k = 2"):
        parse_policy("k-lpm:3", k=2)
    assert parse_policy("k-lpm:inf") == parse_policy("k-lpm", k="inf") and parse_policy("k-lpm:inf").label == "k-lpm(k=inf)"
    assert parse_policy("sglang-lpm").param == 128


@pytest.mark.parametrize("call, error, message", [
    (lambda: parse_policy("sjf"), UnknownPolicyError, "unknown policy 'sjf'; valid policies: fcfs, lpm, k-lpm"),
    (lambda: parse_policy("k-lpm"), InputError, "needs k"),
    (lambda: parse_policy("k-lpm", k=-1), InputError, "k must be >= 0, got -1"),
    (lambda: parse_policy("k-lpm", k="two"), InputError, "got 'two'"),
    (lambda: parse_policy("k-lpm", k=1.5), InputError, "got 1.5"),
    (lambda: parse_policy("fcfs", k=3), InputError, "has k = 0"),
    (lambda: parse_policy("lpm", tie_break="coin"), InputError, "unknown tie break 'coin'"),
    (lambda: parse_policy("k-lpm", k=1, cycle_start="middle"), InputError, "unknown cycle start"),
    (lambda: simulate(toy_stream(), parse_policy("lpm"), view="sideways"), InputError, "unknown view"),
])
def test_bad_policy_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_policy_labels_and_settings():
    spec = parse_policy("k-lpm", k="inf", cycle_start="fcfs")
    assert spec.k == INFINITY and spec.label == "k-lpm(k=inf,fcfs-first)"
    assert spec.as_dict() == {"policy": "k-lpm", "k": "inf", "tie_break": "oldest", "cycle_start": "fcfs"}


# --- the table and what derives from it -------------------------------------------------------

def test_every_entry_is_one_module_with_its_two_queues():
    """A policy is its module (a docstring stating the rule, an indexed queue, a naive queue) and
    its entry; the enum and the lists come from the table."""
    assert [p.value for p in PolicyName] == [entry.name for entry in POLICIES]
    for entry in POLICIES:
        module = entry.module
        assert module.__name__ == "prefix_sched.solvers.online.policies." + entry.name.replace("-", "_")
        assert module.__doc__.startswith(f"``{entry.form}``")
        for function in (module.indexed_queue, module.naive_queue):
            assert list(inspect.signature(function).parameters) == ["spec", "run"]
    # the lists as they were written out before the table (a new policy may add to them)
    assert _in_order(("fcfs", "lpm", "k-lpm:K", "sglang-lpm[:T]", "lpm-aging:N", "spf", "shortest-prompt", "lof",
                      "hrrn", "dfs-weight", "random"), POLICY_FORMS)
    assert [p.value for p in LPM_FAMILY] == ["fcfs", "lpm", "k-lpm"]
    assert _in_order(("lpm", "k-lpm", "sglang-lpm", "lpm-aging", "spf"), [p.value for p in RANDOM_TIES])
    assert {"k-lpm": "K", "sglang-lpm": "T", "lpm-aging": "N"}.items() <= \
        {p.value: symbol for p, symbol in PARAMETERS.items()}.items()
    assert STUDY_POLICIES == POLICY_EXAMPLES
    assert _in_order(("fcfs", "lpm", "k-lpm:3", "sglang-lpm", "lpm-aging:64", "spf", "shortest-prompt", "lof", "hrrn",
                      "dfs-weight", "random"), POLICY_EXAMPLES)
    assert [parse_policy(name).name.value for name in POLICY_EXAMPLES] == [entry.name for entry in POLICIES]


def _in_order(old, new) -> bool:
    """Whether ``old`` is ``new`` with some items left out (order kept)."""
    items = iter(new)
    return all(item in items for item in old)


def test_the_docs_list_every_policy_of_the_table():
    """docs/policies.md's table of rules has one line per entry, in the table's order."""
    text = (REPO / "docs" / "policies.md").read_text()
    listed = re.findall(r"^\| `([a-z-]+)[^`]*`", text.split("## The rules", 1)[1].split("\n\n**", 1)[0], re.M)
    assert listed == [entry.name for entry in POLICIES]


def _args(**options) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_policy_arguments(parser, default_k="3")
    args = parser.parse_args([])
    for key, value in options.items():
        setattr(args, key, value)
    return args


@pytest.mark.parametrize("options, message", [
    ({"policy": ["lpm"], "k": [2]}, "--k: only applies to --policy k-lpm (k-lpm:K carries its own k)"),
    ({"policy": ["k-lpm:3"], "k": [2]}, "--k: only applies to --policy k-lpm (k-lpm:K carries its own k)"),
    ({"policy": ["fcfs", "hrrn"], "tie_break": "random"},
     "--tie-break: no policy run breaks ties in a key (FCFS, k = 0 and oldest-only policies)"),
    ({"policy": ["lpm", "k-lpm:0"], "cycle_start": "fcfs"}, "--cycle-start: only applies to --policy k-lpm with 0 < k < inf"),
    ({"policy": ["lpm"], "seed": 3}, "--seed: only applies with --tie-break random or --policy random (the random choices)"),
])
def test_the_commands_refuse_an_option_no_run_uses(options, message):
    """The library's rule (option_refusal, in library names) spelled by the command as flags."""
    with pytest.raises(InputError) as err:
        policy_specs(_args(**options))
    assert str(err.value) == message


def test_option_rules_in_library_names():
    runs = policy_runs(["spf", "k-lpm", "hrrn"], [1, "inf"], tie_break="random", cycle_start="fcfs")
    assert [spec.label for spec in runs] == ["spf(random-ties)", "k-lpm(k=1,fcfs-first)", "k-lpm(k=inf,fcfs-first)",
                                             "hrrn"]
    assert [spec.tie_break for spec in runs] == ["random", "random", "random", "oldest"]
    assert option_refusal(["spf", "k-lpm", "hrrn"], runs, {"k", "tie_break", "cycle_start", "seed"}) is None
    assert option_refusal(["hrrn"], policy_runs(["hrrn"], []), {"seed"}) == \
        "seed: only applies with tie_break random or policy random (the random choices)"
    assert option_refusal(["random"], policy_runs(["random"], []), {"seed"}) is None
    assert [spec.label for spec in policy_specs(_args(policy=["k-lpm", "lpm"], k=[1, 2], seed=0,
                                                      tie_break="random"))] == ["k-lpm(k=1)", "k-lpm(k=2)", "lpm"]
