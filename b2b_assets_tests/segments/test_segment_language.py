"""The segment language (docs/segments.md) against small hand-made warehouses.

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads; the member set is checked against the expectation written
next to the data and against the plain-Python reference evaluator in `segment_reference.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from b2b_assets.segments.compiler import SegmentCompiler
from b2b_assets.segments.language import (
    Segment,
    SegmentError,
    load_segment,
    parse_segment,
)
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets_tests.segments.segment_reference import reference_matches, reference_members

AS_OF = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
MIDNIGHT = datetime(2026, 11, 18, tzinfo=UTC)  # where dates are exactly N days old
INJECTION = "O'Brien'; DROP TABLE profile.person; --"

# --------------------------------------------------------------------------------------------
# The warehouse tables the compiled SQL reads (columns as in b2b_assets/checks/*_schemas.py)
# --------------------------------------------------------------------------------------------

TL = "VARCHAR[]"
TABLES: dict[str, dict[str, str]] = {
    "profile.person": {
        "person_id": "VARCHAR",
        "email": "VARCHAR",
        "account_ids": TL,
        "can_email": "BOOLEAN",
        "first_name": "VARCHAR",
        "last_name": "VARCHAR",
        "title": "VARCHAR",
        "source_keys": TL,
        "source_instances": TL,
        "opt_out_reasons": TL,
        "last_activity_at": "TIMESTAMPTZ",
        "event_count": "BIGINT",
    },
    "profile.account": {
        "account_id": "VARCHAR",
        "name": "VARCHAR",
        "closed_won_revenue": "DOUBLE",
        "source_keys": TL,
        "source_instances": TL,
        "golden_id": "VARCHAR",
        "website": "VARCHAR",
        "domain": "VARCHAR",
        "industry": "VARCHAR",
        "billing_country": "VARCHAR",
        "number_of_employees": "BIGINT",
        "annual_revenue": "DOUBLE",
        "closed_won_count": "BIGINT",
        "open_pipeline": "DOUBLE",
        "open_opportunity_count": "BIGINT",
        "closed_lost_count": "BIGINT",
        "opportunity_count": "BIGINT",
        "last_closed_won_date": "DATE",
        "people_count": "BIGINT",
        "last_activity_at": "TIMESTAMPTZ",
        "revenue_by_source": "VARCHAR",
    },
    "profile.person_account": {
        "person_id": "VARCHAR",
        "account_id": "VARCHAR",
        "relations": TL,
        "roles": TL,
        "source_instances": TL,
    },
    "profile.opportunity": {
        "opportunity_id": "VARCHAR",
        "account_id": "VARCHAR",
        "name": "VARCHAR",
        "stage": "VARCHAR",
        "amount": "DOUBLE",
        "currency": "VARCHAR",
        "amount_usd": "DOUBLE",
        "is_closed": "BOOLEAN",
        "is_won": "BOOLEAN",
        "is_closed_won": "BOOLEAN",
        "close_date": "DATE",
        "counted_from": "VARCHAR",
        "source_keys": TL,
    },
    "profile.person_opportunity": {
        "person_id": "VARCHAR",
        "opportunity_id": "VARCHAR",
        "role": "VARCHAR",
        "is_primary": "BOOLEAN",
        "account_id": "VARCHAR",
        "name": "VARCHAR",
        "stage": "VARCHAR",
        "amount": "DOUBLE",
        "currency": "VARCHAR",
        "amount_usd": "DOUBLE",
        "is_closed": "BOOLEAN",
        "is_won": "BOOLEAN",
        "is_closed_won": "BOOLEAN",
        "close_date": "DATE",
    },
    "b2b.experience_event": {
        "event_key": "VARCHAR",
        "source_instance": "VARCHAR",
        "person_key": "VARCHAR",
        "event_type": "VARCHAR",
        "event_type_id": "BIGINT",
        "occurred_at": "TIMESTAMPTZ",
        "page": "VARCHAR",
        "url": "VARCHAR",
        "primary_attribute_value_id": "VARCHAR",
        "attributes": "VARCHAR",
    },
    "identity.person": {
        "person_key": "VARCHAR",
        "person_id": "VARCHAR",
        "email": "VARCHAR",
        "distinct_emails": "BIGINT",
        "component_size": "BIGINT",
    },
    "b2b.campaign": {
        "campaign_key": "VARCHAR",
        "source_instance": "VARCHAR",
        "campaign_kind": "VARCHAR",
        "source_id": "VARCHAR",
        "name": "VARCHAR",
        "type": "VARCHAR",
        "status": "VARCHAR",
        "channel": "VARCHAR",
        "start_date": "DATE",
        "end_date": "DATE",
    },
    "b2b.campaign_member": {
        "member_key": "VARCHAR",
        "source_instance": "VARCHAR",
        "campaign_key": "VARCHAR",
        "person_key": "VARCHAR",
        "status": "VARCHAR",
        "has_responded": "BOOLEAN",
    },
    "b2b.marketing_list": {
        "list_key": "VARCHAR",
        "source_instance": "VARCHAR",
        "source_id": "VARCHAR",
        "name": "VARCHAR",
    },
    "b2b.marketing_list_member": {
        "member_key": "VARCHAR",
        "source_instance": "VARCHAR",
        "list_key": "VARCHAR",
        "person_key": "VARCHAR",
    },
}
EVENT_TYPE_IDS = {
    "visit_webpage": 1,
    "fill_out_form": 2,
    "click_link": 3,
    "send_email": 6,
    "open_email": 10,
    "click_email": 11,
}


class World:
    """Rows of the warehouse tables, built up by a test (the same rows go to DuckDB and to the
    reference evaluator)."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self._n = 0

    def _next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def _add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        unknown = set(row) - set(TABLES[table])
        assert not unknown, f"{table} has no {unknown}"
        self.tables[table].append({c: row.get(c) for c in TABLES[table]})
        return self.tables[table][-1]

    def person(self, person_id: str, keys: Iterable[str] | None = None, **fields: Any) -> str:
        row = {
            "person_id": person_id,
            "can_email": False,
            "event_count": 0,
            "source_keys": [],
            "source_instances": ["crm_1"],
            "opt_out_reasons": [],
            **fields,
        }
        self._add("profile.person", row)
        for k in [f"{person_id}@marketo_1"] if keys is None else keys:
            self._add(
                "identity.person",
                {
                    "person_key": k,
                    "person_id": person_id,
                    "email": fields.get("email"),
                    "distinct_emails": 1,
                    "component_size": 1,
                },
            )
        return person_id

    def account(self, account_id: str, **fields: Any) -> str:
        row = {
            "account_id": account_id,
            "closed_won_revenue": 0.0,
            "source_keys": [],
            "source_instances": ["crm_1"],
            "closed_won_count": 0,
            "open_pipeline": 0.0,
            "open_opportunity_count": 0,
            "closed_lost_count": 0,
            "opportunity_count": 0,
            "people_count": 0,
            "revenue_by_source": "[]",
            **fields,
        }
        self._add("profile.account", row)
        return account_id

    def link(self, person_id: str, account_id: str) -> None:
        self._add(
            "profile.person_account",
            {
                "person_id": person_id,
                "account_id": account_id,
                "relations": ["contact"],
                "roles": None,
                "source_instances": ["crm_1"],
            },
        )

    def opportunity(self, opportunity_id: str, account_id: str | None, **fields: Any) -> str:
        row = {
            "opportunity_id": opportunity_id,
            "account_id": account_id,
            "currency": "USD",
            "is_closed": False,
            "is_won": False,
            "is_closed_won": False,
            "counted_from": "crm_1",
            "source_keys": [f"{opportunity_id}@crm_1"],
            **fields,
        }
        if "amount_usd" in row and "amount" not in row:
            row["amount"] = row["amount_usd"]
        self._add("profile.opportunity", row)
        return opportunity_id

    def role(self, person_id: str, opportunity_id: str, role: str | None, is_primary=False):
        opp = next(
            o for o in self.tables["profile.opportunity"] if o["opportunity_id"] == opportunity_id
        )
        copied = {c: opp[c] for c in TABLES["profile.person_opportunity"] if c in opp}
        self._add(
            "profile.person_opportunity",
            {**copied, "person_id": person_id, "role": role, "is_primary": is_primary},
        )

    def event(
        self,
        person: str,
        event_type: str,
        occurred_at: datetime,
        page: str | None = None,
        url: str | None = None,
        *,
        key: str | None = None,
        source_instance: str = "marketo_1",
    ) -> dict[str, Any]:
        return self._add(
            "b2b.experience_event",
            {
                "event_key": self._next("ev") + "@marketo_1",
                "source_instance": source_instance,
                "person_key": key or f"{person}@marketo_1",
                "event_type": event_type,
                "event_type_id": EVENT_TYPE_IDS.get(event_type, 99),
                "occurred_at": occurred_at,
                "page": page,
                "url": url,
            },
        )

    def campaign(self, campaign_key: str, name: str, **fields: Any) -> str:
        row = {
            "campaign_key": campaign_key,
            "source_instance": "crm_1",
            "campaign_kind": "salesforce_campaign",
            "source_id": campaign_key,
            "name": name,
            **fields,
        }
        self._add("b2b.campaign", row)
        return campaign_key

    def member(self, person: str, campaign_key: str, status: str | None, responded=None):
        self._add(
            "b2b.campaign_member",
            {
                "member_key": self._next("cm") + "@crm_1",
                "source_instance": "crm_1",
                "campaign_key": campaign_key,
                "person_key": f"{person}@marketo_1",
                "status": status,
                "has_responded": responded,
            },
        )

    def marketing_list(self, list_key: str, name: str | None) -> str:
        self._add(
            "b2b.marketing_list",
            {
                "list_key": list_key,
                "source_instance": "marketo_1",
                "source_id": list_key,
                "name": name,
            },
        )
        return list_key

    def on_list(self, person: str, list_key: str) -> None:
        self._add(
            "b2b.marketing_list_member",
            {
                "member_key": self._next("lm") + "@marketo_1",
                "source_instance": "marketo_1",
                "list_key": list_key,
                "person_key": f"{person}@marketo_1",
            },
        )

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """The tables, with each person's account_ids as in profile.person_account."""
        for person in self.tables["profile.person"]:
            person["account_ids"] = sorted(
                link["account_id"]
                for link in self.tables["profile.person_account"]
                if link["person_id"] == person["person_id"]
            )
        return self.tables


