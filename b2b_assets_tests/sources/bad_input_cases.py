"""Bad inputs, each with its expected outcome, and how a case is run.

Every case is one `Case`: the object it feeds, the file (generated text, a builder, or a
corpus file of `bad_inputs/` where the exact bytes matter) and what must happen:

* `Fails`: a clear error (`ExtractError`) whose message names the file and the column or row;
* `Loads`: the rows read, kept and quarantined (with their reason and row number) and the values
  of the kept rows. Every load must balance: rows read = rows kept + rows quarantined, in the
  result, in the tables and in `ops.row_accounting`.

The cases are in the `test_bad_*.py` files of this folder, by kind of problem; `check_case`
runs one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE, ObjectSpec
from b2b_assets.sources.publishing import load_object
from b2b_assets.sources.reader import ExtractError, ReadContext, ReadResult

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf18(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce id (independent of the product)."""
    assert len(id15) == 15
    return id15 + "".join(
        _CHECKSUM[sum(1 << i for i, ch in enumerate(id15[s : s + 5]) if "A" <= ch <= "Z")]
        for s in (0, 5, 10)
    )


# --------------------------------------------------------------------------------------------
# The expected outcomes
# --------------------------------------------------------------------------------------------

RowRef = int | tuple[str, int]  # a row of the only file, or (file name, row) across parts


@dataclass(frozen=True)
class Fails:
    """A clear error naming the file (`file`, relative to the object's folder) and `names`."""

    names: tuple[str, ...]
    file: str | None = None  # default: the file the case wrote
    error: type[Exception] = ExtractError


@dataclass(frozen=True)
class Loads:
    """Rows read/kept, the quarantined rows (row -> reason fragment), values of kept rows."""

    read: int
    kept: int
    quarantined: Mapping[RowRef, str] = field(default_factory=dict)
    values: Mapping[RowRef, Mapping[str, Any]] = field(default_factory=dict)
    record_contains: Mapping[RowRef, str] = field(default_factory=dict)


Content = str | bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: `content` is the text of `<folder>/<file>`, a corpus file name
    (`corpus:<name>`), or a builder writing into the object's folder."""

    id: str
    source_type: str
    obj: str
    content: Content
    expect: Fails | Loads
    file: str | None = None  # default: <obj>.csv
    instance: str | None = None  # default: crm_1 / marketo_1 / mdm / reference data

    @property
    def spec(self) -> ObjectSpec:
        if self.source_type == "reference":
            return FX_RATES
        return next(s for s in OBJECTS_BY_TYPE[self.source_type] if s.name == self.obj)

    @property
    def source_instance(self) -> str:
        if self.instance is not None:
            return self.instance
        return {"salesforce": "crm_1", "marketo": "marketo_1", "mdm": "mdm", "reference": ""}[
            self.source_type
        ]


