"""Aggregates the profiles share: a group's preferred value, and sets of values kept cheaply."""

from __future__ import annotations

from collections.abc import Sequence

from b2b_assets.sources.config import SourcesConfig
from b2b_assets.sql import literal


def preferred(column: str, tiebreak: str, by_updated: bool = True) -> str:
    """The column's value from the preferred record that has one: a Salesforce record first,
    then (optionally) the most recently updated, then the smallest `tiebreak` key. One hash
    aggregate (no per-group sort)."""
    updated = "'updated': coalesce(-epoch_us(updated_at), 9223372036854775807), "
    order = (
        f"{{'crm': source_type <> 'salesforce', {updated if by_updated else ''}'key': {tiebreak}}}"
    )
    return f"arg_min({column}, {order}) FILTER (WHERE {column} IS NOT NULL)"


def sorted_set(column: str) -> str:
    """The distinct non-null values of a group, sorted (NULL when there are none)."""
    return f"list_sort(list_distinct(list({column}) FILTER (WHERE {column} IS NOT NULL)))"


MAX_FLAGS = 62  # known values a set can keep as bits of one BIGINT


def flags(column: str, values: Sequence[str]) -> str:
    """Which of the known `values` a group's `column` takes, as the bits of one integer: far
    cheaper than a list aggregate (which is kept for more than `MAX_FLAGS` values). A value
    that is not known stops the build."""
    if len(values) > MAX_FLAGS:
        return sorted_set(column)
    cases = " ".join(
        f"WHEN {column} = {literal(value)} THEN {1 << bit}"
        for bit, value in enumerate(sorted(values))
    )
    unknown = literal(f"{column}: a value outside {sorted(values)}")
    return f"bit_or(CASE WHEN {column} IS NULL THEN 0 {cases} ELSE error({unknown}) END)"


def flag_list(flags: str, values: Sequence[str]) -> str:
    """The sorted list of the `values` whose bits are set in `flags` (see `flags`)."""
    if len(values) > MAX_FLAGS:
        return f"coalesce({flags}, CAST([] AS VARCHAR[]))"
    if not values:
        return "CAST([] AS VARCHAR[])"
    known = ", ".join(literal(value) for value in sorted(values))
    return f"list_filter([{known}], lambda value, i: ({flags} >> (i - 1)) & 1 = 1)"


def instance_names(config: SourcesConfig) -> list[str]:
    return [source.name for source in config.sources]
