"""What a pull did, object by object: the figures a pull asset shows in the UI."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from b2b_assets.apis.http import ApiError


class PullError(ApiError):
    """A pull cannot go on; what it landed before stays, and the next pull resumes from there."""


@dataclass
class ObjectPull:
    """One object's pull: rows fetched, parts landed, its high-water mark, API calls made."""

    name: str
    rows: int = 0
    parts: int = 0
    high_water_mark: str | None = None
    api_calls: int = 0
    note: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "object": self.name,
            "rows": self.rows,
            "parts": self.parts,
            "high_water_mark": self.high_water_mark,
            "api_calls": self.api_calls,
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class PullReport:
    """A source's pull: each object's figures, and the time spent waiting on the API's limits
    (rate limits and backoff) and on its jobs."""

    source: str
    objects: list[ObjectPull] = field(default_factory=list)
    limit_wait_seconds: float = 0.0
    job_wait_seconds: float = 0.0
    token_requests: int = 0

    def start(self, name: str) -> ObjectPull:
        pulled = ObjectPull(name)
        self.objects.append(pulled)
        return pulled

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def api_calls(self) -> int:
        return sum(o.api_calls for o in self.objects)


def csv_rows(body: bytes, column: str | None = None) -> tuple[int, str | None]:
    """(data rows of a CSV body, the largest value of `column` if given); values of `column` are
    ISO-8601 instants and compare as such."""
    reader = csv.reader(io.StringIO(body.decode("utf-8-sig", errors="replace"), newline=""))
    header = next(reader, None)
    if header is None:
        return 0, None
    position = header.index(column) if column is not None and column in header else None
    rows, largest, largest_at = 0, None, None
    for row in reader:
        if not row:
            continue
        rows += 1
        if position is None or position >= len(row) or row[position] in ("", "null"):
            continue
        instant = parse_instant(row[position])
        if largest_at is None or instant > largest_at:
            largest, largest_at = row[position], instant
    return rows, largest


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant as Salesforce and Marketo write them (`Z`, `+0000` or `+00:00`)."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    return datetime.fromisoformat(value)
