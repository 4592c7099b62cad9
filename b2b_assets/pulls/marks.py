"""High-water marks from the rows themselves: the latest instant landed in a column, and the
records landed at that instant.

The next pull starts at that instant (inclusive) rather than at the end of the last window, so a
record the source dates after the last one landed comes even when its date lies before the last
pull ran (a late or back-dated activity). The records already landed at exactly that instant are
left out of the next file, so no row is landed twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from b2b_assets.pulls.report import parse_instant

NULLS = ("", "null", "NULL")


@dataclass
class Mark:
    """The latest instant of a column landed so far, and the keys of the records at it."""

    at: str | None = None
    keys: list[str] = field(default_factory=list)

    @property
    def instant(self) -> datetime | None:
        return parse_instant(self.at) if self.at else None

    def to_state(self) -> dict:
        return {"at": self.at, "keys": sorted(self.keys)}

    @classmethod
    def from_state(cls, value: dict | None) -> Mark:
        return cls(value.get("at"), list(value.get("keys") or [])) if value else cls()

    def take(self, value: str, key: str) -> None:
        instant = parse_instant(value)
        current = self.instant
        if current is None or instant > current:
            self.at, self.keys = value, [key]
        elif instant == current and key not in self.keys:
            self.keys.append(key)


@dataclass
class NewRows:
    """A file's rows without those landed before: the bytes to land, their count, and the
    marks moved by them."""

    body: bytes
    rows: int
    marks: dict[str, Mark]


def new_rows(body: bytes, key: str, marks: dict[str, Mark], skip_at: str | None = None) -> NewRows:
    """The rows of a CSV file that were not landed before, and each column's mark moved by them.

    `marks` maps the tracked columns to their marks so far; `skip_at` names the column whose
    mark's records are left out when they carry exactly that mark's instant."""
    text = body.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    moved = {column: Mark(mark.at, list(mark.keys)) for column, mark in marks.items()}
    if header is None:
        return NewRows(body, 0, moved)
    position = {name: index for index, name in enumerate(header)}
    skip = marks.get(skip_at) if skip_at else None
    skip_keys = set(skip.keys) if skip is not None and skip.at else set()
    kept: list[Sequence[str]] = []
    dropped = 0
    for row in reader:
        if not row:
            continue
        record_key = _value(row, position.get(key))
        if record_key in skip_keys and _same_instant(_value(row, position.get(skip_at)), skip):
            dropped += 1
            continue
        kept.append(row)
        for column, mark in moved.items():
            value = _value(row, position.get(column))
            if value not in NULLS and record_key is not None:
                mark.take(value, record_key)
    if dropped:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(kept)
        body = buffer.getvalue().encode("utf-8")
    return NewRows(body, len(kept), moved)


def _value(row: Sequence[str], index: int | None) -> str | None:
    return row[index] if index is not None and index < len(row) else None


def _same_instant(value: str | None, mark: Mark | None) -> bool:
    if value in NULLS or value is None or mark is None or mark.instant is None:
        return False
    return parse_instant(value) == mark.instant
