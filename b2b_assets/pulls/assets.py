"""The pull assets: one per source with a `pull:` block, upstream of that source's raw assets, so
`dagster asset materialize --select '*'` pulls, then builds. Each pull lands new parts in the
source's landing folder (see `landing`), where the landing sensor finds them as it finds dropped
files; the `pull_<source>` schedule pulls every `every_minutes`."""

import os
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from b2b_assets.apis.http import ApiError
from b2b_assets.apis.marketo import MarketoApi, MarketoError
from b2b_assets.apis.salesforce import SalesforceApi
from b2b_assets.pulls.landing import PullLanding, pull_lock
from b2b_assets.pulls.marketo import MarketoPuller
from b2b_assets.pulls.report import PullError, PullReport
from b2b_assets.pulls.salesforce import SalesforcePuller
from b2b_assets.sources.config import (
    MarketoPull,
    SalesforcePull,
    SourceInstance,
    SourcesConfig,
    landing_dir,
)

GROUP = "pull"
# Marketo allows 100 calls per 20 s per instance.
MARKETO_RATE_LIMIT = (100, 20)


def pull_key(source: SourceInstance) -> AssetKey:
    return AssetKey([GROUP, source.name])


def credentials(source: SourceInstance) -> tuple[str, str]:
    """The client id and secret from the environment variables the pull block names."""
    assert source.pull is not None
    names = (source.pull.client_id_env, source.pull.client_secret_env)
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise Failure(
            description=f"pull of {source.name}: set the environment variable(s) "
            f"{', '.join(missing)} (named in sources.yaml) to the connected app's credentials"
        )
    return os.environ[names[0]], os.environ[names[1]]


def run_pull(
    source: SourceInstance, folder: Path, log, crm_folder: Path | None = None
) -> PullReport:
    """Pull the source's objects into `folder`; the report says what came. `crm_folder` is the
    landing folder of a Marketo source's synced CRM."""
    client_id, client_secret = credentials(source)
    with pull_lock(folder, log.info):
        return _pull(source, PullLanding(folder), client_id, client_secret, log, crm_folder)


def _pull(
    source: SourceInstance,
    landing: PullLanding,
    client_id: str,
    client_secret: str,
    log,
    crm_folder: Path | None,
) -> PullReport:
    report = PullReport(source.name)
    settings = source.pull
    if isinstance(settings, SalesforcePull):
        api = SalesforceApi(
            settings.instance_url,
            settings.token_url,
            client_id,
            client_secret,
            api_version=settings.api_version,
        )
        try:
            return SalesforcePuller(api, landing, log).pull(report)
        finally:
            api.close()
    assert isinstance(settings, MarketoPull)
    marketo = MarketoApi(
        settings.endpoint,
        settings.identity_endpoint,
        client_id,
        client_secret,
        rate_limit=MARKETO_RATE_LIMIT,
        error=MarketoError,
    )
    try:
        puller = MarketoPuller(marketo, landing, settings, log, crm_folder=crm_folder)
        return puller.pull(report)
    finally:
        marketo.close()


def report_metadata(report: PullReport) -> dict:
    """What the UI shows of a pull: per object and in total."""
    lines = [
        "| object | rows | parts | high-water mark | API calls | note |",
        "|---|---:|---:|---|---:|---|",
        *(
            f"| {o.name} | {o.rows} | {o.parts} | {o.high_water_mark or ''} | {o.api_calls} "
            f"| {o.note or ''} |"
            for o in report.objects
        ),
    ]
    return {
        "rows_fetched": report.rows,
        "api_calls": report.api_calls + report.token_requests,
        "rate_limit_wait_seconds": round(report.limit_wait_seconds, 3),
        "job_wait_seconds": round(report.job_wait_seconds, 3),
        "high_water_marks": MetadataValue.json({o.name: o.high_water_mark for o in report.objects}),
        "objects": MetadataValue.md("\n".join(lines)),
    }


def build_pull_asset(
    data_dir: Path, source: SourceInstance, config: SourcesConfig
) -> AssetsDefinition:
    """The asset that pulls one source into its landing folder. A Marketo source pulls after
    its synced CRM (when that is pulled too): it asks for the CRM's opportunities."""
    assert source.pull is not None
    folder = landing_dir(data_dir, source)
    crm = config.by_name().get(source.synced_crm or "")
    crm_folder = landing_dir(data_dir, crm) if crm is not None else None
    api = "Bulk API 2.0" if source.type == "salesforce" else "bulk extract and REST APIs"

    @asset(
        key=pull_key(source),
        group_name=GROUP,
        kinds={source.type},
        description=(
            f"Pulls {source.name} ({source.type}, {api}) into `{folder}` as new parts; "
            "every raw asset of the source reads them."
        ),
        metadata={"source_instance": source.name, "landing": str(folder)},
        deps=[pull_key(crm)] if crm is not None and crm.pull is not None else [],
    )
    def _pull(context: AssetExecutionContext) -> MaterializeResult:
        try:
            report = run_pull(source, folder, context.log, crm_folder)
        except (ApiError, PullError, OSError) as exc:
            raise Failure(
                description=f"pull of {source.name}: {exc}\nWhat it landed before stays in "
                f"{folder}; the next pull resumes from there.",
            ) from None
        context.log.info(
            f"{source.name}: {report.rows} row(s) in "
            f"{sum(o.parts for o in report.objects)} part(s), {report.api_calls} API call(s)"
        )
        return MaterializeResult(metadata=report_metadata(report))

    return _pull


def build_pull_assets(data_dir: Path, config: SourcesConfig) -> list[AssetsDefinition]:
    return [build_pull_asset(data_dir, source, config) for source in config.sources if source.pull]


def pull_schedules(config: SourcesConfig) -> list[ScheduleDefinition]:
    """`pull_<source>`: pulls the source every `every_minutes`; the landing sensor then loads
    what came and carries it to the audiences."""
    schedules = []
    for source in config.sources:
        if source.pull is None:
            continue
        job = define_asset_job(
            f"pull_{source.name}_job",
            selection=AssetSelection.assets(pull_key(source)),
            description=f"Pull {source.name} from its API into its landing folder.",
        )
        schedules.append(
            ScheduleDefinition(
                name=f"pull_{source.name}",
                job=job,
                cron_schedule=source.pull.cron,
                execution_timezone="UTC",
                default_status=DefaultScheduleStatus.RUNNING,
                description=f"Pull {source.name} every {source.pull.every_minutes} minute(s).",
            )
        )
    return schedules
