"""The profile.* tables: one row per unified opportunity, account and person."""

from __future__ import annotations

from dataclasses import replace

from b2b_assets.profiles import accounts, opportunities, people
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset


def profile_tables(config: SourcesConfig) -> list[TableAsset]:
    """Every profile.* table, in the order the UI lists them."""
    tables = [
        opportunities.opportunity(),
        people.person_account(config),
        opportunities.person_opportunity(),
        accounts.account(),
        people.person_traits(config),
        people.person_activity(),
        people.person(),
    ]
    return [table if table.origin else replace(table, origin=profile_tables) for table in tables]
