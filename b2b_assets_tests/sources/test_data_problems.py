"""Data problems a person must be told about, and how far each one reaches.

* misnamed landing files: the object they probably mean (`landing_names`), the non-blocking
  `landing_files` check, one warning per run;
* quarantined rows and malformed Salesforce references: the `quarantine` check (WARN), its
  examples, `raw.quarantine`, the run's summary; above `max_quarantined` (ERROR) the load is not
  published and nothing below it is built;
* a structural problem (a required column missing in several files): one failure naming every
  file, and nothing below it built;
* the shapes of Salesforce ids at the reader.

The CLI scenarios run `dagster asset materialize` once each (module-scoped) and read what the run
printed, its Dagster instance's event log and its warehouse.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetSelection, DagsterInstance

from b2b_assets.settings import INSTANCE_YAML
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfigError, load_sources
from b2b_assets.sources.landing_names import (
    is_temporary,
    suggest_object,
    unknown_landing_entries,
    unknown_object_note,
)
from b2b_assets.sources.reader import ReadContext, load_object
from b2b_assets_tests.conftest import (
    DEMO_DATA,
    REPO_ROOT,
    Landing,
    copy_demo,
    materialize_env,
    query,
    table_names,
)
from b2b_assets_tests.scenario import sf18

AS_OF = "2026-11-15T00:00:00Z"
ID_REASON = "Id: not a 15- or 18-character Salesforce id"
AMOUNT_REASON = "Amount: not a number below 10^15"
MISNAMED = "Opportunities.csv: not a salesforce object; did you mean Opportunity?"
# `17:42:45 WARNING raw/crm_2__opportunity ...`: a line of the concise console logger.
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")


def _spec(source_type: str, name: str):
    return next(spec for spec in OBJECTS_BY_TYPE[source_type] if spec.name == name)


OPPORTUNITY = _spec("salesforce", "Opportunity")
CONTACT = _spec("salesforce", "Contact")


# --------------------------------------------------------------------------------------------
# 1. Names in a landing folder
# --------------------------------------------------------------------------------------------


def _notes(folder: Path, source_type: str, *names: str) -> dict[str, Any]:
    """Create the files (a name ending in `/` is a folder) and return the notes by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name.endswith("/"):
            (folder / name).mkdir()
        else:
            (folder / name).write_text("x\n", encoding="utf-8")
    notes = unknown_landing_entries(folder, source_type)
    return {note.message.split(": ", 1)[0]: note for note in notes}


def test_misnamed_salesforce_files_suggest_the_object(tmp_path: Path) -> None:
    notes = _notes(
        tmp_path / "crm_1",
        "salesforce",
        "Opportunities.csv",
        "opportunity.CSV",
        "Account.xlsx",
        "Accounts/",
        "Contact.csv",
    )
    assert set(notes) == {"Opportunities.csv", "Account.xlsx", "Accounts/"}
    assert notes["Opportunities.csv"].message == MISNAMED
    assert notes["Opportunities.csv"].meant == "Opportunity"
    assert notes["Account.xlsx"].meant == "Account"
    assert "read from .csv or .parquet" in notes["Account.xlsx"].message
    assert notes["Accounts/"].meant == "Account"
    assert notes["Accounts/"].message.endswith("did you mean Account?")


def test_misnamed_marketo_files_suggest_the_object(tmp_path: Path) -> None:
    notes = _notes(
        tmp_path / "marketo_1", "marketo", "Leads.csv", "lead.csv", "activity_visit_webpage.csv"
    )
    # `Leads.csv` is leads up to case: it is read (names match case-insensitively), no note.
    assert set(notes) == {"lead.csv", "activity_visit_webpage.csv"}
    assert notes["lead.csv"].meant == "leads"
    assert notes["lead.csv"].message == "lead.csv: not a marketo object; did you mean leads?"
    assert "not a marketo object" in notes["activity_visit_webpage.csv"].message
    marketo = [spec.name for spec in OBJECTS_BY_TYPE["marketo"]]
    assert suggest_object("Leads", marketo) == "leads"
    assert unknown_object_note("Leads.csv", "marketo").meant == "leads"


