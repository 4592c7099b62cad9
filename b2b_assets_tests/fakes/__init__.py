"""Small real HTTP servers standing in for destination APIs in tests.

Each fake is a stdlib `ThreadingHTTPServer` on 127.0.0.1 (port 0) served from a background thread.
It records every request (method, path, query, headers without Authorization, body, and its answer)
and can be told to fail the next N requests in a given way (`inject`). Subclasses implement `route`.

An `Answer` is JSON unless it names a `content_type`: then its body (text or bytes) is sent as is,
e.g. a CSV file with its own headers. A 204 answer has no body.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JSON = dict[str, Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names; Authorization is never recorded
    raw_body: str
    body: Any  # parsed JSON, or None
    status: int | None = None  # filled in when answered
    response: Any = None


@dataclass
class Injection:
    kind: str
    remaining: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    body: Any  # JSON-able, or text/bytes when content_type is set
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # None: body is sent as application/json

    def payload(self) -> tuple[bytes, str]:
        """The bytes to send and their Content-Type."""
        if self.status in (204, 304):
            return b"", self.content_type or "application/json"
        if self.content_type is None:
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, bytes):
            return self.body, self.content_type
        return ("" if self.body is None else str(self.body)).encode("utf-8"), self.content_type


class FakeServer:
    """Base: lifecycle, recording, failure injection, in-flight counting."""

    max_body_bytes = 1_000_000

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self._injections: deque[Injection] = deque()
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- failure injection ------------------------------------------------------------------------

    def inject(self, kind: str | int, times: int = 1, **options: Any) -> None:
        """Fail the next `times` eligible requests with `kind` (see the subclass for kinds);
        `"slow"` answers normally after `delay` seconds (default 1.0). With `path="/prefix"` only
        requests whose path starts with it are taken (others pass by the injection)."""
        with self.lock:
            self._injections.append(Injection(str(kind), times, options))

    def clear_injections(self) -> None:
        with self.lock:
            self._injections.clear()

    def take_injection(self, request: RecordedRequest | None = None) -> Injection | None:
        with self.lock:
            while self._injections and self._injections[0].remaining <= 0:
                self._injections.popleft()
            for pending in self._injections:
                if pending.remaining <= 0:
                    continue
                prefix = pending.options.get("path")
                if prefix is not None and (request is None or not request.path.startswith(prefix)):
                    continue
                pending.remaining -= 1
                return Injection(pending.kind, 1, pending.options)
            return None

    # -- queries for tests ------------------------------------------------------------------------

    def count(self, path_prefix: str = "/", method: str | None = None) -> int:
        """How many requests were made to paths starting with `path_prefix` (any or one method)."""
        return len(self.requests_to(path_prefix, method))

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    # -- dispatch ---------------------------------------------------------------------------------

    def route(
        self, request: RecordedRequest, authorization: str | None, injection: Injection | None
    ) -> Answer:
        raise NotImplementedError

    def eligible_for_injection(self, request: RecordedRequest) -> bool:
        return True

    def dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items() if k.lower() != "authorization"}
        record = RecordedRequest(
            handler.command, parts.path, parse_qs(parts.query), headers, text, body
        )
        with self.lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        try:
            injection = self.take_injection(record) if self.eligible_for_injection(record) else None
            if injection is not None and injection.kind == "slow":
                time.sleep(float(injection.options.get("delay", 1.0)))
                injection = None
            if length > self.max_body_bytes:
                answer = Answer(413, {"message": "Request entity too large"})
            else:
                answer = self.route(record, handler.headers.get("Authorization"), injection)
            record.status, record.response = answer.status, answer.body
            payload, content_type = answer.payload()
            handler.send_response(answer.status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout); nothing to answer
        finally:
            with self.lock:
                self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: do not wait for an ACK

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self.fake.dispatch(self)

    def do_POST(self) -> None:  # noqa: N802
        self.fake.dispatch(self)

    def do_DELETE(self) -> None:  # noqa: N802
        self.fake.dispatch(self)

    def do_PATCH(self) -> None:  # noqa: N802
        self.fake.dispatch(self)

    def do_PUT(self) -> None:  # noqa: N802
        self.fake.dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output quiet (and never print a query string)


class FakeClockMixin:
    """A fake's clock, which tests move on (`advance`, `set_clock`) but never back; the class
    it is mixed into sets `self._clock` (aware) and has `self.lock`."""

    _clock: datetime
    lock: threading.RLock

    def now(self) -> datetime:
        with self.lock:
            return self._clock

    def advance(self, seconds: float = 1.0) -> datetime:
        with self.lock:
            self._clock += timedelta(seconds=seconds)
            return self._clock

    def set_clock(self, when: datetime) -> None:
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        with self.lock:
            if when < self._clock:
                raise ValueError("the fake's clock never goes back")
            self._clock = when


def parse_instant(text: str) -> datetime:
    """An ISO-8601 timestamp (`Z`, an offset, or none: UTC), as the APIs' filters take them."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