def text(header: Sequence[str], *rows: Sequence[Any], newline: str = "\n") -> str:
    """A CSV document, quoted as RFC 4180 requires; `None` is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue()


def parquet(frame: dict[str, list[Any]], name: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        pl.DataFrame(frame).write_parquet(folder / name)

    return build


def parts(files: Mapping[str, str | bytes]) -> Callable[[Path], None]:
    """Several files (e.g. parts of an object folder), written in order."""

    def build(folder: Path) -> None:
        for name, content in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))

    return build


def ten_megabyte_name(folder: Path) -> None:
    big = "x" * (10 * 1024 * 1024)
    (folder / "Account.csv").write_text(
        text(["Id", "Name", "IsDeleted"], [A1, big, "false"], [A2, "After the big one", "false"])
    )


# Salesforce ids (15 characters) of the raw-level cases
A1, A2, A3, A4 = "0015g00000J1Uin", "0015g00000jgrcA", "0015g00000MBiin", "0015g00000Abcde"
C1, C2, C3 = "0035g00000FXhB9", "0035g000005YwVA", "0035g00000tWqnj"
O1, O2, O3, O4 = "0065g00000dR0Nx", "0065g00000ZJnmK", "0065g00000vcMOy", "0065g00000wpK5l"
OPP_HEADER = ["Id", "AccountId", "Amount", "IsClosed", "IsWon", "CloseDate", "CurrencyIsoCode"]
LEAD_HEADER = ["id", "email", "unsubscribed", "updatedAt"]
ACT_HEADER = ["marketoGUID", "leadId", "activityDate", "activityTypeId", "attributes"]
XREF_HEADER = ["golden_id", "source_instance", "source_record_id", "is_active", "updated_at"]
T0 = "2026-10-03T09:12:44Z"


def ts(text_: str) -> datetime:
    return datetime.fromisoformat(text_.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------


def write_case(case: Case, root: Path) -> tuple[Path, Path]:
    """Write the case's file(s); return the object's folder and the file written."""
    folder = root / "env" / ("landing/" + case.source_instance if case.source_instance else "")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (case.file or f"{case.obj}.csv")
    content = case.content
    if callable(content):
        content(folder)
    elif isinstance(content, str) and content.startswith("corpus:"):
        shutil.copyfile(CORPUS / content.removeprefix("corpus:"), target)
    else:
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder, target


def read_context(case: Case) -> ReadContext:
    return ReadContext(
        instance=case.source_instance,
        normalize_sf_ids=case.source_type == "salesforce" or case.source_instance == "marketo_1",
        currencies=("EUR", "GBP", "USD"),
        instances=("crm_1", "crm_2", "marketo_1", "mdm"),
        run_id="bad-inputs",
    )


def assert_balanced(con, case: Case, result: ReadResult) -> None:
    """rows read = kept + quarantined, in the result, the tables and ops.row_accounting."""
    assert result.rows_read == result.rows_kept + result.rows_quarantined
    (table_rows,) = con.execute(f"SELECT count(*) FROM {result.table}").fetchone()
    assert table_rows == result.rows_kept
    (quarantined,) = con.execute(
        "SELECT count(*) FROM raw.quarantine WHERE source_instance = $i AND object = $o",
        {"i": case.source_instance, "o": case.spec.name},
    ).fetchone()
    assert quarantined == result.rows_quarantined
    accounting = con.execute(
        """SELECT rows_read, rows_kept, rows_quarantined, reasons FROM ops.row_accounting
           WHERE source_instance = $i AND object = $o""",
        {"i": case.source_instance, "o": case.spec.name},
    ).fetchall()
    assert [row[:3] for row in accounting] == [
        (result.rows_read, result.rows_kept, result.rows_quarantined)
    ]
    assert sum(json.loads(accounting[0][3]).values()) == result.rows_quarantined


def row_ref(ref: RowRef, file_name: str) -> tuple[str, int]:
    return (ref[0], ref[1]) if isinstance(ref, tuple) else (file_name, ref)


def same_value(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-12)
    return got == want


def check_case(case: Case, con, tmp_path: Path) -> None:
    """Write the case's file(s), load them with `load_object` and check the expected outcome."""
    folder, target = write_case(case, tmp_path)
    context = read_context(case)
    expect = case.expect
    if isinstance(expect, Fails):
        with pytest.raises(expect.error) as error:
            load_object(con, folder, case.spec, context)
        message = str(error.value)
        named = folder / expect.file if expect.file else target
        assert str(named) in message, f"the error does not name the file {named}: {message}"
        for name in expect.names:
            assert name in message, f"the error does not name {name!r}: {message}"
        return

    result = load_object(con, folder, case.spec, context)
    assert_balanced(con, case, result)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (
        expect.read,
        expect.kept,
        len(expect.quarantined),
    )
    quarantine = {
        (Path(file_name).name, row): (reason, record)
        for file_name, row, reason, record in con.execute(
            "SELECT file_name, row_number, reason, record FROM raw.quarantine"
        ).fetchall()
    }
    wanted = {row_ref(ref, target.name): reason for ref, reason in expect.quarantined.items()}
    assert set(quarantine) == set(wanted), f"quarantined rows {sorted(quarantine)}"
    for ref, fragment in wanted.items():
        assert fragment in quarantine[ref][0], f"row {ref}: reason {quarantine[ref][0]!r}"
        assert quarantine[ref][1], f"row {ref}: the quarantined text is not kept"
    for ref, fragment in expect.record_contains.items():
        assert fragment in quarantine[row_ref(ref, target.name)][1]

    cursor = con.execute(f"SELECT * FROM {result.table}")
    names = [d[0] for d in cursor.description]
    kept = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        kept[(Path(row["_file_name"]).name, row["_row_number"])] = row
    assert len(kept) == expect.kept
    assert not set(kept) & set(quarantine), "a row is both kept and quarantined"
    for ref, columns in expect.values.items():
        row = kept[row_ref(ref, target.name)]
        for column, value in columns.items():
            assert same_value(row[column], value), (
                f"row {ref} {column}: {str(row[column])[:80]!r} != {str(value)[:80]!r}"
            )
