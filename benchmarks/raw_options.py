#!/usr/bin/env python
"""Shapes the raw layer could take, measured side by side against the hand-written floor.

    python benchmarks/raw_options.py ENV_DIR [--rounds N] [--only NAME ...] [--work DIR]
                                             [--keep] [--markdown FILE]

ENV_DIR is an environment folder (sources.yaml, fx_rates.csv, landing/), e.g. one written by
`python -m benchmarks.synth`. Each round runs every measurement below in a process of its own,
one after the other, in an order rotated from round to round. A process's wall time and peak
RSS (getrusage: the largest process) are recorded, and every time is divided by the floor's
time of the same round; the report gives the median over the rounds.

- `floor`: `benchmarks/floor.py`, the seed audience in one hand-written DuckDB script.
- `scan`: count(*) of every landing file with read_csv (read_parquet for Parquet parts).
- `platform` (a): today's raw assets, `dagster asset materialize --select 'group:raw'`.
- `reader` (a'): today's reader (`stage_object`, `publish_object`) on one connection, without
  Dagster or Pandera.
- `copy` (b): `benchmarks/raw_copy.py`, every file copied into DuckDB as text.
- `typed` (c): the columns the model reads (found by parsing its SQL with SQLGlot), typed by
  the reading rules, with file name and row number, into `raw.*` DuckDB tables; quarantine,
  duplicate keys and row counts as today.
- `typed_url` (c'): `typed`, with the activities' `attributes` JSON kept only as the one field
  the model reads from it (`webpage_url`); the model's query is rewritten to match.
- `parquet` (d): `typed`'s rows written with COPY ... TO Parquet, one file per landing file;
  `raw.*` are views that read them with read_parquet.
- `views` (e): `raw.*` are views over the landing files; the load only checks the rows
  (quarantine, duplicate keys, counts) and records each file's signature (size, mtime_ns, a
  hash of its first and last 64 KiB), which every read of the model checks again.

The lean shapes (c, c', d, e) apply the reader's own rules (`staged_rows_select`) and keep its
promises: every row read is kept or quarantined with its reason, file and row number, and the
counts go to ops.row_accounting; a file whose size or mtime changed while it was read stops the
load; each object is published in a transaction of its own. They read every file of every
object through one pool of two workers, each file in one statement (numbered scan, rules,
write): numbering keeps a file's scan on one thread, and the other worker keeps the other core
busy.

For every shape the model can read (a, a', c, c', d, e), the model's b2b.* tables are then built
from its `raw.*` relations in another process (`model`): what (e) saves at load time, it pays
there. The report checks that every shape gives the model the same rows (counts and checksums).

Prints seconds, ratios to the floor, peak RSS and size on disk per shape, then a Markdown table.
Files with rows DuckDB's fast CSV reader rejects (which today's reader reads again with Python's
csv module) are outside what the lean shapes here implement: they stop with an error.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

if not __package__:  # run as a file (`python benchmarks/raw_options.py`): import from the root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b2b_assets.settings import load_settings
from b2b_assets.sources.catalog import FX_RATES, OBJECTS_BY_TYPE, Column, ObjectSpec
from b2b_assets.sources.config import SourcesConfig, landing_dir, load_sources
from b2b_assets.sources.publishing import publish_object
from b2b_assets.sources.reader import (
    ACCOUNTING_DDL,
    QUARANTINE_DDL,
    SQL_TYPES,
    SUPERSEDED,
    ReadContext,
    empty_staged,
    find_object_files,
    map_columns,
    raw_table_name,
    read_csv_header,
    remove_unread_parts,
    stage_object,
    staged_rows_select,
)
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import literal, scalar
from benchmarks.bench import (  # noqa: E402
    Measurement,
    materialize_command,
    measure,
    ratio,
    run_breakdown,
    run_environment,
)

HERE = Path(__file__).resolve().parent
DEFAULT_AS_OF = "2026-11-15T00:00:00Z"
READ_WORKERS = 2  # files read at once (of any object), each on a connection of its own
FAST_MAX_LINE_BYTES = 2 * 1024 * 1024
SIGNATURE_BLOCK = 64 * 1024
RESULT = "RESULT "  # a step's last stdout line: RESULT {json}
SCHEMAS = ("raw", "b2b", "ops")  # the schemas the shapes and the model write

# The one field of the activities' `attributes` JSON the model reads, as the model writes it.
WEBPAGE_URL_SQL = (
    "CASE WHEN contains(attributes, '\"Webpage URL\"') "
    "THEN json_extract_string(attributes, '$.\"Webpage URL\"') END"
)
WEBPAGE_URL_IN_MODEL = re.compile(
    r"CASE WHEN contains\(attributes, '\"Webpage URL\"'\)\s+"
    r"THEN json_extract_string\(attributes, '\$\.\"Webpage URL\"'\) END"
)

# name -> (label, whether the model is built from it)
OPTIONS: dict[str, tuple[str, bool]] = {
    "floor": ("floor: benchmarks/floor.py", False),
    "scan": ("scan: count(*) of every file", False),
    "platform": ("(a) platform raw assets (dagster)", True),
    "reader": ("(a') today's reader, no Dagster/Pandera", True),
    "copy": ("(b) raw_copy.py, untyped tables", False),
    "typed": ("(c) typed model columns, tables", True),
    "typed_url": ("(c') (c), JSON reduced to its URL", True),
    "parquet": ("(d) typed Parquet snapshots + views", True),
    "views": ("(e) views over the landing files", True),
}


# --------------------------------------------------------------------------- objects
@dataclass(frozen=True)
class RawObject:
    """One object of one source (or the reference rates): its spec, reading context and files."""

    table: str  # in schema raw, e.g. crm_1__account
    folder: Path
    spec: ObjectSpec
    ctx: ReadContext
    files: tuple[Path, ...]

    @property
    def quoted(self) -> str:
        return f'raw."{self.table}"'


def known_currencies(env: Path) -> tuple[str, ...]:
    """USD and the currencies of fx_rates.csv (the reader takes them from raw.fx_rates)."""
    path = env / "fx_rates.csv"
    found = {"USD"}
    if path.is_file():
        with path.open(encoding="utf-8-sig", newline="") as handle:
            found |= {row["currency"].strip().upper() for row in csv.DictReader(handle)}
    return tuple(sorted(found))


def raw_objects(env: Path, config: SourcesConfig, run_id: str) -> list[RawObject]:
    """Every object of ENV_DIR with its files, the reference rates first."""
    names = tuple(source.name for source in config.sources)
    salesforce = tuple(source.name for source in config.of_type("salesforce"))
    currencies = known_currencies(env)
    fx_ctx = ReadContext(instance="", normalize_sf_ids=False, run_id=run_id)
    found = [RawObject("fx_rates", env, FX_RATES, fx_ctx, tuple(find_object_files(env, FX_RATES)))]
    for source in config.sources:
        folder = landing_dir(env, source)
        ctx = ReadContext(
            instance=source.name,
            normalize_sf_ids=source.type == "salesforce" or source.synced_crm is not None,
            currencies=currencies,
            instances=names,
            run_id=run_id,
            salesforce_instances=salesforce,
        )
        for spec in OBJECTS_BY_TYPE[source.type]:
            files = tuple(find_object_files(folder, spec))
            found.append(RawObject(raw_table_name(source.name, spec), folder, spec, ctx, files))
    return found


# --------------------------------------------------------------------------- what the model reads
def model_queries(config: SourcesConfig) -> list[str]:
    """The SQL of every b2b.* and identity.* table (those are the layers that read raw.*)."""
    from b2b_assets.identity.tables import identity_tables
    from b2b_assets.model.tables import model_tables

    queries: list[str] = []
    for table in [*model_tables(config), *identity_tables(config)]:
        queries.extend([table.select] if table.select else [])
        queries.extend(table.reads)
    return queries


def fields_read(queries: list[str], fields: dict[str, set[str]]) -> dict[str, set[str]]:
    """raw table -> the columns of it the queries read. A column is the raw table's when it is
    qualified by the table's alias, or unqualified in a scope where the raw table has it (so
    an ambiguous name counts for every raw table of its scope)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    used: dict[str, set[str]] = {}
    for query in queries:
        for statement in sqlglot.parse(query, read="duckdb"):
            if statement is None:
                continue
            for scope in traverse_scope(statement):
                raws = {
                    alias: source.name
                    for alias, source in scope.sources.items()
                    if isinstance(source, exp.Table) and source.db == "raw"
                }
                if not raws:
                    continue
                if any(isinstance(e, exp.Star) for e in scope.expression.expressions):
                    for table in raws.values():
                        used.setdefault(table, set()).update(fields.get(table, ()))
                for column in scope.columns:
                    for alias, table in raws.items():
                        mine = (
                            column.table == alias
                            if column.table
                            else column.name in fields.get(table, ())
                        )
                        if mine:
                            used.setdefault(table, set()).add(column.name)
    return used


