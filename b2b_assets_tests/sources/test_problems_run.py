"""Data problems: the demo with a misnamed file, unparsable amounts and bad ids, in one CLI
run: what it prints, its checks, `raw.quarantine` and the revenue of the good rows.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity

from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import load_sources
from b2b_assets_tests.conftest import DEMO_DATA, copy_demo
from b2b_assets_tests.scenario import sf18
from b2b_assets_tests.sources.data_problems import (
    AMOUNT_REASON,
    BASE64_ACCOUNT,
    ID_REASON,
    MISNAMED,
    CliRun,
    metadata_value,
    read_rows,
    run_cli,
)

TOWNSEND_1 = "0015g00000J1UinAAF"
# Rows appended to crm_1's Opportunity.csv (4 data rows in the demo): row number -> expected reason
BAD_ROWS = {5: AMOUNT_REASON, 6: AMOUNT_REASON, 7: AMOUNT_REASON, 8: ID_REASON}


BASE64_ROW_ID = "0065g00000B64ac"


def _won(id_: str, account: str, amount: str) -> dict[str, str]:
    return {
        "Id": id_,
        "AccountId": account,
        "Name": f"Deal {id_}",
        "Amount": amount,
        "StageName": "Closed Won",
        "IsClosed": "true",
        "IsWon": "true",
        "CloseDate": "2026-09-30",
        "CurrencyIsoCode": "USD",
        "IsDeleted": "false",
    }


def _append_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Append rows to a CSV, in its column order and with its line ending."""
    raw = path.read_bytes()
    newline = "\r\n" if raw.endswith(b"\r\n") else "\n"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])


@pytest.fixture(scope="module")
def problems_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("data_problems_cli")
    data_dir = copy_demo(root / "data")
    crm_2 = data_dir / "landing" / "crm_2"
    (crm_2 / "Opportunity.csv").rename(crm_2 / "Opportunities.csv")
    # Every bad row names Townsend's account: counted, it would change Townsend's revenue.
    _append_rows(
        data_dir / "landing" / "crm_1" / "Opportunity.csv",
        [
            _won("0065g00000Amt01", TOWNSEND_1, "$1,442,558.88"),
            _won("0065g00000Amt02", TOWNSEND_1, "1,651,993.36"),
            _won("0065g00000Amt03", TOWNSEND_1, "USD 1,124,741.15"),
            _won("0065g00000Amt04AA", TOWNSEND_1, "1000"),  # 17 characters
            _won(BASE64_ROW_ID, BASE64_ACCOUNT, "777"),
        ],
    )
    return run_cli(root, data_dir)


def test_problems_run_succeeds_with_a_short_output(problems_run: CliRun) -> None:
    assert problems_run.returncode == 0, problems_run.output[-3000:]
    assert problems_run.failures == {}
    assert len(problems_run.lines) < 60, problems_run.output
    assert "summary: 59 of 59 assets built" in problems_run.output, problems_run.output


def test_problems_run_names_the_misnamed_file_once_and_in_the_summary(
    problems_run: CliRun,
) -> None:
    before, summary = problems_run.split_at_summary()
    said = [line for line in before if MISNAMED in line]
    assert len(said) == 1, "\n".join(before)
    assert " WARNING " in said[0]
    summarized = [line for line in summary if MISNAMED in line]
    assert len(summarized) == 1, "\n".join(summary)
    assert " WARNING " in summarized[0]
    assert sum("Opportunities.csv" in line for line in problems_run.lines) == 2


def test_problems_run_warns_about_the_quarantine_in_the_summary(problems_run: CliRun) -> None:
    _, summary = problems_run.split_at_summary()
    (line,) = [line for line in summary if "quarantined raw/crm_1__opportunity" in line]
    assert " WARNING " in line
    assert f"{AMOUNT_REASON}: 3" in line and f"{ID_REASON}: 1" in line, line
    assert "read 9, kept 5, quarantined 4" in line, line
    (line,) = [line for line in summary if "malformed references raw/crm_1__opportunity" in line]
    assert " WARNING " in line and "AccountId 1" in line, line
    # Nothing else of the demo is quarantined or malformed.
    assert sum("quarantined raw/" in line for line in summary) == 1, "\n".join(summary)
    assert sum("malformed references raw/" in line for line in summary) == 1


def test_the_crm_2_landing_check_warns_about_the_misnamed_file(problems_run: CliRun) -> None:
    """One `landing_files` check per folder, on the source's first object; every raw asset of
    the source names the file in its metadata."""
    crm_2 = [f"raw/crm_2__{spec.table}" for spec in OBJECTS_BY_TYPE["salesforce"]]
    evaluation = problems_run.checks[(crm_2[0], "landing_files")]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert metadata_value(evaluation.metadata["unknown_files"]) == [MISNAMED]
    for asset in crm_2:
        assert problems_run.materializations[asset]["unknown_landing_files"] == [MISNAMED]
    landing_checks = [asset for asset, name in problems_run.checks if name == "landing_files"]
    assert sorted(landing_checks) == sorted(
        ["raw/fx_rates"]
        + [f"raw/{s}__{OBJECTS_BY_TYPE[t][0].table}" for s, t in DEMO_SOURCE_TYPES.items()]
    )
    others = [
        evaluation
        for (asset, name), evaluation in problems_run.checks.items()
        if name == "landing_files" and asset not in crm_2
    ]
    assert others and all(evaluation.passed for evaluation in others)


