"""Columns declared once: the schemas, SQL types, segment fields and docs all come from them."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
import pytest

from b2b_assets import columns as c
from b2b_assets.profiles.accounts import ACCOUNT_COLUMNS
from b2b_assets.segments import reference
from b2b_assets.segments.schema import ACCOUNT_FIELDS, EVENT_FIELDS, fields


def test_a_schema_is_its_columns_in_order_with_their_rules() -> None:
    schema = c.table_schema(
        "b2b.example",
        [c.key("k", "a key"), c.count("n", "how many"), c.text_list("tags", "labels")],
        unique=["k", "n"],
    )
    assert list(schema.columns) == ["k", "n", "tags"]
    assert schema.strict and schema.name == "b2b.example" and schema.unique == ["k", "n"]
    assert schema.columns["k"].unique and not schema.columns["k"].nullable
    assert str(schema.columns["n"].dtype) == "Int64"
    with pytest.raises(pa.errors.SchemaError):
        schema.validate(pl.DataFrame({"k": ["x@crm_1"], "n": [-1], "tags": [["a"]]}))
    schema.validate(pl.DataFrame({"k": ["x@crm_1"], "n": [1], "tags": [["a"]]}))


def test_a_column_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        c.table_schema("b2b.example", [c.text("a"), c.text("a")])


def test_sql_types_stop_before_the_columns_computed_after_a_union() -> None:
    types = c.sql_types([c.key("k", ""), c.flag("f", ""), c.text("later")], until="later")
    assert types == {"k": "VARCHAR", "f": "BOOLEAN"}


def test_segment_fields_take_their_type_and_meaning_from_the_column() -> None:
    column = next(col for col in ACCOUNT_COLUMNS if col.name == "closed_won_revenue")
    field = ACCOUNT_FIELDS["closed_won_revenue"]
    assert (field.column, field.type, field.description) == (
        column.name,
        "number",
        column.meaning,
    )
    assert EVENT_FIELDS["type"].column == "event_type"  # a field named apart from its column


def test_a_list_column_cannot_be_a_segment_field() -> None:
    with pytest.raises(ValueError, match="cannot be a segment field"):
        fields([c.text_list("tags", "labels")], "tags")


def test_the_docs_field_tables_are_generated_from_the_columns() -> None:
    assert reference.main(["--check"]) == 0, "run python -m b2b_assets.segments.reference"


def test_regenerating_replaces_only_the_marked_tables(tmp_path) -> None:
    page = tmp_path / "segments.md"
    page.write_text("intro\n<!-- fields: list -->\nstale\n<!-- /fields -->\nend\n")
    assert reference.main(["--check", str(page)]) == 1
    assert reference.main([str(page)]) == 0
    text = page.read_text()
    assert text.startswith("intro\n<!-- fields: list -->\n| field | type | meaning |")
    assert "| `name` | text | static list name |" in text and text.endswith("end\n")
    page.write_text("<!-- fields: nowhere -->\n<!-- /fields -->\n")
    with pytest.raises(KeyError, match="unknown scope"):
        reference.main([str(page)])