def slim_spec(spec: ObjectSpec, used: set[str]) -> ObjectSpec:
    """The spec with only the columns the model reads, the key, the column that orders
    duplicates, and those the object's rules read."""
    keep = set(spec.key) | ({spec.updated_at} if spec.updated_at else set())
    if "currency" in spec.extra_rules:
        keep.add("CurrencyIsoCode")
    columns = tuple(c for c in spec.columns if c.field in used or c.name in keep)
    return replace(spec, columns=columns)


def model_columns(objects: list[RawObject], config: SourcesConfig) -> dict[str, set[str]]:
    """raw table -> the catalog's columns (fields) of it that the model's SQL reads."""
    fields = {obj.table: {c.field for c in obj.spec.columns} for obj in objects}
    return fields_read(model_queries(config), fields)


def columns_to_keep(objects: list[RawObject], used: dict[str, set[str]]) -> dict[str, list[str]]:
    """raw table -> the columns (fields) a slim spec keeps."""
    return {
        obj.table: [c.field for c in slim_spec(obj.spec, used.get(obj.table, set())).columns]
        for obj in objects
    }


def slim_objects(objects: list[RawObject], keep: dict[str, list[str]]) -> list[RawObject]:
    """The objects with only the columns `keep` names."""
    return [
        replace(
            obj,
            spec=replace(
                obj.spec, columns=tuple(c for c in obj.spec.columns if c.field in keep[obj.table])
            ),
        )
        for obj in objects
    ]


def missing_columns(
    objects: list[RawObject], kept: dict[str, Iterable[str]]
) -> dict[str, list[str]]:
    """raw table -> the catalog's columns that are not in `kept`."""
    missing = {
        obj.table: [c.field for c in obj.spec.columns if c.field not in kept.get(obj.table, ())]
        for obj in objects
    }
    return {table: columns for table, columns in missing.items() if columns}


# --------------------------------------------------------------------------- one file's rows
def sql_value(value: object) -> str:
    """A SQL literal of a parameter value."""
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ {literal(value.isoformat())}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_value(item) for item in value) + "]::VARCHAR[]"
    raise TypeError(f"no SQL literal for {value!r}")


def inline(sql: str, params: dict[str, object]) -> str:
    """`sql` with its `$name` parameters written as literals (a view takes no parameters)."""
    names = "|".join(sorted(params, key=len, reverse=True))
    return re.sub(rf"\$({names})\b", lambda m: sql_value(params[m.group(1)]), sql)


def csv_options(header: list[str]) -> str:
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    return (
        "auto_detect = false, header = true, delim = ',', quote = '\"', escape = '\"', "
        f"columns = {{{columns}}}, strict_mode = true, null_padding = false, "
        f"max_line_size = {FAST_MAX_LINE_BYTES}"
    )


