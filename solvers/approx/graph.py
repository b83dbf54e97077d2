"""Appendix A's block DAG as a file: GraphML with string vertex names and plain edge attributes.

:func:`plain_graph` names each vertex ``(boundary, last, served zone queries, clock)`` of
:class:`~prefix_sched.solvers.approx.appendix_a.ApproxResult`'s ``dag`` as
``b<boundary>:last=<last>:zone=<sorted zone>:clock=<clock>`` (``start`` and ``end`` stay as they
are) and keeps on each edge only what GraphML can hold: ``dropped`` (the zone queries the block's
run leaves unserved) and ``block``. :func:`write_block_dag` writes it through the one writer of
:mod:`~prefix_sched.theory.outputs` (checked path, temporary file, rename).

What it leaves out: the runs on the edges (the order of each block's run) and reading a DAG back.

Examples
--------
>>> import networkx as nx
>>> dag = nx.DiGraph()
>>> dag.add_edge("start", (1, 4, frozenset({7, 5}), 12), dropped=0, block=0, run=(4, None))
>>> dag.add_edge((1, 4, frozenset({7, 5}), 12), "end", dropped=1, block=1, run=None)
>>> for edge in plain_graph(dag).edges(data=True):
...     print(edge)
('start', 'b1:last=4:zone=[5, 7]:clock=12', {'dropped': 0, 'block': 0})
('b1:last=4:zone=[5, 7]:clock=12', 'end', {'dropped': 1, 'block': 1})
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from prefix_sched.theory.outputs import atomic_path


def plain_graph(dag: nx.DiGraph) -> nx.DiGraph:
    """The DAG with string vertex names and only the edge attributes GraphML can hold."""
    names = {v: v if isinstance(v, str) else f"b{v[0]}:last={v[1]}:zone={sorted(v[2])}:clock={v[3]}" for v in dag}
    plain = nx.DiGraph()
    plain.add_nodes_from(names.values())
    for u, v, data in dag.edges(data=True):
        plain.add_edge(names[u], names[v], dropped=data["dropped"], block=data["block"])
    return plain


def write_block_dag(dag: nx.DiGraph, path: Path | str, *, option: str = "block DAG") -> None:
    """Write :func:`plain_graph` of ``dag`` to ``path`` as GraphML, atomically; an OutputError
    names ``option`` and the path."""
    with atomic_path(path, option) as temporary:
        nx.write_graphml(plain_graph(dag), temporary)
