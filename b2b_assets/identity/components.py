"""Connected components of record links: keys become integers once in DuckDB, the components
are found by SciPy's graph routine over those integers, and the component numbers go back to
DuckDB beside each node's own columns.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

RESULT = "_cc_result"
_TEMPS = ("_cc_nodes",)


def find_components(con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_sql: str) -> str:
    """Number the connected components of a graph; returns a temp table name with the columns
    of `nodes_sql` and `component`, an integer id of the node's component (a node without
    links is a component of its own). Component numbers are not stable from run to run:
    stable ids are made from the members.

    `nodes_sql` selects `node`, unique, and any columns to carry along; `edges_sql` selects
    `left_key, right_key` (links to anything that is not a node are ignored).
    """
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
            f"""CREATE OR REPLACE TEMP TABLE {RESULT} AS
                SELECT n.* EXCLUDE (_cc_id), c.component
                FROM _cc_nodes n JOIN _cc_component c USING (_cc_id)"""
        )
    finally:
        con.unregister("_cc_component")
    for temp in _TEMPS:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return RESULT
