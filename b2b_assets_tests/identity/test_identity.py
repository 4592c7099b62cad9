"""Identity resolution on the shared tiny scenario: links with evidence, unified ids."""

from __future__ import annotations

from b2b_assets_tests import scenario as s
from b2b_assets_tests.scenario import key


def account_ids(run) -> dict[str, str]:
    return dict(run.query("SELECT account_key, account_id FROM identity.account"))


def person_ids(run) -> dict[str, str]:
    return dict(run.query("SELECT person_key, person_id FROM identity.person"))


def test_mdm_and_crm_sync_unify_accounts_transitively(scenario_run):
    ids = account_ids(scenario_run)
    # A1 (crm_1) and B1 (crm_2) by the MDM; 3101 (marketo_1) to A1 by CRM sync.
    assert ids[key(s.A1, "crm_1")] == "G-TOWNSEND"
    assert ids[key(s.B1, "crm_2")] == "G-TOWNSEND"
    assert ids["3101@marketo_1"] == "G-TOWNSEND"
    assert ids[key(s.A_GLX, "crm_1")] == ids[key(s.C1, "crm_3")] == "G-GLOBEX"
    assert ids[key(s.B_UMB, "crm_2")] == "G-UMBRELLA"


def test_same_id_in_two_instances_is_two_unified_accounts(scenario_run):
    ids = account_ids(scenario_run)
    first, second = ids[key(s.A_SAME, "crm_1")], ids[key(s.A_SAME, "crm_2")]
    assert first != second


def test_unlinked_accounts_stay_apart(scenario_run):
    ids = account_ids(scenario_run)
    assert ids["3200@marketo_1"] not in {"G-TOWNSEND", "G-GLOBEX", "G-UMBRELLA"}
    # Townsend, Globex, Umbrella, 2 x Same, Hooli, Swiss Co
    assert len(set(ids.values())) == 7
    assert ids["3300@marketo_1"] == ids[key(s.A_CHF, "crm_1")]


def test_deleted_account_is_not_resolved(scenario_run):
    assert key(s.A_DEL, "crm_1") not in account_ids(scenario_run)


def test_account_link_evidence(scenario_run):
    links = scenario_run.query(
        "SELECT left_key, right_key, rule, evidence FROM identity.account_link"
    )
    rules = {(frozenset((left, right)), rule) for left, right, rule, _ in links}
    assert (frozenset(("3101@marketo_1", key(s.A1, "crm_1"))), "crm_sync") in rules
    assert (frozenset((key(s.A1, "crm_1"), key(s.B1, "crm_2"))), "mdm") in rules
    assert (frozenset((key(s.A_GLX, "crm_1"), key(s.C1, "crm_3"))), "mdm") in rules
    assert all(evidence for *_, evidence in links)
    mdm_evidence = [e for _, _, rule, e in links if rule == "mdm"]
    assert any("G-TOWNSEND" in e for e in mdm_evidence)
    # A deleted record links nothing.
    assert not any(key(s.A_DEL, "crm_1") in (left, right) for left, right, *_ in links)


def test_people_unified_by_email_across_case_and_whitespace(scenario_run):
    ids = person_ids(scenario_run)
    same = {ids[key(s.P2, "crm_1")], ids[key(s.Q2, "crm_2")], ids["48212@marketo_1"]}
    assert len(same) == 1
    assert ids[key(s.P_C1, "crm_1")] == ids[key(s.Q_C1, "crm_2")]
    assert ids[key(s.Q_U1, "crm_2")] == ids["48300@marketo_1"]
    assert ids[key(s.P1, "crm_1")] == ids["48211@marketo_1"]
    assert ids[key(s.P1, "crm_1")] != ids[key(s.P2, "crm_1")]


def test_people_without_email_are_never_merged(scenario_run):
    ids = person_ids(scenario_run)
    no_email = [key(s.P_NOMAIL1, "crm_1"), key(s.P_NOMAIL2, "crm_1"), "48500@marketo_1"]
    assert len({ids[k] for k in no_email}) == 3
    others = {v for k, v in ids.items() if k not in no_email}
    assert not others & {ids[k] for k in no_email}


def test_deleted_person_is_not_resolved(scenario_run):
    assert key(s.P_DEL, "crm_1") not in person_ids(scenario_run)


def test_person_link_evidence(scenario_run):
    links = scenario_run.query(
        "SELECT left_key, right_key, rule, evidence FROM identity.person_link"
    )
    pairs = {(frozenset((left, right)), rule) for left, right, rule, _ in links}
    email_linked = {k for left, right, rule, _ in links if rule == "email" for k in (left, right)}
    assert {key(s.P2, "crm_1"), key(s.Q2, "crm_2"), "48212@marketo_1"} <= email_linked
    assert (frozenset(("48212@marketo_1", key(s.P2, "crm_1"))), "crm_sync") in pairs
    assert all(evidence for *_, evidence in links)
    no_email = {key(s.P_NOMAIL1, "crm_1"), key(s.P_NOMAIL2, "crm_1"), "48500@marketo_1"}
    assert not any({left, right} & no_email for left, right, *_ in links)


def test_opportunity_through_crm_and_marketo_is_one_opportunity(scenario_run):
    got = scenario_run.query(
        "SELECT opportunity_key, opportunity_id, account_id, is_representative "
        "FROM identity.opportunity WHERE opportunity_id = $o ORDER BY 1",
        {"o": key(s.O1, "crm_1")},
    )
    assert [(k, a, r) for k, _, a, r in got] == [
        (key(s.O1, "crm_1"), "G-TOWNSEND", True),
        ("bdd640fb-0667@marketo_1", "G-TOWNSEND", False),
    ]
