"""Marketo Engage static-list membership client (a `Transport`).

Token, rate limit (100 calls per 20 s), retries and errors are those of `apis.marketo.MarketoApi`;
a batch holds at most 300 lead ids (`max_batch`).
- Reconciliation: `applied` asks `GET /rest/v1/lists/{listId}/leads/ismember.json?id=…&id=…`
  (Member of List, 300 ids a call; each id answered `memberof`, `notmemberof` or `skipped`) which
  changes of a batch an interrupted run may have sent the list already holds.
- No message or log line carries a URL, token, secret or email.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from b2b_assets.activation.transport import Change, ChangeResult, DeliveryError
from b2b_assets.apis.http import Clock, RetrySettings, Sleep
from b2b_assets.apis.marketo import MarketoApi

logger = logging.getLogger(__name__)

MAX_BATCH = 300


class MarketoStaticListClient:
    """Adds leads to / removes leads from one Marketo static list. See the module docstring."""

    max_batch: int = MAX_BATCH

    def __init__(
        self,
        endpoint: str,
        identity_endpoint: str,
        client_id: str,
        client_secret: str,
        list_id: int | str,
        *,
        timeout: float = 30.0,
        retry: RetrySettings | None = None,
        rate_limit: tuple[int, int] = (100, 20),
        token_refresh_margin: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """
        endpoint: REST base, e.g. `https://123-ABC-456.mktorest.com` (calls go to `{endpoint}/rest/v1/…`).
        identity_endpoint: e.g. `https://123-ABC-456.mktorest.com/identity`.
        timeout: seconds per HTTP call (connect, read, write, pool).
        retry: attempts and backoff for transient failures.
        rate_limit: (calls, seconds) moving window; Marketo allows 100 per 20 s.
        token_refresh_margin: renew the token this many seconds before `expires_in` runs out.
        clock: monotonic seconds, for token expiry. sleep: used for retry backoff waits.
        transport: an httpx transport (tests may pass `httpx.MockTransport`).
        """
        self.list_id = str(list_id)
        if not self.list_id.isdigit():
            raise ValueError("list_id must be a numeric Marketo static list id")
        self._api = MarketoApi(
            endpoint,
            identity_endpoint,
            client_id,
            client_secret,
            timeout=timeout,
            retry=retry,
            rate_limit=rate_limit,
            token_refresh_margin=token_refresh_margin,
            clock=clock,
            sleep=sleep,
            transport=transport,
            error=DeliveryError,
        )
        self.endpoint = self._api.endpoint
        self.stats: dict[str, int] = {"added": 0, "removed": 0, "skipped": 0, "failed": 0}

    # -- Transport --------------------------------------------------------------------------------

    def deliver(self, changes: list[Change], batch_id: str | None = None) -> list[ChangeResult]:
        if not changes:
            return []
        if len(changes) > self.max_batch:
            raise ValueError(f"a Marketo batch holds at most {self.max_batch} changes")
        actions = {c.action for c in changes}
        if len(actions) != 1:
            raise ValueError("a batch must hold changes of one action")
        action = actions.pop()
        lead_ids = [_lead_id(c) for c in changes]
        unique_ids = list(dict.fromkeys(lead_ids))
        body = {"input": [{"id": i} for i in unique_ids]}
        method = "POST" if action == "add" else "DELETE"
        path = f"/rest/v1/lists/{self.list_id}/leads.json"
        data = self._api.call(method, path, body, what=f"Marketo list {self.list_id} {action}")
        by_id: dict[int, dict[str, Any]] = {}
        for item in data.get("result") or []:
            try:
                by_id[int(item.get("id"))] = item
            except (TypeError, ValueError):
                continue
        results = [
            _change_result(c, i, by_id.get(i)) for c, i in zip(changes, lead_ids, strict=True)
        ]
        counts = {
            s: sum(r.status == s for r in results)
            for s in ("added", "removed", "skipped", "failed")
        }
        for status, n in counts.items():
            self.stats[status] += n
        logger.info(
            "Marketo list %s: %s %d lead(s) (batch %s): %d added, %d removed, %d skipped, %d failed",
            self.list_id,
            action,
            len(changes),
            batch_id or "-",
            counts["added"],
            counts["removed"],
            counts["skipped"],
            counts["failed"],
        )
        return results

    def applied(self, batch_id: str, changes: list[Change]) -> set[str]:
        """Ask the list (Member of List) which changes of an interrupted batch already hold: an
        added lead that is a member, a removed lead that is not (or no longer exists)."""
        membership = self.list_membership([_lead_id(c) for c in changes])
        wanted = {"add": True, "remove": False}
        found = {c.member_id for c in changes if membership[_lead_id(c)] is wanted[c.action]}
        logger.info(
            "Marketo list %s: batch %s: %d of %d change(s) already hold",
            self.list_id,
            batch_id,
            len(found),
            len(changes),
        )
        return found

    def list_membership(self, lead_ids: Sequence[int]) -> dict[int, bool]:
        """Lead id -> whether it is a member of the list (`GET /rest/v1/lists/{listId}/leads/
        ismember.json?id=…`, 300 ids per call); a lead Marketo does not know is not a member.
        Raises DeliveryError when an id gets no answer, so nothing is guessed."""
        unique = list(dict.fromkeys(int(i) for i in lead_ids))
        path = f"/rest/v1/lists/{self.list_id}/leads/ismember.json"
        membership: dict[int, bool] = {}
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            data = self._api.call(
                "GET",
                path,
                what=f"Marketo list {self.list_id} membership",
                params=[("id", str(i)) for i in chunk],
            )
            for item in data.get("result") or []:
                try:
                    lead_id = int(item.get("id"))
                except (TypeError, ValueError):
                    continue
                if item.get("status") in ("memberof", "notmemberof", "skipped"):
                    membership[lead_id] = item.get("status") == "memberof"
        missing = [i for i in unique if i not in membership]
        if missing:
            raise DeliveryError(
                f"Marketo list {self.list_id} membership: no answer for {len(missing)} lead(s)"
            )
        return membership

    def close(self) -> dict[str, Any]:
        self._api.close()
        return {
            "destination": "marketo",
            "list_id": self.list_id,
            **self._api.stats,
            **self.stats,
            "rate_limit_wait_seconds": round(self._api.rate_limit_wait_seconds, 3),
        }

    def __enter__(self) -> MarketoStaticListClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Leads ------------------------------------------------------------------------------------

    def upsert_leads(self, emails: Sequence[str]) -> dict[str, int]:
        """Create or update leads by email (`POST /rest/v1/leads.json`, createOrUpdate on `email`),
        300 per call; returns email → lead id for every lead Marketo created or updated (skipped ones
        are left out). For destinations configured to create missing leads before adding them."""
        emails = list(dict.fromkeys(e for e in emails if e))
        found: dict[str, int] = {}
        skipped = 0
        for start in range(0, len(emails), MAX_BATCH):
            chunk = emails[start : start + MAX_BATCH]
            body = {
                "action": "createOrUpdate",
                "lookupField": "email",
                "input": [{"email": e} for e in chunk],
            }
            data = self._api.call("POST", "/rest/v1/leads.json", body, what="Marketo lead upsert")
            for email, item in zip(chunk, data.get("result") or [], strict=False):
                if item.get("status") in ("created", "updated") and item.get("id") is not None:
                    found[email] = int(item["id"])
                else:
                    skipped += 1
        logger.info("Marketo lead upsert: %d lead(s) resolved, %d skipped", len(found), skipped)
        return found


def _lead_id(change: Change) -> int:
    raw = change.payload.get("id", change.member_id) if change.payload else change.member_id
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError("a Marketo change needs a numeric lead id (payload {'id': …})") from None
    if value <= 0:
        raise ValueError("a Marketo lead id must be positive")
    return value


def _reasons(item: dict[str, Any]) -> str | None:
    reasons: Iterable[Any] = item.get("reasons") or []
    text = "; ".join(
        f"{r.get('code', '')} {r.get('message', '')}".strip()
        for r in reasons
        if isinstance(r, dict)
    )
    return text or None


def _change_result(change: Change, lead_id: int, item: dict[str, Any] | None) -> ChangeResult:
    if item is None:
        return ChangeResult(change, "failed", f"no result for lead {lead_id}")
    status = item.get("status")
    expected = "added" if change.action == "add" else "removed"
    if status == expected:
        return ChangeResult(change, status)
    if status == "skipped":
        return ChangeResult(change, "skipped", _reasons(item))
    return ChangeResult(
        change,
        "failed",
        f"unexpected status {status!r}" + (f": {_reasons(item)}" if _reasons(item) else ""),
    )