def test_temporary_names_give_no_note(tmp_path: Path) -> None:
    names = (".x.csv", "_x.csv", "Account.csv.part", "Opportunites.csv.tmp", "_SUCCESS")
    assert all(is_temporary(name) for name in names)
    assert _notes(tmp_path / "crm_1", "salesforce", *names) == {}
    assert not is_temporary("Account.csv")


# --------------------------------------------------------------------------------------------
# 2. max_quarantined in sources.yaml
# --------------------------------------------------------------------------------------------


def test_misspelled_object_in_sources_yaml_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources(
        [
            {
                "name": "crm_1",
                "type": "salesforce",
                "objects": {"Opportunites": {"max_quarantined": 0}},
            }
        ]
    )
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    assert str(path) in str(error.value)
    assert "did you mean Opportunity?" in str(error.value)


@pytest.mark.parametrize("entry", [{"max_quarantined": 1.5}, {"max_quarantined": -0.1}])
def test_max_quarantined_outside_0_to_1_is_refused(tmp_path: Path, entry: dict) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources([{"name": "crm_1", "type": "salesforce", **entry}])
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    assert "max_quarantined" in str(error.value)
    nested = env.sources(
        [{"name": "crm_1", "type": "salesforce", "objects": {"Opportunity": entry}}]
    )
    with pytest.raises(SourcesConfigError, match="max_quarantined"):
        load_sources(nested)


def test_per_object_max_quarantined_overrides_the_source(tmp_path: Path) -> None:
    env = Landing(tmp_path / "env")
    path = env.sources(
        [
            {
                "name": "crm_1",
                "type": "salesforce",
                "max_quarantined": 0.1,
                "objects": {"Opportunity": {"max_quarantined": 0.5}, "Contact": {}},
            },
            {"name": "crm_2", "type": "salesforce"},
        ]
    )
    config = load_sources(path)
    crm_1, crm_2 = config.sources
    assert crm_1.max_quarantined_of("Opportunity") == 0.5
    assert crm_1.max_quarantined_of("Contact") == 0.1  # no own value: the source's
    assert crm_1.max_quarantined_of("Account") == 0.1
    assert crm_2.max_quarantined_of("Opportunity") is None
    zero = SourceInstance(
        name="crm_3",
        type="salesforce",
        max_quarantined=0.2,
        objects={"Account": {"max_quarantined": 0}},
    )
    assert zero.max_quarantined_of("Account") == 0  # 0 is a value, not "unset"


# --------------------------------------------------------------------------------------------
# CLI runs: what they print, their event log, their warehouse
# --------------------------------------------------------------------------------------------


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


@dataclass
class CliRun:
    """One `dagster asset materialize` of an environment, and what its instance recorded."""

    data_dir: Path
    warehouse: Path
    returncode: int
    output: str
    checks: dict[tuple[str, str], Any] = field(default_factory=dict)
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    succeeded: set[str] = field(default_factory=set)

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def log_lines(self) -> list[str]:
        return [line for line in self.lines if LOG_LINE.match(line)]

    def split_at_summary(self) -> tuple[list[str], list[str]]:
        """The run's log lines before the summary line, and from it on."""
        lines = self.log_lines()
        index = next(i for i, line in enumerate(lines) if " summary: " in line)
        return lines[:index], lines[index:]

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        return query(self.warehouse, sql, params)


def _error_text(event) -> str:
    parts = []
    error = event.step_failure_data.error
    while error is not None:
        parts.append(error.message)
        error = error.cause
    user = event.step_failure_data.user_failure_data
    if user is not None and user.description:
        parts.append(user.description)
    return "\n".join(parts)


