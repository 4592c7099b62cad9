"""Readable explanations of why audience members qualified, for metadata and the terminal.

A member's `why` (built by the compiler) maps the path of each relation condition of the
segment (e.g. `all[0].accounts`) to `{"matches": n, "value": aggregate?, "examples": [row, ...]}`.
Conditions on the member's own fields, under `not` or inside `in_segment` leave no entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from b2b_assets.sql import compact_json, markdown_table

OWN_FIELDS = "matched on its own fields (no related-row condition to explain)"
MARKDOWN_SPECIAL = re.compile(r"[\\`*<>\[\]]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Condition:
    """How a member met one relation condition: matching rows, the aggregate, examples."""

    path: str
    matches: int | None
    value: Any = None
    has_value: bool = False
    examples: tuple[Any, ...] = ()


def parse_why(why: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The `why` mapping from its JSON text (or as given); ValueError if it is not an object."""
    parsed = json.loads(why) if isinstance(why, str) else (why or {})
    if not isinstance(parsed, Mapping):
        raise ValueError(f"why is not a JSON object: {why!r}")
    return dict(parsed)


def conditions(why: str | Mapping[str, Any] | None) -> list[Condition]:
    """One entry per explained condition, in the segment's order."""
    return [_condition(path, entry) for path, entry in parse_why(why).items()]


def _condition(path: str, entry: Any) -> Condition:
    if not isinstance(entry, Mapping):
        return Condition(path, None, entry, has_value=True)
    examples = entry.get("examples") or []
    return Condition(
        path,
        entry.get("matches"),
        entry.get("value"),
        has_value="value" in entry,
        examples=tuple(examples) if isinstance(examples, list) else (examples,),
    )


def format_value(value: Any, name: str = "") -> str:
    """A value for reading: numbers with thousands separators (not ids), nested values as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and not _is_identifier(name):
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{int(value):,}"
    if isinstance(value, list | dict):
        return compact_json(value)
    return str(value)


def _is_identifier(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_key"))


def format_example(example: Any) -> str:
    """One related row as `field=value, ...`."""
    if not isinstance(example, Mapping):
        return format_value(example)
    return ", ".join(f"{name}={format_value(value, name)}" for name, value in example.items())


def format_examples(condition: Condition) -> str:
    """A condition's example rows separated by `; `, with how many more rows matched."""
    text = "; ".join(format_example(example) for example in condition.examples)
    unseen = (condition.matches or 0) - len(condition.examples)
    if text and unseen > 0:
        text += f" (+{format_value(unseen)} more)"
    return text


def format_matches(condition: Condition) -> str:
    """`1 match`, `3 matches`, `no match`."""
    count = condition.matches
    if count is None:
        return "—"
    if count == 0:
        return "no match"
    return f"{format_value(count)} match" + ("" if count == 1 else "es")


def explain_line(condition: Condition) -> str:
    """`path: 1 match, value 700,000 — field=value, ...` on one line."""
    text = f"{condition.path}: {format_matches(condition)}"
    if condition.has_value:
        text += f", value {format_value(condition.value)}"
    if condition.examples:
        text += f" — {format_examples(condition)}"
    return text


def explain_text(why: str | Mapping[str, Any] | None, indent: str = "  ") -> str:
    """Each condition of a `why` on its own indented line (the raw text if it is not JSON)."""
    try:
        found = conditions(why)
    except ValueError:
        return f"{indent}{why}"
    if not found:
        return f"{indent}{OWN_FIELDS}"
    return "\n".join(f"{indent}{explain_line(condition)}" for condition in found)


def explain_markdown(why: str | Mapping[str, Any] | None) -> str:
    """A `why` as a Markdown table: condition, matches, value, examples (all whole)."""
    try:
        found = conditions(why)
    except ValueError:
        return markdown_escape(str(why))
    if not found:
        return f"_{OWN_FIELDS}_"
    rows = [
        (
            f"`{condition.path}`",
            "—" if condition.matches is None else format_value(condition.matches),
            markdown_escape(format_value(condition.value)) if condition.has_value else "—",
            markdown_escape(format_examples(condition)) or "—",
        )
        for condition in found
    ]
    return markdown_table(["condition", "matches", "value", "examples"], rows, width=None)


def member_title(member: Mapping[str, Any]) -> str:
    """A person's email or an account's name, with its id."""
    if "account_id" in member:
        label, key = member.get("name"), member["account_id"]
    else:
        label, key = member.get("email"), member.get("person_id")
    if label and key:
        return f"{label} ({key})"
    return str(label or key or "(unnamed member)")


def markdown_escape(text: str) -> str:
    """Text with the characters Markdown would read as markup escaped (`_` inside words kept)."""
    return MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(), text)


def audience_markdown(members: Sequence[Mapping[str, Any]], total: int | None = None) -> str:
    """Each member's title in bold followed by its explanation table."""
    if not members:
        return "_No members._"
    blocks = [
        f"**{markdown_escape(member_title(member))}**\n\n{explain_markdown(member.get('why'))}"
        for member in members
    ]
    more = _more(len(members), total)
    return "\n\n".join([*blocks, f"_{more}_"] if more else blocks)


def audience_text(members: Sequence[Mapping[str, Any]], total: int | None = None) -> str:
    """Each member's title on a line, then its conditions indented, one per line; a blank
    line between members."""
    blocks = [f"{member_title(member)}\n{explain_text(member.get('why'))}" for member in members]
    more = _more(len(members), total)
    return "\n\n".join([*blocks, more] if more else blocks)


def _more(shown: int, total: int | None) -> str:
    if total is None or total <= shown:
        return ""
    return f"… and {total - shown:,} more member(s); the first {shown:,} are shown."