def file_scan(path: Path, header: list[str], numbered: bool, rejects: str | None) -> str:
    """A scan of one file with columns c0, c1, ... (Parquet: its own) and `_row_number`.
    Numbering a CSV file's rows keeps its scan on one thread; unnumbered, `_row_number` is NULL.
    `rejects` names the temporary table that keeps the rows DuckDB's reader rejects."""
    where = literal(str(path))
    if path.suffix.lower() == ".parquet":
        return (
            "(SELECT *, file_row_number + 1 AS _row_number "
            f"FROM read_parquet({where}, file_row_number = true))"
        )
    options = csv_options(header)
    if rejects:
        options += (
            f", store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan'"
        )
    number = "row_number() OVER ()" if numbered else "CAST(NULL AS BIGINT)"
    return f"(SELECT *, {number} AS _row_number FROM read_csv({where}, {options}))"


def file_header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str] | None:
    if path.suffix.lower() == ".parquet":
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(str(path))})")
        return [row[0] for row in rows.fetchall()]
    return read_csv_header(path)


def file_rows(
    obj: RawObject,
    path: Path,
    header: list[str],
    loaded_at: datetime,
    *,
    numbered: bool = True,
    rejects: str | None = None,
    url_only: bool = False,
) -> str:
    """The SELECT of one file's rows as the reader stages them (typed columns, instance, file,
    row number, load time, problems, record), with every parameter written out."""
    positions = map_columns(path, header, obj.spec)
    parquet = path.suffix.lower() == ".parquet"
    scan = file_scan(path, header, numbered, rejects)
    select = staged_rows_select(obj.spec, positions, header, parquet, obj.ctx, scan)
    if url_only and obj.spec.name == "activities":
        select = f"SELECT * EXCLUDE (attributes), {WEBPAGE_URL_SQL} AS webpage_url FROM ({select})"
    params = {
        "instance": obj.ctx.instance,
        "file_name": str(path),
        "loaded_at": loaded_at,
        "currencies": list(obj.ctx.currencies),
        "instances": list(obj.ctx.instances),
        "salesforce": list(obj.ctx.salesforce_instances),
    }
    return inline(select, params)


def reader_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to the same database, set up for the reading rules."""
    cursor = con.cursor()
    cursor.execute("SET TimeZone = 'UTC'")
    install_macros(cursor)
    return cursor


@dataclass(frozen=True)
class FileTask:
    """One file of one object to read; `index` names its rejects table."""

    obj: RawObject
    path: Path
    header: list[str]
    index: int


def run_files(
    con: duckdb.DuckDBPyConnection,
    tasks: list[FileTask],
    work: Callable[[duckdb.DuckDBPyConnection, FileTask], None],
) -> None:
    """`work(connection, task)` for every file of every object, READ_WORKERS at a time, each on
    a connection of its own, largest files first. Numbering a CSV file's rows keeps its scan on
    one thread, so the other worker keeps the other core busy."""
    order = sorted(tasks, key=lambda task: -task.path.stat().st_size)

    def run(task: FileTask) -> None:
        cursor = reader_cursor(con)
        try:
            work(cursor, task)
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        list(pool.map(run, order))


def run_checked(con: duckdb.DuckDBPyConnection, statement: str, rejects: str, path: Path) -> None:
    """Run a statement over a file's scan; fail if DuckDB's reader rejected any row."""
    for stale in (rejects, f"{rejects}_scan"):
        con.execute(f"DROP TABLE IF EXISTS {stale}")
    con.execute(statement)
    if not path.suffix.lower() == ".parquet" and scalar(con, f"SELECT count(*) FROM {rejects}"):
        raise SystemExit(f"{path}: rows DuckDB's reader rejects; not covered by this benchmark")


def stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def signature(path: Path) -> tuple[int, int, str]:
    """Size, mtime_ns and a hash of the first and last SIGNATURE_BLOCK bytes."""
    size, mtime_ns = stamp(path)
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        digest.update(handle.read(SIGNATURE_BLOCK))
        if size > SIGNATURE_BLOCK:
            handle.seek(max(SIGNATURE_BLOCK, size - SIGNATURE_BLOCK))
            digest.update(handle.read(SIGNATURE_BLOCK))
    return size, mtime_ns, digest.hexdigest()


def unchanged_since(stamps: dict[Path, tuple[int, int]]) -> None:
    """Fail if a file read changed (size or mtime) since its stamp: it may be half-read."""
    changed = [str(path) for path, before in stamps.items() if stamp(path) != before]
    if changed:
        raise SystemExit(f"changed while being read: {', '.join(changed)}")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A transaction committed at the end of the block, rolled back on an error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- quarantine, counts
@dataclass
class Counts:
    read: int = 0
    kept: int = 0
    bad: int = 0
    superseded: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # seconds of a load's phases

    def add(self, other: Counts) -> None:
        for name in ("read", "kept", "bad", "superseded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def settle(con: duckdb.DuckDBPyConnection, obj: RawObject, rows: str, record: list[str]) -> Counts:
    """Quarantine the rows of `rows` (a relation with the staged columns) that have problems
    or lose to a later row with the same key; leaves the losers in temp table `_losers`."""
    spec, ctx = obj.spec, obj.ctx
    key = ", ".join(f'"{spec.column(name).field}"' for name in spec.key)
    updated = f'"{spec.column(spec.updated_at).field}" DESC NULLS LAST, ' if spec.updated_at else ""
    who = f"{literal(ctx.instance)}, {literal(spec.name)}"
    con.execute(
        f"""INSERT INTO raw.quarantine
            SELECT {who}, _file_name, _row_number,
                   split_part(_problems[1], ':', 1) || ':' || split_part(_problems[1], ':', 2),
                   _problems, _record, now(), {literal(ctx.run_id)}
            FROM {rows} WHERE _problems IS NOT NULL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _losers AS
            WITH candidates AS (SELECT * FROM {rows} WHERE _problems IS NULL),
            duplicated AS (SELECT {key} FROM candidates GROUP BY ALL HAVING count(*) > 1)
            SELECT _file_name, _row_number FROM (
                SELECT _file_name, _row_number,
                       row_number() OVER (PARTITION BY {key}
                           ORDER BY {updated}_file_name DESC, _row_number DESC) AS _rank
                FROM candidates SEMI JOIN duplicated USING ({key}))
            WHERE _rank > 1"""
    )
    pairs = ", ".join(f"'{name}': \"{name}\"" for name in record)
    con.execute(
        f"""INSERT INTO raw.quarantine
            SELECT {who}, _file_name, _row_number, {literal(SUPERSEDED)},
                   ['superseded by a row with the same ' || {literal(" + ".join(spec.key))}],
                   to_json({{{pairs}}})::VARCHAR, now(), {literal(ctx.run_id)}
            FROM {rows} SEMI JOIN _losers USING (_file_name, _row_number)"""
    )
    read, bad = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _problems IS NOT NULL) FROM {rows}"
    ).fetchone()
    superseded = scalar(con, "SELECT count(*) FROM _losers")
    return Counts(read=read, kept=read - bad - superseded, bad=bad, superseded=superseded)


def account(con: duckdb.DuckDBPyConnection, obj: RawObject, counts: Counts, files: int) -> None:
    """The object's counts in ops.row_accounting (they balance by construction)."""
    con.execute(
        "INSERT INTO ops.row_accounting VALUES ($run, $inst, $obj, now(), $files, $read, $kept, "
        "$quarantined, $reasons)",
        {
            "run": obj.ctx.run_id,
            "inst": obj.ctx.instance,
            "obj": obj.spec.name,
            "files": files,
            "read": counts.read,
            "kept": counts.kept,
            "quarantined": counts.bad + counts.superseded,
            "reasons": json.dumps({"problems": counts.bad, SUPERSEDED: counts.superseded}),
        },
    )


