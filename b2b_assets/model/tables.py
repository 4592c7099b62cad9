"""The b2b.* tables: how each source type maps onto the unified model."""

from __future__ import annotations

from dataclasses import replace

from dagster import AssetKey

from b2b_assets.checks import model_schemas as s
from b2b_assets.model.appended import RawPart, added_rows_scope, build_by_load
from b2b_assets.model.sql_parts import empty, key, raw, synced_crm, union
from b2b_assets.sources.catalog import ACTIVITY_TYPES
from b2b_assets.sources.config import SourceInstance, SourcesConfig
from b2b_assets.tables import TableAsset


def _b2b(name: str) -> AssetKey:
    return AssetKey(["b2b", name])


def _crm_key(source: SourceInstance, config: SourcesConfig, column: str) -> str:
    crm = synced_crm(config, source)
    return key(column, crm.name) if crm else "CAST(NULL AS VARCHAR)"


def _company_lookup(source: SourceInstance, alias: str) -> str:
    """Join a Marketo row to the instance's company by `externalCompanyId`."""
    return (
        f"LEFT JOIN (SELECT external_company_id, min(id) AS id FROM {raw(source, 'companies')} "
        f"WHERE external_company_id IS NOT NULL GROUP BY 1) AS {alias} "
        f"ON {alias}.external_company_id = t.external_company_id"
    )


def _marketo_account_key(source: SourceInstance, config: SourcesConfig, sfdc_account: str) -> str:
    """A lead's or opportunity's account: its CRM account where that account exists (`ca`, see
    `_crm_account_lookup`), else the instance's company, else the CRM id it names."""
    crm = synced_crm(config, source)
    crm_part = (
        f"CASE WHEN ca.id IS NOT NULL THEN {key(sfdc_account, crm.name)} END, "
        if (crm and sfdc_account)
        else ""
    )
    fallback = f", {key('t.external_company_id', crm.name)}" if crm else ""
    return f"coalesce({crm_part}{key('co.id', source.name)}{fallback})"


