"""The b2b tables of accounts: account records, and how people relate to them."""

from __future__ import annotations

from b2b_assets import columns as c
from b2b_assets.model.sql_parts import (
    SOURCE_INSTANCE,
    SOURCE_TYPE,
    company_lookup,
    crm_account_lookup,
    crm_key,
    empty,
    key,
    marketo_account_key,
    raw,
    union,
)
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset, table_key

ACCOUNT_COLUMNS = [
    c.key("account_key", "`<id>@<instance>` of the account record"),
    SOURCE_INSTANCE,
    SOURCE_TYPE,
    c.text("source_id", "the record's id in its source", nullable=False),
    c.text("name", "account or company name"),
    c.text("website", "website as given"),
    c.text("industry", "industry"),
    c.number("annual_revenue", "annual revenue as given"),
    c.integer("number_of_employees", "number of employees as given"),
    c.text("billing_country", "billing country"),
    c.key("parent_key", "parent account key", unique=False, nullable=True),
    c.key(
        "crm_account_key",
        "the CRM account this record is (itself, or the synced CRM's)",
        unique=False,
        nullable=True,
    ),
    c.flag("is_deleted", "deleted in the source; not part of any profile"),
    c.moment("updated_at", "last modified in the source"),
    c.text("domain", "website domain, lower case, without www"),
]


def account(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS account_key, '{src.name}' AS source_instance,
                   'salesforce' AS source_type, id AS source_id, name, website, industry,
                   annual_revenue, number_of_employees, billing_country,
                   {key("parent_id", src.name)} AS parent_key,
                   {key("id", src.name)} AS crm_account_key, is_deleted,
                   last_modified_date AS updated_at
            FROM {raw(src, "Account")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("id", src.name)} AS account_key, '{src.name}' AS source_instance,
                   'marketo' AS source_type, id AS source_id, company AS name, website, industry,
                   annual_revenue, number_of_employees, billing_country,
                   CAST(NULL AS VARCHAR) AS parent_key,
                   {crm_key(src, config, "external_company_id")} AS crm_account_key,
                   FALSE AS is_deleted, CAST(NULL AS TIMESTAMPTZ) AS updated_at
            FROM {raw(src, "companies")}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT *, nullif(regexp_replace(lower(trim(website)),
                  '^([a-z]+://)?(www\\.)?([^/:?#]+).*$', '\\3'), '') AS domain
        FROM ({union(parts, empty(ACCOUNT_COLUMNS, until="domain"))})"""
    return TableAsset(
        key=table_key("b2b.account"),
        description="One row per source account record: Salesforce Accounts and Marketo companies.",
        columns=ACCOUNT_COLUMNS,
        select=select,
    )


# How a person relates to an account: a Contact's account, an AccountContactRelation, a lead's
# company.
RELATIONS = ("account_contact_relation", "contact_account", "lead_company")
# A lead with no account of its own, attached by its email domain (account matching).
EMAIL_DOMAIN = "email_domain"
ACCOUNT_PERSON_COLUMNS = [
    c.key("relation_key", "the record that relates them", unique=False),
    SOURCE_INSTANCE,
    c.text("relation", "how they are related", nullable=False, one_of=RELATIONS),
    c.key("account_key", "the account", unique=False),
    c.key("person_key", "the contact or lead", unique=False),
    c.flag("is_active", "the relation is active", nullable=True),
    c.flag("is_direct", "the contact's direct account", nullable=True),
    c.text("roles", "roles in the account"),
]


def account_person(config: SourcesConfig) -> TableAsset:
    parts = (
        [
            f"""SELECT {key("id", src.name)} AS relation_key, '{src.name}' AS source_instance,
                   'contact_account' AS relation, {key("account_id", src.name)} AS account_key,
                   {key("id", src.name)} AS person_key, TRUE AS is_active, TRUE AS is_direct,
                   CAST(NULL AS VARCHAR) AS roles
            FROM {raw(src, "Contact")} WHERE account_id IS NOT NULL AND NOT is_deleted"""
            for src in config.of_type("salesforce")
        ]
        + [
            f"""SELECT {key("id", src.name)} AS relation_key, '{src.name}' AS source_instance,
                   'account_contact_relation' AS relation,
                   {key("account_id", src.name)} AS account_key,
                   {key("contact_id", src.name)} AS person_key, is_active, is_direct, roles
            FROM {raw(src, "AccountContactRelation")}"""
            for src in config.of_type("salesforce")
        ]
        + [
            f"""SELECT {key("t.id", src.name)} AS relation_key, '{src.name}' AS source_instance,
                   'lead_company' AS relation,
                   {marketo_account_key(src, config, "t.sfdc_account_id")} AS account_key,
                   {key("t.id", src.name)} AS person_key, TRUE AS is_active, TRUE AS is_direct,
                   CAST(NULL AS VARCHAR) AS roles
            FROM {raw(src, "leads")} AS t {company_lookup(src, "co")}
            {crm_account_lookup(src, config)}"""
            for src in config.of_type("marketo")
        ]
    )
    select = f"""SELECT * FROM ({union(parts, empty(ACCOUNT_PERSON_COLUMNS))})
                 WHERE account_key IS NOT NULL"""
    return TableAsset(
        key=table_key("b2b.account_person"),
        description="One row per person-account relation: contact account, "
        "account contact relations, a lead's company.",
        columns=ACCOUNT_PERSON_COLUMNS,
        unique=["relation", "relation_key"],
        mostly_keys=True,
        select=select,
    )
