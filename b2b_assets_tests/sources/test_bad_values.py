"""Bad inputs: numbers and currencies, dates and booleans, MDM values.

One `Case` each, run by `check_case` (bad_input_cases.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from b2b_assets_tests.sources.bad_input_cases import (
    A1,
    A2,
    A3,
    A4,
    ACT_HEADER,
    O1,
    O2,
    O3,
    O4,
    OPP_HEADER,
    T0,
    XREF_HEADER,
    Case,
    Loads,
    check_case,
    text,
    ts,
)

CASES: list[Case] = [
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
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, con, tmp_path: Path) -> None:
    check_case(case, con, tmp_path)