def readable_headers(con: duckdb.DuckDBPyConnection, obj: RawObject) -> dict[Path, list[str]]:
    """The object's non-empty files and their headers."""
    headers = {path: file_header(con, path) for path in obj.files}
    return {path: header for path, header in headers.items() if header is not None}


# --------------------------------------------------------------------------- the load shapes
def empty_select(spec: ObjectSpec) -> str:
    """No rows, with the columns of a raw view."""
    return f"SELECT * EXCLUDE (_problems, _record) FROM ({empty_staged(spec)})"


class Shape:
    """How a shape keeps an object's rows: made ready, each file read, then published (in a
    transaction of its own, after every file of every object was read)."""

    url_only = False

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: RawObject) -> None:
        """Before any file is read."""

    def statement(self, task: FileTask, loaded_at: datetime) -> str:
        """What reads one file (its rejected rows kept in `_rejects_<index>`)."""
        raise NotImplementedError

    def publish(
        self, con: duckdb.DuckDBPyConnection, obj: RawObject, files: list[FileTask]
    ) -> Counts:
        """Quarantine, count and make `raw.<table>` the object's kept rows."""
        raise NotImplementedError

    def rows(self, task: FileTask, loaded_at: datetime) -> str:
        rejects = f"_rejects_{task.index}"
        return file_rows(
            task.obj, task.path, task.header, loaded_at, rejects=rejects, url_only=self.url_only
        )


class TableShape(Shape):
    """(c): the typed rows staged in a table beside `raw.<table>`; the quarantined rows are
    deleted from it, and it is renamed into place."""

    def __init__(self, url_only: bool) -> None:
        self.url_only = url_only

    @staticmethod
    def staging(obj: RawObject) -> str:
        return f'raw."_staging__{obj.table}"'

    def columns(self, obj: RawObject) -> list[Column]:
        return [
            Column("webpage_url") if self.url_only and c.name == "attributes" else c
            for c in obj.spec.columns
        ]

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: RawObject) -> None:
        typed = ", ".join(f'"{c.field}" {SQL_TYPES[c.kind]}' for c in self.columns(obj))
        con.execute(
            f"CREATE OR REPLACE TABLE {self.staging(obj)} ({typed}, _source_instance VARCHAR, "
            "_file_name VARCHAR, _row_number BIGINT, _loaded_at TIMESTAMPTZ, "
            "_problems VARCHAR[], _record VARCHAR)"
        )

    def statement(self, task: FileTask, loaded_at: datetime) -> str:
        return f"INSERT INTO {self.staging(task.obj)} BY NAME {self.rows(task, loaded_at)}"

    def publish(
        self, con: duckdb.DuckDBPyConnection, obj: RawObject, files: list[FileTask]
    ) -> Counts:
        staging = self.staging(obj)
        record = [c.field for c in self.columns(obj) if c.name != "webpage_url"]
        counts = settle(con, obj, staging, record)
        if counts.bad:
            con.execute(f"DELETE FROM {staging} WHERE _problems IS NOT NULL")
        if counts.superseded:
            con.execute(
                f"""DELETE FROM {staging} s USING _losers l
                    WHERE s._file_name = l._file_name AND s._row_number = l._row_number"""
            )
        con.execute(f"ALTER TABLE {staging} DROP COLUMN _problems")
        con.execute(f"ALTER TABLE {staging} DROP COLUMN _record")
        con.execute(f"DROP TABLE IF EXISTS {obj.quoted}")
        con.execute(f'ALTER TABLE {staging} RENAME TO "{obj.table}"')
        return counts