def run_cli(root: Path, data_dir: Path) -> CliRun:
    """Materialize every asset of `data_dir` with the CLI, as scripts/demo.sh does."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    warehouse = root / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B2B_", "DAGSTER_"))}
    env.update(
        B2B_DATA_DIR=str(data_dir),
        B2B_WAREHOUSE=str(warehouse),
        B2B_OUTBOX=str(root / "outbox"),
        B2B_AS_OF=AS_OF,
        DAGSTER_HOME=str(home),
    )
    process = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "asset",
            "materialize",
            "-m",
            "b2b_assets.definitions",
            "--select",
            "*",
            "--config-json",
            '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}',
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    run = CliRun(data_dir, warehouse, process.returncode, process.stdout + process.stderr)
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_runs()
        assert len(records) == 1, run.output[-3000:]
        for entry in instance.all_logs(records[0].run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                data = event.asset_check_evaluation_data
                run.checks[(data.asset_key.to_user_string(), data.check_name)] = data
            elif event.is_step_materialization:
                materialization = event.step_materialization_data.materialization
                run.materializations[materialization.asset_key.to_user_string()] = {
                    name: _value(value) for name, value in materialization.metadata.items()
                }
            elif event.is_step_failure:
                run.failures[event.step_key] = _error_text(event)
            elif event.is_step_success:
                run.succeeded.add(event.step_key)
    return run


# --------------------------------------------------------------------------------------------
# 3. The demo with a misnamed file, unparsable amounts and bad ids (one CLI run)
# --------------------------------------------------------------------------------------------

TOWNSEND_1 = "0015g00000J1UinAAF"
# Rows appended to crm_1's Opportunity.csv (4 data rows in the demo): row number -> expected reason
BAD_ROWS = {5: AMOUNT_REASON, 6: AMOUNT_REASON, 7: AMOUNT_REASON, 8: ID_REASON}
BASE64_ACCOUNT = "aGVsbG8gd29ybGQhIQ=="
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


def test_every_crm_2_raw_asset_warns_about_the_misnamed_file(problems_run: CliRun) -> None:
    crm_2 = [f"raw/crm_2__{spec.table}" for spec in OBJECTS_BY_TYPE["salesforce"]]
    for asset in crm_2:
        evaluation = problems_run.checks[(asset, "landing_files")]
        assert not evaluation.passed, asset
        assert evaluation.severity == AssetCheckSeverity.WARN, asset
        assert _value(evaluation.metadata["unknown_files"]) == [MISNAMED], asset
        assert problems_run.materializations[asset]["unknown_landing_files"] == [MISNAMED]
    others = [
        evaluation
        for (asset, name), evaluation in problems_run.checks.items()
        if name == "landing_files" and asset not in crm_2
    ]
    assert others and all(evaluation.passed for evaluation in others)


def _markdown_rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    header, body = split[0], split[2:]
    return [dict(zip(header, cells, strict=True)) for cells in body]


def test_quarantine_check_warns_with_examples_naming_file_and_rows(problems_run: CliRun) -> None:
    evaluation = problems_run.checks[("raw/crm_1__opportunity", "quarantine")]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    metadata = {name: _value(value) for name, value in evaluation.metadata.items()}
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


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


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
        r["currency"].upper(): float(r["rate_to_usd"]) for r in _read(DEMO_DATA / "fx_rates.csv")
    }
    members = {
        (row["source_instance"], _id18(row["source_record_id"]))
        for row in _read(landing / "mdm" / "account_xref.csv")
        if row["golden_id"] == golden_id and (row["is_active"] == "" or _true(row["is_active"]))
    }
    config = load_sources(DEMO_DATA / "sources.yaml")
    deals: dict[tuple[str, str], tuple[tuple[str, str], float, bool]] = {}
    for source in config.of_type("salesforce"):
        if (source.name, "Opportunity") in unread:
            continue
        for row in _read(landing / source.name / "Opportunity.csv"):
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
        for row in _read(landing / source.name / "opportunities.csv"):
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


# --------------------------------------------------------------------------------------------
# 4. max_quarantined: above it the load is not published and nothing below is built
# --------------------------------------------------------------------------------------------

ACC_A, ACC_B = "001Mq00000AcctA", "001Mq00000AcctB"
OPP_IDS = [f"006Mq0000000{n:03d}" for n in range(1, 11)]
GOOD_AMOUNTS = [str(1000 * n) for n in range(1, 11)]  # 55,000 in all
BAD_AMOUNTS = [str(2000 * n) for n in range(1, 9)] + ["n/a", "12,5 EUR"]
OPP_KEY = AssetKey(["raw", "crm_1__opportunity"])


def _opportunity(id_: str, amount: str) -> dict[str, str]:
    return {
        "Id": id_,
        "AccountId": ACC_A,
        "Name": f"Deal {id_}",
        "Amount": amount,
        "StageName": "Closed Won",
        "IsClosed": "true",
        "IsWon": "true",
        "CloseDate": "2026-06-30",
        "CurrencyIsoCode": "USD",
    }


def _limit_sources(env: Landing, objects: Mapping[str, Any] | None = None) -> None:
    entry: dict[str, Any] = {"name": "crm_1", "type": "salesforce", "max_quarantined": 0.1}
    if objects:
        entry["objects"] = dict(objects)
    env.sources([entry])


@pytest.fixture(scope="module")
def limit_runs(tmp_path_factory: pytest.TempPathFactory):
    """Good data, then 2 of 10 amounts unparsable (above 0.1), then the same with the
    Opportunity's own limit at 0.5: three runs on one warehouse."""
    root = tmp_path_factory.mktemp("max_quarantined")
    env = Landing(root / "env")
    _limit_sources(env)
    env.fx({"USD": 1})
    env.csv(
        "crm_1",
        "Account",
        [
            {"Id": ACC_A, "Name": "Limit A", "IsDeleted": "false"},
            {"Id": ACC_B, "Name": "Limit B", "IsDeleted": "false"},
        ],
    )
    env.csv(
        "crm_1",
        "Contact",
        [{"Id": "003Mq00000Cont1", "AccountId": ACC_A, "Email": "a@limit.example"}],
    )
    env.segment(
        "paying_accounts",
        {
            "name": "paying_accounts",
            "entity": "account",
            "where": {"closed_won_revenue": {"gt": 0}},
        },
    )
    warehouse = root / "warehouse.duckdb"

    def run_with(amounts: list[str]):
        """Land the opportunities with these amounts and materialize: (run, rows, revenue)."""
        rows = [_opportunity(i, a) for i, a in zip(OPP_IDS, amounts, strict=True)]
        env.csv("crm_1", "Opportunity", rows)
        run = materialize_env(env.root, warehouse, "2026-11-15", raise_on_error=False)
        return (
            run,
            sorted(run.query("SELECT id, amount FROM raw.crm_1__opportunity")),
            run.query("SELECT name, closed_won_revenue FROM profile.account ORDER BY 1"),
        )

    good, good_rows, good_revenue = run_with(GOOD_AMOUNTS)
    blocked, blocked_rows, blocked_revenue = run_with(BAD_AMOUNTS)
    blocked_quarantine = blocked.scalar(
        """SELECT count(*) FROM raw.quarantine
           WHERE source_instance = 'crm_1' AND object = 'Opportunity' AND reason = ?""",
        [AMOUNT_REASON],
    )
    _limit_sources(env, {"Opportunity": {"max_quarantined": 0.5}})
    allowed = materialize_env(env.root, warehouse, "2026-11-15", raise_on_error=False)
    return {
        "good": good,
        "good_rows": good_rows,
        "good_revenue": good_revenue,
        "blocked": blocked,
        "blocked_rows": blocked_rows,
        "blocked_revenue": blocked_revenue,
        "blocked_quarantine": blocked_quarantine,
        "allowed": allowed,
    }


