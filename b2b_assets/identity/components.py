"""Connected components of record links: keys become integers once in DuckDB, the components
are found by SciPy's graph routine over those integers, and the labels go back to DuckDB.

Every node is labelled with the smallest key of its component (a node without links is its
own component), so the labels do not depend on the order in which records arrive.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

RESULT = "_cc_result"
_TEMPS = ("_cc_nodes", "_cc_edges")


def label_components(con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_sql: str) -> str:
    """Label every node with the smallest node key of its component; returns a temp table name
    with columns (node, label, component), `component` an integer id of the component.

    `nodes_sql` selects `node`; `edges_sql` selects `left_key, right_key` (links to anything
    that is not a node are ignored).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cc_nodes AS
            SELECT node, (row_number() OVER () - 1)::INTEGER AS id
            FROM (SELECT DISTINCT node FROM ({nodes_sql}) WHERE node IS NOT NULL)"""
    )
    edges = con.sql(
        f"""SELECT l.id AS a, r.id AS b FROM ({edges_sql}) e
            JOIN _cc_nodes l ON l.node = e.left_key
            JOIN _cc_nodes r ON r.node = e.right_key
            WHERE l.id <> r.id"""
    ).to_arrow_table()
    size = con.execute("SELECT count(*) FROM _cc_nodes").fetchall()[0][0]
    a = edges.column("a").to_numpy()
    b = edges.column("b").to_numpy()
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    con.register(
        "_cc_component",
        pa.table({"id": np.arange(size, dtype=np.int32), "component": component.astype(np.int32)}),
    )
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {RESULT} AS
                WITH members AS (
                    SELECT n.node, c.component FROM _cc_nodes n JOIN _cc_component c USING (id)
                ),
                labels AS (SELECT component, min(node) AS label FROM members GROUP BY component)
                SELECT m.node, l.label, m.component
                FROM members m JOIN labels l USING (component)"""
        )
    finally:
        con.unregister("_cc_component")
    for temp in _TEMPS:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return RESULT
