"""The identity.* tables: links with evidence, and the resolved ids."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from b2b_assets import columns as c
from b2b_assets.identity.components import COMPONENTS, Graph
from b2b_assets.model.sql_parts import empty, raw, union
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset, table_key


def link_columns(rules: list[str]) -> list[c.Column]:
    """A link between two records: which, by which rule, and why."""
    return [
        c.key("left_key", "one record", unique=False),
        c.key("right_key", "the record it is joined to", unique=False),
        c.text("rule", "the rule that joined them", nullable=False, one_of=rules),
        c.text("evidence", "why the rule joined them", nullable=False),
    ]


def _mdm_members(config: SourcesConfig) -> str:
    """Active MDM cross-references as account keys (Salesforce ids normalized to 18 chars)."""
    salesforce = [source.name for source in config.of_type("salesforce")]
    is_salesforce = (
        f"source_instance IN ({', '.join(repr(name) for name in salesforce)})"
        if salesforce
        else "FALSE"
    )
    parts = [
        f"""SELECT golden_id, '{mdm.name}' AS mdm_instance,
                   CASE WHEN {is_salesforce} THEN sf_id18(source_record_id)
                        ELSE source_record_id END || '@' || source_instance AS account_key
            FROM {raw(mdm, "account_xref")} WHERE is_active"""
        for mdm in config.of_type("mdm")
    ]
    members = [c.text("golden_id"), c.text("mdm_instance"), c.text("account_key")]
    return union(parts, empty(members))


def deterministic_account_links(config: SourcesConfig) -> str:
    """Links of account records by CRM sync and by the MDM (each golden id's records to its
    smallest key)."""
    return f"""
        WITH live AS (SELECT account_key FROM b2b.account WHERE NOT is_deleted),
        mdm AS (
            SELECT m.* FROM ({_mdm_members(config)}) m JOIN live USING (account_key)
        ),
        anchors AS (SELECT golden_id, min(account_key) AS anchor FROM mdm GROUP BY golden_id)
        SELECT a.account_key AS left_key, a.crm_account_key AS right_key, 'crm_sync' AS rule,
               'externalCompanyId of ' || a.source_instance || ' company ' || a.source_id
               || ' is this CRM account' AS evidence
        FROM b2b.account a JOIN live c ON c.account_key = a.crm_account_key
        WHERE NOT a.is_deleted AND a.crm_account_key <> a.account_key
        UNION ALL
        SELECT m.account_key, x.anchor, 'mdm',
               'golden_id ' || m.golden_id || ' in ' || m.mdm_instance
        FROM mdm m JOIN anchors x USING (golden_id)
        WHERE m.account_key <> x.anchor"""


MATCHED_LINKS = """
        UNION ALL
        SELECT left_key, right_key, rule, evidence FROM identity.account_match
        WHERE decision = 'merged'"""


def account_link(config: SourcesConfig) -> TableAsset:
    matched = config.matching is not None
    rules = ["mdm", "crm_sync", *(["probabilistic", "override"] if matched else [])]
    return TableAsset(
        key=table_key("identity.account_link"),
        description="One row per link between two account records, with the rule and evidence.",
        columns=link_columns(rules),
        select=deterministic_account_links(config) + (MATCHED_LINKS if matched else ""),
    )


ACCOUNT_NODES = "SELECT account_key AS node, source_type FROM b2b.account WHERE NOT is_deleted"
ACCOUNT_EDGES = "SELECT left_key, right_key FROM identity.account_link"
PERSON_NODES = "SELECT person_key AS node, email_normalized FROM b2b.person WHERE NOT is_deleted"
PERSON_EDGES = "SELECT left_key, right_key FROM identity.person_link"


def _account_resolution(config: SourcesConfig) -> str:
    """Each live account record's unified id: its component's MDM golden id, else the
    component's smallest Salesforce key, else its smallest key."""
    return f"""
        WITH golden AS (
            SELECT account_key, min(golden_id) AS golden_id
            FROM ({_mdm_members(config)}) GROUP BY account_key
        ),
        members AS (
            SELECT m.node AS account_key, m.component, g.golden_id, m.source_type
            FROM {COMPONENTS} m LEFT JOIN golden g ON g.account_key = m.node
        )
        SELECT account_key,
               coalesce(min(golden_id) OVER c,
                        min(CASE WHEN source_type = 'salesforce' THEN account_key END) OVER c,
                        min(account_key) OVER c) AS account_id,
               golden_id,
               count(*) OVER c AS component_size
        FROM members
        WINDOW c AS (PARTITION BY component)"""


def account(config: SourcesConfig) -> TableAsset:
    return TableAsset(
        key=table_key("identity.account"),
        description="One row per live source account: the unified account_id it resolves to.",
        columns=[
            c.key("account_key", "the source account"),
            c.text("account_id", "the unified account: the MDM golden_id where it has one", False),
            c.text("golden_id", "this record's MDM golden id"),
            c.integer("component_size", "records unified", nullable=False, minimum=1),
        ],
        select=_account_resolution(config),
        graph=Graph(ACCOUNT_NODES, ACCOUNT_EDGES),
        facts={"unified_accounts": "SELECT count(DISTINCT account_id) FROM identity.account"},
    )


