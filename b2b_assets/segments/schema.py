"""What a segment may refer to: entities, their fields, and the relations between them.

Identifiers in compiled SQL come only from here; values are always bound as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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


@dataclass(frozen=True)
class Scope:
    """An entity a condition can be about."""

    name: str
    fields: dict[str, Field]
    relations: dict[str, str] = field(default_factory=dict)


def _f(column: str, kind: FieldType, description: str = "") -> Field:
    return Field(column, kind, description)


PERSON_FIELDS = {
    "person_id": _f("person_id", "text", "the unified person id"),
    "email": _f("email", "text", "normalized email"),
    "can_email": _f("can_email", "bool", "consent to email (least permissive across sources)"),
    "first_name": _f("first_name", "text"),
    "last_name": _f("last_name", "text"),
    "title": _f("title", "text", "job title"),
    "event_count": _f("event_count", "number", "events up to B2B_AS_OF"),
    "last_activity_at": _f("last_activity_at", "timestamp", "latest event up to B2B_AS_OF"),
    "account_count": _f("len({a}.account_ids)", "number", "number of accounts of the person"),
}
ACCOUNT_FIELDS = {
    "account_id": _f("account_id", "text", "the unified account id"),
    "name": _f("name", "text"),
    "closed_won_revenue": _f(
        "closed_won_revenue", "number", "closed-won revenue in USD across all systems"
    ),
    "closed_won_count": _f("closed_won_count", "number"),
    "open_pipeline": _f("open_pipeline", "number", "open opportunity amount in USD"),
    "open_opportunity_count": _f("open_opportunity_count", "number"),
    "closed_lost_count": _f("closed_lost_count", "number"),
    "opportunity_count": _f("opportunity_count", "number"),
    "people_count": _f("people_count", "number"),
    "industry": _f("industry", "text"),
    "domain": _f("domain", "text", "website domain without www"),
    "website": _f("website", "text"),
    "billing_country": _f("billing_country", "text"),
    "number_of_employees": _f("number_of_employees", "number"),
    "annual_revenue": _f("annual_revenue", "number"),
    "golden_id": _f("golden_id", "text", "MDM golden id"),
    "last_activity_at": _f("last_activity_at", "timestamp"),
    "last_closed_won_date": _f("last_closed_won_date", "date"),
}
OPPORTUNITY_FIELDS = {
    "opportunity_id": _f("opportunity_id", "text"),
    "name": _f("name", "text"),
    "stage": _f("stage", "text"),
    "amount": _f("amount_usd", "number", "amount in USD"),
    "amount_original": _f("amount", "number", "amount in its own currency"),
    "currency": _f("currency", "text"),
    "is_closed": _f("is_closed", "bool"),
    "is_won": _f("is_won", "bool"),
    "is_closed_won": _f("is_closed_won", "bool", "closed and won"),
    "close_date": _f("close_date", "date"),
}
ROLE_FIELDS = {
    **OPPORTUNITY_FIELDS,
    "role": _f("role", "text", "the person's role, e.g. Decision Maker"),
    "is_primary": _f("is_primary", "bool", "the person is the primary contact"),
}
EVENT_FIELDS = {
    "type": _f("event_type", "text", "visit_webpage, fill_out_form, click_link, ..."),
    "type_id": _f("event_type_id", "number", "Marketo activity type id"),
    "occurred_at": _f("occurred_at", "timestamp"),
    "page": _f("page", "text", "the page (primary attribute value)"),
    "url": _f("url", "text", "the Webpage URL attribute, else the page"),
    "source_instance": _f("source_instance", "text"),
}
CAMPAIGN_FIELDS = {
    "name": _f("name", "text", "campaign or program name"),
    "type": _f("type", "text"),
    "kind": _f("campaign_kind", "text", "salesforce_campaign or marketo_program"),
    "channel": _f("channel", "text"),
    "campaign_status": _f("campaign_status", "text", "the campaign's own status"),
    "status": _f("member_status", "text", "the member's status, e.g. Attended"),
    "responded": _f("has_responded", "bool", "responded / reached success"),
    "start_date": _f("start_date", "date", "the campaign's start date (Marketo programs: none)"),
    "source_instance": _f("source_instance", "text"),
}
LIST_FIELDS = {
    "name": _f("name", "text", "static list name"),
    "source_instance": _f("source_instance", "text"),
}

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

TABLES_READ = {
    "person": ["profile.person"],
    "account": ["profile.account"],
    "person_accounts": ["profile.person_account", "profile.account"],
    "person_opportunities": ["profile.person_opportunity"],
    "person_account_opportunities": ["profile.person_account", "profile.opportunity"],
    "person_events": ["b2b.experience_event", "identity.person"],
    "person_campaigns": ["b2b.campaign_member", "b2b.campaign", "identity.person"],
    "person_lists": ["b2b.marketing_list_member", "b2b.marketing_list", "identity.person"],
    "account_people": ["profile.person_account", "profile.person"],
    "account_opportunities": ["profile.opportunity"],
    "account_events": ["b2b.experience_event", "identity.person", "profile.person_account"],
}
