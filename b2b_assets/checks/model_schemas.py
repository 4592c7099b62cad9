"""Pandera schemas of the b2b.* model, and the SQL types of its empty tables."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from b2b_assets.checks.schemas import day, flag, key_column, moment, money, text

V, B, D, T, F, INT = "VARCHAR", "BOOLEAN", "DATE", "TIMESTAMPTZ", "DOUBLE", "BIGINT"
SOURCE = {
    "source_instance": text("the source instance", nullable=False),
}

ACCOUNT_TYPES = {
    "account_key": V,
    "source_instance": V,
    "source_type": V,
    "source_id": V,
    "name": V,
    "website": V,
    "industry": V,
    "annual_revenue": F,
    "number_of_employees": INT,
    "billing_country": V,
    "parent_key": V,
    "crm_account_key": V,
    "is_deleted": B,
    "updated_at": T,
}
ACCOUNT = pa.DataFrameSchema(
    {
        "account_key": key_column("`<id>@<instance>` of the account record"),
        **SOURCE,
        "source_type": pa.Column(pl.String(), pa.Check.isin(["salesforce", "marketo"])),
        "source_id": text("the record's id in its source", nullable=False),
        "name": text("account or company name"),
        "website": text("website as given"),
        "industry": text("industry"),
        "annual_revenue": money("annual revenue as given"),
        "number_of_employees": pa.Column(pl.Int64(), nullable=True),
        "billing_country": text("billing country"),
        "parent_key": key_column("parent account key", unique=False, nullable=True),
        "crm_account_key": key_column(
            "the CRM account this record is (itself, or the synced CRM's)",
            unique=False,
            nullable=True,
        ),
        "is_deleted": flag("deleted in the source; not part of any profile"),
        "updated_at": moment("last modified in the source"),
        "domain": text("website domain, lower case, without www"),
    },
    name="b2b.account",
    strict=True,
)

PERSON_TYPES = {
    "person_key": V,
    "source_instance": V,
    "source_type": V,
    "source_id": V,
    "email": V,
    "email_normalized": V,
    "first_name": V,
    "last_name": V,
    "title": V,
    "company_name": V,
    "account_key": V,
    "crm_person_key": V,
    "opt_out_reasons": "VARCHAR[]",
    "is_deleted": B,
    "updated_at": T,
}
PERSON = pa.DataFrameSchema(
    {
        "person_key": key_column("`<id>@<instance>` of the contact or lead"),
        **SOURCE,
        "source_type": pa.Column(pl.String(), pa.Check.isin(["salesforce", "marketo"])),
        "source_id": text("the record's id in its source", nullable=False),
        "email": text("email as given"),
        "email_normalized": text("email trimmed and lower-cased"),
        "first_name": text("first name"),
        "last_name": text("last name"),
        "title": text("job title"),
        "company_name": text("company name as typed on a lead"),
        "account_key": key_column("the record's primary account", unique=False, nullable=True),
        "crm_person_key": key_column("the CRM contact this record is", unique=False, nullable=True),
        "opt_out_reasons": pa.Column(pl.List(pl.String()), description="consent flags set"),
        "is_deleted": flag("deleted in the source; not part of any profile"),
        "updated_at": moment("last modified in the source"),
        "email_opt_out": flag("any consent flag set on this record"),
    },
    name="b2b.person",
    strict=True,
)

OPPORTUNITY_TYPES = {
    "opportunity_key": V,
    "source_instance": V,
    "source_type": V,
    "source_id": V,
    "crm_opportunity_key": V,
    "account_key": V,
    "name": V,
    "stage": V,
    "amount": F,
    "currency": V,
    "is_closed": B,
    "is_won": B,
    "close_date": D,
    "is_deleted": B,
}
OPPORTUNITY = pa.DataFrameSchema(
    {
        "opportunity_key": key_column("`<id>@<instance>` of the opportunity record"),
        **SOURCE,
        "source_type": pa.Column(pl.String(), pa.Check.isin(["salesforce", "marketo"])),
        "source_id": text("the record's id in its source", nullable=False),
        "crm_opportunity_key": key_column(
            "the CRM opportunity this record is", unique=False, nullable=True
        ),
        "account_key": key_column("the opportunity's account", unique=False, nullable=True),
        "name": text("opportunity name"),
        "stage": text("stage"),
        "amount": money("amount in its currency"),
        "currency": pa.Column(pl.String(), pa.Check.str_matches(r"^[A-Z0-9]{2,10}$")),
        "is_closed": flag("closed", nullable=True),
        "is_won": flag("won", nullable=True),
        "close_date": day("close date"),
        "is_deleted": flag("deleted in the source"),
        "amount_usd": money("amount converted to USD with fx_rates.csv"),
        "is_closed_won": flag("closed and won"),
    },
    name="b2b.opportunity",
    strict=True,
)

OPPORTUNITY_PERSON_TYPES = {
    "relation_key": V,
    "source_instance": V,
    "opportunity_key": V,
    "person_key": V,
    "role": V,
    "is_primary": B,
}
OPPORTUNITY_PERSON = pa.DataFrameSchema(
    {
        "relation_key": key_column("the role record"),
        **SOURCE,
        "opportunity_key": key_column("the opportunity", unique=False),
        "person_key": key_column("the contact or lead", unique=False),
        "role": text("role, e.g. Decision Maker"),
        "is_primary": flag("primary contact", nullable=True),
    },
    name="b2b.opportunity_person",
    strict=True,
)

# How a person relates to an account: a Contact's account, an AccountContactRelation, a lead's
# company.
RELATIONS = ("account_contact_relation", "contact_account", "lead_company")
ACCOUNT_PERSON_TYPES = {
    "relation_key": V,
    "source_instance": V,
    "relation": V,
    "account_key": V,
    "person_key": V,
    "is_active": B,
    "is_direct": B,
    "roles": V,
}
ACCOUNT_PERSON = pa.DataFrameSchema(
    {
        "relation_key": key_column("the record that relates them", unique=False),
        **SOURCE,
        "relation": pa.Column(
            pl.String(),
            pa.Check.isin(RELATIONS),
        ),
        "account_key": key_column("the account", unique=False),
        "person_key": key_column("the contact or lead", unique=False),
        "is_active": flag("the relation is active", nullable=True),
        "is_direct": flag("the contact's direct account", nullable=True),
        "roles": text("roles in the account"),
    },
    name="b2b.account_person",
    strict=True,
    unique=["relation", "relation_key"],
)

CAMPAIGN_TYPES = {
    "campaign_key": V,
    "source_instance": V,
    "campaign_kind": V,
    "source_id": V,
    "name": V,
    "type": V,
    "status": V,
    "channel": V,
    "start_date": D,
    "end_date": D,
}
CAMPAIGN = pa.DataFrameSchema(
    {
        "campaign_key": key_column("the campaign or program"),
        **SOURCE,
        "campaign_kind": pa.Column(
            pl.String(), pa.Check.isin(["salesforce_campaign", "marketo_program"])
        ),
        "source_id": text("the record's id in its source", nullable=False),
        "name": text("name"),
        "type": text("type"),
        "status": text("status"),
        "channel": text("program channel"),
        "start_date": day("start date"),
        "end_date": day("end date"),
    },
    name="b2b.campaign",
    strict=True,
)

CAMPAIGN_MEMBER_TYPES = {
    "member_key": V,
    "source_instance": V,
    "campaign_key": V,
    "person_key": V,
    "status": V,
    "has_responded": B,
}
CAMPAIGN_MEMBER = pa.DataFrameSchema(
    {
        "member_key": key_column("the membership record"),
        **SOURCE,
        "campaign_key": key_column("the campaign or program", unique=False),
        "person_key": key_column("the member", unique=False, nullable=True),
        "status": text("member status"),
        "has_responded": flag("responded / reached success", nullable=True),
    },
    name="b2b.campaign_member",
    strict=True,
)

MARKETING_LIST_TYPES = {"list_key": V, "source_instance": V, "source_id": V, "name": V}
MARKETING_LIST = pa.DataFrameSchema(
    {
        "list_key": key_column("the list"),
        **SOURCE,
        "source_id": text("the list's id", nullable=False),
        "name": text("list name"),
    },
    name="b2b.marketing_list",
    strict=True,
)

MARKETING_LIST_MEMBER_TYPES = {
    "member_key": V,
    "source_instance": V,
    "list_key": V,
    "person_key": V,
}
MARKETING_LIST_MEMBER = pa.DataFrameSchema(
    {
        "member_key": key_column("the membership"),
        **SOURCE,
        "list_key": key_column("the list", unique=False),
        "person_key": key_column("the member", unique=False),
    },
    name="b2b.marketing_list_member",
    strict=True,
)

EXPERIENCE_EVENT_TYPES = {
    "event_key": V,
    "source_instance": V,
    "person_key": V,
    "event_type": V,
    "event_type_id": INT,
    "occurred_at": T,
    "page": V,
    "url": V,
    "primary_attribute_value_id": V,
}
EXPERIENCE_EVENT = pa.DataFrameSchema(
    {
        "event_key": key_column("the activity"),
        **SOURCE,
        "person_key": key_column("the lead (may be unknown to leads)", unique=False),
        "event_type": text("type name, e.g. visit_webpage", nullable=False),
        "event_type_id": pa.Column(pl.Int64(), description="Marketo activity type id"),
        "occurred_at": moment("when it happened", nullable=False),
        "page": text("primary attribute value (the page for web visits)"),
        "url": text("Webpage URL attribute, else the primary attribute value"),
        "primary_attribute_value_id": text("primary attribute value id"),
    },
    name="b2b.experience_event",
    strict=True,
)