def _crm_account_lookup(source: SourceInstance, config: SourcesConfig) -> str:
    """Join a lead to the synced CRM's Account named by its `sfdcAccountId`, if there is one."""
    crm = synced_crm(config, source)
    if crm is None:
        return "LEFT JOIN (SELECT CAST(NULL AS VARCHAR) AS id WHERE FALSE) AS ca ON FALSE"
    return (
        f"LEFT JOIN (SELECT DISTINCT id FROM {raw(crm, 'Account')}) AS ca "
        "ON ca.id = t.sfdc_account_id"
    )


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
                   {_crm_key(src, config, "external_company_id")} AS crm_account_key,
                   FALSE AS is_deleted, CAST(NULL AS TIMESTAMPTZ) AS updated_at
            FROM {raw(src, "companies")}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT *, nullif(regexp_replace(lower(trim(website)),
                  '^([a-z]+://)?(www\\.)?([^/:?#]+).*$', '\\3'), '') AS domain
        FROM ({union(parts, empty(s.ACCOUNT_TYPES))})"""
    return TableAsset(
        key=_b2b("account"),
        description="One row per source account record: Salesforce Accounts and Marketo companies.",
        schema=s.ACCOUNT,
        select=select,
    )


_OPT_OUT_MARKETO = "list_filter([{}], lambda r: r IS NOT NULL)".format(
    ", ".join(
        f"CASE WHEN {column} THEN '{reason}' END"
        for column, reason in (
            ("unsubscribed", "unsubscribed"),
            ("marketing_suspended", "marketingSuspended"),
            ("email_invalid", "emailInvalid"),
            ("black_listed", "blackListed"),
        )
    )
)


def person(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS person_key, '{src.name}' AS source_instance,
                   'salesforce' AS source_type, id AS source_id, email,
                   normalize_email(email) AS email_normalized, first_name, last_name, title,
                   CAST(NULL AS VARCHAR) AS company_name,
                   {key("account_id", src.name)} AS account_key,
                   {key("id", src.name)} AS crm_person_key,
                   CASE WHEN has_opted_out_of_email THEN ['HasOptedOutOfEmail']
                        ELSE CAST([] AS VARCHAR[]) END AS opt_out_reasons,
                   is_deleted, last_modified_date AS updated_at
            FROM {raw(src, "Contact")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("t.id", src.name)} AS person_key, '{src.name}' AS source_instance,
                   'marketo' AS source_type, t.id AS source_id, email,
                   normalize_email(email) AS email_normalized, first_name, last_name, title,
                   company AS company_name,
                   {_marketo_account_key(src, config, "t.sfdc_account_id")} AS account_key,
                   {_crm_key(src, config, "t.sfdc_contact_id")} AS crm_person_key,
                   {_OPT_OUT_MARKETO} AS opt_out_reasons,
                   FALSE AS is_deleted, coalesce(updated_at, created_at) AS updated_at
            FROM {raw(src, "leads")} AS t {_company_lookup(src, "co")}
            {_crm_account_lookup(src, config)}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT *, len(opt_out_reasons) > 0 AS email_opt_out
        FROM ({union(parts, empty(s.PERSON_TYPES))})"""
    return TableAsset(
        key=_b2b("person"),
        description="One row per source person record: Salesforce Contacts and Marketo leads.",
        schema=s.PERSON,
        mostly_keys=True,
        select=select,
    )


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
                   {_crm_key(src, config, "t.external_opportunity_id")} AS crm_opportunity_key,
                   {_marketo_account_key(src, config, None)} AS account_key,
                   name, stage, amount, 'USD' AS currency, is_closed, is_won, close_date,
                   FALSE AS is_deleted
            FROM {raw(src, "opportunities")} AS t {_company_lookup(src, "co")}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT o.*, o.amount * CASE WHEN o.currency = 'USD' THEN 1.0 ELSE fx.rate_to_usd END
                   AS amount_usd,
               coalesce(o.is_closed AND o.is_won, FALSE) AS is_closed_won
        FROM ({union(parts, empty(s.OPPORTUNITY_TYPES))}) AS o
        LEFT JOIN raw.fx_rates AS fx ON upper(fx.currency) = o.currency"""
    return TableAsset(
        key=_b2b("opportunity"),
        description="One row per source opportunity record: Salesforce and Marketo opportunities.",
        schema=s.OPPORTUNITY,
        select=select,
    )


def _marketo_opportunity_key(source: SourceInstance, config: SourcesConfig) -> str:
    crm = synced_crm(config, source)
    fallback = f", {key('t.external_opportunity_id', crm.name)}" if crm else ""
    return f"coalesce({key('op.marketo_guid', source.name)}{fallback})"


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
                   {_marketo_opportunity_key(src, config)} AS opportunity_key,
                   {key("t.lead_id", src.name)} AS person_key, t.role, t.is_primary
            FROM {raw(src, "opportunity_roles")} AS t
            LEFT JOIN (SELECT external_opportunity_id, min(marketo_guid) AS marketo_guid
                       FROM {raw(src, "opportunities")} GROUP BY 1) AS op
              ON op.external_opportunity_id = t.external_opportunity_id"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=_b2b("opportunity_person"),
        description="One row per person's role on an opportunity (contact roles, opportunity roles).",
        schema=s.OPPORTUNITY_PERSON,
        select=union(parts, empty(s.OPPORTUNITY_PERSON_TYPES)),
    )


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
                   {_marketo_account_key(src, config, "t.sfdc_account_id")} AS account_key,
                   {key("t.id", src.name)} AS person_key, TRUE AS is_active, TRUE AS is_direct,
                   CAST(NULL AS VARCHAR) AS roles
            FROM {raw(src, "leads")} AS t {_company_lookup(src, "co")}
            {_crm_account_lookup(src, config)}"""
            for src in config.of_type("marketo")
        ]
    )
    select = f"""SELECT * FROM ({union(parts, empty(s.ACCOUNT_PERSON_TYPES))})
                 WHERE account_key IS NOT NULL"""
    return TableAsset(
        key=_b2b("account_person"),
        description="One row per person-account relation: contact account, "
        "account contact relations, a lead's company.",
        schema=s.ACCOUNT_PERSON,
        mostly_keys=True,
        select=select,
    )


