"""The demo data, copied to tmp, through the whole graph as of 2026-11-15 (and 2026-12-15)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import dagster
import pytest

from b2b_assets_tests.conftest import Run, materialize_env, query, table_names

COMPARED_SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation")
RUN_DEPENDENT = {"_loaded_at", "loaded_at", "run_id"}


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), without the columns that record when or by which run."""
    tables = {}
    for table in table_names(warehouse, COMPARED_SCHEMAS):
        columns = [row[0] for row in query(warehouse, f"DESCRIBE {table}")]
        kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_DEPENDENT)
        tables[table] = query(warehouse, f"SELECT {kept} FROM {table} ORDER BY ALL")
    return tables


@pytest.fixture(scope="module")
def e2e(demo_run: Run, tmp_path_factory):
    """The demo run, a re-run on the same warehouse, and the audience re-evaluated later."""
    first = snapshot(demo_run.warehouse)
    later = tmp_path_factory.mktemp("december") / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, later)
    december = materialize_env(
        demo_run.data_dir,
        later,
        "2026-12-15",
        selection=dagster.AssetSelection.groups("profile", "audience"),
    )
    second_run = materialize_env(demo_run.data_dir, demo_run.warehouse, "2026-11-15")
    return {
        "run": demo_run,
        "first": first,
        "second": snapshot(demo_run.warehouse),
        "second_run": second_run,
        "december": december,
    }


def test_demo_run_succeeded(e2e):
    assert e2e["run"].result.success
    assert e2e["second_run"].result.success
    assert e2e["december"].result.success


def test_audience_is_exactly_p2(e2e):
    got = e2e["run"].query("SELECT email FROM audience.new_product_upsell")
    assert got == [("p2@townsend.com",)]


def test_audience_member_is_a_profile_person(e2e):
    got = e2e["run"].query(
        "SELECT p.email, p.can_email FROM audience.new_product_upsell a "
        "JOIN profile.person p USING (person_id)"
    )
    assert got == [("p2@townsend.com", True)]


def test_why_names_the_account_and_the_visit(e2e):
    (why,) = e2e["run"].query(
        "SELECT why FROM audience.new_product_upsell WHERE email = 'p2@townsend.com'"
    )[0]
    assert "G-TOWNSEND" in why
    assert "2026-11-02" in why
    parsed = json.loads(why)
    text = json.dumps(parsed)
    assert "/products/new-software" in text


def test_townsend_closed_won_revenue(e2e):
    got = e2e["run"].scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-TOWNSEND'"
    )
    assert got == pytest.approx(1_100_000)


def test_umbrella_closed_won_revenue(e2e):
    got = e2e["run"].scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-UMBRELLA'"
    )
    assert got == pytest.approx(600_000 * 1.08 + 500_000)


def test_profiles_have_the_contract_columns(e2e):
    run = e2e["run"]
    account = run.frame(
        "SELECT account_id, name, closed_won_revenue, source_keys FROM profile.account"
    )
    assert account["account_id"].n_unique() == account.height
    person = run.frame("SELECT person_id, email, account_ids, can_email FROM profile.person")
    assert person["person_id"].n_unique() == person.height
    emails = [e for e in person["email"].to_list() if e is not None]
    assert all(e == e.strip().lower() for e in emails)
    assert len(emails) == len(set(emails))


def test_materializing_twice_gives_identical_tables(e2e):
    first, second = e2e["first"], e2e["second"]
    assert sorted(first) == sorted(second)
    differing = [table for table in first if first[table] != second[table]]
    assert differing == []


def test_audience_as_of_a_month_later_is_empty(e2e):
    december = e2e["december"]
    assert december.query("SELECT * FROM audience.new_product_upsell") == []
    # The account is still big; only the visit fell out of the window.
    assert december.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-TOWNSEND'"
    ) == pytest.approx(1_100_000)


def test_no_destination_is_sent_a_person_who_cannot_be_emailed(e2e):
    run = e2e["run"]
    blocked = [
        row[0]
        for row in run.query(
            "SELECT email FROM profile.person WHERE NOT can_email AND email IS NOT NULL"
        )
    ]
    assert blocked
    outbox = run.warehouse.parent / "outbox"
    sent = (
        "\n".join(path.read_text(errors="replace") for path in outbox.rglob("*") if path.is_file())
        if outbox.exists()
        else ""
    )
    for email in blocked:
        assert email not in sent
        assert hashlib.sha256(email.encode()).hexdigest() not in sent
