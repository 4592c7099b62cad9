"""Audience membership and its history: who entered or left, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from b2b_assets.sql import scalar, table_exists

HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS ops.audience_history (
    segment VARCHAR, member_id VARCHAR, change VARCHAR, changed_at TIMESTAMPTZ,
    as_of TIMESTAMPTZ, run_id VARCHAR
)"""


@dataclass(frozen=True)
class MembershipChanges:
    size: int
    entered: int
    exited: int


def record_changes(
    con: duckdb.DuckDBPyConnection,
    segment: str,
    key: str,
    sql: str,
    params: dict[str, Any],
    as_of: datetime,
    run_id: str,
) -> MembershipChanges:
    """Replace `audience.<segment>` and append who entered and who left to the history."""
    con.execute(HISTORY_DDL)
    exists = table_exists(con, "audience", segment)
    previous = (
        f'SELECT {key} AS member_id FROM audience."{segment}"'
        if exists
        else "SELECT CAST(NULL AS VARCHAR) AS member_id WHERE FALSE"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _previous_members AS {previous}")
    con.execute(f'CREATE OR REPLACE TABLE audience."{segment}" AS {sql}', params)
    common = {"segment": segment, "as_of": as_of, "run_id": run_id}
    con.execute(
        f"""INSERT INTO ops.audience_history
            SELECT $segment, {key}, 'entered', now(), $as_of, $run_id FROM audience."{segment}"
            WHERE {key} NOT IN (SELECT member_id FROM _previous_members)""",
        common,
    )
    con.execute(
        f"""INSERT INTO ops.audience_history
            SELECT $segment, member_id, 'exited', now(), $as_of, $run_id FROM _previous_members
            WHERE member_id NOT IN (SELECT {key} FROM audience."{segment}")""",
        common,
    )
    counts = con.execute(
        """SELECT count(*) FILTER (WHERE change = 'entered'), count(*) FILTER (WHERE change = 'exited')
           FROM ops.audience_history WHERE segment = $segment AND run_id = $run_id""",
        {"segment": segment, "run_id": run_id},
    ).fetchall()[0]
    size = scalar(con, f'SELECT count(*) FROM audience."{segment}"')
    con.execute("DROP TABLE IF EXISTS _previous_members")
    return MembershipChanges(size=size, entered=counts[0], exited=counts[1])
