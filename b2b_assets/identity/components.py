"""Connected components in SQL: minimum-label propagation until nothing changes."""

from __future__ import annotations

import duckdb

from b2b_assets.sql import scalar

MAX_ROUNDS = 200


class IdentityError(RuntimeError):
    """Resolution did not converge (it always should; a bug if raised)."""


def label_components(con: duckdb.DuckDBPyConnection, nodes_sql: str, edges_sql: str) -> str:
    """Label every node with the smallest node of its component; returns a temp table name.

    `nodes_sql` selects `node`; `edges_sql` selects `left_key, right_key` (both must be nodes).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _cc_edges AS
            SELECT left_key AS a, right_key AS b FROM ({edges_sql})
            UNION SELECT right_key, left_key FROM ({edges_sql})"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _cc_labels AS SELECT DISTINCT node, node AS label FROM ({nodes_sql})"
    )
    for _ in range(MAX_ROUNDS):
        # One round: take the smallest label among neighbours, then jump to the label's label.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _cc_next AS
               WITH step AS (
                   SELECT l.node, least(l.label, min(n.label)) AS label
                   FROM _cc_labels l
                   LEFT JOIN _cc_edges e ON e.a = l.node
                   LEFT JOIN _cc_labels n ON n.node = e.b
                   GROUP BY l.node, l.label
               )
               SELECT s.node, least(s.label, coalesce(j.label, s.label)) AS label
               FROM step s LEFT JOIN step j ON j.node = s.label"""
        )
        changed = scalar(
            con,
            """SELECT count(*) FROM _cc_next n JOIN _cc_labels l USING (node)
               WHERE n.label <> l.label""",
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _cc_labels AS SELECT * FROM _cc_next")
        if not changed:
            con.execute("DROP TABLE IF EXISTS _cc_next")
            con.execute("DROP TABLE IF EXISTS _cc_edges")
            return "_cc_labels"
    raise IdentityError(f"connected components did not converge in {MAX_ROUNDS} rounds")
