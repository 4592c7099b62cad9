"""The segment language (docs/segments.md): related entities (a person's accounts,
opportunities, campaigns and lists; an account's people, events and opportunities) and their
counts and sums.

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads (`segment_world.py`); the member set is checked against the
expectation written next to the data and against the plain-Python reference evaluator in
`segment_reference.py`.
"""

from __future__ import annotations

from datetime import date

from b2b_assets_tests.segments.segment_world import World, at


def test_person_accounts(people):
    people.check(
        {"where": {"accounts": {"where": {"closed_won_revenue": {"gt": 1_000_000}}}}},
        {"ann", "bob"},
    )
    people.check({"where": {"accounts": {"where": {"industry": "Software"}}}}, {"bob", "cat"})
    people.check({"where": {"accounts": None}}, {"ann", "bob", "cat"})
    people.check({"where": {"accounts": {"count": {"eq": 0}}}}, {"dan"})
    people.check({"where": {"accounts": {"count": {"at_least": 2}}}}, {"bob"})
    people.check(
        {"where": {"accounts": {"sum": {"field": "closed_won_revenue", "gte": 1_700_000}}}}, {"bob"}
    )
    people.check(
        {"where": {"not": {"accounts": {"where": {"industry": "Automotive"}}}}}, {"cat", "dan"}
    )
    # a window on an explicit time field of the account
    people.check(
        {"where": {"accounts": {"within": {"days": 2, "field": "last_activity_at"}}}},
        {"ann", "bob"},
    )


def opportunity_world() -> World:
    w = World()
    for pid in ("ann", "bob", "cat", "dan"):
        w.person(pid, email=f"{pid}@x.com")
    w.account("acme", name="Acme", industry="Automotive")
    w.account("globex", name="Globex", industry="Software")
    w.link("ann", "acme")
    w.link("bob", "acme")
    w.link("cat", "globex")
    w.opportunity(
        "o_open",
        "acme",
        name="Acme Expansion",
        stage="Negotiation",
        amount_usd=250_000.0,
        amount=230_000.0,
        currency="EUR",
        close_date=date(2026, 12, 15),
    )
    w.opportunity(
        "o_small",
        "acme",
        name="Acme Add-on",
        stage="Prospecting",
        amount_usd=50_000.0,
        close_date=date(2026, 12, 1),
    )
    w.opportunity(
        "o_won",
        "globex",
        name="Globex Renewal",
        stage="Closed Won",
        amount_usd=400_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2026, 6, 30),
    )
    w.role("ann", "o_open", "Decision Maker", is_primary=True)
    w.role("bob", "o_open", "Influencer", is_primary=False)
    w.role("bob", "o_small", "Decision Maker", is_primary=False)
    w.role("cat", "o_won", "Decision Maker", is_primary=True)
    w.role("cat", "o_won", "Economic Buyer", is_primary=False)  # one row per role
    w.role("dan", "o_won", None, is_primary=False)
    return w


def test_person_opportunities_with_role_and_is_primary(warehouse):
    db = warehouse(opportunity_world())
    db.check(
        {
            "where": {
                "opportunities": {
                    "where": {
                        "role": "Decision Maker",
                        "is_closed": False,
                        "amount": {"gt": 100_000},
                    }
                }
            }
        },
        {"ann"},
    )
    db.check(
        {"where": {"opportunities": {"where": {"role": "Decision Maker"}}}}, {"ann", "bob", "cat"}
    )
    db.check({"where": {"opportunities": {"where": {"is_primary": True}}}}, {"ann", "cat"})
    db.check(
        {"where": {"opportunities": {"where": {"role": {"ne": "Decision Maker"}}}}},
        {"bob", "cat", "dan"},
    )
    db.check({"where": {"opportunities": {"where": {"role": {"is_null": True}}}}}, {"dan"})
    db.check({"where": {"opportunities": {"where": {"amount_original": 230_000}}}}, {"ann", "bob"})
    db.check(
        {"where": {"opportunities": {"where": {"currency": "EUR", "stage": {"contains": "nego"}}}}},
        {"ann", "bob"},
    )
    # one row per role: cat has two rows on the one opportunity
    db.check({"where": {"opportunities": {"count": {"eq": 2}}}}, {"bob", "cat"})
    db.check({"where": {"opportunities": {"sum": {"field": "amount", "gte": 800_000}}}}, {"cat"})
    db.check({"where": {"opportunities": {"count": {"eq": 0}}}}, set())
    db.check(
        {
            "where": {
                "opportunities": {
                    "where": {"is_closed_won": True},
                    "max": {"field": "close_date", "gte": "2026-06-30"},
                }
            }
        },
        {"cat", "dan"},
    )