def create_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict[str, Any]]]):
    """CREATE the warehouse tables with their column types and insert the rows."""
    for schema in sorted({name.split(".")[0] for name in TABLES}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, columns in TABLES.items():
        con.execute(
            f"CREATE OR REPLACE TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})"
        )
    insert_rows(con, tables)


def insert_rows(con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict[str, Any]]]):
    """Replace the rows of every table (one INSERT per table, values bound as parameters)."""
    existing = {
        f"{schema}.{table}"
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()"
        ).fetchall()
    }
    if existing != set(TABLES):  # a test broke the warehouse: start again
        create_tables(con, {})
    for name, columns in TABLES.items():
        con.execute(f"DELETE FROM {name}")
        rows = tables.get(name, [])
        if rows:
            one = "(" + ", ".join("?" for _ in columns) + ")"
            con.execute(
                f"INSERT INTO {name} VALUES {', '.join(one for _ in rows)}",
                [row.get(c) for row in rows for c in columns],
            )


def connect(tables: dict[str, list[dict[str, Any]]] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the macros and the warehouse tables (holding `tables`)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")  # as the warehouse resource does
    install_macros(con)
    create_tables(con, tables or {})
    return con


def segment_of(document: Any, name: str = "seg") -> Segment:
    """Parse a segment given as YAML text or as a loaded document."""
    if isinstance(document, str):
        document = yaml.safe_load(document)
    return parse_segment(document, f"segments/{name}.yaml", default_name=name)


def compile_segment(segment: Segment, others: Iterable[Segment] = (), as_of: datetime = AS_OF):
    known = {s.name: s for s in others}
    known[segment.name] = segment
    return SegmentCompiler(known, as_of).compile(segment)


def run_sql(con, segment: Segment, others: Iterable[Segment] = (), as_of: datetime = AS_OF):
    compiled = compile_segment(segment, others, as_of)
    return con.execute(compiled.sql, compiled.params).fetchall()


class Warehouse:
    """One World loaded into DuckDB, with helpers to run segments on it."""

    def __init__(self, world: World, con: duckdb.DuckDBPyConnection):
        self.tables = world.rows()
        self.con = con
        insert_rows(con, self.tables)

    def rows(self, document, others=(), as_of=AS_OF) -> list[tuple]:
        return run_sql(self.con, segment_of(document), others, as_of)

    def members(self, document, others=(), as_of=AS_OF) -> set[str]:
        return {row[0] for row in self.rows(document, others, as_of)}

    def reference(self, document, others=(), as_of=AS_OF) -> set[str]:
        segment = segment_of(document)
        return reference_members(self.tables, segment, as_of, {s.name: s for s in others})

    def check(self, document, expected: set[str], others=(), as_of=AS_OF) -> None:
        """The compiled SQL and the reference both give exactly `expected`."""
        assert self.reference(document, others, as_of) == expected, "reference evaluator"
        assert self.members(document, others, as_of) == expected, "compiled SQL"


@pytest.fixture(scope="module")
def duck():
    """One in-memory DuckDB with the warehouse tables for this module (rows replaced per test:
    connecting and creating tables is the slow part)."""
    con = connect()
    yield con
    con.close()


@pytest.fixture
def warehouse(duck):
    """Load a World's rows into the warehouse tables: `db = warehouse(world)`."""
    return lambda world: Warehouse(world, duck)


def at(days: float = 0, **delta: float) -> datetime:
    """A moment relative to AS_OF: at(-2) is two days before."""
    return AS_OF + timedelta(days=days, **delta)


# --------------------------------------------------------------------------------------------
# A small shared world for the field tests
# --------------------------------------------------------------------------------------------


def people_world() -> World:
    w = World()
    w.account(
        "acme",
        name="Acme Corp",
        industry="Automotive",
        domain="acme.com",
        closed_won_revenue=1_500_000.0,
        number_of_employees=500,
        annual_revenue=2.0e7,
        billing_country="US",
        last_closed_won_date=date(2026, 6, 30),
        golden_id="G-ACME",
        last_activity_at=at(-1),
    )
    w.account(
        "globex",
        name="Globex",
        industry="Software",
        domain="globex.com",
        closed_won_revenue=200_000.0,
        number_of_employees=None,
        annual_revenue=None,
        billing_country=None,
        last_closed_won_date=None,
    )
    w.account(
        "initech",
        name="INITECH",
        industry=None,
        closed_won_revenue=0.0,
        number_of_employees=40,
        last_closed_won_date=date(2026, 11, 18),
    )
    w.person(
        "ann",
        email="ann@acme.com",
        can_email=True,
        first_name="Ann",
        last_name="O'Brien",
        title="VP Marketing",
        event_count=5,
        last_activity_at=at(-1),
    )
    w.person(
        "bob",
        email="bob@acme.com",
        can_email=False,
        first_name="Bob",
        last_name="Smith",
        title="CTO",
        event_count=0,
        last_activity_at=None,
    )
    w.person(
        "cat",
        email="cat@globex.com",
        can_email=True,
        first_name=None,
        last_name="Jones",
        title=None,
        event_count=2,
        last_activity_at=datetime(2026, 10, 20, tzinfo=UTC),
    )
    w.person(
        "dan",
        email=None,
        can_email=False,
        first_name="Dan",
        last_name=INJECTION,
        title="cto",
        event_count=1,
        last_activity_at=AS_OF,
    )
    w.link("ann", "acme")
    w.link("bob", "acme")
    w.link("bob", "globex")
    w.link("cat", "globex")
    return w


@pytest.fixture
def people(warehouse) -> Warehouse:
    return warehouse(people_world())


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


# --------------------------------------------------------------------------------------------
# Relations
# --------------------------------------------------------------------------------------------


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


def event_world() -> World:
    w = World()
    for pid in ("ann", "bob", "cat", "dan", "eve"):
        w.person(pid)
    w.event(
        "ann",
        "visit_webpage",
        at(-2),
        "www.acme-cdp.com/Products/New-Software",
        "https://www.acme-cdp.com/products/new-software?utm=x",
    )
    w.event("ann", "open_email", datetime(2026, 10, 10, tzinfo=UTC), "Newsletter", "Newsletter")
    w.event("ann", "open_email", datetime(2026, 10, 20, tzinfo=UTC), "Newsletter", "Newsletter")
    w.event("bob", "visit_webpage", at(-20), "www.acme-cdp.com/pricing", None)
    w.event("bob", "open_email", datetime(2026, 10, 5, tzinfo=UTC), "Promo", "Promo")
    w.event("cat", "fill_out_form", at(0, minutes=-30), "Demo request", "www.acme-cdp.com/demo")
    w.event("cat", "visit_webpage", at(0, hours=-3), "www.acme-cdp.com/PRICING", None)
    w.event("dan", "click_link", AS_OF, "link", "https://x.example/a")
    w.event("dan", "activity_104", at(-1), None, None)
    w.event("eve", "visit_webpage", at(1), "www.acme-cdp.com/pricing", None)  # after as_of
    return w


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


# --------------------------------------------------------------------------------------------
# why: the qualifying rows of each relation condition, keyed by its place in the file
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The compiled SQL against the reference on random data and random segments
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Injection: values are values, names are checked
# --------------------------------------------------------------------------------------------


def injection_world() -> World:
    w = World()
    w.person("ob", email="ob@globex.com", last_name=INJECTION, title=INJECTION)
    w.person("other", email="x@y.com", last_name="O'Brien", title="CTO")
    w.account("acc", name=INJECTION)
    w.link("ob", "acc")
    w.event("ob", "visit_webpage", at(-1), INJECTION, INJECTION)
    w.campaign("c1@crm_1", INJECTION)
    w.member("ob", "c1@crm_1", INJECTION, True)
    w.marketing_list("l1@marketo_1", INJECTION)
    w.on_list("ob", "l1@marketo_1")
    return w


def _tables_intact(db: Warehouse) -> None:
    names = {
        f"{schema}.{table}"
        for schema, table in db.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()"
        ).fetchall()
    }
    assert names == set(TABLES)
    assert db.con.execute("SELECT count(*) FROM profile.person").fetchone() == (2,)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"last_name": INJECTION}, {"ob"}),
        ({"last_name": {"eq": INJECTION}}, {"ob"}),
        ({"last_name": {"ne": INJECTION}}, {"other"}),
        ({"last_name": {"in": [INJECTION, "x'); DROP TABLE b2b.campaign; --"]}}, {"ob"}),
        ({"last_name": {"not_in": [INJECTION]}}, {"other"}),
        ({"title": {"contains": "'; DROP TABLE profile.person; --"}}, {"ob"}),
        ({"title": {"starts_with": "o'brien'; drop"}}, {"ob"}),
        ({"email": {"contains": "' OR '1'='1"}}, set()),
        ({"last_name": {"eq": "' OR 1=1 --"}}, set()),
        ({"last_name": {"eq": "$p1"}}, set()),
        ({"accounts": {"where": {"name": {"contains": INJECTION}}}}, {"ob"}),
        ({"events": {"where": {"page": INJECTION, "url": {"starts_with": INJECTION}}}}, {"ob"}),
        ({"events": {"where": {"type": {"contains": "'); DROP TABLE x; --"}}}}, set()),
        ({"campaigns": {"where": {"name": INJECTION, "status": {"in": [INJECTION]}}}}, {"ob"}),
        ({"lists": {"where": {"name": {"ne": INJECTION}}}}, set()),
        ({"lists": {"where": {"name": INJECTION}}}, {"ob"}),
    ],
)
def test_injection_in_values_is_only_a_value(warehouse, where, expected):
    db = warehouse(injection_world())
    compiled = compile_segment(segment_of({"where": where}))
    assert "DROP" not in compiled.sql.upper()
    db.check({"where": where}, expected)
    _tables_intact(db)


