"""One audience asset per segment file, built by one factory."""

from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MetadataValue, asset

from b2b_assets.checks.specs import schema_check_spec
from b2b_assets.columns import Column, column_metadata, flag, table_schema, text
from b2b_assets.layers import code_reference
from b2b_assets.publish import PREVIEW_ROWS, publish_table, table_name
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.segments.compiler import CompiledSegment, SegmentCompiler
from b2b_assets.segments.explain import audience_markdown
from b2b_assets.segments.history import record_changes
from b2b_assets.segments.language import Segment, SegmentError, load_segment, segment_files
from b2b_assets.segments.schema import ENTITY_KEYS
from b2b_assets.settings import load_settings
from b2b_assets.tables import DOWNSTREAM, POOL

DEFAULT_DEPS = ("profile.person", "profile.account", "profile.person_account")


def audience_columns(entity: str) -> list[Column]:
    """Members: one row each, with why they qualified."""
    why = text("why", "why the member qualified (JSON: matching related rows per condition)", False)
    if entity == "account":
        return [
            text("account_id", "the unified account", nullable=False, unique=True),
            text("name", "account name"),
            text("domain", "website domain"),
            text("website", "website"),
            why,
        ]
    return [
        text("person_id", "the unified person", nullable=False, unique=True),
        text("email", "normalized email"),
        flag("can_email", "consent to email"),
        why,
    ]


def _key(table: str) -> AssetKey:
    return AssetKey(table.split("."))


def build_audience_asset(
    name: str,
    segment: Segment | None,
    file: Path,
    segments: dict[str, Segment],
    error: SegmentError | None,
    compiled: CompiledSegment | None = None,
    matching: bool = False,
) -> AssetsDefinition:
    """The audience of one segment file. A file with mistakes still gets its asset, which fails
    with the file's error when materialized, so the other audiences are unaffected. `compiled`
    (from loading) gives the tables and segments it reads; `matching`: account matching is on."""
    entity = segment.entity if segment else "person"
    key = AssetKey(["audience", name])
    table = f"audience.{name}"
    columns = audience_columns(entity)
    tables: set[str] = set(DEFAULT_DEPS)
    references: set[str] = set()
    if compiled is not None and error is None:
        tables, references = compiled.tables, compiled.references
    description = (
        segment.description
        if segment and segment.description
        else f"Members of the segment in {file.name}."
    )

    @asset(
        key=key,
        group_name="audience",
        kinds={"duckdb"},
        deps=[_key(t) for t in sorted(tables)]
        + [AssetKey(["audience", r]) for r in sorted(references)],
        description=f"{description} One row per {entity}.",
        metadata={
            "dagster/column_schema": column_metadata(columns),
            "segment_file": str(file),
            **code_reference(file),
            "entity": entity,
            "destinations": MetadataValue.json(list(segment.destinations) if segment else []),
        },
        check_specs=[schema_check_spec(key, table)],
        pool=POOL,
        automation_condition=DOWNSTREAM,
    )
    def _audience(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse, settings: RunSettings
    ):
        if error is not None or segment is None:
            raise error or SegmentError(file, "", "cannot be read")
        as_of = settings.as_of_instant()
        compiled = SegmentCompiler(segments, as_of, matching).compile(segment)
        if settings.engine_name() == "spark":
            from b2b_assets.engines.spark import shared_tables
            from b2b_assets.segments.spark_audience import build_audience_on_spark

            schema = table_schema(table, columns)
            return build_audience_on_spark(
                shared_tables(), context, key, entity, schema, compiled, as_of
            )

        def build(con):
            changes = record_changes(
                con,
                name,
                ENTITY_KEYS[entity],
                compiled.sql,
                compiled.params,
                as_of,
                context.run_id,
            )
            return {
                "audience_size": changes.size,
                "entered": changes.entered,
                "exited": changes.exited,
                "as_of": as_of.isoformat(),
                **audience_metadata(compiled, first_members(con, key, entity), changes.size),
            }

        return publish_table(context, warehouse, table_schema(table, columns), build)

    return _audience


def audience_metadata(
    compiled: CompiledSegment, first: list[dict[str, Any]], size: int
) -> dict[str, MetadataValue]:
    """The query of an audience and why its first members qualified."""
    return {
        "compiled_sql": MetadataValue.md(f"```sql\n{compiled.sql}\n```"),
        "why": MetadataValue.md(audience_markdown(first, size)),
    }


def first_members_sql(key: AssetKey, entity: str, limit: int = PREVIEW_ROWS) -> str:
    """The first members of an audience table, by id."""
    return f"SELECT * FROM {table_name(key)} ORDER BY {ENTITY_KEYS[entity]} LIMIT {int(limit)}"


def first_members(
    con: duckdb.DuckDBPyConnection, key: AssetKey, entity: str, limit: int = PREVIEW_ROWS
) -> list[dict[str, Any]]:
    """The first members of an audience table (by id) as column -> value mappings."""
    relation = con.execute(first_members_sql(key, entity, limit))
    columns = [description[0] for description in relation.description]
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def _safe_name(stem: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in stem.lower()).strip("_")
    return cleaned if cleaned[:1].isalpha() else f"segment_{cleaned}"


def load_segments(folder: Path) -> list[tuple[Path, Segment | None, SegmentError | None]]:
    """Every segment file with its parsed segment, or the error that stops it."""
    loaded: list[tuple[Path, Segment | None, SegmentError | None]] = []
    for file in segment_files(folder):
        try:
            loaded.append((file, load_segment(file), None))
        except SegmentError as exc:
            loaded.append((file, None, exc))
    return loaded


def build_audience_assets(
    folder: Path, destinations: set[str] | None = None, matching: bool = False
) -> tuple[list[AssetsDefinition], list[Segment]]:
    """One asset per segment file; references between segments resolve and cycles fail.

    Returns the assets and the segments that are valid (for activation)."""
    loaded = load_segments(folder)
    segments = {segment.name: segment for _, segment, _ in loaded if segment is not None}
    compiler = SegmentCompiler(segments, load_settings().as_of, matching)
    assets, seen, valid = [], set(), []
    for file, segment, error in loaded:
        compiled = None
        if segment is not None:
            if segment.name in seen:
                error = SegmentError(file, "name", f"another file already defines {segment.name!r}")
                segment = None
            else:
                try:
                    compiled = compiler.compile(segment)
                    _check_destinations(segment, file, destinations or set())
                except SegmentError as exc:
                    error = exc
        name = segment.name if segment else _safe_name(file.stem)
        if name in seen:  # a broken file named like a valid segment still gets its own asset
            name = f"{name}_{len(seen)}"
        seen.add(name)
        assets.append(
            build_audience_asset(name, segment, file, segments, error, compiled, matching)
        )
        if segment is not None and error is None:
            valid.append(segment)
    return assets, valid


def _check_destinations(segment: Segment, file: Path, known: set[str]) -> None:
    for index, name in enumerate(segment.destinations):
        if name not in known:
            raise SegmentError(
                file,
                f"destinations[{index}]",
                f"unknown destination {name!r}"
                + (
                    f" (known: {', '.join(sorted(known))})"
                    if known
                    else " (no destinations.yaml entries)"
                ),
            )
