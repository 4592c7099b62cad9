"""The segment language (docs/segments.md): events and time windows (rolling, calendar, on
dates), at their edges.

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads (`segment_world.py`); the member set is checked against the
expectation written next to the data and against the plain-Python reference evaluator in
`segment_reference.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from b2b_assets_tests.segments.segment_world import AS_OF, World, event_world


def test_events_type_page_url_and_windows(warehouse):
    db = warehouse(event_world())
    db.check(
        {
            "where": {
                "events": {
                    "where": {
                        "type": "visit_webpage",
                        "url": {"contains": "/products/new-software"},
                    },
                    "within": {"days": 30},
                }
            }
        },
        {"ann"},
    )
    # without a window every event up to as_of counts; eve's, after as_of, is never seen
    db.check({"where": {"events": {"where": {"page": {"contains": "pricing"}}}}}, {"bob", "cat"})
    db.check(
        {"where": {"events": {"where": {"page": {"contains": "pricing"}}, "within": {"days": 7}}}},
        {"cat"},
    )
    db.check({"where": {"events": {"within": {"minutes": 45}}}}, {"cat", "dan"})
    db.check({"where": {"events": {"within": {"minutes": 30}}}}, {"dan"})  # 30 min old: out
    db.check(
        {"where": {"events": {"where": {"type": "visit_webpage"}, "within": {"hours": 4}}}}, {"cat"}
    )
    db.check({"where": {"events": {"within": {"hours": 24}}}}, {"cat", "dan"})
    db.check({"where": {"events": {"within": {"weeks": 3}}}}, {"ann", "bob", "cat", "dan"})
    db.check(
        {"where": {"events": {"where": {"type": {"in": ["click_link", "activity_104"]}}}}}, {"dan"}
    )
    db.check({"where": {"events": {"where": {"type_id": {"gte": 10}}}}}, {"ann", "bob", "dan"})
    db.check({"where": {"events": {"where": {"url": {"is_null": True}}}}}, {"bob", "cat", "dan"})
    db.check(
        {
            "where": {
                "events": {
                    "where": {
                        "source_instance": "marketo_1",
                        "occurred_at": {"gte": "2026-11-18T00:00:00Z"},
                    }
                }
            }
        },
        {"cat", "dan"},
    )
    # an event after as_of is never seen by a window
    db.check({"where": {"events": {"within": {"days": 3650}}}}, {"ann", "bob", "cat", "dan"})


def test_events_calendar_last_month_and_counts(warehouse):
    db = warehouse(event_world())
    opened = {"type": "open_email"}
    db.check(
        {"where": {"events": {"where": opened, "within": {"calendar": "last_month"}}}},
        {"ann", "bob"},
    )
    db.check({"where": {"events": {"where": opened, "within": "last_month"}}}, {"ann", "bob"})
    db.check(
        {
            "where": {
                "events": {
                    "where": opened,
                    "within": {"calendar": "last_month"},
                    "count": {"at_most": 1},
                }
            }
        },
        {"bob", "cat", "dan", "eve"},
    )
    db.check(
        {"where": {"events": {"where": opened, "within": "last_month", "count": {"eq": 2}}}},
        {"ann"},
    )
    db.check(
        {"where": {"events": {"where": opened, "within": "last_month", "count": {"eq": 0}}}},
        {"cat", "dan", "eve"},
    )
    db.check({"where": {"events": {"count": {"eq": 0}}}}, {"eve"})  # only a future event
    db.check({"where": {"events": {"count": {"at_least": 2}}}}, {"ann", "bob", "cat", "dan"})
    db.check(
        {"where": {"events": {"within": "this_month", "count": {"gte": 1}}}}, {"ann", "cat", "dan"}
    )
    db.check({"where": {"events": {"within": "this_week"}}}, {"ann", "cat", "dan"})  # Mon 16th
    db.check({"where": {"events": {"within": "last_week"}}}, set())  # Nov 9 - Nov 16
    db.check({"where": {"events": {"within": "this_year"}}}, {"ann", "bob", "cat", "dan"})
    db.check({"where": {"events": {"within": "last_year"}}}, set())
    db.check(
        {"where": {"events": {"max": {"field": "occurred_at", "gte": "2026-11-18T00:00:00Z"}}}},
        {"cat", "dan"},
    )


WEBINAR_FOLLOW_UP = """
name: webinar_follow_up
where:
  all:
    - campaigns:
        where: {name: {contains: webinar}, status: {in: [Attended, Registered]}}
    - any:
        - not:
            lists:
              where: {name: Customers}
        - events:
            where: {type: open_email}
            within: {calendar: last_month}
            count: {at_most: 1}
