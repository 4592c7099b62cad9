"""The b2b.* tables: how each source type maps onto the unified model."""

from __future__ import annotations

from dataclasses import replace

from b2b_assets.model.accounts import account, account_person
from b2b_assets.model.engagement import (
    campaign,
    campaign_member,
    experience_event,
    marketing_list,
    marketing_list_member,
)
from b2b_assets.model.opportunities import opportunity, opportunity_person
from b2b_assets.model.people import person
from b2b_assets.sources.config import SourcesConfig
from b2b_assets.tables import TableAsset


def model_tables(config: SourcesConfig) -> list[TableAsset]:
    """Every b2b.* table, in the order the UI lists them."""
    return [
        replace(builder(config), origin=builder)
        for builder in (
            account,
            person,
            opportunity,
            opportunity_person,
            account_person,
            campaign,
            campaign_member,
            marketing_list,
            marketing_list_member,
            experience_event,
        )
    ]