class ParquetShape(Shape):
    """(d): each file's typed rows in a Parquet snapshot of its own; `raw.<table>` is a view
    over the object's snapshots that leaves out the quarantined rows."""

    def __init__(self, snapshots: Path) -> None:
        self.snapshots = snapshots

    def part(self, task: FileTask) -> Path:
        return self.snapshots / task.obj.table / f"part-{task.index:05d}.parquet"

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: RawObject) -> None:
        (self.snapshots / obj.table).mkdir(parents=True, exist_ok=True)

    def statement(self, task: FileTask, loaded_at: datetime) -> str:
        target = literal(str(self.part(task)))
        return f"COPY ({self.rows(task, loaded_at)}) TO {target} (FORMAT parquet)"

    def publish(
        self, con: duckdb.DuckDBPyConnection, obj: RawObject, files: list[FileTask]
    ) -> Counts:
        if not files:
            con.execute(f"CREATE OR REPLACE VIEW {obj.quoted} AS {empty_select(obj.spec)}")
            return Counts()
        parts = ", ".join(literal(str(self.part(task))) for task in files)
        snapshot = f"read_parquet([{parts}])"
        counts = settle(con, obj, snapshot, [c.field for c in obj.spec.columns])
        view = f"SELECT p.* EXCLUDE (_problems, _record) FROM {snapshot} AS p"
        if counts.superseded:
            losers = f'raw."_losers__{obj.table}"'
            con.execute(f"CREATE OR REPLACE TABLE {losers} AS SELECT * FROM _losers")
            view += f" ANTI JOIN {losers} USING (_file_name, _row_number)"
        con.execute(f"CREATE OR REPLACE VIEW {obj.quoted} AS {view} WHERE p._problems IS NULL")
        return counts


SIGNATURES_DDL = """
CREATE TABLE IF NOT EXISTS ops.file_signatures (
    raw_table VARCHAR, file_name VARCHAR, size BIGINT, mtime_ns BIGINT, ends_hash VARCHAR
)"""


