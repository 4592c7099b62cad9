"""Read the files of one object of one source instance for `raw.<instance>__<object>`.

Each file's typed rows are written once, to a Parquet part of the load (see `parts`), rows with
a problem marked with it. Publishing the load (`publishing`) makes the raw table a view over the
parts that leaves out the rows with problems and the superseded ones: every row read ends up
either in that view or in `raw.quarantine` with a reason, and the counts are appended to
`ops.row_accounting`.
"""

from __future__ import annotations

import csv
import hashlib
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from b2b_assets.sources import parts
from b2b_assets.sources.catalog import Column, ObjectSpec, normalize_column_name
from b2b_assets.sources.fivetran import (
    DELETED_REASON,
    EARLIER_VERSION_REASON,
    ShapedFile,
    shape_fivetran,
    table_matcher,
)
from b2b_assets.sources.landing_names import EXTENSIONS, in_temporary_place
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import literal, relation_kind, scalar, table_exists

MAX_FIELD_BYTES = 64 * 1024 * 1024
# DuckDB's reader splits a file into buffers of at least this line length, so a large limit
# leaves one buffer (one thread) per file. A longer line is a rejected row, and the file is
# read again by Python's csv module, which takes fields up to MAX_FIELD_BYTES.
FAST_MAX_LINE_BYTES = 2 * 1024 * 1024
VALUE_PREVIEW = 80
MAX_AMOUNT = 1e15

