"""`python -m benchmarks.synth --scale S --out DIR [--seed N] [--bad-rows F] [--format csv|parquet]
[--as-of 2026-11-15T00:00:00Z]`"""

from __future__ import annotations

import argparse
import sys

from .generate import DEFAULT_AS_OF, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.synth",
        description="Generate a synthetic environment (sources.yaml, fx_rates.csv, segments/, "
        "landing/, expected.json). Scale 1 is about 100k companies, 1M people and 10M activities.",
    )
    parser.add_argument("--scale", type=float, required=True, help="size factor (1 = full size)")
    parser.add_argument("--out", required=True, help="the environment folder to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--bad-rows",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="inject this fraction of bad rows into every object (quarantine tests)",
    )
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="ISO date or timestamp (UTC)")
    parser.add_argument(
        "--part-rows",
        type=int,
        default=1_000_000,
        help="activities per part file (activities/part-NNNN.*)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a previous output")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    generate(
        args.scale,
        args.out,
        seed=args.seed,
        bad_rows=args.bad_rows,
        fmt=args.format,
        as_of=args.as_of,
        part_rows=args.part_rows,
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