class ViewShape(Shape):
    """(e): every row is checked once (quarantine, duplicate keys, counts), keeping only its
    key and file position; `raw.<table>` is a view over the landing files that leaves out the
    quarantined rows, and each file's signature is recorded for the reads to check."""

    def __init__(self) -> None:
        self.loaded_at = datetime.now(UTC)

    @staticmethod
    def checked(obj: RawObject) -> str:
        return f'raw."_checked__{obj.table}"'

    @staticmethod
    def narrow(obj: RawObject) -> list[str]:
        """The columns the checks keep: the key and the column that orders duplicates."""
        names = [*obj.spec.key, *([obj.spec.updated_at] if obj.spec.updated_at else [])]
        return [obj.spec.column(name).field for name in names]

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: RawObject) -> None:
        kept = self.narrow(obj)
        typed = ", ".join(
            f'"{c.field}" {SQL_TYPES[c.kind]}' for c in obj.spec.columns if c.field in kept
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {self.checked(obj)} ({typed}, _file_name VARCHAR, "
            "_row_number BIGINT, _problems VARCHAR[], _record VARCHAR)"
        )

    def statement(self, task: FileTask, loaded_at: datetime) -> str:
        self.loaded_at = loaded_at
        narrow = ", ".join(f'"{name}"' for name in self.narrow(task.obj))
        return (
            f"INSERT INTO {self.checked(task.obj)} SELECT {narrow}, _file_name, _row_number, "
            f"_problems, _record FROM ({self.rows(task, loaded_at)})"
        )

    def publish(
        self, con: duckdb.DuckDBPyConnection, obj: RawObject, files: list[FileTask]
    ) -> Counts:
        counts = settle(con, obj, self.checked(obj), self.narrow(obj))
        losers = f'raw."_losers__{obj.table}"'
        con.execute(f"CREATE OR REPLACE TABLE {losers} AS SELECT * FROM _losers")
        found = con.execute(f"SELECT DISTINCT _file_name FROM {losers}").fetchall()
        view = self.view(obj, files, {row[0] for row in found}, losers)
        con.execute(f"CREATE OR REPLACE VIEW {obj.quoted} AS {view}")
        con.execute(SIGNATURES_DDL)
        con.execute("DELETE FROM ops.file_signatures WHERE raw_table = $t", {"t": obj.table})
        con.executemany(
            "INSERT INTO ops.file_signatures VALUES (?, ?, ?, ?, ?)",
            [(obj.table, str(task.path), *signature(task.path)) for task in files],
        )
        con.execute(f"DROP TABLE {self.checked(obj)}")
        return counts

    def view(
        self, obj: RawObject, files: list[FileTask], with_losers: set[str], losers: str
    ) -> str:
        """The kept rows of the files: without problems, not superseded. A file's rows are
        numbered (one thread) only when some of them lose to a later row with the same key."""
        parts = []
        for task in files:
            numbered = str(task.path) in with_losers
            rows = file_rows(obj, task.path, task.header, self.loaded_at, numbered=numbered)
            part = f"SELECT * EXCLUDE (_problems, _record) FROM ({rows}) WHERE _problems IS NULL"
            if numbered:
                part += (
                    f" AND _row_number NOT IN (SELECT _row_number FROM {losers} "
                    f"WHERE _file_name = {literal(str(task.path))})"
                )
            parts.append(part)
        return "\nUNION ALL\n".join(f"({part})" for part in parts) or empty_select(obj.spec)


def load(con: duckdb.DuckDBPyConnection, objects: list[RawObject], shape: Shape) -> Counts:
    """Read every file of every object the shape's way, check that no file changed while it
    was read, then publish each object in a transaction of its own."""
    tasks: dict[str, list[FileTask]] = {}
    index = 0
    for obj in objects:
        tasks[obj.table] = []
        for path, header in readable_headers(con, obj).items():
            tasks[obj.table].append(FileTask(obj, path, header, index))
            index += 1
        shape.prepare(con, obj)
    every = [task for listed in tasks.values() for task in listed]
    stamps = {task.path: stamp(task.path) for task in every}
    loaded_at = datetime.now(UTC)

    def work(cursor: duckdb.DuckDBPyConnection, task: FileTask) -> None:
        run_checked(cursor, shape.statement(task, loaded_at), f"_rejects_{task.index}", task.path)

    began = time.perf_counter()
    run_files(con, every, work)
    unchanged_since(stamps)
    read = time.perf_counter() - began
    totals = Counts()
    for obj in objects:
        with transaction(con):
            counts = shape.publish(con, obj, tasks[obj.table])
            account(con, obj, counts, len(tasks[obj.table]))
        totals.add(counts)
    published = time.perf_counter() - began - read
    totals.phases = {"read_files": round(read, 2), "publish": round(published, 2)}
    return totals


def verify_signatures(con: duckdb.DuckDBPyConnection) -> int:
    """Check every landing file a view reads against its recorded signature; returns how many."""
    rows = con.execute("SELECT file_name, size, mtime_ns, ends_hash FROM ops.file_signatures")
    recorded = rows.fetchall()
    changed = [name for name, *sig in recorded if signature(Path(name)) != tuple(sig)]
    if changed:
        raise SystemExit(f"landing files changed since the load: {', '.join(changed)}")
    return len(recorded)


def load_with_reader(con: duckdb.DuckDBPyConnection, objects: list[RawObject]) -> Counts:
    """(a'): today's reader, object by object, each published in a transaction."""
    totals = Counts()
    for obj in objects:
        result = stage_object(con, obj.folder, obj.spec, obj.ctx)
        try:
            with transaction(con):
                publish_object(con, obj.spec, obj.ctx, result)
        finally:
            remove_unread_parts(con, result)
        totals.add(
            Counts(read=result.rows_read, kept=result.rows_kept, bad=result.rows_quarantined)
        )
    return totals


def scan_counts(con: duckdb.DuckDBPyConnection, objects: list[RawObject]) -> Counts:
    """count(*) of every file, one after the other."""
    total = 0
    for obj in objects:
        for path, header in readable_headers(con, obj).items():
            where = literal(str(path))
            scan = (
                f"read_parquet({where})"
                if path.suffix.lower() == ".parquet"
                else f"read_csv({where}, {csv_options(header)})"
            )
            total += scalar(con, f"SELECT count(*) FROM {scan}")
    return Counts(read=total, kept=total)


# --------------------------------------------------------------------------- the model
def model_select(table, url_only: bool) -> str:
    """A model table's full build as one query (an appending table: the union of its reads)."""
    select = table.select or "\nUNION ALL BY NAME\n".join(f"({read})" for read in table.reads)
    if url_only and table.key.path == ["b2b", "experience_event"]:
        select, found = WEBPAGE_URL_IN_MODEL.subn("webpage_url", select)
        if not found:
            raise SystemExit("b2b.experience_event no longer reads the Webpage URL as expected")
    return select


def build_model(con: duckdb.DuckDBPyConnection, config: SourcesConfig, url_only: bool) -> dict:
    """Every b2b.* table from raw.*, each in its own transaction (no checks); with recorded
    file signatures, the files are checked before and after each table's build."""
    from b2b_assets.model.tables import model_tables
    from b2b_assets.publish import table_name
    from b2b_assets.tables import write_keys_as_usual, write_keys_plainly

    views = scalar(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' "
        "AND table_name = 'file_signatures'",
    )
    checked = 0.0
    rows = {}
    for table in model_tables(config):
        name = table_name(table.key)
        with transaction(con):
            if views:
                began = time.perf_counter()
                verify_signatures(con)
                checked += time.perf_counter() - began
            if table.mostly_keys:
                write_keys_plainly(con)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS {model_select(table, url_only)}")
            write_keys_as_usual(con)
            if views:  # a file that changed during the build: the table is not published
                began = time.perf_counter()
                verify_signatures(con)
                checked += time.perf_counter() - began
        rows[".".join(table.key.path)] = scalar(con, f"SELECT count(*) FROM {name}")
    return {"model_rows": rows, "signature_check_seconds": round(checked, 3)}


# --------------------------------------------------------------------------- steps (in-process)
@contextmanager
def connect(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection set up as `DuckDBWarehouse.connect` sets up the warehouse's (memory limit,
    two threads, insertion order not kept, row groups kept as written, UTC, the schemas),
    without importing Dagster: a step's start-up is not the shape's cost."""
    config = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": load_settings().memory_limit,
        "threads": 2,
        "temp_directory": f"{database}.tmp",
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(str(database), config=config)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET max_vacuum_tasks = 0")
        for schema in SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        yield con
    finally:
        con.close()


def run_step(step: str, env: Path, out: Path, keep: Path | None, url_only: bool) -> dict:
    """One measured step in this process: a load shape into `out`, or the model on `out`.
    `keep` is the JSON of the columns to keep (raw table -> fields; see `columns_to_keep`)."""
    config = load_sources(env / "sources.yaml")
    database = out / "warehouse.duckdb"
    if step == "model":
        with connect(database) as con:
            install_macros(con)
            return build_model(con, config, url_only)
    objects = [obj for obj in raw_objects(env, config, uuid.uuid4().hex) if obj.files]
    if keep is not None:
        objects = slim_objects(objects, json.loads(keep.read_text()))
    loaders: dict[str, Callable[[duckdb.DuckDBPyConnection, list[RawObject]], Counts]] = {
        "scan": scan_counts,
        "reader": load_with_reader,
        "typed": lambda con, objs: load(con, objs, TableShape(url_only=False)),
        "typed_url": lambda con, objs: load(con, objs, TableShape(url_only=True)),
        "parquet": lambda con, objs: load(con, objs, ParquetShape(out / "snapshots")),
        "views": lambda con, objs: load(con, objs, ViewShape()),
    }
    with connect(database) as con:
        install_macros(con)
        for ddl in (QUARANTINE_DDL, ACCOUNTING_DDL):
            con.execute(ddl)
        totals = loaders[step](con, objects)
    return {"rows": totals.__dict__}


# --------------------------------------------------------------------------- driver
@dataclass
class Trial:
    """One shape in one round: its load, the model built from it, and sizes on disk."""

    load: Measurement
    model: Measurement | None = None
    floor: float = float("nan")
    disk_after_load: int = 0
    disk_after_model: int = 0
    result: dict = field(default_factory=dict)
    model_result: dict = field(default_factory=dict)


def disk_size(where: Path) -> int:
    """Bytes of the warehouse file, its WAL and the Parquet snapshots in `where`."""
    files = [where / "warehouse.duckdb", where / "warehouse.duckdb.wal"]
    files += list((where / "snapshots").rglob("*.parquet"))
    return sum(path.stat().st_size for path in files if path.is_file())


def step_result(m: Measurement) -> dict:
    """The JSON a step printed last (empty if none)."""
    if m.stdout is None or not m.stdout.exists():
        return {}
    lines = [line for line in m.stdout.read_text().splitlines() if line.startswith(RESULT)]
    return json.loads(lines[-1][len(RESULT) :]) if lines else {}


def self_command(
    step: str, env: Path, out: Path, keep: Path | None = None, url_only: bool = False
) -> list[str]:
    """This script running one step (see `run_step`)."""
    command = [sys.executable, str(Path(__file__).resolve()), str(env), "--step", step]
    command += ["--out", str(out), *(["--url-only"] if url_only else [])]
    return [*command, *(["--columns", str(keep)] if keep else [])]


def measure_ok(name: str, command: list[str], where: Path, **kwargs) -> Measurement:
    """`measure`, stopping the whole run if the command failed."""
    m = measure(name, command, where, **kwargs)
    if not m.ok:
        tail = m.stderr.read_text(errors="replace")[-3000:] if m.stderr else ""
        raise SystemExit(f"{name} failed (exit {m.rc}):\n{tail}")
    return m


def run_option(name: str, env: Path, as_of: str, where: Path, keep: Path) -> Trial:
    """Measure one shape: its load, then (if the model reads it) the model on its output.
    `keep` lists the columns the model reads, for the lean shapes."""
    where.mkdir(parents=True)
    shown = f"raw_options {name}"
    database = where / "warehouse.duckdb"
    if name == "floor":
        command = [sys.executable, str(HERE / "floor.py"), str(env), "--as-of", as_of]
        trial = Trial(measure_ok(name, command, where, shown="python benchmarks/floor.py ENV"))
        trial.result = {"audience": len(trial.load.stdout.read_text().split())}
        return trial
    if name == "copy":
        command = [sys.executable, str(HERE / "raw_copy.py"), str(env), str(database)]
        trial = Trial(measure_ok(name, command, where, shown="python benchmarks/raw_copy.py"))
    elif name == "platform":
        run_env, home, _ = run_environment(env, as_of, where)
        command = materialize_command("group:raw")
        trial = Trial(measure_ok(name, command, where, env=run_env, shown="dagster ... group:raw"))
        steps = run_breakdown(home)["steps"]
        trial.result = {"dagster_step_seconds": round(sum(s.seconds for s in steps), 2)}
    else:
        lean = name in ("typed", "typed_url", "parquet", "views")
        url_only = name == "typed_url"
        command = self_command(name, env, where, keep if lean else None, url_only)
        trial = Trial(measure_ok(name, command, where, shown=shown))
        trial.result = step_result(trial.load)
    trial.disk_after_load = disk_size(where)
    if OPTIONS[name][1]:
        command = self_command("model", env, where, url_only=name == "typed_url")
        trial.model = measure_ok(f"{name}_model", command, where, shown=f"model on {name}")
        trial.model_result = step_result(trial.model)
        trial.model_result["checksums"] = model_checksums(where / "warehouse.duckdb")
        trial.disk_after_model = disk_size(where)
    return trial


def model_checksums(database: Path) -> dict[str, str]:
    """b2b table -> a checksum of its rows (independent of their order), read after the
    measured steps, to check that every shape gives the model the same rows."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'b2b' ORDER BY 1"
        ).fetchall()
        return {
            f"b2b.{name}": str(scalar(con, f'SELECT sum(hash(t)::HUGEINT) FROM b2b."{name}" t'))
            for (name,) in tables
        }


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f}" if n == n else "n/a"