def test_injection_in_an_account_segment_value(warehouse):
    db = warehouse(injection_world())
    db.check({"entity": "account", "where": {"name": INJECTION}}, {"acc"})
    db.check({"entity": "account", "where": {"people": {"where": {"title": INJECTION}}}}, {"acc"})
    _tables_intact(db)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"where": {"in_segment": INJECTION}}, "where.in_segment"),
        ({"where": {"in_segment": "ok; DROP TABLE profile.person"}}, "where.in_segment"),
        ({"where": {INJECTION: "x"}}, f"where.{INJECTION}"),
        (
            {"where": {"email; DROP TABLE profile.person; --": "x"}},
            "where.email; DROP TABLE profile.person; --",
        ),
        (
            {"where": {"events": {INJECTION: {"type": "visit_webpage"}}}},
            f"where.events.{INJECTION}",
        ),
        (
            {"where": {"events": {"where) OR (1=1": {"type": "visit_webpage"}}}},
            "where.events.where) OR (1=1",
        ),
        ({"where": {"events": {"within": {INJECTION: 3}}}}, f"where.events.within.{INJECTION}"),
        (
            {"where": {"events": {"within": {"days": 3, "field": INJECTION}}}},
            "where.events.within.field",
        ),
        (
            {"where": {"events": {"within": {"calendar": INJECTION}}}},
            "where.events.within.calendar",
        ),
        ({"where": {"events": {"within": INJECTION}}}, "where.events.within.calendar"),
        ({"where": {"events": {"where": {"type": INJECTION}}}}, "where.events.where.type.eq"),
        (
            {"where": {"events": {"where": {"type": {"in": ["visit_webpage", INJECTION]}}}}},
            "where.events.where.type.in[1]",
        ),
        ({"where": {"events": {"sum": {"field": INJECTION, "gt": 1}}}}, "where.events.sum.field"),
        ({"where": {"events": {"count": {INJECTION: 1}}}}, f"where.events.count.{INJECTION}"),
        ({"where": {"title": {INJECTION: "x"}}}, f"where.title.{INJECTION}"),
        ({"name": INJECTION, "where": {"title": "x"}}, "name"),
        ({"entity": INJECTION, "where": {"title": "x"}}, "entity"),
        ({INJECTION: 1, "where": {"title": "x"}}, INJECTION),
    ],
)
def test_injection_in_names_is_rejected(tmp_path, document, path):
    file = tmp_path / "segments" / "inject.yaml"
    file.parent.mkdir()
    file.write_text(yaml.safe_dump(document))
    with pytest.raises(SegmentError) as error:
        load_segment(file)
    assert error.value.file == str(file)
    assert error.value.path == path
    assert str(error.value).startswith(f"{file}: at {path}: ")


