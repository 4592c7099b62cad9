"""Account matching beyond the MDM (contract section 8), on small hand-built cases: each pair of
CRM accounts below is one case, all built in one environment and one run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from b2b_assets.identity.match_decisions import (
    Candidate,
    OverridesError,
    decide,
    read_overrides,
)
from b2b_assets_tests.conftest import Landing, Run, copy_demo, materialize_env

AS_OF = "2026-11-15"
ACCOUNT = ["Id", "Name", "Website", "BillingCountry", "IsDeleted"]
# (crm_1 account, crm_2 account): the cases.
CASES = {
    # The same domain, names that differ by legal form and punctuation.
    "exact_domain": (
        ("001A00000000001AAA", "Acme Inc", "acme.com", "United States"),
        ("001B00000000001AAA", "ACME, Inc.", "https://www.Acme.com/", "USA"),
    ),
    # Suffix variants and a country spelled two ways, no website on one side.
    "suffix_variants": (
        ("001A00000000002AAA", "Borealis GmbH", "borealis.de", "Germany"),
        ("001B00000000002AAA", "Borealis", None, "DE"),
    ),
    # The same name in two countries, each with its own domain: two companies.
    "same_name_two_countries": (
        ("001A00000000003AAA", "Cobalt", "cobalt.com", "United States"),
        ("001B00000000003AAA", "Cobalt", "cobalt.fr", "France"),
    ),
    # One company by every field, but the MDM gives the two records different golden ids.
    "mdm_conflict": (
        ("001A00000000004AAA", "Delta Corp", "delta.com", "United States"),
        ("001B00000000004AAA", "Delta Corporation", "delta.com", "United States"),
    ),
    # One company by every field, kept apart by the user's override.
    "override_split": (
        ("001A00000000005AAA", "Echo Ltd", "echo.co.uk", "United Kingdom"),
        ("001B00000000005AAA", "Echo Limited", "www.echo.co.uk", "UK"),
    ),
    # Nothing alike: a user's override merges them.
    "override_merge": (
        ("001A00000000006AAA", "Foxtrot Labs", "foxtrot.io", "United States"),
        ("001B00000000006AAA", "FXT Holdings", "fxt.com", "Canada"),
    ),
}
PEOPLE = {  # account id -> emails of its contacts
    "001A00000000001AAA": ["ann@acme.com"],
    "001B00000000001AAA": ["bob@acme.com"],
    "001A00000000002AAA": ["cy@borealis.de"],
    "001B00000000002AAA": ["di@borealis.de"],
    "001A00000000003AAA": ["ed@cobalt.com"],
    "001B00000000003AAA": ["fa@cobalt.fr"],
    "001A00000000004AAA": ["gu@delta.com"],
    "001B00000000004AAA": ["ha@delta.com"],
    "001A00000000005AAA": ["io@echo.co.uk"],
    "001B00000000005AAA": ["ja@echo.co.uk"],
    "001A00000000006AAA": ["ka@foxtrot.io"],
    "001B00000000006AAA": ["lu@fxt.com", "mo@gmail.com"],
    # Two accounts whose people share gamma.org: a lead of that domain has two candidates.
    "001A00000000007AAA": ["ni@gamma.org"],
    "001B00000000007AAA": ["ol@gamma.org"],
}
EXTRA_ACCOUNTS = {
    "crm_1": [("001A00000000007AAA", "Gamma Research", "gammaresearch.org", "Norway")],
    "crm_2": [("001B00000000007AAA", "Gamma Foundation", "gammafoundation.org", "Chile")],
}
LEADS = [  # Marketo leads without a company: attached by their email domain
    {"id": 901, "email": "new@acme.com"},  # one account (Acme, merged) has acme.com people
    {"id": 902, "email": "who@gamma.org"},  # two accounts: not attached
    {"id": 903, "email": "free@gmail.com"},  # free mail: never attached
]


def key(record_id: str, instance: str) -> str:
    return f"{record_id}@{instance}"


def build(env: Landing) -> None:
    env.sources(
        [
            {"name": "crm_1", "type": "salesforce"},
            {"name": "crm_2", "type": "salesforce"},
            {"name": "marketo_1", "type": "marketo"},
            {"name": "mdm", "type": "mdm"},
        ]
    )
    config = yaml.safe_load((env.root / "sources.yaml").read_text())
    config["account_matching"] = {"enabled": True}
    (env.root / "sources.yaml").write_text(yaml.safe_dump(config))
    accounts = {"crm_1": list(EXTRA_ACCOUNTS["crm_1"]), "crm_2": list(EXTRA_ACCOUNTS["crm_2"])}
    for first, second in CASES.values():
        accounts["crm_1"].append(first)
        accounts["crm_2"].append(second)
    for instance, rows in accounts.items():
        env.csv(
            instance,
            "Account",
            [dict(zip(ACCOUNT, (*row, "false"), strict=True)) for row in rows],
            ACCOUNT,
        )
        contacts = [
            {"Id": f"003{account[3:15]}{i}AA", "AccountId": account, "Email": email}
            for account, *_rest in rows
            for i, email in enumerate(PEOPLE[account])
        ]
        env.csv(instance, "Contact", contacts, ["Id", "AccountId", "Email"])
    env.csv(
        "marketo_1",
        "leads",
        LEADS,
        ["id", "email", "company"],
    )
    env.csv(
        "mdm",
        "account_xref",
        [
            {
                "golden_id": "G-DELTA-1",
                "source_instance": "crm_1",
                "source_record_id": "001A00000000004AAA",
            },
            {
                "golden_id": "G-DELTA-2",
                "source_instance": "crm_2",
                "source_record_id": "001B00000000004AAA",
            },
        ],  # fmt: skip
    )
    (env.root / "account_match_overrides.csv").write_text(
        "left_key,right_key,decision\n"
        f"{key('001A00000000005AAA', 'crm_1')},{key('001B00000000005AAA', 'crm_2')},split\n"
        f"{key('001B00000000006AAA', 'crm_2')},{key('001A00000000006AAA', 'crm_1')},merge\n"
    )


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("matching")
    env = Landing(root / "env")
    build(env)
    return materialize_env(env.root, root / "warehouse.duckdb", AS_OF)


def _match(run: Run, case: str) -> tuple | None:
    first, second = CASES[case]
    rows = run.query(
        """SELECT decision, rule, blocked_by, match_probability, agreeing, evidence
           FROM identity.account_match WHERE left_key = $l AND right_key = $r""",
        {"l": key(first[0], "crm_1"), "r": key(second[0], "crm_2")},
    )
    return rows[0] if rows else None


def _one_account(run: Run, case: str) -> bool:
    first, second = CASES[case]
    ids = run.query(
        "SELECT DISTINCT account_id FROM identity.account WHERE account_key IN ($a, $b)",
        {"a": key(first[0], "crm_1"), "b": key(second[0], "crm_2")},
    )
    return len(ids) == 1


def test_the_run_succeeds(matched: Run):
    assert matched.result.success, matched.failed_steps()


@pytest.mark.parametrize("case", ["exact_domain", "suffix_variants"])
def test_the_same_company_is_merged_with_its_evidence(matched: Run, case: str):
    decision, rule, blocked, probability, agreeing, evidence = _match(matched, case)
    assert (decision, rule, blocked) == ("merged", "probabilistic", None)
    assert probability >= 0.95 and "name" in agreeing and "match probability" in evidence
    assert _one_account(matched, case)
    link = matched.query("SELECT count(*) FROM identity.account_link WHERE rule = 'probabilistic'")
    assert link[0][0] >= 2


def test_the_same_name_in_two_countries_is_two_companies(matched: Run):
    found = _match(matched, "same_name_two_countries")
    assert found is None or found[0] == "review"
    assert not _one_account(matched, "same_name_two_countries")


def test_an_mdm_conflict_blocks_the_merge(matched: Run):
    decision, _, blocked, probability, _, evidence = _match(matched, "mdm_conflict")
    assert probability >= 0.95
    assert (decision, blocked) == ("review", "mdm_conflict") and "G-DELTA-1" in evidence
    assert not _one_account(matched, "mdm_conflict")


def test_an_override_wins_both_ways(matched: Run):
    decision, rule, blocked, probability, _, _ = _match(matched, "override_split")
    assert probability >= 0.95 and (decision, rule) == ("review", "override")
    assert not _one_account(matched, "override_split")
    decision, rule, _, _, _, evidence = _match(matched, "override_merge")
    assert (decision, rule) == ("merged", "override") and "merge" in evidence
    assert _one_account(matched, "override_merge")


def test_a_lead_is_attached_by_its_email_domain_when_one_account_qualifies(matched: Run):
    rows = matched.query("SELECT person_key, account_id, evidence FROM identity.lead_account")
    assert [(r[0], r[1]) for r in rows] == [
        ("901@marketo_1", key(CASES["exact_domain"][0][0], "crm_1"))
    ]
    assert "acme.com" in rows[0][2]
    relations = matched.query(
        """SELECT pa.relations FROM profile.person_account pa
           JOIN profile.person p USING (person_id) WHERE p.email = 'new@acme.com'"""
    )
    assert relations == [(["email_domain"],)]


def test_every_listed_pair_has_probability_decision_and_evidence(matched: Run):
    rows = matched.query(
        "SELECT decision, evidence, match_probability, rule FROM identity.account_match"
    )
    assert rows and all(r[0] in ("merged", "review") and r[1] for r in rows)
    assert all(r[2] is not None for r in rows if r[3] == "probabilistic")


def test_the_model_is_kept_with_the_run_and_shown(matched: Run):
    (event,) = [
        e
        for e in matched.result.get_asset_materialization_events()
        if e.asset_key.path == ["identity", "account_match"]
    ]
    metadata = event.materialization.metadata
    assert "match weight" in metadata["match_weights"].value
    assert metadata["merged"].value >= 3
    stored = matched.query("SELECT candidates, model FROM ops.account_match_model")
    assert len(stored) == 1 and stored[0][0] >= 12 and "comparisons" in stored[0][1]


@pytest.mark.parametrize("without", ["the_mdm_source", "the_mdm_file"])
def test_the_seed_story_without_the_mdm_finds_p2(tmp_path: Path, without: str):
    """The MDM gone from sources.yaml, or only its file gone (with matching on, the MDM's
    cross-references are optional)."""
    data = copy_demo(tmp_path / "data")
    config = yaml.safe_load((data / "sources.yaml").read_text())
    if without == "the_mdm_source":
        config["sources"] = [s for s in config["sources"] if s["type"] != "mdm"]
    config["account_matching"] = {"enabled": True}
    (data / "sources.yaml").write_text(yaml.safe_dump(config))
    shutil.rmtree(data / "landing" / "mdm")
    (data / "segments" / "big_accounts.yaml").write_text(
        "name: big_accounts\nentity: account\nwhere:\n  closed_won_revenue: {gt: 1000000}\n"
    )
    run = materialize_env(data, tmp_path / "warehouse.duckdb", AS_OF)
    assert run.query("SELECT email FROM audience.new_product_upsell") == [("p2@townsend.com",)]
    revenue = run.scalar(
        "SELECT closed_won_revenue FROM profile.account WHERE name ILIKE 'Townsend%'"
    )
    assert revenue == 1_100_000
    why = run.scalar("SELECT why FROM audience.new_product_upsell")
    assert "matched_by" in why and "probabilistic" in why
    # An account audience over the matched accounts: Townsend qualifies through its match.
    members = dict(run.query("SELECT name, why FROM audience.big_accounts"))
    assert "Townsend" in members and "0018d00000Dqn62AAB@crm_2" in members["Townsend"]


def test_overrides_file_errors_name_the_row_and_column(tmp_path: Path):
    path = tmp_path / "account_match_overrides.csv"
    path.write_text("left_key,right_key,decision\na@crm_1,b@crm_2,maybe\n")
    with pytest.raises(OverridesError, match=r"row 2, column decision"):
        read_overrides(path)
    path.write_text("left_key,right_key,decision\nnokey,b@crm_2,merge\n")
    with pytest.raises(OverridesError, match=r"row 2, column left_key"):
        read_overrides(path)


def test_a_merge_never_joins_two_golden_ids_through_a_third_account():
    candidates = [
        Candidate("a@x", frozenset({"G1"})),
        Candidate("b@x", frozenset()),
        Candidate("c@x", frozenset({"G2"})),
    ]
    pairs = [
        {"unique_id_l": "a@x", "unique_id_r": "b@x", "match_probability": 0.99},
        {"unique_id_l": "b@x", "unique_id_r": "c@x", "match_probability": 0.98},
    ]
    members = {c.key: c.key for c in candidates}
    rows = decide(candidates, pairs, [], 0.95, 0.5, members)
    assert [(r["left_key"], r["right_key"], r["decision"], r["blocked_by"]) for r in rows] == [
        ("a@x", "b@x", "merged", None),
        ("b@x", "c@x", "review", "mdm_conflict"),
    ]
