"""`identity.account_match` and `identity.lead_account`: account matching beyond the MDM
(contract section 8), on when `sources.yaml` has `account_matching:`.

The groups of account records the MDM and CRM sync already link are the candidates
(`match_features`); Splink scores the pairs that share a domain, an email domain or a name
(`match_model`); each pair is then merged or listed for review (`match_decisions`). Merged
pairs join `identity.account_link` with the rule `probabilistic` (or `override`), so the
unified accounts follow them transitively, like the other links. The model's parameters are
kept in `ops.account_match_model` for each run and shown in the asset's metadata.

A Marketo lead with no account of its own is attached to the one unified account whose people
share its email domain (free-mail domains aside): `identity.lead_account`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetExecutionContext, MetadataValue

from b2b_assets import columns as c
from b2b_assets.identity.components import COMPONENTS, Graph, find_components
from b2b_assets.identity.match_decisions import (
    OVERRIDES_FILE,
    Candidate,
    decide,
    read_overrides,
)
from b2b_assets.identity.match_features import candidates_sql, email_domain
from b2b_assets.identity.match_model import EXACT_LEVELS, ScoredPairs, exact_shares, score
from b2b_assets.sources.config import AccountMatching
from b2b_assets.sql import markdown_table
from b2b_assets.tables import TableAsset, table_key

DECISIONS = ["merged", "review"]
MATCH_COLUMNS = [
    c.key("left_key", "one account record (its group's representative)", unique=False),
    c.key("right_key", "the other account record", unique=False),
    c.number("match_probability", "the model's probability that they are one company"),
    c.number("match_weight", "log2 of the odds the evidence gives"),
    c.text("decision", "merged, or listed for review", nullable=False, one_of=DECISIONS),
    c.text(
        "rule",
        "probabilistic, or a user's override",
        nullable=False,
        one_of=["probabilistic", "override"],
    ),  # fmt: skip
    c.text("evidence", "the probability, the fields that agree, what blocked a merge", False),
    c.text_list("agreeing", "the fields that agree"),
    c.text(
        "blocked_by",
        "what kept a strong pair apart: mdm_conflict or override",
        one_of=["mdm_conflict", "override"],
    ),  # fmt: skip
]
MODEL_DDL = """CREATE TABLE IF NOT EXISTS ops.account_match_model (
    run_id VARCHAR, built_at TIMESTAMPTZ, candidates BIGINT, training JSON, model JSON)"""


def match_nodes(golden_sql: str) -> str:
    """Live account records with their MDM golden id (the nodes of the deterministic links)."""
    return f"""SELECT a.account_key AS node, g.golden_id
               FROM b2b.account a
               LEFT JOIN (SELECT account_key, min(golden_id) AS golden_id FROM ({golden_sql})
                          GROUP BY account_key) g USING (account_key)
               WHERE NOT a.is_deleted"""


def _candidates(con: duckdb.DuckDBPyConnection, graph: Graph):
    """The candidates (Arrow) and each live account record's candidate key."""
    find_components(con, graph)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _match_candidates AS {candidates_sql()}")
        members = dict(
            con.execute(
                f"""SELECT m.node, x.unique_id FROM {COMPONENTS} m
                    JOIN _match_candidates x USING (component)"""
            ).fetchall()
        )
        table = con.sql("SELECT * FROM _match_candidates").to_arrow_table()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {COMPONENTS}")
        con.execute("DROP TABLE IF EXISTS _match_candidates")
    return table, members


def score_on_duckdb(
    candidates, settings: AccountMatching, shares: Mapping[str, float]
) -> ScoredPairs:
    """Splink's DuckDB backend, on a connection of its own (its work tables stay there)."""
    from splink import DuckDBAPI

    with duckdb.connect() as scratch:
        scratch.register("candidates_view", candidates)
        scratch.execute("CREATE TABLE candidates AS SELECT * FROM candidates_view")
        return score(DuckDBAPI(connection=scratch), "candidates", candidates.num_rows,
                     settings.review_threshold, shares)  # fmt: skip