# --------------------------------------------------------------------------------------------
# Errors name the file and the path inside it
# --------------------------------------------------------------------------------------------


def write(folder: Path, stem: str, document: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def error_of(tmp_path: Path, document: Any, others: dict[str, Any] | None = None) -> SegmentError:
    """Load (and compile, among `others`) a segment file that has a mistake."""
    folder = tmp_path / "segments"
    path = write(folder, "bad", document)
    with pytest.raises(SegmentError) as error:
        segment = load_segment(path)
        known = {segment.name: segment}
        for stem, other in (others or {}).items():
            loaded = load_segment(write(folder, stem, other))
            known[loaded.name] = loaded
        SegmentCompiler(known, AS_OF).compile(segment)
    message = str(error.value)
    assert message.startswith(f"{error.value.file}: at {error.value.path or '(top)'}: "), message
    return error.value


def _at(document: Any, path: str) -> Any:
    """The part of a loaded document a SegmentError path points at (KeyError if none)."""
    node = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


@pytest.mark.parametrize(
    ("where", "path", "suggestion"),
    [
        ({"emial": "a@b.c"}, "where.emial", "email"),
        ({"all": [{"can_email": True}, {"titel": "CTO"}]}, "where.all[1].titel", "title"),
        (
            {"accounts": {"where": {"closed_won_revenu": {"gt": 1}}}},
            "where.accounts.where.closed_won_revenu",
            "closed_won_revenue",
        ),
        ({"event": {"within": {"days": 3}}}, "where.event", "events"),
        ({"events": {"where": {"urll": {"contains": "x"}}}}, "where.events.where.urll", "url"),
        (
            {"not": {"opportunities": {"where": {"rol": "Decision Maker"}}}},
            "where.not.opportunities.where.rol",
            "role",
        ),
        ({"in_segmnt": "x"}, "where.in_segmnt", "in_segment"),
    ],
)
def test_unknown_field_says_did_you_mean(tmp_path, where, path, suggestion):
    error = error_of(tmp_path, {"entity": "person", "where": where})
    assert error.file.endswith("bad.yaml")
    assert error.path == path
    assert f"did you mean {suggestion!r}" in str(error)


def test_unknown_account_field_message_as_documented(tmp_path):
    error = error_of(
        tmp_path, {"entity": "person", "where": {"accounts": {"where": {"closed_won_revenu": 1}}}}
    )
    assert str(error) == (
        f"{error.file}: at where.accounts.where.closed_won_revenu: unknown field or relation "
        "'closed_won_revenu' for an account (did you mean 'closed_won_revenue'?)"
    )


@pytest.mark.parametrize(
    ("where", "path", "suggestion"),
    [
        ({"event_count": {"gtee": 3}}, "where.event_count.gtee", "gte"),
        ({"title": {"containz": "x"}}, "where.title.containz", "contains"),
        ({"title": {"not in": ["x"]}}, "where.title.not in", "not_in"),
        ({"events": {"count": {"at_lest": 3}}}, "where.events.count.at_lest", "at_least"),
        ({"event_count": {"at_mots": 3}}, "where.event_count.at_mots", "at_most"),
        ({"events": {"whre": {"type": "open_email"}}}, "where.events.whre", "where"),
        ({"events": {"where": {"type": "open_emial"}}}, "where.events.where.type.eq", "open_email"),
    ],
)
def test_unknown_operator(tmp_path, where, path, suggestion):
    error = error_of(tmp_path, {"where": where})
    assert error.path == path
    assert "unknown" in str(error)
    if suggestion:
        assert f"did you mean {suggestion!r}" in str(error)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ({"event_count": {"gte": "many"}}, "where.event_count.gte"),
        ({"event_count": True}, "where.event_count.eq"),
        ({"can_email": "yes please"}, "where.can_email.eq"),
        ({"can_email": 1}, "where.can_email.eq"),
        ({"title": {"gt": "a"}}, "where.title.gt"),
        ({"title": ["a"]}, "where.title.eq"),
        ({"title": {"in": []}}, "where.title.in"),
        ({"title": {"in": "CTO"}}, "where.title.in"),
        ({"event_count": {"in": [1, "two"]}}, "where.event_count.in[1]"),
        ({"event_count": {"contains": "1"}}, "where.event_count.contains"),
        ({"title": {"is_null": False}}, "where.title.is_null"),
        ({"last_activity_at": {"gte": "last tuesday"}}, "where.last_activity_at.gte"),
        (
            {"accounts": {"where": {"last_closed_won_date": {"gt": "2026-13-01"}}}},
            "where.accounts.where.last_closed_won_date.gt",
        ),
        ({"events": {"count": {"gte": "three"}}}, "where.events.count.gte"),
        ({"events": {"count": {"gte": 3, "field": "type_id"}}}, "where.events.count.field"),
        ({"events": {"sum": {"field": "page", "gt": 1}}}, "where.events.sum.field"),
        ({"events": {"max": {"field": "occurred_at", "gt": "soon"}}}, "where.events.max.gt"),
        ({"events": {"count": {"gte": 1}, "sum": {"field": "type_id", "gt": 1}}}, "where.events"),
        ({"all": []}, "where.all"),
        ({"not": []}, "where.not"),
        ({"in_segment": 3}, "where.in_segment"),
    ],
)
def test_wrong_value_type(tmp_path, where, path):
    error = error_of(tmp_path, {"where": where})
    assert error.path == path


