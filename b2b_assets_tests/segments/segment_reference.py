"""A plain-Python reference evaluator of the segment language (docs/segments.md).

It reads small in-memory tables (lists of dicts keyed by warehouse table name, e.g.
`"profile.person"`) and a parsed `Segment`, and returns the set of member ids. It follows the
documentation, not the compiler: field names, relations, windows, measures and null semantics are
written out here again on purpose, so that the compiled SQL can be checked against it.

Values in the rows are Python values: text as `str`, numbers as `int`/`float`, flags as `bool`,
dates as `datetime.date`, timestamps as timezone-aware `datetime.datetime`, missing as `None`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from b2b_assets.segments.language import (
    AllOf,
    AnyOf,
    Compare,
    InSegment,
    Measure,
    Node,
    Not,
    Related,
    Segment,
    Window,
)

Row = Mapping[str, Any]
Tables = Mapping[str, list[dict[str, Any]]]

# --------------------------------------------------------------------------------------------
# Fields: how the documented field names read a related row (warehouse column names)
# --------------------------------------------------------------------------------------------


def _col(name: str) -> Callable[[Row], Any]:
    return lambda row: row.get(name)


def _account_count(row: Row) -> Any:
    ids = row.get("account_ids")
    return None if ids is None else len(ids)


PERSON = {
    "person_id": _col("person_id"),
    "email": _col("email"),
    "can_email": _col("can_email"),
    "first_name": _col("first_name"),
    "last_name": _col("last_name"),
    "title": _col("title"),
    "event_count": _col("event_count"),
    "last_activity_at": _col("last_activity_at"),
    "account_count": _account_count,
}
ACCOUNT = {
    name: _col(name)
    for name in (
        "account_id",
        "name",
        "industry",
        "domain",
        "website",
        "billing_country",
        "golden_id",
        "closed_won_revenue",
        "closed_won_count",
        "open_opportunity_count",
        "closed_lost_count",
        "opportunity_count",
        "open_pipeline",
        "people_count",
        "number_of_employees",
        "annual_revenue",
        "last_activity_at",
        "last_closed_won_date",
    )
}
OPPORTUNITY = {
    "opportunity_id": _col("opportunity_id"),
    "name": _col("name"),
    "stage": _col("stage"),
    "amount": _col("amount_usd"),  # documented as USD
    "amount_original": _col("amount"),
    "currency": _col("currency"),
    "is_closed": _col("is_closed"),
    "is_won": _col("is_won"),
    "is_closed_won": _col("is_closed_won"),
    "close_date": _col("close_date"),
}
OPPORTUNITY_WITH_ROLE = {**OPPORTUNITY, "role": _col("role"), "is_primary": _col("is_primary")}
EVENT = {
    "type": _col("event_type"),
    "type_id": _col("event_type_id"),
    "occurred_at": _col("occurred_at"),
    "page": _col("page"),
    "url": _col("url"),
    "source_instance": _col("source_instance"),
}
CAMPAIGN = {
    "name": _col("name"),
    "type": _col("type"),
    "kind": _col("campaign_kind"),
    "channel": _col("channel"),
    "campaign_status": _col("campaign_status"),
    "status": _col("member_status"),
    "responded": _col("has_responded"),
    "source_instance": _col("source_instance"),
    "start_date": _col("start_date"),  # the documented time of a campaign window
}
LIST = {"name": _col("name"), "source_instance": _col("source_instance")}

# relation name -> (target scope, documented time field)
PERSON_RELATIONS = {
    "accounts": ("account", None),
    "opportunities": ("opportunity_with_role", "close_date"),
    "account_opportunities": ("opportunity", "close_date"),
    "events": ("event", "occurred_at"),
    "campaigns": ("campaign", "start_date"),
    "lists": ("list", None),
}
ACCOUNT_RELATIONS = {
    "people": ("person", None),
    "opportunities": ("opportunity", "close_date"),
    "events": ("event", "occurred_at"),
}
SCOPE_FIELDS = {
    "person": PERSON,
    "account": ACCOUNT,
    "opportunity": OPPORTUNITY,
    "opportunity_with_role": OPPORTUNITY_WITH_ROLE,
    "event": EVENT,
    "campaign": CAMPAIGN,
    "list": LIST,
}
SCOPE_RELATIONS = {"person": PERSON_RELATIONS, "account": ACCOUNT_RELATIONS}

# The reference works from the relation key the file used (Related.name) and its own scopes.


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------


def _as_moment(value: Any) -> Any:
    """Dates count from midnight UTC when compared with timestamps."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    moments = isinstance(left, date | datetime) or isinstance(right, date | datetime)
    if moments and type(left) is not type(right):
        return _as_moment(left), _as_moment(right)
    return left, right


