"""What the model's tables share: source keys, unions over instances, empty selects, the joins
from a Marketo record to its company and synced CRM records, and the source columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from b2b_assets import columns as c
from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.config import SourceInstance, SourcesConfig

SOURCE_INSTANCE = c.text("source_instance", "the source instance", nullable=False)
SOURCE_TYPE = c.text(
    "source_type", "salesforce or marketo", nullable=False, one_of=["salesforce", "marketo"]
)


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


def empty(columns: Sequence[c.Column], until: str | None = None) -> str:
    """A select of no rows with the columns (those before `until`, if given) and their types."""
    cols = ", ".join(
        f"CAST(NULL AS {sql_type}) AS {name}"
        for name, sql_type in c.sql_types(columns, until).items()
    )
    return f"SELECT {cols} WHERE FALSE"


def synced_crm(config: SourcesConfig, source: SourceInstance) -> SourceInstance | None:
    return config.by_name().get(source.synced_crm) if source.synced_crm else None


def crm_key(source: SourceInstance, config: SourcesConfig, column: str) -> str:
    crm = synced_crm(config, source)
    return key(column, crm.name) if crm else "CAST(NULL AS VARCHAR)"


def company_lookup(source: SourceInstance, alias: str) -> str:
    """Join a Marketo row to the instance's company by `externalCompanyId`."""
    return (
        f"LEFT JOIN (SELECT external_company_id, min(id) AS id FROM {raw(source, 'companies')} "
        f"WHERE external_company_id IS NOT NULL GROUP BY 1) AS {alias} "
        f"ON {alias}.external_company_id = t.external_company_id"
    )


def marketo_account_key(source: SourceInstance, config: SourcesConfig, sfdc_account: str) -> str:
    """A lead's or opportunity's account: its CRM account where that account exists (`ca`, see
    `crm_account_lookup`), else the instance's company, else the CRM id it names."""
    crm = synced_crm(config, source)
    crm_part = (
        f"CASE WHEN ca.id IS NOT NULL THEN {key(sfdc_account, crm.name)} END, "
        if (crm and sfdc_account)
        else ""
    )
    fallback = f", {key('t.external_company_id', crm.name)}" if crm else ""
    return f"coalesce({crm_part}{key('co.id', source.name)}{fallback})"


def crm_account_lookup(source: SourceInstance, config: SourcesConfig) -> str:
    """Join a lead to the synced CRM's Account named by its `sfdcAccountId`, if there is one."""
    crm = synced_crm(config, source)
    if crm is None:
        return "LEFT JOIN (SELECT CAST(NULL AS VARCHAR) AS id WHERE FALSE) AS ca ON FALSE"
    return (
        f"LEFT JOIN (SELECT DISTINCT id FROM {raw(crm, 'Account')}) AS ca "
        "ON ca.id = t.sfdc_account_id"
    )


def marketo_opportunity_key(source: SourceInstance, config: SourcesConfig) -> str:
    crm = synced_crm(config, source)
    fallback = f", {key('t.external_opportunity_id', crm.name)}" if crm else ""
    return f"coalesce({key('op.marketo_guid', source.name)}{fallback})"