@pytest.mark.parametrize(
    ("entity", "relation", "field", "value"),
    [
        ("account", "opportunities", "close_date", "2026-01-01"),
        ("person", "events", "occurred_at", "2026-01-01T00:00:00Z"),
    ],
)
def test_sum_of_a_date_or_timestamp_is_a_wrong_type(tmp_path, entity, relation, field, value):
    """Documented: sum sums a number field (only min/max also work on dates and timestamps).
    A sum over a time must be reported like any wrong type, not fail inside DuckDB."""
    error = error_of(
        tmp_path, {"entity": entity, "where": {relation: {"sum": {"field": field, "gt": value}}}}
    )
    assert error.path == f"where.{relation}.sum.field"


@pytest.mark.parametrize(
    ("within", "path"),
    [
        ({"days": -3}, "where.events.within.days"),
        ({"days": 0}, "where.events.within.days"),
        ({"days": 1.5}, "where.events.within.days"),
        ({"days": "thirty"}, "where.events.within.days"),
        ({"days": True}, "where.events.within.days"),
        ({"fortnights": 2}, "where.events.within.fortnights"),
        ({"dayz": 2}, "where.events.within.dayz"),
        ({"days": 3, "hours": 2}, "where.events.within"),
        ({}, "where.events.within"),
        ({"field": "occurred_at"}, "where.events.within"),
        ("last_decade", "where.events.within.calendar"),
        ({"calendar": "next_month"}, "where.events.within.calendar"),
        ({"days": 3, "field": "page"}, "where.events.within.field"),
        (30, "where.events.within"),
    ],
)
def test_bad_window(tmp_path, within, path):
    error = error_of(tmp_path, {"where": {"events": {"within": within}}})
    assert error.path == path


