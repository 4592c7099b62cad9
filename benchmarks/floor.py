#!/usr/bin/env python
"""Physical-floor baseline: the `new_product_upsell` seed audience in one hand-written DuckDB script.

    python benchmarks/floor.py ENV_DIR [--as-of 2026-11-15T00:00:00Z] [--timing] [--threads N]
                                       [--explain] [--sql PATH]

ENV_DIR is an environment folder (sources.yaml, fx_rates.csv, landing/). Prints the sorted normalized
emails of the audience, one per line; with --timing, the wall time goes to stderr (--explain: the
final query's profile to stderr).

This file only binds the raw extracts to a fixed set of views (one per object type, all instances
unioned, column names normalized per the contract: case-insensitive, `_` ignored, all VARCHAR, with
an `inst` column and, for Marketo, `crm` = its synced_crm). The audience logic is `floor.sql`.
Files are read directly with read_csv / read_parquet (folders of parts are globbed).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import duckdb
import yaml

HERE = Path(__file__).resolve().parent

# view -> (source type, object, required?, columns the script uses)
OBJECTS = {
    "sf_account": ("salesforce", "Account", True, ["id", "isdeleted", "lastmodifieddate"]),
    "sf_contact": (
        "salesforce",
        "Contact",
        True,
        ["id", "accountid", "email", "isdeleted", "lastmodifieddate"],
    ),
    "sf_opportunity": (
        "salesforce",
        "Opportunity",
        False,
        [
            "id",
            "accountid",
            "amount",
            "isclosed",
            "iswon",
            "currencyisocode",
            "isdeleted",
            "lastmodifieddate",
        ],
    ),
    "sf_acr": (
        "salesforce",
        "AccountContactRelation",
        False,
        ["id", "accountid", "contactid", "isactive", "lastmodifieddate"],
    ),
    "mk_leads": (
        "marketo",
        "leads",
        True,
        ["id", "email", "externalcompanyid", "sfdcaccountid", "updatedat"],
    ),
    "mk_activities": (
        "marketo",
        "activities",
        False,
        ["leadid", "activitydate", "activitytypeid", "primaryattributevalue", "attributes"],
    ),
    "mk_companies": ("marketo", "companies", False, ["id", "externalcompanyid", "updatedat"]),
    "mk_opportunities": (
        "marketo",
        "opportunities",
        False,
        [
            "marketoguid",
            "externalopportunityid",
            "externalcompanyid",
            "amount",
            "isclosed",
            "iswon",
            "updatedat",
        ],
    ),
    "mdm_xref": (
        "mdm",
        "account_xref",
        True,
        ["goldenid", "sourceinstance", "sourcerecordid", "isactive", "updatedat"],
    ),
}
KEY_COLUMNS = {
    "sf_account": ["id"],
    "sf_contact": ["id"],
    "mk_leads": ["id"],
    "mdm_xref": ["goldenid", "sourceinstance", "sourcerecordid"],
}

# RFC 4180, every value as text, the contract's null tokens; a malformed line (e.g. an extra field)
# is skipped, i.e. quarantined.
CSV_OPTS = (
    "header=true, delim=',', quote='\"', escape='\"', nullstr=['', 'null', 'NULL'], "
    "ignore_errors=true"
)


def norm(name: str) -> str:
    return name.replace("_", "").lower().strip()


def q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def find_parts(folder: Path, obj: str) -> tuple[list[str], list[str]]:
    """(csv globs/files, parquet globs/files) of an object; a folder of parts is globbed."""
    csvs, pqs = [], []
    if (folder / f"{obj}.csv").is_file():
        csvs.append(str(folder / f"{obj}.csv"))
    if (folder / f"{obj}.parquet").is_file():
        pqs.append(str(folder / f"{obj}.parquet"))
    sub = folder / obj
    if sub.is_dir():
        if any(sub.glob("*.csv")):
            csvs.append(str(sub / "*.csv"))
        if any(sub.glob("*.parquet")):
            pqs.append(str(sub / "*.parquet"))
    return csvs, pqs


def csv_header(paths: list[str]) -> tuple[list[str], bool]:
    """All column names of the files, and whether the files disagree (then union by name)."""
    headers = set()
    for pattern in paths:
        files = (
            sorted(Path(pattern).parent.glob(Path(pattern).name))
            if "*" in pattern
            else [Path(pattern)]
        )
        for f in files:
            with open(f, encoding="utf-8-sig", newline="") as h:
                headers.add(tuple(next(csv.reader(h), [])))
    if len(headers) == 1:
        return list(next(iter(headers))), False
    return sorted({n for h in headers for n in h}), True


def csv_reader(files: list[str], names: list[str], differ: bool) -> str:
    lst = "[" + ", ".join(q(f) for f in files) + "]"
    if differ:  # parts with different headers: let DuckDB line them up by name (a second pass)
        return f"read_csv({lst}, {CSV_OPTS}, all_varchar=true, union_by_name=true)"
    # one header: give the columns, which skips the sniffer
    columns = "{" + ", ".join(f"{q(n)}: 'VARCHAR'" for n in names) + "}"
    return f"read_csv({lst}, {CSV_OPTS}, columns={columns}, auto_detect=false)"


def select_for(reader: str, names: set[str], cols: list[str], extra: str) -> str:
    by_norm: dict[str, list[str]] = {}
    for n in sorted(names):
        by_norm.setdefault(norm(n), []).append(n)
    out = []
    for c in cols:
        srcs = by_norm.get(c, [])
        if not srcs:
            out.append(f"NULL::VARCHAR AS {c}")
        elif len(srcs) == 1:
            out.append(f"CAST({ident(srcs[0])} AS VARCHAR) AS {c}")
        else:
            out.append(
                "coalesce(" + ", ".join(f"CAST({ident(s)} AS VARCHAR)" for s in srcs) + f") AS {c}"
            )
    return f"SELECT {extra}, {', '.join(out)} FROM {reader}"


def bind(con: duckdb.DuckDBPyConnection, env: Path) -> None:
    sources = yaml.safe_load((env / "sources.yaml").read_text())["sources"]
    con.execute("CREATE OR REPLACE TEMP TABLE sources (name VARCHAR, type VARCHAR, crm VARCHAR)")
    con.executemany(
        "INSERT INTO sources VALUES (?, ?, ?)",
        [(s["name"], s["type"], s.get("synced_crm")) for s in sources],
    )
    for view, (stype, obj, required, cols) in OBJECTS.items():
        parts = []
        for src in sources:
            if src["type"] != stype:
                continue
            inst = src["name"]
            folder = env / src.get("path", f"landing/{inst}")
            crm = src.get("synced_crm")
            extra = f"{q(inst)}::VARCHAR AS inst, {q(crm) if crm else 'NULL'}::VARCHAR AS crm"
            csvs, pqs = find_parts(folder, obj)
            if required and not (csvs or pqs):
                raise SystemExit(f"missing required object {folder / obj}(.csv|.parquet|/)")
            for kind, files in (("csv", csvs), ("parquet", pqs)):
                if not files:
                    continue
                lst = "[" + ", ".join(q(f) for f in files) + "]"
                if kind == "csv":
                    names, differ = csv_header(files)
                    reader = csv_reader(files, names, differ)
                else:
                    reader = f"read_parquet({lst}, union_by_name=true)"
                    names = {
                        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
                    }
                have = {norm(n) for n in names}
                for k in KEY_COLUMNS.get(view, []) if required else []:
                    if k not in have:
                        raise SystemExit(f"{files[0]}: missing required column {k}")
                parts.append(select_for(reader, names, cols, extra))
        if not parts:
            parts.append(
                "SELECT NULL::VARCHAR AS inst, NULL::VARCHAR AS crm, "
                + ", ".join(f"NULL::VARCHAR AS {c}" for c in cols)
                + " WHERE false"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS " + "\nUNION ALL BY NAME\n".join(parts))
    fx = env / "fx_rates.csv"
    if fx.is_file():
        names, _ = csv_header([str(fx)])
        con.execute(
            "CREATE OR REPLACE TEMP VIEW fx AS "
            + select_for(
                csv_reader([str(fx)], names, False), names, ["currency", "ratetousd"], "NULL AS _"
            )
        )
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW fx AS SELECT 'USD' AS currency, '1' AS ratetousd")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("env", type=Path)
    ap.add_argument("--as-of", default="2026-11-15T00:00:00Z")
    ap.add_argument("--timing", action="store_true", help="print wall time to stderr")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of the final query"
    )
    ap.add_argument("--sql", type=Path, default=HERE / "floor.sql", help="the script to run")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    con.execute(f"SET VARIABLE as_of = CAST({q(args.as_of)} AS TIMESTAMPTZ)")
    bind(con, args.env)
    t1 = time.perf_counter()
    script = args.sql.read_text()
    if args.explain:  # (the script's comments hold no `;`)
        *setup, final = [s for s in script.split(";") if s.strip()]
        for stmt in setup:
            con.execute(stmt)
        for row in con.execute("EXPLAIN ANALYZE " + final).fetchall():
            print(row[1], file=sys.stderr)
        rows = con.execute(final).fetchall()
    else:
        rows = con.execute(script).fetchall()
    t2 = time.perf_counter()
    out = sys.stdout
    for (email,) in rows:
        out.write(email + "\n")
    out.flush()
    if args.timing:
        print(
            f"floor: {len(rows)} emails; bind {t1 - t0:.3f}s, query {t2 - t1:.3f}s, "
            f"total {t2 - t0:.3f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