def compare(op: str, left: Any, right: Any) -> bool:
    """eq ne gt gte lt lte, with a missing left side: false except for ne."""
    if left is None:
        return op == "ne"
    left, right = _comparable(left, right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    if op == "lt":
        return left < right
    if op == "lte":
        return left <= right
    raise ValueError(f"not a comparison: {op}")


def field_test(op: str, value: Any, operand: Any) -> bool:
    if op == "is_null":
        return value is None
    if op == "is_not_null":
        return value is not None
    if op == "in":
        return value is not None and any(compare("eq", value, item) for item in operand)
    if op == "not_in":
        return value is None or not any(compare("eq", value, item) for item in operand)
    if op == "contains":
        return value is not None and operand.lower() in str(value).lower()
    if op == "starts_with":
        return value is not None and str(value).lower().startswith(operand.lower())
    return compare(op, value, operand)


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def window_contains(window: Window, moment: Any, as_of: datetime) -> bool:
    """(as_of - N, as_of] for rolling windows; calendar periods in UTC; never after as_of."""
    if moment is None:
        return False
    moment = _as_moment(moment)
    as_of = as_of.astimezone(UTC)
    if moment > as_of:
        return False
    if window.unit in ("minutes", "hours", "days", "weeks"):
        return as_of - timedelta(**{window.unit: window.amount}) < moment
    today = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    month = today.replace(day=1)
    previous_month = (
        month.replace(year=month.year - 1, month=12)
        if month.month == 1
        else month.replace(month=month.month - 1)
    )
    week = today - timedelta(days=today.weekday())  # Monday
    year = month.replace(month=1)
    start, end = {
        "this_month": (month, None),
        "last_month": (previous_month, month),
        "this_week": (week, None),
        "last_week": (week - timedelta(days=7), week),
        "this_year": (year, None),
        "last_year": (year.replace(year=year.year - 1), year),
    }[window.unit]
    return start <= moment and (end is None or moment < end)


# --------------------------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------------------------


class Reference:
    """Evaluates segments over in-memory tables at one as_of."""

    def __init__(self, tables: Tables, as_of: datetime, segments: Mapping[str, Segment] = ()):
        self.tables = {name: list(rows) for name, rows in tables.items()}
        self.as_of = as_of
        self.segments = dict(segments)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])

    # ---- the entities ----------------------------------------------------------------------

    def members(self, segment: Segment) -> set[str]:
        table, key = (
            ("profile.person", "person_id")
            if segment.entity == "person"
            else ("profile.account", "account_id")
        )
        return {
            row[key]
            for row in self.rows(table)
            if segment.where is None
            or self.holds(segment.where, segment.entity, row, (segment.name,))
        }

    # ---- related rows ----------------------------------------------------------------------

    def _person_keys(self, person_id: Any) -> list[Any]:
        return [
            r["person_key"] for r in self.rows("identity.person") if r["person_id"] == person_id
        ]

    def _events_of_keys(self, keys: Iterable[Any]) -> list[dict[str, Any]]:
        keys = list(keys)
        return [e for k in keys for e in self.rows("b2b.experience_event") if e["person_key"] == k]

    def _account_ids_of(self, person_id: Any) -> list[Any]:
        return [
            r["account_id"]
            for r in self.rows("profile.person_account")
            if r["person_id"] == person_id
        ]

    def related_rows(self, scope: str, relation: str, row: Row) -> list[dict[str, Any]]:
        if scope == "person":
            pid = row["person_id"]
            if relation == "accounts":
                return [
                    a
                    for account_id in self._account_ids_of(pid)
                    for a in self.rows("profile.account")
                    if a["account_id"] == account_id
                ]
            if relation == "opportunities":
                return [r for r in self.rows("profile.person_opportunity") if r["person_id"] == pid]
            if relation == "account_opportunities":
                return [
                    o
                    for account_id in self._account_ids_of(pid)
                    for o in self.rows("profile.opportunity")
                    if o["account_id"] == account_id
                ]
            if relation == "events":
                return self._events_of_keys(self._person_keys(pid))
            if relation == "campaigns":
                out = []
                for k in self._person_keys(pid):
                    for m in self.rows("b2b.campaign_member"):
                        if m["person_key"] != k:
                            continue
                        for c in self.rows("b2b.campaign"):
                            if c["campaign_key"] == m["campaign_key"]:
                                out.append(
                                    {
                                        "name": c["name"],
                                        "type": c["type"],
                                        "campaign_kind": c["campaign_kind"],
                                        "channel": c["channel"],
                                        "campaign_status": c["status"],
                                        "member_status": m["status"],
                                        "has_responded": m["has_responded"],
                                        "source_instance": c["source_instance"],
                                        "start_date": c["start_date"],
                                    }
                                )
                return out
            if relation == "lists":
                out = []
                for k in self._person_keys(pid):
                    for m in self.rows("b2b.marketing_list_member"):
                        if m["person_key"] != k:
                            continue
                        for lst in self.rows("b2b.marketing_list"):
                            if lst["list_key"] == m["list_key"]:
                                out.append(
                                    {"name": lst["name"], "source_instance": lst["source_instance"]}
                                )
                return out
        if scope == "account":
            aid = row["account_id"]
            links = [r for r in self.rows("profile.person_account") if r["account_id"] == aid]
            if relation == "people":
                return [
                    p
                    for link in links
                    for p in self.rows("profile.person")
                    if p["person_id"] == link["person_id"]
                ]
            if relation == "opportunities":
                return [o for o in self.rows("profile.opportunity") if o["account_id"] == aid]
            if relation == "events":
                return [
                    e
                    for link in links
                    for e in self._events_of_keys(self._person_keys(link["person_id"]))
                ]
        raise ValueError(f"no relation {relation!r} of a {scope}")

    # ---- conditions ------------------------------------------------------------------------

    def holds(self, node: Node, scope: str, row: Row, stack: tuple[str, ...]) -> bool:
        if isinstance(node, AllOf):
            return all(self.holds(child, scope, row, stack) for child in node.children)
        if isinstance(node, AnyOf):
            return any(self.holds(child, scope, row, stack) for child in node.children)
        if isinstance(node, Not):
            return not self.holds(node.child, scope, row, stack)
        if isinstance(node, Compare):
            value = SCOPE_FIELDS[scope][node.field](row)
            return field_test(node.op, value, node.value)
        if isinstance(node, InSegment):
            other = self.segments[node.name]
            if node.name in stack:
                raise ValueError(f"cycle: {' -> '.join((*stack, node.name))}")
            if other.entity != scope:
                raise ValueError(f"{node.name} is about {other.entity}s")
            return other.where is None or self.holds(other.where, scope, row, (*stack, node.name))
        if isinstance(node, Related):
            return self.related_holds(node, scope, row, stack)
        raise TypeError(node)

    def matching_rows(
        self, node: Related, scope: str, row: Row, stack: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        target, time_field = SCOPE_RELATIONS[scope][node.name]
        rows = self.related_rows(scope, node.name, row)
        if node.where is not None:
            rows = [r for r in rows if self.holds(node.where, target, r, stack)]
        if node.window is not None:
            time = SCOPE_FIELDS[target][node.window.field or time_field]
            rows = [r for r in rows if window_contains(node.window, time(r), self.as_of)]
        elif target == "event":
            # Events after as_of are never seen, window or not.
            time = SCOPE_FIELDS[target][time_field]
            rows = [r for r in rows if time(r) is not None and time(r) <= self.as_of]
        return rows

    def related_holds(self, node: Related, scope: str, row: Row, stack: tuple[str, ...]) -> bool:
        target, _ = SCOPE_RELATIONS[scope][node.name]
        return measure_holds(node.measure, self.matching_rows(node, scope, row, stack), target)


def measure_holds(measure: Measure, rows: list[dict[str, Any]], target: str) -> bool:
    """count (of rows), sum (no rows: 0), min/max/avg (no values: false)."""
    if measure.aggregate == "count":
        return compare(measure.op, len(rows), measure.value)
    getter = SCOPE_FIELDS[target][measure.field]
    values = [getter(r) for r in rows]
    values = [v for v in values if v is not None]
    if measure.aggregate == "sum":
        total = sum(values) if values else 0
        return compare(measure.op, total, measure.value)
    if not values:
        return False
    if measure.aggregate == "min":
        result = min(values)
    elif measure.aggregate == "max":
        result = max(values)
    else:
        result = sum(values) / len(values)
    return compare(measure.op, result, measure.value)


def reference_members(
    tables: Tables, segment: Segment, as_of: datetime, segments: Mapping[str, Segment] = ()
) -> set[str]:
    """The member ids of `segment` over `tables` at `as_of`, by the documented semantics."""
    known = dict(segments)
    known.setdefault(segment.name, segment)
    return Reference(tables, as_of, known).members(segment)


def reference_matches(
    tables: Tables,
    segment: Segment,
    node: Related,
    scope: str,
    member_row: Row,
    as_of: datetime,
) -> list[dict[str, Any]]:
    """The related rows that pass a relation condition's where and within (for `why`)."""
    return Reference(tables, as_of, {segment.name: segment}).matching_rows(
        node, scope, member_row, (segment.name,)
    )
