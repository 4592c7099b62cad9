"""The offline destination: writes exactly what would be sent, under `$B2B_OUTBOX/<dest>/<segment>/`.

Each batch is one file, `<batch_id>-requests.json` (destination, segment, as_of, batch_id, action and
`requests`: the request, with method, path, headers and body), written when the batch is delivered:
to a temporary file, flushed to disk, then renamed, so a batch file is there whole or not at all.
Its name is the batch's id in the write-ahead ledger, so after an interrupted run `applied` finds
out whether the batch was written. Each run that sent something also writes the membership the
destination holds afterwards, named after the run's last batch: `<batch_id>-leads.csv` (Marketo
lead ids), `<batch_id>-users.csv` (SHA-256 email hashes) or `<batch_id>-companies.csv`.
Deterministic: sorted, no wall-clock times, batch ids derived from the batches.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from b2b_assets.activation.config import LinkedInAudience, MarketoStaticList
from b2b_assets.activation.transport import Change, ChangeResult

FORMULA_PREFIXES = ("=", "+", "-", "@")


def neutralize(cell: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class OutboxTransport:
    """Acknowledges every change once its batch file is on disk; see the module docstring.

    `membership` is what the destination held before the run (member id -> payload); the caller
    sets it once the run's plan is known, and the run's changes are applied to it. Batches hold
    as many changes as the real API takes in one call."""

    MARKETO_BATCH = 300
    LINKEDIN_BATCH = 5000

    def __init__(
        self,
        root: Path,
        destination: MarketoStaticList | LinkedInAudience,
        segment: str,
        as_of: str,
        membership: dict[str, dict[str, Any]] | None = None,
    ):
        self.folder = root / destination.name / segment
        self.destination = destination
        self.segment = segment
        self.as_of = as_of
        self.membership = dict(membership or {})
        self.files: list[Path] = []
        marketo = isinstance(destination, MarketoStaticList)
        self.max_batch = self.MARKETO_BATCH if marketo else self.LINKEDIN_BATCH

    def _request(self, changes: list[Change]) -> dict[str, Any]:
        destination = self.destination
        action = changes[0].action
        if isinstance(destination, MarketoStaticList):
            return {
                "method": "POST" if action == "add" else "DELETE",
                "path": f"/rest/v1/lists/{destination.list_id}/leads.json",
                "body": {"input": [change.payload for change in changes]},
            }
        verb = "ADD" if action == "add" else "REMOVE"
        if destination.kind == "users":
            elements = [{"action": verb, "userIds": [change.payload]} for change in changes]
        else:
            elements = [{"action": verb, **change.payload} for change in changes]
        return {
            "method": "POST",
            "path": f"/rest/dmpSegments/{destination.segment_id}/{destination.kind}",
            "headers": {
                "X-RestLi-Method": "BATCH_CREATE",
                "X-Restli-Protocol-Version": "2.0.0",
                "LinkedIn-Version": destination.linkedin_version,
            },
            "body": {"elements": elements},
        }

    def batch_file(self, batch_id: str) -> Path:
        return self.folder / f"{batch_id}-requests.json"

    def deliver(self, changes: list[Change], batch_id: str | None = None) -> list[ChangeResult]:
        if not changes:
            return []
        batch_id = batch_id or f"{len(self.files) + 1:06d}"
        document = {
            "destination": self.destination.name,
            "segment": self.segment,
            "as_of": self.as_of,
            "batch_id": batch_id,
            "action": changes[0].action,
            "requests": [self._request(changes)],
        }
        path = self.batch_file(batch_id)
        write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        self.files.append(path)
        results = []
        for change in changes:
            if change.action == "add":
                self.membership[change.member_id] = change.payload
                results.append(ChangeResult(change, "added"))
            else:
                self.membership.pop(change.member_id, None)
                results.append(ChangeResult(change, "removed"))
        return results

    def applied(self, batch_id: str, changes: list[Change]) -> set[str]:
        """All of the batch when its file was written whole (the rename is atomic), else none."""
        partial(self.batch_file(batch_id)).unlink(missing_ok=True)
        try:
            document = json.loads(self.batch_file(batch_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        if not isinstance(document, dict) or document.get("batch_id") != batch_id:
            return set()
        return {change.member_id for change in changes}

    def close(self) -> dict[str, Any]:
        if not self.files:
            return {"outbox_files": []}
        stem = self.files[-1].name.removesuffix("-requests.json")
        csv_file = self.folder / f"{stem}-{self._csv_kind()}.csv"
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        header, rows = self._membership_rows()
        writer.writerow(header)
        writer.writerows([[neutralize(cell) for cell in row] for row in rows])
        write_atomically(csv_file, buffer.getvalue())
        return {"outbox_files": [str(path) for path in [*self.files, csv_file]]}

    def _csv_kind(self) -> str:
        if isinstance(self.destination, MarketoStaticList):
            return "leads"
        return self.destination.kind

    def _membership_rows(self) -> tuple[list[str], list[list[Any]]]:
        members = sorted(self.membership.items())
        if isinstance(self.destination, MarketoStaticList):
            return ["id"], [[member_id] for member_id, _ in members]
        if self.destination.kind == "users":
            return ["email_sha256"], [[member_id] for member_id, _ in members]
        return ["companyName", "companyWebsiteDomain"], [
            [payload.get("companyName"), payload.get("companyWebsiteDomain")]
            for _, payload in members
        ]


def partial(path: Path) -> Path:
    """Where `path` is written before it is renamed into place."""
    return path.with_name(path.name + ".partial")


def write_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a flushed temporary file renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial(path)
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _holds(value: Any, wanted: str) -> bool:
    if isinstance(value, dict):
        return any(_holds(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, wanted) for v in value)
    return value is not None and str(value) == wanted


def outbox_adds(folder: Path, wanted: str) -> bool:
    """Whether a requests file in an outbox folder (`<outbox>/<destination>/<segment>`) adds the
    id: a Marketo lead id in a POST's input, or a LinkedIn ADD element's id. A file still being
    written is passed over."""
    for path in sorted(folder.glob("*-requests.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for request in document.get("requests", []):
            body = request.get("body") or {}
            if request.get("method") == "POST" and _holds(body.get("input"), wanted):
                return True
            adds = [e for e in body.get("elements", []) if e.get("action") == "ADD"]
            if _holds(adds, wanted):
                return True
    return False
