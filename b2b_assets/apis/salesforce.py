"""One Salesforce org's Bulk API 2.0 query jobs, reached with the OAuth 2.0 client credentials flow.

- Auth: `POST {token_url}` (the org's My Domain) with `grant_type=client_credentials`, the client
  id and secret in the form body. A call answered 401 (`INVALID_SESSION_ID`: the session expired or
  was revoked) gets a new token and is sent once more.
- Jobs: `POST /services/data/vXX.X/jobs/query` creates one, `GET …/jobs/query/{id}` tells its state
  (`UploadComplete`, `InProgress`, `JobComplete`, `Failed`, `Aborted`), `GET …/results?locator=…`
  returns a page of CSV and the next page's locator in `Sforce-Locator` (`null` on the last page).
- Limits and errors: `REQUEST_LIMIT_EXCEEDED` (403), HTTP 429, 5xx, timeouts and connection errors
  are retried with exponential backoff (a Retry-After is honoured); any other error raises
  SalesforceError with Salesforce's error code at once. Nothing logged or raised carries a URL
  with credentials, a token or a secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from b2b_assets.apis.http import (
    ApiError,
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

LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "SERVER_UNAVAILABLE"})
SESSION_CODES = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"})


class SalesforceError(ApiError):
    """Salesforce refused a call for good; `code` is its `errorCode` (e.g. `INVALIDFIELD`)."""

    def __init__(self, message: str, code: str = "?") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ResultsPage:
    """One page of a query job's results: the CSV bytes, its record count, the next locator."""

    body: bytes
    records: int | None
    next_locator: str | None


class SalesforceApi:
    """Bulk API 2.0 query jobs of one org. See the module docstring."""

    def __init__(
        self,
        instance_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        api_version: str = "62.0",
        timeout: float = 60.0,
        retry: RetrySettings | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.instance_url = check_endpoint(instance_url, name="instance_url")
        self.token_url = check_endpoint(token_url, name="token_url")
        self.base = f"/services/data/v{api_version}/jobs/query"
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry = retry or RetrySettings()
        self._sleep = sleep
        self._http = httpx.Client(transport=transport or httpx.HTTPTransport(), timeout=timeout)
        self._token: str | None = None
        self.stats: dict[str, int] = {"api_calls": 0, "token_requests": 0, "retries": 0}
        self.limit_wait_seconds = 0.0

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._client_secret, self._token) if s)

    def create_query_job(self, soql: str, *, include_deleted: bool = True) -> dict[str, Any]:
        """A new query job (`queryAll`: deleted rows come with `IsDeleted` true)."""
        body = {
            "operation": "queryAll" if include_deleted else "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        return self._json("POST", self.base, body, what="Salesforce query job")

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"{self.base}/{job_id}", None, what="Salesforce query job status")

    def results(self, job_id: str, locator: str | None, max_records: int) -> ResultsPage:
        params = [("maxRecords", str(max_records))] + ([("locator", locator)] if locator else [])
        response = self._call(
            "GET", f"{self.base}/{job_id}/results", None, params, what="Salesforce query results"
        )
        next_locator = response.headers.get("Sforce-Locator")
        if next_locator is not None and next_locator.strip().lower() in ("", "null"):
            next_locator = None
        count = response.headers.get("Sforce-NumberOfRecords")
        return ResultsPage(
            response.content, int(count) if count and count.isdigit() else None, next_locator
        )

    def close(self) -> None:
        self._http.close()

    # -- internals --------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Any, *, what: str) -> dict[str, Any]:
        response = self._call(method, path, body, None, what=what)
        try:
            data = response.json()
        except ValueError:
            raise SalesforceError(f"{what}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise SalesforceError(f"{what}: unexpected answer")
        return data

    def _call(
        self,
        method: str,
        path: str,
        body: Any,
        params: list[tuple[str, str]] | None,
        *,
        what: str,
    ) -> httpx.Response:
        renewed = False

        def attempt() -> httpx.Response:
            nonlocal renewed
            while True:
                response = self._send(method, path, body, params)
                if response.status_code == 401 and not renewed:
                    renewed = True
                    self._token = None
                    logger.info("%s: the session expired; renewing the token", what)
                    continue
                return self._checked(response, what)

        def count_retry() -> None:
            self.stats["retries"] += 1

        return call_with_retries(
            attempt,
            settings=self._retry,
            sleep=self._timed_sleep,
            logger=logger,
            what=what,
            secrets=self.secrets,
            on_retry=count_retry,
            error=SalesforceError,
        )

    def _timed_sleep(self, seconds: float) -> None:
        self.limit_wait_seconds += seconds
        self._sleep(seconds)

    def _send(
        self, method: str, path: str, body: Any, params: list[tuple[str, str]] | None
    ) -> httpx.Response:
        token = self._token or self._fetch_token()
        self.stats["api_calls"] += 1
        try:
            return self._http.request(
                method,
                self.instance_url + path,
                json=body,
                params=params,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json, text/csv",
                },
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, self.secrets) from None

    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        status = response.status_code
        if status < 300:
            return response
        code, message = _error_of(response)
        if status == 429 or status >= 500 or code in LIMIT_CODES:
            raise RetryableError(
                f"HTTP {status} {code}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise SalesforceError(
            redact(f"{what}: HTTP {status} {code}: {message}", self.secrets), code
        )

    def _fetch_token(self) -> str:
        self.stats["token_requests"] += 1
        try:
            response = self._http.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, self.secrets) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"Salesforce token call answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        token = data.get("access_token") if isinstance(data, dict) else None
        if response.status_code != 200 or not token:
            error = data.get("error") if isinstance(data, dict) else None
            raise SalesforceError(
                redact(
                    f"Salesforce token call failed: HTTP {response.status_code}"
                    + (f" ({error})" if isinstance(error, str) else ""),
                    self.secrets,
                ),
                str(error or "?"),
            )
        self._token = str(token)
        return self._token


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(errorCode, message) of an error answer: a JSON list or object, or the bare status."""
    try:
        data = response.json()
    except ValueError:
        return "?", ""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        code = data.get("errorCode") or data.get("error") or "?"
        return str(code), str(data.get("message") or data.get("error_description") or "").strip()
    return "?", ""
