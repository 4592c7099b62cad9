"""The raw layer: one asset per (source instance, object), built by one factory. Every object of
every source is one asset of the `raw` step, whose files are read in one pool before any is
published; the reference rates are a step of their own, read first (the opportunities' amounts
are checked against them)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    Failure,
    FreshnessPolicy,
    MetadataValue,
)

from b2b_assets.checks.schemas import raw_columns, raw_schema
from b2b_assets.checks.specs import schema_check_spec
from b2b_assets.columns import column_metadata
from b2b_assets.layers import LayerMember, build_layer_asset, code_reference
from b2b_assets.publish import is_published, publish_on
from b2b_assets.pulls.assets import GROUP as PULL_GROUP
from b2b_assets.pulls.assets import pull_key
from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE, ObjectSpec
from b2b_assets.sources.config import SourceInstance, SourcesConfig, landing_dir
from b2b_assets.sources.landing_names import (
    FINGERPRINT,
    LandingNote,
    fingerprint,
    landed_files,
    unknown_landing_entries,
    unknown_source_folders,
)
from b2b_assets.sources.load_checks import (
    describe_problems,
    landing_check,
    landing_check_spec,
    quarantine_check,
    quarantine_check_spec,
)
from b2b_assets.sources.publishing import publish_object
from b2b_assets.sources.reader import (
    ExtractError,
    PlannedLoad,
    ReadContext,
    ReadResult,
    plan_object,
    raw_table_name,
    read_planned,
    remove_unread_parts,
    stage_object,
)
from b2b_assets.sql import literal, table_exists
from b2b_assets.tables import DOWNSTREAM

if TYPE_CHECKING:
    from b2b_assets.engines.spark import SparkTables

FX_RATES_KEY = AssetKey(["raw", "fx_rates"])


def raw_key(instance: str, spec: ObjectSpec) -> AssetKey:
    return AssetKey(["raw", raw_table_name(instance, spec)])


def _known_currencies(con) -> tuple[str, ...]:
    exists = table_exists(con, "raw", "fx_rates")
    rates = con.execute("SELECT upper(currency) FROM raw.fx_rates").fetchall() if exists else []
    return tuple(sorted({"USD", *(row[0] for row in rates)}))


@dataclass(frozen=True)
class RawLoad:
    """How one object of one source instance (or the reference data) is read."""

    folder: Path
    spec: ObjectSpec
    instance: str
    normalize_sf_ids: bool
    known_instances: tuple[str, ...] = ()
    salesforce_instances: tuple[str, ...] = ()
    source_type: str = ""
    landing_format: str = "contract"

    @property
    def key(self) -> AssetKey:
        return raw_key(self.instance, self.spec)

    def context(self, con: duckdb.DuckDBPyConnection, run_id: str) -> ReadContext:
        return self.context_with(_known_currencies(con), run_id)

    def context_with(self, currencies: tuple[str, ...], run_id: str) -> ReadContext:
        return ReadContext(
            instance=self.instance,
            normalize_sf_ids=self.normalize_sf_ids,
            currencies=currencies,
            instances=self.known_instances,
            run_id=run_id,
            salesforce_instances=self.salesforce_instances,
            source_type=self.source_type,
            landing_format=self.landing_format,
        )


@dataclass
class ReadTogether:
    """The files of a step's selected objects, all read in one pool before the first object is
    published; each object then takes its read (or the error that stops its load)."""

    loads: dict[AssetKey, RawLoad]
    read: dict[AssetKey, tuple[PlannedLoad, ExtractError | None]] = field(default_factory=dict)
    failed_plans: dict[AssetKey, ExtractError] = field(default_factory=dict)

    def prepare(self, con: duckdb.DuckDBPyConnection, context: AssetExecutionContext) -> None:
        self.read, self.failed_plans = {}, {}
        planned: dict[AssetKey, PlannedLoad] = {}
        for key, load in self.loads.items():
            if key not in context.selected_asset_keys:
                continue
            ctx = load.context(con, context.run_id)
            try:
                result = plan_object(con, load.folder, load.spec, ctx)
            except ExtractError as exc:
                self.failed_plans[key] = exc
                continue
            planned[key] = PlannedLoad(load.spec, ctx, result)
        errors = read_planned(con, list(planned.values()))
        self.read = {key: (plan, errors.get(plan.result.table)) for key, plan in planned.items()}

    def take(self, key: AssetKey) -> tuple[ReadContext, ReadResult] | None:
        """The object's read, if `prepare` made it; raises the error that stops its load."""
        if key in self.failed_plans:
            raise self.failed_plans.pop(key)
        if key not in self.read:
            return None
        plan, error = self.read.pop(key)
        if error is not None:
            raise error
        return plan.ctx, plan.result


