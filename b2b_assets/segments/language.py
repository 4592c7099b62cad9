"""Parse and validate segment files into a small syntax tree, with errors that point at the spot.

A segment file (see docs/segments.md):

    name: new_product_upsell        # optional, defaults to the file name
    entity: person                  # person | account
    description: ...
    destinations: [...]             # optional: where the audience is activated
    where: <condition>

A condition is a mapping:
    all: [<condition>, ...] | any: [<condition>, ...] | not: <condition>
    in_segment: <segment name>
    <field>: <value> | {<operator>: <value>, ...}
    <relation>: {where: <condition>, within: <window>, count|sum|min|max|avg: <test>}
Several keys in one mapping must all hold.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from b2b_assets.segments.schema import RELATIONS, SCOPES, Field, FieldType
from b2b_assets.sources.catalog import ACTIVITY_TYPES

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
TOP_KEYS = ("name", "entity", "description", "destinations", "where")
OPERATORS = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "is_null",
    "is_not_null",
)
OPERATOR_ALIASES = {"at_least": "gte", "at_most": "lte", "equals": "eq"}
AGGREGATES = ("count", "sum", "min", "max", "avg")
WINDOW_UNITS = ("minutes", "hours", "days", "weeks")
CALENDAR_PERIODS = ("last_month", "this_month", "last_week", "this_week", "last_year", "this_year")
RELATION_KEYS = ("where", "within", *AGGREGATES)
ORDERED_TYPES = ("number", "timestamp", "date")


class SegmentError(ValueError):
    """A segment file is wrong; the message names the file and the path inside it."""

    def __init__(self, file: Path | str, path: str, message: str):
        self.file, self.path = str(file), path
        super().__init__(f"{file}: at {path or '(top)'}: {message}")


def _did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return (
        f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(options)})"
    )


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any
    path: str


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]
    path: str


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]
    path: str


@dataclass(frozen=True)
class Not:
    child: Node
    path: str


@dataclass(frozen=True)
class InSegment:
    name: str
    path: str


@dataclass(frozen=True)
class Window:
    """(as_of - amount unit, as_of], or a calendar period relative to as_of."""

    unit: str
    amount: int = 0
    field: str | None = None


@dataclass(frozen=True)
class Measure:
    """How related rows are tested: count, or sum/min/max/avg of a field, against a value."""

    aggregate: str = "count"
    field: str | None = None
    op: str = "gte"
    value: Any = 1


@dataclass(frozen=True)
class Related:
    relation: str
    name: str
    where: Node | None
    window: Window | None
    measure: Measure
    path: str


Node = Compare | AllOf | AnyOf | Not | InSegment | Related


@dataclass(frozen=True)
class Segment:
    name: str
    entity: str
    description: str
    where: Node | None
    file: str
    destinations: tuple[str, ...] = field(default_factory=tuple)


class _Parser:
    def __init__(self, file: Path | str):
        self.file = file

    def fail(self, path: str, message: str) -> SegmentError:
        return SegmentError(self.file, path, message)

    def condition(self, node: Any, scope: str, path: str) -> Node:
        if not isinstance(node, dict) or not node:
            raise self.fail(path, f"a condition must be a non-empty mapping, got {_show(node)}")
        parts = [self.entry(key, value, scope, f"{path}.{key}") for key, value in node.items()]
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts), path)

    def entry(self, key: Any, value: Any, scope: str, path: str) -> Node:
        key = str(key)
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise self.fail(path, f"'{key}' takes a non-empty list of conditions")
            children = tuple(
                self.condition(child, scope, f"{path}[{i}]") for i, child in enumerate(value)
            )
            return AllOf(children, path) if key == "all" else AnyOf(children, path)
        if key == "not":
            return Not(self.condition(value, scope, path), path)
        if key == "in_segment":
            if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
                raise self.fail(path, f"'in_segment' takes a segment name, got {_show(value)}")
            return InSegment(value, path)
        definition = SCOPES[scope]
        if key in definition.relations:
            return self.related(key, definition.relations[key], value, path)
        if key in definition.fields:
            return self.field_test(key, definition.fields[key], value, scope, path)
        options = [*definition.fields, *definition.relations, "all", "any", "not", "in_segment"]
        article = "an" if scope[0] in "aeiou" else "a"
        raise self.fail(
            path,
            f"unknown field or relation {key!r} for {article} {scope}"
            + _did_you_mean(key, options),
        )

    def field_test(self, name: str, spec: Field, value: Any, scope: str, path: str) -> Node:
        tests = value if isinstance(value, dict) else {"eq": value}
        if not tests:
            raise self.fail(path, "needs an operator, e.g. {eq: ...}")
        parts = []
        for op, operand in tests.items():
            op = OPERATOR_ALIASES.get(str(op), str(op))
            if op not in OPERATORS:
                raise self.fail(
                    f"{path}.{op}",
                    f"unknown operator {op!r}" + _did_you_mean(op, (*OPERATORS, *OPERATOR_ALIASES)),
                )
            checked = self.operand(name, spec, op, operand, scope, f"{path}.{op}")
            parts.append(Compare(name, op, checked, f"{path}.{op}"))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts), path)

    def operand(self, name: str, spec: Field, op: str, value: Any, scope: str, path: str) -> Any:
        if op in ("is_null", "is_not_null"):
            if value not in (True, None):
                raise self.fail(path, f"'{op}' takes true (or nothing), got {_show(value)}")
            return None
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise self.fail(path, f"'{op}' takes a non-empty list, got {_show(value)}")
            return tuple(
                self.scalar(name, spec, item, scope, f"{path}[{i}]") for i, item in enumerate(value)
            )
        if op in ("contains", "starts_with"):
            if spec.type != "text" or not isinstance(value, str):
                raise self.fail(
                    path, f"'{op}' compares text: {name} is {spec.type}, value {_show(value)}"
                )
            return value
        if op in ("gt", "gte", "lt", "lte") and spec.type not in ORDERED_TYPES:
            raise self.fail(
                path, f"'{op}' needs a number, date or timestamp; {name} is {spec.type}"
            )
        return self.scalar(name, spec, value, scope, path)

    def scalar(self, name: str, spec: Field, value: Any, scope: str, path: str) -> Any:
        kind: FieldType = spec.type
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(path, f"{name} is a number, got {_show(value)}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(path, f"{name} is true or false, got {_show(value)}")
            return value
        if kind in ("date", "timestamp"):
            return self.moment(name, kind, value, path)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(path, f"{name} is text, got {_show(value)}")
        text = str(value)
        if (
            scope == "event"
            and name == "type"
            and text not in ACTIVITY_TYPES.values()
            and not re.fullmatch(r"activity_\d+", text)
        ):
            raise self.fail(
                path,
                f"unknown event type {text!r}"
                + _did_you_mean(text, tuple(ACTIVITY_TYPES.values())),
            )
        return text

    def moment(self, name: str, kind: str, value: Any, path: str) -> date | datetime:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return moment.astimezone(UTC).date() if kind == "date" else moment
        if isinstance(value, date):
            return (
                value
                if kind == "date"
                else datetime(value.year, value.month, value.day, tzinfo=UTC)
            )
        try:
            text = str(value)
            if kind == "date" and len(text) == 10:
                return date.fromisoformat(text)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise self.fail(path, f"{name} is a {kind}: use ISO-8601, got {_show(value)}") from exc
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).date() if kind == "date" else parsed

    def related(self, name: str, relation_name: str, value: Any, path: str) -> Related:
        relation = RELATIONS[relation_name]
        if value is None or value is True:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(path, f"'{name}' takes a mapping with {', '.join(RELATION_KEYS)}")
        for key in value:
            if key not in RELATION_KEYS:
                raise self.fail(
                    f"{path}.{key}",
                    f"unknown key {key!r} for a relation" + _did_you_mean(str(key), RELATION_KEYS),
                )
        where = (
            self.condition(value["where"], relation.target, f"{path}.where")
            if value.get("where") is not None
            else None
        )
        window = (
            self.window(value["within"], relation, f"{path}.within") if "within" in value else None
        )
        measures = [key for key in AGGREGATES if key in value]
        if len(measures) > 1:
            raise self.fail(path, f"use one of {', '.join(AGGREGATES)}, not {', '.join(measures)}")
        measure = (
            self.measure(measures[0], value[measures[0]], relation.target, f"{path}.{measures[0]}")
            if measures
            else Measure()
        )
        return Related(relation_name, name, where, window, measure, path)

    def window(self, value: Any, relation, path: str) -> Window:
        fields = SCOPES[relation.target].fields
        if isinstance(value, str):
            value = {"calendar": value}
        if not isinstance(value, dict):
            raise self.fail(
                path, "a window is e.g. {days: 30}, {hours: 6} or {calendar: last_month}"
            )
        value = dict(value)
        time_field = value.pop("field", None) or relation.time_field
        if time_field is None:
            raise self.fail(path, "this relation has no time to window")
        if time_field not in fields or fields[time_field].type not in ("date", "timestamp"):
            times = [n for n, f in fields.items() if f.type in ("date", "timestamp")]
            raise self.fail(
                f"{path}.field",
                f"{time_field!r} is not a time of this relation"
                + _did_you_mean(str(time_field), times),
            )
        if len(value) != 1:
            raise self.fail(
                path,
                "a window has exactly one of "
                f"{', '.join((*WINDOW_UNITS, 'calendar'))} (plus an optional field)",
            )
        unit, amount = next(iter(value.items()))
        if unit == "calendar":
            if amount not in CALENDAR_PERIODS:
                raise self.fail(
                    f"{path}.calendar",
                    f"unknown period {amount!r}" + _did_you_mean(str(amount), CALENDAR_PERIODS),
                )
            return Window(str(amount), 0, time_field)
        if unit not in WINDOW_UNITS:
            raise self.fail(
                f"{path}.{unit}",
                f"unknown window unit {unit!r}"
                + _did_you_mean(str(unit), (*WINDOW_UNITS, "calendar")),
            )
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise self.fail(
                f"{path}.{unit}", f"a window length is a positive whole number, got {_show(amount)}"
            )
        return Window(unit, amount, time_field)

    def measure(self, aggregate: str, value: Any, target: str, path: str) -> Measure:
        if not isinstance(value, dict) or not value:
            raise self.fail(
                path,
                f"'{aggregate}' takes e.g. {{gte: 3}}"
                + ("" if aggregate == "count" else " with field: <name>"),
            )
        value = dict(value)
        field_name = value.pop("field", None)
        if aggregate == "count":
            if field_name is not None:
                raise self.fail(f"{path}.field", "count takes no field")
        else:
            fields = SCOPES[target].fields
            allowed = ("number",) if aggregate in ("sum", "avg") else ORDERED_TYPES
            numeric = [n for n, f in fields.items() if f.type in allowed]
            if field_name not in numeric:
                raise self.fail(
                    f"{path}.field",
                    f"{aggregate} needs a {'number' if len(allowed) == 1 else 'number or time'} field"
                    + _did_you_mean(str(field_name), numeric),
                )
        if len(value) != 1:
            raise self.fail(path, f"'{aggregate}' takes exactly one comparison, e.g. {{gte: 3}}")
        op, operand = next(iter(value.items()))
        op = OPERATOR_ALIASES.get(str(op), str(op))
        if op not in ("eq", "ne", "gt", "gte", "lt", "lte"):
            raise self.fail(
                f"{path}.{op}",
                f"unknown comparison {op!r}"
                + _did_you_mean(op, ("eq", "ne", "gt", "gte", "lt", "lte", *OPERATOR_ALIASES)),
            )
        if aggregate == "count" or SCOPES[target].fields[field_name].type == "number":
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                raise self.fail(
                    f"{path}.{op}", f"{aggregate} compares to a number, got {_show(operand)}"
                )
        else:
            spec = SCOPES[target].fields[field_name]
            operand = self.moment(field_name, spec.type, operand, f"{path}.{op}")
        return Measure(aggregate, field_name, op, operand)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_segment(document: Any, file: Path | str, default_name: str | None = None) -> Segment:
    """Validate a loaded YAML document as a segment."""
    parser = _Parser(file)
    if not isinstance(document, dict):
        raise parser.fail("", "a segment file is a mapping with entity and where")
    for key in document:
        if key not in TOP_KEYS:
            raise parser.fail(str(key), f"unknown key {key!r}" + _did_you_mean(str(key), TOP_KEYS))
    name = document.get("name", default_name)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise parser.fail(
            "name",
            f"a segment name is lower-case letters, digits and '_', "
            f"starting with a letter; got {_show(name)}",
        )
    entity = document.get("entity", "person")
    if entity not in ("person", "account"):
        raise parser.fail(
            "entity",
            f"entity is person or account, got {_show(entity)}"
            + _did_you_mean(str(entity), ("person", "account")),
        )
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise parser.fail("description", "a description is text")
    destinations = document.get("destinations") or []
    if not isinstance(destinations, list) or not all(isinstance(d, str) for d in destinations):
        raise parser.fail("destinations", "destinations is a list of destination names")
    if "where" not in document:
        raise parser.fail("where", "a segment needs a where condition")
    where = parser.condition(document["where"], entity, "where")
    return Segment(name, entity, description.strip(), where, str(file), tuple(destinations))


def load_segment(path: Path) -> Segment:
    """Read and validate one segment file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SegmentError(path, "", f"not valid YAML: {exc}") from exc
    except OSError as exc:
        raise SegmentError(path, "", f"cannot be read: {exc}") from exc
    return parse_segment(document, path, default_name=path.stem)


def segment_files(folder: Path) -> list[Path]:
    """The segment files of a folder, in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
