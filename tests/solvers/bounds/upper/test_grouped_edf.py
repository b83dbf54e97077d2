"""Grouped EDF (solvers/bounds/upper/grouped_edf.py), worked by hand."""

from __future__ import annotations

from prefix_sched.solvers.bounds.upper import grouped_edf
from prefix_sched.theory.stream import Stream


def test_grouped_edf_by_hand():
    """Users u0, u1 alternate, 10 apart (u = d = 5). Span 20: u0's pair {q0, q2} is one cluster
    (released at 20), then {q1, q3}: the order q0, q2, q1, q3. Definition 2 serves it without idling:
    q0 0..10, q2 20..25 (reuses u0), q1 25..35, q3 35..40 (reuses u1): TTFTs 10, 5, 25, 10.
    Span 0: arrival order, no reuse, each query alone: TTFT 10 each."""
    s = Stream.from_records([(f"q{i}", ((f"u{i % 2}", 5), (f"d{i}", 5)), 10 * i) for i in range(4)])
    wide = grouped_edf(s, 20, 1)
    assert wide.order == (0, 2, 1, 3)
    assert wide.ttft == (10, 5, 25, 10)
    assert grouped_edf(s, 0, 1).ttft == (10, 10, 10, 10)
    eager = grouped_edf(s, 20, 1, eager=True)
    assert eager.order == (0, 1, 2, 3)   # never idles while a query waits: serves each on arrival
    assert grouped_edf(s, 20, 1, cache="unbounded").cache == "unbounded"
