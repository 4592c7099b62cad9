"""The offline destination: writes exactly what would be sent, under `$B2B_OUTBOX/<dest>/<segment>/`.

Per run with changes: `NNNN-requests.json` (each request: method, path, body) and a membership CSV of
what the destination holds afterwards (`NNNN-leads.csv` of Marketo lead ids, `NNNN-users.csv` of
SHA-256 email hashes, `NNNN-companies.csv`). Deterministic: sorted, no wall-clock times.
"""

from __future__ import annotations

import csv
import json
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
    """Acknowledges every change and records the requests it would have made."""

    def __init__(
        self,
        root: Path,
        destination: MarketoStaticList | LinkedInAudience,
        segment: str,
        as_of: str,
        membership: dict[str, dict[str, Any]],
    ):
        self.folder = root / destination.name / segment
        self.destination = destination
        self.segment = segment
        self.as_of = as_of
        self.membership = dict(membership)
        self.requests: list[dict[str, Any]] = []
        self.max_batch = 300 if isinstance(destination, MarketoStaticList) else 5000

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

    def deliver(self, changes: list[Change]) -> list[ChangeResult]:
        self.requests.append(self._request(changes))
        results = []
        for change in changes:
            if change.action == "add":
                self.membership[change.member_id] = change.payload
                results.append(ChangeResult(change, "added"))
            else:
                self.membership.pop(change.member_id, None)
                results.append(ChangeResult(change, "removed"))
        return results

    def close(self) -> dict[str, Any]:
        if not self.requests:
            return {"outbox_files": []}
        self.folder.mkdir(parents=True, exist_ok=True)
        sequence = 1 + sum(1 for _ in self.folder.glob("*-requests.json"))
        stem = f"{sequence:04d}"
        requests_file = self.folder / f"{stem}-requests.json"
        document = {
            "destination": self.destination.name,
            "segment": self.segment,
            "as_of": self.as_of,
            "requests": self.requests,
        }
        requests_file.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        csv_file = self.folder / f"{stem}-{self._csv_kind()}.csv"
        with csv_file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            header, rows = self._membership_rows()
            writer.writerow(header)
            writer.writerows([[neutralize(cell) for cell in row] for row in rows])
        return {"outbox_files": [str(requests_file), str(csv_file)]}

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
