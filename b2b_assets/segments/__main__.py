"""`python -m b2b_assets.segments check|preview FILE...`: validate segment files without materializing.

`check` parses and compiles each file and prints the SQL with its parameters; `preview` also runs
the query against the current warehouse (read-only) and prints the size and a sample.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import polars as pl

from b2b_assets.segments.compiler import SegmentCompiler
from b2b_assets.segments.explain import audience_text
from b2b_assets.segments.language import SegmentError, load_segment, segment_files
from b2b_assets.settings import load_settings
from b2b_assets.sources.config import SourcesConfigError, load_sources
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets.sql import frame


def _known_segments(files: list[Path]) -> dict:
    """Segments of the environment's folder plus the files named, for `in_segment` references."""
    known = {}
    for file in {*segment_files(load_settings().segments_dir), *files}:
        try:
            segment = load_segment(file)
        except SegmentError:
            continue
        known[segment.name] = segment
    return known


def _matching_on(sources_file: Path) -> bool:
    """Whether `sources.yaml` turns account matching on (the graph reports its errors)."""
    try:
        return load_sources(sources_file).matching is not None
    except SourcesConfigError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m b2b_assets.segments", description=__doc__)
    parser.add_argument("command", choices=("check", "preview"))
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=20, help="rows to show in a preview")
    args = parser.parse_args(argv)
    settings = load_settings()
    known = _known_segments(args.files)
    matching = _matching_on(settings.sources_file)
    failures = 0
    for file in args.files:
        try:
            segment = load_segment(file)
            compiler = SegmentCompiler(
                {**known, segment.name: segment},
                settings.as_of,
                matching,
            )
            compiled = compiler.compile(segment)
        except SegmentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(
            f"-- {file}: segment {segment.name} ({segment.entity}), as of "
            f"{settings.as_of.isoformat()}"
        )
        print(compiled.sql)
        for name, value in compiled.params.items():
            print(f"--   ${name} = {value!r}")
        if args.command == "preview":
            if not settings.warehouse.exists():
                print(f"error: no warehouse at {settings.warehouse}", file=sys.stderr)
                return 1
            with duckdb.connect(str(settings.warehouse), read_only=True) as con:
                con.execute("SET TimeZone = 'UTC'")
                install_macros(con)
                members = frame(con, compiled.sql, compiled.params)
            print(f"-- {members.height} member(s)")
            shown = members.head(args.limit)
            with pl.Config(tbl_rows=args.limit, fmt_str_lengths=100, tbl_width_chars=160):
                print(shown.drop("why", strict=False))
            if "why" in shown.columns and shown.height:
                print("why:")
                print(audience_text(shown.to_dicts(), members.height))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
