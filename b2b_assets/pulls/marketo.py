"""Pull a Marketo instance's objects (contract section 3).

Leads and activities come from the bulk extract API: one export job per window of at most
30 days (Marketo allows 31), created, enqueued, polled, then its file fetched and checked against
the job's SHA-256 checksum and landed as one part of `landing/<source>/<object>/`. The first pull
starts at `since` (default: three years back); later pulls start at the latest instant landed
(see `marks`): activities by `createdAt` (their `activityDate`), leads by `updatedAt` (so changed
leads come again), or by `createdAt` when the subscription does not support that filter (error
1035; then only new leads come). An export job that fails is created once more; a full queue
(1029) is waited out; an exhausted daily export quota (1029) stops the object's pull until the
next one, which resumes from the last complete window (an export job still running is picked up
rather than created again).

Companies, opportunities, opportunity roles, programs, program members, static lists and their
members come from the REST API, paged by `nextPageToken` (programs by offset), and are read
whole each pull; a snapshot that differs from the last one landed (by SHA-256) is landed as one
part that replaces the previous one, so records deleted in Marketo leave, and an unchanged one is
not landed again. Companies are asked for by the `externalCompanyId`/`sfdcAccountId` of the
landed leads and the synced CRM's landed account ids, roles by the landed leads' ids,
opportunities by the ids the roles name and those of the synced CRM's landed opportunities
(Marketo searches opportunities by their ids only).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from b2b_assets.apis.marketo import MarketoApi, MarketoError
from b2b_assets.pulls.landing import PullLanding
from b2b_assets.pulls.marks import Mark, new_rows
from b2b_assets.pulls.report import ObjectPull, PullError, PullReport, parse_instant
from b2b_assets.sources.catalog import MARKETO, SALESFORCE, ObjectSpec, normalize_column_name
from b2b_assets.sources.config import MarketoPull
from b2b_assets.sources.reader import find_object_files

WINDOW = timedelta(days=30)
DEFAULT_LOOKBACK = timedelta(days=3 * 365)
BATCH = 300  # REST: records per page, filter values per call
ASSET_PAGE = 200  # asset API: programs per page
EXPORT_DONE, EXPORT_FAILED = "Completed", ("Failed", "Cancelled")
EXPORT_RUNNING = ("Created", "Queued", "Processing")
UNSUPPORTED_FILTER, QUEUE_OR_QUOTA = "1035", "1029"
# Opportunities and their roles are not served to subscriptions with a native CRM sync.
NOT_SERVED = "1018"
FIELD_CODES = ("1003", "1006")
Sleep = Callable[[float], None]
SPECS = {spec.name: spec for spec in MARKETO}
SALESFORCE_SPECS = {spec.name: spec for spec in SALESFORCE}
KEYS = {"leads": "id", "activities": "marketoGUID"}
# Per bulk object: the export filter -> the column of the rows it filters on.
DATE_COLUMNS = {
    "leads": {"createdAt": "createdAt", "updatedAt": "updatedAt"},
    "activities": {"createdAt": "activityDate"},
}


class QuotaExhausted(Exception):
    """The daily export quota is spent: the object's pull resumes with the next pull."""


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into windows of at most WINDOW."""
    while start < end:
        stop = min(start + WINDOW, end)
        yield start, stop
        start = stop


class MarketoPuller:
    """Pulls every Marketo object of the contract into one source's landing folder."""

    def __init__(
        self,
        api: MarketoApi,
        landing: PullLanding,
        settings: MarketoPull,
        log: logging.Logger | logging.LoggerAdapter,
        *,
        now: datetime | None = None,
        sleep: Sleep = time.sleep,
        max_job_wait: float = 3 * 3600.0,
        crm_folder: Path | None = None,
    ) -> None:
        self.api = api
        self.landing = landing
        self.settings = settings
        self.log = log
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.sleep = sleep
        self.max_job_wait = max_job_wait
        self.crm_folder = crm_folder
        self.report: PullReport | None = None

    def pull(self, report: PullReport) -> PullReport:
        self.report = report
        steps = [
            ("leads", self._leads),
            ("activities", self._activities),
            ("companies", self._companies),
            ("opportunity_roles", self._roles),
            ("opportunities", self._opportunities),
            ("programs", self._programs),
            ("program_members", self._program_members),
            ("static_lists", self._static_lists),
            ("static_list_members", self._static_list_members),
        ]
        for name, step in steps:
            pulled = report.start(name)
            calls = self.api.stats["rest_calls"]
            try:
                step(pulled)
            finally:
                pulled.api_calls = self.api.stats["rest_calls"] - calls
        report.limit_wait_seconds += self.api.rate_limit_wait_seconds
        report.token_requests += self.api.stats["token_requests"]
        return report

    # -- bulk extract -----------------------------------------------------------------------------

    def _first_start(self) -> datetime:
        return self.settings.since or (self.now - DEFAULT_LOOKBACK)

    def _leads(self, pulled: ObjectPull) -> None:
        state = self.landing.state("leads")
        fields = list(state.get("fields") or [column.name for column in SPECS["leads"].columns])
        if not state.get("initial_load_done"):
            # The first load walks every window by createdAt; changes made from its start on
            # come with the pulls after it (by updatedAt).
            started = state.setdefault("initial_load_started", iso(self.now))
            if self._export_windows("leads", "createdAt", pulled, fields):
                updated = Mark.from_state(state.get("marks", {}).get("updatedAt"))
                if updated.at is None or parse_instant(started) < updated.instant:
                    updated = Mark(started)
                state.setdefault("marks", {})["updatedAt"] = updated.to_state()
                state["initial_load_done"] = True
                self.landing.save()
            pulled.high_water_mark = self._mark("leads", "createdAt")
            return
        if state.get("updated_filter") != "unsupported":
            try:
                self._export_windows("leads", "updatedAt", pulled, fields)
                pulled.high_water_mark = self._mark("leads", "updatedAt")
                return
            except MarketoError as exc:
                if exc.code != UNSUPPORTED_FILTER:
                    raise PullError(f"leads: {exc}") from None
            self.log.warning(
                "leads: this subscription cannot export by updatedAt (1035); only new leads are "
                "pulled from now on (ask Marketo support to enable the filter)"
            )
            state["updated_filter"] = "unsupported"
            self.landing.save()
        self._export_windows("leads", "createdAt", pulled, fields)
        pulled.high_water_mark = self._mark("leads", "createdAt")

    def _activities(self, pulled: ObjectPull) -> None:
        try:
            self._export_windows("activities", "createdAt", pulled, None)
        except MarketoError as exc:
            raise PullError(f"activities: {exc}") from None
        pulled.high_water_mark = self._mark("activities", "activityDate")

    def _mark(self, kind: str, column: str) -> str | None:
        state = self.landing.state(kind)
        return (state.get("marks", {}).get(column) or {}).get("at") or state.get("window_end")

    def _export_windows(
        self, kind: str, date_filter: str, pulled: ObjectPull, fields: list[str] | None
    ) -> bool:
        """Export from the object's mark for `date_filter` (see `marks`) to now, window by
        window, landing each window's new rows with the marks they move; False when the daily
        quota stopped it before the end."""
        state = self.landing.state(kind)
        column = DATE_COLUMNS[kind][date_filter]
        marks = {
            name: Mark.from_state(state.get("marks", {}).get(name))
            for name in DATE_COLUMNS[kind].values()
        }
        start = marks[column].instant or _instant(state.get("window_end")) or self._first_start()
        for window_start, window_end in windows(start, self.now):
            body: dict[str, Any] = {
                "format": "CSV",
                "filter": {date_filter: {"startAt": iso(window_start), "endAt": iso(window_end)}},
            }
            if kind == "activities":
                body["filter"]["activityTypeIds"] = list(self.settings.activity_type_ids)
            try:
                data = self._export(kind, body, fields, pulled)
            except QuotaExhausted:
                self.log.warning(
                    f"{kind}: the daily export quota is spent (1029); the pull resumes from "
                    f"{iso(window_start)} next time"
                )
                pulled.note = "daily export quota spent"
                return False
            fresh = new_rows(data, KEYS[kind], marks, column)
            marks = fresh.marks
            progress: dict[str, Any] = {
                "marks": {name: mark.to_state() for name, mark in marks.items()},
                "window_end": iso(window_end),
                "export": None,
            }
            if fields is not None:
                progress["fields"] = fields
            if fresh.rows:
                self.landing.land(kind, fresh.body, progress)
                pulled.parts += 1
                pulled.rows += fresh.rows
            else:
                state.update(progress)
                self.landing.save()
        return True

    def _export(
        self, kind: str, body: dict[str, Any], fields: list[str] | None, pulled: ObjectPull
    ) -> bytes:
        """One window's export file: an export job (resumed if one for this window is still
        alive), waited for, fetched and verified. A job that fails is created once more."""
        state = self.landing.state(kind)
        for attempt in (1, 2):
            export = state.get("export")
            fresh = export is None or export.get("filter") != body["filter"]
            if fresh:
                export_id = self._create_export(kind, body, fields, pulled)
                state["export"] = {"id": export_id, "filter": body["filter"]}
                self.landing.save()
            else:
                export_id = export["id"]
            try:
                status = self._run_export(kind, export_id, fresh)
                return self._fetch_file(kind, export_id, status)
            except _ExportGone as exc:
                state["export"] = None
                self.landing.save()
                if attempt == 2:
                    raise PullError(f"{kind}: {exc}") from None
                self.log.warning(f"{kind}: {exc}; creating the export job once more")
        raise AssertionError("unreachable")

    def _create_export(
        self, kind: str, body: dict[str, Any], fields: list[str] | None, pulled: ObjectPull
    ) -> str:
        while True:
            request = {**body, **({"fields": fields} if fields is not None else {})}
            try:
                data = self.api.call(
                    "POST", f"/bulk/v1/{kind}/export/create.json", request, what=f"{kind} export"
                )
            except MarketoError as exc:
                missing = _unknown_field(exc, fields or [], SPECS.get(kind))
                if missing is None:
                    if exc.code == QUEUE_OR_QUOTA and "quota" in str(exc).lower():
                        raise QuotaExhausted() from None
                    raise
                self.log.warning(f"{kind}: the instance has no field {missing}; pulled without it")
                assert fields is not None
                fields.remove(missing)
                pulled.note = f"without {missing}"
                continue
            return str(_first_result(data, f"{kind} export")["exportId"])

    def _run_export(self, kind: str, export_id: str, fresh: bool) -> dict[str, Any]:
        """Enqueue the job if it is not yet (a `fresh` one is not), and wait until it
        completes: its status is asked at once, then after waits growing to 30 s."""
        base = f"/bulk/v1/{kind}/export/{export_id}"
        status = {"status": "Created"} if fresh else self._status(kind, export_id)
        started, pause = time.monotonic(), 0.0
        while True:
            state = status.get("status")
            if state == EXPORT_DONE:
                return status
            if state in EXPORT_FAILED or state not in EXPORT_RUNNING:
                raise _ExportGone(
                    f"the export job ended {state}: {status.get('errorMsg') or 'no reason given'}"
                )
            if state == "Created":
                try:
                    self.api.call("POST", f"{base}/enqueue.json", what=f"{kind} export enqueue")
                except MarketoError as exc:
                    if exc.code != QUEUE_OR_QUOTA:
                        raise
                    if "quota" in str(exc).lower():
                        raise QuotaExhausted() from None
                    self.log.info(f"{kind}: the export queue is full; waiting")
            if time.monotonic() - started > self.max_job_wait:
                raise PullError(
                    f"{kind}: the export job did not finish in {self.max_job_wait:.0f}s"
                )
            if pause:
                self.sleep(pause)
                if self.report is not None:
                    self.report.job_wait_seconds += pause
            pause = min(max(pause * 2, 0.25), 30.0)
            status = self._status(kind, export_id)

    def _status(self, kind: str, export_id: str) -> dict[str, Any]:
        try:
            data = self.api.call(
                "GET",
                f"/bulk/v1/{kind}/export/{export_id}/status.json",
                what=f"{kind} export status",
            )
        except MarketoError as exc:
            if exc.code == "?":  # not an answer about the job: retries ran out
                raise
            raise _ExportGone(f"the export job cannot be found ({exc.code})") from None
        return _first_result(data, f"{kind} export status")

    def _fetch_file(self, kind: str, export_id: str, status: dict[str, Any]) -> bytes:
        expected = str(status.get("fileChecksum") or "").lower().removeprefix("sha256:")
        for _ in (1, 2):
            data = self.api.download(
                f"/bulk/v1/{kind}/export/{export_id}/file.json", what=f"{kind} export file"
            )
            if not expected or hashlib.sha256(data).hexdigest() == expected:
                return data
            self.log.warning(f"{kind}: the export file does not match its checksum; fetching again")
        raise _ExportGone(f"the file of export job {export_id} does not match its checksum")

    # -- REST objects, landed whole ---------------------------------------------------------------

    def _companies(self, pulled: ObjectPull) -> None:
        values = self._landed_values("leads", ("externalCompanyId", "sfdcAccountId"))
        if self.crm_folder is not None:
            values |= landed_values(self.crm_folder, SALESFORCE_SPECS["Account"], ("Id",))
        rows = self._filtered("/rest/v1/companies.json", "externalCompanyId", values, "companies")
        self._snapshot("companies", rows, pulled)

    def _roles(self, pulled: ObjectPull) -> None:
        values = self._landed_values("leads", ("id",))
        path = "/rest/v1/opportunities/roles.json"
        rows = self._filtered(path, "leadId", values, "opportunity_roles")
        self._snapshot("opportunity_roles", rows, pulled)

    def _opportunities(self, pulled: ObjectPull) -> None:
        # Opportunities are searchable by their own ids only: those the landed roles name, and
        # the synced CRM's opportunity ids (its opportunities carry them).
        values = self._landed_values("opportunity_roles", ("externalOpportunityId",))
        if self.crm_folder is not None:
            values |= landed_values(self.crm_folder, SALESFORCE_SPECS["Opportunity"], ("Id",))
        path = "/rest/v1/opportunities.json"
        rows = self._filtered(path, "externalOpportunityId", values, "opportunities")
        self._snapshot("opportunities", rows, pulled)

    def _programs(self, pulled: ObjectPull) -> None:
        self._snapshot("programs", self._asset_pages("/rest/asset/v1/programs.json"), pulled)

    def _program_members(self, pulled: ObjectPull) -> None:
        def members() -> Iterator[dict[str, Any]]:
            for program_id in sorted(self._landed_values("programs", ("id",)), key=_numeric):
                path = f"/rest/v1/leads/programs/{int(program_id)}.json"
                for lead in self._pages(path, [("fields", "id")], "program members"):
                    membership = lead.get("membership") or {}
                    yield {
                        "programId": program_id,
                        "leadId": lead.get("id"),
                        "status": membership.get("progressionStatus"),
                        "reachedSuccess": membership.get("reachedSuccess"),
                    }

        self._snapshot("program_members", members(), pulled)

    def _static_lists(self, pulled: ObjectPull) -> None:
        self._snapshot(
            "static_lists", self._pages("/rest/v1/lists.json", [], "static lists"), pulled
        )

    def _static_list_members(self, pulled: ObjectPull) -> None:
        def members() -> Iterator[dict[str, Any]]:
            for list_id in sorted(self._landed_values("static_lists", ("id",)), key=_numeric):
                path = f"/rest/v1/lists/{int(list_id)}/leads.json"
                for lead in self._pages(path, [("fields", "id")], "static list members"):
                    yield {"listId": list_id, "leadId": lead.get("id")}

        self._snapshot("static_list_members", members(), pulled)

    def _snapshot(self, name: str, records: Iterable[dict[str, Any]], pulled: ObjectPull) -> None:
        spec = SPECS[name]
        try:
            body, rows = _csv_of(spec, records)
        except MarketoError as exc:
            if exc.code == NOT_SERVED:
                self.log.info(f"{name}: not served to this subscription (1018); skipped")
                pulled.note = "not served (native CRM sync)"
                return
            raise PullError(f"{name}: {exc}") from None
        digest = hashlib.sha256(body).hexdigest()
        state = self.landing.state(name)
        pulled.high_water_mark = iso(self.now)
        if state.get("snapshot_digest") == digest and self.landing.pulled_parts(name):
            pulled.note = "unchanged since the last pull"
            return
        progress = {"snapshot_part": None, "snapshot_digest": digest, "pulled_at": iso(self.now)}
        self.landing.land(name, body, progress)
        pulled.parts, pulled.rows = 1, rows

    def _filtered(
        self, path: str, filter_type: str, values: set[str], name: str
    ) -> Iterator[dict[str, Any]]:
        """The object's records whose `filter_type` is one of `values` (300 values a call),
        with the object's columns as `fields` (those the instance lacks left out)."""
        ordered = sorted(values)
        fields = [column.name for column in SPECS[name].columns]
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start : start + BATCH]
            params = [("filterType", filter_type), ("filterValues", ",".join(chunk))]
            yield from self._pages(path, params, name, fields)

    def _pages(
        self,
        path: str,
        params: list[tuple[str, str]],
        what: str,
        fields: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            query = [*params, ("batchSize", str(BATCH))]
            query += [("fields", ",".join(fields))] if fields else []
            query += [("nextPageToken", token)] if token else []
            try:
                data = self.api.call("GET", path, params=query, what=what)
            except MarketoError as exc:
                missing = _unknown_field(exc, fields or [], SPECS.get(what))
                if missing is None or fields is None:
                    raise
                self.log.warning(f"{what}: the instance has no field {missing}; pulled without it")
                fields.remove(missing)
                continue
            result = data.get("result") or []
            yield from (item for item in result if isinstance(item, dict))
            following = data.get("nextPageToken")
            if not result or not following or following == token or data.get("moreResult") is False:
                return
            token = following

    def _asset_pages(self, path: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            params = [("maxReturn", str(ASSET_PAGE)), ("offset", str(offset))]
            data = self.api.call("GET", path, params=params, what="programs")
            result = [item for item in data.get("result") or [] if isinstance(item, dict)]
            yield from result
            if len(result) < ASSET_PAGE:
                return
            offset += len(result)

    def _landed_values(self, object_name: str, columns: tuple[str, ...]) -> set[str]:
        return landed_values(self.landing.folder, SPECS[object_name], columns)


class _ExportGone(Exception):
    """The export job failed, was cancelled, is no longer known, or its file is damaged."""


def landed_values(folder: Path, spec: ObjectSpec, columns: tuple[str, ...]) -> set[str]:
    """The distinct non-empty values of `columns` in every landed file of the object."""
    wanted = {normalize_column_name(column) for column in columns}
    values: set[str] = set()
    for path in find_object_files(folder, spec):
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                if normalize_column_name(name) in wanted:
                    values.update(str(v) for v in table.column(name).to_pylist() if v is not None)
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            positions = [
                i for i, name in enumerate(header) if normalize_column_name(name) in wanted
            ]
            for row in reader:
                values.update(row[i] for i in positions if i < len(row))
    return {v.strip() for v in values if v.strip() and v.strip().lower() not in ("null",)}


def _first_result(data: dict[str, Any], what: str) -> dict[str, Any]:
    result = data.get("result") or []
    if not result or not isinstance(result[0], dict):
        raise PullError(f"{what}: Marketo answered without a result")
    return result[0]


def _unknown_field(exc: MarketoError, fields: list[str], spec: ObjectSpec | None) -> str | None:
    """The optional field an error about fields names, if any."""
    if exc.code not in FIELD_CODES or spec is None:
        return None
    message = str(exc).lower()
    for field in fields:
        column = next((c for c in spec.columns if c.name == field), None)
        if column is not None and not column.required and field.lower() in message:
            return field
    return None


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _numeric(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (0, value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_of(spec: ObjectSpec, records: Iterable[dict[str, Any]]) -> tuple[bytes, int]:
    """The records as a CSV of the object's columns (header first), and how many there were."""
    names = [column.name for column in spec.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    rows = 0
    for record in records:
        writer.writerow([_cell(record.get(name)) for name in names])
        rows += 1
    return buffer.getvalue().encode("utf-8"), rows
