"""SQL fragments shared by the model: source keys, unions over instances, empty selects."""

from __future__ import annotations

from collections.abc import Iterable

from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfig


def raw(source: SourceInstance, object_name: str) -> str:
    """The raw table of an object of a source, e.g. `raw."crm_1__account"`."""
    return f'raw."{source.name}__{_spec(source, object_name).table}"'


def _spec(source: SourceInstance, object_name: str):
    return next(spec for spec in OBJECTS_BY_TYPE[source.type] if spec.name == object_name)


def key(column: str, instance: str) -> str:
    """`<id>@<instance>`, NULL when the id is NULL (instance names are validated identifiers)."""
    return f"({column} || '@{instance}')"


def union(parts: Iterable[str], empty: str) -> str:
    """UNION ALL BY NAME of the parts, or the typed empty select when there are none."""
    parts = list(parts)
    return "\nUNION ALL BY NAME\n".join(f"({part})" for part in parts) if parts else empty


def empty(columns: dict[str, str]) -> str:
    """A select of no rows with the given columns and types."""
    cols = ", ".join(f"CAST(NULL AS {sql_type}) AS {name}" for name, sql_type in columns.items())
    return f"SELECT {cols} WHERE FALSE"


def synced_crm(config: SourcesConfig, source: SourceInstance) -> SourceInstance | None:
    return config.by_name().get(source.synced_crm) if source.synced_crm else None