"""


def test_documented_webinar_example(warehouse):
    w = World()
    for pid in ("ann", "bob", "cat", "dan"):
        w.person(pid)
    w.campaign("c1@crm_1", "Webinar", start_date=date(2026, 10, 1))
    for pid in ("ann", "bob", "cat"):
        w.member(pid, "c1@crm_1", "Attended", True)
    w.member("dan", "c1@crm_1", "No Show", False)
    w.marketing_list("l1@marketo_1", "Customers")
    for pid in ("ann", "bob"):
        w.on_list(pid, "l1@marketo_1")
    for moment in (datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC)):
        w.event("ann", "open_email", moment, "mail", "mail")
    w.event("bob", "open_email", datetime(2026, 10, 2, tzinfo=UTC), "mail", "mail")
    db = warehouse(w)
    db.check(WEBINAR_FOLLOW_UP, {"bob", "cat"})


# --------------------------------------------------------------------------------------------
# Window edges
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["minutes", "hours", "days", "weeks"])
@pytest.mark.parametrize("n", [1, 30])
def test_rolling_window_edges(warehouse, unit, n):
    length = timedelta(**{unit: n})
    w = World()
    moments = {
        "edge": AS_OF - length,  # exactly N units old: out
        "inside": AS_OF - length + timedelta(seconds=1),
        "at_as_of": AS_OF,  # in
        "future": AS_OF + timedelta(seconds=1),  # after as_of: out
        "older": AS_OF - length - timedelta(seconds=1),
    }
    for pid, moment in moments.items():
        w.person(pid)
        w.event(pid, "visit_webpage", moment, "p", "p")
    db = warehouse(w)
    db.check({"where": {"events": {"within": {unit: n}}}}, {"inside", "at_as_of"})
    db.check(
        {"where": {"events": {"within": {unit: n}, "count": {"eq": 0}}}},
        {"edge", "future", "older"},
    )


def test_calendar_window_edges(warehouse):
    w = World()
    moments = {
        "oct_first": datetime(2026, 10, 1, tzinfo=UTC),  # last_month: in
        "oct_last": datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),  # last_month: in
        "nov_first": datetime(2026, 11, 1, tzinfo=UTC),  # this_month
        "sep_last": datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC),
        "monday": datetime(2026, 11, 16, tzinfo=UTC),  # this week starts Monday 16th
        "sunday": datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC),  # last week's end
        "prev_monday": datetime(2026, 11, 9, tzinfo=UTC),
        "at_as_of": AS_OF,
        "future": AS_OF + timedelta(seconds=1),
        "jan_first": datetime(2026, 1, 1, tzinfo=UTC),
        "dec_last": datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        "last_jan": datetime(2025, 1, 1, tzinfo=UTC),
    }
    for pid, moment in moments.items():
        w.person(pid)
        w.event(pid, "visit_webpage", moment, "p", "p")
    db = warehouse(w)

    def check(period, expected):
        db.check({"where": {"events": {"within": {"calendar": period}}}}, expected)

    check("last_month", {"oct_first", "oct_last"})
    check("this_month", {"nov_first", "monday", "sunday", "prev_monday", "at_as_of"})
    check("this_week", {"monday", "at_as_of"})
    check("last_week", {"prev_monday", "sunday"})
    check("this_year", set(moments) - {"future", "dec_last", "last_jan"})
    check("last_year", {"dec_last", "last_jan"})


def test_calendar_last_month_in_january(warehouse):
    w = World()
    for pid, moment in {
        "dec": datetime(2025, 12, 15, tzinfo=UTC),
        "jan": datetime(2026, 1, 2, tzinfo=UTC),
        "nov": datetime(2025, 11, 30, tzinfo=UTC),
    }.items():
        w.person(pid)
        w.event(pid, "visit_webpage", moment, "p", "p")
    db = warehouse(w)
    as_of = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    db.check({"where": {"events": {"within": "last_month"}}}, {"dec"}, as_of=as_of)
    db.check({"where": {"events": {"within": "this_month"}}}, {"jan"}, as_of=as_of)
    db.check({"where": {"events": {"within": "last_year"}}}, {"dec", "nov"}, as_of=as_of)


def test_date_field_window_edges(warehouse):
    """close_date counts from midnight UTC; as_of at midnight makes the edges exact."""
    as_of = datetime(2026, 11, 18, tzinfo=UTC)
    w = World()
    for aid, close in {
        "edge": date(2026, 11, 8),  # exactly 10 days before as_of: out
        "inside": date(2026, 11, 9),
        "today": date(2026, 11, 18),  # at as_of: in
        "tomorrow": date(2026, 11, 19),  # after as_of: out
    }.items():
        w.account(aid)
        w.opportunity(f"o_{aid}", aid, close_date=close, amount_usd=1.0)
    db = warehouse(w)
    db.check(
        {"entity": "account", "where": {"opportunities": {"within": {"days": 10}}}},
        {"inside", "today"},
        as_of=as_of,
    )
    db.check(
        {"entity": "account", "where": {"opportunities": {"within": "this_month"}}},
        {"edge", "inside", "today"},
        as_of=as_of,
    )


def test_date_windows_do_not_depend_on_the_session_time_zone(warehouse, duck):
    """'Date fields count from midnight UTC': the compiled query means the same on a connection
    whose TimeZone is not UTC (e.g. `python -m b2b_assets.segments preview` does not set it)."""
    as_of = datetime(2026, 11, 18, tzinfo=UTC)
    w = World()
    for aid, close in {
        "edge": date(2026, 11, 8),
        "inside": date(2026, 11, 9),
        "today": date(2026, 11, 18),
    }.items():
        w.account(aid)
        w.opportunity(f"o_{aid}", aid, close_date=close, amount_usd=1.0)
    db = warehouse(w)
    document = {"entity": "account", "where": {"opportunities": {"within": {"days": 10}}}}
    assert db.members(document, as_of=as_of) == {"inside", "today"}
    duck.execute("SET TimeZone = 'America/Los_Angeles'")
    try:
        assert db.members(document, as_of=as_of) == {"inside", "today"}
    finally:
        duck.execute("SET TimeZone = 'UTC'")
