"""One activation asset per (segment, destination), built by one factory."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MetadataValue, asset

from b2b_assets.activation.config import (
    DestinationConfigError,
    LinkedInAudience,
    MarketoStaticList,
    secret,
)
from b2b_assets.activation.delivery import (
    DeliveryReport,
    deliver,
    plan_changes,
    reconcile,
    unmatched_emails_sql,
)
from b2b_assets.activation.ledger import delivery_lock, lock_path
from b2b_assets.activation.outbox import OutboxTransport
from b2b_assets.activation.transport import Change, Transport
from b2b_assets.checks.specs import schema_check_spec
from b2b_assets.columns import column_metadata, moment, table_schema, text
from b2b_assets.layers import code_reference
from b2b_assets.publish import publish_table
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.settings import load_settings
from b2b_assets.tables import DOWNSTREAM, POOL

DELIVERED = [
    text(
        "member_id",
        "the member as the destination knows it (lead id, email hash, domain)",
        nullable=False,
        unique=True,
    ),
    text("payload", "what was sent for it (JSON)", nullable=False),
    moment("delivered_at", "when the destination acknowledged it", nullable=False),
]


def transport_for(
    destination: MarketoStaticList | LinkedInAudience,
    segment: str,
    outbox: Path,
    as_of: str,
) -> Transport:
    """The HTTP client of a destination, or the outbox when it has no endpoint."""
    if destination.offline:
        return OutboxTransport(outbox, destination, segment, as_of)
    from b2b_assets.apis.http import RetrySettings

    retry = RetrySettings(
        attempts=destination.retry_attempts,
        backoff_initial=destination.backoff_seconds,
        backoff_jitter=min(1.0, destination.backoff_seconds),
    )
    if isinstance(destination, MarketoStaticList):
        from b2b_assets.activation.marketo import MarketoStaticListClient

        return MarketoStaticListClient(
            endpoint=destination.endpoint,
            identity_endpoint=destination.identity_endpoint or f"{destination.endpoint}/identity",
            client_id=secret(destination.client_id_env, destination.name, "client_id"),
            client_secret=secret(destination.client_secret_env, destination.name, "client_secret"),
            list_id=destination.list_id,
            timeout=destination.timeout_seconds,
            retry=retry,
        )
    from b2b_assets.activation.linkedin import LinkedInAudienceClient

    return LinkedInAudienceClient(
        endpoint=destination.endpoint,
        access_token=secret(destination.access_token_env, destination.name, "access_token"),
        segment_id=destination.segment_id,
        kind=destination.kind,
        linkedin_version=destination.linkedin_version,
        destination=destination.name,
        timeout=destination.timeout_seconds,
        retry=retry,
    )


def create_missing_leads(
    warehouse: DuckDBWarehouse,
    transport: Transport,
    destination: MarketoStaticList,
    segment: str,
    report: DeliveryReport,
) -> dict[str, dict]:
    """Members with consent but no lead in the list's instance: create (or find) their leads
    through the lead upsert API, for destinations with `create_missing_leads: true`.
    Returns the leads as member id -> payload; they belong to the desired membership."""
    upsert = getattr(transport, "upsert_leads", None)
    if upsert is None:  # the offline outbox cannot create leads
        return {}
    with warehouse.connect() as con:
        rows = con.execute(
            unmatched_emails_sql(segment), {"instance": destination.instance}
        ).fetchall()
    emails = [row[0] for row in rows]
    if not emails:
        return {}
    created = upsert(emails)
    report.created_leads = len(created)
    report.unmatched -= len(created)
    return {str(lead_id): {"id": lead_id} for lead_id in sorted(set(created.values()))}


def read_from_spark(warehouse: DuckDBWarehouse, segment: str) -> None:
    """Point the warehouse's audience and the tables activation reads at Spark's tables."""
    from b2b_assets.engines.parquet_views import ACTIVATION_READS, view_spark_tables
    from b2b_assets.engines.spark import SparkSettings

    spark = SparkSettings.from_env(load_settings().data_dir)
    with warehouse.connect() as con:
        view_spark_tables(con, spark.warehouse, [*ACTIVATION_READS, f"audience.{segment}"])


def activation_key(segment: str, destination: str) -> AssetKey:
    return AssetKey(["activation", f"{segment}__{destination}"])


def build_activation_asset(
    segment: str, entity: str, destination: MarketoStaticList | LinkedInAudience
) -> AssetsDefinition:
    """Deliver the audience's changes to one destination; the table is what it now holds."""
    key = activation_key(segment, destination.name)
    wants_accounts = isinstance(destination, LinkedInAudience) and destination.kind == "companies"
    if wants_accounts != (entity == "account"):
        raise DestinationConfigError(
            f"segment {segment!r} is a {entity} audience; destination {destination.name!r} "
            f"({destination.type}) takes {'accounts' if wants_accounts else 'people'}"
        )
    where = "offline outbox" if destination.offline else destination.endpoint

    @asset(
        key=key,
        group_name="activation",
        kinds={"duckdb"},
        deps=[
            AssetKey(["audience", segment]),
            AssetKey(["profile", "person"]),
            AssetKey(["profile", "account"]),
            AssetKey(["identity", "person"]),
            AssetKey(["b2b", "person"]),
        ],
        description=f"One row per member {destination.name} ({destination.type}, {where}) holds "
        f"for audience {segment}; each run sends only the adds and removes.",
        metadata={
            "dagster/column_schema": column_metadata(DELIVERED),
            "destination": destination.name,
            "destination_type": destination.type,
            **code_reference(build_activation_asset),
        },
        check_specs=[schema_check_spec(key, key.to_user_string())],
        pool=POOL,
        automation_condition=DOWNSTREAM,
    )
    def _activation(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse, settings: RunSettings
    ):
        # One delivery per (destination, segment) at a time, across processes: a batch found
        # pending under the lock was left by a run that is over.
        with delivery_lock(lock_path(warehouse.file, destination.name, segment)):
            return _deliver_and_publish(context, warehouse, settings)

    def _deliver_and_publish(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse, settings: RunSettings
    ):
        transport = transport_for(
            destination, segment, settings.outbox_folder(), settings.as_of_instant().isoformat()
        )
        report = DeliveryReport()
        if settings.engine_name() == "spark":
            read_from_spark(warehouse, segment)
        reconcile(warehouse.connect, transport, destination, segment, report, context.run_id)
        with warehouse.connect() as con:
            adds, removes, delivered, report = plan_changes(con, destination, segment, report)
        if isinstance(transport, OutboxTransport):
            transport.membership = dict(delivered)
        if isinstance(destination, MarketoStaticList) and destination.create_missing_leads:
            created = create_missing_leads(warehouse, transport, destination, segment, report)
            removes = [change for change in removes if change.member_id not in created]
            planned = {change.member_id for change in adds} | set(delivered)
            adds = adds + [
                Change("add", member_id, payload)
                for member_id, payload in created.items()
                if member_id not in planned
            ]
            report.removes, report.adds = len(removes), len(adds)
        # Removes first: a member who lost consent leaves before anyone new is added.
        deliver(warehouse.connect, transport, destination, segment, removes, report, context.run_id)
        deliver(warehouse.connect, transport, destination, segment, adds, report, context.run_id)
        closing = transport.close()
        numbers = report.metadata()
        context.log.info(
            f"{segment} -> {destination.name}: +{numbers['adds']} -{numbers['removes']}, "
            f"{numbers['unchanged']} unchanged, {numbers['no_consent']} without consent, "
            f"{numbers['unmatched']} without an id there"
        )

        def snapshot(con):
            con.execute("CREATE SCHEMA IF NOT EXISTS activation")
            con.execute(
                f"""CREATE OR REPLACE TABLE activation."{segment}__{destination.name}" AS
                    SELECT member_id, payload, delivered_at FROM ops.activation_state
                    WHERE destination = $destination AND segment = $segment ORDER BY member_id""",
                {"destination": destination.name, "segment": segment},
            )
            return {
                key: MetadataValue.json(value) if isinstance(value, dict | list) else value
                for key, value in {**report.metadata(), **closing}.items()
            }

        return publish_table(
            context, warehouse, table_schema(key.to_user_string(), DELIVERED), snapshot
        )

    return _activation