SQL_TYPES = {
    "string": "VARCHAR",
    "id": "VARCHAR",
    "sfid": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "double": "DOUBLE",
    "int": "BIGINT",
    "json": "VARCHAR",
}

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    source_instance VARCHAR, object VARCHAR, file_name VARCHAR, row_number BIGINT,
    reason VARCHAR, problems VARCHAR[], record VARCHAR, loaded_at TIMESTAMPTZ, run_id VARCHAR
)"""
ACCOUNTING_DDL = """
CREATE TABLE IF NOT EXISTS ops.row_accounting (
    run_id VARCHAR, source_instance VARCHAR, object VARCHAR, loaded_at TIMESTAMPTZ,
    files INTEGER, rows_read BIGINT, rows_kept BIGINT, rows_quarantined BIGINT, reasons JSON
)"""
LOADED_FILES_DDL = """
CREATE TABLE IF NOT EXISTS ops.loaded_files (
    raw_table VARCHAR, file_name VARCHAR, size BIGINT, mtime_ns BIGINT, rows_read BIGINT,
    load_id VARCHAR, signature VARCHAR, loaded_at TIMESTAMPTZ, part VARCHAR
)"""
# A warehouse from before the parts: its loaded files get the column (and are read again).
LOADED_FILES_PART = "ALTER TABLE ops.loaded_files ADD COLUMN IF NOT EXISTS part VARCHAR"
# Bumped whenever the reading rules change, so append-only objects are read again in full.
READING_RULES_VERSION = "2"
# Files of one object read at once, each on its own connection: numbering a CSV file's rows keeps
# its scan on one thread, so two files at a time keep both cores busy.
READ_WORKERS = 2
# The quarantine reason of a row that a later row with the same key replaced.
SUPERSEDED = "duplicate key: a later row wins"
# Rows set aside as the source meant them, not for a problem: no warning, no limit.
NOT_PROBLEMS = (SUPERSEDED, DELETED_REASON, EARLIER_VERSION_REASON)


# A row that does not parse: file, row number, reason, problems, the row's text.
Malformed = tuple[str, int, str, list[str], str]


class ExtractError(ValueError):
    """An extract cannot be read; the message names the file (and column or row)."""


@dataclass
class ReadResult:
    """What one load of an object read, kept and quarantined.

    `mode` is "full" (the table is rebuilt from every file) or "append" (only `files`, new
    files of an append-only object, are read; the rows of earlier files stay). The counts are
    the object's totals after the load, over all its files.
    """

    table: str
    files: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    mode: str = "full"
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)
    load_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    signature: str = ""
    folder: Path | None = None  # where this load writes its parts
    headers: dict[Path, list[str] | None] = field(default_factory=dict)  # the files to read
    part_of: dict[str, str] = field(default_factory=dict)  # file read -> its part
    rows_by_file: Counter[str] = field(default_factory=Counter)  # rows written to parts
    read_seconds: float = 0.0  # reading its files, summed over them (two are read at once)
    empty: str = ""  # the staged columns, no rows
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    malformed: list[Malformed] = field(default_factory=list)
    malformed_references: dict[str, int] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.reasons.values())

    @property
    def staged(self) -> str:
        """The rows this load read, as written to its parts (with `_problems`, `_record`)."""
        return parts.scan(list(self.part_of.values())) if self.part_of else f"({self.empty})"


@dataclass(frozen=True)
class ReadContext:
    """What the reading rules need beyond the file: the source, the known currencies and sources."""

    instance: str
    normalize_sf_ids: bool
    currencies: tuple[str, ...] = ("USD",)
    instances: tuple[str, ...] = ()
    run_id: str = ""
    salesforce_instances: tuple[str, ...] = ()
    source_type: str = ""
    landing_format: str = "contract"  # or "fivetran": the tables as Fivetran lands them


def raw_table_name(instance: str, spec: ObjectSpec) -> str:
    """`raw.<instance>__<object>` in snake case (the reference data has no instance)."""
    return f"{instance}__{spec.table}" if instance else spec.table


def find_object_files(
    folder: Path, spec: ObjectSpec, source_type: str = "", landing_format: str = "contract"
) -> list[Path]:
    """`<object>.csv`, `<object>.parquet`, or the data files of a folder `<object>/` (in
    Fivetran's format, of its tables: see `fivetran.table_matcher`)."""
    if not folder.is_dir():
        return []
    holds = table_matcher(spec, source_type, landing_format)
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        stem, suffix = entry.stem, entry.suffix.lower()
        if entry.is_dir() and holds(entry.name) and not in_temporary_place(Path(entry.name)):
            files.extend(
                part
                for part in sorted(entry.rglob("*"))
                if part.is_file()
                and part.suffix.lower() in EXTENSIONS
                and not in_temporary_place(part.relative_to(entry))
            )
        elif entry.is_file() and holds(stem) and suffix in EXTENSIONS:
            files.append(entry)
    return files


def required_object_files(folder: Path, spec: ObjectSpec, ctx: ReadContext) -> list[Path]:
    """The object's files; none for a required object is an error naming what was expected."""
    files = find_object_files(folder, spec, ctx.source_type, ctx.landing_format)
    if not files and spec.required:
        raise ExtractError(
            f"{folder / (spec.name + '.csv')}: required object {spec.name} of source "
            f"{ctx.instance or 'reference data'!r} is missing (expected {spec.name}.csv, "
            f"{spec.name}.parquet or a folder {spec.name}/ in {folder})"
        )
    return files


def read_csv_header(path: Path) -> list[str] | None:
    """The header row of a CSV file, or None when the file is empty."""
    try:
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            row = next(csv.reader(handle), None)
    except csv.Error as exc:
        raise ExtractError(f"{path}: the header row cannot be parsed: {exc}") from exc
    if row is None or not any(cell.strip() for cell in row):
        return None
    if any("\udc80" <= ch <= "\udcff" for cell in row for ch in cell):
        raise ExtractError(f"{path}: the header row is not UTF-8")
    return row


def map_columns(path: Path, header: list[str], spec: ObjectSpec) -> dict[str, int]:
    """Match the file's columns to the object's: field name -> position in the file."""
    positions: dict[str, int] = {}
    by_normal = {normalize_column_name(column.name): column for column in spec.columns}
    for index, name in enumerate(header):
        column = by_normal.get(normalize_column_name(name))
        if column is None:
            continue
        if column.field in positions:
            first = header[positions[column.field]]
            raise ExtractError(
                f"{path}: columns {first!r} and {name!r} both mean {column.name!r}; keep one"
            )
        positions[column.field] = index
    missing = [
        column.name for column in spec.columns if column.required and column.field not in positions
    ]
    if missing:
        raise ExtractError(
            f"{path}: missing required column(s) {', '.join(missing)} of {spec.name} "
            f"(found: {', '.join(header)})"
        )
    return positions


def shaped_file(
    spec: ObjectSpec, header: list[str], parquet: bool, ctx: ReadContext
) -> ShapedFile | None:
    """The file in the contract's shape when its source lands another format, else None."""
    if ctx.landing_format != "fivetran":
        return None

    def ref(index: int) -> str:
        return '"' + header[index].replace('"', '""') + '"' if parquet else f"c{index}"

    return shape_fivetran(spec, ctx.source_type, header, ref)


def file_columns(path: Path, header: list[str], spec: ObjectSpec, ctx: ReadContext):
    """`map_columns` of the file as its source's format reads it."""
    shaped = shaped_file(spec, header, False, ctx)
    return map_columns(path, shaped.header if shaped else header, spec)


def _clean_steps(column: Column, ctx: ReadContext) -> list[str]:
    """The cleaning of a column, one macro per step: null tokens to NULL, ids trimmed, Salesforce
    ids normalized, defaults applied. Each step reads the previous step's column, so macros are
    never nested into one expression (which would repeat the column in every branch)."""
    steps = ["b2b_null({})"]
    if column.kind in ("id", "sfid"):
        steps.append("b2b_trim({})")
    if column.kind == "sfid" and ctx.normalize_sf_ids:
        steps.append("sf_id18({})")
    if column.default is not None:
        steps.append(f"coalesce({{}}, {literal(column.default)})")
    return steps


def _typed_expr(column: Column, ref: str) -> str:
    kind = column.kind
    if kind == "bool":
        return f"b2b_bool({ref})"
    if kind == "timestamp":
        return f"TRY_CAST({ref} AS TIMESTAMPTZ)"
    if kind == "date":
        return (
            f"coalesce(TRY_CAST({ref} AS DATE), TRY_CAST(TRY_CAST({ref} AS TIMESTAMPTZ) AS DATE))"
        )
    if kind == "double":
        # Amounts beyond 10^15 are not plausible money and would overflow once converted/summed.
        return (
            f"(CASE WHEN abs(TRY_CAST({ref} AS DOUBLE)) < {MAX_AMOUNT} "
            f"THEN TRY_CAST({ref} AS DOUBLE) END)"
        )
    if kind == "int":
        return f"b2b_int({ref})"
    return ref


_KIND_PROBLEM = {
    "bool": "not a boolean",
    "timestamp": "not an ISO-8601 timestamp",
    "date": "not a date",
    "double": "not a number below 10^15",
    "int": "not an integer",
    "json": "not valid JSON",
}


def _is_converted(column: Column) -> bool:
    """Whether the column's typed value is a conversion of its text (JSON stays text)."""
    return column.kind in _KIND_PROBLEM and column.kind != "json"


def _cleaned_ref(column: Column) -> str:
    """The column's cleaned text in the query over the cleaned values (see `_stage_statement`)."""
    return f'c."{column.field}"'


def _typed_ref(column: Column) -> str:
    """The column's typed value in the same query."""
    return f'c."_typed_{column.field}"' if _is_converted(column) else _cleaned_ref(column)


def _problem_exprs(spec: ObjectSpec, shaped: bool = False) -> list[tuple[str, str]]:
    """(condition, message) of each problem a row can have, over the cleaned and typed values
    (and the problem its format's shaping found, see `fivetran`)."""
    problems: list[tuple[str, str]] = []
    if shaped:
        problems.append(("c._shape_problem IS NOT NULL", "c._shape_problem"))
    for column in spec.columns:
        ref = _cleaned_ref(column)
        if column.name in spec.key:
            problems.append((f"{ref} IS NULL", f"'{column.name}: missing key'"))
        if column.name in spec.key and column.kind == "sfid":
            problems.append(
                (
                    f"{ref} IS NOT NULL AND NOT sf_id_shaped({ref})",
                    f"'{column.name}: not a 15- or 18-character Salesforce id: ' "
                    f"|| left({ref}, {VALUE_PREVIEW})",
                )
            )
        if column.kind == "json":
            bad = f"{ref} IS NOT NULL AND NOT json_valid({ref})"
        elif column.kind in _KIND_PROBLEM:
            bad = f"{ref} IS NOT NULL AND {_typed_ref(column)} IS NULL"
        else:
            continue
        message = f"'{column.name}: {_KIND_PROBLEM[column.kind]}: ' || left({ref}, {VALUE_PREVIEW})"
        problems.append((bad, message))
    if "currency" in spec.extra_rules:
        problems.append(
            (
                "c.currency_iso_code IS NOT NULL "
                "AND NOT list_contains($currencies, upper(trim(c.currency_iso_code)))",
                "'CurrencyIsoCode: no rate in fx_rates.csv for ' || left(c.currency_iso_code, 20)",
            )
        )
    if "positive" in spec.extra_rules:
        problems.append(
            (
                "TRY_CAST(c.rate_to_usd AS DOUBLE) <= 0",
                "'rate_to_usd: not a positive rate: ' || c.rate_to_usd",
            )
        )
    if "known_instance" in spec.extra_rules:
        problems.append(
            (
                "c.source_instance IS NOT NULL AND NOT list_contains($instances, c.source_instance)",
                "'source_instance: not a source of sources.yaml: ' || left(c.source_instance, 80)",
            )
        )
    return problems


def staged_rows_select(
    spec: ObjectSpec,
    positions: dict[str, int],
    header: list[str],
    parquet: bool,
    ctx: ReadContext,
    scan: str,
) -> str:
    """The SELECT of one file's rows as its part holds them: the object's typed
    columns, `_source_instance`, `_file_name`, `_row_number`, `_loaded_at`, and for a row with
    problems `_problems` and `_record`. `scan` is a relation with the file's columns (`c0`,
    `c1`, ... for CSV, the file's own names for Parquet) and `_row_number`; `positions` comes
    from `map_columns`. Parameters: `$instance`, `$file_name`, `$loaded_at`, and `$currencies`
    or `$instances` when the object's rules use them, and `$salesforce` where the object's
    Salesforce record ids are put in one form."""
    shaped = shaped_file(spec, header, parquet, ctx)
    if shaped is not None:
        scan, header, parquet = shaped.scan(scan), shaped.header, False
    passed = ("_row_number", "_shape_problem") if shaped else ("_row_number",)
    clean = _select_clean(spec, positions, header, parquet, ctx, scan, passed)
    return _with_record_ids(spec, ctx, _typed_select(spec, clean, shaped is not None))


# What a part holds besides the object's columns, in order (see `_typed_select`).
PART_META_COLUMNS = (
    "_source_instance",
    "_file_name",
    "_row_number",
    "_loaded_at",
    "_problems",
    "_record",
)


def _typed_select(spec: ObjectSpec, clean: str, shaped: bool = False) -> str:
    """The typed values of the cleaned rows, and for a row with problems, the list of them and
    the row as read. Each typed value is computed once and the list is only built for the rows
    that have a problem."""
    typed = ", ".join(
        f'{_typed_expr(column, _cleaned_ref(column))} AS "_typed_{column.field}"'
        for column in spec.columns
        if _is_converted(column)
    )
    problems = _problem_exprs(spec, shaped)
    any_problem = " OR ".join(f"({condition})" for condition, _ in problems) or "FALSE"
    listed = ", ".join(
        f"CASE WHEN {condition} THEN {message} END" for condition, message in problems
    )
    record = ", ".join(f"'{column.field}': c.\"{column.field}\"" for column in spec.columns)
    values = ", ".join(f'{_typed_ref(column)} AS "{column.field}"' for column in spec.columns)
    with_typed = f"(SELECT c.*{', ' + typed if typed else ''} FROM {clean} AS c)"
    return f"""
        SELECT {values}, $instance AS _source_instance, $file_name AS _file_name,
               c._row_number AS _row_number, $loaded_at AS _loaded_at,
               CASE WHEN c._bad THEN list_filter([{listed}], lambda p: p IS NOT NULL) END
                   AS _problems,
               CASE WHEN c._bad THEN to_json({{{record}}})::VARCHAR END AS _record
        FROM (SELECT c.*, coalesce({any_problem}, FALSE) AS _bad FROM {with_typed} AS c) AS c"""


def _file_scan(path: Path, header: list[str] | None, index: int) -> tuple[str, dict[str, object]]:
    """A scan of one file with positional column names c0, c1, ... and a 1-based row number."""
    if path.suffix.lower() == ".parquet":
        return (
            "(SELECT *, file_row_number + 1 AS _row_number FROM read_parquet($path, file_row_number = true))",
            {},
        )
    assert header is not None
    columns = {f"c{i}": "VARCHAR" for i in range(len(header))}
    return _csv_scan_of(index), {"columns": columns}


def _csv_scan_of(index: int) -> str:
    """The fast DuckDB scan of the index-th file, rejected rows kept aside with their reason."""
    return (
        "(SELECT *, row_number() OVER () AS _row_number FROM read_csv($path, auto_detect = false, "
        "header = true, delim = ',', quote = '\"', escape = '\"', columns = $columns, "
        f"strict_mode = true, null_padding = false, max_line_size = {FAST_MAX_LINE_BYTES}, "
        f"store_rejects = true, rejects_table = '_rejects_{index}', "
        f"rejects_scan = '_rejects_scan_{index}'))"
    )


def _parquet_header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(path)}
        ).fetchall()
    except duckdb.Error as exc:
        raise ExtractError(f"{path}: not a readable Parquet file: {exc}") from exc
    return [row[0] for row in rows]


