"""The profile.* tables: one row per unified opportunity, account and person."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey

from b2b_assets.checks import profile_schemas as s
from b2b_assets.checks.model_schemas import RELATIONS
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.sql import literal
from b2b_assets.tables import TableAsset


def _key(layer: str, name: str) -> AssetKey:
    return AssetKey([layer, name])


def _preferred(column: str, tiebreak: str, by_updated: bool = True) -> str:
    """The column's value from the preferred record that has one: a Salesforce record first,
    then (optionally) the most recently updated, then the smallest `tiebreak` key. One hash
    aggregate (no per-group sort)."""
    updated = "'updated': coalesce(-epoch_us(updated_at), 9223372036854775807), "
    order = (
        f"{{'crm': source_type <> 'salesforce', {updated if by_updated else ''}'key': {tiebreak}}}"
    )
    return f"arg_min({column}, {order}) FILTER (WHERE {column} IS NOT NULL)"


def _sorted_set(column: str) -> str:
    """The distinct non-null values of a group, sorted (NULL when there are none)."""
    return f"list_sort(list_distinct(list({column}) FILTER (WHERE {column} IS NOT NULL)))"


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

MAX_FLAGS = 62  # known values a set can keep as bits of one BIGINT


def _flags(column: str, values: Sequence[str]) -> str:
    """Which of the known `values` a group's `column` takes, as the bits of one integer: far
    cheaper than a list aggregate (which is kept for more than `MAX_FLAGS` values). A value
    that is not known stops the build."""
    if len(values) > MAX_FLAGS:
        return _sorted_set(column)
    cases = " ".join(
        f"WHEN {column} = {literal(value)} THEN {1 << bit}"
        for bit, value in enumerate(sorted(values))
    )
    unknown = literal(f"{column}: a value outside {sorted(values)}")
    return f"bit_or(CASE WHEN {column} IS NULL THEN 0 {cases} ELSE error({unknown}) END)"


def _flag_list(flags: str, values: Sequence[str]) -> str:
    """The sorted list of the `values` whose bits are set in `flags` (see `_flags`)."""
    if len(values) > MAX_FLAGS:
        return f"coalesce({flags}, CAST([] AS VARCHAR[]))"
    if not values:
        return "CAST([] AS VARCHAR[])"
    known = ", ".join(literal(value) for value in sorted(values))
    return f"list_filter([{known}], lambda value, i: ({flags} >> (i - 1)) & 1 = 1)"


def _instances(config: SourcesConfig) -> list[str]:
    return [source.name for source in config.sources]


def _person_account_sql(config: SourcesConfig) -> str:
    """Relations and sources are sets of known values, kept as bits; roles are free text, so
    their list is built only for the pairs whose relations name more than one role."""
    instances = _instances(config)
    return f"""
    WITH relations AS (
        SELECT p.person_id, a.account_id, r.relation, r.roles, r.source_instance
        FROM b2b.account_person r
        JOIN identity.person p ON p.person_key = r.person_key
        JOIN identity.account a ON a.account_key = r.account_key
        WHERE coalesce(r.is_active, TRUE)
    ),
    pairs AS (
        SELECT person_id, account_id,
               {_flags("relation", RELATIONS)} AS relation_flags,
               {_flags("source_instance", instances)} AS instance_flags,
               min(roles) AS low_role, max(roles) AS high_role
        FROM relations GROUP BY person_id, account_id
    ),
    several_roles AS (
        SELECT person_id, account_id, {_sorted_set("roles")} AS roles
        FROM relations
        SEMI JOIN (SELECT person_id, account_id FROM pairs WHERE low_role <> high_role)
            USING (person_id, account_id)
        GROUP BY person_id, account_id
    )
    SELECT p.person_id, p.account_id,
           {_flag_list("relation_flags", RELATIONS)} AS relations,
           coalesce(r.roles, CASE WHEN p.low_role IS NOT NULL THEN [p.low_role] END) AS roles,
           {_flag_list("instance_flags", instances)} AS source_instances
    FROM pairs p LEFT JOIN several_roles r USING (person_id, account_id)"""


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


ACCOUNT_SQL = f"""
        WITH records AS (
            SELECT i.account_id, i.golden_id, a.*
            FROM identity.account i JOIN b2b.account a USING (account_key)
        ),
        base AS (
            SELECT account_id,
                   {_preferred("name", "account_key")} AS name,
                   {_preferred("website", "account_key", by_updated=False)} AS website,
                   {_preferred("domain", "account_key", by_updated=False)} AS domain,
                   {_preferred("industry", "account_key", by_updated=False)} AS industry,
                   {_preferred("billing_country", "account_key", by_updated=False)}
                       AS billing_country,
                   max(number_of_employees) AS number_of_employees,
                   max(annual_revenue) AS annual_revenue,
                   min(golden_id) AS golden_id,
                   list_sort(list(account_key)) AS source_keys,
                   {_sorted_set("source_instance")} AS source_instances
            FROM records GROUP BY account_id
        ),
        opportunities AS (
            SELECT account_id,
                   sum(amount_usd) FILTER (WHERE is_closed_won) AS closed_won_revenue,
                   count(*) FILTER (WHERE is_closed_won) AS closed_won_count,
                   sum(amount_usd) FILTER (WHERE NOT is_closed) AS open_pipeline,
                   count(*) FILTER (WHERE NOT is_closed) AS open_opportunity_count,
                   count(*) FILTER (WHERE is_closed AND NOT is_won) AS closed_lost_count,
                   count(*) AS opportunity_count,
                   max(close_date) FILTER (WHERE is_closed_won) AS last_closed_won_date
            FROM profile.opportunity WHERE account_id IS NOT NULL GROUP BY account_id
        ),
        breakdown AS (
            SELECT account_id,
                   to_json(list({{'source_instance': counted_from, 'closed_won_revenue': revenue,
                                 'opportunities': n}} ORDER BY counted_from))::VARCHAR
                       AS revenue_by_source
            FROM (SELECT account_id, counted_from,
                         coalesce(sum(amount_usd) FILTER (WHERE is_closed_won), 0) AS revenue,
                         count(*) AS n
                  FROM profile.opportunity WHERE account_id IS NOT NULL GROUP BY ALL)
            GROUP BY account_id
        ),
        people AS (
            SELECT pa.account_id, count(DISTINCT pa.person_id) AS people_count,
                   max(p.last_activity_at) AS last_activity_at
            FROM profile.person_account pa
            LEFT JOIN profile.person p USING (person_id)
            GROUP BY pa.account_id
        )
        SELECT b.account_id, b.name, coalesce(o.closed_won_revenue, 0) AS closed_won_revenue,
               b.source_keys, b.source_instances, b.golden_id, b.website, b.domain, b.industry,
               b.billing_country, b.number_of_employees, b.annual_revenue,
               coalesce(o.closed_won_count, 0) AS closed_won_count,
               coalesce(o.open_pipeline, 0) AS open_pipeline,
               coalesce(o.open_opportunity_count, 0) AS open_opportunity_count,
               coalesce(o.closed_lost_count, 0) AS closed_lost_count,
               coalesce(o.opportunity_count, 0) AS opportunity_count,
               o.last_closed_won_date,
               coalesce(p.people_count, 0) AS people_count, p.last_activity_at,
               coalesce(r.revenue_by_source, '[]') AS revenue_by_source
        FROM base b
        LEFT JOIN opportunities o USING (account_id)
        LEFT JOIN breakdown r USING (account_id)
        LEFT JOIN people p USING (account_id)"""


def _account_build(con, context):
    con.execute(f"CREATE OR REPLACE TABLE profile.account AS {ACCOUNT_SQL}")
    return {"as_of": context.resources.settings.as_of_instant().isoformat()}


def _person_traits_sql(config: SourcesConfig) -> str:
    """Who each unified person is: email, name, accounts, consent (everything but activity)."""
    instances = _instances(config)
    return f"""
    WITH records AS MATERIALIZED (
        SELECT i.person_id, i.email AS unified_email, p.*
        FROM identity.person i JOIN b2b.person p USING (person_key)
    ),
    -- One aggregate per kind of value: DuckDB aggregates several list states in one hash
    -- table much more slowly than it aggregates each on its own.
    base AS (
        SELECT person_id, any_value(unified_email) AS email,
               {_preferred("first_name", "person_key")} AS first_name,
               {_preferred("last_name", "person_key")} AS last_name,
               {_preferred("title", "person_key")} AS title,
               bool_or(email_opt_out) AS any_opt_out,
               {_flags("source_instance", instances)} AS instance_flags
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
        FROM records WHERE len(opt_out_reasons) > 0 GROUP BY person_id
    ),
    accounts AS (
        SELECT person_id, list_sort(list(account_id)) AS account_ids
        FROM profile.person_account GROUP BY person_id
    )
    SELECT b.person_id, b.email, coalesce(a.account_ids, []) AS account_ids,
           b.email IS NOT NULL AND NOT b.any_opt_out AS can_email,
           b.first_name, b.last_name, b.title, k.source_keys,
           {_flag_list("b.instance_flags", instances)} AS source_instances,
           coalesce(o.opt_out_reasons, []) AS opt_out_reasons
    FROM base b
    JOIN keys k USING (person_id)
    LEFT JOIN opt_outs o USING (person_id)
    LEFT JOIN accounts a USING (person_id)"""


PERSON_ACTIVITY_SQL = """
    SELECT i.person_id, max(e.last_activity_at) AS last_activity_at,
           sum(e.event_count)::BIGINT AS event_count
    FROM (
        SELECT person_key, max(occurred_at) AS last_activity_at, count(*) AS event_count
        FROM b2b.experience_event WHERE occurred_at <= $as_of GROUP BY person_key
    ) e
    JOIN identity.person i USING (person_key)
    GROUP BY i.person_id"""


def _person_activity_build(con, context):
    """Each unified person's events up to as-of: counted per source person, then summed."""
    as_of = context.resources.settings.as_of_instant()
    con.execute(
        f"CREATE OR REPLACE TABLE profile.person_activity AS {PERSON_ACTIVITY_SQL}",
        {"as_of": as_of},
    )
    return {"as_of": as_of.isoformat()}


