"""Deltas: what the destination should hold, what it holds (as last acknowledged), what to send.

Each batch is first written to the ledger `ops.activation_batch` as pending (its own committed
transaction), then sent; the destination's answer advances `ops.activation_state`, appends to
`ops.activation_log` and marks the batch acknowledged, in one transaction. A run that fails half
way resumes on the next run without losing or repeating acknowledged changes, and a batch sent but
never recorded (the process died in between) is reconciled with the destination before the next
plan (`reconcile`), so it is neither sent twice nor lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from b2b_assets.activation.config import LinkedInAudience, MarketoStaticList
from b2b_assets.activation.ledger import (
    ACKNOWLEDGED,
    BATCH_DDL,
    RECONCILED,
    UNCONFIRMED,
    close_batch,
    open_batch,
    pending_batches,
)
from b2b_assets.activation.transport import Change, ChangeResult, Transport
from b2b_assets.sql import frame, scalar

STATE_DDL = """
CREATE TABLE IF NOT EXISTS ops.activation_state (
    destination VARCHAR, segment VARCHAR, member_id VARCHAR, payload VARCHAR,
    delivered_at TIMESTAMPTZ, run_id VARCHAR
)"""
LOG_DDL = """
CREATE TABLE IF NOT EXISTS ops.activation_log (
    run_id VARCHAR, destination VARCHAR, segment VARCHAR, action VARCHAR, member_id VARCHAR,
    status VARCHAR, reason VARCHAR, logged_at TIMESTAMPTZ
)"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The state, the log and the batch ledger, created when missing."""
    for ddl in (STATE_DDL, LOG_DDL, BATCH_DDL):
        con.execute(ddl)


@dataclass
class DeliveryReport:
    """What one activation run found and did."""

    audience: int = 0
    desired: int = 0
    no_consent: int = 0
    unmatched: int = 0
    adds: int = 0
    removes: int = 0
    unchanged: int = 0
    created_leads: int = 0
    reconciled_batches: int = 0
    reconciled: int = 0
    unconfirmed_batches: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def metadata(self) -> dict[str, Any]:
        return {
            "audience_size": self.audience,
            "desired": self.desired,
            "no_consent": self.no_consent,
            "unmatched": self.unmatched,
            "adds": self.adds,
            "removes": self.removes,
            "unchanged": self.unchanged,
            "created_leads": self.created_leads,
            "reconciled_batches": self.reconciled_batches,
            "reconciled": self.reconciled,
            "unconfirmed_batches": self.unconfirmed_batches,
            "added": self.statuses["added"],
            "removed": self.statuses["removed"],
            "skipped": self.statuses["skipped"],
            "failed": self.statuses["failed"],
            "responses": dict(self.reasons),
        }


def desired_sql(
    destination: MarketoStaticList | LinkedInAudience, segment: str
) -> tuple[str, dict]:
    """Members the destination should hold: (member_id, payload JSON), consent enforced."""
    audience = f'audience."{segment}"'
    if isinstance(destination, MarketoStaticList):
        return (
            f"""SELECT DISTINCT b.source_id AS member_id,
                       CASE WHEN TRY_CAST(b.source_id AS BIGINT) IS NOT NULL
                            THEN to_json({{'id': TRY_CAST(b.source_id AS BIGINT)}})
                            ELSE to_json({{'id': b.source_id}}) END::VARCHAR AS payload
                FROM {audience} a
                JOIN profile.person pp ON pp.person_id = a.person_id AND pp.can_email
                JOIN identity.person ip ON ip.person_id = a.person_id
                JOIN b2b.person b ON b.person_key = ip.person_key AND b.source_instance = $instance""",
            {"instance": destination.instance},
        )
    if destination.kind == "users":
        return (
            f"""SELECT sha256(pp.email) AS member_id,
                       to_json({{'idType': 'SHA256_EMAIL', 'idValue': sha256(pp.email)}})::VARCHAR
                           AS payload
                FROM {audience} a
                JOIN profile.person pp ON pp.person_id = a.person_id
                WHERE pp.can_email AND pp.email IS NOT NULL""",
            {},
        )
    return (
        f"""SELECT coalesce(pa.domain, lower(pa.name)) AS member_id,
                   to_json({{'companyName': pa.name, 'companyWebsiteDomain': pa.domain}})::VARCHAR
                       AS payload
            FROM {audience} a JOIN profile.account pa ON pa.account_id = a.account_id
            WHERE coalesce(pa.domain, pa.name) IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY coalesce(pa.domain, lower(pa.name))
                                       ORDER BY pa.account_id) = 1""",
        {},
    )


def _count_unreachable(con, destination, segment: str, report: DeliveryReport) -> None:
    audience = f'audience."{segment}"'
    report.audience = scalar(con, f"SELECT count(*) FROM {audience}")
    if isinstance(destination, LinkedInAudience) and destination.kind == "companies":
        return
    report.no_consent = scalar(
        con,
        f"""SELECT count(*) FROM {audience} a JOIN profile.person pp USING (person_id)
            WHERE NOT pp.can_email""",
    )
    if isinstance(destination, MarketoStaticList):
        report.unmatched = scalar(
            con,
            f"SELECT count(*) FROM ({unmatched_emails_sql(segment)})",
            {"instance": destination.instance},
        )


def unmatched_emails_sql(segment: str) -> str:
    """Audience members with consent and an email but no lead in the Marketo instance."""
    return f"""SELECT pp.email FROM audience."{segment}" a JOIN profile.person pp USING (person_id)
               WHERE pp.can_email AND pp.email IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM identity.person ip JOIN b2b.person b USING (person_key)
                   WHERE ip.person_id = a.person_id AND b.source_instance = $instance)
               ORDER BY pp.email"""


