"""The b2b tables of opportunities and the roles people have on them."""

from __future__ import annotations

from b2b_assets import columns as c
from b2b_assets.model.sql_parts import (
    SOURCE_INSTANCE,
    SOURCE_TYPE,
    company_lookup,
    crm_key,
    empty,
    key,
    marketo_account_key,
    marketo_opportunity_key,
    raw,
    union,
)
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset, table_key

OPPORTUNITY_COLUMNS = [
    c.key("opportunity_key", "`<id>@<instance>` of the opportunity record"),
    SOURCE_INSTANCE,
    SOURCE_TYPE,
    c.text("source_id", "the record's id in its source", nullable=False),
    c.key("crm_opportunity_key", "the CRM opportunity this record is", unique=False, nullable=True),
    c.key("account_key", "the opportunity's account", unique=False, nullable=True),
    c.text("name", "opportunity name"),
    c.text("stage", "stage"),
    c.number("amount", "amount in its own currency"),
    c.text("currency", "ISO currency code", nullable=False, pattern=r"^[A-Z0-9]{2,10}$"),
    c.flag("is_closed", "closed", nullable=True),
    c.flag("is_won", "won", nullable=True),
    c.day("close_date", "close date"),
    c.flag("is_deleted", "deleted in the source"),
    c.number("amount_usd", "amount in USD, converted with fx_rates.csv"),
    c.flag("is_closed_won", "closed and won"),
]


def opportunity(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS opportunity_key, '{src.name}' AS source_instance,
                   'salesforce' AS source_type, id AS source_id,
                   {key("id", src.name)} AS crm_opportunity_key,
                   {key("account_id", src.name)} AS account_key, name, stage_name AS stage,
                   amount, upper(trim(coalesce(currency_iso_code, 'USD'))) AS currency,
                   is_closed, is_won, close_date, is_deleted
            FROM {raw(src, "Opportunity")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("t.marketo_guid", src.name)} AS opportunity_key,
                   '{src.name}' AS source_instance, 'marketo' AS source_type,
                   t.marketo_guid AS source_id,
                   {crm_key(src, config, "t.external_opportunity_id")} AS crm_opportunity_key,
                   {marketo_account_key(src, config, None)} AS account_key,
                   name, stage, amount, 'USD' AS currency, is_closed, is_won, close_date,
                   FALSE AS is_deleted
            FROM {raw(src, "opportunities")} AS t {company_lookup(src, "co")}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT o.*, o.amount * CASE WHEN o.currency = 'USD' THEN 1.0 ELSE fx.rate_to_usd END
                   AS amount_usd,
               coalesce(o.is_closed AND o.is_won, FALSE) AS is_closed_won
        FROM ({union(parts, empty(OPPORTUNITY_COLUMNS, until="amount_usd"))}) AS o
        LEFT JOIN raw.fx_rates AS fx ON upper(fx.currency) = o.currency"""
    return TableAsset(
        key=table_key("b2b.opportunity"),
        description="One row per source opportunity record: Salesforce and Marketo opportunities.",
        columns=OPPORTUNITY_COLUMNS,
        select=select,
    )


OPPORTUNITY_PERSON_COLUMNS = [
    c.key("relation_key", "the role record"),
    SOURCE_INSTANCE,
    c.key("opportunity_key", "the opportunity", unique=False),
    c.key("person_key", "the contact or lead", unique=False),
    c.text("role", "the person's role, e.g. Decision Maker"),
    c.flag("is_primary", "the person is the primary contact", nullable=True),
]


def opportunity_person(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS relation_key, '{src.name}' AS source_instance,
                   {key("opportunity_id", src.name)} AS opportunity_key,
                   {key("contact_id", src.name)} AS person_key, role, is_primary
            FROM {raw(src, "OpportunityContactRole")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("t.marketo_guid", src.name)} AS relation_key,
                   '{src.name}' AS source_instance,
                   {marketo_opportunity_key(src, config)} AS opportunity_key,
                   {key("t.lead_id", src.name)} AS person_key, t.role, t.is_primary
            FROM {raw(src, "opportunity_roles")} AS t
            LEFT JOIN (SELECT external_opportunity_id, min(marketo_guid) AS marketo_guid
                       FROM {raw(src, "opportunities")} GROUP BY 1) AS op
              ON op.external_opportunity_id = t.external_opportunity_id"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=table_key("b2b.opportunity_person"),
        description="One row per person's role on an opportunity (contact roles, opportunity roles).",
        columns=OPPORTUNITY_PERSON_COLUMNS,
        select=union(parts, empty(OPPORTUNITY_PERSON_COLUMNS)),
    )
