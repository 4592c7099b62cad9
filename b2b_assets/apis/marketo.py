"""One Marketo Engage instance's API: its token, its rate limit, and calls that are retried.

- Auth: OAuth client credentials from `GET {identity_endpoint}/oauth/token?...` (Marketo puts the
  client id and secret in that query string). The token is cached and renewed shortly before it
  expires (`expires_in`), and again when a call answers 601 (invalid) or 602 (expired) — that call is
  then retried once with the new token. Calls send the token only as `Authorization: Bearer`.
  The identity request is sent through the transport directly rather than `httpx.Client.send`, so
  httpx's request log line (which prints the full URL) never sees the secret.
- Limits: 100 calls per 20 s, enforced client-side by a blocking moving-window limiter shared by
  all clients of the same endpoint in this process; one request at a time per client (calls are
  serialised by a lock), so up to 10 clients stay within Marketo's 10 concurrent calls.
- Errors: Marketo answers most errors as HTTP 200 with `success: false`. 604, 606, 608, 615, HTTP 5xx
  (and 429), timeouts and connection errors are retried with exponential backoff; anything else
  raises the client's error type (`MarketoError` carries the code) at once. No message or log line
  carries a URL, token or secret.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from b2b_assets.apis.http import (
    ApiError,
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

logger = logging.getLogger(__name__)

RETRYABLE_CODES = frozenset({"604", "606", "608", "615"})
TOKEN_CODES = frozenset({"601", "602"})
# Bulk file downloads can be large: a longer read timeout than the JSON calls.
DOWNLOAD_TIMEOUT = 600.0


class MarketoError(ApiError):
    """Marketo refused a call for good; `code` is Marketo's error code (e.g. "1029")."""

    def __init__(self, message: str, code: str = "?") -> None:
        super().__init__(message)
        self.code = code


