"""The segment language (docs/segments.md): `why`, the qualifying rows of each relation
condition.

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads (`segment_world.py`); the member set is checked against the
expectation written next to the data and against the plain-Python reference evaluator in
`segment_reference.py`.
"""

from __future__ import annotations

import json
from datetime import date

from b2b_assets_tests.segments.segment_reference import reference_matches
from b2b_assets_tests.segments.segment_world import AS_OF, World, at, event_world, segment_of


def test_why_names_the_qualifying_rows(warehouse):
    w = event_world()
    w.account("acme", name="Acme Corp", closed_won_revenue=2_000_000.0)
    w.account("small", name="Small Co", closed_won_revenue=10.0)
    w.link("ann", "acme")
    w.link("ann", "small")
    w.link("bob", "acme")
    for days in (1, 3, 4, 5):
        w.event("ann", "visit_webpage", at(-days), f"page{days}", f"https://x/products/{days}")
    db = warehouse(w)
    document = {
        "where": {
            "all": [
                {"accounts": {"where": {"closed_won_revenue": {"gt": 1_000_000}}}},
                {
                    "events": {
                        "where": {"type": "visit_webpage", "url": {"contains": "/products/"}},
                        "within": {"days": 30},
                    }
                },
                {"not": {"lists": None}},
            ]
        }
    }
    db.check(document, {"ann"})
    ((person_id, email, can_email, why),) = db.rows(document)
    assert (person_id, email, can_email) == ("ann", None, False)
    why = json.loads(why)
    segment = segment_of(document)
    ann = next(p for p in db.tables["profile.person"] if p["person_id"] == "ann")
    for label, node in (
        ("all[0].accounts", segment.where.children[0]),
        ("all[1].events", segment.where.children[1]),
    ):
        expected = reference_matches(db.tables, segment, node, "person", ann, AS_OF)
        assert why[label]["matches"] == len(expected)
    assert set(why) == {"all[0].accounts", "all[1].events"}  # nothing under not
    accounts = why["all[0].accounts"]
    assert accounts["matches"] == 1
    assert [a["account_id"] for a in accounts["examples"]] == ["acme"]
    assert accounts["examples"][0]["closed_won_revenue"] == 2_000_000
    events = why["all[1].events"]
    assert events["matches"] == 5  # the new-software visit and the four product visits
    assert len(events["examples"]) == 3  # up to three examples, latest first
    assert [e["url"] for e in events["examples"]] == [
        "https://x/products/1",
        "https://www.acme-cdp.com/products/new-software?utm=x",
        "https://x/products/3",
    ]
    assert all(e["event_type"] == "visit_webpage" for e in events["examples"])
    assert "occurred_at" in events["examples"][0]


def test_why_of_an_aggregate_has_its_value(warehouse):
    w = World()
    w.account("acme", name="Acme")
    w.opportunity(
        "o1",
        "acme",
        amount_usd=300_000.0,
        is_closed_won=True,
        is_closed=True,
        is_won=True,
        close_date=date(2026, 5, 1),
    )
    w.opportunity(
        "o2",
        "acme",
        amount_usd=400_000.0,
        is_closed_won=True,
        is_closed=True,
        is_won=True,
        close_date=date(2026, 6, 1),
    )
    w.opportunity("o3", "acme", amount_usd=900_000.0, close_date=date(2026, 6, 1))
    db = warehouse(w)
    document = {
        "entity": "account",
        "where": {
            "opportunities": {
                "where": {"is_closed_won": True},
                "within": {"days": 365},
                "sum": {"field": "amount", "gt": 500_000},
            }
        },
    }
    db.check(document, {"acme"})
    ((account_id, name, _domain, _website, why),) = db.rows(document)
    why = json.loads(why)["opportunities"]
    assert why["matches"] == 2 and why["value"] == 700_000
    assert [e["opportunity_id"] for e in why["examples"]] == ["o2", "o1"]
