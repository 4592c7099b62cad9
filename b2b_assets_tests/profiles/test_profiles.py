"""The profile.* outputs other tools rely on (contract §5), on the shared tiny scenario."""

from __future__ import annotations

import duckdb
import pytest

from b2b_assets.profiles.aggregates import MAX_FLAGS, flag_list, flags
from b2b_assets_tests import scenario as s
from b2b_assets_tests.scenario import key


def accounts(run) -> dict[str, dict]:
    frame = run.frame(
        "SELECT account_id, name, closed_won_revenue, source_keys FROM profile.account"
    )
    return {row["account_id"]: row for row in frame.to_dicts()}


def people(run) -> dict[str, dict]:
    frame = run.frame("SELECT person_id, email, account_ids, can_email FROM profile.person")
    return {row["person_id"]: row for row in frame.to_dicts()}


def account_ids_by_key(run) -> dict[str, str]:
    return dict(run.query("SELECT account_key, account_id FROM identity.account"))


def person_of(run, person_key: str) -> dict:
    person_id = run.scalar(
        "SELECT person_id FROM identity.person WHERE person_key = $k", {"k": person_key}
    )
    assert person_id is not None, person_key
    return people(run)[person_id]


def test_profile_account_has_the_contract_columns(scenario_run):
    columns = {row[0] for row in scenario_run.query("DESCRIBE profile.account")}
    assert {"account_id", "name", "closed_won_revenue", "source_keys"} <= columns
    columns = {row[0] for row in scenario_run.query("DESCRIBE profile.person")}
    assert {"person_id", "email", "account_ids", "can_email"} <= columns


def test_townsend_rollup_counts_opportunity_1_once(scenario_run):
    townsend = accounts(scenario_run)["G-TOWNSEND"]
    # 200,000 (Opportunity 1, via crm_1 and marketo_1) + 900,000 (crm_2). Not counted: a deleted
    # 7,000,000 won deal, a lost 5,000,000 deal, an open 2,000,000 deal, an open "won" 3,000,000.
    assert townsend["closed_won_revenue"] == pytest.approx(1_100_000)
    assert townsend["name"] == "Townsend"


def test_townsend_members(scenario_run):
    townsend = accounts(scenario_run)["G-TOWNSEND"]
    assert sorted(townsend["source_keys"]) == sorted(
        [key(s.A1, "crm_1"), key(s.B1, "crm_2"), "3101@marketo_1"]
    )
    assert key(s.A_DEL, "crm_1") not in townsend["source_keys"]


def test_eur_converted_with_fx_rates(scenario_run):
    umbrella = accounts(scenario_run)["G-UMBRELLA"]
    # 600,000 EUR * 1.08 + 500,000 USD; the CHF deal has no rate and is not counted.
    assert umbrella["closed_won_revenue"] == pytest.approx(1_148_000)


def test_unknown_currency_is_not_counted_as_usd_through_a_synced_marketo(scenario_run):
    """crm_1's CHF deal is quarantined (no rate); its marketo_1 mirror carries the same
    opportunity, so it must not reappear as 1,000,000 USD."""
    ids = account_ids_by_key(scenario_run)
    swiss = accounts(scenario_run)[ids[key(s.A_CHF, "crm_1")]]
    assert swiss["closed_won_revenue"] == 0


def test_third_crm_revenue_rolls_up(scenario_run):
    globex = accounts(scenario_run)["G-GLOBEX"]
    assert globex["closed_won_revenue"] == pytest.approx(1_250_000)
    assert key(s.C1, "crm_3") in globex["source_keys"]


def test_same_id_in_two_crms_is_two_profiles(scenario_run):
    got = {
        row["name"]: row["closed_won_revenue"]
        for row in accounts(scenario_run).values()
        if row["name"].startswith("Same Id")
    }
    assert got == {"Same Id (crm_1)": 10, "Same Id (crm_2)": 20}