def _check(run, name: str = "quarantine", key: AssetKey = OPP_KEY):
    (evaluation,) = [
        e
        for e in run.result.get_asset_check_evaluations()
        if e.asset_key == key and e.check_name == name
    ]
    return evaluation


def _materialized(run) -> set[AssetKey]:
    return {event.asset_key for event in run.result.get_asset_materialization_events()}


def test_first_run_is_clean(limit_runs) -> None:
    good = limit_runs["good"]
    assert good.failed_steps() == set()
    assert _check(good).passed
    assert len(limit_runs["good_rows"]) == 10
    assert dict(limit_runs["good_revenue"]) == {"Limit A": 55000.0, "Limit B": 0.0}


def test_above_max_quarantined_the_check_fails_with_error_and_the_step_fails(limit_runs) -> None:
    blocked = limit_runs["blocked"]
    evaluation = _check(blocked)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.ERROR
    metadata = {name: _value(value) for name, value in evaluation.metadata.items()}
    assert metadata["quarantined_share"] == pytest.approx(0.2)
    assert metadata["max_quarantined"] == pytest.approx(0.1)
    assert metadata["reasons"] == {AMOUNT_REASON: 2}
    assert "above max_quarantined" in (evaluation.description or "")
    assert blocked.failed_steps() == {"raw__crm_1"}