class MarketoApi:
    """Calls to one Marketo instance. See the module docstring."""

    def __init__(
        self,
        endpoint: str,
        identity_endpoint: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        retry: RetrySettings | None = None,
        rate_limit: tuple[int, int] = (100, 20),
        token_refresh_margin: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        error: type[ApiError] = ApiError,
    ) -> None:
        """
        endpoint: REST base, e.g. `https://123-ABC-456.mktorest.com` (`/rest/v1/…`, `/bulk/v1/…`).
        identity_endpoint: e.g. `https://123-ABC-456.mktorest.com/identity`.
        timeout: seconds per HTTP call (connect, read, write, pool).
        retry: attempts and backoff for transient failures.
        rate_limit: (calls, seconds) moving window; Marketo allows 100 per 20 s.
        token_refresh_margin: renew the token this many seconds before `expires_in` runs out.
        clock: monotonic seconds, for token expiry. sleep: used for retry backoff waits.
        transport: an httpx transport (tests may pass `httpx.MockTransport`).
        error: the exception type a call that fails for good raises (a subclass of ApiError).
        """
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.endpoint = check_endpoint(endpoint, name="endpoint")
        self.identity_endpoint = check_endpoint(identity_endpoint, name="identity_endpoint")
        self._client_id = client_id
        self._client_secret = client_secret
        self._retry = retry or RetrySettings()
        self._clock = clock
        self._sleep = sleep
        self._refresh_margin = token_refresh_margin
        self._transport = transport or httpx.HTTPTransport()
        self._http = httpx.Client(transport=self._transport, timeout=httpx.Timeout(timeout))
        self._limiter = BlockingRateLimiter(
            rate_limit[0], rate_limit[1], key=f"marketo:{self.endpoint}", logger=logger
        )
        self._error = error
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._backoff_seconds = 0.0
        self.closed = False
        self.stats: dict[str, int] = {"rest_calls": 0, "token_requests": 0, "retries": 0}

    @property
    def rate_limit_wait_seconds(self) -> float:
        """Time spent waiting on limits: the client's own rate limiter, and backing off after
        Marketo answered a limit (606, 615) or a transient error."""
        return self._limiter.waited_seconds + self._backoff_seconds

    def _backoff(self, seconds: float) -> None:
        self._backoff_seconds += seconds
        self._sleep(seconds)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._client_secret, self._token) if s)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        what: str,
        params: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        """One JSON call (`/rest/…` or `/bulk/…`) that answered `success: true`: rate limited,
        retried on transient errors, token renewed once. Raises the client's error otherwise,
        a MarketoError (with the code) for an error Marketo named."""
        return self._retried(lambda token: self._send(method, path, body, token, params), what)

    def download(self, path: str, *, what: str) -> bytes:
        """A file (a bulk export's `file.json`): its bytes, with the same limits and retries.
        Marketo answers errors here as JSON, which is raised like any call's."""
        return self._retried(lambda token: self._fetch(path, token), what)

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self._http.close()
                self.closed = True

    # -- internals --------------------------------------------------------------------------------

    def _retried(self, send, what: str):
        renewed = False

        def attempt():
            nonlocal renewed
            while True:
                token = self._access_token()
                data = send(token)
                if not isinstance(data, dict):
                    return data
                if data.get("success") is True:
                    return data
                code, message = first_error(data)
                if code in TOKEN_CODES:
                    self._drop_token(token)
                    if not renewed:
                        renewed = True
                        logger.info(
                            "%s: Marketo error %s %s; renewing the token", what, code, message
                        )
                        continue
                    raise self._failure(
                        f"{what}: Marketo error {code} {message} after renewing the token", code
                    )
                if code in RETRYABLE_CODES:
                    raise RetryableError(f"Marketo error {code} {message}")
                raise self._failure(f"{what}: Marketo error {code} {message}", code)

        def count_retry() -> None:
            self.stats["retries"] += 1

        with self._lock:
            if self.closed:
                raise RuntimeError("client is closed")
            return call_with_retries(
                attempt,
                settings=self._retry,
                sleep=self._backoff,
                logger=logger,
                what=what,
                secrets=self.secrets,
                on_retry=count_retry,
                error=self._error,
            )

    def _failure(self, message: str, code: str) -> ApiError:
        message = redact(message, self.secrets)
        if issubclass(self._error, MarketoError):
            return self._error(message, code)
        return self._error(message)

    def _request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        json: dict[str, Any] | None = None,
        params: list[tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        self._limiter.acquire()
        self.stats["rest_calls"] += 1
        try:
            response = self._http.request(
                method,
                self.endpoint + path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                **({"timeout": timeout} if timeout else {}),
            )
        except httpx.TransportError as exc:
            raise transport_failure(exc, self.secrets) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise self._failure(
                f"Marketo answered HTTP {response.status_code} on {method} {path}",
                f"HTTP {response.status_code}",
            )
        return response

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        token: str,
        params: list[tuple[str, str]] | None,
    ) -> dict[str, Any]:
        response = self._request(method, path, token, json=body, params=params)
        try:
            data = response.json()
        except ValueError:
            raise self._failure(
                f"Marketo answered {method} {path} with a body that is not JSON", "?"
            ) from None
        if not isinstance(data, dict):
            raise self._failure(
                f"Marketo answered {method} {path} with an unexpected JSON shape", "?"
            )
        return data

    def _fetch(self, path: str, token: str) -> bytes | dict[str, Any]:
        response = self._request("GET", path, token, timeout=DOWNLOAD_TIMEOUT)
        if "json" in response.headers.get("content-type", "").lower():
            try:
                data = response.json()
            except ValueError:
                return response.content
            if isinstance(data, dict) and "success" in data:
                return data  # an error answered as JSON; a CSV file is never a JSON object
        return response.content

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
            raise self._failure(
                f"Marketo identity call failed: HTTP {response.status_code}"
                + (f" ({error})" if isinstance(error, str) else ""),
                "?",
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


def first_error(data: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of the first error of a `success: false` answer."""
    errors = data.get("errors") or []
    if errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", "?")), str(errors[0].get("message", "")).strip()
    return "?", "success is not true and no error was given"