@dataclass
class Row:
    name: str
    load: float
    load_ratio: float
    model: float
    total: float
    total_ratio: float
    peak_load: float
    peak_model: float
    disk_load: float
    disk_model: float
    work: float  # seconds inside the load process (Dagster: its steps), start-up excluded
    model_work: float


def work_seconds(result: dict) -> float:
    """The seconds a step reported for its own work (NaN if none)."""
    value = result.get("seconds", result.get("dagster_step_seconds"))
    return float(value) if value is not None else float("nan")


def summarize(trials: dict[str, list[Trial]]) -> list[Row]:
    rows = []
    for name, runs in trials.items():
        model = [t.model.wall if t.model else float("nan") for t in runs]
        totals = [t.load.wall + (t.model.wall if t.model else 0.0) for t in runs]
        rows.append(
            Row(
                name=name,
                load=median([t.load.wall for t in runs]),
                load_ratio=median([t.load.wall / t.floor for t in runs]),
                model=median(model),
                total=median(totals),
                total_ratio=median(
                    [total / t.floor for total, t in zip(totals, runs, strict=True)]
                ),
                peak_load=max(t.load.peak_mib for t in runs),
                peak_model=max(t.model.peak_mib if t.model else float("nan") for t in runs),
                disk_load=median([float(t.disk_after_load) for t in runs]),
                disk_model=median([float(t.disk_after_model) for t in runs]),
                work=median([work_seconds(t.result) for t in runs]),
                model_work=median([work_seconds(t.model_result) for t in runs]),
            )
        )
    return rows


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if x == x else "-"


