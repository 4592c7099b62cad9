"""The checks a raw asset reports on its load, where users look: rows quarantined (with counts by
reason and examples) and malformed references, and landing files that are no object of the source.

A row superseded by a later row with the same key is quarantined too, but that is how updates
arrive: it is counted in the metadata, not held against the load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
)

from b2b_assets.engines.queries import Queries, queries_of
from b2b_assets.sources.reader import NOT_PROBLEMS, SUPERSEDED, ReadResult
from b2b_assets.sql import literal, markdown_table

QUARANTINE_CHECK = "quarantine"
LANDING_CHECK = "landing_files"
EXAMPLES_PER_REASON = 3


def quarantine_check_spec(key: AssetKey) -> AssetCheckSpec:
    return AssetCheckSpec(
        QUARANTINE_CHECK,
        asset=key,
        blocking=True,
        description=(
            "Warns when the load quarantined rows (see raw.quarantine) or kept rows whose "
            "references are not Salesforce ids; above `max_quarantined` of sources.yaml it "
            "fails with ERROR: the load is not published and nothing below it is built."
        ),
    )


def landing_check_spec(key: AssetKey, folder: Path) -> AssetCheckSpec:
    return AssetCheckSpec(
        LANDING_CHECK,
        asset=key,
        description=f"Warns about files or folders in {folder} that are never read.",
    )


def problem_counts(result: ReadResult) -> dict[str, int]:
    """Rows quarantined per reason, without the superseded duplicates and the rows the
    source marks deleted or replaced."""
    return {reason: n for reason, n in result.reasons.items() if reason not in NOT_PROBLEMS and n}


def quarantine_examples(
    con: duckdb.DuckDBPyConnection | Queries,
    instance: str,
    object_name: str,
    relation: str = "raw.quarantine",
) -> list[tuple[Any, ...]]:
    """(reason, rows, file, row, problems, record) for the first rows of each reason of the
    object's quarantine rows in `relation`."""
    return queries_of(con).rows(
        f"""SELECT reason, n, regexp_extract(file_name, '([^/]*)$', 1), row_number, problems, record
            FROM (SELECT *, count(*) OVER (PARTITION BY reason) AS n,
                         row_number() OVER (PARTITION BY reason
                                            ORDER BY file_name, row_number) AS rank
                  FROM {relation}
                  WHERE source_instance = {literal(instance)} AND object = {literal(object_name)}
                    AND reason NOT IN ({", ".join(map(literal, NOT_PROBLEMS))}))
            WHERE rank <= {EXAMPLES_PER_REASON} ORDER BY n DESC, reason, rank"""
    )


def describe_problems(result: ReadResult, object_label: str) -> str:
    """`Opportunity of crm_2: quarantined 4 of 10 rows (Amount: not a number below 10^15: 4)`."""
    parts = []
    problems = problem_counts(result)
    if problems:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(problems.items()))
        parts.append(f"quarantined {sum(problems.values())} of {result.rows_read} rows ({reasons})")
    if result.malformed_references:
        listed = ", ".join(f"{c}: {n}" for c, n in sorted(result.malformed_references.items()))
        parts.append(f"kept rows whose reference is not a Salesforce id ({listed})")
    return f"{object_label}: " + "; ".join(parts) if parts else ""


def quarantine_check(
    con: duckdb.DuckDBPyConnection | Queries,
    key: AssetKey,
    result: ReadResult,
    object_label: str,
    instance: str,
    object_name: str,
    limit: float | None,
    relation: str = "raw.quarantine",
) -> AssetCheckResult:
    """Passes on a clean load; WARN with counts and examples (from `relation`); ERROR above
    the limit."""
    problems = problem_counts(result)
    quarantined = sum(problems.values())
    share = quarantined / result.rows_read if result.rows_read else 0.0
    over = limit is not None and share > limit
    description = describe_problems(result, object_label) or f"{object_label}: every row kept"
    if over:
        description += (
            f"; {share:.1%} is above max_quarantined {limit:g}: the load is not published, "
            "the last good table stays"
        )
    metadata: dict[str, Any] = {
        "rows_read": result.rows_read,
        "rows_quarantined": quarantined,
        "quarantined_share": round(share, 6),
        "superseded_rows": int(result.reasons.get(SUPERSEDED, 0)),
        "deleted_in_source_rows": sum(
            int(result.reasons.get(reason, 0)) for reason in NOT_PROBLEMS if reason != SUPERSEDED
        ),
        "reasons": MetadataValue.json(problems),
        "malformed_references": MetadataValue.json(result.malformed_references),
    }
    if limit is not None:
        metadata["max_quarantined"] = limit
    if quarantined:
        examples = quarantine_examples(con, instance, object_name, relation)
        metadata["examples"] = MetadataValue.md(
            markdown_table(["reason", "rows", "file", "row", "problems", "record"], examples)
        )
    return AssetCheckResult(
        asset_key=key,
        check_name=QUARANTINE_CHECK,
        passed=not problems and not result.malformed_references,
        severity=AssetCheckSeverity.ERROR if over else AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


def landing_check(key: AssetKey, unknown: list[str]) -> AssetCheckResult:
    """Passes when every name in the landing folder is an object of the source (or temporary)."""
    return AssetCheckResult(
        asset_key=key,
        check_name=LANDING_CHECK,
        passed=not unknown,
        severity=AssetCheckSeverity.WARN,
        description="; ".join(unknown) or "every name is read",
        metadata={"unknown_files": MetadataValue.json(unknown)},
    )
