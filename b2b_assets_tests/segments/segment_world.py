"""Small hand-made warehouses for the segment language tests.

`World` builds the rows of the warehouse tables the compiler reads; `Warehouse` loads them into
an in-memory DuckDB and checks a segment's members there (the compiled SQL) and with the
plain-Python reference evaluator of `segment_reference.py`. The fixtures (`duck`, `warehouse`,
`people`) are in this folder's conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import yaml

from b2b_assets.segments.compiler import SegmentCompiler
from b2b_assets.segments.language import Segment, parse_segment
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets_tests.segments.segment_reference import reference_members

AS_OF = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
MIDNIGHT = datetime(2026, 11, 18, tzinfo=UTC)  # where dates are exactly N days old
INJECTION = "O'Brien'; DROP TABLE profile.person; --"


# --------------------------------------------------------------------------------------------
# The warehouse tables the compiled SQL reads (columns as declared beside each table's query)
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
