"""The person profiles: accounts, traits and consent, activity up to as_of, side by side."""

from __future__ import annotations

from typing import Any

from b2b_assets import columns as c
from b2b_assets import generations
from b2b_assets.model.accounts import EMAIL_DOMAIN, RELATIONS
from b2b_assets.profiles.aggregates import (
    flag_list,
    flags,
    instance_names,
    preference,
    preferred,
    sorted_set,
)
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset, table_key


def _person_account_sql(config: SourcesConfig) -> str:
    """Relations and sources are sets of known values, kept as bits; roles are free text, so
    their list is built only for the pairs whose relations name more than one role."""
    instances = instance_names(config)
    relations = _relations(config)
    by_domain = (
        f"""
        UNION ALL
        SELECT p.person_id, l.account_id, '{EMAIL_DOMAIN}', CAST(NULL AS VARCHAR),
               l.source_instance
        FROM identity.lead_account l JOIN identity.person p ON p.person_key = l.person_key"""
        if config.matching is not None
        else ""
    )
    return f"""
    WITH relations AS (
        SELECT p.person_id, a.account_id, r.relation, r.roles, r.source_instance
        FROM b2b.account_person r
        JOIN identity.person p ON p.person_key = r.person_key
        JOIN identity.account a ON a.account_key = r.account_key
        WHERE coalesce(r.is_active, TRUE){by_domain}
    ),
    pairs AS (
        SELECT person_id, account_id,
               {flags("relation", relations)} AS relation_flags,
               {flags("source_instance", instances)} AS instance_flags,
               min(roles) AS low_role, max(roles) AS high_role
        FROM relations GROUP BY person_id, account_id
    ),
    several_roles AS (
        SELECT person_id, account_id, {sorted_set("roles")} AS roles
        FROM relations
        SEMI JOIN (SELECT person_id, account_id FROM pairs WHERE low_role <> high_role)
            USING (person_id, account_id)
        GROUP BY person_id, account_id
    )
    SELECT p.person_id, p.account_id,
           {flag_list("relation_flags", relations)} AS relations,
           coalesce(r.roles, CASE WHEN p.low_role IS NOT NULL THEN [p.low_role] END) AS roles,
           {flag_list("instance_flags", instances)} AS source_instances
    FROM pairs p LEFT JOIN several_roles r USING (person_id, account_id)"""


def _relations(config: SourcesConfig) -> tuple[str, ...]:
    """How people relate to accounts: the records' relations, and with account matching a
    lead's email domain."""
    return (*RELATIONS, EMAIL_DOMAIN) if config.matching is not None else RELATIONS


def person_account(config: SourcesConfig) -> TableAsset:
    return TableAsset(
        key=table_key("profile.person_account"),
        description="One row per (unified person, unified account) they belong to.",
        columns=[
            c.text("person_id", "the person", nullable=False),
            c.text("account_id", "an account of the person", nullable=False),
            c.text_list("relations", "how they are related"),
            c.text_list("roles", "roles in the account", nullable=True),
            c.text_list("source_instances", "sources that relate them"),
        ],
        unique=["person_id", "account_id"],
        select=_person_account_sql(config),
        origin=_person_account_sql,
    )


def _person_traits_sql(config: SourcesConfig) -> str:
    """Who each unified person is: email, name, accounts, consent (everything but activity)."""
    instances = instance_names(config)
    return f"""
    WITH records AS MATERIALIZED (
        SELECT i.person_id, i.email AS unified_email, p.*,
               {preference("i.person_id", "p.person_key", of="p.")} AS _preference
        FROM identity.person i JOIN b2b.person p USING (person_key)
    ),
    -- One aggregate per kind of value: DuckDB aggregates several list states in one hash
    -- table much more slowly than it aggregates each on its own.
    base AS (
        SELECT person_id, any_value(unified_email) AS email,
               {preferred("first_name", "_preference")} AS first_name,
               {preferred("last_name", "_preference")} AS last_name,
               {preferred("title", "_preference")} AS title,
               bool_or(email_opt_out) AS any_opt_out,
               {flags("source_instance", instances)} AS instance_flags
        FROM records GROUP BY person_id
    ),
    keys AS (
        SELECT person_id, list_sort(list(person_key)) AS source_keys
        FROM records GROUP BY person_id
    ),
    opt_outs AS (
        SELECT person_id,
               list_sort(list_distinct(flatten(list(list_transform(opt_out_reasons,
                        lambda r: r || '@' || source_instance))))) AS opt_out_reasons
        FROM records WHERE array_length(opt_out_reasons) > 0 GROUP BY person_id
    ),
    accounts AS (
        SELECT person_id, list_sort(list(account_id)) AS account_ids
        FROM profile.person_account GROUP BY person_id
    )
    SELECT b.person_id, b.email, coalesce(a.account_ids, []) AS account_ids,
           b.email IS NOT NULL AND NOT b.any_opt_out AS can_email,
           b.first_name, b.last_name, b.title, k.source_keys,
           {flag_list("b.instance_flags", instances)} AS source_instances,
           coalesce(o.opt_out_reasons, []) AS opt_out_reasons
    FROM base b
    JOIN keys k USING (person_id)
    LEFT JOIN opt_outs o USING (person_id)
    LEFT JOIN accounts a USING (person_id)"""