def _select_clean(
    spec: ObjectSpec,
    positions: dict[str, int],
    header: list[str],
    parquet: bool,
    ctx: ReadContext,
    scan: str,
    passed: tuple[str, ...] = ("_row_number",),
) -> str:
    """A query over the scan with the object's columns cleaned, plus the `passed` columns
    (`_row_number`)."""
    current = []
    for column in spec.columns:
        if column.field in positions:
            index = positions[column.field]
            name = header[index].replace('"', '""') if parquet else f"c{index}"
            current.append(f'CAST("{name}" AS VARCHAR)')
        else:
            current.append("CAST(NULL AS VARCHAR)")
    steps = [_clean_steps(column, ctx) for column in spec.columns]
    query = scan
    for depth in range(max(len(s) for s in steps)):
        exprs = []
        for position, column in enumerate(spec.columns):
            step = steps[position][depth] if depth < len(steps[position]) else "{}"
            exprs.append(f'{step.format(current[position])} AS "{column.field}"')
        query = f"(SELECT {', '.join([*exprs, *passed])} FROM {query})"
        current = [f'"{column.field}"' for column in spec.columns]
    return query


def empty_staged(spec: ObjectSpec) -> str:
    """A select of no rows with the columns a load writes to its parts."""
    typed = ", ".join(f'CAST(NULL AS {SQL_TYPES[c.kind]}) AS "{c.field}"' for c in spec.columns)
    return (
        f"SELECT {typed}, CAST(NULL AS VARCHAR) AS _source_instance, "
        "CAST(NULL AS VARCHAR) AS _file_name, CAST(NULL AS BIGINT) AS _row_number, "
        "CAST(NULL AS TIMESTAMPTZ) AS _loaded_at, CAST(NULL AS VARCHAR[]) AS _problems, "
        "CAST(NULL AS VARCHAR) AS _record WHERE FALSE"
    )


