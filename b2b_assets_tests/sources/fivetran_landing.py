"""Landing folders in Fivetran's shapes, written from the same rows as the contract's shape.

The tables' columns are those of Fivetran's published integration-test seeds
(`fivetran_seeds/headers.json`: `dbt_salesforce_source` and `dbt_marketo_source`), in their
order, with the rows' values under the columns that mean them; a field the seed has no column for
is added in snake_case, as Fivetran lands every field of the source. Activities are split into
one table per type; Fivetran's timestamps are written without a zone, its booleans in capitals.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from b2b_assets.sources.catalog import ACTIVITY_TYPES, snake_case
from b2b_assets_tests.conftest import copy_demo

HEADERS: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "fivetran_seeds" / "headers.json").read_text()
)
SALESFORCE_TABLES = {
    "Account": "account",
    "Contact": "contact",
    "Opportunity": "opportunity",
    "OpportunityContactRole": "opportunity_contact_role",
    "AccountContactRelation": "account_contact_relation",
    "Campaign": "campaign",
    "CampaignMember": "campaign_member",
}
MARKETO_TABLES = {
    "leads": "lead",
    "companies": "company",
    "opportunities": "opportunity",
    "opportunity_roles": "opportunity_role",
    "programs": "program",
    "program_members": "program_membership",
    "static_lists": "list",
    "static_list_members": "list_membership",
}
# Fivetran's Marketo schema for the web activity types (its reference documentation).
DOCUMENTED = {
    "activity_visit_webpage": [
        "id", "_fivetran_synced", "activity_date", "activity_type_id", "campaign_id",
        "client_ip_address", "lead_id", "primary_attribute_value", "primary_attribute_value_id",
        "query_parameters", "referrer_url", "search_engine", "search_query", "user_agent",
        "webpage_id", "webpage_url",
    ],
    "activity_fill_out_form": [
        "id", "_fivetran_synced", "activity_date", "activity_type_id", "campaign_id",
        "client_ip_address", "form_fields", "lead_id", "primary_attribute_value",
        "primary_attribute_value_id", "query_parameters", "referrer_url", "user_agent",
        "webform_id", "webpage_id",
    ],
}  # fmt: skip
SYNCED = "2026-11-14 08:00:00.000"
ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$")


def folded(name: str) -> str:
    return name.lstrip("\ufeff").replace("_", "").lower()


def fivetran_value(value: str) -> str:
    """A value as Fivetran writes it: timestamps in UTC without a zone, booleans in capitals."""
    match = ISO.match(value)
    if match:
        return f"{match[1]} {match[2]}{match[3] or '.000'}"
    if value in ("true", "false"):
        return value.upper()
    return value


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def table_header(seed: str | None, fields: Iterable[str]) -> list[str]:
    """The seed's columns (or Fivetran's own two), then each field it lacks in snake_case."""
    header = list(HEADERS.get(seed or "", ())) or ["_fivetran_synced", "_fivetran_deleted"]
    have = {folded(name) for name in header}
    for name in fields:
        if folded(name) not in have:
            header.append(snake_case(name) if not name.islower() else name)
            have.add(folded(name))
    return header


def write_table(
    path: Path, header: list[str], rows: Iterable[Mapping[str, str]], **fivetran: str
) -> Path:
    """Rows (keyed by any spelling of their columns) under the header; Fivetran's columns get
    `fivetran` values (synced now, not deleted, active by default)."""
    meta = {"_fivetran_synced": SYNCED, "_fivetran_deleted": "false", "_fivetran_active": "true"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            values = {folded(k): fivetran_value(v or "") for k, v in row.items()}
            writer.writerow(
                [
                    {**meta, **fivetran}.get(name, values.get(folded(name), ""))
                    if name.startswith("_fivetran_")
                    else values.get(folded(name), "")
                    for name in header
                ]
            )
    return path


def salesforce_table(folder: Path, object_name: str, rows: list[dict[str, str]], **meta: str):
    seed = f"salesforce/{SALESFORCE_TABLES[object_name]}"
    header = table_header(seed if seed in HEADERS else None, rows[0] if rows else ())
    if "_fivetran_deleted" not in header:
        header.append("_fivetran_deleted")
    return write_table(folder / f"{SALESFORCE_TABLES[object_name]}.csv", header, rows, **meta)


def marketo_table(folder: Path, object_name: str, rows: list[dict[str, str]], **meta: str):
    table = MARKETO_TABLES[object_name]
    seed = f"marketo/{table}"
    header = table_header(seed if seed in HEADERS else None, rows[0] if rows else ())
    if "_fivetran_deleted" not in header:
        header.append("_fivetran_deleted")
    return write_table(folder / f"{table}.csv", header, rows, **meta)


def activity_tables(folder: Path, rows: list[dict[str, str]], parts: bool = True) -> list[Path]:
    """One table per activity type, its type's attributes as columns (`Webpage URL` ->
    `webpage_url`); with `parts`, each table is a folder of one part per row."""
    by_table: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        table = f"activity_{ACTIVITY_TYPES[int(row['activityTypeId'])]}"
        flat = {
            key: value for key, value in row.items() if key not in ("attributes", "marketoGUID")
        }
        flat["id"] = row["marketoGUID"]
        for name, value in json.loads(row.get("attributes") or "{}").items():
            flat["_".join(name.lower().split())] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        by_table.setdefault(table, []).append(flat)
    written = []
    for table, table_rows in sorted(by_table.items()):
        seed = HEADERS.get(f"marketo/{table}") or DOCUMENTED.get(table)
        fields = [name for row in table_rows for name in row]
        header = list(seed or ["id", "_fivetran_synced"])
        have = {folded(name) for name in header}
        header += [n for n in dict.fromkeys(map(snake_case, fields)) if folded(n) not in have]
        if parts:
            for i, row in enumerate(table_rows):
                written.append(write_table(folder / table / f"part-{i:04d}.csv", header, [row]))
        else:
            written.append(write_table(folder / f"{table}.csv", header, table_rows))
    return written


def fivetran_landing(contract_landing: Path, target: Path, sources: Mapping[str, str]) -> None:
    """Write `target/<source>/` in Fivetran's shapes from the contract-shaped folders of
    `contract_landing` (`sources`: name -> type)."""
    for name, source_type in sources.items():
        origin, folder = contract_landing / name, target / name
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(origin.glob("*.csv")):
            rows = read_rows(path)
            if source_type == "salesforce":
                salesforce_table(folder, path.stem, rows)
            elif path.stem == "activities":
                activity_tables(folder, rows)
            else:
                marketo_table(folder, path.stem, rows)
        # Tables Fivetran lands that no object reads.
        noise = ("user", "lead") if source_type == "salesforce" else ("campaign", "lead_describe")
        for table in noise:
            seed = HEADERS[f"{source_type}/{table}"]
            write_table(folder / f"{table}.csv", seed, [{seed[0]: "x"}])
        if source_type == "marketo":
            write_table(
                folder / "activity_type.csv", ["id", "name"], [{"id": "1", "name": "Visit"}]
            )


SOURCES = {
    "crm_1": "salesforce",
    "crm_2": "salesforce",
    "marketo_1": "marketo",
    "marketo_2": "marketo",
}
TOWNSEND_2 = "0018d00000Dqn62AAB"


def fivetran_demo(root: Path) -> Path:
    """The demo with its Salesforce and Marketo sources in Fivetran's shapes, plus rows that
    Fivetran marks deleted or replaced (each would change a profile if it were counted)."""
    data = copy_demo(root / "data")
    contract = root / "contract_landing"
    shutil.copytree(data / "landing", contract)
    for name in SOURCES:
        shutil.rmtree(data / "landing" / name)
    fivetran_landing(contract, data / "landing", SOURCES)
    config = yaml.safe_load((data / "sources.yaml").read_text())
    for source in config["sources"]:
        if source["name"] in SOURCES:
            source["format"] = "fivetran"
    (data / "sources.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    crm_2, marketo_1 = data / "landing" / "crm_2", data / "landing" / "marketo_1"
    # A $5M closed-won deal of Townsend's Account 2, deleted in Salesforce.
    deleted_deal = {
        "Id": "0068d00000ZZZZZAAA",
        "AccountId": TOWNSEND_2,
        "Name": "Deleted deal",
        "Amount": "5000000",
        "StageName": "Closed Won",
        "IsClosed": "true",
        "IsWon": "true",
        "IsDeleted": "false",
    }
    salesforce_table(crm_2 / "opportunity", "Opportunity", [deleted_deal], _fivetran_deleted="true")
    # An earlier version of Townsend's Account 2, after the current one (history mode).
    (current,) = [r for r in read_rows(crm_2 / "account.csv") if r["id"] == TOWNSEND_2]
    salesforce_table(
        crm_2 / "account",
        "Account",
        [{**current, "name": "Townsend Old Name"}],
        _fivetran_active="false",
    )
    # A lead deleted in Marketo.
    gone = {"id": "99999", "email": "gone@townsend.com", "company": "Townsend"}
    marketo_table(marketo_1 / "lead", "leads", [gone], _fivetran_deleted="true")
    return data
