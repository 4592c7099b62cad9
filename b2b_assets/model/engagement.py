"""The b2b tables of engagement: campaigns, lists, their members, and experience events."""

from __future__ import annotations

from b2b_assets import columns as c
from b2b_assets.model.appended import RawPart, added_rows_scope, build_by_load, whole_select
from b2b_assets.model.sql_parts import SOURCE_INSTANCE, empty, key, raw, union
from b2b_assets.sources.catalog import ACTIVITY_TYPES
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset, table_key

CAMPAIGN_KINDS = ["salesforce_campaign", "marketo_program"]
CAMPAIGN_COLUMNS = [
    c.key("campaign_key", "the campaign or program"),
    SOURCE_INSTANCE,
    c.text("campaign_kind", "salesforce_campaign or marketo_program", False, one_of=CAMPAIGN_KINDS),
    c.text("source_id", "the record's id in its source", nullable=False),
    c.text("name", "campaign or program name"),
    c.text("type", "type"),
    c.text("status", "the campaign's own status"),
    c.text("channel", "program channel"),
    c.day("start_date", "the campaign's start date (Marketo programs: none)"),
    c.day("end_date", "the campaign's end date"),
]


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
        key=table_key("b2b.campaign"),
        description="One row per campaign: Salesforce campaigns and Marketo programs.",
        columns=CAMPAIGN_COLUMNS,
        select=union(parts, empty(CAMPAIGN_COLUMNS)),
    )


CAMPAIGN_MEMBER_COLUMNS = [
    c.key("member_key", "the membership record"),
    SOURCE_INSTANCE,
    c.key("campaign_key", "the campaign or program", unique=False),
    c.key("person_key", "the member", unique=False, nullable=True),
    c.text("status", "the member's status, e.g. Attended"),
    c.flag("has_responded", "responded / reached success", nullable=True),
]


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
        key=table_key("b2b.campaign_member"),
        description="One row per campaign membership: campaign members and program members.",
        columns=CAMPAIGN_MEMBER_COLUMNS,
        select=union(parts, empty(CAMPAIGN_MEMBER_COLUMNS)),
    )


MARKETING_LIST_COLUMNS = [
    c.key("list_key", "the list"),
    SOURCE_INSTANCE,
    c.text("source_id", "the list's id", nullable=False),
    c.text("name", "static list name"),
]


def marketing_list(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("id", src.name)} AS list_key, '{src.name}' AS source_instance,
                   id AS source_id, name
            FROM {raw(src, "static_lists")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=table_key("b2b.marketing_list"),
        description="One row per marketing list: Marketo static lists.",
        columns=MARKETING_LIST_COLUMNS,
        select=union(parts, empty(MARKETING_LIST_COLUMNS)),
    )


MARKETING_LIST_MEMBER_COLUMNS = [
    c.key("member_key", "the membership"),
    SOURCE_INSTANCE,
    c.key("list_key", "the list", unique=False),
    c.key("person_key", "the member", unique=False),
]


def marketing_list_member(config: SourcesConfig) -> TableAsset:
    parts = [
        f"""SELECT {key("list_id || ':' || lead_id", src.name)} AS member_key,
                   '{src.name}' AS source_instance, {key("list_id", src.name)} AS list_key,
                   {key("lead_id", src.name)} AS person_key
            FROM {raw(src, "static_list_members")}"""
        for src in config.of_type("marketo")
    ]
    return TableAsset(
        key=table_key("b2b.marketing_list_member"),
        description="One row per person on a marketing list: Marketo static list members.",
        columns=MARKETING_LIST_MEMBER_COLUMNS,
        select=union(parts, empty(MARKETING_LIST_MEMBER_COLUMNS)),
    )


def _activity_type_name() -> str:
    cases = " ".join(f"WHEN {type_id} THEN '{name}'" for type_id, name in ACTIVITY_TYPES.items())
    return f"CASE activity_type_id {cases} ELSE 'activity_' || activity_type_id END"


EXPERIENCE_EVENT_COLUMNS = [
    c.key("event_key", "the activity"),
    SOURCE_INSTANCE,
    c.key("person_key", "the lead (may be unknown to leads)", unique=False),
    c.text("event_type", "visit_webpage, fill_out_form, click_link, ...", nullable=False),
    c.integer("event_type_id", "Marketo activity type id", nullable=False),
    c.moment("occurred_at", "when it happened", nullable=False),
    c.text("page", "the page (primary attribute value)"),
    c.text("url", "the Webpage URL attribute, else the page"),
    c.text("primary_attribute_value_id", "primary attribute value id"),
]


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
            empty(EXPERIENCE_EVENT_COLUMNS),
            changed_column="person_key",
        )

    return TableAsset(
        key=table_key("b2b.experience_event"),
        description="One row per experience event: Marketo activities, typed (the full "
        "`attributes` JSON stays in the raw table). New activity files are taken in on their "
        "own: the events of earlier files are not read again.",
        columns=EXPERIENCE_EVENT_COLUMNS,
        select=whole_select(parts, empty(EXPERIENCE_EVENT_COLUMNS)),
        build=build,
        scope=added_rows_scope("event_key"),
    )
