"""The segment language (docs/segments.md): fields and their operators, typed values,
all/any/not and in_segment.

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads (`segment_world.py`); the member set is checked against the
expectation written next to the data and against the plain-Python reference evaluator in
`segment_reference.py`.
"""

from __future__ import annotations

from datetime import date

import pytest

from b2b_assets_tests.segments.segment_world import compile_segment, segment_of

EVERYONE = {"ann", "bob", "cat", "dan"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # eq (and the shorthand), case-sensitive
        ({"title": "CTO"}, {"bob"}),
        ({"title": {"eq": "CTO"}}, {"bob"}),
        ({"title": {"equals": "cto"}}, {"dan"}),
        # ne is true for a missing value
        ({"title": {"ne": "CTO"}}, {"ann", "cat", "dan"}),
        ({"first_name": {"ne": "Ann"}}, {"bob", "cat", "dan"}),
        # order on numbers and timestamps; missing is false
        ({"event_count": {"gt": 1}}, {"ann", "cat"}),
        ({"event_count": {"gte": 1}}, {"ann", "cat", "dan"}),
        ({"event_count": {"at_least": 2}}, {"ann", "cat"}),
        ({"event_count": {"lt": 2}}, {"bob", "dan"}),
        ({"event_count": {"lte": 0}}, {"bob"}),
        ({"event_count": {"at_most": 1}}, {"bob", "dan"}),
        ({"event_count": {"gt": 0, "lt": 5}}, {"cat", "dan"}),
        ({"event_count": 0}, {"bob"}),
        ({"event_count": {"eq": 5.0}}, {"ann"}),
        ({"last_activity_at": {"gte": "2026-11-01T00:00:00Z"}}, {"ann", "dan"}),
        ({"last_activity_at": {"lt": "2026-11-01"}}, {"cat"}),
        ({"last_activity_at": {"ne": "2026-10-20T00:00:00Z"}}, {"ann", "bob", "dan"}),
        ({"last_activity_at": {"eq": "2026-11-18T12:00:00Z"}}, {"dan"}),
        ({"last_activity_at": {"lte": "2026-11-18T14:00:00+02:00"}}, {"ann", "cat", "dan"}),
        ({"last_activity_at": {"lt": "2026-11-18T14:00:00+02:00"}}, {"ann", "cat"}),
        # in / not_in (not_in is true for a missing value)
        ({"title": {"in": ["CTO", "VP Marketing"]}}, {"ann", "bob"}),
        ({"title": {"not_in": ["CTO", "VP Marketing"]}}, {"cat", "dan"}),
        ({"event_count": {"in": [0, 2]}}, {"bob", "cat"}),
        ({"can_email": {"in": [True]}}, {"ann", "cat"}),
        ({"can_email": {"not_in": [True]}}, {"bob", "dan"}),
        # contains / starts_with are case-insensitive, and false for a missing value
        ({"title": {"contains": "MARKET"}}, {"ann"}),
        ({"title": {"contains": "t"}}, {"ann", "bob", "dan"}),
        ({"title": {"starts_with": "ct"}}, {"bob", "dan"}),
        ({"email": {"starts_with": "ANN@"}}, {"ann"}),
        ({"email": {"contains": "acme"}}, {"ann", "bob"}),
        ({"last_name": {"contains": "o'b"}}, {"ann", "dan"}),
        ({"email": {"contains": "%"}}, set()),  # no wildcard
        ({"email": {"contains": "_"}}, set()),
        ({"first_name": {"starts_with": ""}}, {"ann", "bob", "dan"}),
        # is_null / is_not_null
        ({"title": {"is_null": True}}, {"cat"}),
        ({"title": {"is_null": None}}, {"cat"}),
        ({"email": {"is_not_null": True}}, {"ann", "bob", "cat"}),
        ({"last_activity_at": {"is_null": True}}, {"bob"}),
        # flags
        ({"can_email": True}, {"ann", "cat"}),
        ({"can_email": False}, {"bob", "dan"}),
        ({"can_email": {"ne": True}}, {"bob", "dan"}),
        # text ids and numbers-as-text
        ({"person_id": "ann"}, {"ann"}),
        ({"person_id": {"in": ["ann", "zed"]}}, {"ann"}),
    ],
)
def test_person_field_operators(people, where, expected):
    people.check({"entity": "person", "where": where}, expected)