def _with_record_ids(spec: ObjectSpec, ctx: ReadContext, select: str) -> str:
    """A cross-reference to a Salesforce record: its 15- and 18-character ids are one record
    (`$salesforce` names the Salesforce instances)."""
    if "sf_record_ids" not in spec.extra_rules or not ctx.salesforce_instances:
        return select
    # The columns are listed (not `* REPLACE`), a form every engine reads.
    listed = ", ".join(
        """CASE WHEN list_contains($salesforce, source_instance) THEN sf_id18(source_record_id)
                ELSE source_record_id END AS source_record_id"""
        if column.field == "source_record_id"
        else f'"{column.field}"'
        for column in spec.columns
    )
    return f"SELECT {listed}, {', '.join(PART_META_COLUMNS)} FROM ({select})"


def _reader_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to the same database, set up like `con` for reading files."""
    cursor = con.cursor()
    cursor.execute("SET TimeZone = 'UTC'")
    install_macros(cursor)
    return cursor


@dataclass(frozen=True)
class PlannedLoad:
    """A load ready to read its files: the object, the reading context and the result so far."""

    spec: ObjectSpec
    ctx: ReadContext
    result: ReadResult


def read_planned(
    con: duckdb.DuckDBPyConnection, loads: list[PlannedLoad]
) -> dict[str, ExtractError]:
    """Write the files of every load to their parts in one pool of `READ_WORKERS` (largest
    first, each on a connection of its own), so both cores stay busy whatever the objects'
    sizes. Returns the error of each load that cannot be published (by raw table), whose parts
    are removed; the other loads are complete. An unexpected error removes every load's parts."""
    try:
        errors = _read_files(con, loads)
    except BaseException:
        for load in loads:
            remove_unread_parts(con, load.result)
        raise
    for load in loads:
        if load.result.table in errors:
            remove_unread_parts(con, load.result)
    return errors


