"""Rendering objects as CSV or Parquet extracts, with optional injected bad rows."""

from __future__ import annotations

import csv
import io
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .rng import Rng
from .schema import (
    EXTRA_COLUMN,
    IMPOSSIBLE_DATE,
    MISSING_KEY,
    NON_NUMERIC_AMOUNT,
    TS,
    UNPARSEABLE_BOOLEAN,
    B,
    D,
    F,
    I,
    ObjectDef,
    bad_kinds,
)


@dataclass(frozen=True)
class Style:
    """How one instance's extracts spell values (all within the contract's reading rules)."""

    true: str = "true"
    false: str = "false"
    null: str = ""
    ts_format: str = "%Y-%m-%dT%H:%M:%SZ"
    bom: bool = False
    line_terminator: str = "\n"


STYLES = {
    "crm_1": Style(),
    # another loader: capitalized booleans, offsets with milliseconds, BOM and CRLF lines
    "crm_2": Style(
        true="True",
        false="False",
        ts_format="%Y-%m-%dT%H:%M:%S.000+00:00",
        bom=True,
        line_terminator="\r\n",
    ),
    "marketo_1": Style(),
    "marketo_2": Style(),
    "mdm": Style(true="1", false="0"),
}
# Marketo bulk extracts may write an empty field as `null`.
NULL_TEXT_OBJECTS = {"leads"}

BAD_BOOLEANS = ["maybe", "unknown", "tru", "flase", "Y/N"]
BAD_DATES = ["2026-02-30", "2026-13-05", "2025-04-31", "0000-00-00"]
BAD_TIMESTAMPS = [
    "2026-02-30T10:00:00Z",
    "2026-13-01T08:15:00Z",
    "2026-04-31T25:61:00Z",
    "2025-00-10T12:00:00Z",
]
BAD_AMOUNTS = ["N/A", "$45,000", "twelve thousand", "1.2.3", "--"]
EXTRA_VALUE = "unexpected_extra_value"


def style_for(instance: str, obj: ObjectDef) -> Style:
    base = STYLES.get(instance, Style())
    if obj.name in NULL_TEXT_OBJECTS:
        return Style(base.true, base.false, "null", base.ts_format, base.bom, base.line_terminator)
    return base


def render(df: pl.DataFrame, obj: ObjectDef, style: Style) -> pl.DataFrame:
    """Every column of `obj` as text, the way the instance writes it (nulls stay null)."""
    exprs = []
    for name, kind in obj.columns:
        c = pl.col(name)
        if kind == B:
            e = (
                pl.when(c.is_null())
                .then(None)
                .when(c)
                .then(pl.lit(style.true))
                .otherwise(pl.lit(style.false))
            )
        elif kind == TS:
            e = c.dt.strftime(style.ts_format)
        elif kind == D:
            e = c.dt.strftime("%Y-%m-%d")
        elif kind == F:
            e = (
                pl.when(c == c.round(0))
                .then(c.cast(pl.Int64).cast(pl.String))
                .otherwise(c.round(2).cast(pl.String))
            )
        elif kind == I:
            e = c.cast(pl.String)
        else:
            e = c
        exprs.append(e.cast(pl.String).alias(name))
    return df.select(exprs)


def csv_line(values: list[str | None], null: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([null if v is None else v for v in values])
    return buffer.getvalue()


@dataclass
class Progress:
    t0: float = field(default_factory=time.perf_counter)
    quiet: bool = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, message: str) -> None:
        if not self.quiet:
            print(f"[{self.elapsed():7.1f}s] {message}", flush=True)


