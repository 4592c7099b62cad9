"""The one `Definitions` of the project: every layer's assets, checks and resources."""

from __future__ import annotations

from dagster import Definitions

from b2b_assets.activation.assets import build_activation_asset
from b2b_assets.activation.config import load_destinations
from b2b_assets.automation import automation_definitions
from b2b_assets.console import concise_console_logger
from b2b_assets.identity.tables import identity_tables
from b2b_assets.model.tables import model_tables
from b2b_assets.profiles.tables import profile_tables
from b2b_assets.pulls.assets import build_pull_assets
from b2b_assets.resources import default_resources
from b2b_assets.run_summary import reporting_in_process_executor
from b2b_assets.segments.assets import build_audience_assets
from b2b_assets.settings import load_settings
from b2b_assets.sources.assets import build_raw_assets
from b2b_assets.sources.config import load_sources
from b2b_assets.tables import build_table_layer


def build_definitions() -> Definitions:
    """Assemble the graph from `sources.yaml` and the segment files of `B2B_DATA_DIR`."""
    settings = load_settings()
    config = load_sources(settings.sources_file)
    destinations = load_destinations(
        settings.destinations_file, {source.name for source in config.of_type("marketo")}
    ).by_name()
    audiences, segments = build_audience_assets(
        settings.segments_dir, set(destinations), matching=config.matching is not None
    )
    assets = [
        *build_pull_assets(settings.data_dir, config),
        *build_raw_assets(settings.data_dir, config),
        build_table_layer("b2b", model_tables(config)),
        build_table_layer("identity", identity_tables(config, settings.data_dir)),
        build_table_layer("profile", profile_tables(config)),
        *audiences,
        *(
            build_activation_asset(segment.name, segment.entity, destinations[name])
            for segment in segments
            for name in segment.destinations
        ),
    ]
    automation = automation_definitions(settings.data_dir, config)
    return Definitions(
        assets=assets,
        resources=default_resources(),
        executor=reporting_in_process_executor,
        loggers={"console": concise_console_logger},
        **automation,
    )


defs = build_definitions()