def _read_files(
    con: duckdb.DuckDBPyConnection, loads: list[PlannedLoad]
) -> dict[str, ExtractError]:
    tasks = [
        (load, index, path) for load in loads for index, path in enumerate(load.result.headers)
    ]
    tasks.sort(key=lambda task: -task[0].result.stamps[str(task[2])][0])

    clock = threading.Lock()

    def read(task: tuple[PlannedLoad, int, Path]) -> tuple[int | None, list[Malformed]]:
        load, index, path = task
        started = time.perf_counter()
        reader = _reader_connection(con)
        try:
            header = load.result.headers[path]
            return _load_file(reader, load.spec, path, header, index, load.ctx, load.result)
        finally:
            reader.close()
            with clock:
                load.result.read_seconds += time.perf_counter() - started

    outcomes: dict[tuple[str, int], tuple[int | None, list[Malformed]] | ExtractError] = {}
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        futures = {(t[0].result.table, t[1]): pool.submit(read, t) for t in tasks}
        for name, future in futures.items():
            try:
                outcomes[name] = future.result()
            except ExtractError as exc:
                outcomes[name] = exc
    errors: dict[str, ExtractError] = {}
    for load in loads:
        table = load.result.table
        try:
            _take_files(load, [outcomes[(table, i)] for i in range(len(load.result.headers))])
        except ExtractError as exc:
            errors[table] = exc
    return errors