def plan_changes(
    con: duckdb.DuckDBPyConnection,
    destination: MarketoStaticList | LinkedInAudience,
    segment: str,
    report: DeliveryReport | None = None,
) -> tuple[list[Change], list[Change], dict[str, dict], DeliveryReport]:
    """Adds and removes against the acknowledged state; also the state as member -> payload."""
    ensure_tables(con)
    report = report or DeliveryReport()
    _count_unreachable(con, destination, segment, report)
    sql, params = desired_sql(destination, segment)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _desired AS {sql}", params or None)
    keys = {"destination": destination.name, "segment": segment}
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _delivered AS SELECT member_id, payload
           FROM ops.activation_state WHERE destination = $destination AND segment = $segment""",
        keys,
    )
    adds = frame(con, "SELECT * FROM _desired ANTI JOIN _delivered USING (member_id) ORDER BY 1")
    removes = frame(con, "SELECT * FROM _delivered ANTI JOIN _desired USING (member_id) ORDER BY 1")
    delivered = frame(con, "SELECT * FROM _delivered ORDER BY 1")
    report.desired = scalar(con, "SELECT count(*) FROM _desired")
    report.adds, report.removes = adds.height, removes.height
    report.unchanged = report.desired - report.adds
    return (
        _changes("add", adds),
        _changes("remove", removes),
        {row["member_id"]: json.loads(row["payload"]) for row in delivered.iter_rows(named=True)},
        report,
    )


def _changes(action: str, rows: pl.DataFrame) -> list[Change]:
    return [
        Change(action, row["member_id"], json.loads(row["payload"]))  # type: ignore[arg-type]
        for row in rows.iter_rows(named=True)
    ]


def reconcile(
    connect: Callable[[], Any],
    transport: Transport,
    destination: MarketoStaticList | LinkedInAudience,
    segment: str,
    report: DeliveryReport,
    run_id: str,
) -> None:
    """Close the batches an interrupted run left pending, before anything is planned.

    The destination says which changes of each batch it already holds; those are recorded as
    delivered (the batch becomes `reconciled`) and the plan sends only the rest. A destination that
    cannot say (`applied` is None) records nothing (`unconfirmed`): the plan sends the batch again.
    Call it while holding the (destination, segment) delivery lock, so no pending batch belongs to
    a run still sending.
    """
    with connect() as con:
        ensure_tables(con)
        batches = pending_batches(con, destination.name, segment)
    for batch in batches:
        applied = transport.applied(batch.batch_id, batch.changes)
        status = "added" if batch.action == "add" else "removed"
        results = [
            ChangeResult(change, status, RECONCILED_REASON)  # type: ignore[arg-type]
            for change in batch.changes
            if applied is not None and change.member_id in applied
        ]
        with connect() as con:
            _record(
                con,
                destination.name,
                segment,
                results,
                run_id,
                batch.batch_id,
                RECONCILED if applied is not None else UNCONFIRMED,
            )
        report.reconciled_batches += applied is not None
        report.unconfirmed_batches += applied is None
        report.reconciled += len(results)


RECONCILED_REASON = "found at the destination after an interrupted run"


def deliver(
    connect: Callable[[], Any],
    transport: Transport,
    destination: MarketoStaticList | LinkedInAudience,
    segment: str,
    changes: list[Change],
    report: DeliveryReport,
    run_id: str,
) -> None:
    """Send changes in batches: write each batch's intent, send it, record the answer."""
    size = max(1, transport.max_batch)
    for start in range(0, len(changes), size):
        with connect() as con:
            ensure_tables(con)
            batch = open_batch(
                con, destination.name, segment, changes[start : start + size], run_id
            )
        results = transport.deliver(batch.changes, batch_id=batch.batch_id)
        with connect() as con:
            _record(con, destination.name, segment, results, run_id, batch.batch_id, ACKNOWLEDGED)
        for result in results:
            report.statuses[result.status] += 1
            label = result.status if not result.reason else f"{result.status}: {result.reason}"
            report.reasons[label] += 1


def _record(
    con,
    destination: str,
    segment: str,
    results: list[ChangeResult],
    run_id: str,
    batch_id: str,
    batch_status: str,
) -> None:
    """Advance the state, log the answers and close the batch, in one transaction."""
    rows = pl.DataFrame(
        {
            "member_id": [r.change.member_id for r in results],
            "payload": [json.dumps(r.change.payload, sort_keys=True) for r in results],
            "action": [r.change.action for r in results],
            "status": [r.status for r in results],
            "reason": [r.reason for r in results],
        },
        schema={
            "member_id": pl.String,
            "payload": pl.String,
            "action": pl.String,
            "status": pl.String,
            "reason": pl.String,
        },
    )
    keys = {"destination": destination, "segment": segment, "run_id": run_id}
    con.register("_results", rows.to_arrow())
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """DELETE FROM ops.activation_state WHERE destination = $destination
               AND segment = $segment AND member_id IN (
                   SELECT member_id FROM _results
                   WHERE status IN ('added', 'removed') OR (action = 'remove' AND status = 'skipped'))""",
            {"destination": destination, "segment": segment},
        )
        con.execute(
            """INSERT INTO ops.activation_state
               SELECT $destination, $segment, member_id, payload, now(), $run_id
               FROM _results WHERE status = 'added'""",
            keys,
        )
        con.execute(
            """INSERT INTO ops.activation_log
               SELECT $run_id, $destination, $segment, action, member_id, status, reason, now()
               FROM _results""",
            keys,
        )
        confirmed = len(results) if batch_status == RECONCILED else None
        close_batch(con, destination, segment, batch_id, batch_status, confirmed)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_results")
