"""The account profile: revenue rolled up once across systems, pipeline, people, activity."""

from __future__ import annotations

from b2b_assets import columns as c
from b2b_assets import generations
from b2b_assets.profiles.aggregates import preference, preferred, sorted_set
from b2b_assets.tables import TableAsset, table_key

ACCOUNT_SQL = f"""
        WITH records AS (
            SELECT i.account_id, i.golden_id, a.*,
                   {preference("i.account_id", "a.account_key", of="a.")} AS _by_update,
                   {preference("i.account_id", "a.account_key", by_updated=False, of="a.")}
                       AS _by_source
            FROM identity.account i JOIN b2b.account a USING (account_key)
        ),
        base AS (
            SELECT account_id,
                   {preferred("name", "_by_update")} AS name,
                   {preferred("website", "_by_source")} AS website,
                   {preferred("domain", "_by_source")} AS domain,
                   {preferred("industry", "_by_source")} AS industry,
                   {preferred("billing_country", "_by_source")} AS billing_country,
                   max(number_of_employees) AS number_of_employees,
                   max(annual_revenue) AS annual_revenue,
                   min(golden_id) AS golden_id,
                   list_sort(list(account_key)) AS source_keys,
                   {sorted_set("source_instance")} AS source_instances
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
        matches AS (
            SELECT a.account_id,
                   list(l.left_key || ' ~ ' || l.right_key || ' (' || l.rule || '): '
                        || l.evidence ORDER BY l.left_key, l.right_key) AS matched_by
            FROM identity.account_link l JOIN identity.account a ON a.account_key = l.left_key
            WHERE l.rule IN ('probabilistic', 'override')
            GROUP BY a.account_id
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
               coalesce(r.revenue_by_source, '[]') AS revenue_by_source, m.matched_by
        FROM base b
        LEFT JOIN opportunities o USING (account_id)
        LEFT JOIN breakdown r USING (account_id)
        LEFT JOIN people p USING (account_id)
        LEFT JOIN matches m USING (account_id)"""


def _account_build(con, context):
    """Whole, or in place: when only people's activity changed since the last build, just the
    last activity of their accounts is brought up to date."""
    table = "profile.account"

    def update(accounts: str) -> None:
        con.execute(
            f"""UPDATE {table} AS a SET last_activity_at = x.last_activity_at
                FROM (SELECT pa.account_id, max(p.last_activity_at) AS last_activity_at
                      FROM profile.person_account pa
                      LEFT JOIN profile.person p USING (person_id)
                      WHERE pa.account_id IN ({accounts})
                      GROUP BY pa.account_id) AS x
                WHERE a.account_id = x.account_id"""
        )

    updated = generations.follow_in_place(
        con,
        table,
        ACCOUNT_SQL,
        "profile.person",
        [
            "b2b.account",
            "identity.account",
            "identity.account_link",
            "profile.opportunity",
            "profile.person_account",
        ],
        "SELECT DISTINCT account_id FROM profile.person_account WHERE person_id IN ({changed})",
        update,
    )
    return {
        "as_of": context.resources.settings.as_of_instant().isoformat(),
        "build": "whole" if updated is None else "in place",
    }


ACCOUNT_COLUMNS = [
    c.text(
        "account_id", "the unified account id (the MDM golden id where there is one)", False, True
    ),
    c.text("name", "name (the CRM's where present)"),
    c.number(
        "closed_won_revenue",
        "closed-won revenue in USD across all systems, each opportunity once (credit notes "
        "with negative amounts count as given)",
        nullable=False,
    ),
    c.text_list("source_keys", "the source account records unified"),
    c.text_list("source_instances", "sources the account appears in"),
    c.text("golden_id", "MDM golden id"),
    c.text("website", "website"),
    c.text("domain", "website domain, lower case, without www"),
    c.text("industry", "industry"),
    c.text("billing_country", "billing country"),
    c.integer("number_of_employees", "number of employees as reported"),
    c.number("annual_revenue", "annual revenue as reported"),
    c.count("closed_won_count", "closed-won opportunities"),
    c.number("open_pipeline", "open opportunity amount in USD", nullable=False),
    c.count("open_opportunity_count", "open opportunities"),
    c.count("closed_lost_count", "closed-lost opportunities"),
    c.count("opportunity_count", "opportunities"),
    c.day("last_closed_won_date", "latest close date of a won opportunity"),
    c.count("people_count", "people related to the account"),
    c.moment("last_activity_at", "latest event of its people, up to as_of"),
    c.Column("revenue_by_source", "json", "closed-won revenue per source instance", nullable=False),
    c.text_list(
        "matched_by",
        "links of its records found by account matching, with their evidence",
        nullable=True,
    ),
]


def account() -> TableAsset:
    return TableAsset(
        key=table_key("profile.account"),
        description="One row per unified account: revenue, pipeline, people, activity, "
        "per-source breakdown.",
        columns=ACCOUNT_COLUMNS,
        select=ACCOUNT_SQL,
        build=_account_build,
        origin=_account_build,
    )
