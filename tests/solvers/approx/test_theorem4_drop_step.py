"""Appendix A's first step fails under Definition 2: a feasible stream can have an infeasible subset.

The proof of Theorem 4 removes the latest-arriving queries of each block and claims that "if there
exists a feasible schedule for Q ... following the schedule for all queries in Q'" (the kept
queries) keeps every TTFT within T. With prefix reuse a removed query can be the cache bridge for
a later one across idle time, so removal can raise a kept query's cost. Worked by hand (alpha = 0,
T = 4, no query an exact prefix of another, every prompt at most L = 6 tokens):

- A = (a:1) arrives at 0; X = (p:3)(x:1) at 7; B = (p:3)(b:3) at 10.
- Order A, X, B: A runs 0-1 (TTFT 1), X 7-11 (TTFT 4), B reuses p (3 tokens) and runs 11-14
  (TTFT 4). Every TTFT <= 4: the stream is feasible.
- With blocks {A, X} and {B}, the paper drops X (it arrives after f_2 - T = 10 - 4 = 6). The kept
  queries A, B are infeasible: B after A or first costs all 6 tokens, TTFT >= 6 > 4; B before A
  makes A wait. So the algorithm, as written, would certify infeasibility of a feasible stream.
"""

from __future__ import annotations

from prefix_sched.solvers.exact import brute
from prefix_sched.solvers.exact.dp import feasible_endings
from prefix_sched.theory.evaluator import evaluate
from prefix_sched.theory.prompt import overlap
from prefix_sched.theory.stream import Stream

T = 4


def _stream() -> Stream:
    return Stream.from_records([
        ("A", (("a", 1),), 0),
        ("X", (("p", 3), ("x", 1)), 7),
        ("B", (("p", 3), ("b", 3)), 10),
    ])


def test_preconditions_of_theorem_4_hold():
    stream = _stream()
    for p in stream.queries:
        for q in stream.queries:
            if p is not q:
                assert overlap(p.prompt, q.prompt) < p.length  # no exact prefix of another
    assert max(stream.lengths) == 6


def test_the_stream_is_feasible_but_the_kept_queries_are_not():
    stream = _stream()
    assert evaluate(stream, [0, 1, 2]).ttft == (1, 4, 4)
    assert feasible_endings(stream, T).status == "FEASIBLE"
    kept = [stream.index_of("A"), stream.index_of("B")]
    assert feasible_endings(stream, T, subset=kept).status == "INFEASIBLE"
    only_kept = Stream(tuple(stream.queries[i] for i in kept))
    assert brute.best_max_ttft(only_kept)[0] == 6