def test_window_on_a_relation_without_time(tmp_path):
    error = error_of(tmp_path, {"where": {"lists": {"within": {"days": 3}}}})
    assert error.path == "where.lists.within"


def test_unknown_window_unit_says_did_you_mean(tmp_path):
    error = error_of(tmp_path, {"where": {"events": {"within": {"dayz": 2}}}})
    assert "did you mean 'days'" in str(error)
    error = error_of(tmp_path, {"where": {"events": {"within": "last_mnth"}}})
    assert "did you mean 'last_month'" in str(error)


def test_unknown_segment(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"all": [{"title": "x"}, {"in_segment": "no_such"}]}},
        others={"known_one": {"where": {"title": "y"}}},
    )
    assert error.file.endswith("bad.yaml")
    assert error.path == "where.all[1].in_segment"
    assert "no_such" in str(error) and "known_one" in str(error)


def test_in_segment_of_another_entity(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"in_segment": "accts"}},
        others={"accts": {"entity": "account", "where": {"name": "x"}}},
    )
    assert error.path == "where.in_segment"


def test_cycle_names_the_file_and_the_path(tmp_path):
    error = error_of(tmp_path, {"where": {"in_segment": "bad"}})
    assert error.file.endswith("bad.yaml")
    assert error.path == "where.in_segment"
    assert "cycle" in str(error)


