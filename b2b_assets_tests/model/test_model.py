"""The b2b.* model on the shared tiny scenario (scenario.py), materialized through the graph."""

from __future__ import annotations

import re

import pytest

from b2b_assets_tests import scenario as s
from b2b_assets_tests.scenario import key, sf18

KEY = re.compile(r"^.+@[a-z][a-z0-9_]*$")


def test_only_the_broken_segment_failed(scenario_run):
    assert scenario_run.failed_steps() == {"audience__broken"}


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("b2b.account", "account_key"),
        ("b2b.person", "person_key"),
        ("b2b.opportunity", "opportunity_key"),
        ("b2b.experience_event", "event_key"),
    ],
)
def test_keys_are_id_at_instance(scenario_run, table, column):
    keys = [row[0] for row in scenario_run.query(f"SELECT {column} FROM {table}")]
    assert keys
    assert all(KEY.match(k) for k in keys)
    assert len(keys) == len(set(keys))
    for k, instance in scenario_run.query(f"SELECT {column}, source_instance FROM {table}"):
        assert k.endswith("@" + instance)


def test_account_keys(scenario_run):
    keys = {row[0] for row in scenario_run.query("SELECT account_key FROM b2b.account")}
    assert {
        key(s.A1, "crm_1"),
        key(s.B1, "crm_2"),
        key(s.C1, "crm_3"),
        "3101@marketo_1",
        "3200@marketo_1",
    } <= keys


def test_same_id_in_two_instances_is_two_records(scenario_run):
    got = scenario_run.query(
        "SELECT account_key, name FROM b2b.account WHERE source_id = $id ORDER BY 1",
        {"id": sf18(s.A_SAME)},
    )
    assert got == [
        (key(s.A_SAME, "crm_1"), "Same Id (crm_1)"),
        (key(s.A_SAME, "crm_2"), "Same Id (crm_2)"),
    ]


def test_synced_marketo_company_carries_its_crm_account_key(scenario_run):
    """externalCompanyId is A1's 15-char id; it names the 18-char CRM record."""
    got = scenario_run.scalar(
        "SELECT crm_account_key FROM b2b.account WHERE account_key = '3101@marketo_1'"
    )
    assert got == key(s.A1, "crm_1")


def test_fifteen_char_account_id_of_a_contact_is_the_account(scenario_run):
    got = scenario_run.scalar(
        "SELECT account_key FROM b2b.person WHERE person_key = $k", {"k": key(s.Q2, "crm_2")}
    )
    assert got == key(s.B1, "crm_2")


def test_emails_normalized(scenario_run):
    got = scenario_run.query(
        "SELECT email_normalized FROM b2b.person WHERE person_key IN ($a, $b, $c) ORDER BY 1",
        {"a": key(s.P2, "crm_1"), "b": key(s.Q2, "crm_2"), "c": "48212@marketo_1"},
    )
    assert got == [("p2@townsend.com",)] * 3


def test_person_without_email_has_no_normalized_email(scenario_run):
    got = scenario_run.query(
        "SELECT email_normalized FROM b2b.person WHERE person_key IN ($a, $b, $c)",
        {"a": key(s.P_NOMAIL1, "crm_1"), "b": key(s.P_NOMAIL2, "crm_1"), "c": "48500@marketo_1"},
    )
    assert got == [(None,)] * 3


def test_deleted_records_are_flagged_in_the_model(scenario_run):
    got = dict(
        scenario_run.query(
            "SELECT account_key, is_deleted FROM b2b.account WHERE source_instance = 'crm_1'"
        )
    )
    assert got[key(s.A_DEL, "crm_1")] is True
    assert got[key(s.A1, "crm_1")] is False


def test_opportunity_amounts_in_usd(scenario_run):
    got = {
        k: (currency, amount_usd, closed_won)
        for k, currency, amount_usd, closed_won in scenario_run.query(
            "SELECT opportunity_key, currency, amount_usd, is_closed_won FROM b2b.opportunity"
        )
    }
    assert got[key(s.Q_EUR, "crm_2")][:2] == ("EUR", pytest.approx(648000.0))
    assert got[key(s.Q_USD, "crm_2")][:2] == ("USD", 500000.0)
    assert got[key(s.Q_LOST, "crm_2")][2] is False
    assert got[key(s.Q_OPEN, "crm_2")][2] is False
    assert got[key(s.Q_WEIRD, "crm_2")][2] is False  # won flag but not closed
    assert got[key(s.Q1, "crm_2")][2] is True


def test_opportunity_with_unknown_currency_is_quarantined_not_modelled(scenario_run):
    keys = {row[0] for row in scenario_run.query("SELECT opportunity_key FROM b2b.opportunity")}
    assert key(s.Q_CHF, "crm_2") not in keys
    got = scenario_run.query(
        "SELECT object, row_number, reason FROM raw.quarantine WHERE source_instance = 'crm_2'"
    )
    assert len(got) == 1
    obj, row_number, reason = got[0]
    assert obj == "Opportunity" and row_number == 7 and "CurrencyIsoCode" in reason


def test_synced_marketo_opportunity_names_the_crm_opportunity(scenario_run):
    got = scenario_run.query(
        "SELECT o.crm_opportunity_key, i.account_id FROM b2b.opportunity o "
        "JOIN identity.account i USING (account_key) WHERE o.opportunity_key = 'bdd640fb-0667@marketo_1'"
    )
    assert got == [(key(s.O1, "crm_1"), "G-TOWNSEND")]


def test_event_of_unknown_lead_is_kept(scenario_run):
    got = scenario_run.query(
        "SELECT person_key, event_type, url FROM b2b.experience_event WHERE event_key = '103005@marketo_1'"
    )
    assert got == [("99999@marketo_1", "visit_webpage", "/products/new-software")]


def test_event_times_are_utc_instants(scenario_run):
    got = dict(
        scenario_run.query(
            "SELECT person_key, strftime(occurred_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') "
            "FROM b2b.experience_event"
        )
    )
    assert got["48401@marketo_1"] == "2026-10-16T00:00:01"  # +02:00 offset
    assert got["48403@marketo_1"] == "2026-11-15T00:00:00"  # no offset: UTC


def test_third_crm_is_modelled_from_sources_yaml_only(scenario_run):
    got = scenario_run.query(
        "SELECT source_type, name FROM b2b.account WHERE source_instance = 'crm_3'"
    )
    assert got == [("salesforce", "Globex Europe")]
    assert (
        scenario_run.scalar("SELECT count(*) FROM b2b.opportunity WHERE source_instance = 'crm_3'")
        == 1
    )
    assert (
        scenario_run.scalar(
            "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'raw' "
            "AND view_name LIKE 'crm_3__%'"
        )
        == 7
    )


def test_row_accounting_balances_for_every_raw_object(scenario_run):
    got = scenario_run.query(
        "SELECT source_instance, object, rows_read, rows_kept, rows_quarantined "
        "FROM ops.row_accounting"
    )
    assert len(got) == 1 + 3 * 7 + 9 + 1
    for _, _, read, kept, quarantined in got:
        assert read == kept + quarantined
