"""Draw an evaluated order as a Gantt chart: one bar per query, from start to completion.

Bars come from a :class:`~prefix_sched.theory.evaluator.Evaluation`, so the picture shows exactly
the Definition 2 times; a marker on each row shows the query's arrival and a thin line its
deadline ``t + T`` when a bound is given. It leaves out batch bins (bars are per query).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from prefix_sched.theory.evaluator import evaluate
>>> from prefix_sched.theory.stream import Stream
>>> s = Stream.from_records([("a", (("x", 3),), 0), ("b", (("x", 3), ("y", 2)), 1)])
>>> ax = plot_gantt(s, evaluate(s, [0, 1]), ttft_bound=4)
>>> [t.get_text() for t in ax.get_yticklabels()]
['a', 'b']
"""

from __future__ import annotations

from prefix_sched.theory.evaluator import Evaluation
from prefix_sched.theory.stream import Stream


def plot_gantt(stream: Stream, evaluation: Evaluation, *, ttft_bound: object = None, ax=None):
    """Plot ``evaluation`` (rows in processing order, top to bottom) and return the axes.

    Reused tokens are drawn as a hatched stub before the bar, zero-cost queries as a dot.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.3 * len(evaluation.order) + 1.2))
    rows = range(len(evaluation.order))
    for row, index in zip(rows, evaluation.order):
        query = stream.queries[index]
        start, end = float(evaluation.start[row]), float(evaluation.completion[row])
        if end > start:
            ax.barh(row, end - start, left=start, height=0.6, color="tab:blue")
        else:
            ax.plot([start], [row], "o", color="tab:blue")
        ax.plot([float(query.arrival)], [row], "|", color="black", markersize=12)
        if ttft_bound is not None:
            deadline = float(query.arrival) + float(ttft_bound)
            ax.plot([deadline], [row], "|", color="tab:red", markersize=12)
    ax.set_yticks(list(rows), [str(stream.queries[i].qid) for i in evaluation.order])
    ax.invert_yaxis()
    ax.set_xlabel("time (token-times); black tick: arrival" + ("; red tick: deadline t + T" if ttft_bound is not None else ""))
    return ax
