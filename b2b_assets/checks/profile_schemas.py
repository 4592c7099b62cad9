"""Pandera schemas of the profile.* tables."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from b2b_assets.checks.schemas import count, day, flag, moment, money, text, text_list

OPPORTUNITY = pa.DataFrameSchema(
    {
        "opportunity_id": text("the opportunity, counted once", nullable=False, unique=True),
        "account_id": text("its unified account"),
        "name": text("name"),
        "stage": text("stage"),
        "amount": money("amount in its currency"),
        "currency": text("currency", nullable=False),
        "amount_usd": money("amount in USD"),
        "is_closed": flag("closed"),
        "is_won": flag("won"),
        "is_closed_won": flag("closed and won"),
        "close_date": day("close date"),
        "counted_from": text("the source instance whose record counts", nullable=False),
        "source_keys": text_list("every record of this opportunity"),
    },
    name="profile.opportunity",
    strict=True,
)
PERSON_OPPORTUNITY = pa.DataFrameSchema(
    {
        "person_id": text("the person", nullable=False),
        "opportunity_id": text("the opportunity", nullable=False),
        "role": text("the person's role"),
        "is_primary": flag("primary contact"),
        "account_id": text("the opportunity's account"),
        "name": text("opportunity name"),
        "stage": text("stage"),
        "amount": money("amount in its currency"),
        "currency": text("currency"),
        "amount_usd": money("amount in USD"),
        "is_closed": flag("closed"),
        "is_won": flag("won"),
        "is_closed_won": flag("closed and won"),
        "close_date": day("close date"),
    },
    name="profile.person_opportunity",
    strict=True,
)
PERSON_ACCOUNT = pa.DataFrameSchema(
    {
        "person_id": text("the person", nullable=False),
        "account_id": text("an account of the person", nullable=False),
        "relations": text_list("how they are related"),
        "roles": pa.Column(pl.List(pl.String()), nullable=True, description="roles"),
        "source_instances": text_list("sources that relate them"),
    },
    name="profile.person_account",
    strict=True,
    unique=["person_id", "account_id"],
)
ACCOUNT = pa.DataFrameSchema(
    {
        "account_id": text("the unified account", nullable=False, unique=True),
        "name": text("name (the CRM's where present)"),
        "closed_won_revenue": pa.Column(
            pl.Float64(),
            description="closed-won revenue in USD, all systems, each opportunity once "
            "(credit notes with negative amounts count as given)",
        ),
        "source_keys": text_list("the source account records unified"),
        "source_instances": text_list("sources the account appears in"),
        "golden_id": text("MDM golden id"),
        "website": text("website"),
        "domain": text("website domain"),
        "industry": text("industry"),
        "billing_country": text("billing country"),
        "number_of_employees": pa.Column(pl.Int64(), nullable=True),
        "annual_revenue": money("annual revenue as reported"),
        "closed_won_count": count("closed-won opportunities"),
        "open_pipeline": pa.Column(pl.Float64(), description="open opportunity amount in USD"),
        "open_opportunity_count": count("open opportunities"),
        "closed_lost_count": count("closed-lost opportunities"),
        "opportunity_count": count("opportunities"),
        "last_closed_won_date": day("latest close date of a won opportunity"),
        "people_count": count("people related to the account"),
        "last_activity_at": moment("latest event of its people, up to B2B_AS_OF"),
        "revenue_by_source": text("closed-won revenue per source instance (JSON)", False),
    },
    name="profile.account",
    strict=True,
)
PERSON = pa.DataFrameSchema(
    {
        "person_id": text("the unified person", nullable=False, unique=True),
        "email": text("normalized email (null if none)"),
        "account_ids": text_list("unified accounts of the person"),
        "can_email": flag("consent: false if any record opted out, or no email"),
        "first_name": text("first name"),
        "last_name": text("last name"),
        "title": text("title"),
        "source_keys": text_list("the source person records unified"),
        "source_instances": text_list("sources the person appears in"),
        "opt_out_reasons": text_list("consent flags set, as flag@instance"),
        "last_activity_at": moment("latest event up to B2B_AS_OF"),
        "event_count": count("events up to B2B_AS_OF"),
    },
    name="profile.person",
    strict=True,
)

ACTIVITY_COLUMNS = ["last_activity_at", "event_count"]
PERSON_TRAITS = PERSON.remove_columns(ACTIVITY_COLUMNS).set_name("profile.person_traits")
PERSON_ACTIVITY = PERSON.select_columns(["person_id", *ACTIVITY_COLUMNS]).set_name(
    "profile.person_activity"
)
