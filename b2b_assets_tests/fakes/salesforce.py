"""A fake Salesforce org: OAuth 2.0 client credentials and Bulk API 2.0 query jobs.

- `POST /services/oauth2/token` (form-encoded `grant_type=client_credentials`, `client_id`,
  `client_secret`, or the client in HTTP Basic auth) issues a session: `access_token`, `signature`,
  `scope`, `instance_url` (this server), `id`, `token_type` "Bearer", `issued_at` (epoch ms). An
  unknown client id answers 400 `invalid_client_id`, a wrong secret 400 `invalid_client`, another
  grant type 400 `unsupported_grant_type`.
- Every `/services/data` call needs `Authorization: Bearer <token>`; a missing, unknown, expired or
  revoked session answers 401 `[{"message":"Session expired or invalid","errorCode":
  "INVALID_SESSION_ID"}]`. Answers carry `Sforce-Limit-Info: api-usage=n/limit`; past `api_limit`
  calls, 403 `REQUEST_LIMIT_EXCEEDED`.
- Bulk API 2.0 (versions 47.0 to `max_api_version`): `POST …/jobs/query` creates a job from
  `{"operation": "query"|"queryAll", "query": "SELECT … FROM … [WHERE …]"}`; `GET …/jobs/query`
  lists jobs; `GET …/jobs/query/{id}` polls it (UploadComplete → InProgress → JobComplete after
  `polls_to_complete` polls; Failed or Aborted when told); `PATCH` with `{"state":"Aborted"}`
  aborts it, `DELETE` deletes it; `GET …/jobs/query/{id}/results?locator=&maxRecords=` pages the
  CSV result (every page a whole CSV with its header) with `Sforce-Locator` (the text `null` on the
  last page) and `Sforce-NumberOfRecords`. The result is a snapshot taken when the job completes.
- SOQL is parsed minimally and strictly: a SELECT list of plain field names, FROM one object, and
  an optional WHERE of datetime comparisons (`>`, `>=`, `<`, `<=`, `=`) joined by AND, with SOQL
  datetime literals (`2026-01-01T00:00:00Z`, optional `.SSS`, or a `±hh:mm` offset). Anything else
  is 400 MALFORMED_QUERY; an unknown object 400 INVALID_TYPE; an unknown field 400 INVALIDFIELD.
  `query` leaves out rows with IsDeleted true, `queryAll` keeps them.
- Records live in `records[object][Id]`; `put` stamps SystemModstamp (and LastModifiedDate when the
  object has it) from a clock that never goes back, with second precision like Salesforce;
  `delete` sets IsDeleted and stamps again (the row stays visible to queryAll); `purge` removes it.
- `inject(kind, times)` kinds (on `/services/data` calls unless `path=` says otherwise):
  "REQUEST_LIMIT_EXCEEDED" (403), "401" (INVALID_SESSION_ID, and the session used is revoked),
  another HTTP status ("500", "503", …), "slow" (answer normally after `delay` seconds).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from b2b_assets_tests.fakes import (
    Answer,
    FakeClockMixin,
    FakeServer,
    Injection,
    RecordedRequest,
    parse_instant,
)

SYSTEM_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "LastModifiedDate": "datetime",
    "SystemModstamp": "datetime",
}

#: The objects of the contract (section 3), with the standard fields used there and their types.
DEFAULT_OBJECTS: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "string",
        "Website": "url",
        "Industry": "picklist",
        "AnnualRevenue": "currency",
        "NumberOfEmployees": "int",
        "BillingCountry": "string",
        "ParentId": "reference",
    },
    "Contact": {
        "AccountId": "reference",
        "Email": "email",
        "FirstName": "string",
        "LastName": "string",
        "Title": "string",
        "HasOptedOutOfEmail": "boolean",
        "DoNotCall": "boolean",
    },
    "Opportunity": {
        "AccountId": "reference",
        "Name": "string",
        "Amount": "currency",
        "StageName": "picklist",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "CloseDate": "date",
        "CurrencyIsoCode": "picklist",
    },
    "OpportunityContactRole": {
        "OpportunityId": "reference",
        "ContactId": "reference",
        "Role": "picklist",
        "IsPrimary": "boolean",
    },
    "AccountContactRelation": {
        "AccountId": "reference",
        "ContactId": "reference",
        "IsDirect": "boolean",
        "IsActive": "boolean",
        "Roles": "multipicklist",
        "StartDate": "date",
        "EndDate": "date",
    },
    "Campaign": {
        "Name": "string",
        "Type": "picklist",
        "Status": "picklist",
        "StartDate": "date",
        "EndDate": "date",
        "IsActive": "boolean",
    },
    "CampaignMember": {
        "CampaignId": "reference",
        "ContactId": "reference",
        "LeadId": "reference",
        "Status": "picklist",
        "HasResponded": "boolean",
    },
}
KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "AccountContactRelation": "07k",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Lead": "00Q",
}
NUMBER_TYPES = {"int", "double", "currency", "percent"}
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
DATA_PATH = re.compile(r"/services/data/v(?P<version>[^/]+)(?P<rest>/.*)?")
JOBS_PATH = re.compile(r"/jobs/query(?:/(?P<id>[^/]+)(?P<results>/results)?)?/?")
VERSION = re.compile(r"\d+\.\d")
DATETIME_LITERAL = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})"
)
IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
SESSION_INVALID = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
TERMINAL_STATES = {"JobComplete", "Failed", "Aborted"}


def to_18(record_id: str) -> str:
    """The 18-character case-safe form of a 15- (or 18-) character Salesforce id."""
    if len(record_id) == 18:
        return record_id
    if len(record_id) != 15:
        raise ValueError(f"not a Salesforce id: {record_id!r}")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        bits = sum(
            1 << i for i, c in enumerate(record_id[chunk * 5 : chunk * 5 + 5]) if c.isupper()
        )
        suffix += alphabet[bits]
    return record_id + suffix


def format_job_time(when: datetime) -> str:
    """Job info times as Salesforce writes them: `2018-12-10T17:50:19.000+0000`."""
    return (
        when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"
    )


def format_csv_value(value: Any) -> str:
    """A field as Bulk API 2.0 writes it in CSV: `true`/`false`, empty for null,
    `2026-01-01T00:00:00.000Z` for datetimes, `YYYY-MM-DD` for dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def coerce(value: Any, kind: str) -> Any:
    """A value (typed, or text as in an extract file) in the Python type of a field type."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() == "null":
            return None
        if kind == "boolean":
            lowered = text.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if kind == "datetime":
            return parse_instant(text)
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "int":
            return int(float(text))
        if kind in NUMBER_TYPES:
            return float(text)
        if kind in ("id", "reference") and len(text) == 15:
            return to_18(text)
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


@dataclass
class Soql:
    fields: list[str]  # canonical field names, in the order selected
    object: str
    conditions: list[tuple[str, str, datetime]] = field(default_factory=list)

    def matches(self, record: Mapping[str, Any]) -> bool:
        for name, op, literal in self.conditions:
            value = record.get(name)
            if value is None:
                return False
            if not {
                ">": value > literal,
                ">=": value >= literal,
                "<": value < literal,
                "<=": value <= literal,
                "=": value == literal,
            }[op]:
                return False
        return True


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    soql: Soql
    api_version: str
    created: datetime
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "UploadComplete"
    modstamp: datetime | None = None
    polls: int = 0
    fail_with: str | None = None
    error_message: str | None = None
    rows: list[list[str]] | None = None  # the snapshot, filled in when the job completes
    started: float = field(default_factory=time.monotonic)
    processing_ms: int = 0
    locators: set[str] = field(default_factory=set)

    def info(self, *, created: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "005R0000000GiwjIAC",
            "createdDate": format_job_time(self.created),
            "systemModstamp": format_job_time(self.modstamp or self.created),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
        }
        if not created:
            data["jobType"] = "V2Query"
        data["lineEnding"] = self.line_ending
        data["columnDelimiter"] = self.column_delimiter
        if not created:
            data["numberRecordsProcessed"] = len(self.rows or [])
            data["retries"] = 0
            data["totalProcessingTime"] = self.processing_ms
            data["isPkChunkingSupported"] = True
            if self.error_message is not None:
                data["errorMessage"] = self.error_message
        return data


class FakeSalesforce(FakeClockMixin, FakeServer):
    def __init__(
        self,
        *,
        client_id: str = "fake-sf-client-id",
        client_secret: str = "fake-sf-client-secret",
        objects: Mapping[str, Mapping[str, str] | Iterable[str]] | None = None,
        polls_to_complete: int = 2,
        page_size: int = 1000,
        session_timeout: float = 7200.0,
        clock_start: datetime | None = None,
        tick: float = 1.0,
        api_limit: int = 15000,
        max_api_version: float = 64.0,
        header_on_empty_result: bool = True,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.polls_to_complete = polls_to_complete
        self.page_size = page_size
        self.session_timeout = session_timeout
        self.tick = tick
        self.api_limit = api_limit
        self.api_usage = 0
        self.max_api_version = max_api_version
        self.header_on_empty_result = header_on_empty_result
        self.org_id = "00D5g000004ABCDEAA"
        self.user_id = "005R0000000GiwjIAC"
        self.objects: dict[str, dict[str, str]] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        for name, fields in (objects if objects is not None else DEFAULT_OBJECTS).items():
            self.define_object(name, fields)
        start = clock_start or datetime.now(UTC)
        self._clock = (start if start.tzinfo else start.replace(tzinfo=UTC)).replace(microsecond=0)
        self._ids = itertools.count(1)
        self.sessions: dict[str, float] = {}  # token -> expiry (monotonic); revoked ones removed
        self.issued_tokens: list[str] = []
        self.jobs: dict[str, QueryJob] = {}
        self._fail_next: str | None = None

    # -- schema -----------------------------------------------------------------------------------

    def define_object(self, name: str, fields: Mapping[str, str] | Iterable[str]) -> None:
        """Add (or redefine) an object; system fields (Id, IsDeleted, CreatedDate,
        LastModifiedDate, SystemModstamp) are added unless listed with their type."""
        known = DEFAULT_OBJECTS.get(name, {})
        if isinstance(fields, Mapping):
            typed = dict(fields)
        else:
            typed = {f: known.get(f) or SYSTEM_FIELDS.get(f) or _guess_type(f) for f in fields}
        with self.lock:
            self.objects[name] = {**SYSTEM_FIELDS, **typed}
            self.records.setdefault(name, {})

    def remove_field(self, object_name: str, field_name: str) -> None:
        """The org no longer has this field (e.g. Opportunity.CurrencyIsoCode without multi-currency)."""
        with self.lock:
            del self.objects[object_name][field_name]
            for record in self.records.get(object_name, {}).values():
                record.pop(field_name, None)

    # -- clock and data ---------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        """The modstamp for a change now (second precision), then the clock moves on by `tick`."""
        stamp = self._clock.replace(microsecond=0)
        self._clock += timedelta(seconds=self.tick)
        return stamp

    def new_id(self, object_name: str) -> str:
        prefix = KEY_PREFIXES.get(object_name, "a0" + chr(ord("A") + len(object_name) % 26))
        number = next(self._ids)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        tail = ""
        while number:
            number, rest = divmod(number, 62)
            tail = digits[rest] + tail
        return to_18(prefix + "5g" + tail.rjust(10, "0"))

    def put(
        self, object_name: str, record: Mapping[str, Any], *, keep_timestamps: bool = False
    ) -> str:
        """Insert or update (by Id) a record; returns its 18-character Id. Stamps SystemModstamp
        and LastModifiedDate (and CreatedDate on insert) from the clock unless `keep_timestamps`
        and the record carries them."""
        with self.lock:
            fields = self.objects[object_name]
            by_name = {_norm(f): f for f in fields}
            values: dict[str, Any] = {}
            for key, value in record.items():
                canonical = by_name.get(_norm(key))
                if canonical is None:
                    raise KeyError(f"{object_name} has no field {key!r}")
                values[canonical] = coerce(value, fields[canonical])
            record_id = values.get("Id") or self.new_id(object_name)
            values["Id"] = record_id
            table = self.records.setdefault(object_name, {})
            current = table.get(record_id)
            merged = {f: None for f in fields} if current is None else dict(current)
            merged.update(values)
            if merged.get("IsDeleted") is None:
                merged["IsDeleted"] = False
            stamp = self._stamp()
            if keep_timestamps:
                modstamp = values.get("SystemModstamp") or values.get("LastModifiedDate") or stamp
                merged["SystemModstamp"] = modstamp
                if "LastModifiedDate" in fields and merged.get("LastModifiedDate") is None:
                    merged["LastModifiedDate"] = modstamp
                if "CreatedDate" in fields and merged.get("CreatedDate") is None:
                    merged["CreatedDate"] = modstamp
                if modstamp >= self._clock:
                    self._clock = modstamp.replace(microsecond=0) + timedelta(seconds=1)
            else:
                merged["SystemModstamp"] = stamp
                if "LastModifiedDate" in fields:
                    merged["LastModifiedDate"] = stamp
                if "CreatedDate" in fields and current is None and "CreatedDate" not in values:
                    merged["CreatedDate"] = stamp
            table[record_id] = {k: v for k, v in merged.items() if k in fields}
            return record_id

    def update(self, object_name: str, record_id: str, **changes: Any) -> None:
        with self.lock:
            if to_18(record_id) not in self.records[object_name]:
                raise KeyError(f"no {object_name} {record_id}")
        self.put(object_name, {"Id": record_id, **changes})

    def delete(self, object_name: str, record_id: str) -> None:
        """Soft delete, as Salesforce does: IsDeleted true, SystemModstamp (and
        LastModifiedDate) stamped; the row stays for queryAll."""
        self.update(object_name, record_id, IsDeleted=True)

    def purge(self, object_name: str, record_id: str) -> None:
        """Hard delete (emptied from the recycle bin): not even queryAll sees it."""
        with self.lock:
            del self.records[object_name][to_18(record_id)]

    def get(self, object_name: str, record_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.records[object_name][to_18(record_id)])

    def load_landing(self, folder: str | Path) -> dict[str, int]:
        """Load contract-shaped extracts (`<Object>.csv` or `<Object>/*.csv`) into the records;
        columns match case-insensitively ignoring `_`; columns the object lacks are ignored.
        Returns the number of rows loaded per object."""
        folder = Path(folder)
        loaded: dict[str, int] = {}
        for name in list(self.objects):
            files = [folder / f"{name}.csv"] + sorted((folder / name).glob("*.csv"))
            by_name = {_norm(f): f for f in self.objects[name]}
            for path in files:
                if not path.is_file():
                    continue
                with path.open(newline="", encoding="utf-8-sig") as handle:
                    for row in csv.DictReader(handle):
                        record = {
                            by_name[_norm(k)]: v
                            for k, v in row.items()
                            if k is not None and _norm(k) in by_name
                        }
                        self.put(name, record, keep_timestamps=True)
                        loaded[name] = loaded.get(name, 0) + 1
        return loaded

    # -- controls for tests -----------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued session is expired from now on (next call answers 401)."""
        with self.lock:
            now = time.monotonic()
            for token in self.sessions:
                self.sessions[token] = min(self.sessions[token], now)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.sessions.clear()

    def fail_next_job(
        self, message: str = "Internal error while processing the query", times: int = 1
    ) -> None:
        """The next `times` jobs created end in state Failed with this errorMessage."""
        with self.lock:
            self._fail_next = message
            self._fail_times = times

    def abort_job(self, job_id: str | None = None) -> str:
        """Abort a job (default: the newest one not yet finished), as if someone did in Setup."""
        with self.lock:
            if job_id is None:
                pending = [j for j in self.jobs.values() if j.state not in TERMINAL_STATES]
                if not pending:
                    raise LookupError("no unfinished job to abort")
                job_id = pending[-1].id
            job = self.jobs[job_id]
            job.state = "Aborted"
            job.modstamp = self._job_time()
            return job_id

    def inject(self, kind: str | int, times: int = 1, **options: Any) -> None:
        options.setdefault("path", "/services/data/")
        super().inject(kind, times, **options)

    def data_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/services/data/")

    # -- routing ----------------------------------------------------------------------------------

    def route(
        self, request: RecordedRequest, authorization: str | None, injection: Injection | None
    ) -> Answer:
        if request.path == "/services/oauth2/token":
            if injection is not None:
                return self._injected(injection, None)
            if request.method != "POST":
                return Answer(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": "POST only"}])
            return self._token(request, authorization)
        match = DATA_PATH.fullmatch(request.path)
        if request.path.rstrip("/") == "/services/data" and request.method == "GET":
            return Answer(200, self._versions())
        if match is None:
            return Answer(404, NOT_FOUND)
        token = _bearer(authorization)
        if injection is not None:
            return self._injected(injection, token)
        with self.lock:
            expiry = self.sessions.get(token or "")
            if expiry is None or expiry <= time.monotonic():
                return Answer(401, SESSION_INVALID)
            self.api_usage += 1
            usage = self.api_usage
        limit_header = {"Sforce-Limit-Info": f"api-usage={usage}/{self.api_limit}"}
        if usage > self.api_limit:
            return self._limit_exceeded()
        version, rest = match.group("version"), match.group("rest") or ""
        if not VERSION.fullmatch(version) or not 47.0 <= float(version) <= self.max_api_version:
            return Answer(404, NOT_FOUND, limit_header)
        jobs = JOBS_PATH.fullmatch(rest)
        if jobs is None:
            return Answer(404, NOT_FOUND, limit_header)
        answer = self._jobs(request, version, jobs.group("id"), bool(jobs.group("results")))
        answer.headers = {**limit_header, **answer.headers}
        return answer

    def _injected(self, injection: Injection, token: str | None) -> Answer:
        kind = injection.kind
        if kind == "REQUEST_LIMIT_EXCEEDED":
            return self._limit_exceeded()
        if kind == "401":
            with self.lock:
                self.sessions.pop(token or "", None)
            return Answer(401, SESSION_INVALID)
        status = int(kind)
        if status == 503:
            body = [
                {"errorCode": "SERVER_UNAVAILABLE", "message": "Server temporarily unavailable"}
            ]
        else:
            body = [
                {
                    "errorCode": "UNKNOWN_EXCEPTION",
                    "message": "An unexpected error occurred. Please include this ErrorId if you "
                    f"contact support: {secrets.randbelow(10**9)}-{secrets.randbelow(10**5)} "
                    f"({secrets.randbelow(10**9)})",
                }
            ]
        return Answer(status, body)

    @staticmethod
    def _limit_exceeded() -> Answer:
        return Answer(
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
        )

    def _versions(self) -> list[dict[str, str]]:
        versions = []
        number = 47
        while number <= self.max_api_version:
            versions.append(
                {
                    "label": f"API {number}.0",
                    "url": f"/services/data/v{number}.0",
                    "version": f"{number}.0",
                }
            )
            number += 1
        return versions

    # -- OAuth 2.0 client credentials -------------------------------------------------------------

    def _token(self, request: RecordedRequest, authorization: str | None) -> Answer:
        form = {k: v[0] for k, v in parse_qs(request.raw_body).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
                client_id, _, client_secret = decoded.partition(":")
            except ValueError:
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            return Answer(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if client_id != self.client_id:
            return Answer(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if client_secret != self.client_secret:
            return Answer(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        issued_at = str(int(time.time() * 1000))
        with self.lock:
            self.sessions[token] = time.monotonic() + self.session_timeout
            self.issued_tokens.append(token)
        signature = base64.b64encode(
            hashlib.sha256(
                f"{self.url}/id/{self.org_id}/{self.user_id}{issued_at}".encode()
            ).digest()
        ).decode()
        return Answer(
            200,
            {
                "access_token": token,
                "signature": signature,
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/{self.org_id}/{self.user_id}",
                "token_type": "Bearer",
                "issued_at": issued_at,
            },
        )

    # -- Bulk API 2.0 query jobs ------------------------------------------------------------------

    def _job_time(self) -> datetime:
        return datetime.now(UTC)

    def _jobs(
        self, request: RecordedRequest, version: str, job_id: str | None, results: bool
    ) -> Answer:
        if job_id is None:
            if request.method == "POST":
                return self._create_job(request, version)
            if request.method == "GET":
                with self.lock:
                    records = [j.info(created=True) for j in self.jobs.values()]
                for record in records:
                    record["jobType"] = "V2Query"
                return Answer(200, {"done": True, "records": records, "nextRecordsUrl": None})
            return _method_not_allowed(request.method)
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            return Answer(
                404,
                [{"errorCode": "NOT_FOUND", "message": f"Job with id {job_id} was not found"}],
            )
        if results:
            if request.method != "GET":
                return _method_not_allowed(request.method)
            return self._results(request, version, job)
        if request.method == "GET":
            return Answer(200, self._poll(job))
        if request.method == "PATCH":
            return self._patch(request, job)
        if request.method == "DELETE":
            with self.lock:
                if job.state not in TERMINAL_STATES:
                    return Answer(
                        400,
                        [
                            {
                                "errorCode": "API_ERROR",
                                "message": "Job can only be deleted after it is completed, "
                                "aborted or failed",
                            }
                        ],
                    )
                del self.jobs[job.id]
            return Answer(204, None)
        return _method_not_allowed(request.method)

    def _create_job(self, request: RecordedRequest, version: str) -> Answer:
        body = request.body
        if not isinstance(body, dict):
            return _bad_request("JSON_PARSER_ERROR", "The request body is not a valid JSON object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return _bad_request(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize value of type `OperationEnum` from String {operation!r}: "
                "not one of the values accepted for Enum class: [query, queryAll]",
            )
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return _bad_request("API_ERROR", "query: the query is required")
        if body.get("contentType", "CSV") != "CSV":
            return _bad_request("JSON_PARSER_ERROR", "contentType: the only value is CSV")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            return _bad_request("JSON_PARSER_ERROR", "columnDelimiter or lineEnding not valid")
        try:
            soql = self.parse_soql(query)
        except SoqlError as err:
            return _bad_request(err.code, err.message)
        if body.get("object") not in (None, soql.object):
            return _bad_request("API_ERROR", "object does not match the object queried")
        with self.lock:
            raw = "750R" + secrets.token_hex(6)[:11].upper()
            job = QueryJob(
                id=to_18(raw),
                operation=operation,
                object=soql.object,
                soql=soql,
                api_version=version,
                created=self._job_time(),
                column_delimiter=delimiter,
                line_ending=line_ending,
                fail_with=self._fail_next,
            )
            self._fail_times = getattr(self, "_fail_times", 1) - 1
            if self._fail_times <= 0:
                self._fail_next = None
            self.jobs[job.id] = job
            if self.polls_to_complete <= 0:
                self._finish(job)
            return Answer(200, job.info(created=True))

    def parse_soql(self, query: str) -> Soql:
        """The fake's strict subset of SOQL; raises SoqlError as the API would answer."""
        text = query.strip()
        select = re.match(r"SELECT\s+", text, re.I)
        if select is None:
            raise SoqlError(
                "MALFORMED_QUERY", _caret(text, 0, f"unexpected token: {text.split()[0]}")
            )
        from_match = re.search(r"\s+FROM\s+", text, re.I)
        if from_match is None:
            raise SoqlError("MALFORMED_QUERY", _caret(text, len(text), "unexpected token: <EOF>"))
        select_list = text[select.end() : from_match.start()]
        after = text[from_match.end() :]
        object_match = IDENT.match(after)
        if object_match is None:
            raise SoqlError("MALFORMED_QUERY", _caret(text, from_match.end(), "unexpected token"))
        object_name = object_match.group(0)
        canonical_object = {o.lower(): o for o in self.objects}.get(object_name.lower())
        if canonical_object is None:
            raise SoqlError(
                "INVALID_TYPE",
                _caret(
                    text,
                    from_match.end(),
                    f"sObject type '{object_name}' is not supported. If you are attempting to use "
                    "a custom object, be sure to append the '__c' after the entity name. Please "
                    "reference your WSDL or the describe call for the appropriate names.",
                ),
            )
        fields = self.objects[canonical_object]
        by_lower = {f.lower(): f for f in fields}
        selected: list[str] = []
        position = select.end()
        for part in select_list.split(","):
            name = part.strip()
            column = position + len(part) - len(part.lstrip())
            position += len(part) + 1
            if not IDENT.fullmatch(name):
                token = name.split()[0] if name.split() else ","
                raise SoqlError(
                    "MALFORMED_QUERY", _caret(text, column, f"unexpected token: {token}")
                )
            canonical = by_lower.get(name.lower())
            if canonical is None:
                raise SoqlError(
                    "INVALIDFIELD",
                    _caret(
                        text,
                        column,
                        f"No such column '{name}' on entity '{canonical_object}'. {CUSTOM_FIELD_HINT}",
                    ),
                )
            if canonical in selected:
                raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {canonical}")
            selected.append(canonical)
        rest = after[object_match.end() :]
        rest_at = from_match.end() + object_match.end()
        conditions: list[tuple[str, str, datetime]] = []
        if rest.strip():
            where = re.match(r"\s+WHERE\s+", rest, re.I)
            if where is None:
                token = rest.split()[0]
                raise SoqlError(
                    "MALFORMED_QUERY",
                    _caret(
                        text, rest_at + len(rest) - len(rest.lstrip()), f"unexpected token: {token}"
                    ),
                )
            clause_at = rest_at + where.end()
            for clause in re.split(r"\s+AND\s+", rest[where.end() :], flags=re.I):
                conditions.append(self._condition(text, clause_at, clause, canonical_object))
                clause_at += len(clause) + 5
        return Soql(selected, canonical_object, conditions)

    def _condition(
        self, text: str, at: int, clause: str, object_name: str
    ) -> tuple[str, str, datetime]:
        match = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|>|<|=)\s*(\S+)\s*", clause)
        if match is None:
            token = clause.split()[0] if clause.split() else "<EOF>"
            raise SoqlError("MALFORMED_QUERY", _caret(text, at, f"unexpected token: {token}"))
        name, op, literal = match.groups()
        fields = self.objects[object_name]
        canonical = {f.lower(): f for f in fields}.get(name.lower())
        if canonical is None:
            raise SoqlError(
                "INVALIDFIELD",
                _caret(
                    text,
                    at,
                    f"No such column '{name}' on entity '{object_name}'. {CUSTOM_FIELD_HINT}",
                ),
            )
        if fields[canonical] != "datetime":
            raise SoqlError(
                "MALFORMED_QUERY",
                _caret(text, at, f"this fake filters only on datetime fields, not {canonical}"),
            )
        if not DATETIME_LITERAL.fullmatch(literal):
            raise SoqlError(
                "INVALIDFIELD",
                _caret(
                    text,
                    at + match.start(3),
                    f"value of filter criterion for field '{canonical}' must be of type dateTime "
                    "and should not be enclosed in quotes",
                ),
            )
        return canonical, op, parse_instant(literal)

    def _poll(self, job: QueryJob) -> dict[str, Any]:
        with self.lock:
            if job.state not in TERMINAL_STATES:
                job.polls += 1
                if job.polls >= self.polls_to_complete:
                    self._finish(job)
                else:
                    job.state = "InProgress"
                    job.modstamp = self._job_time()
            return job.info()

    def _finish(self, job: QueryJob) -> None:
        job.modstamp = self._job_time()
        job.processing_ms = max(1, int((time.monotonic() - job.started) * 1000))
        if job.fail_with is not None:
            job.state = "Failed"
            job.error_message = job.fail_with
            return
        rows = []
        for record in self.records.get(job.object, {}).values():
            if job.operation == "query" and record.get("IsDeleted"):
                continue
            if job.soql.matches(record):
                rows.append([format_csv_value(record.get(f)) for f in job.soql.fields])
        job.rows = rows
        job.state = "JobComplete"

    def _patch(self, request: RecordedRequest, job: QueryJob) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("state") != "Aborted":
            return _bad_request("INVALIDJOBSTATE", "A query job can only be changed to Aborted")
        with self.lock:
            if job.state in TERMINAL_STATES:
                return _bad_request(
                    "INVALIDJOBSTATE", f"Job is in state {job.state} and cannot be aborted"
                )
            job.state = "Aborted"
            job.modstamp = self._job_time()
            return Answer(200, job.info(created=True))

    def _results(self, request: RecordedRequest, version: str, job: QueryJob) -> Answer:
        if version != job.api_version:
            return Answer(
                409,
                [
                    {
                        "errorCode": "API_ERROR",
                        "message": "Use the same API version to get query results that you used "
                        f"to create the query ({job.api_version})",
                    }
                ],
            )
        with self.lock:
            if job.state != "JobComplete" or job.rows is None:
                return Answer(
                    412,
                    [
                        {
                            "errorCode": "JOB_NOT_COMPLETE",
                            "message": "can only download query results of successfully "
                            "completed bulk job with status: JOB_COMPLETE. Current status: "
                            + _upper_snake(job.state),
                        }
                    ],
                )
            rows = job.rows
            locators = job.locators
        query = {k: v[0] for k, v in request.query.items()}
        max_records = query.get("maxRecords")
        size = self.page_size
        if max_records is not None:
            if not max_records.isdigit() or int(max_records) <= 0:
                return _bad_request("INVALIDMAXRECORDS", f"maxRecords: invalid value {max_records}")
            size = min(size, int(max_records))
        locator = query.get("locator")
        offset = 0
        if locator:
            if locator not in locators:
                return _bad_request("INVALID_LOCATOR", f"Invalid locator: {locator}")
            offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
        page = rows[offset : offset + size]
        following = offset + len(page)
        if following < len(rows):
            next_locator = base64.b64encode(str(following).encode()).decode().rstrip("=")
            with self.lock:
                locators.add(next_locator)
        else:
            next_locator = "null"
        buffer = io.StringIO()
        writer = csv.writer(
            buffer,
            delimiter=DELIMITERS[job.column_delimiter],
            lineterminator=LINE_ENDINGS[job.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        if page or self.header_on_empty_result:
            writer.writerow(job.soql.fields)
        writer.writerows(page)
        return Answer(
            200,
            buffer.getvalue(),
            {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(page))},
            content_type="text/csv",
        )


def _guess_type(name: str) -> str:
    if name == "Id" or name.endswith("Id"):
        return "reference"
    if name.startswith(("Is", "Has")) or name in ("DoNotCall",):
        return "boolean"
    if name.endswith(("Date", "Stamp")):
        return "datetime" if name.endswith(("Modstamp", "ModifiedDate", "CreatedDate")) else "date"
    return "string"


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme in ("Bearer", "OAuth") else None


def _bad_request(code: str, message: str) -> Answer:
    return Answer(400, [{"errorCode": code, "message": message}])


def _method_not_allowed(method: str) -> Answer:
    return Answer(
        405,
        [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{method}' not allowed."}],
    )


def _caret(text: str, column: int, message: str) -> str:
    """A SOQL error as Salesforce writes it: the query, a caret under the column, then the text."""
    return f"\n{text}\n{' ' * column}^\nERROR at Row:1:Column:{column + 1}\n{message}"


def _upper_snake(state: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", state).upper()
