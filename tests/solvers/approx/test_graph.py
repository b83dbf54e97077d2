"""Appendix A's block DAG as a file (solvers/approx/graph.py): what is written reads back as the DAG."""

from __future__ import annotations

import networkx as nx
import pytest

from prefix_sched.errors import OutputError
from prefix_sched.solvers.approx.appendix_a import approx
from prefix_sched.solvers.approx.graph import write_block_dag
from prefix_sched.theory.stream import Stream


def test_the_written_dag_reads_back_with_its_vertices_and_edges(tmp_path):
    """The stream that breaks the paper's drop step (T = 4, one query per block): every vertex and
    edge of the result's DAG is in the file, named, with its dropped count and block."""
    stream = Stream.from_records([("A", (("a", 1),), 0), ("X", (("p", 3), ("x", 1)), 7),
                                  ("B", (("p", 3), ("b", 3)), 10)])
    result = approx(stream, 4, "1/3", block_size=1)
    path = tmp_path / "dag.graphml"
    write_block_dag(result.dag, path)
    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == result.dag.number_of_nodes() >= 3
    assert {"start", "end"} <= set(graph.nodes)
    expected = sorted((data["dropped"], data["block"]) for _, _, data in result.dag.edges(data=True))
    assert sorted((data["dropped"], data["block"]) for _, _, data in graph.edges(data=True)) == expected


def test_an_unwritable_path_names_the_option(tmp_path):
    with pytest.raises(OutputError, match="--dag: cannot write"):
        write_block_dag(nx.DiGraph(), tmp_path / "missing" / "dag.graphml", option="--dag")