# The columns of the candidates the decisions and the counted u read (on the driver).
DRIVER_COLUMNS = ["unique_id", "golden_id", "other_golden_id", *EXACT_LEVELS.values()]


def scored_and_decided(
    rows: list[dict[str, Any]],
    members: Mapping[str, str],
    settings: AccountMatching,
    data_dir: Path | None,
    scored_by: Callable[[Mapping[str, float]], ScoredPairs],
) -> tuple[ScoredPairs, list[dict[str, Any]]]:
    """Score the candidates (`rows`: their `DRIVER_COLUMNS`) with the engine's Splink backend
    (`scored_by`, given the counted u of the exact levels), then decide every pair listed."""
    candidates = [
        Candidate(r["unique_id"], frozenset(g for g in (r["golden_id"], r["other_golden_id"]) if g))
        for r in rows
    ]
    scored = scored_by(exact_shares(rows))
    overrides = read_overrides(data_dir / OVERRIDES_FILE) if data_dir else []
    decisions = decide(candidates, scored.pairs, overrides, settings.auto_merge_threshold,
                       settings.review_threshold, members)  # fmt: skip
    return scored, decisions


def match_metadata(scored: ScoredPairs, rows: list[dict[str, Any]], candidates: int) -> dict:
    """What the UI shows of a matching run: the counts, the training and the match weights."""
    weights = markdown_table(
        ["comparison", "level", "m", "u", "match weight"],
        [
            (p["comparison"], p["level"], _round(p["m"]), _round(p["u"]), p["match_weight"])
            for p in scored.parameters
        ],
    )
    return {
        "candidates": candidates,
        "pairs_listed": len(rows),
        "merged": sum(r["decision"] == "merged" for r in rows),
        "review": sum(r["decision"] == "review" for r in rows),
        "blocked_by_mdm": sum(r["blocked_by"] == "mdm_conflict" for r in rows),
        "training": MetadataValue.json(scored.trained),
        "match_weights": MetadataValue.md(weights),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def account_match_builder(
    graph: Graph, settings: AccountMatching, data_dir: Path | None
) -> Callable[[duckdb.DuckDBPyConnection, AssetExecutionContext], dict]:
    """Build `identity.account_match` on DuckDB."""

    def build(con: duckdb.DuckDBPyConnection, context: AssetExecutionContext) -> dict:
        candidates, members = _candidates(con, graph)
        scored, rows = scored_and_decided(
            candidates.select(DRIVER_COLUMNS).to_pylist(),
            members,
            settings,
            data_dir,
            lambda shares: score_on_duckdb(candidates, settings, shares),
        )
        write_matches(con, rows)
        con.execute(MODEL_DDL)
        con.execute(
            "INSERT INTO ops.account_match_model VALUES ($run, now(), $n, $training, $model)",
            {
                "run": context.run_id,
                "n": candidates.num_rows,
                "training": json.dumps(scored.trained),
                "model": json.dumps(scored.model, default=str),
            },
        )
        return match_metadata(scored, rows, candidates.num_rows)

    return build


def write_matches(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    names = [column.name for column in MATCH_COLUMNS]
    types = {
        "match_probability": pa.float64(),
        "match_weight": pa.float64(),
        "agreeing": pa.list_(pa.string()),
    }
    table = pa.table(
        {
            name: pa.array([r[name] for r in rows], type=types.get(name, pa.string()))
            for name in names
        }  # fmt: skip
    )
    con.register("_match_rows", table)
    try:
        con.execute("CREATE OR REPLACE TABLE identity.account_match AS SELECT * FROM _match_rows")
    finally:
        con.unregister("_match_rows")


def account_match_on_spark(graph: Graph, settings: AccountMatching, data_dir: Path | None):
    """Build `identity.account_match` on Spark: the candidates and Splink's scoring there, the
    decisions (a few rows per pair listed) on the driver."""

    def build(tables, context: AssetExecutionContext) -> tuple[Any, dict]:
        from splink import SparkAPI

        tables.components(graph)
        candidates = tables.sql(candidates_sql()).localCheckpoint()
        candidates.createOrReplaceTempView("_match_candidates")
        members = dict(
            tables.spark.sql(
                f"""SELECT m.node, x.unique_id FROM {COMPONENTS} m
                    JOIN _match_candidates x USING (component)"""
            ).collect()
        )
        api = SparkAPI(
            spark_session=tables.spark,
            break_lineage_method="persist",
            register_udfs_automatically=False,
        )
        driver = [r.asDict() for r in candidates.select(*DRIVER_COLUMNS).collect()]
        scored, rows = scored_and_decided(
            driver,
            members,
            settings,
            data_dir,
            lambda shares: score(api, candidates, len(driver), settings.review_threshold, shares),
        )
        frame = tables.spark.createDataFrame(
            [tuple(row[c.name] for c in MATCH_COLUMNS) for row in rows], schema=SPARK_SCHEMA
        )
        return frame, match_metadata(scored, rows, len(driver))

    return build


SPARK_SCHEMA = (
    "left_key STRING, right_key STRING, match_probability DOUBLE, match_weight DOUBLE, "
    "decision STRING, rule STRING, evidence STRING, agreeing ARRAY<STRING>, blocked_by STRING"
)


def account_match(
    golden_sql: str, deterministic_links: str, settings: AccountMatching, data_dir: Path | None
) -> TableAsset:
    graph = Graph(match_nodes(golden_sql), deterministic_links)
    return TableAsset(
        key=table_key("identity.account_match"),
        description=(
            "One row per pair of account groups the matching model scored at or above "
            f"{settings.review_threshold} (or a user's override): probability, decision "
            f"(merged from {settings.auto_merge_threshold}), evidence."
        ),
        columns=MATCH_COLUMNS,
        unique=["left_key", "right_key"],
        build=account_match_builder(graph, settings, data_dir),
        build_on_spark=account_match_on_spark(graph, settings, data_dir),
        reads=[graph.nodes, graph.edges, candidates_sql()],
    )


def lead_account_sql() -> str:
    """Marketo leads related to no account, each attached to the one unified account whose
    people share its (non-free-mail) email domain."""
    domain = email_domain("p.email_normalized")
    return f"""
        WITH related AS (SELECT DISTINCT person_key FROM b2b.account_person),
        account_domains AS (
            SELECT a.account_id, {domain} AS domain, count(DISTINCT p.person_key) AS people
            FROM b2b.account_person r
            JOIN b2b.person p ON p.person_key = r.person_key AND NOT p.is_deleted
            JOIN identity.account a ON a.account_key = r.account_key
            WHERE coalesce(r.is_active, TRUE)
            GROUP BY ALL
        ),
        orphans AS (
            SELECT p.person_key, p.source_instance, {domain} AS domain
            FROM b2b.person p ANTI JOIN related USING (person_key)
            WHERE p.source_type = 'marketo' AND NOT p.is_deleted
        ),
        candidates AS (
            SELECT o.person_key, o.source_instance, o.domain, d.account_id, d.people,
                   count(*) OVER (PARTITION BY o.person_key) AS accounts
            FROM orphans o JOIN account_domains d USING (domain)
            WHERE o.domain IS NOT NULL
        )
        SELECT person_key, account_id, source_instance,
               'email domain ' || domain || ' shared with ' || people
               || ' people of this account' AS evidence
        FROM candidates WHERE accounts = 1"""


def lead_account() -> TableAsset:
    return TableAsset(
        key=table_key("identity.lead_account"),
        description="One row per Marketo lead with no account of its own, attached to the one "
        "unified account whose people share its email domain.",
        columns=[
            c.key("person_key", "the lead"),
            c.text("account_id", "the unified account", nullable=False),
            c.text("source_instance", "the lead's Marketo instance", nullable=False),
            c.text("evidence", "the email domain it shares", nullable=False),
        ],
        select=lead_account_sql(),
    )
