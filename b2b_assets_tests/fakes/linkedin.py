"""A fake LinkedIn Matched Audiences API: `POST /rest/dmpSegments/{id}/users|companies` BATCH_CREATE.

Checks the Rest.li headers, the `LinkedIn-Version` header and the bearer token; refuses more than
5,000 elements (HTTP 400); answers each element 201 (ADD) / 200 (REMOVE), or 400 when a user id is not
`SHA256_EMAIL` with a 64-lowercase-hex `idValue` (so a plain email is never accepted), or 422 for ids
listed in `reject_ids`. A `LinkedIn-Version` older than `oldest_version` (when set) gets what LinkedIn
answers for a sunset version: HTTP 426 with code NONEXISTENT_VERSION. Membership per segment is kept
in memory (user hashes; company domains or names). `inject(kind, times)` kinds: an HTTP status
("429" with optional `retry_after`, "426", "500", "503") or "slow" (answer normally after `delay`
seconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from b2b_assets_tests.fakes import Answer, FakeServer, Injection, RecordedRequest

SEGMENT_PATH = re.compile(r"/rest/dmpSegments/(\d+)/(users|companies)")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
COMPANY_FIELDS = {
    "companyName",
    "companyWebsiteDomain",
    "companyEmailDomain",
    "companyPageUrl",
    "organizationUrn",
}


class FakeLinkedIn(FakeServer):
    def __init__(
        self,
        *,
        access_token: str = "fake-linkedin-token",
        segment_ids: Iterable[int] = (555,),
        max_elements: int = 5000,
        reject_ids: Iterable[str] = (),
        oldest_version: str | None = None,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.max_elements = max_elements
        self.reject_ids = set(reject_ids)
        self.oldest_version = oldest_version
        self.segments: dict[tuple[int, str], set[str]] = {}
        for sid in segment_ids:
            self.segments[(int(sid), "users")] = set()
            self.segments[(int(sid), "companies")] = set()

    def members(self, segment_id: int, kind: str = "users") -> set[str]:
        with self.lock:
            return set(self.segments[(int(segment_id), kind)])

    def route(
        self, request: RecordedRequest, authorization: str | None, injection: Injection | None
    ) -> Answer:
        match = SEGMENT_PATH.fullmatch(request.path)
        if match is None or request.method != "POST":
            return Answer(404, {"status": 404, "message": "Resource not found"})
        if injection is not None:
            status = int(injection.kind)
            headers = {}
            if "retry_after" in injection.options:
                headers["Retry-After"] = str(injection.options["retry_after"])
            return Answer(status, {"status": status, "message": "injected"}, headers)
        if authorization != f"Bearer {self.access_token}":
            return Answer(
                401, {"serviceErrorCode": 65600, "status": 401, "message": "Invalid access token"}
            )
        h = request.headers
        if h.get("x-restli-method", "").upper() != "BATCH_CREATE":
            return _bad("X-RestLi-Method must be BATCH_CREATE")
        if h.get("x-restli-protocol-version") != "2.0.0":
            return _bad("X-Restli-Protocol-Version must be 2.0.0")
        version = h.get("linkedin-version", "")
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version):
            return Answer(
                426,
                {"status": 426, "code": "VERSION_MISSING", "message": "A version must be present"},
            )
        if self.oldest_version is not None and version < self.oldest_version:
            return Answer(
                426,
                {
                    "status": 426,
                    "code": "NONEXISTENT_VERSION",
                    "message": f"Requested version {version} is not active",
                },
            )
        key = (int(match.group(1)), match.group(2))
        if key not in self.segments:
            return Answer(404, {"status": 404, "message": "Segment not found"})
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
            return _bad('Body must be {"elements": [...]}')
        elements = body["elements"]
        if len(elements) > self.max_elements:
            return _bad(f"Batch size {len(elements)} exceeds the maximum of {self.max_elements}")
        check = _user_key if key[1] == "users" else _company_key
        answers = []
        with self.lock:
            members = self.segments[key]
            for element in elements:
                action = element.get("action") if isinstance(element, dict) else None
                member, problem = (
                    check(element)
                    if action in ("ADD", "REMOVE")
                    else (None, "action must be ADD or REMOVE")
                )
                if problem is not None:
                    answers.append({"status": 400, "error": {"status": 400, "message": problem}})
                elif member in self.reject_ids:
                    answers.append(
                        {
                            "status": 422,
                            "error": {"status": 422, "message": "Member could not be processed"},
                        }
                    )
                elif action == "ADD":
                    members.add(member)
                    answers.append({"status": 201})
                else:
                    members.discard(member)
                    answers.append({"status": 200})
        return Answer(200, {"elements": answers})


def _bad(message: str) -> Answer:
    return Answer(400, {"status": 400, "message": message})


def _user_key(element: dict[str, Any]) -> tuple[str | None, str | None]:
    user_ids = element.get("userIds")
    if not isinstance(user_ids, list) or len(user_ids) != 1 or not isinstance(user_ids[0], dict):
        return None, "userIds must hold one id"
    uid = user_ids[0]
    if uid.get("idType") != "SHA256_EMAIL":
        return None, "idType must be SHA256_EMAIL"
    value = uid.get("idValue")
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        return None, "idValue must be a SHA-256 hex digest"
    return value, None


def _company_key(element: dict[str, Any]) -> tuple[str | None, str | None]:
    fields = {k: v for k, v in element.items() if k in COMPANY_FIELDS and v}
    if not fields:
        return None, "a company needs companyName, companyWebsiteDomain, … "
    key = (
        fields.get("companyWebsiteDomain")
        or fields.get("companyEmailDomain")
        or fields.get("organizationUrn")
        or fields.get("companyPageUrl")
        or fields["companyName"]
    )
    return str(key).lower(), None