def raw_member(
    load: RawLoad,
    source_type: str,
    freshness_hours: float | None = None,
    max_quarantined: float | None = None,
    landing_notes: Callable[[], list[LandingNote]] | None = None,
    together: ReadTogether | None = None,
    pulled_by: AssetKey | None = None,
) -> LayerMember:
    """The raw asset of one object of one source instance (or of the reference data).

    Besides its schema check it reports its load (`quarantine`, blocking above
    `max_quarantined`); the first object of a source (and the reference data) also reports the
    names `landing_notes` finds unread in its folder (`landing_files`: one check per folder,
    every object's metadata lists them). A structural problem (a missing required object or
    column) fails it with one message listing every file concerned. With `together`, its files
    are read with those of the other objects of its step.
    """
    folder, spec, instance = load.folder, load.spec, load.instance
    key = load.key
    label = f"{spec.name} of {instance or 'reference data'}"
    first_object = OBJECTS_BY_TYPE[source_type][0].name if instance else spec.name
    table = raw_table_name(instance, spec)
    deps = [FX_RATES_KEY] if "currency" in spec.extra_rules else []
    where = f"{folder}/{spec.name}.csv|.parquet|/"
    kind = "required" if spec.required else "optional"

    spec_of_asset = AssetSpec(
        key=key,
        group_name="raw",
        kinds={"duckdb"},
        deps=[*deps, *([pulled_by] if pulled_by else [])],
        description=f"{spec.description} Read from `{where}` ({kind}).",
        metadata={
            "dagster/column_schema": column_metadata(raw_columns(spec)),
            **code_reference(raw_member),
            "source_instance": instance or "reference",
            "source_type": source_type,
            "object": spec.name,
        },
        # Objects checked against the rates are read again when the rates change.
        # A pull's new parts come through the landing sensor, not through this condition.
        automation_condition=(
            DOWNSTREAM.ignore(AssetSelection.groups(PULL_GROUP)) if deps else None
        ),
        freshness_policy=(
            FreshnessPolicy.time_window(
                fail_window=timedelta(hours=freshness_hours),
                warn_window=timedelta(hours=freshness_hours / 2),
            )
            if freshness_hours
            else None
        ),
        skippable=True,
    )
    reports_landing = landing_notes is not None and first_object == spec.name
    check_specs = [
        schema_check_spec(key, table),
        quarantine_check_spec(key),
        *([landing_check_spec(key, folder)] if reports_landing else []),
    ]

    def _raw(con: duckdb.DuckDBPyConnection, context: AssetExecutionContext):
        staged: dict[str, Any] = {}
        notes = landing_notes() if landing_notes else []
        unknown = [note.message for note in notes]
        for note in notes:
            # Said once per run: by the object it probably meant, else by the first object.
            if (note.meant or first_object) == spec.name:
                context.log.warning(f"{folder}: {note.message}")

        def stage(con):
            read = together.take(key) if together is not None else None
            if read is None:
                ctx = load.context(con, context.run_id)
                read = ctx, stage_object(con, folder, spec, ctx)
            staged["ctx"], staged["result"] = read

        def build(con):
            result = publish_object(con, spec, staged["ctx"], staged["result"])
            problems = describe_problems(result, label)
            if problems:
                context.log.warning(problems)
            return load_metadata(result, folder, unknown, nested=bool(instance))

        def checks(con) -> list[AssetCheckResult]:
            results = [
                quarantine_check(
                    con, key, staged["result"], label, instance, spec.name, max_quarantined
                )
            ]
            if reports_landing:
                results.append(landing_check(key, unknown))
            return results

        def scope(con) -> str | None:
            # An append load checks the rows it added (they carry its load time).
            result = staged["result"]
            if result.mode != "append":
                return None
            return f"_loaded_at = TIMESTAMPTZ {literal(result.loaded_at.isoformat())}"

        def cleanup(con) -> None:
            if "result" in staged:
                remove_unread_parts(con, staged["result"])

        try:
            return publish_on(
                con,
                key,
                context.log,
                raw_schema(spec, table),
                build,
                prepare=stage,
                scope=scope,
                cleanup=cleanup,
                checks=checks,
            )
        except ExtractError as exc:
            raise Failure(
                description=f"{exc}\nNothing below {key.to_user_string()} is built until this is fixed.",
                allow_retries=False,
            ) from None

    def _raw_on_spark(tables: "SparkTables", context: AssetExecutionContext):
        from b2b_assets.engines.spark import SparkQueries
        from b2b_assets.engines.spark_publish import publish_on_spark
        from b2b_assets.engines.spark_raw import known_currencies, read_object, record_load

        unknown = [note.message for note in (landing_notes() if landing_notes else [])]
        ctx = load.context_with(known_currencies(tables), context.run_id)
        try:
            read = read_object(tables, folder, spec, ctx)
        except ExtractError as exc:
            raise Failure(
                description=f"{exc}\nNothing below {key.to_user_string()} is built until this is fixed.",
                allow_retries=False,
            ) from None
        result = read.result
        problems = describe_problems(result, label)
        if problems:
            context.log.warning(problems)
        queries = SparkQueries(tables)
        checks = [
            quarantine_check(
                queries, key, result, label, instance, spec.name, max_quarantined, "_quarantined"
            ),
            *([landing_check(key, unknown)] if reports_landing else []),
        ]
        materialized = publish_on_spark(
            tables,
            key,
            context.log,
            raw_schema(spec, table),
            lambda: read.kept,
            checks=checks,
            extra=load_metadata(result, folder, unknown, nested=bool(instance)),
        )
        if is_published(materialized):
            record_load(tables, read, spec, ctx)
        return materialized

    return LayerMember(spec_of_asset, check_specs, _raw, run_on_spark=_raw_on_spark)