def _error_points_into_its_file(error: SegmentError) -> Any:
    document = yaml.safe_load(Path(error.file).read_text())
    try:
        return _at(document, error.path)
    except (KeyError, IndexError, TypeError):
        pytest.fail(f"{error.path} is not a place in {error.file}: {error}")


def test_cycle_between_two_files_names_a_file_and_a_place_in_it(tmp_path):
    """a -> b -> a: whichever file the message names, the path must be a place in that file."""
    error = error_of(
        tmp_path,
        {"name": "bad", "where": {"in_segment": "other"}},
        others={"other": {"where": {"all": [{"can_email": True}, {"in_segment": "bad"}]}}},
    )
    assert "cycle" in str(error)
    assert _error_points_into_its_file(error) in ("bad", "other")


def test_unknown_segment_behind_another_names_a_file_and_a_place_in_it(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"in_segment": "middle"}},
        others={"middle": {"where": {"all": [{"title": "x"}, {"in_segment": "no_such"}]}}},
    )
    assert "no_such" in str(error)
    _error_points_into_its_file(error)


def test_errors_name_the_file_and_place_for_top_level_mistakes(tmp_path):
    assert error_of(tmp_path, {"entity": "persn", "where": {"title": "x"}}).path == "entity"
    assert error_of(tmp_path, {"entity": "person"}).path == "where"
    assert error_of(tmp_path, {"where": {"title": "x"}, "wher": 1}).path == "wher"
    assert error_of(tmp_path, {"where": {}}).path == "where"
    assert error_of(tmp_path, "- a\n- b\n").path == ""
    assert error_of(tmp_path, "where: [unclosed\n").path == ""


def test_compiled_sql_has_only_parameters_for_values():
    segment = segment_of(
        {
            "where": {
                "all": [
                    {"last_name": INJECTION},
                    {
                        "events": {
                            "where": {"page": {"contains": "O'Brien"}},
                            "within": {"days": 30},
                            "count": {"gte": 2},
                        }
                    },
                ]
            }
        }
    )
    compiled = compile_segment(segment)
    assert "O'Brien" not in compiled.sql and "DROP" not in compiled.sql.upper()
    assert INJECTION in compiled.params.values()
    assert "O'Brien" in compiled.params.values()
    assert set(re.findall(r"\$(p\d+)", compiled.sql)) == set(compiled.params)
