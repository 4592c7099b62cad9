"""Salesforce and Marketo tables as Fivetran lands them (`format: fivetran` in `sources.yaml`).

Fivetran writes one table per object in snake_case with its own columns `_fivetran_synced`,
`_fivetran_deleted` (the record was deleted in the source) and, in history mode,
`_fivetran_active` (false for a version that a later one replaced). Column names already match
the contract's ignoring case and `_`; what differs is read here, file by file, before the reading
rules run:

- table names: Salesforce's are the objects' names in snake_case (`opportunity_contact_role`);
  Marketo's are singular (`lead`, `company`, `program`, ...), and its activities come as one table
  per activity type (`activity_visit_webpage`, `activity_send_email`, ...) in place of one
  `activities` object;
- an activity table's `id` is the activity's key, and its type's own columns (`webpage_url`,
  `client_ip_address`, ...) become the activity's `attributes`, named as Marketo names them
  (`Webpage URL`, `Client IP Address`);
- a row with `_fivetran_deleted` true is deleted: `IsDeleted` where the object has it, otherwise
  the row is quarantined as deleted; a row with `_fivetran_active` false is quarantined as an
  earlier version. `_fivetran_synced` is not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from b2b_assets.sources.catalog import MARKETO, ObjectSpec, folded_name, normalize_column_name
from b2b_assets.sql import literal

ACTIVITIES = next(spec for spec in MARKETO if spec.name == "activities")
ACTIVITY_PREFIX = "activity_"
# Marketo tables Fivetran names like activities that hold no activities.
NOT_ACTIVITIES = frozenset({"activity_type"})
# Fivetran's Marketo table names of each object (besides the object's own name and its singular).
MARKETO_TABLES: dict[str, tuple[str, ...]] = {
    "opportunity_roles": ("opportunity_role",),
    "program_members": ("program_membership",),
    "static_lists": ("list", "static_list"),
    "static_list_members": ("list_membership", "static_list_membership"),
}
# The columns every Marketo activity has (the contract's, its campaign and Fivetran's `id`
# key); the others are its type's attributes.
ACTIVITY_FIELDS = frozenset(
    {normalize_column_name(column.name) for column in ACTIVITIES.columns}
    | {"id", normalize_column_name("campaignId")}
)
# Words Marketo writes in capitals in its attribute names ("Webpage URL", "Client IP Address").
ACRONYMS = frozenset({"id", "ip", "url", "utm", "sfdc", "crm", "api", "cta"})
DELETED = normalize_column_name("_fivetran_deleted")
ACTIVE = normalize_column_name("_fivetran_active")
DELETED_REASON = "_fivetran_deleted: deleted in the source"
EARLIER_VERSION_REASON = "_fivetran_active: an earlier version of the record"


def table_names(spec: ObjectSpec, source_type: str) -> frozenset[str]:
    """The table names (folded: lower case, no `_`) Fivetran gives the object."""
    names = {folded_name(spec.name)}
    if source_type == "marketo":
        singular = spec.name[:-3] + "y" if spec.name.endswith("ies") else spec.name[:-1]
        names |= {folded_name(singular), *map(folded_name, MARKETO_TABLES.get(spec.name, ()))}
    return frozenset(names)


def is_activity_table(stem: str) -> bool:
    lowered = stem.lower()
    return lowered.startswith(ACTIVITY_PREFIX) and lowered not in NOT_ACTIVITIES


def table_matcher(spec: ObjectSpec, source_type: str, form: str) -> Callable[[str], bool]:
    """Whether a file or folder name (without extension) holds the object in the given format:
    in the contract's, its name up to case; in Fivetran's, one of its table names."""
    if form != "fivetran":
        wanted = spec.name.lower()
        return lambda stem: stem.lower() == wanted
    if source_type == "marketo" and spec.name == "activities":
        return lambda stem: is_activity_table(stem) or stem.lower() == "activities"
    names = table_names(spec, source_type)
    return lambda stem: folded_name(stem) in names


def attribute_name(column: str) -> str:
    """`webpage_url` -> `Webpage URL`, as Marketo names an activity type's attributes."""
    words = [word for word in column.strip().split("_") if word]
    return " ".join(word.upper() if word in ACRONYMS else word.capitalize() for word in words)


@dataclass(frozen=True)
class ShapedFile:
    """A landed file seen in the contract's shape: the contract's column names and, for each,
    the SQL over the file's own columns (`ref(i)` is its i-th column), plus a problem (SQL of a
    message, or NULL) that quarantines the row."""

    header: list[str]
    exprs: list[str]
    problem: str

    def scan(self, scan: str) -> str:
        """The file's scan with the shaped columns c0, c1, ... and `_shape_problem`."""
        columns = ", ".join(f"{expr} AS c{i}" for i, expr in enumerate(self.exprs))
        listed = f"{columns}, " if columns else ""
        return f"(SELECT {listed}{self.problem} AS _shape_problem, _row_number FROM {scan})"


def _text(ref: str) -> str:
    return f"CAST({ref} AS VARCHAR)"


def shape_fivetran(
    spec: ObjectSpec, source_type: str, header: list[str], ref: Callable[[int], str]
) -> ShapedFile:
    """How a Fivetran table's file reads as the object (see the module's docstring)."""
    folded = [normalize_column_name(name) for name in header]
    position = {name: i for i, name in enumerate(folded)}
    fields = {normalize_column_name(column.name) for column in spec.columns}
    activities = source_type == "marketo" and spec.name == "activities"
    names: list[str] = []
    exprs: list[str] = []
    attributes: list[tuple[str, str]] = []
    for i, name in enumerate(header):
        if name.strip().lower().startswith("_fivetran_"):
            continue
        if activities and folded[i] == "id" and "marketoguid" not in position:
            names.append("marketoGUID")
        elif activities and folded[i] not in ACTIVITY_FIELDS:
            attributes.append((attribute_name(name), _text(ref(i))))
            continue
        else:
            names.append(name)
        exprs.append(_text(ref(i)))
    if attributes and "attributes" not in position:
        entries = ", ".join(f"{{'k': {literal(key)}, 'v': {value}}}" for key, value in attributes)
        names.append("attributes")
        exprs.append(
            "to_json(map_from_entries(list_filter("
            f"[{entries}], lambda e: e.v IS NOT NULL AND e.v <> '')))::VARCHAR"
        )
    deleted = f"b2b_bool({_text(ref(position[DELETED]))})" if DELETED in position else None
    problems = []
    if deleted is not None and "isdeleted" in fields:
        if "isdeleted" in position:
            at = names.index(header[position["isdeleted"]])
            exprs[at] = f"CASE WHEN {deleted} THEN 'true' ELSE {exprs[at]} END"
        else:
            names.append("IsDeleted")
            exprs.append(f"CASE WHEN {deleted} THEN 'true' END")
    elif deleted is not None:
        problems.append(f"CASE WHEN {deleted} THEN '{DELETED_REASON}' END")
    if ACTIVE in position:
        active = f"b2b_bool({_text(ref(position[ACTIVE]))})"
        problems.append(f"CASE WHEN NOT {active} THEN '{EARLIER_VERSION_REASON}' END")
    problem = f"coalesce({', '.join(problems)})" if problems else "CAST(NULL AS VARCHAR)"
    return ShapedFile(names, exprs, problem)
