"""Aggregates the profiles share: a group's preferred value, and sets of values kept cheaply."""

from __future__ import annotations

from collections.abc import Sequence

from b2b_assets.sources.config import SourcesConfig
from b2b_assets.sql import literal


def preference(group: str, tiebreak: str, by_updated: bool = True, of: str = "") -> str:
    """Each record's place among the records of its `group`, 1 being preferred: a Salesforce
    record first, then (optionally) the most recently updated, then the smallest `tiebreak`
    key. `of` qualifies the record's columns (e.g. "p.")."""
    updated = f"{of}updated_at DESC NULLS LAST, " if by_updated else ""
    return (
        f"row_number() OVER (PARTITION BY {group} ORDER BY {of}source_type <> 'salesforce', "
        f"{updated}{tiebreak})"
    )


def preferred(column: str, rank: str) -> str:
    """The column's value from the most preferred record that has one (`rank`: a column of
    `preference`). One integer per record keeps the aggregate cheap (an order of several
    fields costs twice as much to compare)."""
    return f"arg_min({column}, {rank}) FILTER (WHERE {column} IS NOT NULL)"


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
