"""Shared plumbing for the HTTP clients of the sources and destinations: retry policy (tenacity), a blocking moving-window
rate limiter (limits), Retry-After parsing, and secret redaction for messages.

Nothing here logs or formats a URL, a header or a body: callers build their own messages from values
they know to be safe, and pass them through `redact` as a second line of defence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

T = TypeVar("T")

Sleep = Callable[[float], None]
Clock = Callable[[], float]

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class RetrySettings:
    """How often and how patiently a call is retried.

    Waits grow as `backoff_initial * 2**(n-1) + uniform(0, backoff_jitter)`, capped at `backoff_max`;
    a server's Retry-After (capped at `max_retry_after`) replaces the computed wait when present.
    `attempts` counts the first try. Tests pass tiny values (or a recording `sleep`) to stay fast.
    """

    attempts: int = 6
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 1.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.backoff_initial, self.backoff_max, self.backoff_jitter) < 0:
            raise ValueError("backoff values must not be negative")


class ApiError(RuntimeError):
    """A call to a vendor's API failed for good. The message is safe to show (no URL, header,
    token or secret)."""


class RetryableError(Exception):
    """A transient failure: the call may be tried again after a wait.

    The message must be safe to show (no URL, header, token or secret)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _WaitRetryAfterOrBackoff:
    """tenacity wait strategy: the server's Retry-After if it gave one, exponential backoff otherwise."""

    def __init__(self, settings: RetrySettings) -> None:
        self._settings = settings
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial,
            max=settings.backoff_max,
            jitter=settings.backoff_jitter,
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return max(0.0, min(exc.retry_after, self._settings.max_retry_after))
        return self._backoff(retry_state)


def call_with_retries(
    fn: Callable[[], T],
    *,
    settings: RetrySettings,
    sleep: Sleep,
    logger: logging.Logger,
    what: str,
    secrets: Iterable[str] = (),
    on_retry: Callable[[], None] | None = None,
    error: type[ApiError] = ApiError,
) -> T:
    """Run `fn`, retrying on RetryableError with backoff; other exceptions propagate at once.

    When the attempts are used up, raises `error` naming `what` and the last failure.
    """
    secrets = tuple(secrets)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry()
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s: %s; retrying in %.3fs (attempt %d of %d)",
            what,
            redact(str(exc), secrets),
            wait,
            state.attempt_number + 1,
            settings.attempts,
        )

    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts),
        wait=_WaitRetryAfterOrBackoff(settings),
        retry=retry_if_exception_type(RetryableError),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    try:
        return retrying(fn)
    except RetryableError as exc:
        raise error(
            redact(f"{what} failed after {settings.attempts} attempt(s): {exc}", secrets)
        ) from exc


def transport_failure(exc: httpx.TransportError, secrets: Iterable[str] = ()) -> RetryableError:
    """A retryable error for a timeout or connection failure, with a message free of URLs/secrets."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    detail = redact(str(exc), secrets)
    return RetryableError(f"{kind} ({type(exc).__name__}{': ' + detail if detail else ''})")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each (non-trivial) secret in `text` by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def check_endpoint(url: str, *, name: str = "endpoint") -> str:
    """Normalise a base URL; require https except for loopback hosts (local fakes and tunnels)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"{name} must use https (plain http is only allowed for loopback hosts)")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not carry a query string or fragment")
    return url.rstrip("/")


# ------------------------------------------------------------------------------------------------
# Rate limiting
# ------------------------------------------------------------------------------------------------

_shared_storage: MemoryStorage | None = None
_shared_storage_lock = threading.Lock()


def _storage() -> MemoryStorage:
    global _shared_storage
    with _shared_storage_lock:
        if _shared_storage is None:
            _shared_storage = MemoryStorage()
        return _shared_storage


class BlockingRateLimiter:
    """At most `amount` calls in any moving window of `per_seconds`; `acquire()` blocks until allowed.

    Limiters with the same `key` and limit share one in-process window (a module-level `limits`
    MemoryStorage), so several clients of one Marketo instance in a process stay within its limit
    together. The window is measured on wall-clock time (that is how `limits` keeps it), so the waits
    here use `time.sleep`, not an injected sleep.
    """

    def __init__(
        self,
        amount: int,
        per_seconds: int,
        *,
        key: str,
        storage: MemoryStorage | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if amount < 1 or per_seconds < 1:
            raise ValueError("rate limit amount and window must be positive")
        self.amount = amount
        self.per_seconds = per_seconds
        self._item = RateLimitItemPerSecond(amount, per_seconds)
        self._limiter = MovingWindowRateLimiter(storage if storage is not None else _storage())
        self._key = key
        self._logger = logger or logging.getLogger(__name__)
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        while not self._limiter.hit(self._item, self._key):
            stats = self._limiter.get_window_stats(self._item, self._key)
            wait = max(stats.reset_time - time.time(), 0.005)
            self._logger.debug(
                "rate limit %d per %ds reached; waiting %.3fs", self.amount, self.per_seconds, wait
            )
            time.sleep(wait)
            self.waited_seconds += wait
