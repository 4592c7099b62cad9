"""Pandera schemas of the identity.* tables."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from b2b_assets.checks.schemas import count, flag, key_column, text


def link_columns(rules: list[str]) -> dict[str, pa.Column]:
    """A link between two records: which, by which rule, and why."""
    return {
        "left_key": key_column("one record", unique=False),
        "right_key": key_column("the record it is joined to", unique=False),
        "rule": pa.Column(
            pl.String(), pa.Check.isin(rules), description="the rule that joined them"
        ),
        "evidence": text("why the rule joined them", nullable=False),
    }


ACCOUNT_LINK = pa.DataFrameSchema(
    link_columns(["mdm", "crm_sync"]), name="identity.account_link", strict=True
)
PERSON_LINK = pa.DataFrameSchema(
    link_columns(["email", "crm_sync"]), name="identity.person_link", strict=True
)
ACCOUNT_IDENTITY = pa.DataFrameSchema(
    {
        "account_key": key_column("the source account"),
        "account_id": text("the unified account: the MDM golden_id where it has one", False),
        "golden_id": text("this record's MDM golden id"),
        "component_size": pa.Column(pl.Int64(), pa.Check.ge(1), description="records unified"),
    },
    name="identity.account",
    strict=True,
)
PERSON_IDENTITY = pa.DataFrameSchema(
    {
        "person_key": key_column("the source person"),
        "person_id": pa.Column(
            pl.String(), pa.Check.str_matches(r"^p_[0-9a-f]{20}$"), description="the unified person"
        ),
        "email": text("the person's normalized email"),
        "distinct_emails": count("distinct emails joined (more than one only through CRM sync)"),
        "component_size": pa.Column(pl.Int64(), pa.Check.ge(1), description="records unified"),
    },
    name="identity.person",
    strict=True,
)
OPPORTUNITY_IDENTITY = pa.DataFrameSchema(
    {
        "opportunity_key": key_column("the source opportunity"),
        "opportunity_id": text("the opportunity counted once: its CRM key", nullable=False),
        "account_id": text("the unified account"),
        "is_representative": flag("the record whose values count (the CRM's where present)"),
        "is_excluded": flag(
            "not counted: deleted in its source, or the synced copy of a quarantined CRM record"
        ),
    },
    name="identity.opportunity",
    strict=True,
)