def test_one_row_per_unified_account(scenario_run):
    frame = scenario_run.frame("SELECT account_id, source_keys FROM profile.account")
    assert frame["account_id"].n_unique() == frame.height
    all_keys = [k for keys in frame["source_keys"].to_list() for k in keys]
    assert len(all_keys) == len(set(all_keys))


def test_each_opportunity_counted_once(scenario_run):
    got = scenario_run.query(
        "SELECT opportunity_id, source_keys FROM profile.opportunity WHERE opportunity_id = $o",
        {"o": key(s.O1, "crm_1")},
    )
    assert len(got) == 1
    assert sorted(got[0][1]) == sorted([key(s.O1, "crm_1"), "bdd640fb-0667@marketo_1"])
    deleted = scenario_run.scalar(
        "SELECT count(*) FROM profile.opportunity WHERE list_contains(source_keys, $k)",
        {"k": key(s.O_DEL, "crm_1")},
    )
    assert deleted == 0


def test_person_unified_by_email(scenario_run):
    p2 = person_of(scenario_run, key(s.P2, "crm_1"))
    assert p2["email"] == "p2@townsend.com"
    assert p2["account_ids"] == ["G-TOWNSEND"]
    assert p2["can_email"] is True
    assert list(people(scenario_run).values()).count(p2) == 1
    emails = [p["email"] for p in people(scenario_run).values() if p["email"]]
    assert len(emails) == len(set(emails))


def test_person_without_email(scenario_run):
    first = person_of(scenario_run, key(s.P_NOMAIL1, "crm_1"))
    second = person_of(scenario_run, key(s.P_NOMAIL2, "crm_1"))
    assert first["person_id"] != second["person_id"]
    assert first["email"] is None and second["email"] is None
    assert first["can_email"] is False  # nothing to email
    assert first["account_ids"] == ["G-GLOBEX"]


def test_person_in_several_accounts(scenario_run):
    c1 = person_of(scenario_run, key(s.P_C1, "crm_1"))
    assert c1["email"] == "c1@consultco.com"
    # Contact of Globex (crm_1) and Umbrella (crm_2); active relation to Townsend; the inactive
    # relation to the same-id account does not count.
    assert sorted(c1["account_ids"]) == ["G-GLOBEX", "G-TOWNSEND", "G-UMBRELLA"]


def test_person_account_through_the_marketo_lead_company(scenario_run):
    """eu@globex.com is a crm_3 contact of Globex and a marketo_1 lead of Swiss Co."""
    swiss = account_ids_by_key(scenario_run)[key(s.A_CHF, "crm_1")]
    eu = person_of(scenario_run, key(s.R_CON, "crm_3"))
    assert eu["email"] == "eu@globex.com"
    assert sorted(eu["account_ids"]) == sorted(["G-GLOBEX", swiss])


def test_person_account_relations_roles_and_sources(scenario_run):
    c1 = person_of(scenario_run, key(s.P_C1, "crm_1"))["person_id"]
    p2 = person_of(scenario_run, key(s.P2, "crm_1"))["person_id"]
    rows = scenario_run.frame(
        "SELECT person_id, account_id, relations, roles, source_instances "
        "FROM profile.person_account WHERE person_id IN ($c1, $p2)",
        {"c1": c1, "p2": p2},
    ).to_dicts()
    pairs = {(row["person_id"], row["account_id"]): row for row in rows}
    # c1 is tied to Townsend only by the active crm_1 relation, with its role.
    assert pairs[(c1, "G-TOWNSEND")]["relations"] == ["account_contact_relation"]
    assert pairs[(c1, "G-TOWNSEND")]["roles"] == ["Consultant"]
    assert pairs[(c1, "G-TOWNSEND")]["source_instances"] == ["crm_1"]
    # p2 is a Townsend contact in both CRMs and a marketo_1 lead of its company.
    townsend = pairs[(p2, "G-TOWNSEND")]
    assert townsend["relations"] == ["contact_account", "lead_company"]
    assert townsend["roles"] is None
    assert townsend["source_instances"] == ["crm_1", "crm_2", "marketo_1"]


