"""The DuckDB → Spark SQL translation: what SQLGlot cannot know, done on the parsed query."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from b2b_assets.engines.dialect import NotPortable, to_spark
from b2b_assets.sources.sql_macros import install_macros


def spark_tree(sql: str) -> sqlglot.exp.Expression:
    """The translation, parsed back as Spark SQL (so it is valid Spark syntax)."""
    return sqlglot.parse_one(to_spark(sql), read="spark")


def test_union_by_name_aligns_each_branch_with_the_first():
    sql = "(SELECT 1 AS a, 2 AS b) UNION ALL BY NAME (SELECT 3 AS b, 4 AS a) UNION ALL BY NAME (SELECT 5 AS a)"
    tree = spark_tree(sql)
    assert "BY NAME" not in tree.sql("spark")
    selects = list(tree.find_all(sqlglot.exp.Select))
    assert [[p.alias_or_name for p in s.expressions] for s in selects] == [["a", "b"]] * 3
    # the values follow their names, and a missing column is NULL
    values = [[p.this.sql() for p in s.expressions] for s in selects]
    assert sorted(map(tuple, values)) == [("1", "2"), ("4", "3"), ("5", "NULL")]


def test_union_by_name_of_a_star_branch_is_not_portable():
    with pytest.raises(NotPortable, match=r"selects \*"):
        to_spark("(SELECT * FROM t) UNION ALL BY NAME (SELECT 1 AS a)")


def test_macros_are_replaced_by_their_bodies_with_the_arguments():
    spark = to_spark("SELECT normalize_email(e), sf_id18(i) FROM t")
    assert "NORMALIZE_EMAIL" not in spark.upper() and "SF_ID18" not in spark.upper()
    assert "SF_CHUNK" not in spark.upper()  # a macro used by a macro is replaced too
    assert "LOWER(TRIM(e))" in spark and "RLIKE" in spark


@pytest.mark.parametrize(
    ("duck", "spark"),
    [
        ("SELECT regexp_full_match(x, '[a-z]+')", "x RLIKE '^(?:[a-z]+)$'"),
        ("SELECT regexp_replace(x, '^(a)(b)$', '\\2\\1')", "'$2$1'"),
        ("SELECT regexp_replace(x, 'a', 'b', 'g')", "REGEXP_REPLACE(x, 'a', 'b')"),
        ("SELECT error('no')", "RAISE_ERROR('no')"),
        ("SELECT json_valid(j)", "NOT TRY_PARSE_JSON(j) IS NULL"),
        ("WITH r AS MATERIALIZED (SELECT 1 AS a) SELECT a FROM r", "WITH r AS (SELECT 1 AS a)"),
        ("SELECT array_length(l)", "SIZE(l)"),
        ("SELECT strlen(x)", "OCTET_LENGTH(x)"),
        (
            "SELECT to_json({'a': x})",
            "TO_JSON(STRUCT(x AS a), MAP('ignoreNullFields', 'false', 'timestampFormat', 'yyyy-MM-dd HH:mm:ss.SSSSSSx'))",
        ),
    ],
)
def test_duckdb_forms_get_their_spark_forms(duck, spark):
    assert spark in to_spark(duck)


def test_a_lambda_index_counts_from_one_as_in_duckdb():
    sql = "SELECT list_filter(['a', 'b', 'c'], lambda v, i: i >= 2) AS kept"
    assert duckdb.sql(sql).fetchall() == [(["b", "c"],)]
    assert "(i + 1) >= 2" in to_spark(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT regexp_replace(x, 'a', 'b')", "first match only"),
        ("SELECT regexp_replace(x, p, 'b', 'g')", "not a constant"),
        ("SELECT regexp_replace(x, '^a', 'b', 'gi')", "options"),
        ("SELECT regexp_full_match(x, p)", "not a constant"),
    ],
)
def test_forms_without_a_spark_equal_say_so(sql, reason):
    with pytest.raises(NotPortable, match=reason):
        to_spark(sql)


def test_the_macros_mean_on_duckdb_what_their_expansion_means():
    """The expansion is the macro: expanded and called, both give the same values on DuckDB."""
    from b2b_assets.engines.dialect import parse, portable

    con = duckdb.connect()
    install_macros(con)
    sql = """SELECT b2b_null(x) AS n, b2b_trim(x) AS t, b2b_int(x) AS i, b2b_bool(x) AS b,
                    sf_id18(x) AS s, sf_id_shaped(x) AS shaped, normalize_email(x) AS e
             FROM (VALUES (' NULL '), ('  12.0 '), ('yes'), ('001000000000001'), (' A@B.com '),
                          ('0015g00000J1Uin'), (NULL)) v(x)"""
    expanded = portable(parse(sql)).sql("duckdb")
    assert "sf_id18" not in expanded.lower()
    assert con.sql(sql).fetchall() == duckdb.sql(expanded).fetchall()


def test_parameters_become_constants():
    import datetime as dt

    spark = to_spark(
        "SELECT * FROM t WHERE at <= $as_of AND list_contains($names, n) AND k = $key",
        {"as_of": dt.datetime(2026, 11, 15, 1, tzinfo=dt.UTC), "names": ["a"], "key": "x'y"},
    )
    assert "CAST('2026-11-15 01:00:00.000000' AS TIMESTAMP)" in spark
    assert "ARRAY('a')" in spark and "'x\\'y'" in spark
    with pytest.raises(NotPortable, match=r"\$as_of has no value"):
        to_spark("SELECT $as_of")


def test_an_ordered_list_keeps_its_order():
    """Spark collects in no set order: the values are sorted by their keys after collecting."""
    spark = to_spark("SELECT list(v ORDER BY k DESC) FROM t")
    assert spark == (
        "SELECT TRANSFORM(SORT_ARRAY(COLLECT_LIST(STRUCT(k AS k0, v AS v)), FALSE), p -> p.v) "
        "FROM t"
    )


@pytest.mark.spark
def test_an_ordered_list_with_mixed_directions_orders_as_duckdb(spark):
    """Keys in both directions are compared by a comparator, NULL keys last as DuckDB has them."""
    rows = "(VALUES (1, 'a', 'x'), (1, 'b', 'y'), (2, NULL, 'z'), (NULL, 'c', 'w'), (2, 'a', 'v'))"
    sql = f"SELECT list(v ORDER BY k DESC, j) AS l FROM {rows} AS t(k, j, v)"
    assert duckdb.sql(sql).fetchall() == [(["v", "z", "x", "y", "w"],)]
    assert [tuple(r) for r in spark.spark.sql(to_spark(sql)).collect()] == [
        (["v", "z", "x", "y", "w"],)
    ]


def test_forms_inside_forms_are_translated_too():
    spark = to_spark("SELECT to_json(list_filter(list(v ORDER BY k), lambda x, i: i = 1)) FROM t")
    assert "SORT_ARRAY(COLLECT_LIST(STRUCT(k AS k0, v AS v)), TRUE)" in spark
    assert "(i + 1) = 1" in spark and "MAP('ignoreNullFields', 'false'" in spark


def test_a_list_slice_becomes_spark_slice():
    """`x[a:b]` takes elements a to b, both included, in either engine's form."""
    assert duckdb.sql("SELECT [1, 2, 3, 4][2:3]").fetchall() == [([2, 3],)]
    assert to_spark("SELECT x[2:3] FROM t") == "SELECT SLICE(x, 2, 2) FROM t"
    with pytest.raises(NotPortable, match="slice"):
        to_spark("SELECT x[n:3] FROM t")


@pytest.mark.spark
def test_a_json_record_writes_instants_as_duckdb(spark):
    """Fractions of a second as DuckDB writes them: only when there is one, without its
    trailing zeros; null fields kept."""
    instants = ["06:03:49.3175", "06:03:49", "06:03:49.000001", "06:03:49.317"]
    values = ", ".join(f"(TIMESTAMPTZ '2026-10-25 {t}+00', {i})" for i, t in enumerate(instants))
    record = "{'seen': seen, 'none': CAST(NULL AS VARCHAR), 'text': '2026-10-25 06:03:49.000+00'}"
    sql = f"SELECT i, to_json({record}) AS j FROM (VALUES {values}) AS t(seen, i)"
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    on_duckdb = sorted(duck.sql(sql).fetchall())
    assert sorted(tuple(r) for r in spark.spark.sql(to_spark(sql)).collect()) == on_duckdb
    assert '"seen":"2026-10-25 06:03:49+00"' in on_duckdb[1][1]
