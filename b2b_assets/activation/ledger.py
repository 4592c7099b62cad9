"""The write-ahead batch ledger `ops.activation_batch`, and the lock that keeps one delivery per
(destination, segment) at a time.

Every batch is written to the ledger as `pending`, in its own committed transaction, before it is
sent; it becomes `acknowledged` in the transaction that records the destination's answer in
`ops.activation_state`. A batch still `pending` when the next run starts was interrupted between
sending and recording (a killed process, a lost connection, an ambiguous failure): that run asks
the destination what it holds before planning (see `delivery.reconcile`) and closes the batch as
`reconciled` (what the destination holds was recorded) or `unconfirmed` (the destination cannot be
asked; nothing was recorded and the plan sends whatever is still missing).

One row per batch: `destination`, `segment`, `batch_no` (1, 2, … per destination and segment),
`batch_id` (`<batch_no:06d>-<digest>`, the digest of destination, segment, action and member ids:
deterministic, so the same history gives the same ids and outbox file names), `action`,
`member_ids` and `payloads` (parallel lists; payloads as JSON text), `status`, `confirmed` (changes
found applied when reconciled), `run_id`, `logged_at` (intent) and `delivered_at` (closed).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from b2b_assets.activation.transport import Action, Change
from b2b_assets.sql import scalar

BATCH_DDL = """
CREATE TABLE IF NOT EXISTS ops.activation_batch (
    destination VARCHAR, segment VARCHAR, batch_no INTEGER, batch_id VARCHAR, action VARCHAR,
    member_ids VARCHAR[], payloads VARCHAR[], status VARCHAR, confirmed INTEGER,
    run_id VARCHAR, logged_at TIMESTAMPTZ, delivered_at TIMESTAMPTZ
)"""

PENDING, ACKNOWLEDGED, RECONCILED, UNCONFIRMED = (
    "pending",
    "acknowledged",
    "reconciled",
    "unconfirmed",
)


@dataclass(frozen=True)
class Batch:
    """One batch of same-action changes, as written to the ledger."""

    batch_id: str
    action: Action
    changes: list[Change]


def batch_id(batch_no: int, destination: str, segment: str, changes: list[Change]) -> str:
    """`<batch_no:06d>-<12 hex>`: orderable, and tied to what the batch holds."""
    text = "\n".join([destination, segment, changes[0].action, *(c.member_id for c in changes)])
    return f"{batch_no:06d}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def open_batch(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    segment: str,
    changes: list[Change],
    run_id: str,
) -> Batch:
    """Record the intent to send `changes` (status pending) and commit it before anything is sent."""
    if not changes or len({c.action for c in changes}) != 1:
        raise ValueError("a batch holds one or more changes of one action")
    con.execute(BATCH_DDL)
    keys = {"destination": destination, "segment": segment}
    con.execute("BEGIN TRANSACTION")
    try:
        number = scalar(
            con,
            """SELECT coalesce(max(batch_no), 0) + 1 FROM ops.activation_batch
               WHERE destination = $destination AND segment = $segment""",
            keys,
        )
        batch = Batch(batch_id(number, destination, segment, changes), changes[0].action, changes)
        con.execute(
            """INSERT INTO ops.activation_batch VALUES ($destination, $segment, $batch_no,
               $batch_id, $action, $member_ids, $payloads, 'pending', NULL, $run_id, now(), NULL)""",
            {
                **keys,
                "batch_no": number,
                "batch_id": batch.batch_id,
                "action": batch.action,
                "member_ids": [c.member_id for c in changes],
                "payloads": [json.dumps(c.payload, sort_keys=True) for c in changes],
                "run_id": run_id,
            },
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return batch


def pending_batches(con: duckdb.DuckDBPyConnection, destination: str, segment: str) -> list[Batch]:
    """Batches written as intents and never closed, oldest first."""
    con.execute(BATCH_DDL)
    rows = con.execute(
        """SELECT batch_id, action, member_ids, payloads FROM ops.activation_batch
           WHERE destination = $destination AND segment = $segment AND status = 'pending'
           ORDER BY batch_no""",
        {"destination": destination, "segment": segment},
    ).fetchall()
    return [
        Batch(
            batch,
            action,
            [
                Change(action, member_id, json.loads(payload))
                for member_id, payload in zip(member_ids, payloads, strict=True)
            ],
        )
        for batch, action, member_ids, payloads in rows
    ]


def close_batch(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    segment: str,
    batch: str,
    status: str,
    confirmed: int | None = None,
) -> None:
    """Mark a pending batch closed; runs inside the caller's transaction."""
    con.execute(
        """UPDATE ops.activation_batch SET status = $status, confirmed = $confirmed,
               delivered_at = now()
           WHERE destination = $destination AND segment = $segment AND batch_id = $batch_id
             AND status = 'pending'""",
        {
            "destination": destination,
            "segment": segment,
            "batch_id": batch,
            "status": status,
            "confirmed": confirmed,
        },
    )


def lock_path(warehouse: str | Path, destination: str, segment: str) -> Path:
    """The lock file of one (destination, segment), beside the warehouse."""
    return Path(f"{warehouse}.locks") / f"{destination}__{segment}.lock"


@contextmanager
def delivery_lock(path: Path, timeout: float = 3600.0, poll: float = 0.1) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (waiting up to `timeout` seconds).

    The operating system releases it when its holder dies, so a `pending` batch found while
    holding it belongs to a run that is over, never to one still sending. Without `fcntl` (not a
    POSIX system) runs of one warehouse are not locked against each other.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"another run has been delivering for over {timeout:.0f}s ({path.name})"
                    ) from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