def test_above_max_quarantined_nothing_downstream_is_built(limit_runs) -> None:
    blocked = limit_runs["blocked"]
    graph = blocked.defs.resolve_asset_graph()
    below = AssetSelection.assets(OPP_KEY).downstream(include_self=False).resolve(graph)
    assert {AssetKey(["profile", "account"]), AssetKey(["audience", "paying_accounts"])} <= below
    assert _materialized(blocked) & below == set()
    # What does not depend on the opportunities is built as usual.
    assert AssetKey(["raw", "crm_1__account"]) in _materialized(blocked)


def test_above_max_quarantined_the_last_good_table_stays(limit_runs) -> None:
    assert limit_runs["blocked_rows"] == limit_runs["good_rows"]
    assert limit_runs["blocked_revenue"] == limit_runs["good_revenue"]


def test_the_objects_own_limit_publishes_the_load_with_a_warning(limit_runs) -> None:
    allowed = limit_runs["allowed"]
    evaluation = _check(allowed)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert _value(evaluation.metadata["max_quarantined"]) == pytest.approx(0.5)
    assert allowed.failed_steps() == set()
    rows = sorted(allowed.query("SELECT id, amount FROM raw.crm_1__opportunity"))
    assert rows == sorted(
        (sf18(i), float(a)) for i, a in zip(OPP_IDS[:8], BAD_AMOUNTS[:8], strict=True)
    )
    assert allowed.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE name = 'Limit A'"
    ) == pytest.approx(sum(2000 * n for n in range(1, 9)))
    assert AssetKey(["audience", "paying_accounts"]) in _materialized(allowed)


def test_the_summary_of_a_blocked_load_does_not_point_to_rows_that_are_not_there(
    limit_runs,
) -> None:
    from b2b_assets.run_summary import RunReport, summary

    blocked = limit_runs["blocked"]
    events = blocked.result.all_events
    graph = blocked.defs.resolve_asset_graph()
    report = RunReport(planned={key.to_user_string(): "" for key in graph.get_all_asset_keys()})
    for event in events:
        report.take(event)
    _, warnings, errors = summary(report)
    assert any("failed raw/crm_1__opportunity" in line for line in errors), errors
    held = limit_runs["blocked_quarantine"]  # raw.quarantine right after the blocked run
    claims = [
        line
        for line in warnings
        if "raw/crm_1__opportunity" in line and "the rows are in raw.quarantine" in line
    ]
    for line in claims:
        assert held == 2, f"{line!r}, but raw.quarantine holds {held} of its rows"


# --------------------------------------------------------------------------------------------
# 5. A structural problem: Fivetran's column names in every activities file (one CLI run)
# --------------------------------------------------------------------------------------------

FIVETRAN = ["id", "lead_id", "activity_date", "activity_type_id", "primary_attribute_value"]
PARTS = ["part-0001.csv", "part-0002.csv", "part-0003.csv"]


@pytest.fixture(scope="module")
def structural_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("data_problems_structural")
    data_dir = copy_demo(root / "data")
    marketo_1 = data_dir / "landing" / "marketo_1"
    rows = _read(marketo_1 / "activities.csv")
    (marketo_1 / "activities.csv").unlink()
    folder = marketo_1 / "activities"
    folder.mkdir()
    for index, part in enumerate(PARTS):
        with (folder / part).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(FIVETRAN)
            for row in rows[index::3]:
                writer.writerow(
                    [
                        row["marketoGUID"],
                        row["leadId"],
                        row["activityDate"],
                        row["activityTypeId"],
                        row.get("primaryAttributeValue", ""),
                    ]
                )
    return run_cli(root, data_dir)


def test_structural_problem_fails_the_step_with_one_message(structural_run: CliRun) -> None:
    assert structural_run.returncode != 0
    assert set(structural_run.failures) == {"raw__marketo_1"}
    message = structural_run.failures["raw__marketo_1"]
    folder = structural_run.data_dir / "landing" / "marketo_1" / "activities"
    for part in PARTS:
        assert str(folder / part) in message, message
    assert message.count("marketoGUID") >= 3, message
    assert "3 files of activities" in message, message
    assert "Nothing below raw/marketo_1__activities is built until this is fixed." in message


