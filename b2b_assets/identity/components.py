"""Connected components in SQL: minimum-label propagation with pointer jumping.

Only nodes that have links take part in the propagation (the others are their own component), and
node keys are replaced by integers for the rounds, so each round is one hash join and one
aggregate over the links.
"""

from __future__ import annotations

import duckdb

from b2b_assets.sql import scalar

MAX_ROUNDS = 200


class IdentityError(RuntimeError):
    """Resolution did not converge (it always should; a bug if raised)."""


def label_components(con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_sql: str) -> str:
    """Label every node with the smallest node key of its component; returns a temp table name
    with columns (node, label).

    `nodes_sql` selects `node`; `edges_sql` selects `left_key, right_key` (both must be nodes;
    links to anything else are ignored).
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cc_all AS SELECT DISTINCT node FROM ({nodes_sql})")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cc_pairs AS
            SELECT DISTINCT e.left_key AS a, e.right_key AS b
            FROM ({edges_sql}) e
            SEMI JOIN _cc_all l ON l.node = e.left_key
            SEMI JOIN _cc_all r ON r.node = e.right_key
            WHERE e.left_key <> e.right_key"""
    )
    # Integer ids in key order, so the smallest id of a component is its smallest key.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _cc_ids AS
           SELECT node, row_number() OVER (ORDER BY node) AS id
           FROM (SELECT a AS node FROM _cc_pairs UNION SELECT b FROM _cc_pairs)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _cc_edges AS
           SELECT ia.id AS a, ib.id AS b FROM _cc_pairs p
           JOIN _cc_ids ia ON ia.node = p.a JOIN _cc_ids ib ON ib.node = p.b
           UNION ALL
           SELECT ib.id, ia.id FROM _cc_pairs p
           JOIN _cc_ids ia ON ia.node = p.a JOIN _cc_ids ib ON ib.node = p.b
           UNION ALL
           SELECT id, id FROM _cc_ids"""
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cc_labels AS SELECT id AS node, id AS label FROM _cc_ids"
    )
    for _ in range(MAX_ROUNDS):
        # The smallest label among a node and its neighbours, then the label's own label.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _cc_next AS
               SELECT e.a AS node, min(l.label) AS label
               FROM _cc_edges e JOIN _cc_labels l ON l.node = e.b GROUP BY e.a"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _cc_next AS
               SELECT n.node, least(n.label, j.label) AS label
               FROM _cc_next n JOIN _cc_next j ON j.node = n.label"""
        )
        changed = scalar(
            con,
            """SELECT count(*) FROM _cc_next n JOIN _cc_labels l USING (node)
               WHERE n.label < l.label""",
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _cc_labels AS SELECT * FROM _cc_next")
        if not changed:
            break
    else:
        raise IdentityError(f"connected components did not converge in {MAX_ROUNDS} rounds")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _cc_result AS
           SELECT a.node, coalesce(root.node, a.node) AS label
           FROM _cc_all a
           LEFT JOIN _cc_ids i ON i.node = a.node
           LEFT JOIN _cc_labels l ON l.node = i.id
           LEFT JOIN _cc_ids root ON root.id = l.label"""
    )
    for temp in ("_cc_all", "_cc_pairs", "_cc_ids", "_cc_edges", "_cc_labels", "_cc_next"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return "_cc_result"