def test_person_account_opportunities(warehouse):
    db = warehouse(opportunity_world())
    db.check({"where": {"account_opportunities": {"where": {"is_closed_won": True}}}}, {"cat"})
    db.check({"where": {"account_opportunities": {"count": {"gte": 2}}}}, {"ann", "bob"})
    db.check(
        {"where": {"account_opportunities": {"sum": {"field": "amount", "gt": 299_999}}}},
        {"ann", "bob", "cat"},
    )
    db.check(
        {"where": {"account_opportunities": {"min": {"field": "amount", "lt": 100_000}}}},
        {"ann", "bob"},
    )
    db.check(
        {"where": {"account_opportunities": {"avg": {"field": "amount", "eq": 150_000}}}},
        {"ann", "bob"},
    )
    db.check({"where": {"account_opportunities": {"count": {"eq": 0}}}}, {"dan"})
    # close_date is the time: the open deals close in the future (after as_of: never seen)
    db.check({"where": {"account_opportunities": {"within": {"days": 365}}}}, {"cat"})


def test_person_campaigns_status_and_responded(warehouse):
    w = World()
    for pid in ("ann", "bob", "cat", "dan"):
        w.person(pid)
    w.campaign(
        "c1@crm_1",
        "Q4 Webinar: Data",
        type="Webinar",
        status="Completed",
        channel=None,
        start_date=date(2026, 11, 10),
    )
    w.campaign(
        "c2@crm_1", "Trade show", type="Event", status="Planned", start_date=date(2026, 9, 1)
    )
    w.campaign(
        "p1@marketo_1",
        "WEBINAR nurture",
        campaign_kind="marketo_program",
        source_instance="marketo_1",
        channel="Webinar",
        start_date=None,
    )
    w.member("ann", "c1@crm_1", "Attended", True)
    w.member("bob", "c1@crm_1", "Registered", False)
    w.member("bob", "c2@crm_1", "Attended", True)
    w.member("cat", "p1@marketo_1", "Attended", None)
    w.member("dan", "c2@crm_1", "No Show", False)
    db = warehouse(w)
    db.check(
        {
            "where": {
                "campaigns": {
                    "where": {
                        "name": {"contains": "webinar"},
                        "status": {"in": ["Attended", "Registered"]},
                    }
                }
            }
        },
        {"ann", "bob", "cat"},
    )
    db.check(
        {"where": {"campaigns": {"where": {"status": "Attended", "responded": True}}}},
        {"ann", "bob"},
    )
    db.check(
        {"where": {"campaigns": {"where": {"responded": {"ne": True}}}}}, {"bob", "cat", "dan"}
    )
    db.check({"where": {"campaigns": {"where": {"kind": "marketo_program"}}}}, {"cat"})
    db.check(
        {"where": {"campaigns": {"where": {"channel": {"is_null": True}}}}}, {"ann", "bob", "dan"}
    )
    db.check(
        {"where": {"campaigns": {"where": {"campaign_status": "Planned", "type": "Event"}}}},
        {"bob", "dan"},
    )
    db.check({"where": {"campaigns": {"where": {"source_instance": "marketo_1"}}}}, {"cat"})
    db.check({"where": {"campaigns": {"count": {"gte": 2}}}}, {"bob"})


def test_person_campaigns_window_uses_the_start_date(warehouse):
    """Documented: 'a campaign window uses the campaign's start date'."""
    w = World()
    for pid in ("ann", "bob", "cat"):
        w.person(pid)
    w.campaign("c1@crm_1", "Recent", start_date=date(2026, 11, 10))
    w.campaign("c2@crm_1", "Old", start_date=date(2026, 9, 1))
    w.campaign("p1@marketo_1", "Program", campaign_kind="marketo_program", start_date=None)
    w.member("ann", "c1@crm_1", "Attended", True)
    w.member("bob", "c2@crm_1", "Attended", True)
    w.member("cat", "p1@marketo_1", "Attended", True)
    db = warehouse(w)
    db.check({"where": {"campaigns": {"within": {"days": 30}}}}, {"ann"})
    db.check({"where": {"campaigns": {"within": "last_month"}}}, set())


def test_person_lists(warehouse):
    w = World()
    for pid in ("ann", "bob", "cat"):
        w.person(pid)
    w.marketing_list("l1@marketo_1", "Customers")
    w.marketing_list("l2@marketo_1", "Newsletter")
    w.on_list("ann", "l1@marketo_1")
    w.on_list("bob", "l2@marketo_1")
    w.on_list("bob", "l1@marketo_1")
    db = warehouse(w)
    db.check({"where": {"lists": {"where": {"name": "Customers"}}}}, {"ann", "bob"})
    db.check({"where": {"not": {"lists": {"where": {"name": "Customers"}}}}}, {"cat"})
    db.check({"where": {"lists": {"count": {"eq": 0}}}}, {"cat"})
    db.check(
        {
            "where": {
                "lists": {
                    "where": {"name": {"starts_with": "news"}, "source_instance": "marketo_1"}
                }
            }
        },
        {"bob"},
    )