def test_a_set_of_known_values_rejects_an_unknown_one():
    values = ["b", "a"]
    query = f"""SELECT {flag_list("f", values)} FROM (
                    SELECT {flags("v", values)} AS f FROM (VALUES ('b'), ('a'), ('b'), (NULL)) t(v))"""
    assert duckdb.sql(query).fetchall() == [(["a", "b"],)]
    with pytest.raises(duckdb.Error, match="a value outside"):
        duckdb.sql(query.replace("(NULL)", "('c')")).fetchall()


def test_a_set_of_more_values_than_bits_is_listed():
    values = [f"s{n:02d}" for n in range(MAX_FLAGS + 1)]
    query = f"""SELECT {flag_list("f", values)} FROM (
                    SELECT {flags("v", values)} AS f
                    FROM (VALUES ('s05'), ('s01'), ('s05'), (NULL)) t(v))"""
    assert duckdb.sql(query).fetchall() == [(["s01", "s05"],)]


def test_can_email_false_when_marketo_unsubscribed(scenario_run):
    u1 = person_of(scenario_run, key(s.Q_U1, "crm_2"))
    assert u1["email"] == "u1@umbrella.com"
    assert u1["can_email"] is False


@pytest.mark.parametrize("email", ["ms@hooli.com", "ei@hooli.com", "bl@hooli.com"])
def test_can_email_false_for_every_marketo_flag(scenario_run, email):
    (row,) = [p for p in people(scenario_run).values() if p["email"] == email]
    assert row["can_email"] is False


def test_can_email_false_when_salesforce_opted_out(scenario_run):
    assert person_of(scenario_run, key(s.P_OPT, "crm_1"))["can_email"] is False


def test_can_email_true_when_nobody_opted_out(scenario_run):
    assert person_of(scenario_run, key(s.P1, "crm_1"))["can_email"] is True


def test_deleted_person_is_in_no_profile(scenario_run):
    emails = {p["email"] for p in people(scenario_run).values()}
    assert "deleted@townsend.com" not in emails


def test_unknown_lead_is_not_a_profile_but_its_event_is_kept(scenario_run):
    assert (
        scenario_run.scalar(
            "SELECT count(*) FROM profile.person WHERE list_contains(source_keys, '99999@marketo_1')"
        )
        == 0
    )
    assert (
        scenario_run.scalar(
            "SELECT count(*) FROM b2b.experience_event WHERE person_key = '99999@marketo_1'"
        )
        == 1
    )


def test_the_preferred_value_comes_from_salesforce_then_the_latest_update_then_the_key():
    from b2b_assets.profiles.aggregates import preference, preferred

    con = duckdb.connect()
    con.execute(
        """CREATE TABLE r AS SELECT * FROM (VALUES
            ('g', 'k4@marketo_1', 'marketo', TIMESTAMPTZ '2026-11-09', 'Newest, from Marketo'),
            ('g', 'k3@crm_1', 'salesforce', TIMESTAMPTZ '2026-11-08', NULL),
            ('g', 'k2@crm_2', 'salesforce', TIMESTAMPTZ '2026-11-01', 'Older, from a CRM'),
            ('g', 'k1@crm_1', 'salesforce', NULL, 'Never updated, smallest key'))
           AS t(grp, record_key, source_type, updated_at, name)"""
    )
    by_update = preference("grp", "record_key")
    by_source = preference("grp", "record_key", by_updated=False)
    got = con.execute(
        f"""SELECT {preferred("name", "u")}, {preferred("name", "s")}
            FROM (SELECT *, {by_update} AS u, {by_source} AS s FROM r) GROUP BY grp"""
    ).fetchone()
    assert got == ("Older, from a CRM", "Never updated, smallest key")
