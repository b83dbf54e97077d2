"""The serving policies beyond Algorithm 1: hand-worked first decisions, every index against the naive
rescan under every cache model and tie rule, the fairness figures recomputed, parse errors named."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefix_sched.cli import main
from prefix_sched.errors import InputError, UnknownPolicyError
from prefix_sched.studies.load_comparison import compare_policies
from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.generators import poisson_prefix_tree, regular_arrival_shuffled_queue, shared_prefix
from prefix_sched.theory.stream import Query, Stream

from strategies import streams

NEW_POLICIES = ["spf", "shortest-prompt", "lof", "hrrn", "dfs-weight", "random", "lpm-aging:0", "lpm-aging:1",
                "lpm-aging:7", "sglang-lpm:0", "sglang-lpm:2", "sglang-lpm"]


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
        assert run.fallbacks == 3 and "fcfs above 1 waiting" in run.policy.label
    if name == "sglang-lpm:4":
        assert run.fallbacks == 0


@pytest.mark.parametrize("name, order", [("lpm", [0, 2, 3, 1]), ("lpm-aging:3", [0, 2, 3, 1]),
                                         ("lpm-aging:4", [0, 2, 1, 3]), ("lpm-aging:5", [0, 2, 1, 3])])
def test_lpm_aging_worked_by_hand(name, order):
    """A: s4 x2 at 0; B: t3 at 1; C: s4 y2 at 1; D: s4 z2 at 7. Decision 0: A (0-6). Decision 1
    (t = 6): B and C entered now; keys 0 and 4: C (6-8). Decision 2 (t = 8): D enters; B has
    waited 1 earlier decision: key N x 1 against D's match 4. N = 3: D; N = 4: a tie, B is
    older; N = 5: B."""
    stream = _stream([((("s", 4), ("x", 2)), 0, None), ((("t", 3),), 1, None), ((("s", 4), ("y", 2)), 1, None),
                      ((("s", 4), ("z", 2)), 7, None)])
    run = simulate(stream, parse_policy(name))
    assert _ranks(run) == order
    assert run.waited == ((0, 0, 0, 2) if order[2] == 3 else (0, 0, 1, 1))  # B entered at decision 1


def test_dfs_weight_follows_the_heavier_subtree_under_a_radix_cache():
    """Unbounded cache. r0 a2 at 0 (0-2), r1 b2 at 1 (2-4); at t = 4 the tree holds a2 and b2 and
    r2 a2 d1, r3 b2 c1, r4 b2 e1 wait (arrived at 3): r2 is attached to a2 (weight 1), r3 and r4
    to b2 (weight 2): b2 first, its oldest, r3. Then a2 and b2 weigh 1 each: the tie goes to the
    child holding the oldest waiting query, a2 (r2); then r4. LPM takes the oldest of the three
    equal matches (2 tokens), r2, first."""
    stream = _stream([((("a", 2),), 0, None), ((("b", 2),), 1, None), ((("a", 2), ("d", 1)), 3, None),
                      ((("b", 2), ("c", 1)), 3, None), ((("b", 2), ("e", 1)), 3, None)])
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded")) == [0, 1, 3, 2, 4]
    assert _ranks(simulate(stream, parse_policy("lpm"), cache="unbounded")) == [0, 1, 2, 3, 4]


def test_dfs_weight_serves_the_deepest_split_point_when_nobody_matches_a_node_whole():
    """Unbounded cache; r0 = s4 x2 y2 runs first (one node). Then r1 = s4 z1 (match 4), r2 = s4 x2
    w1 (match 6) and r3 = t1 (match 0) wait: r1 and r2 enter the node (weight 2 against r3's
    root), neither matches it whole; split at 4 and at 6, the walk reaches the split at 6 first:
    r2. Then the cache holds s4 x2 {y2, w1}: r1's match enters node s4 x2 and ends inside it: r1;
    then r3."""
    stream = _stream([((("s", 4), ("x", 2), ("y", 2)), 0, None), ((("s", 4), ("z", 1)), 1, None),
                      ((("s", 4), ("x", 2), ("w", 1)), 1, None), ((("t", 1),), 1, None)])
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded")) == [0, 2, 1, 3]
    assert _ranks(simulate(stream, parse_policy("dfs-weight"), cache="unbounded", queue="naive")) == [0, 2, 1, 3]


def test_hrrn_serves_a_fully_cached_query_first_and_compares_exactly():
    """A: s4 at 0 (0-4). At t = 4: B t3 arrived at 0 (wait 4, cost 3: ratio 4/3), C s4 at 3 (fully
    cached, cost 0): C first although B waited longer. Then B (cost 3) against D u6 at 1 (wait 3,
    cost 6: 1/2): B."""
    stream = _stream([((("s", 4),), 0, None), ((("t", 3),), 0, None), ((("u", 6),), 1, None),
                      ((("s", 4),), 3, None)])
    assert _ranks(simulate(stream, parse_policy("hrrn"))) == [0, 3, 1, 2]


def test_random_is_seeded_and_draws_the_jth_oldest():
    stream = regular_arrival_shuffled_queue(n=60, r=4, u=20, d=5, delta=1, seed=2)
    spec = parse_policy("random")
    assert simulate(stream, spec, seed=4).order == simulate(stream, spec, seed=4).order
    assert simulate(stream, spec, seed=4).order != simulate(stream, spec, seed=5).order
    with pytest.raises(InputError, match="needs a seed"):
        simulate(stream, spec)


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
    indexed = simulate(stream, spec, view=view, cache=model, alpha=alpha, seed=seed, queue="radix")
    naive = simulate(stream, spec, view=view, cache=model, alpha=alpha, seed=seed, queue="naive")
    assert indexed.order == naive.order
    assert (indexed.waited, indexed.fallbacks) == (naive.waited, naive.fallbacks)


@pytest.mark.parametrize("cache", ["last", "lru:700", "unbounded"])
def test_every_index_decides_as_the_naive_rescan_on_a_backed_up_stream(cache):
    stream = poisson_prefix_tree(groups=40, group_size=10, prefix_len=60, suffix_len=9, rate="1/12", seed=5,
                                 base_len=4)
    stream = Stream(tuple(dataclasses.replace(q, output_length=i % 7) for i, q in enumerate(stream.queries)))
    for name in NEW_POLICIES:
        spec = parse_policy(name)
        indexed = simulate(stream, spec, cache=cache, seed=3, alpha="1/100")
        assert indexed.order == simulate(stream, spec, cache=cache, seed=3, alpha="1/100", queue="naive").order


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


def test_lof_refuses_a_stream_without_output_lengths():
    stream = poisson_prefix_tree(groups=2, group_size=2, prefix_len=5, suffix_len=5, rate="1/5", seed=0)
    with pytest.raises(InputError, match="policy 'lof' needs output lengths, but query 'q0' has none"):
        simulate(stream, parse_policy("lof"))


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
