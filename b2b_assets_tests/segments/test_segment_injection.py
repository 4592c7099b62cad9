"""The segment language (docs/segments.md): values are only values, names are checked (no SQL
injection through a segment file).

Every segment here is compiled with `SegmentCompiler` and run on an in-memory DuckDB holding the
warehouse tables the compiler reads (`segment_world.py`); the member set is checked against the
expectation written next to the data and against the plain-Python reference evaluator in
`segment_reference.py`.
"""

from __future__ import annotations

import re

import pytest
import yaml

from b2b_assets.segments.language import SegmentError, load_segment
from b2b_assets_tests.segments.segment_world import (
    INJECTION,
    TABLES,
    Warehouse,
    World,
    at,
    compile_segment,
    segment_of,
)


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
