"""The opportunity profiles: each opportunity counted once, and the people with a role on it."""

from __future__ import annotations

from b2b_assets import columns as c
from b2b_assets.tables import TableAsset, table_key

OPPORTUNITY_SQL = """
    WITH records AS (
        SELECT i.opportunity_id, i.account_id, i.is_representative, i.is_excluded, o.*
        FROM identity.opportunity i JOIN b2b.opportunity o USING (opportunity_key)
    ),
    grouped AS (
        SELECT opportunity_id, list_sort(list(opportunity_key)) AS source_keys,
               min(account_id) AS any_account_id
        FROM records GROUP BY opportunity_id
    )
    SELECT r.opportunity_id, coalesce(r.account_id, g.any_account_id) AS account_id, r.name,
           r.stage, r.amount, r.currency, r.amount_usd, coalesce(r.is_closed, FALSE) AS is_closed,
           coalesce(r.is_won, FALSE) AS is_won, r.is_closed_won, r.close_date,
           r.source_instance AS counted_from, g.source_keys
    FROM records r JOIN grouped g USING (opportunity_id)
    WHERE r.is_representative AND NOT r.is_excluded"""

OPPORTUNITY_COLUMNS = [
    c.text("opportunity_id", "the opportunity, counted once", nullable=False, unique=True),
    c.text("account_id", "its unified account"),
    c.text("name", "opportunity name"),
    c.text("stage", "stage"),
    c.number("amount", "amount in its own currency"),
    c.text("currency", "ISO currency code", nullable=False),
    c.number("amount_usd", "amount in USD"),
    c.flag("is_closed", "closed"),
    c.flag("is_won", "won"),
    c.flag("is_closed_won", "closed and won"),
    c.day("close_date", "close date"),
    c.text("counted_from", "the source instance whose record counts", nullable=False),
    c.text_list("source_keys", "every record of this opportunity"),
]


def opportunity() -> TableAsset:
    return TableAsset(
        key=table_key("profile.opportunity"),
        description="One row per unified opportunity, counted once however many systems "
        "it arrives through; amounts in USD.",
        columns=OPPORTUNITY_COLUMNS,
        select=OPPORTUNITY_SQL,
    )


PERSON_OPPORTUNITY_SQL = """
    SELECT ip.person_id, o.opportunity_id, r.role, bool_or(coalesce(r.is_primary, FALSE)) AS is_primary,
           any_value(o.account_id) AS account_id, any_value(o.name) AS name,
           any_value(o.stage) AS stage, any_value(o.amount) AS amount,
           any_value(o.currency) AS currency, any_value(o.amount_usd) AS amount_usd,
           any_value(o.is_closed) AS is_closed, any_value(o.is_won) AS is_won,
           any_value(o.is_closed_won) AS is_closed_won, any_value(o.close_date) AS close_date
    FROM b2b.opportunity_person r
    JOIN identity.person ip ON ip.person_key = r.person_key
    JOIN identity.opportunity io ON io.opportunity_key = r.opportunity_key
    JOIN profile.opportunity o ON o.opportunity_id = io.opportunity_id
    GROUP BY ip.person_id, o.opportunity_id, r.role"""


PERSON_OPPORTUNITY_COLUMNS = [
    c.text("person_id", "the person", nullable=False),
    c.text("opportunity_id", "the opportunity", nullable=False),
    c.text("role", "the person's role, e.g. Decision Maker"),
    c.flag("is_primary", "the person is the primary contact"),
    c.text("account_id", "the opportunity's unified account"),
    c.text("name", "opportunity name"),
    c.text("stage", "stage"),
    c.number("amount", "amount in its own currency"),
    c.text("currency", "ISO currency code"),
    c.number("amount_usd", "amount in USD"),
    c.flag("is_closed", "closed"),
    c.flag("is_won", "won"),
    c.flag("is_closed_won", "closed and won"),
    c.day("close_date", "close date"),
]


def person_opportunity() -> TableAsset:
    return TableAsset(
        key=table_key("profile.person_opportunity"),
        description="One row per (unified person, opportunity, role): the people with a "
        "role on each opportunity.",
        columns=PERSON_OPPORTUNITY_COLUMNS,
        select=PERSON_OPPORTUNITY_SQL,
    )