def test_account_count_field(people):
    """`account_count`: the number of unified accounts of the person."""
    people.check({"where": {"account_count": {"gte": 2}}}, {"bob"})
    people.check({"where": {"account_count": 0}}, {"dan"})


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"closed_won_revenue": {"gt": 1_000_000}}, {"acme"}),
        ({"closed_won_revenue": {"lte": 200_000}}, {"globex", "initech"}),
        ({"number_of_employees": {"lt": 100}}, {"initech"}),
        ({"number_of_employees": {"ne": 500}}, {"globex", "initech"}),
        ({"number_of_employees": {"not_in": [500, 40]}}, {"globex"}),
        ({"annual_revenue": {"is_null": True}}, {"globex", "initech"}),
        ({"billing_country": {"ne": "US"}}, {"globex", "initech"}),
        ({"industry": {"in": ["Automotive", "Software"]}}, {"acme", "globex"}),
        ({"name": {"contains": "INI"}}, {"initech"}),
        ({"name": {"starts_with": "initech"}}, {"initech"}),
        ({"name": {"eq": "initech"}}, set()),
        ({"domain": {"contains": ".COM"}}, {"acme", "globex"}),
        # dates: ISO text, YAML date values, and timestamps at midnight UTC
        ({"last_closed_won_date": {"gte": "2026-06-30"}}, {"acme", "initech"}),
        ({"last_closed_won_date": {"gt": date(2026, 6, 30)}}, {"initech"}),
        ({"last_closed_won_date": date(2026, 11, 18)}, {"initech"}),
        ({"last_closed_won_date": {"lt": "2026-11-18"}}, {"acme"}),
        ({"last_closed_won_date": {"ne": "2026-11-18"}}, {"acme", "globex"}),
        ({"last_closed_won_date": {"in": ["2026-06-30", "2026-01-01"]}}, {"acme"}),
        ({"last_activity_at": {"gte": date(2026, 11, 17)}}, {"acme"}),
        ({"golden_id": {"is_not_null": True}}, {"acme"}),
    ],
)
def test_account_field_operators(people, where, expected):
    people.check({"entity": "account", "where": where}, expected)


def test_typed_values_from_yaml_text(people):
    """Values as a YAML file writes them: unquoted dates and timestamps, quoted ISO text,
    timestamps without a zone (UTC), numbers and flags."""
    people.check(
        "entity: account\nwhere: {last_closed_won_date: {gte: 2026-06-30}}", {"acme", "initech"}
    )
    people.check("entity: account\nwhere: {last_closed_won_date: {lt: '2026-07-01'}}", {"acme"})
    people.check("where: {last_activity_at: {gte: 2026-11-17T12:00:00Z}}", {"ann", "dan"})
    people.check("where: {last_activity_at: {gt: '2026-11-17T12:00:00'}}", {"dan"})
    people.check("where: {last_activity_at: {gt: 2026-11-17T13:00:00+01:00}}", {"dan"})
    people.check("where: {can_email: yes}", {"ann", "cat"})  # YAML 1.1: yes is true
    people.check("where: {event_count: {gte: 1.5}}", {"ann", "cat"})


def test_all_any_not_nested(people):
    people.check({"where": {"all": [{"can_email": True}, {"event_count": {"gt": 2}}]}}, {"ann"})
    people.check({"where": {"any": [{"title": "CTO"}, {"event_count": {"gt": 2}}]}}, {"ann", "bob"})
    people.check({"where": {"not": {"can_email": True}}}, {"bob", "dan"})
    # not of a test that is false for a missing value holds for the missing value
    people.check({"where": {"not": {"title": {"contains": "c"}}}}, {"ann", "cat"})
    people.check({"where": {"not": {"title": {"ne": "CTO"}}}}, {"bob"})
    # several entries in one mapping must all hold
    people.check({"where": {"can_email": True, "title": {"is_null": True}}}, {"cat"})
    people.check(
        {
            "where": {
                "any": [
                    {
                        "all": [
                            {"can_email": True},
                            {"not": {"any": [{"title": {"is_null": True}}, {"event_count": 5}]}},
                        ]
                    },
                    {"not": {"not": {"title": "cto"}}},
                    {
                        "all": [
                            {"any": [{"first_name": "Bob"}]},
                            {"not": {"email": {"is_null": True}}},
                        ]
                    },
                ]
            }
        },
        {"bob", "dan"},
    )
    people.check(
        {"where": {"not": {"all": [{"can_email": True}, {"title": {"ne": "x"}}]}}}, {"bob", "dan"}
    )


def test_in_segment(people):
    reachable = segment_of({"where": {"can_email": True}}, "reachable")
    base = segment_of(
        {"where": {"all": [{"in_segment": "reachable"}, {"event_count": {"gt": 2}}]}}, "engaged"
    )
    people.check({"where": {"in_segment": "reachable"}}, {"ann", "cat"}, others=[reachable])
    people.check(
        {"where": {"not": {"in_segment": "reachable"}}}, {"bob", "dan"}, others=[reachable]
    )
    # through two levels, and from inside a relation (an account's people)
    people.check(
        {"where": {"any": [{"in_segment": "engaged"}, {"title": "CTO"}]}},
        {"ann", "bob"},
        others=[reachable, base],
    )
    people.check(
        {
            "entity": "account",
            "where": {"people": {"where": {"in_segment": "reachable"}, "count": {"gte": 1}}},
        },
        {"acme", "globex"},
        others=[reachable],
    )
    compiled = compile_segment(segment_of({"where": {"in_segment": "engaged"}}), [reachable, base])
    assert compiled.references == {"engaged", "reachable"}


@pytest.mark.parametrize("op", ["eq", "gte", "lte"])
def test_a_value_means_the_same_quoted_or_not(people, op):
    """YAML gives an unquoted timestamp as a datetime and a quoted one as text: the segment must
    not change meaning with the quotes (here a timestamp given for a date field)."""
    quoted = people.members(
        f"entity: account\nwhere: {{last_closed_won_date: {{{op}: '2026-06-30T10:00:00Z'}}}}"
    )
    unquoted = people.members(
        f"entity: account\nwhere: {{last_closed_won_date: {{{op}: 2026-06-30T10:00:00Z}}}}"
    )
    assert quoted == unquoted
