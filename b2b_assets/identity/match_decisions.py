"""What becomes of each scored pair of account groups: merged, or listed for review.

Pairs are decided strongest first, so a group joins the group it resembles most. A user's
override (`account_match_overrides.csv`) always wins: `merge` joins a pair whatever its score,
`split` keeps it apart. Otherwise a pair at or above the auto-merge threshold is merged unless
that would put two different active MDM golden ids in one unified account (directly or through
groups merged before): such a pair, and every pair between the two thresholds, is listed for
review. Merging is transitive, like the MDM and CRM-sync links.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2b_assets.identity.match_model import agreeing_fields

OVERRIDES_FILE = "account_match_overrides.csv"
OVERRIDE_DECISIONS = ("merge", "split")


class OverridesError(ValueError):
    """The overrides file cannot be read; the message names the file, row and column."""


@dataclass(frozen=True)
class Override:
    left_key: str
    right_key: str
    decision: str  # merge | split
    row: int

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.left_key, self.right_key))


def read_overrides(path: Path) -> list[Override]:
    """`left_key,right_key,decision` rows (`merge` or `split`); none when the file is absent."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [c for c in ("left_key", "right_key", "decision") if c not in header]
        if missing:
            raise OverridesError(f"{path}: missing column(s) {', '.join(missing)}")
        overrides = []
        for number, row in enumerate(reader, start=2):
            values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            for column in ("left_key", "right_key"):
                if "@" not in values[column]:
                    raise OverridesError(
                        f"{path}: row {number}, column {column}: {values[column]!r} is not a "
                        "source key (`<id>@<source>`)"
                    )
            decision = values["decision"].lower()
            if decision not in OVERRIDE_DECISIONS:
                raise OverridesError(
                    f"{path}: row {number}, column decision: {values['decision']!r} is not "
                    "merge or split"
                )
            overrides.append(Override(values["left_key"], values["right_key"], decision, number))
    return overrides


@dataclass(frozen=True)
class Candidate:
    """A group of account records already linked: its representative key and golden ids."""

    key: str
    golden_ids: frozenset[str]


@dataclass
class _Groups:
    """Union-find over candidates, each set carrying its golden ids."""

    parent: dict[str, str] = field(default_factory=dict)
    golden: dict[str, set[str]] = field(default_factory=dict)

    def add(self, candidate: Candidate) -> None:
        self.parent[candidate.key] = candidate.key
        self.golden[candidate.key] = set(candidate.golden_ids)

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def conflict(self, a: str, b: str) -> set[str]:
        """The golden ids that would meet if a and b were one account (more than one: conflict)."""
        ga, gb = self.golden[self.find(a)], self.golden[self.find(b)]
        both = ga | gb
        return both if ga and gb and ga != gb and len(both) > 1 else set()

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.golden[ra] |= self.golden.pop(rb)


def _split_between(groups: _Groups, a: str, b: str, splits: Sequence[Override]) -> Override | None:
    """A split override whose two sides would end up in one account if a and b were merged."""
    ra, rb = groups.find(a), groups.find(b)
    for split in splits:
        if split.left_key not in groups.parent or split.right_key not in groups.parent:
            continue
        sides = {groups.find(split.left_key), groups.find(split.right_key)}
        if sides == {ra, rb}:
            return split
    return None


def decide(
    candidates: Iterable[Candidate],
    pairs: Sequence[Mapping[str, Any]],
    overrides: Sequence[Override],
    auto_merge: float,
    review: float,
    member_of: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One row per scored pair (and per override of a pair not scored): `left_key`,
    `right_key`, `match_probability`, `decision` (merged, review), `evidence`, `rule`
    ('probabilistic' or 'override'), `agreeing` and what blocked a merge (`blocked_by`).

    `member_of` maps every source key to its candidate's key, so overrides may name any
    record of a group."""
    groups = _Groups()
    for candidate in candidates:
        groups.add(candidate)
    by_pair: dict[frozenset[str], Override] = {}
    for override in overrides:
        left, right = member_of.get(override.left_key), member_of.get(override.right_key)
        if left is not None and right is not None and left != right:
            by_pair[frozenset((left, right))] = Override(
                left, right, override.decision, override.row
            )
    splits = [o for o in by_pair.values() if o.decision == "split"]
    scored = {frozenset((p["unique_id_l"], p["unique_id_r"])): p for p in pairs}
    rows: list[dict[str, Any]] = []
    # Merge overrides first (they always win), then the scored pairs, strongest first.
    for override in sorted(by_pair.values(), key=lambda o: o.row):
        if override.decision != "merge":
            continue
        pair = scored.pop(override.pair, None)
        groups.union(override.left_key, override.right_key)
        rows.append(_row(override.left_key, override.right_key, pair, "merged", "override",
                         f"override row {override.row}: merge", None))  # fmt: skip
    ordered = sorted(
        scored.values(), key=lambda p: (-p["match_probability"], p["unique_id_l"], p["unique_id_r"])
    )
    for pair in ordered:
        left, right = sorted((pair["unique_id_l"], pair["unique_id_r"]))
        probability = pair["match_probability"]
        if probability < review and frozenset((left, right)) not in by_pair:
            continue
        override = by_pair.get(frozenset((left, right)))
        if override is not None and override.decision == "split":
            rows.append(_row(left, right, pair, "review", "override",
                             f"override row {override.row}: split", "override"))  # fmt: skip
            continue
        if probability < auto_merge:
            rows.append(_row(left, right, pair, "review", "probabilistic", "", None))
            continue
        golden = groups.conflict(left, right)
        if golden:
            note = "MDM golden ids " + ", ".join(sorted(golden)) + " differ: never merged"
            rows.append(_row(left, right, pair, "review", "probabilistic", note, "mdm_conflict"))
            continue
        split = _split_between(groups, left, right, splits)
        if split is not None:
            note = f"override row {split.row} keeps {split.left_key} and {split.right_key} apart"
            rows.append(_row(left, right, pair, "review", "probabilistic", note, "override"))
            continue
        groups.union(left, right)
        rows.append(_row(left, right, pair, "merged", "probabilistic", "", None))
    return rows


def _row(
    left: str,
    right: str,
    pair: Mapping[str, Any] | None,
    decision: str,
    rule: str,
    note: str,
    blocked_by: str | None,
) -> dict[str, Any]:
    agreeing = agreeing_fields(dict(pair)) if pair else []
    probability = pair["match_probability"] if pair else None
    parts = []
    if probability is not None:
        parts.append(f"match probability {probability:.4f}")
    if agreeing:
        parts.append("agreeing: " + ", ".join(agreeing))
    if note:
        parts.append(note)
    left, right = sorted((left, right))
    return {
        "left_key": left,
        "right_key": right,
        "match_probability": probability,
        "match_weight": pair.get("match_weight") if pair else None,
        "decision": decision,
        "rule": rule,
        "agreeing": agreeing,
        "blocked_by": blocked_by,
        "evidence": "; ".join(parts) or rule,
    }
