"""A fake Marketo REST API: identity, static list membership and lead upsert, with Marketo's limits.

- `GET /identity/oauth/token?grant_type=client_credentials&client_id=…&client_secret=…` issues a
  token living `token_lifetime` seconds; like Marketo, asking again while it is valid returns the same
  token with the remaining `expires_in`.
- REST calls need `Authorization: Bearer <token>`: 600 when absent, 601 when unknown or revoked,
  602 when expired. More than `max_concurrent` REST calls in flight answer 615; more than
  `rate_limit[0]` REST calls in any `rate_limit[1]`-second window answer 606; more than 300 ids
  answer 1003.
- `POST|DELETE /rest/v1/lists/{id}/leads.json` add/remove known leads (`skipped` 1004 for unknown
  ids, 1015 when removing a non-member); `POST /rest/v1/leads.json` createOrUpdate by email.
- `GET /rest/v1/lists/{id}/leads/ismember.json?id=1&id=2` (or `id=1,2`): each id `memberof`,
  `notmemberof`, or `skipped` 1004 for an unknown lead; at most 300 ids (1003).
- `inject(kind, times)` kinds: a Marketo error code ("604", "606", "608", "615", "607", "601", …)
  answered as HTTP 200 `success:false`; an HTTP status below 600 ("500", "503", …); "slow" (answer
  normally after `delay` seconds). Injections apply to REST calls only.
"""

from __future__ import annotations

import itertools
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from b2b_assets_tests.fakes import Answer, FakeServer, Injection, RecordedRequest

MESSAGES = {
    "600": "Access token not specified",
    "601": "Access token invalid",
    "602": "Access token expired",
    "604": "Request timed out",
    "606": "Max rate limit '100' exceeded with in '20' secs",
    "607": "Daily quota reached",
    "608": "API Temporarily Unavailable",
    "615": "Concurrent access limit reached",
}
LIST_PATH = re.compile(r"/rest/v1/lists/(\d+)/leads\.json")
ISMEMBER_PATH = re.compile(r"/rest/v1/lists/(\d+)/leads/ismember\.json")


