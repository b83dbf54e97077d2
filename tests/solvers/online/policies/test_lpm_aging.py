"""``lpm-aging:N``: a hand-worked run (its index against the naive rescan: test_registry.py)."""

from __future__ import annotations

import pytest

from prefix_sched.solvers.online.policies import parse_policy
from prefix_sched.solvers.online.simulate import simulate
from prefix_sched.theory.stream import Query, Stream


def _stream(rows) -> Stream:
    """``(prompt, arrival, output_length)`` rows; ids r0, r1, ... (arrival rank = index here)."""
    return Stream(tuple(Query(f"r{i}", prompt, arrival, output_length=out) for i, (prompt, arrival, out) in
                        enumerate(rows)))


def _ranks(run) -> list[int]:
    return list(run.order)


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