PERSON_SQL = """
    SELECT t.*, a.last_activity_at, coalesce(a.event_count, 0) AS event_count
    FROM profile.person_traits t LEFT JOIN profile.person_activity a USING (person_id)"""


def _person_build(con, context):
    """The person profile: traits and activity side by side. New events rebuild the activity
    and this join, not the traits."""
    con.execute(f"CREATE OR REPLACE TABLE profile.person AS {PERSON_SQL}")
    return {"as_of": context.resources.settings.as_of_instant().isoformat()}


def profile_tables(config: SourcesConfig) -> list[TableAsset]:
    return [
        TableAsset(
            key=_key("profile", "opportunity"),
            description="One row per unified opportunity, counted once however many systems "
            "it arrives through; amounts in USD.",
            schema=s.OPPORTUNITY,
            select=OPPORTUNITY_SQL,
            origin=profile_tables,
        ),
        TableAsset(
            key=_key("profile", "person_account"),
            description="One row per (unified person, unified account) they belong to.",
            schema=s.PERSON_ACCOUNT,
            select=_person_account_sql(config),
            origin=_person_account_sql,
        ),
        TableAsset(
            key=_key("profile", "person_opportunity"),
            description="One row per (unified person, opportunity, role): the people with a "
            "role on each opportunity.",
            schema=s.PERSON_OPPORTUNITY,
            select=PERSON_OPPORTUNITY_SQL,
            origin=profile_tables,
        ),
        TableAsset(
            key=_key("profile", "account"),
            description="One row per unified account: revenue, pipeline, people, activity, "
            "per-source breakdown.",
            schema=s.ACCOUNT,
            build=_account_build,
            reads=[ACCOUNT_SQL],
            origin=_account_build,
        ),
        TableAsset(
            key=_key("profile", "person_traits"),
            description="One row per unified person: email, name, accounts, consent.",
            schema=s.PERSON_TRAITS,
            mostly_keys=True,
            select=_person_traits_sql(config),
            origin=_person_traits_sql,
        ),
        TableAsset(
            key=_key("profile", "person_activity"),
            description="One row per unified person with events: the latest and how many, "
            "up to B2B_AS_OF.",
            schema=s.PERSON_ACTIVITY,
            build=_person_activity_build,
            reads=[PERSON_ACTIVITY_SQL],
            origin=_person_activity_build,
        ),
        TableAsset(
            key=_key("profile", "person"),
            description="One row per unified person: email, accounts, consent, activity.",
            schema=s.PERSON,
            mostly_keys=True,
            build=_person_build,
            reads=[PERSON_SQL],
            origin=_person_build,
        ),
    ]
