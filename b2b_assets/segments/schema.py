"""What a segment may refer to: entities, their fields, and the relations between them.

Identifiers in compiled SQL come only from here; values are always bound as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from b2b_assets.columns import Column, by_name
from b2b_assets.model import engagement
from b2b_assets.profiles import accounts, opportunities, people
from b2b_assets.sql_deps import tables_read

FieldType = Literal["text", "number", "bool", "timestamp", "date"]


@dataclass(frozen=True)
class Field:
    """A field of a scope: its SQL column on the scope's alias, or an expression with `{a}` for
    the alias; and its type."""

    column: str
    type: FieldType
    description: str = ""

    def sql(self, alias: str) -> str:
        return self.column.format(a=alias) if "{a}" in self.column else f"{alias}.{self.column}"


@dataclass(frozen=True)
class Relation:
    """From an outer scope to related rows of a target scope.

    `source` is a FROM clause with `{t}` for the target alias (and `{r}` for a link alias);
    `correlate` ties it to the outer alias `{o}`.
    """

    target: str
    source: str
    correlate: str
    description: str
    time_field: str | None = None
    evidence: tuple[str, ...] = ()
    until_as_of: bool = False  # rows after B2B_AS_OF are never seen (events)
    order_by: str = ""

    def sql(self) -> str:
        """A query over the related rows, with placeholder aliases (to read its tables)."""
        return "SELECT * FROM " + self.source.format(t="t", r="r", r2="r2")


@dataclass(frozen=True)
class Scope:
    """An entity a condition can be about."""

    name: str
    fields: dict[str, Field]
    relations: dict[str, str] = field(default_factory=dict)


def fields(columns: Sequence[Column], *names: str) -> dict[str, Field]:
    """Segment fields over a table's columns, each with its column's type and meaning: `name`
    for the column of that name, `name=column` for a field named apart from its column."""
    declared = by_name(columns)
    out: dict[str, Field] = {}
    for entry in names:
        name, _, column_name = entry.partition("=")
        column = declared[column_name or name]
        if column.field_type is None:
            raise ValueError(f"{column.name} ({column.kind}) cannot be a segment field")
        out[name] = Field(column.name, column.field_type, column.meaning)  # type: ignore[arg-type]
    return out


PERSON_FIELDS = {
    **fields(
        people.PERSON_TRAITS_COLUMNS + people.ACTIVITY_COLUMNS,
        "person_id",
        "email",
        "can_email",
        "first_name",
        "last_name",
        "title",
        "event_count",
        "last_activity_at",
    ),
    "account_count": Field("len({a}.account_ids)", "number", "number of unified accounts"),
}
ACCOUNT_FIELDS = fields(
    accounts.ACCOUNT_COLUMNS,
    "account_id",
    "name",
    "closed_won_revenue",
    "closed_won_count",
    "open_pipeline",
    "open_opportunity_count",
    "closed_lost_count",
    "opportunity_count",
    "people_count",
    "industry",
    "domain",
    "website",
    "billing_country",
    "number_of_employees",
    "annual_revenue",
    "golden_id",
    "last_activity_at",
    "last_closed_won_date",
)
_OPPORTUNITY = (
    "opportunity_id",
    "name",
    "stage",
    "amount=amount_usd",
    "amount_original=amount",
    "currency",
    "is_closed",
    "is_won",
    "is_closed_won",
    "close_date",
)
OPPORTUNITY_FIELDS = fields(opportunities.OPPORTUNITY_COLUMNS, *_OPPORTUNITY)
ROLE_FIELDS = fields(opportunities.PERSON_OPPORTUNITY_COLUMNS, *_OPPORTUNITY, "role", "is_primary")
EVENT_FIELDS = fields(
    engagement.EXPERIENCE_EVENT_COLUMNS,
    "type=event_type",
    "type_id=event_type_id",
    "occurred_at",
    "page",
    "url",
    "source_instance",
)
_CAMPAIGN, _MEMBER = (
    by_name(engagement.CAMPAIGN_COLUMNS),
    by_name(engagement.CAMPAIGN_MEMBER_COLUMNS),
)
# The columns of a membership joined to its campaign (see _CAMPAIGN_MEMBERSHIP).
CAMPAIGN_MEMBERSHIP_COLUMNS = [
    *(_CAMPAIGN[name] for name in ("name", "type", "campaign_kind", "channel")),
    replace(_CAMPAIGN["status"], name="campaign_status"),
    replace(_MEMBER["status"], name="member_status"),
    _MEMBER["has_responded"],
    _CAMPAIGN["source_instance"],
    _CAMPAIGN["start_date"],
]
CAMPAIGN_FIELDS = fields(
    CAMPAIGN_MEMBERSHIP_COLUMNS,
    "name",
    "type",
    "kind=campaign_kind",
    "channel",
    "campaign_status",
    "status=member_status",
    "responded=has_responded",
    "start_date",
    "source_instance",
)
LIST_FIELDS = fields(engagement.MARKETING_LIST_COLUMNS, "name", "source_instance")

SCOPES: dict[str, Scope] = {
    "person": Scope(
        "person",
        PERSON_FIELDS,
        {
            "accounts": "person_accounts",
            "opportunities": "person_opportunities",
            "account_opportunities": "person_account_opportunities",
            "events": "person_events",
            "campaigns": "person_campaigns",
            "lists": "person_lists",
        },
    ),
    "account": Scope(
        "account",
        ACCOUNT_FIELDS,
        {
            "people": "account_people",
            "opportunities": "account_opportunities",
            "events": "account_events",
        },
    ),
    "opportunity": Scope("opportunity", ROLE_FIELDS),
    "account_opportunity": Scope("account_opportunity", OPPORTUNITY_FIELDS),
    "event": Scope("event", EVENT_FIELDS),
    "campaign": Scope("campaign", CAMPAIGN_FIELDS),
    "list": Scope("list", LIST_FIELDS),
}

ENTITY_TABLES = {"person": "profile.person", "account": "profile.account"}
ENTITY_KEYS = {"person": "person_id", "account": "account_id"}

_EVENTS_OF_PERSON = (
    "b2b.experience_event {t} JOIN identity.person {r} ON {r}.person_key = {t}.person_key"
)
_CAMPAIGN_MEMBERSHIP = (
    "(SELECT m.person_key, c.name, c.type, c.campaign_kind, c.channel, c.status AS campaign_status,"
    " m.status AS member_status, m.has_responded, c.source_instance, c.start_date"
    " FROM b2b.campaign_member m JOIN b2b.campaign c ON c.campaign_key = m.campaign_key) {t}"
    " JOIN identity.person {r} ON {r}.person_key = {t}.person_key"
)
_LIST_MEMBERSHIP = (
    "(SELECT m.person_key, l.name, l.source_instance FROM b2b.marketing_list_member m"
    " JOIN b2b.marketing_list l ON l.list_key = m.list_key) {t}"
    " JOIN identity.person {r} ON {r}.person_key = {t}.person_key"
)

RELATIONS: dict[str, Relation] = {
    "person_accounts": Relation(
        "account",
        "profile.person_account {r} JOIN profile.account {t} ON {t}.account_id = {r}.account_id",
        "{r}.person_id = {o}.person_id",
        "the person's unified accounts",
        evidence=("account_id", "name", "closed_won_revenue"),
        order_by="{t}.closed_won_revenue DESC, {t}.account_id",
    ),
    "person_opportunities": Relation(
        "opportunity",
        "profile.person_opportunity {t}",
        "{t}.person_id = {o}.person_id",
        "opportunities the person has a role on (contact roles, opportunity roles)",
        time_field="close_date",
        evidence=("opportunity_id", "name", "stage", "amount_usd", "role"),
        order_by="{t}.close_date DESC NULLS LAST, {t}.opportunity_id",
    ),
    "person_account_opportunities": Relation(
        "account_opportunity",
        "profile.person_account {r} JOIN profile.opportunity {t} ON {t}.account_id = {r}.account_id",
        "{r}.person_id = {o}.person_id",
        "opportunities of the person's accounts",
        time_field="close_date",
        evidence=("opportunity_id", "name", "stage", "amount_usd", "account_id"),
        order_by="{t}.close_date DESC NULLS LAST, {t}.opportunity_id",
    ),
    "person_events": Relation(
        "event",
        _EVENTS_OF_PERSON,
        "{r}.person_id = {o}.person_id",
        "the person's events (Marketo activities)",
        time_field="occurred_at",
        until_as_of=True,
        evidence=("occurred_at", "event_type", "url", "source_instance"),
        order_by="{t}.occurred_at DESC, {t}.event_key",
    ),
    "person_campaigns": Relation(
        "campaign",
        _CAMPAIGN_MEMBERSHIP,
        "{r}.person_id = {o}.person_id",
        "campaigns and programs the person is a member of",
        time_field="start_date",
        evidence=("name", "member_status", "has_responded"),
        order_by="{t}.name",
    ),
    "person_lists": Relation(
        "list",
        _LIST_MEMBERSHIP,
        "{r}.person_id = {o}.person_id",
        "static lists the person is on",
        evidence=("name", "source_instance"),
        order_by="{t}.name",
    ),
    "account_people": Relation(
        "person",
        "profile.person_account {r} JOIN profile.person {t} ON {t}.person_id = {r}.person_id",
        "{r}.account_id = {o}.account_id",
        "the account's people",
        evidence=("person_id", "email"),
        order_by="{t}.person_id",
    ),
    "account_opportunities": Relation(
        "account_opportunity",
        "profile.opportunity {t}",
        "{t}.account_id = {o}.account_id",
        "the account's opportunities",
        time_field="close_date",
        evidence=("opportunity_id", "name", "stage", "amount_usd"),
        order_by="{t}.close_date DESC NULLS LAST, {t}.opportunity_id",
    ),
    "account_events": Relation(
        "event",
        _EVENTS_OF_PERSON + " JOIN profile.person_account {r2} ON {r2}.person_id = {r}.person_id",
        "{r2}.account_id = {o}.account_id",
        "events of the account's people",
        time_field="occurred_at",
        until_as_of=True,
        evidence=("occurred_at", "event_type", "url", "person_key"),
        order_by="{t}.occurred_at DESC, {t}.event_key",
    ),
}

# The tables each entity and relation reads, from its SQL: an audience depends on them.
TABLES_READ = {
    **{entity: [table] for entity, table in ENTITY_TABLES.items()},
    **{
        name: sorted(f"{schema}.{table}" for schema, table in tables_read(relation.sql()))
        for name, relation in RELATIONS.items()
    },
}