def load_metadata(
    result: ReadResult, folder: Path, unknown: list[str], nested: bool
) -> dict[str, Any]:
    """What a raw asset's materialization says of its load."""
    return {
        "rows_read": result.rows_read,
        "rows_kept": result.rows_kept,
        "rows_quarantined": result.rows_quarantined,
        "quarantine_reasons": MetadataValue.json(dict(result.reasons)),
        "files": MetadataValue.json(result.files),
        "empty_files_skipped": len(result.skipped_files),
        "load": result.mode,
        "read_seconds": round(result.read_seconds, 3),
        "malformed_references": MetadataValue.json(result.malformed_references),
        "unknown_landing_files": MetadataValue.json(unknown),
        FINGERPRINT: fingerprint(landed_files(folder, result.stamps, nested=nested)),
    }


def source_loads(data_dir: Path, config: SourcesConfig) -> list[tuple[SourceInstance, RawLoad]]:
    """Every object of every source of `sources.yaml`, with how it is read."""
    names = tuple(source.name for source in config.sources)
    salesforce = tuple(s.name for s in config.of_type("salesforce"))
    return [
        (
            source,
            RawLoad(
                folder,
                spec,
                source.name,
                _normalizes_sf_ids(source),
                names,
                salesforce,
                source.type,
                source.format,
            ),
        )
        for source in config.sources
        for folder in [landing_dir(data_dir, source)]
        for spec in config.object_specs(source)
    ]


def build_raw_assets(data_dir: Path, config: SourcesConfig) -> list[AssetsDefinition]:
    """The raw steps: the exchange rates, then every object of every source of `sources.yaml`
    (one step, whose files are read together)."""
    names = tuple(source.name for source in config.sources)
    folders = [landing_dir(data_dir, source) for source in config.sources]
    fx_rates = raw_member(
        RawLoad(data_dir, FX_RATES, "", normalize_sf_ids=False),
        "reference",
        freshness_hours=24 * 7,
        landing_notes=lambda: unknown_source_folders(data_dir / "landing", folders, names),
    )
    loads = source_loads(data_dir, config)
    together = ReadTogether({load.key: load for _, load in loads})
    members = [
        raw_member(
            load,
            source.type,
            freshness_hours=source.freshness_hours,
            max_quarantined=source.max_quarantined_of(load.spec.name),
            landing_notes=partial(unknown_landing_entries, load.folder, source.type, source.format),
            together=together,
            pulled_by=pull_key(source) if source.pull else None,
        )
        for source, load in loads
    ]
    return [
        build_layer_asset("raw__fx_rates", [fx_rates]),
        build_layer_asset("raw", members, prepare=together.prepare),
    ]


def _normalizes_sf_ids(source: SourceInstance) -> bool:
    """Salesforce ids, and the CRM ids a synced Marketo carries, are normalized to 18 chars."""
    return source.type == "salesforce" or source.synced_crm is not None
