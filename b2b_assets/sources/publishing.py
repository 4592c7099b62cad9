"""Publish a raw load: its quarantined and superseded rows, the view over its parts and the row
accounting, all in the caller's transaction (see `reader` for how the files are read)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from b2b_assets.engines.queries import Queries, queries_of
from b2b_assets.sources import parts
from b2b_assets.sources.catalog import Column, ObjectSpec
from b2b_assets.sources.reader import (
    ACCOUNTING_DDL,
    LOADED_FILES_DDL,
    LOADED_FILES_PART,
    QUARANTINE_DDL,
    SUPERSEDED,
    ExtractError,
    Malformed,
    ReadContext,
    ReadResult,
    loaded_parts,
    remove_unread_parts,
    stage_object,
)
from b2b_assets.sql import scalar


def load_object(
    con: duckdb.DuckDBPyConnection, folder: Path, spec: ObjectSpec, ctx: ReadContext
) -> ReadResult:
    """Replace `raw.<instance>__<object>` and its quarantine rows from the landing folder."""
    result = stage_object(con, folder, spec, ctx)
    try:
        return publish_object(con, spec, ctx, result)
    finally:
        remove_unread_parts(con, result)


def publish_object(
    con: duckdb.DuckDBPyConnection, spec: ObjectSpec, ctx: ReadContext, result: ReadResult
) -> ReadResult:
    """Publish the staged rows: replace the raw table and the object's quarantine rows (full
    load), or add the new files' rows to them (append load). Records the files read in
    `ops.loaded_files` and the object's totals in `ops.row_accounting`.

    Runs inside the caller's transaction: nothing is visible to others until it commits.
    """
    for ddl in (QUARANTINE_DDL, ACCOUNTING_DDL, LOADED_FILES_DDL, LOADED_FILES_PART):
        con.execute(ddl)
    rows = RowSql(spec, ctx)
    _record_files(con, result)
    if result.mode == "full":
        _replace_rows(con, rows, result)
    else:
        _append_rows(con, rows, result)
    _account(con, spec, ctx, result)
    result.malformed_references = count_malformed_references(con, spec, ctx, result.table)
    for temp in ("_losers", "_contenders"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return result


def reference_columns(spec: ObjectSpec, ctx: ReadContext) -> list[Column]:
    """The columns that name another Salesforce record (not the row's own key)."""
    if not ctx.normalize_sf_ids:
        return []
    return [c for c in spec.columns if c.kind == "sfid" and c.name not in spec.key]


def count_malformed_references(
    con: duckdb.DuckDBPyConnection | Queries, spec: ObjectSpec, ctx: ReadContext, table: str
) -> dict[str, int]:
    """Rows of the table whose reference to a Salesforce record is not shaped like an id, per
    column (the rows are kept: such a reference links to nothing)."""
    columns = reference_columns(spec, ctx)
    if not columns:
        return {}
    counts = ", ".join(
        f'count(*) FILTER (WHERE "{c.field}" IS NOT NULL AND NOT sf_id_shaped("{c.field}"))'
        for c in columns
    )
    row = queries_of(con).rows(f"SELECT {counts} FROM {table}")[0]
    return {c.name: int(n) for c, n in zip(columns, row, strict=True) if n}


@dataclass(frozen=True)
class RowSql:
    """SQL fragments over an object's rows: key, winner order, fields, record as JSON."""

    spec: ObjectSpec
    ctx: ReadContext

    @property
    def key(self) -> str:
        return ", ".join(f'"{self.spec.column(name).field}"' for name in self.spec.key)

    @property
    def winner_order(self) -> str:
        updated = self.spec.updated_at
        first = f'"{self.spec.column(updated).field}" DESC NULLS LAST, ' if updated else ""
        return f"{first}_file_name DESC, _row_number DESC"

    @property
    def fields(self) -> str:
        return ", ".join(f'"{column.field}"' for column in self.spec.columns)

    @property
    def record(self) -> str:
        pairs = ", ".join(f"'{c.field}': \"{c.field}\"" for c in self.spec.columns)
        return f"to_json({{{pairs}}})::VARCHAR"

    @property
    def params(self) -> dict[str, str]:
        return {"instance": self.ctx.instance, "object": self.spec.name, "run_id": self.ctx.run_id}

    @property
    def loser_params(self) -> dict[str, str]:
        return {**self.params, "key_names": " + ".join(self.spec.key), "superseded": SUPERSEDED}

    def losers_quarantined(self, rows_of: str) -> str:
        """The quarantine rows of the rows of `rows_of` that `_losers` names (a later row with
        their key won); parameters `loser_params`."""
        return f"""SELECT $instance AS source_instance, $object AS object,
                          _file_name AS file_name, _row_number AS row_number,
                          $superseded AS reason,
                          ['superseded by a row with the same ' || $key_names
                           || ' (latest {self.spec.updated_at or "row"} wins)'] AS problems,
                          {self.record} AS record, now() AS loaded_at, $run_id AS run_id
                   FROM {rows_of} SEMI JOIN _losers USING (_file_name, _row_number)"""

    def quarantine_losers(self, con: duckdb.DuckDBPyConnection, rows_of: str) -> None:
        """Quarantine the rows of `rows_of` that `_losers` names."""
        con.execute(
            f"INSERT INTO raw.quarantine {self.losers_quarantined(rows_of)}", self.loser_params
        )


def malformed_table(malformed: list[Malformed]):
    import pyarrow as pa

    names = ("file_name", "row_number", "reason", "problems", "record")
    types = (pa.string(), pa.int64(), pa.string(), pa.list_(pa.string()), pa.string())
    return pa.table(
        {
            name: pa.array([row[position] for row in malformed], type=kind)
            for position, (name, kind) in enumerate(zip(names, types, strict=True))
        }
    )


def _quarantine_staged(con: duckdb.DuckDBPyConnection, rows: RowSql, result: ReadResult) -> None:
    """Quarantine the staged rows that did not parse or break a reading rule."""
    if result.malformed:
        con.register("_malformed_rows", malformed_table(result.malformed))
        try:
            con.execute(
                """INSERT INTO raw.quarantine
                   SELECT $instance, $object, file_name, row_number, reason, problems, record,
                          now(), $run_id
                   FROM _malformed_rows""",
                rows.params,
            )
        finally:
            con.unregister("_malformed_rows")
    con.execute(f"INSERT INTO raw.quarantine {problems_quarantined(result.staged)}", rows.params)


def problems_quarantined(staged: str) -> str:
    """The quarantine rows of the staged rows with problems (parameters `RowSql.params`)."""
    return f"""SELECT $instance AS source_instance, $object AS object,
                      _file_name AS file_name, _row_number AS row_number,
                      split_part(_problems[1], ':', 1) || ':' || split_part(_problems[1], ':', 2)
                          AS reason,
                      _problems AS problems, _record AS record, now() AS loaded_at,
                      $run_id AS run_id
               FROM {staged} WHERE _problems IS NOT NULL"""


def _rank_losers(con: duckdb.DuckDBPyConnection, rows: RowSql, candidates: str) -> None:
    """`_losers`: see `losers_select`."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _losers AS {losers_select(rows, candidates)}")


def losers_select(rows: RowSql, candidates: str) -> str:
    """The rows (`_file_name`, `_row_number`) of `candidates` that share a key with a row that
    wins. Ranking only the duplicated keys keeps the common case (unique keys) to one hash
    aggregate."""
    return f"""WITH candidates AS ({candidates}),
            duplicated AS (SELECT {rows.key} FROM candidates GROUP BY ALL HAVING count(*) > 1)
            SELECT _file_name, _row_number FROM (
                SELECT _file_name, _row_number,
                       row_number() OVER (PARTITION BY {rows.key}
                                          ORDER BY {rows.winner_order}) AS _rank
                FROM candidates SEMI JOIN duplicated USING ({rows.key})
            ) WHERE _rank > 1"""


def _replace_rows(con: duckdb.DuckDBPyConnection, rows: RowSql, result: ReadResult) -> None:
    """The load's parts, without their quarantined rows, become the raw table."""
    staged = result.staged
    con.execute(
        "DELETE FROM raw.quarantine WHERE source_instance = $instance AND object = $object",
        {"instance": rows.ctx.instance, "object": rows.spec.name},
    )
    _quarantine_staged(con, rows, result)
    _rank_losers(con, rows, f"SELECT * FROM {staged} WHERE _problems IS NULL")
    rows.quarantine_losers(con, staged)
    superseded = parts.superseded_table(result.table)
    con.execute(f"DROP TABLE IF EXISTS {superseded}")
    _keep_superseded(con, superseded)
    publish_loaded_parts(con, result.table, result.empty)


def _append_rows(con: duckdb.DuckDBPyConnection, rows: RowSql, result: ReadResult) -> None:
    """Add the new files' parts; a key already in the table goes to whichever row wins, the
    other is quarantined (and superseded, if it was in the table)."""
    target, staged = result.table, result.staged
    _quarantine_staged(con, rows, result)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _contenders AS
            SELECT {rows.fields}, _file_name, _row_number FROM {staged} WHERE _problems IS NULL
            UNION ALL
            SELECT {rows.fields}, _file_name, _row_number FROM {target}
            SEMI JOIN (SELECT {rows.key} FROM {staged} WHERE _problems IS NULL)
                 USING ({rows.key})"""
    )
    _rank_losers(con, rows, "SELECT * FROM _contenders")
    rows.quarantine_losers(con, "_contenders")
    _keep_superseded(con, parts.superseded_table(result.table))
    publish_loaded_parts(con, result.table, result.empty)


def _keep_superseded(con: duckdb.DuckDBPyConnection, superseded: str) -> None:
    """Add the rows `_losers` names to the object's superseded rows (a table that exists only
    while there are some)."""
    if not scalar(con, "SELECT count(*) FROM _losers"):
        return
    con.execute(f"CREATE TABLE IF NOT EXISTS {superseded} (_file_name VARCHAR, _row_number BIGINT)")
    con.execute(f"INSERT INTO {superseded} SELECT * FROM _losers")


def publish_loaded_parts(con: duckdb.DuckDBPyConnection, table: str, empty: str) -> None:
    """`raw.<table>`: the kept rows of every part its loaded files hold (`ops.loaded_files`),
    less its superseded rows."""
    parts.publish_view(con, table, loaded_parts(con, table), empty)


def _record_files(con: duckdb.DuckDBPyConnection, result: ReadResult) -> None:
    """Remember each file read in this load: its stamp, the rows read from it and its part (a
    full load forgets the files of the previous one)."""
    if result.mode == "full":
        con.execute("DELETE FROM ops.loaded_files WHERE raw_table = $t", {"t": result.table})
    read = [*result.files, *result.skipped_files]
    if not read:
        return
    counts = Counter(result.rows_by_file)
    counts.update(row[0] for row in result.malformed)
    con.executemany(
        """INSERT INTO ops.loaded_files (raw_table, file_name, size, mtime_ns, rows_read,
               load_id, signature, loaded_at, part)
           VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?)""",
        [
            (
                result.table,
                name,
                *result.stamps.get(name, (0, 0)),
                int(counts.get(name, 0)),
                result.load_id,
                result.signature,
                result.part_of.get(name),
            )
            for name in read
        ],
    )


def _account(
    con: duckdb.DuckDBPyConnection, spec: ObjectSpec, ctx: ReadContext, result: ReadResult
) -> None:
    """The object's totals after the load (files with rows, rows read, kept, quarantined),
    checked to balance, appended to ops.row_accounting."""
    result.rows_kept = scalar(con, f"SELECT count(*) FROM {result.table}")
    result.reasons = Counter(
        dict(
            con.execute(
                """SELECT reason, count(*) FROM raw.quarantine
                   WHERE source_instance = $instance AND object = $object GROUP BY reason""",
                {"instance": ctx.instance, "object": spec.name},
            ).fetchall()
        )
    )
    result.rows_read = int(
        scalar(
            con,
            "SELECT coalesce(sum(rows_read), 0) FROM ops.loaded_files WHERE raw_table = $t",
            {"t": result.table},
        )
    )
    if result.rows_read != result.rows_kept + result.rows_quarantined:
        raise ExtractError(
            f"{result.table}: row accounting of {spec.name} does not balance: read {result.rows_read}, "
            f"kept {result.rows_kept}, quarantined {result.rows_quarantined}"
        )
    con.execute(
        """INSERT INTO ops.row_accounting
           VALUES ($run_id, $instance, $object, now(), $files, $read, $kept, $quarantined, $reasons)""",
        {
            "run_id": ctx.run_id,
            "instance": ctx.instance,
            "object": spec.name,
            "files": scalar(
                con,
                "SELECT count(*) FROM ops.loaded_files WHERE raw_table = $t AND rows_read > 0",
                {"t": result.table},
            ),
            "read": result.rows_read,
            "kept": result.rows_kept,
            "quarantined": result.rows_quarantined,
            "reasons": json.dumps(dict(result.reasons), sort_keys=True),
        },
    )
