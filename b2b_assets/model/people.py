"""The b2b table of people: Salesforce Contacts and Marketo leads."""

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

PERSON_COLUMNS = [
    c.key("person_key", "`<id>@<instance>` of the contact or lead"),
    SOURCE_INSTANCE,
    SOURCE_TYPE,
    c.text("source_id", "the record's id in its source", nullable=False),
    c.text("email", "email as given"),
    c.text("email_normalized", "email trimmed and lower-cased"),
    c.text("first_name", "first name"),
    c.text("last_name", "last name"),
    c.text("title", "job title"),
    c.text("company_name", "company name as typed on a lead"),
    c.key("account_key", "the record's primary account", unique=False, nullable=True),
    c.key("crm_person_key", "the CRM contact this record is", unique=False, nullable=True),
    c.text_list("opt_out_reasons", "consent flags set"),
    c.flag("is_deleted", "deleted in the source; not part of any profile"),
    c.moment("updated_at", "last modified in the source"),
    c.flag("email_opt_out", "any consent flag set on this record"),
]


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
                   {marketo_account_key(src, config, "t.sfdc_account_id")} AS account_key,
                   {crm_key(src, config, "t.sfdc_contact_id")} AS crm_person_key,
                   {_OPT_OUT_MARKETO} AS opt_out_reasons,
                   FALSE AS is_deleted, coalesce(updated_at, created_at) AS updated_at
            FROM {raw(src, "leads")} AS t {company_lookup(src, "co")}
            {crm_account_lookup(src, config)}"""
        for src in config.of_type("marketo")
    ]
    select = f"""
        SELECT *, array_length(opt_out_reasons) > 0 AS email_opt_out
        FROM ({union(parts, empty(PERSON_COLUMNS, until="email_opt_out"))})"""
    return TableAsset(
        key=table_key("b2b.person"),
        description="One row per source person record: Salesforce Contacts and Marketo leads.",
        columns=PERSON_COLUMNS,
        mostly_keys=True,
        select=select,
    )
