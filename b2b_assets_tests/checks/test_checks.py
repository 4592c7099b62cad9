"""validate_table: a Pandera schema checked against a DuckDB table, partly in SQL."""

from __future__ import annotations

import duckdb
import pandera.polars as pa
import polars as pl
import pytest
from dagster import AssetKey

from b2b_assets.checks.pandera_checks import validate_table
from b2b_assets.checks.schemas import KEY_FORMAT

KEY = AssetKey(["test", "t"])
SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(pl.String(), nullable=False, unique=True),
        "kind": pa.Column(pl.String(), pa.Check.isin(["a", "b"]), nullable=False),
        "name": pa.Column(pl.String(), nullable=False),
        "note": pa.Column(pl.String(), nullable=True),
        "record": pa.Column(pl.String(), pa.Check.str_matches(KEY_FORMAT), nullable=True),
        "n": pa.Column(pl.Int64(), pa.Check.ge(0), nullable=True),
        # A check without a SQL form: Pandera runs it on the column read into Polars.
        "code": pa.Column(
            pl.String(),
            pa.Check(lambda data: data.lazyframe.select(pl.col(data.key).str.len_chars() == 2)),
            nullable=True,
        ),
    },
    strict=True,
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE t (id VARCHAR, kind VARCHAR, name VARCHAR, note VARCHAR, record VARCHAR, "
        "n BIGINT, code VARCHAR)"
    )
    connection.execute(
        "INSERT INTO t VALUES ('1', 'a', 'x', NULL, '1@crm_1', 0, 'ab'), "
        "('2', 'b', 'y', 'n', NULL, 5, 'cd'), ('3', 'a', 'z', NULL, 'x@marketo_1', NULL, NULL)"
    )
    yield connection
    connection.close()


def failure_sample(result) -> str:
    return result.metadata["failure_sample"].value


def test_a_valid_table_passes_and_counts_its_rows(con):
    result = validate_table(con, KEY, "t", SCHEMA)
    assert result.passed
    assert result.metadata["rows_checked"].value == 3


def test_a_null_in_a_column_without_checks_fails_and_names_the_column(con):
    con.execute("UPDATE t SET name = NULL WHERE id = '2'")
    result = validate_table(con, KEY, "t", SCHEMA)
    assert not result.passed
    assert "name" in failure_sample(result) and "not_nullable" in failure_sample(result)


def test_a_value_outside_its_check_fails(con):
    con.execute("UPDATE t SET kind = 'c' WHERE id = '3'")
    result = validate_table(con, KEY, "t", SCHEMA)
    assert not result.passed
    assert "kind" in failure_sample(result)


@pytest.mark.parametrize(
    ("column", "bad", "shown"),
    [("record", "'no-instance'", "no-instance"), ("n", "-1", "-1"), ("code", "'abc'", "abc")],
)
def test_a_value_breaking_a_check_fails_and_is_shown(con, column, bad, shown):
    con.execute(f"UPDATE t SET {column} = {bad} WHERE id = '2'")
    result = validate_table(con, KEY, "t", SCHEMA)
    assert not result.passed
    assert column in failure_sample(result) and shown in failure_sample(result)


def test_a_duplicate_key_fails(con):
    con.execute("UPDATE t SET id = '1' WHERE id = '2'")
    assert not validate_table(con, KEY, "t", SCHEMA).passed


def test_a_wrong_type_fails(con):
    con.execute("ALTER TABLE t ALTER note TYPE INTEGER USING NULL")
    assert not validate_table(con, KEY, "t", SCHEMA).passed


def test_only_the_scoped_rows_are_checked(con):
    con.execute("UPDATE t SET name = NULL WHERE id = '1'")
    result = validate_table(con, KEY, "t", SCHEMA, where="id <> '1'")
    assert result.passed
    assert result.metadata["rows_checked"].value == 2
