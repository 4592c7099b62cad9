"""Bad inputs: files and encodings, columns, malformed rows.

One `Case` each, run by `check_case` (bad_input_cases.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets_tests.sources.bad_input_cases import (
    A1,
    A2,
    C1,
    C3,
    O1,
    T0,
    Case,
    Fails,
    Loads,
    check_case,
    parquet,
    parts,
    sf18,
    ten_megabyte_name,
    text,
    ts,
)

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


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, con, tmp_path: Path) -> None:
    check_case(case, con, tmp_path)
