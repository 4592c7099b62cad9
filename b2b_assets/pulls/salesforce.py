"""Pull a Salesforce org's objects (contract section 3) with Bulk API 2.0 query jobs.

Each object is one `queryAll` job (deleted rows arrive with `IsDeleted` true) selecting the
contract's columns and `SystemModstamp`; later pulls select only rows whose `SystemModstamp` is
newer than the object's high-water mark. Every page of results (`Sforce-Locator`) is landed as
it arrives, as one part of `landing/<source>/<object>/`, together with the locator of the next
page: a pull stopped anywhere goes on from that page (or, when the job is gone, runs the query
again from the high-water mark; rows landed twice are the same records, which the raw layer keeps
once). The high-water mark moves only when a job's last page is landed.

A column the org does not have (e.g. `CurrencyIsoCode` without multi-currency) is left out of the
query; an optional object the org does not have (e.g. `AccountContactRelation`) is skipped. Both
are said in the pull's report.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from b2b_assets.apis.salesforce import SalesforceApi, SalesforceError
from b2b_assets.pulls.landing import PullLanding
from b2b_assets.pulls.report import ObjectPull, PullError, PullReport, csv_rows, parse_instant
from b2b_assets.sources.catalog import SALESFORCE, ObjectSpec

SYSTEM_MODSTAMP = "SystemModstamp"
PAGE_RECORDS = 50_000
DONE = "JobComplete"
FAILED = ("Failed", "Aborted")
FIELD_ERRORS = ("INVALIDFIELD", "INVALID_FIELD")
OBJECT_ERRORS = ("INVALID_TYPE", "INVALIDENTITY", "NOT_FOUND")
Sleep = Callable[[float], None]


def soql_instant(value: str) -> str:
    """A SOQL dateTime literal (`2026-01-15T10:00:00Z`) for an instant Salesforce wrote."""
    return parse_instant(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class SalesforcePuller:
    """Pulls every Salesforce object of the contract into one source's landing folder."""

    def __init__(
        self,
        api: SalesforceApi,
        landing: PullLanding,
        log: logging.Logger | logging.LoggerAdapter,
        *,
        sleep: Sleep = time.sleep,
        max_job_wait: float = 3600.0,
        page_records: int = PAGE_RECORDS,
    ) -> None:
        self.api = api
        self.landing = landing
        self.log = log
        self.sleep = sleep
        self.max_job_wait = max_job_wait
        self.page_records = page_records

    def pull(self, report: PullReport) -> PullReport:
        for spec in SALESFORCE:
            pulled = report.start(spec.name)
            calls = self.api.stats["api_calls"]
            try:
                self._pull_object(spec, pulled, report)
            finally:
                pulled.api_calls = self.api.stats["api_calls"] - calls
        report.limit_wait_seconds += self.api.limit_wait_seconds
        report.token_requests += self.api.stats["token_requests"]
        return report

    # -- one object -------------------------------------------------------------------------------

    def _pull_object(self, spec: ObjectSpec, pulled: ObjectPull, report: PullReport) -> None:
        state = self.landing.state(spec.name)
        pulled.high_water_mark = state.get("high_water_mark")
        job = state.get("job")
        if job is not None and not self._resumable(job["id"], report):
            self.log.info(f"{spec.name}: the interrupted job is gone; querying again")
            job = None
        for attempt in (1, 2):
            if job is None:
                job = self._start_job(spec, state, pulled)
                if job is None:
                    return
            try:
                self._wait(job["id"], spec.name, report)
                break
            except PullError:
                state["job"] = None
                self.landing.save()
                if attempt == 2:
                    raise
                self.log.warning(f"{spec.name}: the query job failed; running it once more")
                job = None
        self._land_pages(spec, state, job, pulled)

    def _start_job(self, spec: ObjectSpec, state: dict, pulled: ObjectPull) -> dict | None:
        fields = list(state.get("fields") or _fields(spec))
        while True:
            soql = f"SELECT {', '.join(fields)} FROM {spec.name}"
            if state.get("high_water_mark"):
                soql += f" WHERE {SYSTEM_MODSTAMP} > {soql_instant(state['high_water_mark'])}"
            try:
                created = self.api.create_query_job(soql)
                break
            except SalesforceError as exc:
                missing = _missing_field(exc, fields)
                if missing is not None and not _required(spec, missing):
                    self.log.warning(
                        f"{spec.name}: the org has no field {missing}; pulled without it"
                    )
                    fields.remove(missing)
                    pulled.note = f"without {missing}"
                    continue
                if exc.code in OBJECT_ERRORS and not spec.required:
                    self.log.warning(f"{spec.name}: not in this org; skipped")
                    pulled.note = "not in this org"
                    return None
                raise PullError(f"{spec.name}: {exc}") from None
        job = {"id": str(created["id"]), "locator": None, "max_seen": state.get("high_water_mark")}
        state.update(fields=fields, job=job)
        self.landing.save()
        return job

    def _resumable(self, job_id: str, report: PullReport) -> bool:
        try:
            return self.api.job(job_id).get("state") not in FAILED
        except SalesforceError:
            return False

    def _wait(self, job_id: str, object_name: str, report: PullReport) -> None:
        started, pause = time.monotonic(), 0.25
        while True:
            info = self.api.job(job_id)
            state = info.get("state")
            if state == DONE:
                return
            if state in FAILED:
                message = info.get("errorMessage") or "no reason given"
                raise PullError(f"{object_name}: the query job ended {state}: {message}")
            if time.monotonic() - started > self.max_job_wait:
                raise PullError(
                    f"{object_name}: the query job did not finish in {self.max_job_wait:.0f}s"
                )
            self.sleep(pause)
            report.job_wait_seconds += pause
            pause = min(pause * 2, 15.0)

    def _land_pages(self, spec: ObjectSpec, state: dict, job: dict, pulled: ObjectPull) -> None:
        while True:
            page = self.api.results(job["id"], job["locator"], self.page_records)
            rows, newest = csv_rows(page.body, SYSTEM_MODSTAMP)
            seen = _later(job.get("max_seen"), newest)
            if page.next_locator is None:
                progress = {"job": None, "high_water_mark": seen}
            else:
                progress = {"job": {**job, "locator": page.next_locator, "max_seen": seen}}
            if rows:
                self.landing.land(spec.name, page.body, progress)
                pulled.parts += 1
                pulled.rows += rows
            else:
                state.update(progress)
                self.landing.save()
            if page.next_locator is None:
                pulled.high_water_mark = seen
                return
            job = progress["job"]


def _fields(spec: ObjectSpec) -> list[str]:
    names = [column.name for column in spec.columns]
    return names if SYSTEM_MODSTAMP in names else [*names, SYSTEM_MODSTAMP]


def _required(spec: ObjectSpec, field: str) -> bool:
    if field == SYSTEM_MODSTAMP:
        return True
    return (
        any(column.name == field and column.required for column in spec.columns)
        or field in spec.key
    )


def _missing_field(exc: SalesforceError, fields: list[str]) -> str | None:
    """The selected field an INVALIDFIELD error names (`No such column 'X' on entity …`)."""
    if exc.code not in FIELD_ERRORS:
        return None
    named = re.findall(r"'([A-Za-z0-9_]+)'", str(exc))
    return next((field for field in fields if field in named), None)


def _later(first: str | None, second: str | None) -> str | None:
    if first is None or second is None:
        return first or second
    return second if parse_instant(second) > parse_instant(first) else first
