"""The field tables of docs/segments.md, generated from the segment language's scopes.

    python -m b2b_assets.segments.reference [--check] [DOCS]

Each table sits between `<!-- fields: SCOPE -->` and `<!-- /fields -->`; the rest of the page
is left as written. `--check` changes nothing and fails if a table is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from b2b_assets.segments.schema import SCOPES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "segments.md"
BLOCK = re.compile(r"(<!-- fields: (\w+) -->\n).*?(<!-- /fields -->)", re.DOTALL)


def field_table(scope: str) -> str:
    """A markdown table of a scope's fields: name, type, meaning."""
    rows = ["| field | type | meaning |", "|---|---|---|"]
    for name, spec in SCOPES[scope].fields.items():
        rows.append(f"| `{name}` | {spec.type} | {spec.description} |")
    return "\n".join(rows) + "\n"


def regenerate(text: str) -> str:
    """The page with every field table replaced by its generated form."""

    def table(match: re.Match[str]) -> str:
        scope = match.group(2)
        if scope not in SCOPES:
            raise KeyError(f"docs name an unknown scope {scope!r}; known: {sorted(SCOPES)}")
        return f"{match.group(1)}{field_table(scope)}{match.group(3)}"

    return BLOCK.sub(table, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="?", type=Path, default=DOCS)
    parser.add_argument("--check", action="store_true", help="fail if a table is out of date")
    args = parser.parse_args(argv)
    text = args.docs.read_text()
    generated = regenerate(text)
    if generated == text:
        print(f"{args.docs}: field tables up to date")
        return 0
    if args.check:
        print(f"{args.docs}: field tables out of date; run python -m {__spec__.name}")
        return 1
    args.docs.write_text(generated)
    print(f"{args.docs}: field tables regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
