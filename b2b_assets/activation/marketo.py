"""Marketo Engage static-list membership client (a `Transport`).

- Auth: OAuth client credentials from `GET {identity_endpoint}/oauth/token?...` (Marketo puts the
  client id and secret in that query string). The token is cached and renewed shortly before it
  expires (`expires_in`), and again when a call answers 601 (invalid) or 602 (expired) — that call is
  then retried once with the new token. REST calls send the token only as `Authorization: Bearer`.
  The identity request is sent through the transport directly rather than `httpx.Client.send`, so
  httpx's request log line (which prints the full URL) never sees the secret.
- Limits: at most 300 lead ids per call (`max_batch`); 100 calls per 20 s enforced client-side by a
  blocking moving-window limiter shared by all clients of the same endpoint in this process; and at
  most 10 concurrent calls, which this client respects by construction: it sends one request at a
  time (calls on one client are serialised by a lock), so up to 10 clients may run in parallel.
- Reconciliation: `applied` asks `GET /rest/v1/lists/{listId}/leads/ismember.json?id=…&id=…`
  (Member of List, 300 ids a call; each id answered `memberof`, `notmemberof` or `skipped`) which
  changes of a batch an interrupted run may have sent the list already holds.
- Errors: Marketo answers most errors as HTTP 200 with `success: false`. 604, 606, 608, 615, HTTP 5xx
  (and 429), timeouts and connection errors are retried with exponential backoff; anything else
  raises DeliveryError at once. No message or log line carries a URL, token, secret or email.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from b2b_assets.activation.http import (
    BlockingRateLimiter,
    Clock,
    RetryableError,
    RetrySettings,
    Sleep,
    call_with_retries,
    check_endpoint,
    redact,
    transport_failure,
)
from b2b_assets.activation.transport import Change, ChangeResult, DeliveryError

logger = logging.getLogger(__name__)

MAX_BATCH = 300
RETRYABLE_CODES = frozenset({"604", "606", "608", "615"})
TOKEN_CODES = frozenset({"601", "602"})


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
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.endpoint = check_endpoint(endpoint, name="endpoint")
        self.identity_endpoint = check_endpoint(identity_endpoint, name="identity_endpoint")
        self.list_id = str(list_id)
        if not self.list_id.isdigit():
            raise ValueError("list_id must be a numeric Marketo static list id")
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry = retry or RetrySettings()
        self._clock = clock
        self._sleep = sleep
        self._refresh_margin = token_refresh_margin
        self._transport = transport or httpx.HTTPTransport()
        # One connection is enough: the client never has two requests in flight.
        self._http = httpx.Client(transport=self._transport, timeout=httpx.Timeout(timeout))
        self._timeout = timeout
        self._limiter = BlockingRateLimiter(
            rate_limit[0], rate_limit[1], key=f"marketo:{self.endpoint}", logger=logger
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._closed = False
        self.stats: dict[str, int] = {
            "rest_calls": 0,
            "token_requests": 0,
            "retries": 0,
            "added": 0,
            "removed": 0,
            "skipped": 0,
            "failed": 0,
        }

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
        with self._lock:
            self._check_open()
            data = self._rest(method, path, body, what=f"Marketo list {self.list_id} {action}")
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
            with self._lock:
                self._check_open()
                data = self._rest(
                    "GET",
                    path,
                    None,
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
        with self._lock:
            if not self._closed:
                self._http.close()
                self._closed = True
        return {
            "destination": "marketo",
            "list_id": self.list_id,
            **self.stats,
            "rate_limit_wait_seconds": round(self._limiter.waited_seconds, 3),
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
            with self._lock:
                self._check_open()
                data = self._rest("POST", "/rest/v1/leads.json", body, what="Marketo lead upsert")
            for email, item in zip(chunk, data.get("result") or [], strict=False):
                if item.get("status") in ("created", "updated") and item.get("id") is not None:
                    found[email] = int(item["id"])
                else:
                    skipped += 1
        logger.info("Marketo lead upsert: %d lead(s) resolved, %d skipped", len(found), skipped)
        return found

    # -- internals --------------------------------------------------------------------------------

    @property
    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._client_secret, self._token) if s)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("client is closed")

    def _rest(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        what: str,
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """One logical REST call: rate limited, retried on transient errors, token renewed once."""
        renewed = False

        def attempt() -> dict[str, Any]:
            nonlocal renewed
            while True:
                token = self._access_token()
                data = self._send(method, path, body, token, params)
                if data.get("success") is True:
                    return data
                code, message = _first_error(data)
                if code in TOKEN_CODES:
                    self._drop_token(token)
                    if not renewed:
                        renewed = True
                        logger.info(
                            "%s: Marketo error %s %s; renewing the token", what, code, message
                        )
                        continue
                    raise DeliveryError(
                        redact(
                            f"{what}: Marketo error {code} {message} after renewing the token",
                            self._secrets,
                        )
                    )
                if code in RETRYABLE_CODES:
                    raise RetryableError(f"Marketo error {code} {message}")
                raise DeliveryError(
                    redact(f"{what}: Marketo error {code} {message}", self._secrets)
                )

        def count_retry() -> None:
            self.stats["retries"] += 1

        return call_with_retries(
            attempt,
            settings=self._retry,
            sleep=self._sleep,
            logger=logger,
            what=what,
            secrets=self._secrets,
            on_retry=count_retry,
        )

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        token: str,
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._limiter.acquire()
        self.stats["rest_calls"] += 1
        try:
            response = self._http.request(
                method,
                self.endpoint + path,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, self._secrets) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise DeliveryError(f"Marketo answered HTTP {response.status_code} on {method} {path}")
        try:
            data = response.json()
        except ValueError:
            raise DeliveryError(
                f"Marketo answered {method} {path} with a body that is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise DeliveryError(f"Marketo answered {method} {path} with an unexpected JSON shape")
        return data

    def _access_token(self) -> str:
        if self._token is not None and self._clock() < self._token_renew_at:
            return self._token
        self._token = None
        return self._fetch_token()

    def _drop_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    def _fetch_token(self) -> str:
        request = self._http.build_request(
            "GET",
            self.identity_endpoint + "/oauth/token",
            params={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
            headers={"Accept": "application/json"},
        )
        self.stats["token_requests"] += 1
        started = self._clock()
        # Sent through the transport, not `Client.send`: httpx logs every request URL it sends, and
        # this URL carries the client secret. The URL is never formatted into any message here.
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
            raise RetryableError(f"Marketo identity call {kind} ({type(exc).__name__})") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"Marketo identity call answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if (
            response.status_code != 200
            or not isinstance(data, dict)
            or not data.get("access_token")
        ):
            error = data.get("error") if isinstance(data, dict) else None
            raise DeliveryError(
                redact(
                    f"Marketo identity call failed: HTTP {response.status_code}"
                    + (f" ({error})" if isinstance(error, str) else ""),
                    self._secrets,
                )
            )
        token = str(data["access_token"])
        try:
            expires_in = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        # Marketo hands out the same token until it expires, with the remaining lifetime; if that is
        # already inside the margin, use the token until it really expires (602 is the backstop).
        lead = self._refresh_margin if expires_in > self._refresh_margin else 0.0
        self._token = token
        self._token_renew_at = started + max(expires_in - lead, 0.0)
        logger.debug("Marketo access token obtained; expires in %.0fs", expires_in)
        return token


def _lead_id(change: Change) -> int:
    raw = change.payload.get("id", change.member_id) if change.payload else change.member_id
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError("a Marketo change needs a numeric lead id (payload {'id': …})") from None
    if value <= 0:
        raise ValueError("a Marketo lead id must be positive")
    return value


def _first_error(data: dict[str, Any]) -> tuple[str, str]:
    errors = data.get("errors") or []
    if errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", "?")), str(errors[0].get("message", "")).strip()
    return "?", "success is not true and no error was given"


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
