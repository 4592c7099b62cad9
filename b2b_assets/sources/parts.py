"""Where the raw layer keeps its rows: typed Parquet parts beside the warehouse, one folder per load.

A load writes each file's typed rows (with those that have problems, marked) to a part of its
own under `<warehouse>.raw/<raw table>/<load id>/`. `raw.<table>` is a view over the parts of the
loads it currently holds that leaves out the rows with problems and the rows a later row with
the same key superseded (`raw."_superseded__<table>"`). The view, the quarantine and the row
accounting are switched in one transaction, so a load that fails leaves the previous view, and
its parts, as they were; folders no view reads any more are removed after the transaction.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

from b2b_assets.sql import literal, quoted, relation_kind, scalar, table_exists

PARTS_SUFFIX = ".raw"
SUPERSEDED_PREFIX = "_superseded__"


def parts_root(con: duckdb.DuckDBPyConnection) -> Path:
    """`<warehouse file>.raw/`; for an in-memory database a temporary folder, recorded in it
    so that every connection to it finds the same one."""
    path = scalar(
        con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    )
    if path:
        return Path(f"{path}{PARTS_SUFFIX}")
    con.execute("CREATE TABLE IF NOT EXISTS ops.memory_parts_root (path VARCHAR)")
    recorded = scalar(con, "SELECT any_value(path) FROM ops.memory_parts_root")
    if recorded:
        return Path(recorded)
    folder = tempfile.mkdtemp(prefix="b2b_raw_parts_")
    con.execute("INSERT INTO ops.memory_parts_root VALUES ($p)", {"p": folder})
    return Path(folder)


def load_folder(root: Path, table: str, load_id: str) -> Path:
    """The folder of one load's parts (`table` is `raw.<name>`)."""
    return root / table.split(".", 1)[1] / load_id


def part_path(folder: Path, index: int) -> Path:
    return folder / f"part-{index:05d}.parquet"


def scan(parts: list[str]) -> str:
    """A relation over the parts."""
    listed = ", ".join(literal(part) for part in parts)
    return f"read_parquet([{listed}])"


def superseded_table(table: str) -> str:
    schema, name = table.split(".", 1)
    return f'{schema}."{SUPERSEDED_PREFIX}{name}"'


def publish_view(con: duckdb.DuckDBPyConnection, table: str, parts: list[str], empty: str) -> None:
    """Make `table` the kept rows of `parts` (`empty`: the select of no rows with the table's
    columns), less its superseded rows if it has any."""
    schema, name = table.split(".", 1)
    if relation_kind(con, schema, name) == "table":  # a warehouse from before the parts
        con.execute(f"DROP TABLE {quoted(table)}")
    if not parts:  # the same columns as over parts: no `_problems`, `_record`
        con.execute(
            f"CREATE OR REPLACE VIEW {quoted(table)} AS "
            f"SELECT * EXCLUDE (_problems, _record) FROM ({empty})"
        )
        return
    rows = f"SELECT p.* EXCLUDE (_problems, _record) FROM {scan(parts)} AS p"
    if table_exists(con, schema, f"{SUPERSEDED_PREFIX}{name}"):
        rows += f" ANTI JOIN {superseded_table(table)} USING (_file_name, _row_number)"
    con.execute(f"CREATE OR REPLACE VIEW {quoted(table)} AS {rows} WHERE p._problems IS NULL")


def remove_unread_loads(root: Path, table: str, kept: set[str]) -> None:
    """Remove the load folders of `table` that hold none of the parts `kept` (what the
    committed view reads): a replaced load, or one that failed before it was published."""
    folder = root / table.split(".", 1)[1]
    if not folder.is_dir():
        return
    needed = {Path(part).parent.name for part in kept}
    for load in folder.iterdir():
        if load.is_dir() and load.name not in needed:
            shutil.rmtree(load, ignore_errors=True)
