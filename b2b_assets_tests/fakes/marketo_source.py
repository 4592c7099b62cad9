"""A fake Marketo instance to pull from: bulk lead and activity extract, and the REST reads of
companies, opportunities, opportunity roles, programs, program members and static lists.

`FakeMarketoSource` is a `FakeMarketo`: the same identity endpoint and token rules (600/601/602),
rate limit (606), concurrency limit (615) and injections, applied to every `/rest` and `/bulk`
call. Errors come as HTTP 200 with `success: false` and `errors: [{code, message}]`, as Marketo
answers them.

Bulk extract (paths without `/rest`, as in Marketo):
- `POST /bulk/v1/leads/export/create.json` `{"fields": [...], "format": "CSV", "filter":
  {"createdAt"|"updatedAt": {"startAt", "endAt"}}}` (or `staticListId`/`staticListName`; smart
  lists answer 1035), `POST /bulk/v1/activities/export/create.json` `{"filter": {"createdAt":
  {...}, "activityTypeIds": [...]}, "fields"?: [...]}` → `{"exportId", "format", "status":
  "Created", "createdAt"}`. A date range over 31 days, or datetimes with milliseconds, answer 1003;
  an unknown field 1003 naming it; `updatedAt` on leads answers 1035 when
  `updated_at_filter=False`; a spent daily quota 1029 "Export daily quota 500MB exceeded."
- `POST …/export/{id}/enqueue.json` → Queued (1029 "Too many jobs (10) in queue" when
  `max_queue` jobs are queued or processing; 1029 "Job already queued"); `GET …/status.json`
  polls: every poll moves the shared queue on (at most `max_processing` jobs Processing, a job is
  Completed after `export_polls_to_complete` polls while Processing); a Completed status carries
  `numberOfRecords`, `fileSize` and `fileChecksum` "sha256:<hex>"; a Failed one `errorMsg`.
  `GET …/file.json` serves the file (text/csv, `Range: bytes=` honoured with 206) only when
  Completed, otherwise 404 with a plain-text message. `POST …/cancel.json` → Cancelled.
  `GET /bulk/v1/{leads|activities}/export.json?status=…` lists jobs.
- Files are written like Marketo's: leads have the requested fields in order with empty values
  as the text `null`; activities have `marketoGUID,leadId,activityDate,activityTypeId,campaignId,
  primaryAttributeValueId,primaryAttributeValue,attributes` (attributes one JSON cell); datetimes
  like `2026-10-16T15:00:05Z`. Rows are those with createdAt (updatedAt) in [startAt, endAt).

REST (paged by `nextPageToken`; `batchSize` at most 300; `page_size` caps a page):
`GET /rest/v1/companies.json`, `/rest/v1/opportunities.json`, `/rest/v1/opportunities/roles.json`
(`filterType` required: 1003 "filterType not specified"; only the object's searchable fields, else
1011; at most 300 `filterValues`; `POST` with `_method=GET` and a form body works too), their
`describe.json`, `GET /rest/v1/lists.json`, `GET /rest/v1/lists/{id}/leads.json`,
`GET /rest/v1/leads/programs/{id}.json` (leads with `membership`), and the asset API's
`GET /rest/asset/v1/programs.json?maxReturn=&offset=` (offset paging; past the end: success with
warning "No assets found for the given search criteria." and no result). Null fields are left out
of REST records, as Marketo does. A page has `nextPageToken` only while more remain; with
`more_result=True` it also carries `moreResult`; with `token_on_last_page=True` the last page
carries a token too (which then answers an empty page).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from b2b_assets_tests.fakes import Answer, FakeClockMixin, RecordedRequest, parse_instant
from b2b_assets_tests.fakes.marketo import FakeMarketo, _error, _request_id

LEAD_FIELDS: dict[str, str] = {
    "id": "integer",
    "email": "email",
    "firstName": "string",
    "lastName": "string",
    "title": "string",
    "company": "string",
    "phone": "phone",
    "website": "url",
    "leadSource": "string",
    "leadStatus": "string",
    "externalCompanyId": "string",
    "sfdcContactId": "string",
    "sfdcAccountId": "string",
    "sfdcLeadId": "string",
    "sfdcType": "string",
    "unsubscribed": "boolean",
    "marketingSuspended": "boolean",
    "emailInvalid": "boolean",
    "blackListed": "boolean",
    "createdAt": "datetime",
    "updatedAt": "datetime",
}
ACTIVITY_FIELDS = [
    "marketoGUID",
    "leadId",
    "activityDate",
    "activityTypeId",
    "campaignId",
    "primaryAttributeValueId",
    "primaryAttributeValue",
    "attributes",
]
ACTIVITY_TYPES = {
    "marketoGUID": "string",
    "leadId": "integer",
    "activityDate": "datetime",
    "activityTypeId": "integer",
    "campaignId": "integer",
    "primaryAttributeValueId": "integer",
    "primaryAttributeValue": "string",
    "attributes": "json",
    "actionResult": "string",
}
FORMATS = {"CSV": ",", "TSV": "\t", "SSV": " "}
MAX_RANGE = timedelta(days=31)
ISO_NO_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?")
BULK_PATH = re.compile(
    r"/bulk/v1/(leads|activities)/export(?:/(create)|/([^/]+)/(enqueue|status|file|cancel))?\.json"
)
ROLES = "opportunity_roles"


@dataclass(frozen=True)
class Kind:
    key: str  # the key field ("programId,leadId" for pairs)
    types: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)  # landing column -> field


KINDS: dict[str, Kind] = {
    "leads": Kind("id", LEAD_FIELDS),
    "activities": Kind("marketoGUID", {**ACTIVITY_TYPES, "createdAt": "datetime"}),
    "companies": Kind(
        "id",
        {
            "id": "integer",
            "externalCompanyId": "string",
            "company": "string",
            "website": "url",
            "industry": "string",
            "numberOfEmployees": "integer",
            "annualRevenue": "currency",
            "billingCountry": "string",
            "billingCity": "string",
            "mainPhone": "string",
            "createdAt": "datetime",
            "updatedAt": "datetime",
        },
    ),
    "opportunities": Kind(
        "marketoGUID",
        {
            "marketoGUID": "string",
            "externalOpportunityId": "string",
            "externalCompanyId": "string",
            "name": "string",
            "description": "string",
            "type": "string",
            "stage": "string",
            "amount": "currency",
            "closeDate": "date",
            "isClosed": "boolean",
            "isWon": "boolean",
            "probability": "integer",
            "createdAt": "datetime",
            "updatedAt": "datetime",
        },
    ),
    ROLES: Kind(
        "marketoGUID",
        {
            "marketoGUID": "string",
            "externalOpportunityId": "string",
            "leadId": "integer",
            "role": "string",
            "isPrimary": "boolean",
            "externalCreatedDate": "datetime",
            "createdAt": "datetime",
            "updatedAt": "datetime",
        },
    ),
    "programs": Kind(
        "id",
        {
            "id": "integer",
            "name": "string",
            "description": "string",
            "type": "string",
            "channel": "string",
            "status": "string",
            "workspace": "string",
            "folderId": "integer",
            "folderName": "string",
            "createdAt": "datetime",
            "updatedAt": "datetime",
        },
    ),
    "program_members": Kind(
        "programId,leadId",
        {
            "programId": "integer",
            "leadId": "integer",
            "progressionStatus": "string",
            "progressionStatusType": "string",
            "reachedSuccess": "boolean",
            "acquiredBy": "boolean",
            "isExhausted": "boolean",
            "membershipDate": "datetime",
            "updatedAt": "datetime",
        },
        {"status": "progressionStatus"},
    ),
    "static_lists": Kind(
        "id",
        {
            "id": "integer",
            "name": "string",
            "description": "string",
            "programName": "string",
            "workspaceName": "string",
            "createdAt": "datetime",
            "updatedAt": "datetime",
        },
    ),
    "static_list_members": Kind("listId,leadId", {"listId": "integer", "leadId": "integer"}),
}

# The lead-database objects served by filterType queries: path, kind, idField, dedupeFields,
# searchableFields (from the describe calls in Marketo's documentation), default fields.
LOOKUPS = {
    "/rest/v1/companies.json": (
        "companies",
        "Company",
        "id",
        ["externalCompanyId"],
        [["externalCompanyId"], ["id"], ["company"]],
        ["id", "externalCompanyId", "createdAt", "updatedAt"],
    ),
    "/rest/v1/opportunities.json": (
        "opportunities",
        "opportunity",
        "marketoGUID",
        ["externalOpportunityId"],
        [["externalOpportunityId"], ["marketoGUID"]],
        ["marketoGUID", "externalOpportunityId", "createdAt", "updatedAt"],
    ),
    "/rest/v1/opportunities/roles.json": (
        ROLES,
        "opportunityRole",
        "marketoGUID",
        ["externalOpportunityId", "leadId", "role"],
        [
            ["externalOpportunityId", "leadId", "role"],
            ["marketoGUID"],
            ["leadId"],
            ["externalOpportunityId"],
        ],
        ["marketoGUID", "externalOpportunityId", "leadId", "role", "createdAt", "updatedAt"],
    ),
}
DEFAULT_LEAD_FIELDS = ["id", "firstName", "lastName", "email", "updatedAt", "createdAt"]
LIST_LEADS = re.compile(r"/rest/v1/lists/(\d+)/leads\.json")
PROGRAM_LEADS = re.compile(r"/rest/v1/leads/programs/(\d+)\.json")
NO_ASSETS = "No assets found for the given search criteria."


def marketo_time(value: datetime) -> str:
    """`2026-10-16T15:00:05Z`, as Marketo writes datetimes in REST and in extract files."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def asset_time(value: datetime) -> str:
    """The asset API's own spelling: `2015-11-18T15:25:35Z+0000`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ+0000")


def coerce(value: Any, kind: str) -> Any:
    """A value (typed, or text as in an extract file) in the Python type of a Marketo field type."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() == "null":
            return None
        if kind == "boolean":
            if text.lower() in ("true", "1"):
                return True
            if text.lower() in ("false", "0"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if kind == "integer":
            return int(float(text))
        if kind in ("currency", "float"):
            return float(text)
        if kind == "datetime":
            return parse_instant(text)
        if kind == "date":
            return date.fromisoformat(text[:10])
        if kind == "json":
            return json.loads(text)
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def rest_value(value: Any) -> Any:
    """A field value as Marketo's REST JSON carries it."""
    if isinstance(value, datetime):
        return marketo_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def file_value(value: Any) -> str:
    """A field value as Marketo writes it in an extract file: empty is the text `null`."""
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return marketo_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _split(values: Iterable[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part != ""]


@dataclass
class ExportJob:
    export_id: str
    entity: str  # leads | activities
    format: str
    fields: list[str]
    headers: list[str]
    filter: dict[str, Any]
    created_at: datetime
    status: str = "Created"
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queue_seq: int = 0
    processing_polls: int = 0
    number_of_records: int | None = None
    file: bytes | None = None  # as written (the checksum's)
    served: bytes | None = None  # as served (differs when corrupted)
    error_msg: str | None = None
    fail_with: str | None = None
    corrupt: str | None = None

    def status_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "exportId": self.export_id,
            "format": self.format,
            "status": self.status,
            "createdAt": marketo_time(self.created_at),
        }
        if self.queued_at is not None:
            data["queuedAt"] = marketo_time(self.queued_at)
        if self.started_at is not None:
            data["startedAt"] = marketo_time(self.started_at)
        if self.finished_at is not None:
            data["finishedAt"] = marketo_time(self.finished_at)
        if self.status == "Completed" and self.file is not None:
            data["numberOfRecords"] = self.number_of_records
            data["fileSize"] = len(self.file)
            data["fileChecksum"] = "sha256:" + hashlib.sha256(self.file).hexdigest()
        if self.status == "Failed" and self.error_msg:
            data["errorMsg"] = self.error_msg
        return data


class FakeMarketoSource(FakeClockMixin, FakeMarketo):
    api_prefixes = ("/rest/", "/bulk/")

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        token_lifetime: float = 3600.0,
        rate_limit: tuple[int, float] = (100, 20.0),
        max_concurrent: int = 10,
        page_size: int = 300,
        lead_fields: Mapping[str, str] | None = None,
        updated_at_filter: bool = True,
        max_processing: int = 2,
        max_queue: int = 10,
        daily_quota_bytes: int = 500 * 1024 * 1024,
        export_polls_to_complete: int = 1,
        clock_start: datetime | None = None,
        tick: float = 1.0,
        searchable_fields: Mapping[str, Iterable[str]] | None = None,
        any_filter_type: bool = False,
        crm_sync: bool = False,
        more_result: bool = False,
        token_on_last_page: bool = False,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            list_ids=(),
            token_lifetime=token_lifetime,
            rate_limit=rate_limit,
            max_concurrent=max_concurrent,
        )
        self.page_size = page_size
        self.lead_fields = dict(lead_fields if lead_fields is not None else LEAD_FIELDS)
        self.lead_fields.setdefault("id", "integer")
        self.updated_at_filter = updated_at_filter
        self.max_processing = max_processing
        self.max_queue = max_queue
        self.daily_quota_bytes = daily_quota_bytes
        self.quota_used_bytes = 0
        self.export_polls_to_complete = export_polls_to_complete
        self.tick = tick
        self.extra_searchable = {k: list(v) for k, v in (searchable_fields or {}).items()}
        self.any_filter_type = any_filter_type
        self.crm_sync = crm_sync
        self.more_result = more_result
        self.token_on_last_page = token_on_last_page
        start = clock_start or datetime.now(UTC)
        self._clock = (start if start.tzinfo else start.replace(tzinfo=UTC)).replace(microsecond=0)
        self.data: dict[str, dict[Any, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._numbers = itertools.count(1)
        self.exports: dict[str, ExportJob] = {}
        self._queue_seq = itertools.count(1)
        self._fail_next: str | None = None
        self._corrupt_next: str | None = None
        self._page_tokens: dict[str, tuple[str, int]] = {}

    # -- clock ------------------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        stamp = self._clock
        self._clock += timedelta(seconds=self.tick)
        return stamp

    # -- data -------------------------------------------------------------------------------------

    def _types(self, kind: str) -> dict[str, str]:
        return self.lead_fields if kind == "leads" else KINDS[kind].types

    def _key(self, kind: str, record: Mapping[str, Any]) -> Any:
        names = KINDS[kind].key.split(",")
        return record[names[0]] if len(names) == 1 else tuple(record[n] for n in names)

    def put(self, kind: str, record: Mapping[str, Any], *, keep_timestamps: bool = False) -> Any:
        """Insert or update (by key) a record of a kind (`leads`, `activities`, `companies`,
        `opportunities`, `opportunity_roles`, `programs`, `program_members`, `static_lists`,
        `static_list_members`); returns its key. Missing keys are made up (ids, GUIDs);
        a given createdAt is kept; updatedAt (and a missing createdAt) come from the clock unless
        `keep_timestamps` and given."""
        types = self._types(kind)
        by_name = {_norm(f): f for f in types}
        by_name.update({_norm(a): f for a, f in KINDS[kind].aliases.items()})
        values: dict[str, Any] = {}
        for name, value in record.items():
            canonical = by_name.get(_norm(name))
            if canonical is None:
                raise KeyError(f"{kind} has no field {name!r}")
            values[canonical] = coerce(value, types[canonical])
        with self.lock:
            key_field = KINDS[kind].key
            if "," not in key_field and values.get(key_field) is None:
                number = next(self._numbers)
                if types[key_field] == "integer":
                    values[key_field] = max([0, *self.data[kind]]) + 1
                elif kind == "activities":
                    values[key_field] = str(100000000 + number)
                else:
                    values[key_field] = str(uuid.uuid4())
            key = self._key(kind, values)
            table = self.data[kind]
            current = table.get(key)
            merged = dict(current or {})
            merged.update(values)
            stamp = self._stamp()
            given = values if keep_timestamps else {}
            if kind == "activities":
                merged.setdefault("activityDate", stamp)
                merged.setdefault("createdAt", merged["activityDate"])
            elif kind == "program_members":
                merged.setdefault("membershipDate", stamp)
                merged["updatedAt"] = given.get("updatedAt") or stamp
            elif "updatedAt" in types:
                if current is None:
                    created = values.get("createdAt") or given.get("updatedAt") or stamp
                    merged["createdAt"] = created
                    merged["updatedAt"] = given.get("updatedAt") or (
                        created if keep_timestamps else stamp
                    )
                else:
                    merged["updatedAt"] = given.get("updatedAt") or stamp
            for moment in (merged.get("updatedAt"), merged.get("createdAt")):
                if keep_timestamps and isinstance(moment, datetime) and moment >= self._clock:
                    self._clock = moment.replace(microsecond=0) + timedelta(seconds=1)
            table[key] = merged
            if kind == "leads":
                self.leads[key] = merged.get("email")
            elif kind == "static_lists":
                self.lists.setdefault(key, set())
            elif kind == "static_list_members":
                self.lists.setdefault(key[0], set()).add(key[1])
            return key

    def update(self, kind: str, key: Any, **changes: Any) -> None:
        """Change fields of an existing record; its updatedAt moves to now."""
        with self.lock:
            current = self.data[kind].get(key)
            if current is None:
                raise KeyError(f"no {kind} {key!r}")
            keys = {n: current[n] for n in KINDS[kind].key.split(",")}
        self.put(kind, {**keys, **changes})

    def delete(self, kind: str, key: Any) -> None:
        """Remove a record (a deleted lead also leaves its lists and programs)."""
        with self.lock:
            del self.data[kind][key]
            if kind == "leads":
                self.leads.pop(key, None)
                for members in self.lists.values():
                    members.discard(key)
                for pair in [p for p in self.data["program_members"] if p[1] == key]:
                    del self.data["program_members"][pair]
                for pair in [p for p in self.data["static_list_members"] if p[1] == key]:
                    del self.data["static_list_members"][pair]
            elif kind == "static_list_members":
                self.lists.get(key[0], set()).discard(key[1])
            elif kind == "static_lists":
                self.lists.pop(key, None)

    def load_landing(self, folder: str | Path) -> dict[str, int]:
        """Load contract-shaped extracts (`<object>.csv` or `<object>/*.csv`); returns rows per kind."""
        folder = Path(folder)
        loaded: dict[str, int] = {}
        order = ["leads", "companies", "opportunities", ROLES, "programs", "program_members"]
        order += ["static_lists", "static_list_members", "activities"]
        for kind in order:
            types = self._types(kind)
            known = {_norm(f) for f in types} | {_norm(a) for a in KINDS[kind].aliases}
            for path in [folder / f"{kind}.csv", *sorted((folder / kind).glob("*.csv"))]:
                if not path.is_file():
                    continue
                with path.open(newline="", encoding="utf-8-sig") as handle:
                    for row in csv.DictReader(handle):
                        record = {
                            k: v for k, v in row.items() if k is not None and _norm(k) in known
                        }
                        self.put(kind, record, keep_timestamps=True)
                        loaded[kind] = loaded.get(kind, 0) + 1
        return loaded

    # -- controls for tests -----------------------------------------------------------------------

    def fail_next_export(self, message: str = "Export failed due to an internal error") -> None:
        """The next export job to complete ends Failed with this errorMsg."""
        with self.lock:
            self._fail_next = message

    def corrupt_next_file(self, how: str = "truncate") -> None:
        """The next completed export's file is served damaged ("truncate": its last bytes cut,
        "flip": one byte changed): the bytes no longer match fileSize/fileChecksum."""
        if how not in ("truncate", "flip"):
            raise ValueError(how)
        with self.lock:
            self._corrupt_next = how

    def use_quota(self, size: int) -> None:
        """Count `size` bytes against today's export quota."""
        with self.lock:
            self.quota_used_bytes += size

    def reset_daily_quota(self) -> None:
        with self.lock:
            self.quota_used_bytes = 0

    def advance_exports(self, steps: int = 1) -> None:
        """Move the export queue on as `steps` status polls would."""
        for _ in range(steps):
            self._advance_queue()

    def export_jobs(self, entity: str | None = None) -> list[ExportJob]:
        with self.lock:
            return [j for j in self.exports.values() if entity in (None, j.entity)]

    # -- routing ----------------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Answer:
        path = request.path
        if match := BULK_PATH.fullmatch(path):
            entity, create, export_id, action = match.groups()
            if create:
                if request.method != "POST":
                    return Answer(405, {"message": "method not allowed"})
                return self._create_export(entity, request.body)
            if export_id is None:
                if request.method != "GET":
                    return Answer(405, {"message": "method not allowed"})
                return self._list_exports(entity, request)
            return self._bulk(request, entity, export_id, action)
        method = request.method
        params = {k: list(v) for k, v in request.query.items()}
        if method == "POST" and params.get("_method") == ["GET"]:
            for name, values in parse_qs(request.raw_body).items():
                params.setdefault(name, []).extend(values)
            method = "GET"
        if method == "GET":
            if path in LOOKUPS:
                return self._lookup(path, params)
            describe = path.removesuffix("/describe.json") + ".json"
            if path.endswith("/describe.json") and describe in LOOKUPS:
                return self._describe(describe)
            if path == "/rest/v1/lists.json":
                return self._lists(path, params)
            if match := LIST_LEADS.fullmatch(path):
                return self._list_leads(path, int(match.group(1)), params)
            if match := PROGRAM_LEADS.fullmatch(path):
                return self._program_leads(path, int(match.group(1)), params)
            if path == "/rest/asset/v1/programs.json":
                return self._programs(params)
        return super().handle(request)

    # -- bulk extract -----------------------------------------------------------------------------

    def _bulk(self, request: RecordedRequest, entity: str, export_id: str, action: str) -> Answer:
        with self.lock:
            job = self.exports.get(export_id)
        if job is None or job.entity != entity:
            if action == "file":
                return Answer(404, f"Export {export_id} not found", content_type="text/plain")
            return _error("1003", f"Export job not found: {export_id}")
        if action == "status" and request.method == "GET":
            self._advance_queue()
            with self.lock:
                return _ok([job.status_json()])
        if action == "file" and request.method == "GET":
            return self._file(job, request)
        if action == "enqueue" and request.method == "POST":
            return self._enqueue(job)
        if action == "cancel" and request.method == "POST":
            with self.lock:
                if job.status in ("Completed", "Failed", "Cancelled"):
                    return _error("1003", f"Export job {job.export_id} is already {job.status}")
                job.status = "Cancelled"
                return _ok([job.status_json()])
        return Answer(405, {"message": "method not allowed"})

    def _quota_error(self) -> Answer | None:
        if self.quota_used_bytes >= self.daily_quota_bytes:
            megabytes = max(1, round(self.daily_quota_bytes / (1024 * 1024)))
            return _error("1029", f"Export daily quota {megabytes}MB exceeded.")
        return None

    def _create_export(self, entity: str, body: Any) -> Answer:
        if not isinstance(body, dict):
            return _error("609", "Invalid JSON")
        export_format = body.get("format", "CSV")
        if export_format not in FORMATS:
            return _error("1003", f"Invalid format: {export_format}")
        raw_filter = body.get("filter")
        if not isinstance(raw_filter, dict) or not raw_filter:
            return _error("1003", "filter is required")
        if entity == "leads":
            fields = body.get("fields")
            if not isinstance(fields, list) or not fields:
                return _error("1003", "fields is required")
            unknown = [f for f in fields if f not in self.lead_fields]
            if unknown:
                return _error("1003", f"Invalid fields: {', '.join(map(str, unknown))}")
            types = [
                t
                for t in raw_filter
                if t
                in (
                    "createdAt",
                    "updatedAt",
                    "staticListId",
                    "staticListName",
                    "smartListId",
                    "smartListName",
                )
            ]
            others = [t for t in raw_filter if t not in types]
            if others:
                return _error("1003", f"Invalid filter type: {others[0]}")
            if len(types) != 1:
                return _error("1003", "Only one filter type may be specified")
            kind = types[0]
            if kind.startswith("smartList") or (kind == "updatedAt" and not self.updated_at_filter):
                return _error("1035", f"Unsupported filter type for target subscription: {kind}")
            if kind in ("createdAt", "updatedAt"):
                problem = _date_range(raw_filter[kind], kind)
                if problem:
                    return _error("1003", problem)
            elif kind == "staticListId" and not isinstance(raw_filter[kind], int):
                return _error("1003", "staticListId must be an integer")
        else:
            fields = body.get("fields") or list(ACTIVITY_FIELDS)
            allowed = set(ACTIVITY_FIELDS) | {"actionResult"}
            unknown = [f for f in fields if f not in allowed]
            if unknown:
                return _error("1003", f"Invalid fields: {', '.join(map(str, unknown))}")
            if "createdAt" not in raw_filter:
                return _error("1003", "createdAt filter is required")
            extra = set(raw_filter) - {
                "createdAt",
                "activityTypeIds",
                "primaryAttributeValueIds",
                "primaryAttributeValues",
            }
            if extra:
                return _error("1003", f"Invalid filter type: {sorted(extra)[0]}")
            problem = _date_range(raw_filter["createdAt"], "createdAt")
            if problem:
                return _error("1003", problem)
            for name in ("activityTypeIds", "primaryAttributeValueIds"):
                ids = raw_filter.get(name)
                if ids is not None and (
                    not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)
                ):
                    return _error("1003", f"{name} must be an array of integers")
        names = body.get("columnHeaderNames") or {}
        headers = [names.get(f, f) if isinstance(names, dict) else f for f in fields]
        with self.lock:
            quota = self._quota_error()
            if quota is not None:
                return quota
            job = ExportJob(
                export_id=str(uuid.uuid4()),
                entity=entity,
                format=export_format,
                fields=list(fields),
                headers=headers,
                filter=raw_filter,
                created_at=datetime.now(UTC),
            )
            self.exports[job.export_id] = job
            return _ok([job.status_json()])

    def _enqueue(self, job: ExportJob) -> Answer:
        with self.lock:
            if job.status in ("Queued", "Processing"):
                return _error("1029", "Job already queued")
            if job.status != "Created":
                return _error("1003", f"Export job {job.export_id} is already {job.status}")
            quota = self._quota_error()
            if quota is not None:
                return quota
            waiting = [j for j in self.exports.values() if j.status in ("Queued", "Processing")]
            if len(waiting) >= self.max_queue:
                return _error("1029", f"Too many jobs ({self.max_queue}) in queue")
            job.status = "Queued"
            job.queued_at = datetime.now(UTC)
            job.queue_seq = next(self._queue_seq)
            return _ok([job.status_json()])

    def _advance_queue(self) -> None:
        with self.lock:
            processing = sorted(
                (j for j in self.exports.values() if j.status == "Processing"),
                key=lambda j: j.queue_seq,
            )
            for job in processing:
                job.processing_polls += 1
                if job.processing_polls >= self.export_polls_to_complete:
                    self._complete(job)
            busy = sum(1 for j in self.exports.values() if j.status == "Processing")
            queued = sorted(
                (j for j in self.exports.values() if j.status == "Queued"),
                key=lambda j: j.queue_seq,
            )
            for job in queued[: max(0, self.max_processing - busy)]:
                job.status = "Processing"
                job.started_at = datetime.now(UTC)
                if self.export_polls_to_complete <= 0:
                    self._complete(job)

    def _complete(self, job: ExportJob) -> None:
        job.finished_at = datetime.now(UTC)
        if self._fail_next is not None:
            job.status, job.error_msg, self._fail_next = "Failed", self._fail_next, None
            return
        rows = self._export_rows(job)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=FORMATS[job.format], lineterminator="\n")
        writer.writerow(job.headers)
        writer.writerows(rows)
        job.file = buffer.getvalue().encode("utf-8")
        job.number_of_records = len(rows)
        job.served = job.file
        if self._corrupt_next is not None:
            job.corrupt, self._corrupt_next = self._corrupt_next, None
            if job.corrupt == "truncate":
                job.served = job.file[: max(0, len(job.file) - max(1, len(job.file) // 10))]
            else:
                middle = len(job.file) // 2
                flipped = bytes([job.file[middle] ^ 0x01]) if job.file else b""
                job.served = job.file[:middle] + flipped + job.file[middle + 1 :]
        job.status = "Completed"
        self.quota_used_bytes += len(job.file)

    def _export_rows(self, job: ExportJob) -> list[list[str]]:
        flt = job.filter
        rows = []
        if job.entity == "leads":
            kind, condition = next(iter(flt.items()))
            members: set[int] | None = None
            if kind == "staticListId":
                members = set(self.lists.get(condition, set()))
            elif kind == "staticListName":
                ids = [
                    i for i, s in self.data["static_lists"].items() if s.get("name") == condition
                ]
                members = set().union(*(self.lists.get(i, set()) for i in ids))
            for lead in self.data["leads"].values():
                if members is not None:
                    if lead["id"] not in members:
                        continue
                elif not _in_range(lead.get(kind), condition):
                    continue
                rows.append([file_value(lead.get(f)) for f in job.fields])
        else:
            types = flt.get("activityTypeIds")
            value_ids = flt.get("primaryAttributeValueIds")
            values = flt.get("primaryAttributeValues")
            for activity in sorted(
                self.data["activities"].values(),
                key=lambda a: (a["activityDate"], a["marketoGUID"]),
            ):
                if not _in_range(activity.get("createdAt"), flt["createdAt"]):
                    continue
                if types is not None and activity.get("activityTypeId") not in types:
                    continue
                if (
                    value_ids is not None
                    and activity.get("primaryAttributeValueId") not in value_ids
                ):
                    continue
                if values is not None and activity.get("primaryAttributeValue") not in values:
                    continue
                rows.append([file_value(activity.get(f)) for f in job.fields])
        return rows

    def _file(self, job: ExportJob, request: RecordedRequest) -> Answer:
        with self.lock:
            if job.status != "Completed" or job.served is None:
                return Answer(
                    404,
                    f"Export {job.export_id} is not available (status {job.status})",
                    content_type="text/plain",
                )
            content = job.served
        content_type = "text/csv" if job.format == "CSV" else "text/plain"
        spec = request.headers.get("range")
        if not spec:
            return Answer(200, content, {"Accept-Ranges": "bytes"}, content_type=content_type)
        match = re.fullmatch(r"\s*bytes[= ](\d*)-(\d*)\s*", spec)
        total = len(content)
        if match is None or match.groups() == ("", ""):
            return Answer(416, "Invalid Range", {"Content-Range": f"bytes */{total}"}, "text/plain")
        first, last = match.groups()
        if first == "":
            start, end = max(0, total - int(last)), total - 1
        else:
            start, end = int(first), min(total - 1, int(last)) if last else total - 1
        if start >= total or start > end:
            return Answer(
                416, "Range Not Satisfiable", {"Content-Range": f"bytes */{total}"}, "text/plain"
            )
        return Answer(
            206,
            content[start : end + 1],
            {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{total}"},
            content_type=content_type,
        )

    def _list_exports(self, entity: str, request: RecordedRequest) -> Answer:
        params = {k: list(v) for k, v in request.query.items()}
        statuses = set(_split(params.get("status", [])))
        with self.lock:
            jobs = [
                j.status_json()
                for j in self.exports.values()
                if j.entity == entity and (not statuses or j.status in statuses)
            ]
        return self._paged(request.path, params, jobs)

    # -- REST reads -------------------------------------------------------------------------------

    def _batch_size(self, params: dict[str, list[str]]) -> int | Answer:
        raw = params.get("batchSize", [None])[0]
        if raw is None:
            return min(300, self.page_size)
        if not raw.isdigit() or not 1 <= int(raw) <= 300:
            return _error("1003", f"Invalid batchSize: {raw} (1 to 300)")
        return min(int(raw), self.page_size)

    def _paged(self, path: str, params: dict[str, list[str]], items: list[Any]) -> Answer:
        """One page of `items` by nextPageToken; the token is tied to the same query."""
        size = self._batch_size(params)
        if isinstance(size, Answer):
            return size
        query_key = (
            path
            + "?"
            + "&".join(
                f"{k}={','.join(v)}"
                for k, v in sorted(params.items())
                if k not in ("nextPageToken", "batchSize", "_method")
            )
        )
        offset = 0
        token = params.get("nextPageToken", [None])[0]
        if token:
            with self.lock:
                known = self._page_tokens.get(token)
            if known is None or known[0] != query_key:
                return _error("1003", f"Invalid nextPageToken: {token}")
            offset = known[1]
        page = items[offset : offset + size]
        following = offset + len(page)
        more = following < len(items)
        body: dict[str, Any] = {"requestId": _request_id(), "result": page, "success": True}
        if more or (self.token_on_last_page and page):
            next_token = base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=") + "==="
            with self.lock:
                self._page_tokens[next_token] = (query_key, following)
            body["nextPageToken"] = next_token
        if self.more_result:
            body["moreResult"] = more
        return Answer(200, body)

    def _fields(
        self, params: dict[str, list[str]], types: Mapping[str, str], default: list[str]
    ) -> list[str] | Answer:
        fields = _split(params.get("fields", [])) or list(default)
        for name in fields:
            if name not in types:
                return _error("1006", f"Field '{name}' not found")
        return fields

    def _searchable(self, path: str) -> list[list[str]]:
        kind, _, _, _, searchable, _ = LOOKUPS[path]
        extra = [[f] for f in self.extra_searchable.get(kind, []) if [f] not in searchable]
        if self.any_filter_type:
            extra += [[f] for f in KINDS[kind].types if [f] not in searchable + extra]
        return searchable + extra

    def _describe(self, path: str) -> Answer:
        kind, name, id_field, dedupe, _, _ = LOOKUPS[path]
        if kind == ROLES and self.crm_sync:
            return _error("1018", "CRM Enabled")
        described = {
            "name": name,
            "idField": id_field,
            "dedupeFields": dedupe,
            "searchableFields": self._searchable(path),
            "fields": [
                {
                    "name": f,
                    "dataType": t,
                    "updateable": f not in (id_field, "createdAt", "updatedAt"),
                }
                for f, t in KINDS[kind].types.items()
            ],
        }
        return _ok([described])

    def _lookup(self, path: str, params: dict[str, list[str]]) -> Answer:
        kind, _, id_field, _, _, default_fields = LOOKUPS[path]
        if kind == ROLES and self.crm_sync:
            return _error("1018", "CRM Enabled")
        filter_type = params.get("filterType", [""])[0]
        if not filter_type:
            return _error("1003", "filterType not specified")
        values = _split(params.get("filterValues", []))
        if not values:
            return _error("1003", "filterValues not specified")
        if len(values) > 300:
            return _error("1003", f"filterValues exceeds the maximum of 300 values ({len(values)})")
        if [filter_type] not in self._searchable(path):
            return _error("1011", f"Lookup field '{filter_type}' not supported")
        types = KINDS[kind].types
        fields = self._fields(params, types, default_fields)
        if isinstance(fields, Answer):
            return fields
        wanted = set(values)
        with self.lock:
            matches = [
                r
                for r in self.data[kind].values()
                if r.get(filter_type) is not None and _text(r[filter_type]) in wanted
            ]
            records = [self._rest_record(r, [id_field, *fields]) for r in matches]
        answer = self._paged(path, params, records)
        if isinstance(answer.body, dict) and answer.body.get("success"):
            for seq, record in enumerate(answer.body["result"]):
                record["seq"] = seq
                record.update({k: record.pop(k) for k in list(record) if k != "seq"})
        return answer

    @staticmethod
    def _rest_record(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in fields:
            value = record.get(name)
            if value is not None and name not in out:
                out[name] = rest_value(value)
        return out

    def _lists(self, path: str, params: dict[str, list[str]]) -> Answer:
        ids = {int(i) for i in _split(params.get("id", [])) if i.isdigit()}
        names = set(_split(params.get("name", [])))
        programs = set(_split(params.get("programName", [])))
        workspaces = set(_split(params.get("workspaceName", [])))
        with self.lock:
            lists = [
                self._rest_record(
                    s,
                    [
                        "id",
                        "name",
                        "description",
                        "programName",
                        "workspaceName",
                        "createdAt",
                        "updatedAt",
                    ],
                )
                for s in sorted(self.data["static_lists"].values(), key=lambda s: s["id"])
                if (not ids or s["id"] in ids)
                and (not names or s.get("name") in names)
                and (not programs or s.get("programName") in programs)
                and (not workspaces or s.get("workspaceName") in workspaces)
            ]
        return self._paged(path, params, lists)

    def _list_leads(self, path: str, list_id: int, params: dict[str, list[str]]) -> Answer:
        fields = self._fields(params, self.lead_fields, DEFAULT_LEAD_FIELDS)
        if isinstance(fields, Answer):
            return fields
        with self.lock:
            if list_id not in self.data["static_lists"] and list_id not in self.lists:
                return _error("1013", "Static list not found")
            members = sorted(self.lists.get(list_id, set()))
            leads = [
                self._rest_record(self.data["leads"][i], ["id", *fields])
                for i in members
                if i in self.data["leads"]
            ]
        return self._paged(path, params, leads)

    def _program_leads(self, path: str, program_id: int, params: dict[str, list[str]]) -> Answer:
        fields = self._fields(params, self.lead_fields, DEFAULT_LEAD_FIELDS)
        if isinstance(fields, Answer):
            return fields
        with self.lock:
            if program_id not in self.data["programs"]:
                return _error("1013", "Program not found")
            members = sorted(
                (pair, m)
                for pair, m in self.data["program_members"].items()
                if pair[0] == program_id
            )
            leads = []
            for (_, lead_id), membership in members:
                lead = self.data["leads"].get(lead_id)
                if lead is None:
                    continue
                record = self._rest_record(lead, ["id", *fields])
                record["membership"] = {
                    "progressionStatus": membership.get("progressionStatus"),
                    "progressionStatusType": membership.get("progressionStatusType")
                    or membership.get("progressionStatus"),
                    "isExhausted": bool(membership.get("isExhausted")),
                    "acquiredBy": bool(membership.get("acquiredBy")),
                    "reachedSuccess": bool(membership.get("reachedSuccess")),
                    "membershipDate": rest_value(membership.get("membershipDate")),
                    "updatedAt": rest_value(membership.get("updatedAt")),
                }
                leads.append(record)
        return self._paged(path, params, leads)

    def _programs(self, params: dict[str, list[str]]) -> Answer:
        raw_max = params.get("maxReturn", ["20"])[0]
        raw_offset = params.get("offset", ["0"])[0]
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= 200:
            return _error("1003", f"Invalid maxReturn: {raw_max} (1 to 200)")
        if not raw_offset.isdigit():
            return _error("1003", f"Invalid offset: {raw_offset}")
        max_return, offset = int(raw_max), int(raw_offset)
        earliest = params.get("earliestUpdatedAt", [None])[0]
        latest = params.get("latestUpdatedAt", [None])[0]
        try:
            low = parse_instant(earliest) if earliest else None
            high = parse_instant(latest) if latest else None
        except ValueError:
            return _error("1003", "Invalid date format for earliestUpdatedAt or latestUpdatedAt")
        filter_type = params.get("filterType", [None])[0]
        filter_values = set(_split(params.get("filterValues", [])))
        with self.lock:
            programs = []
            for program in sorted(self.data["programs"].values(), key=lambda p: p["id"]):
                updated = program.get("updatedAt")
                if low and updated and updated < low or high and updated and updated > high:
                    continue
                if filter_type in ("id", "programId") and str(program["id"]) not in filter_values:
                    continue
                if filter_type == "folderId" and str(program.get("folderId")) not in filter_values:
                    continue
                if filter_type == "workspace" and program.get("workspace") not in filter_values:
                    continue
                programs.append(self._asset_program(program))
        page = programs[offset : offset + max_return]
        body: dict[str, Any] = {"success": True, "errors": [], "requestId": _request_id()}
        if page:
            body["warnings"] = []
            body["result"] = page
        else:
            body["warnings"] = [NO_ASSETS]
        return Answer(200, body)

    def _asset_program(self, program: Mapping[str, Any]) -> dict[str, Any]:
        created = program.get("createdAt") or self._clock
        updated = program.get("updatedAt") or created
        channel = program.get("channel")
        record: dict[str, Any] = {
            "id": program["id"],
            "name": program.get("name"),
            "description": program.get("description") or "",
            "createdAt": asset_time(created),
            "updatedAt": asset_time(updated),
            "url": f"https://app-fake.marketo.com/#PG{program['id']}A1",
            "type": program.get("type"),
            "channel": channel,
            "folder": {
                "type": "Folder",
                "value": program.get("folderId") or 1,
                "folderName": program.get("folderName") or "Marketing Activities",
            },
            "status": program.get("status") or "",
            "workspace": program.get("workspace") or "Default",
        }
        return record


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(rest_value(value))


def _in_range(value: Any, window: Mapping[str, str]) -> bool:
    if not isinstance(value, datetime):
        return False
    return parse_instant(window["startAt"]) <= value < parse_instant(window["endAt"])


def _date_range(window: Any, name: str) -> str | None:
    """Why a date-range filter is not acceptable, or None."""
    if not isinstance(window, dict) or not {"startAt", "endAt"} <= set(window):
        return f"{name} filter needs startAt and endAt"
    for key in ("startAt", "endAt"):
        value = window[key]
        if not isinstance(value, str) or not ISO_NO_MILLIS.fullmatch(value.strip()):
            return (
                f"Invalid date format for {name}.{key}: {value!r} (ISO-8601, without milliseconds)"
            )
    start, end = parse_instant(window["startAt"]), parse_instant(window["endAt"])
    if end < start:
        return f"{name}.endAt must not be before startAt"
    if end - start > MAX_RANGE:
        return f"Date range of {name} filter exceeds 31 days"
    return None


def _ok(result: list[dict[str, Any]]) -> Answer:
    return Answer(200, {"requestId": _request_id(), "result": result, "success": True})
