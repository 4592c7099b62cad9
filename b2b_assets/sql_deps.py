"""A table's dependencies, read from the SQL that builds it (parsed by SQLGlot, DuckDB dialect)."""

from __future__ import annotations

from functools import cache

import sqlglot
from dagster import AssetKey
from sqlglot import exp

# The schemas whose tables are assets; a query naming another schema's table is an error.
ASSET_SCHEMAS = ("raw", "b2b", "identity", "profile", "audience", "activation")
# Tables of those schemas that a load keeps beside its assets (not assets themselves).
NOT_ASSETS = frozenset({("raw", "quarantine")})
# Bookkeeping the platform keeps for itself (ledgers, load lists): never an asset.
OWN_SCHEMAS = ("ops",)


class UnknownTableError(ValueError):
    """A query reads a schema-qualified table that is neither an asset nor bookkeeping."""


@cache
def tables_read(query: str) -> frozenset[tuple[str, str]]:
    """The `(schema, table)` pairs a query reads; names of its CTEs and temporary tables
    (unqualified) are not dependencies."""
    tables: set[tuple[str, str]] = set()
    for statement in sqlglot.parse(query, read="duckdb"):
        if statement is None:
            continue
        for table in statement.find_all(exp.Table):
            if table.db:
                tables.add((table.db, table.name))
    return frozenset(tables)


def asset_deps(*queries: str, own: AssetKey | None = None) -> list[AssetKey]:
    """The assets the queries read, sorted; `own` (the table they build) is left out."""
    keys: set[AssetKey] = set()
    for query in queries:
        for schema, table in tables_read(query):
            if (schema, table) in NOT_ASSETS or schema in OWN_SCHEMAS:
                continue
            if schema not in ASSET_SCHEMAS:
                raise UnknownTableError(
                    f"{schema}.{table}: not a table of the schemas {', '.join(ASSET_SCHEMAS)}"
                )
            keys.add(AssetKey([schema, table]))
    keys.discard(own)
    return sorted(keys, key=lambda key: key.path)
