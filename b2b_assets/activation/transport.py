"""What every destination client offers: deliver one batch of same-action changes, say per member
what happened, and (after an interrupted run) say which changes of a batch it already holds. The
activation asset computes the deltas, batches them, and records the results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from b2b_assets.apis.http import ApiError

Action = Literal["add", "remove"]
Status = Literal["added", "removed", "skipped", "failed"]


@dataclass(frozen=True)
class Change:
    """One member to add to or remove from a destination.

    `member_id` is the destination-side identity (a Marketo lead id, a SHA-256 email hash, a company
    domain); `payload` is what the API takes for it (e.g. `{"id": 48212}` for Marketo,
    `{"idType": "SHA256_EMAIL", "idValue": "..."}` for LinkedIn users,
    `{"companyName": ..., "companyWebsiteDomain": ...}` for LinkedIn companies).
    """

    action: Action
    member_id: str
    payload: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ChangeResult:
    """What the destination said about one change; `reason` e.g. "1004 Lead not found"."""

    change: Change
    status: Status
    reason: str | None = None


class DeliveryError(ApiError):
    """A batch could not be delivered after the retries the API allows; nothing of it is recorded."""


class Transport(Protocol):
    """A destination client (HTTP) or the offline outbox."""

    max_batch: int

    def deliver(self, changes: list[Change], batch_id: str | None = None) -> list[ChangeResult]:
        """Deliver one batch (all the same action, at most `max_batch`); one result per change.
        `batch_id` names the batch in the write-ahead ledger (the outbox puts it in file names).

        Raises DeliveryError when the batch was not acknowledged.
        """
        ...

    def applied(self, batch_id: str, changes: list[Change]) -> set[str] | None:
        """For a batch an interrupted run may have sent: the member ids among `changes` whose
        effect the destination already holds (added members present, removed members absent),
        or None when the destination cannot be asked."""
        ...

    def close(self) -> dict[str, Any]:
        """Finish the run (the outbox writes its files here); returns metadata to report."""
        ...