def person_link(config: SourcesConfig) -> TableAsset:
    select = """
        WITH live AS (SELECT * FROM b2b.person WHERE NOT is_deleted),
        anchors AS (
            SELECT email_normalized, min(person_key) AS anchor FROM live
            WHERE email_normalized IS NOT NULL GROUP BY 1
        )
        SELECT p.person_key AS left_key, x.anchor AS right_key, 'email' AS rule,
               'same normalized email' AS evidence
        FROM live p JOIN anchors x USING (email_normalized)
        WHERE p.person_key <> x.anchor
        UNION ALL
        SELECT p.person_key, p.crm_person_key, 'crm_sync',
               'sfdcContactId of ' || p.source_instance || ' lead ' || p.source_id
               || ' is this CRM contact'
        FROM live p JOIN live c ON c.person_key = p.crm_person_key
        WHERE p.crm_person_key <> p.person_key"""
    return TableAsset(
        key=table_key("identity.person_link"),
        description="One row per link between two person records, with the rule and evidence.",
        columns=link_columns(["email", "crm_sync"]),
        mostly_keys=True,
        select=select,
    )


# Most people carry one email: the mode and the distinct count are only computed for the
# components whose records disagree, and the id is hashed once per person. A person without an
# email is named by its smallest record key.
PERSON_RESOLUTION = f"""
    WITH spans AS (
        SELECT component, min(node) AS label, min(email_normalized) AS low,
               max(email_normalized) AS high, count(*) AS size
        FROM {COMPONENTS} GROUP BY component
    ),
    mixed AS (
        SELECT component, mode(email_normalized) AS email,
               count(DISTINCT email_normalized) AS emails
        FROM {COMPONENTS}
        SEMI JOIN (SELECT component FROM spans WHERE low <> high) USING (component)
        GROUP BY component
    ),
    people AS (
        SELECT s.component, s.size, coalesce(m.email, s.low) AS email,
               coalesce(m.emails, CASE WHEN s.low IS NULL THEN 0 ELSE 1 END) AS emails,
               'p_' || left(md5(coalesce('email:' || coalesce(m.email, s.low),
                                         'key:' || s.label)), 20) AS person_id
        FROM spans s LEFT JOIN mixed m USING (component)
    )
    SELECT m.node AS person_key, p.person_id, p.email, p.emails AS distinct_emails,
           p.size AS component_size
    FROM {COMPONENTS} m JOIN people p USING (component)"""


def person(config: SourcesConfig) -> TableAsset:
    return TableAsset(
        key=table_key("identity.person"),
        description="One row per live source person record: the unified person_id it resolves to.",
        columns=[
            c.key("person_key", "the source person"),
            c.text("person_id", "the unified person", False, pattern=r"^p_[0-9a-f]{20}$"),
            c.text("email", "the person's normalized email"),
            c.count(
                "distinct_emails", "distinct emails joined (more than one only through CRM sync)"
            ),
            c.integer("component_size", "records unified", nullable=False, minimum=1),
        ],
        mostly_keys=True,
        select=PERSON_RESOLUTION,
        graph=Graph(PERSON_NODES, PERSON_EDGES),
        facts={"unified_people": "SELECT count(DISTINCT person_id) FROM identity.person"},
    )


def opportunity(config: SourcesConfig) -> TableAsset:
    # A synced copy of a CRM opportunity the raw layer quarantined (e.g. a currency without a
    # rate) carries no currency of its own: it must not stand in for the CRM record.
    select = """
        WITH quarantined AS (
            SELECT DISTINCT json_extract_string(record, '$.id') || '@' || source_instance AS key
            FROM raw.quarantine
            WHERE object = 'Opportunity' AND reason NOT LIKE 'duplicate key%' AND json_valid(record)
        )
        SELECT o.opportunity_key,
               coalesce(o.crm_opportunity_key, o.opportunity_key) AS opportunity_id,
               a.account_id,
               row_number() OVER (
                   PARTITION BY coalesce(o.crm_opportunity_key, o.opportunity_key)
                   ORDER BY (o.source_type = 'salesforce') DESC, o.opportunity_key
               ) = 1 AS is_representative,
               o.is_deleted
                   OR (o.source_type = 'marketo' AND o.crm_opportunity_key IN (SELECT key FROM quarantined)
                       AND NOT EXISTS (SELECT 1 FROM b2b.opportunity c
                                       WHERE c.opportunity_key = o.crm_opportunity_key))
                   AS is_excluded
        FROM b2b.opportunity o
        LEFT JOIN identity.account a ON a.account_key = o.account_key"""
    return TableAsset(
        key=table_key("identity.opportunity"),
        description="One row per opportunity record: the opportunity it is (counted once) "
        "and its unified account.",
        columns=[
            c.key("opportunity_key", "the source opportunity"),
            c.text("opportunity_id", "the opportunity counted once: its CRM key", False),
            c.text("account_id", "the unified account"),
            c.flag("is_representative", "the record whose values count (the CRM's where present)"),
            c.flag(
                "is_excluded",
                "not counted: deleted in its source, or the synced copy of a quarantined CRM "
                "record",
            ),
        ],
        select=select,
    )


def identity_tables(config: SourcesConfig, data_dir: Path | None = None) -> list[TableAsset]:
    tables = [
        replace(builder(config), origin=builder)
        for builder in (account_link, account, person_link, person, opportunity)
    ]
    if config.matching is not None:
        from b2b_assets.identity import matching

        match = matching.account_match(
            _mdm_members(config), deterministic_account_links(config), config.matching, data_dir
        )
        tables += [
            replace(match, origin=matching.account_match),
            replace(matching.lead_account(), origin=matching.lead_account),
        ]
    return tables