def campaign(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS campaign_key, '{src.name}' AS source_instance,
                   'salesforce_campaign' AS campaign_kind, id AS source_id, name, type, status,
                   CAST(NULL AS VARCHAR) AS channel, start_date, end_date
            FROM {raw(src, "Campaign")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("id", src.name)} AS campaign_key, '{src.name}' AS source_instance,
                   'marketo_program' AS campaign_kind, id AS source_id, name, type,
                   CAST(NULL AS VARCHAR) AS status, channel,
                   CAST(NULL AS DATE) AS start_date, CAST(NULL AS DATE) AS end_date
            FROM {raw(src, "programs")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=_b2b("campaign"),
        description="One row per campaign: Salesforce campaigns and Marketo programs.",
        schema=s.CAMPAIGN,
        select=union(parts, empty(s.CAMPAIGN_TYPES)),
    )


def campaign_member(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS member_key, '{src.name}' AS source_instance,
                   {key("campaign_id", src.name)} AS campaign_key,
                   coalesce({key("contact_id", src.name)}, {key("lead_id", src.name)}) AS person_key,
                   status, has_responded
            FROM {raw(src, "CampaignMember")}"""
        for src in config.of_type("salesforce")
    ] + [
        f"""SELECT {key("program_id || ':' || lead_id", src.name)} AS member_key,
                   '{src.name}' AS source_instance, {key("program_id", src.name)} AS campaign_key,
                   {key("lead_id", src.name)} AS person_key, status,
                   reached_success AS has_responded
            FROM {raw(src, "program_members")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=_b2b("campaign_member"),
        description="One row per campaign membership: campaign members and program members.",
        schema=s.CAMPAIGN_MEMBER,
        select=union(parts, empty(s.CAMPAIGN_MEMBER_TYPES)),
    )


def marketing_list(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS list_key, '{src.name}' AS source_instance,
                   id AS source_id, name
            FROM {raw(src, "static_lists")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=_b2b("marketing_list"),
        description="One row per marketing list: Marketo static lists.",
        schema=s.MARKETING_LIST,
        select=union(parts, empty(s.MARKETING_LIST_TYPES)),
    )


def marketing_list_member(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("list_id || ':' || lead_id", src.name)} AS member_key,
                   '{src.name}' AS source_instance, {key("list_id", src.name)} AS list_key,
                   {key("lead_id", src.name)} AS person_key
            FROM {raw(src, "static_list_members")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=_b2b("marketing_list_member"),
        description="One row per person on a marketing list: Marketo static list members.",
        schema=s.MARKETING_LIST_MEMBER,
        select=union(parts, empty(s.MARKETING_LIST_MEMBER_TYPES)),
    )


def _activity_type_name() -> str:
    cases = " ".join(f"WHEN {type_id} THEN '{name}'" for type_id, name in ACTIVITY_TYPES.items())
    return f"CASE activity_type_id {cases} ELSE 'activity_' || activity_type_id END"


def experience_event(config: SourcesConfig) -> TableAsset:
    parts = [
        RawPart(
            raw_table=f"raw.{src.name}__activities",
            select=f"""SELECT {key("marketo_guid", src.name)} AS event_key,
                   '{src.name}' AS source_instance,
                   {key("lead_id", src.name)} AS person_key, {_activity_type_name()} AS event_type,
                   activity_type_id AS event_type_id, activity_date AS occurred_at,
                   primary_attribute_value AS page,
                   coalesce(CASE WHEN contains(attributes, '"Webpage URL"')
                                 THEN json_extract_string(attributes, '$."Webpage URL"') END,
                            primary_attribute_value) AS url,
                   primary_attribute_value_id
            FROM {{rows}}""",
        )
        for src in config.of_type("marketo")
    ]

    def build(con, context):
        return build_by_load(
            con,
            "b2b.experience_event",
            "event_key",
            parts,
            empty(s.EXPERIENCE_EVENT_TYPES),
        )

    return TableAsset(
        key=_b2b("experience_event"),
        description="One row per experience event: Marketo activities, typed (the full "
        "`attributes` JSON stays in the raw table). New activity files are taken in on their "
        "own: the events of earlier files are not read again.",
        schema=s.EXPERIENCE_EVENT,
        build=build,
        reads=[part.select.replace("{rows}", part.raw_table) for part in parts],
        scope=added_rows_scope("event_key"),
    )


def model_tables(config: SourcesConfig) -> list[TableAsset]:
    """Every b2b.* table, in the order the UI lists them."""
    return [
        replace(builder(config), origin=builder)
        for builder in (
            account,
            person,
            opportunity,
            opportunity_person,
            account_person,
            campaign,
            campaign_member,
            marketing_list,
            marketing_list_member,
            experience_event,
        )
    ]
