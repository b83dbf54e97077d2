"""Shared test helpers: hypothesis strategies for small streams."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from prefix_sched.theory.stream import Query, Stream

# A small alphabet of segments with fixed lengths, so that one id always has one length.
SEGMENTS = {f"s{i}": length for i, length in enumerate([1, 2, 3, 1, 2, 4, 1, 3])}


@st.composite
def prompts(draw, max_segments: int = 4):
    """Prompts over a shared tree-ish alphabet: shared first segments make overlaps common."""
    ids = draw(st.lists(st.sampled_from(sorted(SEGMENTS)), min_size=1, max_size=max_segments))
    return tuple((sid, SEGMENTS[sid]) for sid in ids)


@st.composite
def streams(draw, min_n: int = 1, max_n: int = 7, fractional: bool = False):
    """Small streams with integer (or, optionally, fractional) arrivals."""
    n = draw(st.integers(min_n, max_n))
    queries = []
    for i in range(n):
        if fractional:
            arrival = Fraction(draw(st.integers(0, 40)), draw(st.integers(1, 3)))
            arrival = int(arrival) if arrival.denominator == 1 else arrival
        else:
            arrival = draw(st.integers(0, 20))
        queries.append(Query(f"q{i}", draw(prompts()), arrival))
    return Stream(tuple(queries))


def toy_stream(delta: int = 0) -> Stream:
    """Section 4.2's toy example: u1d1, u2d3, u1d2, u2d4 arriving delta apart (u = d = 5)."""
    names = [("u1", "d1"), ("u2", "d3"), ("u1", "d2"), ("u2", "d4")]
    return Stream.from_records(
        (u + d, ((u, 5), (d, 5)), i * delta) for i, (u, d) in enumerate(names)
    )