def test_structural_problem_ends_the_output_with_the_cause_and_what_was_not_built(
    structural_run: CliRun,
) -> None:
    _, summary = structural_run.split_at_summary()
    failed = [line for line in summary if "failed raw/marketo_1__activities:" in line]
    assert len(failed) == 1, "\n".join(summary)
    assert " ERROR " in failed[0]
    for part in PARTS:
        assert part in failed[0]
    assert "marketoGUID" in failed[0]
    (not_built,) = [line for line in summary if "not built, because an input failed" in line]
    assert "audience/new_product_upsell" in not_built
    last = structural_run.lines[-8:]
    assert any(failed[0] == line for line in last), "\n".join(last)
    assert any(not_built == line for line in last), "\n".join(last)
    assert len(structural_run.lines) < 60, structural_run.output


def test_structural_problem_publishes_no_audience(structural_run: CliRun) -> None:
    assert "audience/new_product_upsell" not in structural_run.materializations
    assert "audience__new_product_upsell" not in structural_run.succeeded
    assert table_names(structural_run.warehouse, ["audience"]) == []
    assert table_names(structural_run.warehouse, ["raw"]), "the other raw tables are published"
    assert 'raw."marketo_1__activities"' not in table_names(structural_run.warehouse, ["raw"])


# --------------------------------------------------------------------------------------------
# 6. Salesforce id shapes at the reader
# --------------------------------------------------------------------------------------------


def _reader_ctx() -> ReadContext:
    return ReadContext(
        instance="crm_1",
        normalize_sf_ids=True,
        currencies=("USD",),
        instances=("crm_1",),
        run_id="test-data-problems",
    )


def test_salesforce_record_ids_of_other_shapes_are_quarantined(con, landing: Landing) -> None:
    account = "0015g00000J1Uin"
    rows = [
        {"Id": "0035g00000FXhB9", "AccountId": account, "Email": "fifteen@x.example"},
        {"Id": sf18("0035g000005YwVA"), "AccountId": account, "Email": "eighteen@x.example"},
        {"Id": "0035g00000tWqnjAA", "AccountId": account, "Email": "seventeen@x.example"},
        {"Id": "0035g00000tWqnjAAAB", "AccountId": account, "Email": "nineteen@x.example"},
        {"Id": "abc+def/ghi=jklm", "AccountId": account, "Email": "base64@x.example"},
        {"Id": "0035g00000Malfm", "AccountId": BASE64_ACCOUNT, "Email": "malformed@x.example"},
    ]
    landing.csv("crm_1", "Contact", rows)
    result = load_object(con, landing.folder("crm_1"), CONTACT, _reader_ctx())
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (6, 3, 3)
    kept = dict(con.execute("SELECT id, account_id FROM raw.crm_1__contact").fetchall())
    assert kept == {
        sf18("0035g00000FXhB9"): sf18(account),
        sf18("0035g000005YwVA"): sf18(account),
        sf18("0035g00000Malfm"): BASE64_ACCOUNT,
    }
    quarantined = con.execute(
        "SELECT row_number, reason, problems FROM raw.quarantine ORDER BY row_number"
    ).fetchall()
    assert [(number, reason) for number, reason, _ in quarantined] == [
        (3, ID_REASON),
        (4, ID_REASON),
        (5, ID_REASON),
    ]
    assert "abc+def/ghi=jklm" in quarantined[2][2][0]
    assert result.malformed_references == {"AccountId": 1}
    assert dict(result.reasons) == {ID_REASON: 3}


def test_parts_in_a_temporary_folder_of_an_object_folder_are_not_read(
    con, landing: Landing
) -> None:
    header = "Id,Name\n"
    landing.text("crm_1", "Account/part-0001.csv", header + "0015g00000J1Uin,Written\n")
    landing.text(
        "crm_1", "Account/_temporary/0/part-0002.csv", header + "0015g00000jgrcA,Being written\n"
    )
    landing.text("crm_1", "Account/.staging/part-0003.csv", header + "0015g00000MBiin,Staged\n")
    result = load_object(
        con, landing.folder("crm_1"), _spec("salesforce", "Account"), _reader_ctx()
    )
    names = [row[0] for row in con.execute("SELECT name FROM raw.crm_1__account").fetchall()]
    assert (result.rows_read, names) == (1, ["Written"])