DEMO_SOURCE_TYPES = {
    "crm_1": "salesforce",
    "crm_2": "salesforce",
    "marketo_1": "marketo",
    "marketo_2": "marketo",
    "mdm": "mdm",
}


def _markdown_rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    header, body = split[0], split[2:]
    return [dict(zip(header, cells, strict=True)) for cells in body]


def test_quarantine_check_warns_with_examples_naming_file_and_rows(problems_run: CliRun) -> None:
    evaluation = problems_run.checks[("raw/crm_1__opportunity", "quarantine")]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    metadata = {name: metadata_value(value) for name, value in evaluation.metadata.items()}
    assert metadata["reasons"] == {AMOUNT_REASON: 3, ID_REASON: 1}
    assert metadata["malformed_references"] == {"AccountId": 1}
    assert metadata["rows_quarantined"] == 4
    examples = _markdown_rows(metadata["examples"])
    assert {(row["file"], int(row["row"])): row["reason"] for row in examples} == {
        ("Opportunity.csv", number): reason for number, reason in BAD_ROWS.items()
    }
    assert all(row["record"] for row in examples)
    # The other objects of the demo load cleanly.
    clean = [
        asset
        for (asset, name), evaluation in problems_run.checks.items()
        if name == "quarantine" and not evaluation.passed
    ]
    assert clean == ["raw/crm_1__opportunity"]


def test_quarantined_rows_are_in_raw_quarantine_with_their_reasons(problems_run: CliRun) -> None:
    rows = problems_run.query(
        """SELECT parse_filename(file_name), row_number, reason, record FROM raw.quarantine
           WHERE source_instance = 'crm_1' AND object = 'Opportunity'"""
    )
    assert {(file, number): reason for file, number, reason, _ in rows} == {
        ("Opportunity.csv", number): reason for number, reason in BAD_ROWS.items()
    }
    records = " ".join(record for *_, record in rows)
    for text in ("$1,442,558.88", "1,651,993.36", "USD 1,124,741.15", "0065g00000Amt04AA"):
        assert text in records


def test_row_with_a_base64_account_id_is_kept_and_counted(problems_run: CliRun) -> None:
    rows = problems_run.query(
        "SELECT id, account_id, amount FROM raw.crm_1__opportunity WHERE account_id = ?",
        [BASE64_ACCOUNT],
    )
    assert rows == [(sf18(BASE64_ROW_ID), BASE64_ACCOUNT, 777.0)]
    metadata = problems_run.materializations["raw/crm_1__opportunity"]
    assert metadata["malformed_references"] == {"AccountId": 1}
    assert (metadata["rows_read"], metadata["rows_kept"], metadata["rows_quarantined"]) == (9, 5, 4)


def _true(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1", "yes", "y", "t")


def _id18(text: str) -> str:
    text = text.strip()
    return sf18(text) if len(text) == 15 else text


def demo_closed_won_revenue(golden_id: str, unread: set[tuple[str, str]]) -> float:
    """The closed-won revenue (USD) of a golden account, from the demo's files alone, without
    the objects `unread` ((instance, object)): CRM opportunities of its member accounts, and
    the synced Marketo opportunities whose CRM record is not read, each counted once."""
    landing = DEMO_DATA / "landing"
    rates = {
        r["currency"].upper(): float(r["rate_to_usd"])
        for r in read_rows(DEMO_DATA / "fx_rates.csv")
    }
    members = {
        (row["source_instance"], _id18(row["source_record_id"]))
        for row in read_rows(landing / "mdm" / "account_xref.csv")
        if row["golden_id"] == golden_id and (row["is_active"] == "" or _true(row["is_active"]))
    }
    config = load_sources(DEMO_DATA / "sources.yaml")
    deals: dict[tuple[str, str], tuple[tuple[str, str], float, bool]] = {}
    for source in config.of_type("salesforce"):
        if (source.name, "Opportunity") in unread:
            continue
        for row in read_rows(landing / source.name / "Opportunity.csv"):
            if _true(row["IsDeleted"]):
                continue
            rate = rates[(row["CurrencyIsoCode"] or "USD").upper()]
            deals[(source.name, _id18(row["Id"]))] = (
                (source.name, _id18(row["AccountId"])),
                float(row["Amount"]) * rate,
                _true(row["IsClosed"]) and _true(row["IsWon"]),
            )
    for source in config.of_type("marketo"):
        crm = source.synced_crm
        for row in read_rows(landing / source.name / "opportunities.csv"):
            key = (crm, _id18(row["externalOpportunityId"]))
            deals.setdefault(
                key,
                (
                    (crm, _id18(row["externalCompanyId"])),
                    float(row["amount"]),
                    _true(row["isClosed"]) and _true(row["isWon"]),
                ),
            )
    return sum(amount for account, amount, won in deals.values() if won and account in members)


def test_revenue_of_the_good_rows_is_unchanged(problems_run: CliRun) -> None:
    expected = demo_closed_won_revenue("G-TOWNSEND", unread={("crm_2", "Opportunity")})
    assert expected > 0
    (revenue,) = problems_run.query(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-TOWNSEND'"
    )[0]
    assert revenue == pytest.approx(expected)
    # The audience of the demo still finds p2 (Townsend stays above $1M).
    assert problems_run.query("SELECT email FROM audience.new_product_upsell") == [
        ("p2@townsend.com",)
    ]
