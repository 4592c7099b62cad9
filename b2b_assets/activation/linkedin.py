"""LinkedIn Matched Audiences (DMP segment) membership client (a `Transport`).

`POST {endpoint}/rest/dmpSegments/{id}/users` (or `/companies`) as a Rest.li BATCH_CREATE of up to
5,000 elements, each `{"action": "ADD"|"REMOVE", ...}`. Users are only ever sent as
`{"idType": "SHA256_EMAIL", "idValue": <64 lowercase hex>}`: anything else (a plain email, upper-case
hex, extra personal fields) is refused with ValueError before a byte is sent, and the message does not
echo the value. HTTP 429 (honouring Retry-After), 5xx, timeouts and connection errors are retried with
exponential backoff; HTTP 426 (a `LinkedIn-Version` LinkedIn no longer serves) raises
LinkedInVersionError naming the `linkedin_version` setting to change; other HTTP errors raise
DeliveryError; neither is retried. Per-element statuses (2xx or 4xx) become added/removed or failed.
Calls on one client are serialised by a lock. LinkedIn has no API to read a segment's members: a
batch an interrupted run may have sent is sent again (`applied`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Literal

import httpx

from b2b_assets.activation.config import LINKEDIN_VERSION, LINKEDIN_VERSION_PATTERN
from b2b_assets.activation.transport import Change, ChangeResult, DeliveryError
from b2b_assets.apis.http import (
    RetryableError,
    RetrySettings,
    Sleep,
    call_with_retries,
    check_endpoint,
    parse_retry_after,
    redact,
    transport_failure,
)

logger = logging.getLogger(__name__)

MAX_BATCH = 5000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
COMPANY_FIELDS = frozenset(
    {
        "companyName",
        "companyWebsiteDomain",
        "companyEmailDomain",
        "companyPageUrl",
        "organizationUrn",
    }
)

Kind = Literal["users", "companies"]


class LinkedInVersionError(DeliveryError):
    """LinkedIn refused the `LinkedIn-Version` (HTTP 426): `linkedin_version` must be changed."""


class LinkedInAudienceClient:
    """Adds members to / removes members from one LinkedIn DMP segment. See the module docstring."""

    max_batch: int = MAX_BATCH

    def __init__(
        self,
        endpoint: str,
        access_token: str,
        segment_id: int | str,
        kind: Kind,
        linkedin_version: str,
        *,
        timeout: float = 60.0,
        retry: RetrySettings | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        destination: str | None = None,
    ) -> None:
        """
        endpoint: API base, `https://api.linkedin.com` (calls go to `{endpoint}/rest/dmpSegments/…`).
        kind: "users" (payload = one userId object) or "companies" (payload = company fields).
        linkedin_version: the `LinkedIn-Version` header, `YYYYMM`.
        timeout: seconds per HTTP call. retry: attempts and backoff. sleep: used for backoff waits.
        transport: an httpx transport (tests may pass `httpx.MockTransport`).
        destination: the entry of `destinations.yaml`, named in errors that ask to change it.
        """
        if kind not in ("users", "companies"):
            raise ValueError('kind must be "users" or "companies"')
        if not access_token:
            raise ValueError("access_token is required")
        if not LINKEDIN_VERSION_PATTERN.fullmatch(str(linkedin_version)):
            raise ValueError("linkedin_version must look like YYYYMM")
        self.segment_id = str(segment_id)
        if not self.segment_id.isdigit():
            raise ValueError("segment_id must be a numeric DMP segment id")
        self.endpoint = check_endpoint(endpoint)
        self.kind: Kind = kind
        self.linkedin_version = str(linkedin_version)
        self.destination = destination
        self._token = access_token
        self._retry = retry or RetrySettings()
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout))
        self._lock = threading.Lock()
        self._closed = False
        self.stats: dict[str, int] = {
            "calls": 0,
            "retries": 0,
            "added": 0,
            "removed": 0,
            "failed": 0,
        }

    @property
    def path(self) -> str:
        return f"/rest/dmpSegments/{self.segment_id}/{self.kind}"

    # -- Transport --------------------------------------------------------------------------------

    def deliver(self, changes: list[Change], batch_id: str | None = None) -> list[ChangeResult]:
        if not changes:
            return []
        if len(changes) > self.max_batch:
            raise ValueError(f"a LinkedIn batch holds at most {self.max_batch} changes")
        actions = {c.action for c in changes}
        if len(actions) != 1:
            raise ValueError("a batch must hold changes of one action")
        action = actions.pop()
        verb = "ADD" if action == "add" else "REMOVE"
        build = self._user_element if self.kind == "users" else self._company_element
        elements = [build(verb, change, n) for n, change in enumerate(changes)]
        what = f"LinkedIn segment {self.segment_id} {self.kind} {action}"
        with self._lock:
            if self._closed:
                raise RuntimeError("client is closed")
            data = call_with_retries(
                lambda: self._post({"elements": elements}),
                settings=self._retry,
                sleep=self._sleep,
                logger=logger,
                what=what,
                secrets=(self._token,),
                on_retry=self._count_retry,
                error=DeliveryError,
            )
        answers = data.get("elements") if isinstance(data, dict) else None
        if not isinstance(answers, list):
            answers = []
        ok_status = "added" if action == "add" else "removed"
        results: list[ChangeResult] = []
        for n, change in enumerate(changes):
            answer = answers[n] if n < len(answers) and isinstance(answers[n], dict) else None
            results.append(_element_result(change, answer, ok_status))
        ok = sum(r.status == ok_status for r in results)
        self.stats[ok_status] += ok
        self.stats["failed"] += len(results) - ok
        logger.info(
            "%s: %d element(s): %d %s, %d failed",
            what,
            len(changes),
            ok,
            ok_status,
            len(results) - ok,
        )
        return results

    def applied(self, batch_id: str, changes: list[Change]) -> None:
        """LinkedIn offers no API to read a DMP segment's members, so an interrupted batch cannot
        be checked: None. Its changes are then sent again by the next plan, which is safe because
        LinkedIn treats an ADD of a member already in the segment, and a REMOVE of one not in it,
        as no-ops (members are keyed by the hashed email or the company)."""
        logger.info(
            "LinkedIn segment %s: batch %s cannot be checked; what it holds is sent again",
            self.segment_id,
            batch_id,
        )
        return None

    def close(self) -> dict[str, Any]:
        with self._lock:
            if not self._closed:
                self._http.close()
                self._closed = True
        return {
            "destination": "linkedin",
            "segment_id": self.segment_id,
            "kind": self.kind,
            **self.stats,
        }

    def __enter__(self) -> LinkedInAudienceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------

    def _count_retry(self) -> None:
        self.stats["retries"] += 1

    def _user_element(self, verb: str, change: Change, n: int) -> dict[str, Any]:
        payload = change.payload or {}
        if set(payload) != {"idType", "idValue"}:
            raise ValueError(
                f"change #{n}: a LinkedIn user payload must be exactly {{'idType', 'idValue'}}"
            )
        if payload["idType"] != "SHA256_EMAIL":
            raise ValueError(f"change #{n}: idType must be SHA256_EMAIL")
        value = payload["idValue"]
        if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
            # Never echo the value: it may be a plain email.
            raise ValueError(
                f"change #{n}: idValue must be a lowercase SHA-256 hex digest (64 chars)"
            )
        return {"action": verb, "userIds": [{"idType": "SHA256_EMAIL", "idValue": value}]}

    def _company_element(self, verb: str, change: Change, n: int) -> dict[str, Any]:
        payload = change.payload or {}
        unknown = set(payload) - COMPANY_FIELDS
        if unknown:
            raise ValueError(f"change #{n}: unknown company fields {sorted(unknown)}")
        fields = {k: v for k, v in payload.items() if v not in (None, "")}
        if not fields:
            raise ValueError(
                f"change #{n}: a company needs at least one of {sorted(COMPANY_FIELDS)}"
            )
        if any(not isinstance(v, str) for v in fields.values()):
            raise ValueError(f"change #{n}: company fields must be strings")
        return {"action": verb, **fields}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        self.stats["calls"] += 1
        try:
            response = self._http.post(
                self.endpoint + self.path,
                json=body,
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "X-RestLi-Method": "BATCH_CREATE",
                    "X-Restli-Protocol-Version": "2.0.0",
                    "LinkedIn-Version": self.linkedin_version,
                    "Accept": "application/json",
                },
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, (self._token,)) from None
        status = response.status_code
        if status == 426:
            raise self._version_refused(response)
        if status == 429:
            raise RetryableError(
                "HTTP 429 (rate limited)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise RetryableError(
                f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After"))
            )
        if not 200 <= status < 300:
            raise DeliveryError(
                redact(f"LinkedIn answered HTTP {status}: {_message(response)}", (self._token,))
            )
        try:
            return response.json()
        except ValueError:
            return {}

    def _version_refused(self, response: httpx.Response) -> LinkedInVersionError:
        """The error for an HTTP 426: what LinkedIn said, and the setting that fixes it."""
        code = _code(response)
        answer = f"426 {code}" if code else "HTTP 426"
        problem = (
            "is no longer served"
            if code == "NONEXISTENT_VERSION"
            else f"was refused ({_message(response)})"
        )
        entry = (
            f"destination {self.destination!r}"
            if self.destination
            else f"the LinkedIn destination of segment_id {self.segment_id}"
        )
        return LinkedInVersionError(
            redact(
                f"LinkedIn answered {answer}: LinkedIn-Version {self.linkedin_version} {problem}; "
                f"set linkedin_version of {entry} in destinations.yaml to a current version "
                f"(YYYYMM, e.g. {LINKEDIN_VERSION})",
                (self._token,),
            )
        )


def _code(response: httpx.Response) -> str | None:
    """The error `code` of a JSON answer (e.g. NONEXISTENT_VERSION), if it has a plain one."""
    try:
        data = response.json()
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) and ERROR_CODE.fullmatch(code) else None


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return "(no JSON body)"
    if isinstance(data, dict):
        message = data.get("message") or data.get("error_description") or data.get("error")
        if isinstance(message, str):
            return message[:300]
    return "(no message)"


def _element_result(change: Change, answer: dict[str, Any] | None, ok_status: str) -> ChangeResult:
    if answer is None:
        return ChangeResult(change, "failed", "no per-element result returned")
    try:
        status = int(answer.get("status", 0))
    except (TypeError, ValueError):
        status = 0
    if 200 <= status < 300:
        return ChangeResult(change, ok_status)  # type: ignore[arg-type]
    error = answer.get("error")
    message = (
        (error.get("message") if isinstance(error, dict) else None) or answer.get("message") or ""
    )
    return ChangeResult(change, "failed", f"{status} {message}".strip())
