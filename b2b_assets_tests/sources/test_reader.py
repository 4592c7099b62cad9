"""The raw layer: `load_object` on a DuckDB connection, against the contract's reading rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE, ObjectSpec
from b2b_assets.sources.publishing import load_object
from b2b_assets.sources.reader import (
    FAST_MAX_LINE_BYTES,
    ExtractError,
    ReadContext,
    ReadResult,
)
from b2b_assets_tests.conftest import write_csv
from b2b_assets_tests.scenario import sf18


def spec_of(source_type: str, name: str) -> ObjectSpec:
    return next(spec for spec in OBJECTS_BY_TYPE[source_type] if spec.name == name)


ACCOUNT = spec_of("salesforce", "Account")
CONTACT = spec_of("salesforce", "Contact")
OPPORTUNITY = spec_of("salesforce", "Opportunity")
CAMPAIGN = spec_of("salesforce", "Campaign")
LEADS = spec_of("marketo", "leads")
ACTIVITIES = spec_of("marketo", "activities")
XREF = spec_of("mdm", "account_xref")

ACCOUNT_COLUMNS = [c.name for c in ACCOUNT.columns]
ID_A = "0015g00000J1Uin"
ID_B = "0015g00000jgrcA"
ID_C = "0015g00000MBiin"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "landing" / "crm_1"
    path.mkdir(parents=True)
    return path


def ctx(instance: str = "crm_1", normalize: bool = True, **kwargs) -> ReadContext:
    kwargs.setdefault("currencies", ("EUR", "USD"))
    kwargs.setdefault("instances", ("crm_1", "crm_2", "mdm"))
    return ReadContext(instance=instance, normalize_sf_ids=normalize, run_id="test-run", **kwargs)


def load(con, folder: Path, spec: ObjectSpec, context: ReadContext | None = None) -> ReadResult:
    """Load and check the accounting every load must satisfy."""
    context = context or ctx()
    result = load_object(con, folder, spec, context)
    assert result.rows_read == result.rows_kept + result.rows_quarantined
    table_rows = con.execute(f"SELECT count(*) FROM {result.table}").fetchall()[0][0]
    assert table_rows == result.rows_kept
    quarantined = con.execute(
        "SELECT count(*) FROM raw.quarantine WHERE source_instance = $i AND object = $o",
        {"i": context.instance, "o": spec.name},
    ).fetchall()[0][0]
    assert quarantined == result.rows_quarantined
    accounting = con.execute(
        """SELECT rows_read, rows_kept, rows_quarantined FROM ops.row_accounting
           WHERE source_instance = $i AND object = $o ORDER BY loaded_at DESC LIMIT 1""",
        {"i": context.instance, "o": spec.name},
    ).fetchall()
    assert accounting == [(result.rows_read, result.rows_kept, result.rows_quarantined)]
    return result


def rows(con, table: str, order: str = "_row_number") -> list[dict]:
    cursor = con.execute(f"SELECT * FROM {table} ORDER BY {order}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def quarantine(con, obj: str | None = None) -> list[dict]:
    where = f"WHERE object = '{obj}'" if obj else ""
    return rows(con, f"(SELECT * FROM raw.quarantine {where})", "file_name, row_number")


def account(id_: str = ID_A, **overrides) -> dict:
    row = {
        "Id": id_,
        "Name": "Townsend",
        "Website": "townsend.com",
        "Industry": "Manufacturing",
        "AnnualRevenue": "250000000",
        "NumberOfEmployees": "1200",
        "BillingCountry": "United States",
        "ParentId": "",
        "IsDeleted": "false",
        "LastModifiedDate": "2026-10-03T09:12:44Z",
    }
    row.update(overrides)
    return row


# --------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("is_won", ["IsWon", "iswon", "is_won", "IS_WON"])
def test_column_names_match_ignoring_case_and_underscores(con, folder, is_won):
    columns = ["id", "Account_Id", "NAME", "amount", "stage_name", "is_closed", is_won, "CloseDate"]
    write_csv(
        folder / "Opportunity.csv",
        [
            dict(
                zip(
                    columns,
                    [ID_A, ID_B, "Deal", "100", "Won", "true", "true", "2026-06-30"],
                    strict=True,
                )
            )
        ],
        columns,
    )
    result = load(con, folder, OPPORTUNITY)
    assert result.rows_kept == 1 and result.rows_quarantined == 0
    (row,) = rows(con, result.table)
    assert row["is_won"] is True
    assert row["is_closed"] is True
    assert row["name"] == "Deal"
    assert row["amount"] == 100.0
    assert row["id"] == sf18(ID_A)
    assert row["account_id"] == sf18(ID_B)


def test_extra_columns_ignored_and_any_column_order(con, folder):
    columns = ["Unexpected", *reversed(ACCOUNT_COLUMNS), "SystemModstamp"]
    data = account(sf18(ID_A), Unexpected="zzz", SystemModstamp="2026-01-01T00:00:00Z")
    write_csv(folder / "Account.csv", [data], columns)
    result = load(con, folder, ACCOUNT)
    (row,) = rows(con, result.table)
    assert row["id"] == sf18(ID_A)
    assert row["name"] == "Townsend"
    assert row["annual_revenue"] == 250000000.0
    assert row["number_of_employees"] == 1200
    assert row["last_modified_date"] == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)
    table_columns = [d[0] for d in con.execute(f"SELECT * FROM {result.table}").description]
    assert "unexpected" not in [c.lower() for c in table_columns]
    assert "system_modstamp" not in table_columns
    assert "systemmodstamp" not in [c.lower() for c in table_columns]


def test_optional_columns_may_be_absent(con, folder):
    write_csv(folder / "Account.csv", [{"Id": ID_A, "Name": "Townsend"}])
    result = load(con, folder, ACCOUNT)
    (row,) = rows(con, result.table)
    assert row["website"] is None
    assert row["is_deleted"] is False  # default
    assert row["last_modified_date"] is None


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "null", "NULL"])
def test_null_tokens(con, folder, token):
    write_csv(
        folder / "Account.csv",
        [
            account(
                Website=token, AnnualRevenue=token, NumberOfEmployees=token, LastModifiedDate=token
            )
        ],
    )
    result = load(con, folder, ACCOUNT)
    assert result.rows_quarantined == 0
    (row,) = rows(con, result.table)
    assert row["website"] is None
    assert row["annual_revenue"] is None
    assert row["number_of_employees"] is None
    assert row["last_modified_date"] is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("0", False),
    ],
)
def test_booleans_any_case(con, folder, text, value):
    write_csv(folder / "Account.csv", [account(IsDeleted=text)])
    result = load(con, folder, ACCOUNT)
    assert result.rows_quarantined == 0
    assert rows(con, result.table)[0]["is_deleted"] is value


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-03T09:12:44Z",
        "2026-10-03T09:12:44.000Z",
        "2026-10-03T09:12:44.000+0000",
        "2026-10-03T11:12:44+02:00",
        "2026-10-03T04:12:44-05:00",
        "2026-10-03T09:12:44",
    ],
)
def test_timestamps_with_z_offset_or_none_are_utc(con, folder, text):
    write_csv(folder / "Account.csv", [account(LastModifiedDate=text)])
    result = load(con, folder, ACCOUNT)
    assert result.rows_quarantined == 0
    value = rows(con, result.table)[0]["last_modified_date"]
    assert value == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)


def test_dates(con, folder):
    columns = ["Id", "Name", "StartDate", "EndDate"]
    write_csv(
        folder / "Campaign.csv",
        [{"Id": ID_A, "Name": "Webinar", "StartDate": "2026-10-22", "EndDate": "2026-12-31"}],
        columns,
    )
    result = load(con, folder, CAMPAIGN)
    (row,) = rows(con, result.table)
    assert row["start_date"] == date(2026, 10, 22)
    assert row["end_date"] == date(2026, 12, 31)


def test_salesforce_ids_15_and_18_characters_are_one_value(con, folder):
    write_csv(
        folder / "Contact.csv",
        [
            {"Id": "0035g00000FXhB9", "AccountId": sf18(ID_A), "Email": "a@x.com"},
            {"Id": sf18("0035g000005YwVA"), "AccountId": ID_A, "Email": "b@x.com"},
        ],
    )
    result = load(con, folder, CONTACT)
    got = rows(con, result.table)
    assert [r["id"] for r in got] == [sf18("0035g00000FXhB9"), sf18("0035g000005YwVA")]
    assert {r["account_id"] for r in got} == {sf18(ID_A)}


def test_marketo_ids_carrying_crm_ids_are_normalized(con, folder):
    write_csv(
        folder / "leads.csv",
        [
            {
                "id": "48211",
                "email": "a@x.com",
                "sfdcContactId": "0035g00000FXhB9",
                "sfdcAccountId": ID_A,
                "externalCompanyId": sf18(ID_A),
            }
        ],
    )
    result = load(con, folder, LEADS, ctx("marketo_1", normalize=True))
    (row,) = rows(con, result.table)
    assert row["id"] == "48211"
    assert row["sfdc_contact_id"] == sf18("0035g00000FXhB9")
    assert row["sfdc_account_id"] == sf18(ID_A)
    assert row["external_company_id"] == sf18(ID_A)


def test_same_record_in_15_and_18_char_form_is_a_duplicate(con, folder):
    write_csv(
        folder / "Account.csv",
        [
            account(ID_A, Name="Old name", LastModifiedDate="2026-01-01T00:00:00Z"),
            account(sf18(ID_A), Name="New name", LastModifiedDate="2026-10-01T00:00:00Z"),
        ],
    )
    result = load(con, folder, ACCOUNT)
    assert result.rows_kept == 1
    assert rows(con, result.table)[0]["name"] == "New name"
    (q,) = quarantine(con)
    assert q["row_number"] == 1
    assert "duplicate" in q["reason"]


def test_is_deleted_rows_are_kept_and_flagged(con, folder):
    write_csv(
        folder / "Account.csv",
        [account(ID_A, IsDeleted="false"), account(ID_B, Name="Gone", IsDeleted="true")],
    )
    result = load(con, folder, ACCOUNT)
    assert result.rows_kept == 2
    got = {r["name"]: r["is_deleted"] for r in rows(con, result.table)}
    assert got == {"Townsend": False, "Gone": True}


# --------------------------------------------------------------------------------------------
# Missing objects and columns
# --------------------------------------------------------------------------------------------


def test_missing_optional_object_is_an_empty_table(con, folder):
    result = load(con, folder, OPPORTUNITY)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (0, 0, 0)
    described = {d[0] for d in con.execute(f"SELECT * FROM {result.table}").description}
    assert {c.field for c in OPPORTUNITY.columns} <= described


def test_missing_optional_object_when_the_folder_does_not_exist(con, tmp_path):
    result = load(con, tmp_path / "no_such_folder", OPPORTUNITY)
    assert result.rows_kept == 0


def test_missing_required_object_is_an_error_naming_the_file(con, folder):
    with pytest.raises(ExtractError) as error:
        load_object(con, folder, ACCOUNT, ctx())
    message = str(error.value)
    assert str(folder) in message
    assert "Account" in message


def test_missing_required_column_is_an_error_naming_file_and_column(con, folder):
    path = write_csv(folder / "Contact.csv", [{"Id": ID_A, "AccountId": ID_B, "FirstName": "A"}])
    with pytest.raises(ExtractError) as error:
        load_object(con, folder, CONTACT, ctx())
    message = str(error.value)
    assert str(path) in message
    assert "Email" in message


def test_missing_required_column_in_one_part_names_that_part(con, folder):
    write_csv(folder / "Contact" / "part-1.csv", [{"Id": ID_A, "AccountId": ID_B, "Email": "a@x"}])
    bad = write_csv(folder / "Contact" / "part-2.csv", [{"Id": ID_B, "Email": "b@x"}])
    with pytest.raises(ExtractError) as error:
        load_object(con, folder, CONTACT, ctx())
    assert str(bad) in str(error.value)
    assert "AccountId" in str(error.value)


# --------------------------------------------------------------------------------------------
# Files: parts, parquet, encodings
# --------------------------------------------------------------------------------------------


def test_a_folder_of_parts_is_read_together(con, folder):
    write_csv(folder / "Account" / "part-0001.csv", [account(ID_A)])
    write_csv(folder / "Account" / "part-0002.csv", [account(ID_B, Name="Globex")])
    pl.DataFrame([account(ID_C, Name="Initech")]).write_parquet(
        folder / "Account" / "part-0003.parquet"
    )
    result = load(con, folder, ACCOUNT)
    assert len(result.files) == 3
    assert result.rows_kept == 3
    got = sorted(r["name"] for r in rows(con, result.table))
    assert got == ["Globex", "Initech", "Townsend"]


def test_csv_with_bom(con, folder):
    write_csv(folder / "Account.csv", [account(ID_A)], bom=True)
    assert (folder / "Account.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    result = load(con, folder, ACCOUNT)
    assert rows(con, result.table)[0]["id"] == sf18(ID_A)


def test_csv_with_crlf_line_endings(con, folder):
    write_csv(folder / "Account.csv", [account(ID_A), account(ID_B, Name="Globex")], newline="\r\n")
    assert b"\r\n" in (folder / "Account.csv").read_bytes()
    result = load(con, folder, ACCOUNT)
    got = rows(con, result.table)
    assert [r["name"] for r in got] == ["Townsend", "Globex"]
    assert got[1]["last_modified_date"] == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)
    assert not any(isinstance(v, str) and v.endswith("\r") for r in got for v in r.values())


def test_csv_with_quoted_newlines_and_quotes(con, folder):
    write_csv(
        folder / "Account.csv",
        [account(ID_A, Name='Town\nsend "Inc", Ltd'), account(ID_B, Name="Globex")],
    )
    result = load(con, folder, ACCOUNT)
    got = rows(con, result.table)
    assert [r["name"] for r in got] == ['Town\nsend "Inc", Ltd', "Globex"]
    assert [r["_row_number"] for r in got] == [1, 2]


def test_a_value_longer_than_the_fast_readers_line_limit_is_kept(con, folder):
    long_name = "x" * (FAST_MAX_LINE_BYTES + 1000)
    write_csv(
        folder / "Account.csv",
        [account(ID_A), account(ID_B, Name=long_name), account(ID_C, Name="Globex")],
    )
    result = load(con, folder, ACCOUNT)
    got = rows(con, result.table)
    assert [len(r["name"]) for r in got] == [len("Townsend"), len(long_name), len("Globex")]
    assert [r["_row_number"] for r in got] == [1, 2, 3]
    assert result.rows_quarantined == 0


def test_parquet_input_with_typed_columns(con, folder):
    frame = pl.DataFrame(
        {
            "Id": [ID_A, sf18(ID_B)],
            "Name": ["Townsend", "Globex"],
            "AnnualRevenue": [1.5, None],
            "NumberOfEmployees": [10, 20],
            "IsDeleted": [False, True],
            "LastModifiedDate": [
                datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC),
                datetime(2026, 10, 4, 0, 0, 0, tzinfo=UTC),
            ],
        }
    )
    frame.write_parquet(folder / "Account.parquet")
    result = load(con, folder, ACCOUNT)
    got = rows(con, result.table)
    assert [r["id"] for r in got] == [sf18(ID_A), sf18(ID_B)]
    assert [r["is_deleted"] for r in got] == [False, True]
    assert got[0]["annual_revenue"] == 1.5
    assert got[0]["number_of_employees"] == 10
    assert got[0]["last_modified_date"] == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)
    assert [r["_row_number"] for r in got] == [1, 2]


def test_parquet_input_with_snake_case_string_columns(con, folder):
    pl.DataFrame(
        {
            "id": [ID_A],
            "name": ["Townsend"],
            "is_deleted": ["TRUE"],
            "last_modified_date": ["2026-10-03T09:12:44Z"],
        }
    ).write_parquet(folder / "Account.parquet")
    result = load(con, folder, ACCOUNT)
    (row,) = rows(con, result.table)
    assert row["is_deleted"] is True
    assert row["last_modified_date"] == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "bad", "reason"),
    [
        ("IsDeleted", "maybe", "IsDeleted"),
        ("LastModifiedDate", "yesterday", "LastModifiedDate"),
        ("AnnualRevenue", "12abc", "AnnualRevenue"),
        ("NumberOfEmployees", "many", "NumberOfEmployees"),
        ("Id", "", "Id"),
    ],
    ids=["bad_boolean", "bad_timestamp", "bad_number", "bad_integer", "missing_key"],
)
def test_bad_values_are_quarantined_with_reason_and_row(con, folder, column, bad, reason):
    data = [account(ID_A), account(ID_B, Name="Globex"), account(ID_C, **{column: bad})]
    data.append(account("0015g00000Abcde", Name="Last"))
    write_csv(folder / "Account.csv", data)
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (4, 3, 1)
    (q,) = quarantine(con)
    assert q["row_number"] == 3
    assert reason in q["reason"]
    assert q["file_name"].endswith("Account.csv")
    assert q["source_instance"] == "crm_1" and q["object"] == "Account"
    assert json.loads(q["record"])  # the raw values are kept
    kept = [r["_row_number"] for r in rows(con, result.table)]
    assert kept == [1, 2, 4]


def test_unknown_currency_is_quarantined_not_counted_as_usd(con, folder):
    columns = ["Id", "AccountId", "Amount", "IsClosed", "IsWon", "CurrencyIsoCode"]
    write_csv(
        folder / "Opportunity.csv",
        [
            dict(
                zip(columns, ["0065g00000dR0Nx", ID_A, "100", "true", "true", "USD"], strict=True)
            ),
            dict(
                zip(columns, ["0065g00000dR0Ny", ID_A, "100", "true", "true", "eur"], strict=True)
            ),
            dict(
                zip(columns, ["0065g00000dR0Nz", ID_A, "100", "true", "true", "CHF"], strict=True)
            ),
            dict(zip(columns, ["0065g00000dR0Na", ID_A, "100", "true", "true", ""], strict=True)),
        ],
        columns,
    )
    result = load(con, folder, OPPORTUNITY, ctx(currencies=("EUR", "USD")))
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (4, 3, 1)
    (q,) = quarantine(con)
    assert q["row_number"] == 3
    assert "CurrencyIsoCode" in q["reason"]
    assert "CHF" in " ".join(q["problems"])


def test_mdm_row_for_an_unknown_source_instance_is_quarantined(con, tmp_path):
    folder = tmp_path / "landing" / "mdm"
    write_csv(
        folder / "account_xref.csv",
        [
            {"golden_id": "G-1", "source_instance": "crm_1", "source_record_id": ID_A},
            {"golden_id": "G-1", "source_instance": "crm_9", "source_record_id": ID_B},
        ],
    )
    result = load(con, folder, XREF, ctx("mdm", normalize=False, instances=("crm_1", "mdm")))
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (2, 1, 1)
    (q,) = quarantine(con)
    assert q["row_number"] == 2
    assert "source_instance" in q["reason"]
    assert rows(con, result.table)[0]["is_active"] is True  # default


def test_malformed_row_with_too_many_columns_is_quarantined(con, folder):
    header = ",".join(ACCOUNT_COLUMNS)
    good = f"{ID_A},Townsend,townsend.com,,,,,,false,2026-10-03T09:12:44Z"
    too_many = f"{ID_B},Globex,globex.com,,,,,,false,2026-10-03T09:12:44Z,extra,cells"
    last = f"{ID_C},Initech,initech.com,,,,,,false,2026-10-03T09:12:44Z"
    (folder / "Account.csv").write_text("\n".join([header, good, too_many, last]) + "\n")
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (3, 2, 1)
    (q,) = quarantine(con)
    assert q["row_number"] == 2
    assert "malformed" in q["reason"]
    assert [r["_row_number"] for r in rows(con, result.table)] == [1, 3]
    assert [r["name"] for r in rows(con, result.table)] == ["Townsend", "Initech"]


def test_malformed_row_after_a_quoted_newline_names_the_data_row(con, folder):
    """Row numbers count records, not lines: a quoted newline does not shift them."""
    header = ",".join(ACCOUNT_COLUMNS)
    multiline = f'{ID_A},"Town\nsend",townsend.com,,,,,,false,2026-10-03T09:12:44Z'
    too_many = f"{ID_B},Globex,globex.com,,,,,,false,2026-10-03T09:12:44Z,extra"
    last = f"{ID_C},Initech,initech.com,,,,,,false,2026-10-03T09:12:44Z"
    (folder / "Account.csv").write_text("\n".join([header, multiline, too_many, last]) + "\n")
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (3, 2, 1)
    (q,) = quarantine(con)
    assert q["row_number"] == 2
    assert [r["_row_number"] for r in rows(con, result.table)] == [1, 3]


def test_duplicate_keys_latest_last_modified_wins_loser_quarantined(con, folder):
    write_csv(
        folder / "Account.csv",
        [
            account(ID_A, Name="Middle", LastModifiedDate="2026-05-01T00:00:00Z"),
            account(ID_A, Name="Latest", LastModifiedDate="2026-10-01T00:00:00Z"),
            account(ID_B, Name="Globex"),
            account(ID_A, Name="Oldest", LastModifiedDate="2026-01-01T00:00:00Z"),
        ],
    )
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (4, 2, 2)
    names = {r["id"]: r["name"] for r in rows(con, result.table)}
    assert names == {sf18(ID_A): "Latest", sf18(ID_B): "Globex"}
    losers = quarantine(con)
    assert [q["row_number"] for q in losers] == [1, 4]
    assert all("duplicate" in q["reason"] for q in losers)
    assert "Oldest" in losers[1]["record"]


def test_duplicate_keys_across_parts_latest_wins(con, folder):
    write_csv(
        folder / "Account" / "2026-10-01.csv",
        [account(ID_A, Name="Newer", LastModifiedDate="2026-10-01T00:00:00Z")],
    )
    write_csv(
        folder / "Account" / "2026-10-02.csv",
        [account(ID_A, Name="Older", LastModifiedDate="2026-09-01T00:00:00+00:00")],
    )
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (2, 1, 1)
    assert rows(con, result.table)[0]["name"] == "Newer"
    (q,) = quarantine(con)
    assert q["file_name"].endswith("2026-10-02.csv") and q["row_number"] == 1


def test_several_problems_in_several_rows(con, folder):
    write_csv(
        folder / "Account.csv",
        [
            account(ID_A),
            account(ID_B, IsDeleted="perhaps", AnnualRevenue="lots"),
            account("", Name="No id"),
            account(ID_C, LastModifiedDate="2026-13-45T99:00:00Z"),
            account("0015g00000Abcde", Name="Fine"),
        ],
    )
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (5, 2, 3)
    got = {q["row_number"]: q for q in quarantine(con)}
    assert sorted(got) == [2, 3, 4]
    assert len(got[2]["problems"]) == 2
    assert "Id" in got[3]["reason"]
    assert "LastModifiedDate" in got[4]["reason"]


def test_reload_replaces_table_and_quarantine(con, folder):
    write_csv(folder / "Account.csv", [account(ID_A), account(ID_B, IsDeleted="bad")])
    load(con, folder, ACCOUNT)
    write_csv(folder / "Account.csv", [account(ID_A)])
    result = load(con, folder, ACCOUNT)
    assert result.rows_kept == 1
    assert quarantine(con) == []


def test_activities_of_an_unknown_lead_are_kept(con, tmp_path):
    folder = tmp_path / "landing" / "marketo_1"
    write_csv(
        folder / "activities.csv",
        [
            {
                "marketoGUID": "1",
                "leadId": "999",
                "activityDate": "2026-11-02T10:15:00Z",
                "activityTypeId": "1",
                "primaryAttributeValue": "page",
                "attributes": '{"Webpage URL": "/p"}',
            },
            {
                "marketoGUID": "2",
                "leadId": "1",
                "activityDate": "2026-11-02T10:15:00Z",
                "activityTypeId": "1",
                "attributes": "{not json",
            },
        ],
    )
    result = load(con, folder, ACTIVITIES, ctx("marketo_1"))
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (2, 1, 1)
    assert rows(con, result.table)[0]["lead_id"] == "999"
    assert "attributes" in quarantine(con)[0]["reason"]


def activity(guid: str, lead: str = "1", when: str = "2026-11-02T10:15:00Z") -> dict[str, str]:
    return {
        "marketoGUID": guid,
        "leadId": lead,
        "activityDate": when,
        "activityTypeId": "1",
        "primaryAttributeValue": "page",
    }


def files_read(con, instance: str = "marketo_1") -> list[tuple[str, int]]:
    """(file name, rows read) of every file the loads of the activities have recorded."""
    return [
        (Path(name).name, n)
        for name, n in con.execute(
            """SELECT file_name, rows_read FROM ops.loaded_files
               WHERE raw_table = $t ORDER BY file_name""",
            {"t": f"raw.{instance}__activities"},
        ).fetchall()
    ]


def test_new_activity_files_are_appended_without_reading_old_ones(con, tmp_path):
    folder = tmp_path / "landing" / "marketo_1"
    parts = folder / "activities"
    write_csv(parts / "part-001.csv", [activity("1"), activity("2")])
    first = load(con, folder, ACTIVITIES, ctx("marketo_1"))
    assert (first.mode, first.rows_read, first.rows_kept) == ("full", 2, 2)
    write_csv(parts / "part-002.csv", [activity("3"), {**activity("4"), "activityTypeId": "x"}])
    second = load(con, folder, ACTIVITIES, ctx("marketo_1"))
    assert second.mode == "append"
    assert [Path(f).name for f in second.files] == ["part-002.csv"]
    assert (second.rows_read, second.rows_kept, second.rows_quarantined) == (4, 3, 1)
    assert files_read(con) == [("part-001.csv", 2), ("part-002.csv", 2)]
    assert [r["marketo_guid"] for r in rows(con, second.table, "marketo_guid")] == ["1", "2", "3"]
    unchanged = load(con, folder, ACTIVITIES, ctx("marketo_1"))
    assert (unchanged.mode, unchanged.files, unchanged.rows_kept) == ("append", [], 3)


def test_an_activity_repeated_in_a_new_file_replaces_the_old_row(con, tmp_path):
    folder = tmp_path / "landing" / "marketo_1"
    parts = folder / "activities"
    write_csv(parts / "part-001.csv", [activity("1", lead="7"), activity("2")])
    load(con, folder, ACTIVITIES, ctx("marketo_1"))
    write_csv(parts / "part-002.csv", [activity("1", lead="8")])
    result = load(con, folder, ACTIVITIES, ctx("marketo_1"))
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (3, 2, 1)
    assert {r["marketo_guid"]: r["lead_id"] for r in rows(con, result.table)} == {
        "1": "8",
        "2": "1",
    }
    (loser,) = quarantine(con)
    assert (Path(loser["file_name"]).name, loser["row_number"]) == ("part-001.csv", 1)
    assert loser["reason"] == "duplicate key: a later row wins"


@pytest.mark.parametrize("change", ["rewrite", "remove", "rules"])
def test_a_changed_or_removed_activity_file_reads_everything_again(con, tmp_path, change):
    folder = tmp_path / "landing" / "marketo_1"
    parts = folder / "activities"
    write_csv(parts / "part-001.csv", [activity("1"), activity("2")])
    write_csv(parts / "part-002.csv", [activity("3")])
    load(con, folder, ACTIVITIES, ctx("marketo_1"))
    context = ctx("marketo_1")
    if change == "rewrite":
        write_csv(parts / "part-001.csv", [activity("1"), activity("2"), activity("5")])
        expected = ["1", "2", "3", "5"]
    elif change == "remove":
        (parts / "part-002.csv").unlink()
        expected = ["1", "2"]
    else:
        context = ctx("marketo_1", normalize=False)
        expected = ["1", "2", "3"]
    result = load(con, folder, ACTIVITIES, context)
    assert result.mode == "full"
    assert [r["marketo_guid"] for r in rows(con, result.table, "marketo_guid")] == expected
    assert sum(n for _, n in files_read(con)) == result.rows_read == len(expected)


def test_other_objects_are_always_read_in_full(con, folder):
    write_csv(folder / "Account.csv", [account(ID_A)])
    load(con, folder, ACCOUNT)
    write_csv(folder / "Account.csv", [account(ID_A), account(ID_B)])
    result = load(con, folder, ACCOUNT)
    assert (result.mode, result.rows_kept) == ("full", 2)


def test_fx_rates_reference_data(con, tmp_path):
    write_csv(
        tmp_path / "fx_rates.csv",
        [{"currency": "EUR", "rate_to_usd": "1.08"}, {"currency": "XXX", "rate_to_usd": "-1"}],
    )
    result = load(con, tmp_path, FX_RATES, ctx("", normalize=False))
    assert result.table == "raw.fx_rates"
    assert (result.rows_kept, result.rows_quarantined) == (1, 1)
    assert quarantine(con)[0]["row_number"] == 2


def test_malformed_rows_with_too_few_columns_and_in_a_later_part(con, folder):
    header = ",".join(ACCOUNT_COLUMNS)
    (folder / "Account").mkdir()
    (folder / "Account" / "a.csv").write_text(f"{header}\n{ID_A},A,,,,,,,false,\n")
    (folder / "Account" / "b.csv").write_text(
        f"{header}\n{ID_B},B,,,\n0015g00000Abcde,D,,,,,,,false,\n{ID_C},C,,,,,,,false,,x\n"
    )
    result = load(con, folder, ACCOUNT)
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (4, 2, 2)
    got = [(Path(q["file_name"]).name, q["row_number"]) for q in quarantine(con)]
    assert got == [("b.csv", 1), ("b.csv", 3)]
    kept = [
        (Path(r["_file_name"]).name, r["_row_number"], r["name"])
        for r in rows(con, result.table, "_file_name, _row_number")
    ]
    assert kept == [("a.csv", 1, "A"), ("b.csv", 2, "D")]
