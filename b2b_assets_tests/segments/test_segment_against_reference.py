"""The segment language (docs/segments.md): the compiled SQL against the plain-Python
reference evaluator (`segment_reference.py`) on random data and random segments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from b2b_assets.segments.language import parse_segment
from b2b_assets_tests.segments.segment_reference import reference_members
from b2b_assets_tests.segments.segment_world import (
    AS_OF,
    INJECTION,
    MIDNIGHT,
    World,
    insert_rows,
    run_sql,
)

TEXT_POOL = [
    "Pricing",
    "www.bodea.com/PRICING",
    "/pricing/x",
    "O'Brien",
    "50%_off",
    "",
    "CTO",
    "cto",
    "Webinar Q4",
    "Customers",
    "Décision",
]
TEXT_VALUES = [
    "pric",
    "PRIC",
    "www",
    "o'b",
    "%",
    "_",
    "",
    "CTO",
    "cto",
    "Customers",
    "webinar",
    "/pricing",
    "Pricing",
    "déc",
    "O'Brien",
    "Webinar Q4",
    "www.bodea.com/PRICING",
    INJECTION,
]
MOMENTS = [
    AS_OF,
    AS_OF - timedelta(seconds=1),
    AS_OF + timedelta(seconds=1),
    AS_OF - timedelta(minutes=30),
    AS_OF - timedelta(hours=6),
    AS_OF - timedelta(days=1),
    AS_OF - timedelta(days=7),
    AS_OF - timedelta(days=14),
    AS_OF - timedelta(days=30),
    AS_OF - timedelta(days=30) + timedelta(seconds=1),
    AS_OF - timedelta(days=90),
    AS_OF - timedelta(days=365),
    datetime(2026, 10, 1, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 11, 16, tzinfo=UTC),
    datetime(2026, 11, 9, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2025, 12, 31, 12, tzinfo=UTC),
    # the same edges for the other as_of of the property test, midnight
    MIDNIGHT,
    MIDNIGHT - timedelta(days=1),
    MIDNIGHT - timedelta(days=7),
    MIDNIGHT - timedelta(days=30),
    MIDNIGHT - timedelta(days=30) + timedelta(seconds=1),
]
DATES = [
    date(2026, 11, 18),
    date(2026, 11, 17),
    date(2026, 11, 19),
    date(2026, 11, 8),
    date(2026, 10, 1),
    date(2026, 11, 1),
    date(2026, 10, 31),
    date(2026, 1, 1),
    date(2025, 11, 18),
    date(2025, 11, 19),
    date(2025, 6, 1),
    date(2026, 11, 11),  # 7 days before MIDNIGHT
    date(2026, 11, 4),
    date(2026, 10, 19),  # 30 days before MIDNIGHT
]
AMOUNTS = [0.0, 1.0, 50_000.0, 100_000.0, 250_000.0, 1_000_000.0]
SEGMENTS_PER_EXAMPLE = 4
EVENT_TYPES = ["visit_webpage", "open_email", "fill_out_form", "click_link", "activity_104"]

# The documented fields (docs/segments.md), by type
DOC_FIELDS: dict[str, dict[str, str]] = {
    "person": {
        "person_id": "text",
        "email": "text",
        "can_email": "bool",
        "first_name": "text",
        "last_name": "text",
        "title": "text",
        "event_count": "number",
        "last_activity_at": "timestamp",
        "account_count": "number",
    },
    "account": {
        "account_id": "text",
        "name": "text",
        "industry": "text",
        "domain": "text",
        "website": "text",
        "billing_country": "text",
        "golden_id": "text",
        "closed_won_revenue": "number",
        "closed_won_count": "number",
        "open_opportunity_count": "number",
        "closed_lost_count": "number",
        "opportunity_count": "number",
        "open_pipeline": "number",
        "people_count": "number",
        "number_of_employees": "number",
        "annual_revenue": "number",
        "last_activity_at": "timestamp",
        "last_closed_won_date": "date",
    },
    "opportunity": {
        "opportunity_id": "text",
        "name": "text",
        "stage": "text",
        "amount": "number",
        "amount_original": "number",
        "currency": "text",
        "is_closed": "bool",
        "is_won": "bool",
        "is_closed_won": "bool",
        "close_date": "date",
    },
    "event": {
        "type": "event_type",
        "type_id": "number",
        "occurred_at": "timestamp",
        "page": "text",
        "url": "text",
        "source_instance": "text",
    },
    "campaign": {
        "name": "text",
        "type": "text",
        "kind": "text",
        "channel": "text",
        "campaign_status": "text",
        "status": "text",
        "responded": "bool",
        "source_instance": "text",
    },
    "list": {"name": "text", "source_instance": "text"},
}
DOC_FIELDS["opportunity_with_role"] = {
    **DOC_FIELDS["opportunity"],
    "role": "text",
    "is_primary": "bool",
}
# relation -> (target scope, its time field)
DOC_RELATIONS = {
    "person": {
        "accounts": ("account", None),
        "opportunities": ("opportunity_with_role", "close_date"),
        "account_opportunities": ("opportunity", "close_date"),
        "events": ("event", "occurred_at"),
        "campaigns": ("campaign", "start_date"),
        "lists": ("list", None),
    },
    "account": {
        "people": ("person", None),
        "opportunities": ("opportunity", "close_date"),
        "events": ("event", "occurred_at"),
    },
}
PERIODS = ["last_month", "this_month", "last_week", "this_week", "last_year", "this_year"]


def _maybe(strategy, none_share: bool = True):
    return st.one_of(st.none(), strategy) if none_share else strategy


def _iso(value: Any, draw) -> Any:
    """Dates and timestamps as YAML would give them: objects or ISO text (in any zone)."""
    if draw(st.booleans()):
        return value
    if isinstance(value, datetime):
        zone = draw(st.sampled_from(["Z", "+00:00", "", "+02:00", "-05:00"]))
        if zone in ("+02:00", "-05:00"):
            hours = int(zone[:3])
            return value.astimezone(timezone(timedelta(hours=hours))).isoformat()
        return value.isoformat().replace("+00:00", zone)
    return value.isoformat()


ROLLING = [
    ("minutes", 30),
    ("hours", 6),
    ("hours", 24),
    ("days", 1),
    ("days", 7),
    ("days", 30),
    ("days", 365),
    ("weeks", 1),
    ("weeks", 4),
]


def calendar_edges(as_of: datetime) -> list[datetime]:
    """Where the calendar periods around `as_of` begin and end."""
    day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    monday = day - timedelta(days=day.weekday())
    year = month.replace(month=1)
    return [
        month,
        (month - timedelta(days=1)).replace(day=1),
        monday,
        monday - timedelta(days=7),
        year,
        year.replace(year=year.year - 1),
    ]


def edges(as_of: datetime) -> list[datetime]:
    """The moments where the generated windows begin or end at `as_of` (data is drawn there
    often, so that off-by-one bounds show)."""
    rolling = [as_of - timedelta(**{unit: n}) for unit, n in ROLLING]
    return sorted({*rolling, *calendar_edges(as_of), as_of, as_of + timedelta(seconds=1)})


def used_edges(documents: Any, as_of: datetime) -> list[datetime]:
    """Where the windows used in `documents` begin or end at `as_of`."""
    found: set[datetime] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            within = node.get("within")
            if isinstance(within, str) or (isinstance(within, dict) and "calendar" in within):
                found.update(calendar_edges(as_of))
            if isinstance(within, dict):
                for unit, amount in within.items():
                    if unit in ("minutes", "hours", "days", "weeks"):
                        found.add(as_of - timedelta(**{unit: amount}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(documents)
    return sorted(found)


@st.composite
def datasets(draw, as_of: datetime, focus: list[datetime]) -> dict[str, list[dict[str, Any]]]:
    """A few persons, accounts, links, opportunities, roles, events, campaigns and lists with
    random values (nulls included); times are often exactly on a window edge, above all on the
    edges of the windows in `focus`."""
    w = World()
    at_edges = sorted({*focus, *edges(as_of)})
    moments = st.one_of(
        *([st.sampled_from(focus)] if focus else []),
        st.sampled_from(at_edges),
        st.sampled_from(MOMENTS),
    )
    days = st.one_of(
        *([st.sampled_from(sorted({e.date() for e in focus}))] if focus else []),
        st.sampled_from(sorted({e.date() for e in at_edges} | {as_of.date() + timedelta(1)})),
        st.sampled_from(DATES),
    )
    text = st.sampled_from(TEXT_POOL)
    pids = [f"p{i}" for i in range(draw(st.integers(1, 4)))]
    aids = [f"a{i}" for i in range(draw(st.integers(1, 3)))]
    for aid in aids:
        w.account(
            aid,
            name=draw(_maybe(text)),
            industry=draw(_maybe(st.sampled_from(["Automotive", "Software", "automotive"]))),
            domain=draw(_maybe(text)),
            closed_won_revenue=draw(st.sampled_from(AMOUNTS)),
            number_of_employees=draw(_maybe(st.sampled_from([0, 10, 500]))),
            annual_revenue=draw(_maybe(st.sampled_from(AMOUNTS))),
            open_pipeline=draw(st.sampled_from(AMOUNTS)),
            closed_won_count=draw(st.integers(0, 3)),
            people_count=draw(st.integers(0, 3)),
            last_closed_won_date=draw(_maybe(days)),
            last_activity_at=draw(_maybe(moments)),
        )
    keys: list[str] = []
    for pid in pids:
        own = [f"{pid}@marketo_1"] + ([f"{pid}@crm_1"] if draw(st.booleans()) else [])
        keys += own
        w.person(
            pid,
            keys=own,
            email=draw(_maybe(text)),
            can_email=draw(st.booleans()),
            first_name=draw(_maybe(text)),
            last_name=draw(_maybe(text)),
            title=draw(_maybe(text)),
            event_count=draw(st.integers(0, 3)),
            last_activity_at=draw(_maybe(moments)),
        )
    for pid, aid in sorted(
        draw(st.sets(st.tuples(st.sampled_from(pids), st.sampled_from(aids)), max_size=6))
    ):
        w.link(pid, aid)
    oids = []
    for i in range(draw(st.integers(0, 4))):
        closed = draw(st.booleans())
        won = closed and draw(st.booleans())
        oids.append(
            w.opportunity(
                f"o{i}",
                draw(_maybe(st.sampled_from(aids))),
                name=draw(_maybe(text)),
                stage=draw(_maybe(st.sampled_from(["Closed Won", "Negotiation", "closed lost"]))),
                amount_usd=draw(_maybe(st.sampled_from(AMOUNTS))),
                amount=draw(_maybe(st.sampled_from(AMOUNTS))),
                currency=draw(st.sampled_from(["USD", "EUR"])),
                is_closed=closed,
                is_won=won,
                is_closed_won=won,
                close_date=draw(_maybe(days)),
            )
        )
    if oids:
        for pid, oid, role in sorted(
            draw(
                st.sets(
                    st.tuples(
                        st.sampled_from(pids),
                        st.sampled_from(oids),
                        _maybe(st.sampled_from(["Decision Maker", "Influencer"])),
                    ),
                    max_size=5,
                )
            ),
            key=repr,
        ):
            if not any(
                r["person_id"] == pid and r["opportunity_id"] == oid and r["role"] == role
                for r in w.tables["profile.person_opportunity"]
            ):
                w.role(pid, oid, role, draw(st.booleans()))
    for _ in range(draw(st.integers(0, 9))):
        w.event(
            "",
            draw(st.sampled_from(EVENT_TYPES)),
            draw(moments),
            draw(_maybe(text)),
            draw(_maybe(text)),
            key=draw(st.sampled_from([*keys, "ghost@marketo_1"])),
            source_instance=draw(st.sampled_from(["marketo_1", "marketo_2"])),
        )
    campaigns = []
    for i in range(draw(st.integers(0, 2))):
        campaigns.append(
            w.campaign(
                f"c{i}@crm_1",
                draw(_maybe(text)),
                type=draw(_maybe(st.sampled_from(["Webinar", "Event"]))),
                campaign_kind=draw(st.sampled_from(["salesforce_campaign", "marketo_program"])),
                status=draw(_maybe(st.sampled_from(["Planned", "Completed"]))),
                channel=draw(_maybe(st.sampled_from(["Webinar", "Email"]))),
                start_date=draw(_maybe(days)),
            )
        )
    for pid, ck in sorted(
        draw(
            st.sets(
                st.tuples(st.sampled_from(pids), st.sampled_from(campaigns or ["none"])),
                max_size=4 if campaigns else 0,
            )
        )
    ):
        w.member(
            pid,
            ck,
            draw(_maybe(st.sampled_from(["Attended", "Registered"]))),
            draw(_maybe(st.booleans())),
        )
    lists = [
        w.marketing_list(f"l{i}@marketo_1", draw(_maybe(text)))
        for i in range(draw(st.integers(0, 2)))
    ]
    for pid, lk in sorted(
        draw(
            st.sets(
                st.tuples(st.sampled_from(pids), st.sampled_from(lists or ["none"])),
                max_size=4 if lists else 0,
            )
        )
    ):
        w.on_list(pid, lk)
    return w.rows()


def _value_of(kind: str, draw) -> Any:
    if kind == "text":
        return draw(st.sampled_from(TEXT_VALUES))
    if kind == "event_type":
        return draw(st.sampled_from(EVENT_TYPES))
    if kind == "number":
        return draw(st.sampled_from([0, 1, 2, 3, 10, 500, *AMOUNTS, 75_000.5]))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "date":
        return _iso(draw(st.sampled_from(DATES)), draw)
    return _iso(draw(st.sampled_from(MOMENTS)), draw)


def _operators(kind: str) -> list[str]:
    base = ["eq", "ne", "in", "not_in", "is_null", "is_not_null"]
    if kind in ("number", "date", "timestamp"):
        return [*base, "gt", "gte", "lt", "lte", "at_least", "at_most"]
    if kind in ("text", "event_type"):
        return [*base, "contains", "starts_with"]
    return base


def field_test(draw, scope: str) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(DOC_FIELDS[scope])))
    kind = DOC_FIELDS[scope][name]
    op = draw(st.sampled_from(_operators(kind)))
    if op in ("is_null", "is_not_null"):
        return {name: {op: draw(st.sampled_from([True, None]))}}
    if op in ("in", "not_in"):
        return {name: {op: [_value_of(kind, draw) for _ in range(draw(st.integers(1, 3)))]}}
    if op in ("contains", "starts_with"):
        return {name: {op: draw(st.sampled_from(TEXT_VALUES))}}
    value = _value_of(kind, draw)
    if op == "eq" and draw(st.booleans()):
        return {name: value}  # shorthand
    return {name: {op: value}}


def window(draw, target: str, time_field: str | None) -> Any:
    times = [n for n, k in DOC_FIELDS[target].items() if k in ("date", "timestamp")]
    if time_field is None and not times:
        return None
    field = None
    if time_field is None or draw(st.integers(0, 4)) == 0:
        if not times:
            return None
        field = draw(st.sampled_from(times))
    if draw(st.sampled_from(["rolling", "calendar", "rolling"])) == "rolling":
        unit, amount = draw(st.sampled_from(ROLLING))
        spec: Any = {unit: amount}
    else:
        period = draw(st.sampled_from(PERIODS))
        if field is None and draw(st.booleans()):
            return period
        spec = {"calendar": period}
    if field is not None:
        spec["field"] = field
    return spec


def measure(draw, target: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "none", "count", "count", "sum", "min", "max", "avg"]))
    ops = ["eq", "ne", "gt", "gte", "lt", "lte", "at_least", "at_most"]
    op = draw(st.sampled_from(ops))
    if kind == "none":
        return {}
    if kind == "count":
        return {"count": {op: draw(st.integers(0, 3))}}
    numbers = [n for n, k in DOC_FIELDS[target].items() if k == "number"]
    times = [n for n, k in DOC_FIELDS[target].items() if k in ("date", "timestamp")]
    if kind in ("min", "max") and times and draw(st.booleans()):
        field = draw(st.sampled_from(times))
        return {kind: {"field": field, op: _value_of(DOC_FIELDS[target][field], draw)}}
    if not numbers:
        return {"count": {op: draw(st.integers(0, 3))}}
    field = draw(st.sampled_from(numbers))
    return {kind: {"field": field, op: draw(st.sampled_from([0, 1, 3, *AMOUNTS, 125_000.0]))}}


@st.composite
def conditions(draw, scope: str, depth: int, refer: bool = True) -> dict[str, Any]:
    # Hypothesis favours the first options: relations (with windows) come first.
    options = []
    if depth > 0:
        if scope in DOC_RELATIONS:
            options += ["relation"] * 5
        options += ["all", "any", "not"]
    options += ["field", "field"]
    if refer and scope in ("person", "account") and depth < 3:
        options.append("in_segment")
    choice = draw(st.sampled_from(options))
    if choice == "field":
        return field_test(draw, scope)
    if choice in ("all", "any"):
        children = draw(st.lists(conditions(scope, depth - 1, refer), min_size=1, max_size=2))
        return {choice: children}
    if choice == "not":
        return {"not": draw(conditions(scope, depth - 1, refer))}
    if choice == "in_segment":
        return {"in_segment": f"base_{scope}"}
    name = draw(st.sampled_from(sorted(DOC_RELATIONS[scope])))
    target, time_field = DOC_RELATIONS[scope][name]
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 2)) == 2:
        spec["where"] = draw(conditions(target, depth - 1, refer))
    if draw(st.integers(0, 2)) < 2:
        within = window(draw, target, time_field)
        if within is not None:
            spec["within"] = within
    spec.update(measure(draw, target))
    return {name: spec or None}


@st.composite
def segment_documents(draw) -> tuple[list[dict], dict, dict]:
    """Several top segments (run on the same data: loading it is the slow part) and the two
    segments they may refer to with in_segment."""
    base_person = {
        "name": "base_person",
        "entity": "person",
        "where": draw(conditions("person", 1, refer=False)),
    }
    base_account = {
        "name": "base_account",
        "entity": "account",
        "where": draw(conditions("account", 1, refer=False)),
    }
    tops = []
    for i in range(SEGMENTS_PER_EXAMPLE):
        entity = draw(st.sampled_from(["person", "person", "account"]))
        depth = draw(st.sampled_from([1, 1, 2, 2, 3]))
        tops.append(
            {"name": f"top_{i}", "entity": entity, "where": draw(conditions(entity, depth))}
        )
    return tops, base_person, base_account


# No shrink phase: shrinking these nested datasets takes minutes; a failure prints the segment
# (note) and the data as generated, and @reproduce_failure replays it.
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    print_blob=True,
    report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(documents=segment_documents(), as_of=st.sampled_from([AS_OF, MIDNIGHT]), data=st.data())
def test_compiled_sql_agrees_with_the_reference(duck, documents, as_of, data):
    tables = data.draw(datasets(as_of, used_edges(documents, as_of)), label="tables")
    tops, base_person, base_account = documents
    note(f"as_of: {as_of.isoformat()}")
    note(yaml.safe_dump([base_person, base_account], sort_keys=False, allow_unicode=True))
    bases = [parse_segment(d, f"segments/{d['name']}.yaml") for d in (base_person, base_account)]
    insert_rows(duck, tables)
    for top in tops:
        shown = yaml.safe_dump(top, sort_keys=False, allow_unicode=True)
        segment = parse_segment(top, f"segments/{top['name']}.yaml")
        expected = reference_members(tables, segment, as_of, {s.name: s for s in bases})
        got = {row[0] for row in run_sql(duck, segment, bases, as_of)}
        assert got == expected, f"compiled SQL != reference for\n{shown}"