def _take_files(
    load: PlannedLoad, outcomes: list[tuple[int | None, list[Malformed]] | ExtractError]
) -> None:
    """Record what each file of the load gave; fail on a file that cannot be read, one that
    changed while it was read, or a required object with only empty files."""
    result, spec = load.result, load.spec
    problems = [outcome for outcome in outcomes if isinstance(outcome, ExtractError)]
    if problems:
        raise problems[0]
    for index, (path, outcome) in enumerate(zip(result.headers, outcomes, strict=True)):
        assert not isinstance(outcome, ExtractError)
        rows, malformed = outcome
        if rows is None:
            result.skipped_files.append(str(path))
            continue
        result.files.append(str(path))
        result.part_of[str(path)] = str(parts.part_path(result.folder, index))
        result.rows_by_file[str(path)] = rows
        result.malformed.extend(malformed)
    changed = [name for name in result.part_of if file_stamp(Path(name)) != result.stamps[name]]
    if changed:
        raise ExtractError(
            f"{changed[0]}: changed while it was read ({len(changed)} file(s) of {spec.name}); "
            "the load is not published and runs again on the next change"
        )
    if result.mode == "full" and result.stamps and not result.files and spec.required:
        first = next(iter(result.stamps))
        raise ExtractError(f"{first}: required object {spec.name} has only empty files")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    spec: ObjectSpec,
    path: Path,
    header: list[str] | None,
    index: int,
    ctx: ReadContext,
    result: ReadResult,
) -> tuple[int | None, list[Malformed]]:
    """Write one file's rows to its part; (None, []) for a file without a header. Returns the
    rows written and the rows that did not parse, for the quarantine."""
    parquet = path.suffix.lower() == ".parquet"
    if header is None:
        return None, []
    assert result.folder is not None
    positions = file_columns(path, header, spec, ctx)
    scan, params = _file_scan(path, header, index)
    select = staged_rows_select(spec, positions, header, parquet, ctx, scan)
    part = parts.part_path(result.folder, index)
    statement = f"COPY ({select}) TO {literal(str(part))} (FORMAT parquet)"
    values: dict[str, object] = {
        "file_name": str(path),
        "instance": ctx.instance,
        "loaded_at": result.loaded_at,
    }
    for name, value in (
        ("currencies", ctx.currencies),
        ("instances", ctx.instances),
        ("salesforce", ctx.salesforce_instances),
    ):
        if f"${name}" in statement:
            values[name] = list(value)
    if parquet:
        try:
            return int(scalar(con, statement, {**values, "path": str(path)})), []
        except duckdb.Error as exc:
            raise ExtractError(f"{path}: cannot be read: {exc}") from exc
    from_python = statement.replace(scan, "(SELECT * FROM _python_rows)")
    for stale in (f"_rejects_{index}", f"_rejects_scan_{index}"):
        con.execute(f"DROP TABLE IF EXISTS {stale}")
    try:
        rows = int(scalar(con, statement, {**values, "path": str(path), **params}))
    except duckdb.Error:
        # DuckDB's fast reader gave up on the whole file (e.g. mixed line endings): read it
        # with Python's csv module instead, row by row, quarantining what does not parse.
        return _load_with_python(con, from_python, values, path, header)
    if scalar(con, f"SELECT count(*) FROM _rejects_{index}"):
        # Some rows did not parse: read the file again with the careful reader, which also
        # takes rows the fast one cannot (e.g. a line ending unlike the file's others).
        return _load_with_python(con, from_python, values, path, header)
    return rows, []