PERSON_TRAITS_COLUMNS = [
    c.text("person_id", "the unified person id", nullable=False, unique=True),
    c.text("email", "normalized email (trimmed, lower-case; null if none)"),
    c.text_list("account_ids", "unified accounts of the person"),
    c.flag("can_email", "consent to email: false if any record opted out, or no email"),
    c.text("first_name", "first name"),
    c.text("last_name", "last name"),
    c.text("title", "job title"),
    c.text_list("source_keys", "the source person records unified"),
    c.text_list("source_instances", "sources the person appears in"),
    c.text_list("opt_out_reasons", "consent flags set, as flag@instance"),
]
ACTIVITY_COLUMNS = [
    c.moment("last_activity_at", "latest event up to as_of"),
    c.count("event_count", "events up to as_of"),
]


def person_traits(config: SourcesConfig) -> TableAsset:
    return TableAsset(
        key=table_key("profile.person_traits"),
        description="One row per unified person: email, name, accounts, consent.",
        columns=PERSON_TRAITS_COLUMNS,
        mostly_keys=True,
        select=_person_traits_sql(config),
        origin=_person_traits_sql,
    )


def _activity_sql(people: str | None = None) -> str:
    """Each unified person's events up to $as_of: counted per source person, then summed;
    only for the person ids of the query `people`, if given."""
    of_people = (
        f"AND person_key IN (SELECT person_key FROM identity.person WHERE person_id IN ({people}))"
        if people
        else ""
    )
    return f"""
    SELECT i.person_id, max(e.last_activity_at) AS last_activity_at,
           sum(e.event_count)::BIGINT AS event_count
    FROM (
        SELECT person_key, max(occurred_at) AS last_activity_at, count(*) AS event_count
        FROM b2b.experience_event WHERE occurred_at <= $as_of {of_people} GROUP BY person_key
    ) e
    JOIN identity.person i USING (person_key)
    GROUP BY i.person_id"""


PERSON_ACTIVITY_SQL = _activity_sql()


def _person_activity_build(con, context):
    """Whole, or in place: when only new events arrived since the last build (same people,
    same as-of), just the people they belong to (before and after) are counted again."""
    as_of = context.resources.settings.as_of_instant()
    table = "profile.person_activity"

    def recount(people: str) -> None:
        con.execute(f"DELETE FROM {table} WHERE person_id IN ({people})")
        con.execute(f"INSERT INTO {table} {_activity_sql(people)}", {"as_of": as_of})

    recounted = generations.follow_in_place(
        con,
        table,
        PERSON_ACTIVITY_SQL,
        "b2b.experience_event",
        ["identity.person"],
        "SELECT DISTINCT person_id FROM identity.person WHERE person_key IN ({changed})",
        recount,
        setting=as_of.isoformat(),
        params={"as_of": as_of},
    )
    return {"as_of": as_of.isoformat(), **_build_kind(recounted, "people_recounted")}


def _build_kind(touched: int | None, counted_as: str) -> dict[str, Any]:
    """How a build went, as metadata: whole, or in place and how many keys it touched."""
    if touched is None:
        return {"build": "whole"}
    return {"build": "in place", counted_as: touched}


def person_activity() -> TableAsset:
    return TableAsset(
        key=table_key("profile.person_activity"),
        description="One row per unified person with events: the latest and how many, up to "
        "as_of. New events recount only the people they belong to.",
        columns=[PERSON_TRAITS_COLUMNS[0], *ACTIVITY_COLUMNS],
        select=PERSON_ACTIVITY_SQL,
        build=_person_activity_build,
        origin=_person_activity_build,
    )


PERSON_SQL = """
    SELECT t.*, a.last_activity_at, coalesce(a.event_count, 0) AS event_count
    FROM profile.person_traits t LEFT JOIN profile.person_activity a USING (person_id)"""


def _person_build(con, context):
    """The person profile: traits and activity side by side. When only activity changed since
    the last build, the changed people's activity is updated in place."""
    table = "profile.person"

    def update(people: str) -> None:
        con.execute(
            f"""UPDATE {table} AS p
                SET last_activity_at = a.last_activity_at,
                    event_count = coalesce(a.event_count, 0)
                FROM (SELECT c.key AS person_id, a.last_activity_at, a.event_count
                      FROM ({people}) c
                      LEFT JOIN profile.person_activity a ON a.person_id = c.key) AS a
                WHERE p.person_id = a.person_id"""
        )

    updated = generations.follow_in_place(
        con,
        table,
        PERSON_SQL,
        "profile.person_activity",
        ["profile.person_traits"],
        "{changed}",
        update,
    )
    return {
        "as_of": context.resources.settings.as_of_instant().isoformat(),
        **_build_kind(updated, "people_updated"),
    }


def person() -> TableAsset:
    return TableAsset(
        key=table_key("profile.person"),
        description="One row per unified person: email, accounts, consent, activity.",
        columns=[*PERSON_TRAITS_COLUMNS, *ACTIVITY_COLUMNS],
        mostly_keys=True,
        select=PERSON_SQL,
        build=_person_build,
        origin=_person_build,
    )
