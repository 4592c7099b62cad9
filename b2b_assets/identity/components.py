"""Connected components of record links.

A table that resolves identities reads `_components` (`COMPONENTS`): the nodes of a `Graph`
with their own columns and `component`, a label of the node's component (a node without links
is a component of its own). Labels are not stable from run to run, nor the same on each
engine: stable ids are made from the members. On DuckDB, keys become integers once, SciPy's
graph routine finds the components over those integers, and the labels go back to DuckDB beside
each node's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

COMPONENTS = "_components"
_TEMPS = ("_cc_nodes",)


@dataclass(frozen=True)
class Graph:
    """`nodes` selects `node`, unique, and any columns to carry along; `edges` selects
    `left_key, right_key` (links to anything that is not a node are ignored)."""

    nodes: str
    edges: str


def find_components(con: duckdb.DuckDBPyConnection, graph: Graph) -> str:
    """The temp table `_components` of `graph` on this connection; returns its name."""
    nodes_sql, edges_sql = graph.nodes, graph.edges
    # SciPy is imported here, not with the module: loading the definitions (every run, the
    # code server, every sensor tick's reload) would pay for it (about 0.15 s) even when no
    # identity table is built.
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cc_nodes AS
            SELECT *, (row_number() OVER () - 1)::INTEGER AS _cc_id
            FROM ({nodes_sql}) WHERE node IS NOT NULL"""
    )
    edges = con.sql(
        f"""SELECT l._cc_id AS a, r._cc_id AS b FROM ({edges_sql}) e
            JOIN _cc_nodes l ON l.node = e.left_key
            JOIN _cc_nodes r ON r.node = e.right_key
            WHERE l._cc_id <> r._cc_id"""
    ).to_arrow_table()
    size = con.execute("SELECT count(*) FROM _cc_nodes").fetchall()[0][0]
    a = edges.column("a").to_numpy()
    b = edges.column("b").to_numpy()
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    con.register(
        "_cc_component",
        pa.table(
            {"_cc_id": np.arange(size, dtype=np.int32), "component": component.astype(np.int32)}
        ),
    )
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {COMPONENTS} AS
                SELECT n.* EXCLUDE (_cc_id), c.component
                FROM _cc_nodes n JOIN _cc_component c USING (_cc_id)"""
        )
    finally:
        con.unregister("_cc_component")
    for temp in _TEMPS:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return COMPONENTS