@dataclass
class Writer:
    """Writes objects below `<out>/landing/<instance>/` and keeps the counts for expected.json."""

    out: Path
    fmt: str
    bad_fraction: float
    seed: int
    progress: Progress
    row_counts: dict[str, int] = field(default_factory=dict)
    good_counts: dict[str, int] = field(default_factory=dict)
    bad_rows: dict[str, dict] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)

    def path(self, instance: str, obj: ObjectDef, part: int | None) -> Path:
        folder = self.out / "landing" / instance
        if part is None:
            return folder / f"{obj.name}.{self.fmt}"
        return folder / obj.name / f"part-{part:04d}.{self.fmt}"

    def write(
        self,
        instance: str,
        obj: ObjectDef,
        df: pl.DataFrame,
        *,
        background: pl.Series | None = None,
        fresh_keys: Callable[[int], list] | None = None,
        part: int | None = None,
        n_bad: int | None = None,
    ) -> int:
        """Write `df` (typed columns of `obj`, plus ignored `_` columns). Bad rows are copies of
        rows where `background` is true (never planted ones), with a fresh key from
        `fresh_keys(n)` and one defect each."""
        label = f"{instance}/{obj.name}"
        path = self.path(instance, obj, part)
        path.parent.mkdir(parents=True, exist_ok=True)
        style = style_for(instance, obj)
        good = df.select(obj.names)
        n_good = good.height
        if n_bad is None:
            n_bad = self.bad_count(n_good)
        pool = (
            pl.int_range(n_good, eager=True)
            if background is None
            else pl.int_range(n_good, eager=True).filter(background)
        )
        if pool.len() == 0:
            n_bad = 0
        kinds_used: Counter = Counter()
        extra_lines: dict[str, str] = {}
        if n_bad == 0 and self.fmt == "parquet":
            good.write_parquet(path)
        elif n_bad == 0:
            render(good, obj, style).write_csv(
                path,
                include_bom=style.bom,
                null_value=style.null,
                line_terminator=style.line_terminator,
            )
        else:
            rng = Rng(self.seed, "bad-rows", label, part if part is not None else "")
            text_frame = render(good, obj, style)
            bad, kinds_used, extra_lines = self._bad_rows(
                obj, text_frame, pool, n_bad, rng, fresh_keys, style
            )
            positions = rng.integers(n_bad, 0, n_good + 1)
            merged = pl.concat(
                [
                    text_frame.with_columns(
                        _pos=pl.int_range(n_good, dtype=pl.Int64), _bad=pl.lit(1, pl.Int8)
                    ),
                    bad.with_columns(_pos=positions, _bad=pl.lit(0, pl.Int8)),
                ]
            ).sort(["_pos", "_bad"], maintain_order=True)
            merged = merged.drop("_pos", "_bad")
            if self.fmt == "parquet":
                merged.write_parquet(path)
            else:
                text = merged.write_csv(
                    None, null_value=style.null, line_terminator=style.line_terminator
                )
                text = _replace_marker_lines(text, extra_lines, style.line_terminator)
                with path.open("w", encoding="utf-8", newline="") as handle:
                    if style.bom:
                        handle.write("\ufeff")
                    handle.write(text)
        total = n_good + n_bad
        self.row_counts[label] = self.row_counts.get(label, 0) + total
        self.good_counts[label] = self.good_counts.get(label, 0) + n_good
        self.files.setdefault(label, []).append(str(path.relative_to(self.out)))
        if self.bad_fraction > 0:
            entry = self.bad_rows.setdefault(label, {"total": 0, "kinds": {}})
            entry["total"] += n_bad
            for kind, n in kinds_used.items():
                entry["kinds"][kind] = entry["kinds"].get(kind, 0) + n
        if part is None:
            self.progress.log(f"{label}: {total:,} rows" + (f" ({n_bad:,} bad)" if n_bad else ""))
        return total

    def bad_count(self, n_good: int) -> int:
        if self.bad_fraction <= 0 or n_good == 0:
            return 0
        return max(1, round(self.bad_fraction * n_good))

    def _bad_rows(self, obj, text_frame, pool, n_bad, rng, fresh_keys, style):
        sources = pool.gather(rng.integers(n_bad, 0, pool.len()))
        rows = text_frame[sources].to_dicts()
        kinds = bad_kinds(obj, self.fmt)
        start = rng.py.randrange(len(kinds))
        keys = fresh_keys(n_bad) if (fresh_keys is not None and obj.fresh_key) else None
        bools = obj.of_type(B)
        dates = obj.of_type(D)
        stamps = obj.of_type(TS) + (["activityDate"] if obj.name == "activities" else [])
        used: Counter = Counter()
        extra_lines: dict[str, str] = {}
        pick = rng.py
        for j, row in enumerate(rows):
            if keys is not None:
                row[obj.key] = None if keys[j] is None else str(keys[j])
            kind = kinds[(start + j) % len(kinds)]
            used[kind] += 1
            if kind == MISSING_KEY:
                row[obj.key] = None
            elif kind == UNPARSEABLE_BOOLEAN:
                row[pick.choice(bools)] = pick.choice(BAD_BOOLEANS)
            elif kind == IMPOSSIBLE_DATE:
                column = pick.choice(dates + stamps)
                row[column] = pick.choice(BAD_DATES if column in dates else BAD_TIMESTAMPS)
            elif kind == NON_NUMERIC_AMOUNT:
                row[pick.choice(list(obj.amount_columns))] = pick.choice(BAD_AMOUNTS)
            elif kind == EXTRA_COLUMN:
                marker = f"__synth_extra_column_row_{j}__"
                values = [row[c] for c in obj.names] + [EXTRA_VALUE]
                extra_lines[marker] = csv_line(values, style.null)
                row[obj.key] = marker
        bad = pl.DataFrame(rows, schema={c: pl.String for c in obj.names})
        return bad, used, extra_lines


_MARKER = re.compile(r"__synth_extra_column_row_\d+__")


def _replace_marker_lines(text: str, lines: dict[str, str], terminator: str) -> str:
    """Swap each marker row for its malformed line (one extra field), in one pass."""
    if not lines:
        return text
    pieces, cursor, seen = [], 0, 0
    for match in _MARKER.finditer(text):
        begin = text.rfind("\n", 0, match.start()) + 1
        end = text.find(terminator, match.end())
        pieces.append(text[cursor:begin])
        pieces.append(lines[match.group(0)])
        cursor = end
        seen += 1
    if seen != len(lines):
        raise RuntimeError(f"{len(lines) - seen} malformed rows not written")
    pieces.append(text[cursor:])
    return "".join(pieces)