def report(rows: list[Row], trials: dict[str, list[Trial]], header: list[str]) -> str:
    """The text report: per-round figures, the summary table, then the same as Markdown."""
    out = [*header, "", "per round (seconds; ratio to that round's floor):"]
    for name, runs in trials.items():
        figures = "; ".join(
            f"load {t.load.wall:.2f} ({t.load.wall / t.floor:.2f}x)"
            + (f", model {t.model.wall:.2f}" if t.model else "")
            for t in runs
        )
        out.append(f"  {name:10} {figures}")
    out += ["", "results and checks (last round):"]
    for name, runs in trials.items():
        last = runs[-1]
        model = {k: v for k, v in last.model_result.items() if k != "checksums"}
        detail = {**last.result, **({"model": model} if model else {})}
        out.append(f"  {name:10} {json.dumps(detail, sort_keys=True)}")
    columns = (
        "| shape | load (s) | load / floor | load work (s) | model (s) | model work (s) | "
        "load + model (s) | (load + model) / floor | peak RSS load (MiB) | peak RSS model (MiB) | "
        "disk after load (MiB) | disk after model (MiB) |"
    )
    out += ["", columns, "|---|" + "---:|" * 11]
    for row in rows:
        out.append(
            f"| {OPTIONS[row.name][0]} | {fmt(row.load)} | {ratio(row.load_ratio, 1.0)} | "
            f"{fmt(row.work)} | {fmt(row.model)} | {fmt(row.model_work)} | {fmt(row.total)} | "
            f"{ratio(row.total_ratio, 1.0)} | {row.peak_load:,.0f} | {fmt(row.peak_model, 0)} | "
            f"{mib(row.disk_load)} | "
            f"{mib(row.disk_model)} |"
        )
    return "\n".join(out)


def model_agreement(trials: dict[str, list[Trial]]) -> str:
    """Whether every shape gave the model the same rows (counts and checksums)."""
    seen = {
        name: json.dumps(
            [trial.model_result.get(k) for trial in runs for k in ("model_rows", "checksums")],
            sort_keys=True,
        )
        for name, runs in trials.items()
        if runs[-1].model_result
    }
    if len(set(seen.values())) <= 1:
        return (
            f"model tables: the same rows (counts, checksums) from {', '.join(seen) or 'no shape'}"
        )
    return "model tables DIFFER: " + "; ".join(f"{n}: {v}" for n, v in seen.items())


def landing_summary(env: Path, config: SourcesConfig) -> str:
    objects = raw_objects(env, config, "")
    files = [path for obj in objects for path in obj.files]
    size = sum(path.stat().st_size for path in files)
    return f"{len(objects)} objects, {len(files)} files, {size / 2**20:,.0f} MiB"


def drive(args: argparse.Namespace) -> int:
    env = args.env.resolve()
    config = load_sources(env / "sources.yaml")
    expected = env / "expected.json"
    as_of = (
        json.loads(expected.read_text()).get("as_of", DEFAULT_AS_OF)
        if expected.is_file()
        else DEFAULT_AS_OF
    )
    names = ["floor", *[n for n in OPTIONS if n != "floor" and (not args.only or n in args.only)]]
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="raw_options-", dir=args.work))
    print(f"environment {env}: {landing_summary(env, config)}; work folder {work}", flush=True)
    objects = raw_objects(env, config, "")
    used = model_columns(objects, config)
    keep = columns_to_keep(objects, used)
    keep_file = work / "columns.json"
    keep_file.write_text(json.dumps(keep, indent=1, sort_keys=True))
    columns = (
        f"catalog columns the model's SQL never reads: {missing_columns(objects, used) or 'none'}; "
        f"left out by the lean shapes (the key and the column ordering duplicates stay): "
        f"{missing_columns(objects, keep) or 'none'}"
    )
    print(columns, flush=True)
    trials: dict[str, list[Trial]] = {name: [] for name in names}
    for round_index in range(args.rounds):
        shift = round_index % len(names)
        order = names[shift:] + names[:shift]
        print(f"round {round_index + 1}/{args.rounds}: {', '.join(order)}", flush=True)
        done: dict[str, Trial] = {}
        for name in order:
            where = work / f"round-{round_index + 1}" / name
            done[name] = run_option(name, env, as_of, where, keep_file)
            if not args.keep:
                shutil.rmtree(where, ignore_errors=True)
        for name, trial in done.items():
            trial.floor = done["floor"].load.wall
            trials[name].append(trial)
    rows = summarize(trials)
    header = [
        f"raw layer shapes on {env} ({landing_summary(env, config)}), {args.rounds} rounds, "
        f"DuckDB memory limit {load_settings().memory_limit}; medians over rounds; "
        "ratios are to the floor of the same round",
        model_agreement(trials),
        columns,
    ]
    text = report(rows, trials, header)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("env", type=Path, help="environment folder (sources.yaml, landing/)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every measurement (3)")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=[n for n in OPTIONS if n != "floor"],
        help="measure only these shapes (the floor always runs)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the run folder is made (default: the temp folder)",
    )
    ap.add_argument("--keep", action="store_true", help="keep every warehouse and log")
    ap.add_argument("--markdown", type=Path, help="also write the report to this file")
    ap.add_argument("--step", help=argparse.SUPPRESS)  # one measured step, run by the driver
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--url-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--columns", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        began = time.perf_counter()
        result = run_step(args.step, args.env.resolve(), args.out, args.columns, args.url_only)
        result["seconds"] = round(time.perf_counter() - began, 3)
        print(RESULT + json.dumps(result, sort_keys=True), flush=True)
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
