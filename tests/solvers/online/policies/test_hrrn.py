"""``hrrn``: a hand-worked run (its index against the naive rescan: test_registry.py)."""

from __future__ import annotations

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.stream import Query, Stream


def _stream(rows) -> Stream:
    """``(prompt, arrival, output_length)`` rows; ids r0, r1, ... (arrival rank = index here)."""
    return Stream(tuple(Query(f"r{i}", prompt, arrival, output_length=out) for i, (prompt, arrival, out) in
                        enumerate(rows)))


def _ranks(run) -> list[int]:
    return list(run.order)


def test_hrrn_serves_a_fully_cached_query_first_and_compares_exactly():
    """A: s4 at 0 (0-4). At t = 4: B t3 arrived at 0 (wait 4, cost 3: ratio 4/3), C s4 at 3 (fully
    cached, cost 0): C first although B waited longer. Then B (cost 3) against D u6 at 1 (wait 3,
    cost 6: 1/2): B."""
    stream = _stream([((("s", 4),), 0, None), ((("t", 3),), 0, None), ((("u", 6),), 1, None),
                      ((("s", 4),), 3, None)])
    assert _ranks(simulate(stream, parse_policy("hrrn"))) == [0, 3, 1, 2]