def _load_with_python(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    params: dict[str, object],
    path: Path,
    header: list[str],
) -> tuple[int, list[Malformed]]:
    """Write the file's rows read by Python's csv module (`statement` reads `_python_rows`);
    returns the rows written and the rows that do not parse."""
    table, malformed = read_rows_with_python(path, header)
    con.register("_python_rows", table)
    try:
        rows = int(scalar(con, statement, params))
    finally:
        con.unregister("_python_rows")
    return rows, malformed


def read_rows_with_python(path: Path, header: list[str]):
    """A CSV file's records read by Python's csv module, row by row: the rows that parse as
    an Arrow table of text columns c0.. and `_row_number`, and the rows that do not."""
    width = len(header)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    numbers: list[int] = []
    malformed: list[Malformed] = []
    csv.field_size_limit(MAX_FIELD_BYTES)
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, strict=False)
        next(reader, None)
        number = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                number += 1
                malformed.append((str(path), number, "malformed row: unreadable", [str(exc)], ""))
                continue
            number += 1
            text = ",".join(row)[:2000].encode("utf-8", "replace").decode("utf-8")
            if any("\udc80" <= ch <= "\udcff" for cell in row for ch in cell):
                problem = ("malformed row: invalid encoding", "a value is not UTF-8")
            elif len(row) > width:
                problem = ("malformed row: too many columns", f"{len(row)} values, {width} columns")
            elif len(row) < width:
                problem = ("malformed row: missing columns", f"{len(row)} values, {width} columns")
            else:
                for position, cell in enumerate(row):
                    columns[position].append(cell if cell != "" else None)
                numbers.append(number)
                continue
            malformed.append((str(path), number, problem[0], [problem[1]], text))
    return pa_table({f"c{i}": columns[i] for i in range(width)}, numbers), malformed


def pa_table(columns: dict[str, list[str | None]], numbers: list[int]):
    import pyarrow as pa

    arrays = {name: pa.array(values, type=pa.string()) for name, values in columns.items()}
    arrays["_row_number"] = pa.array(numbers, type=pa.int64())
    return pa.table(arrays)