def pricing_world() -> World:
    """Accounts whose people visited the pricing page: only acme has 3 in the last 14 days."""
    w = World()
    for aid in ("acme", "globex", "initech"):
        w.account(aid, name=aid.title())
    visits = {
        "acme": [at(-1), at(-13.9), at(0)],  # three recent visitors
        "globex": [at(-2), at(-3), at(-14)],  # the third is exactly 14 days old: out
        "initech": [at(-1), at(-1), at(-1)],  # one person visiting three times
    }
    for aid, moments in visits.items():
        for i, moment in enumerate(moments):
            pid = f"{aid}_p{i}" if aid != "initech" else "initech_p0"
            if not any(p["person_id"] == pid for p in w.tables["profile.person"]):
                w.person(pid)
                w.link(pid, aid)
            w.event(
                pid,
                "visit_webpage",
                moment,
                "www.bodea.com/Pricing",
                "https://www.bodea.com/Pricing?x=1",
            )
    # acme has a fourth person who only opened an email, and one who saw another page
    w.person("acme_p9")
    w.link("acme_p9", "acme")
    w.event("acme_p9", "open_email", at(-1), "Pricing mail", "www.bodea.com/pricing")
    w.person("acme_p8")
    w.link("acme_p8", "acme")
    w.event("acme_p8", "visit_webpage", at(-1), "www.bodea.com/about", "www.bodea.com/about")
    # globex: a fourth visitor whose visit is after as_of (never seen)
    w.person("globex_p9")
    w.link("globex_p9", "globex")
    w.event("globex_p9", "visit_webpage", at(0, seconds=1), "/pricing", "/pricing")
    return w


PRICING_SURGE = """
name: pricing_surge_accounts
entity: account
where:
  people:
    where:
      events:
        where: {type: visit_webpage, url: {contains: /pricing}}
        within: {days: 14}
    count: {gte: 3}
"""


def test_account_people_with_nested_events(warehouse):
    db = warehouse(pricing_world())
    db.check(PRICING_SURGE, {"acme"})
    db.check(PRICING_SURGE.replace("gte: 3", "gte: 2"), {"acme", "globex"})
    db.check(PRICING_SURGE.replace("{gte: 3}", "{at_most: 1}"), {"initech"})
    db.check(PRICING_SURGE.replace("{days: 14}", "{days: 15}"), {"acme", "globex"})


def test_account_events(warehouse):
    db = warehouse(pricing_world())
    db.check(
        {
            "entity": "account",
            "where": {
                "events": {
                    "where": {"type": "visit_webpage"},
                    "within": {"days": 14},
                    "count": {"gte": 3},
                }
            },
        },
        {"acme", "initech"},
    )
    db.check(
        {"entity": "account", "where": {"events": {"where": {"type": "open_email"}}}}, {"acme"}
    )
    db.check({"entity": "account", "where": {"events": {"count": {"eq": 0}}}}, set())


def test_account_opportunities_sum_in_365_days_by_close_date(warehouse):
    w = World()
    for aid in ("acme", "globex", "initech", "umbrella"):
        w.account(aid)
    # as_of is 2026-11-18T12:00Z; (as_of - 365 days, as_of] starts 2025-11-18T12:00Z and a
    # date counts from midnight UTC: 2025-11-18 is out, 2025-11-19 is in, 2026-11-18 is in.
    w.opportunity(
        "a1",
        "acme",
        amount_usd=300_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2025, 11, 19),
    )
    w.opportunity(
        "a2",
        "acme",
        amount_usd=300_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2026, 11, 18),
    )
    w.opportunity(
        "g1",
        "globex",
        amount_usd=300_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2025, 11, 18),
    )  # 365 days: out
    w.opportunity(
        "g2",
        "globex",
        amount_usd=300_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2026, 5, 1),
    )
    w.opportunity("i1", "initech", amount_usd=900_000.0, close_date=date(2026, 5, 1))  # open
    w.opportunity(
        "i2",
        "initech",
        amount_usd=400_000.0,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2026, 11, 19),
    )  # after as_of
    w.opportunity(
        "u1",
        "umbrella",
        amount_usd=None,
        is_closed=True,
        is_won=True,
        is_closed_won=True,
        close_date=date(2026, 5, 1),
    )
    db = warehouse(w)
    big = """
entity: account
where:
  opportunities:
    where: {is_closed_won: true}
    within: {days: 365}
    sum: {field: amount, gt: 500000}
"""
    db.check(big, {"acme"})
    db.check(big.replace("gt: 500000", "eq: 0"), {"initech", "umbrella"})  # no rows: 0
    db.check(big.replace("sum:", "max:").replace("gt: 500000", "gte: 300000"), {"acme", "globex"})
    db.check(big.replace("sum:", "avg:").replace("gt: 500000", "gte: 0"), {"acme", "globex"})
    db.check(big.replace("sum:", "min:").replace("gt: 500000", "gte: 0"), {"acme", "globex"})
    db.check(
        big.replace("sum: {field: amount, gt: 500000}", "min: {field: close_date, lt: 2026-01-01}"),
        {"acme"},
    )
    db.check(
        big.replace("sum: {field: amount, gt: 500000}", "max: {field: close_date, eq: 2026-11-18}"),
        {"acme"},
    )