class FakeMarketo(FakeServer):
    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        list_ids: Iterable[int] = (1001,),
        known_leads: dict[int, str] | Iterable[int] = (),
        token_lifetime: float = 3600.0,
        rate_limit: tuple[int, float] = (100, 20.0),
        max_concurrent: int = 10,
        max_ids: int = 300,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.max_concurrent = max_concurrent
        self.max_ids = max_ids
        self.lists: dict[int, set[int]] = {int(i): set() for i in list_ids}
        if isinstance(known_leads, dict):
            self.leads: dict[int, str | None] = dict(known_leads)
        else:
            self.leads = {int(i): None for i in known_leads}
        self._next_id = itertools.count(max(self.leads, default=0) + 1)
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic); every token ever issued
        self.issued_tokens: list[str] = []
        self._current: str | None = None
        self._rest_calls: deque[float] = deque()

    # -- controls for tests -----------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on (next REST call answers 602)."""
        with self.lock:
            now = time.monotonic()
            for token in self.tokens:
                self.tokens[token] = min(self.tokens[token], now)
            self._current = None

    def revoke_tokens(self) -> None:
        """Forget every issued token (next REST call answers 601)."""
        with self.lock:
            self.tokens.clear()
            self._current = None

    def members(self, list_id: int) -> set[int]:
        with self.lock:
            return set(self.lists[int(list_id)])

    def rest_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests_to("/") if self.is_api_call(r)]

    def identity_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/identity/")

    def error_codes(self) -> list[str]:
        """The Marketo error code (or HTTP status) of each answered REST request, in order."""
        codes = []
        for r in self.rest_requests():
            if r.status is None:
                continue
            if r.status != 200:
                codes.append(str(r.status))
            elif isinstance(r.response, dict) and not r.response.get("success"):
                codes.append(str(r.response["errors"][0]["code"]))
            else:
                codes.append("ok")
        return codes

    # -- routing ----------------------------------------------------------------------------------

    #: paths that are API calls (token, rate limit, concurrency, injections); a subclass may add more
    api_prefixes: tuple[str, ...] = ("/rest/",)

    def is_api_call(self, request: RecordedRequest) -> bool:
        return request.path.startswith(self.api_prefixes)

    def eligible_for_injection(self, request: RecordedRequest) -> bool:
        return self.is_api_call(request)

    def route(
        self, request: RecordedRequest, authorization: str | None, injection: Injection | None
    ) -> Answer:
        if request.path == "/identity/oauth/token" and request.method == "GET":
            return self._identity(request)
        if not self.is_api_call(request):
            return Answer(404, {"message": "not found"})
        with self.lock:
            concurrent = self.in_flight
        if concurrent > self.max_concurrent:
            return _error("615")
        if injection is not None:
            if int(injection.kind) < 600:
                return Answer(int(injection.kind), {"message": "injected HTTP error"})
            return _error(injection.kind)
        auth_error = self._check_token(authorization, request)
        if auth_error is not None:
            return auth_error
        if not self._within_rate_limit():
            return _error(
                "606",
                f"Max rate limit '{self.rate_limit[0]}' exceeded with in '{self.rate_limit[1]:g}' secs",
            )
        return self.handle(request)

    def handle(self, request: RecordedRequest) -> Answer:
        """An authorized API call within the limits; a subclass adds endpoints before these."""
        if match := LIST_PATH.fullmatch(request.path):
            if request.method not in ("POST", "DELETE"):
                return Answer(405, {"message": "method not allowed"})
            return self._membership(int(match.group(1)), request)
        if match := ISMEMBER_PATH.fullmatch(request.path):
            if request.method != "GET":
                return Answer(405, {"message": "method not allowed"})
            return self._is_member(int(match.group(1)), request)
        if request.path == "/rest/v1/leads.json" and request.method == "POST":
            return self._upsert(request)
        return Answer(404, {"message": "not found"})

    def _identity(self, request: RecordedRequest) -> Answer:
        q = {k: v[0] for k, v in request.query.items()}
        if (
            q.get("grant_type") != "client_credentials"
            or q.get("client_id") != self.client_id
            or q.get("client_secret") != self.client_secret
        ):
            return Answer(
                401, {"error": "unauthorized", "error_description": "Bad client credentials"}
            )
        with self.lock:
            now = time.monotonic()
            if self._current is None or self.tokens.get(self._current, 0.0) <= now:
                self._current = f"{secrets.token_hex(8)}-{secrets.token_hex(4)}:ab"
                self.tokens[self._current] = now + self.token_lifetime
                self.issued_tokens.append(self._current)
            remaining = self.tokens[self._current] - now
            return Answer(
                200,
                {
                    "access_token": self._current,
                    "token_type": "bearer",
                    "expires_in": max(0, math.ceil(remaining)),
                    "scope": "api-user@example.com",
                },
            )

    def _check_token(self, authorization: str | None, request: RecordedRequest) -> Answer | None:
        if "access_token" in request.query:
            return _error("601", "Access token must be sent in the Authorization header")
        if not authorization or not authorization.startswith("Bearer "):
            return _error("600")
        token = authorization.removeprefix("Bearer ")
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return _error("601")
        if expiry <= time.monotonic():
            return _error("602")
        return None

    def _within_rate_limit(self) -> bool:
        amount, window = self.rate_limit
        with self.lock:
            now = time.monotonic()
            while self._rest_calls and self._rest_calls[0] <= now - window:
                self._rest_calls.popleft()
            if len(self._rest_calls) >= amount:
                return False
            self._rest_calls.append(now)
            return True

    def _membership(self, list_id: int, request: RecordedRequest) -> Answer:
        ids = _input(request.body)
        if ids is None:
            return _error("609", "Invalid JSON")
        if len(ids) > self.max_ids:
            return _error("1003", f"Input exceeds {self.max_ids} ids")
        with self.lock:
            if list_id not in self.lists:
                return _error("1013", "Static list not found")
            members = self.lists[list_id]
            result = []
            for item in ids:
                lead_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(lead_id, int) or lead_id not in self.leads:
                    result.append(_skipped(lead_id, "1004", "Lead not found"))
                elif request.method == "POST":
                    members.add(lead_id)
                    result.append({"id": lead_id, "status": "added"})
                elif lead_id in members:
                    members.discard(lead_id)
                    result.append({"id": lead_id, "status": "removed"})
                else:
                    result.append(_skipped(lead_id, "1015", "Lead not in list"))
        return _ok(result)

    def _is_member(self, list_id: int, request: RecordedRequest) -> Answer:
        raw = [part for value in request.query.get("id", []) for part in value.split(",") if part]
        if not raw:
            return _error("1003", "id is required")
        if len(raw) > self.max_ids:
            return _error("1003", f"Input exceeds {self.max_ids} ids")
        with self.lock:
            if list_id not in self.lists:
                return _error("1013", "Static list not found")
            members = self.lists[list_id]
            result = []
            for text in raw:
                lead_id = int(text) if text.strip().isdigit() else None
                if lead_id is None or lead_id not in self.leads:
                    result.append(_skipped(lead_id, "1004", "Lead not found"))
                else:
                    status = "memberof" if lead_id in members else "notmemberof"
                    result.append({"id": lead_id, "status": status})
        return _ok(result)

    def list_adds(self, list_id: int) -> list[int]:
        """Every lead id sent in an answered list-add call, in order: a lead sent twice is here twice."""
        path = f"/rest/v1/lists/{int(list_id)}/leads.json"
        return [
            item["id"]
            for request in self.requests_to(path, "POST")
            if isinstance(request.response, dict) and request.response.get("success")
            for item in request.body["input"]
        ]

    def _upsert(self, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("action") != "createOrUpdate" or body.get("lookupField") != "email":
            return _error("1003", "Only createOrUpdate on email is supported by the fake")
        rows = _input(body)
        if rows is None:
            return _error("609", "Invalid JSON")
        if len(rows) > self.max_ids:
            return _error("1003", f"Input exceeds {self.max_ids} records")
        result = []
        with self.lock:
            by_email = {e.lower(): i for i, e in self.leads.items() if e}
            for row in rows:
                email = row.get("email") if isinstance(row, dict) else None
                if not isinstance(email, str) or "@" not in email:
                    result.append(
                        {
                            "status": "skipped",
                            "reasons": [{"code": "1006", "message": "Field 'email' not valid"}],
                        }
                    )
                elif email.lower() in by_email:
                    result.append({"id": by_email[email.lower()], "status": "updated"})
                else:
                    lead_id = next(self._next_id)
                    self.leads[lead_id] = email
                    by_email[email.lower()] = lead_id
                    result.append({"id": lead_id, "status": "created"})
        return _ok(result)


def _input(body: Any) -> list[Any] | None:
    if not isinstance(body, dict) or not isinstance(body.get("input"), list):
        return None
    return body["input"]


def _request_id() -> str:
    return f"{secrets.token_hex(2)}#{secrets.token_hex(6)}"


def _ok(result: list[dict[str, Any]]) -> Answer:
    return Answer(200, {"requestId": _request_id(), "result": result, "success": True})


def _error(code: str, message: str | None = None) -> Answer:
    return Answer(
        200,
        {
            "requestId": _request_id(),
            "success": False,
            "errors": [{"code": code, "message": message or MESSAGES.get(code, "Error")}],
        },
    )


def _skipped(lead_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": lead_id, "status": "skipped", "reasons": [{"code": code, "message": message}]}