def reading_signature(spec: ObjectSpec, ctx: ReadContext) -> str:
    """What the rows of a file depend on besides its bytes: the object's columns and rules and
    the reading context. A change means every file is read again."""
    rules = spec.extra_rules
    parts = [
        READING_RULES_VERSION,
        repr(spec.columns),
        repr(spec.key),
        repr(rules),
        repr(ctx.normalize_sf_ids),
        ctx.landing_format,
        repr(ctx.currencies if "currency" in rules else ()),
        repr(ctx.instances if "known_instance" in rules else ()),
        repr(ctx.salesforce_instances if "sf_record_ids" in rules else ()),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def file_stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def plan_load(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: ObjectSpec,
    stamps: dict[str, tuple[int, int]],
    signature: str,
) -> tuple[str, list[str]]:
    """("append", new files) when an append-only object only gained files since its last load
    (every loaded file still there, same size and modification time, same reading rules, its
    part still where it was written); otherwise ("full", every file)."""
    everything = ("full", list(stamps))
    if not spec.append_only or relation_kind(con, *table.split(".", 1)) != "view":
        return everything
    if not table_exists(con, "ops", "loaded_files"):
        return everything
    con.execute(LOADED_FILES_PART)
    loaded = con.execute(
        """SELECT file_name, size, mtime_ns, signature, part FROM ops.loaded_files
           WHERE raw_table = $t""",
        {"t": table},
    ).fetchall()
    if not loaded:
        return everything
    for name, size, mtime_ns, old_signature, part in loaded:
        if old_signature != signature or stamps.get(name) != (size, mtime_ns):
            return everything
        if part is not None and not Path(part).is_file():  # a warehouse moved without them
            return everything
    known = {row[0] for row in loaded}
    return "append", [name for name in stamps if name not in known]


def read_headers(
    con: duckdb.DuckDBPyConnection, spec: ObjectSpec, paths: list[Path], ctx: ReadContext
) -> dict[Path, list[str] | None]:
    """Each file's header (None for an empty file), once every header names the object's
    required columns once; otherwise one ExtractError lists each file that does not and what
    it lacks."""
    headers: dict[Path, list[str] | None] = {}
    problems = []
    for path in paths:
        try:
            header = (
                _parquet_header(con, path)
                if path.suffix.lower() == ".parquet"
                else read_csv_header(path)
            )
            if header is not None:
                file_columns(path, header, spec, ctx)
            headers[path] = header
        except ExtractError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise ExtractError(problems[0])
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ExtractError(
            f"{len(problems)} files of {spec.name} of source {ctx.instance or 'reference data'!r} "
            f"cannot be read:\n{listed}"
        )
    return headers


def plan_object(
    con: duckdb.DuckDBPyConnection, folder: Path, spec: ObjectSpec, ctx: ReadContext
) -> ReadResult:
    """What a load of the object reads: its files, their stamps, full or append (an
    append-only object whose loaded files are unchanged reads only its new files), their
    headers, and the folder of its parts."""
    table = f"raw.{raw_table_name(ctx.instance, spec)}"
    result = ReadResult(table=table, empty=empty_staged(spec))
    files = required_object_files(folder, spec, ctx)
    result.stamps = {str(path): file_stamp(path) for path in files}
    result.signature = reading_signature(spec, ctx)
    result.mode, to_read = plan_load(con, result.table, spec, result.stamps, result.signature)
    result.headers = read_headers(con, spec, [Path(name) for name in to_read], ctx)
    result.folder = parts.load_folder(parts.parts_root(con), table, result.load_id)
    result.folder.mkdir(parents=True, exist_ok=True)
    return result


def stage_object(
    con: duckdb.DuckDBPyConnection, folder: Path, spec: ObjectSpec, ctx: ReadContext
) -> ReadResult:
    """Plan the object's load and write its files to the load's parts (outside any
    transaction, so a file DuckDB's fast reader rejects can be read again by the careful one)."""
    result = plan_object(con, folder, spec, ctx)
    error = read_planned(con, [PlannedLoad(spec, ctx, result)]).get(result.table)
    if error is not None:
        raise error
    return result


def remove_unread_parts(con: duckdb.DuckDBPyConnection, result: ReadResult) -> None:
    """After the load's transaction (committed or not): remove the parts no view reads, i.e.
    a replaced load's, or this load's if it was not published."""
    if result.folder is None:
        return
    kept = set(loaded_parts(con, result.table))
    parts.remove_unread_loads(result.folder.parent.parent, result.table, kept)


def loaded_parts(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The parts of the files `table` holds (`ops.loaded_files`, as committed or in the
    caller's transaction), in the order of their files."""
    if not table_exists(con, "ops", "loaded_files"):
        return []
    con.execute(LOADED_FILES_PART)
    rows = con.execute(
        """SELECT part FROM ops.loaded_files WHERE raw_table = $t AND part IS NOT NULL
           ORDER BY file_name""",
        {"t": table},
    ).fetchall()
    return [row[0] for row in rows]
