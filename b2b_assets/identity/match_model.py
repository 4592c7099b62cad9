"""The probabilistic model of account matching, run by Splink (Fellegi-Sunter).

Candidates (see `match_features`) are compared on their normalized name (exact, a typo apart,
the same first word), website domain, the email domains of their people (sharing one) and
country. Only pairs that share a domain, an email domain, a normalized name or its first two
words are scored, so the cost grows with the candidate pairs, not with the square of the
accounts (a name's first word alone would pair most companies of a common word).

Every level starts from a prior (`PRIORS`); with at least `MIN_CANDIDATES_TO_TRAIN`
candidates, the u probabilities are estimated from random pairs (those of exact agreement on
name, domain and country counted over all pairs instead, since two random candidates rarely
share a domain), the m probabilities by expectation-maximisation within pairs blocked on the
domain and on the name (then kept within `M_BOUNDS`), and the share of matching pairs from
deterministic rules. A step that cannot be estimated keeps its prior and says so. The same model runs on DuckDB and on Spark (comparisons of functions both have).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A comparison's levels, most similar first: (label, m prior, u prior).
PRIORS: dict[str, list[tuple[str, float, float]]] = {
    "name": [
        ("exact", 0.70, 0.002),
        ("typo (edit distance 2 or less)", 0.15, 0.001),
        ("same first word", 0.10, 0.02),
        ("different", 0.05, 0.977),
    ],
    "domain": [("exact", 0.85, 0.002), ("different", 0.15, 0.998)],
    "email_domains": [("share one", 0.80, 0.003), ("none shared", 0.20, 0.997)],
    "country": [("exact", 0.97, 0.35), ("different", 0.03, 0.65)],
}
PRIOR_MATCH_SHARE = 0.0005  # of all pairs of candidates, before any evidence
MIN_CANDIDATES_TO_TRAIN = 1000
RANDOM_PAIRS = 1_000_000
SEED = 20261207
# The comparisons whose first level is exact agreement on one column: their u is counted over
# every pair of candidates (a random sample rarely holds a pair of one domain).
EXACT_LEVELS = {"name": "name_norm", "domain": "domain", "country": "country"}
# Trained m probabilities are kept within these bounds: one field's disagreement must never
# outweigh all the others' agreement.
M_BOUNDS = (0.001, 0.999)
# Fields whose agreement is evidence, by the level that agrees (the gamma values above "else").
AGREEING = {"name": (3, 2, 1), "domain": (1,), "email_domains": (1,), "country": (1,)}
NAME_AGREEMENT = {3: "name", 2: "name (typo)", 1: "name (same first word)"}


@dataclass
class ScoredPairs:
    """The pairs scored at or above the lowest probability asked for, and the model."""

    pairs: list[dict[str, Any]]
    parameters: list[dict[str, Any]]
    trained: dict[str, str] = field(default_factory=dict)  # step -> "estimated" | why not
    model: dict[str, Any] = field(default_factory=dict)  # Splink's settings with the values


def _comparisons() -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def configured(level, label: str, m: float, u: float):
        return level.configure(m_probability=m, u_probability=u, label_for_charts=label)

    name = PRIORS["name"]
    comparisons = [
        cl.CustomComparison(
            output_column_name="name",
            comparison_description="normalized company name",
            comparison_levels=[
                cll.NullLevel("name_norm"),
                configured(cll.ExactMatchLevel("name_norm"), *name[0]),
                configured(cll.LevenshteinLevel("name_norm", 2), *name[1]),
                configured(cll.ExactMatchLevel("name_token"), *name[2]),
                configured(cll.ElseLevel(), *name[3]),
            ],
        )
    ]
    for column in ("domain", "country"):
        exact, other = PRIORS[column]
        comparisons.append(
            cl.CustomComparison(
                output_column_name=column,
                comparison_levels=[
                    cll.NullLevel(column),
                    configured(cll.ExactMatchLevel(column), *exact),
                    configured(cll.ElseLevel(), *other),
                ],
            )
        )
    shared, none = PRIORS["email_domains"]
    comparisons.append(
        cl.CustomComparison(
            output_column_name="email_domains",
            comparison_levels=[
                cll.NullLevel("email_domains"),
                configured(cll.ArrayIntersectLevel("email_domains", 1), *shared),
                configured(cll.ElseLevel(), *none),
            ],
        )
    )
    return comparisons


def settings():
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=PRIOR_MATCH_SHARE,
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[
            block_on("domain"),
            block_on("name_norm"),
            block_on("name_prefix"),  # the first two words: a word added or changed after them
            block_on("email_domains", arrays_to_explode=["email_domains"]),
        ],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def exact_shares(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """For each exact-match comparison, the share of all pairs of candidates (both values
    present) that agree: its u, counted rather than sampled."""
    counts = {name: Counter() for name in EXACT_LEVELS}
    for row in rows:
        for name, column in EXACT_LEVELS.items():
            if row.get(column) is not None:
                counts[name][row[column]] += 1
    shares = {}
    for name, counter in counts.items():
        present = sum(counter.values())
        pairs = present * (present - 1) / 2
        agreeing = sum(n * (n - 1) / 2 for n in counter.values())
        if pairs and agreeing:
            shares[name] = agreeing / pairs
    return shares


def _step(trained: dict[str, str], name: str, run) -> None:
    try:
        run()
        trained[name] = "estimated"
    except Exception as exc:  # noqa: BLE001 - Splink raises many kinds; the prior stays
        trained[name] = f"prior: {type(exc).__name__}: {str(exc)[:200]}"


def _with_exact_u(model: dict[str, Any], shares: Mapping[str, float]) -> dict[str, Any]:
    for comparison in model["comparisons"]:
        share = shares.get(comparison.get("output_column_name"))
        levels = [
            level for level in comparison["comparison_levels"] if not level.get("is_null_level")
        ]
        if share is not None and levels:
            levels[0]["u_probability"] = share
    return model


def _with_bounded_m(model: dict[str, Any]) -> dict[str, Any]:
    low, high = M_BOUNDS
    for comparison in model["comparisons"]:
        levels = [
            level for level in comparison["comparison_levels"] if not level.get("is_null_level")
        ]
        bounded = [min(max(level.get("m_probability") or low, low), high) for level in levels]
        total = sum(bounded)
        for level, m in zip(levels, bounded, strict=True):
            level["m_probability"] = m / total
    return model


def _trained_linker(db_api, table, candidates: int, shares: Mapping[str, float]):
    """A linker with the model estimated from the data (see the module docstring), and what
    each step did."""
    from splink import Linker, block_on

    linker = Linker(db_api.register(table), settings(), log_level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)
    if candidates < MIN_CANDIDATES_TO_TRAIN:
        reason = f"prior: {candidates} candidates, fewer than {MIN_CANDIDATES_TO_TRAIN}"
        return linker, {"match share": reason, "u": reason, "m": reason}
    trained: dict[str, str] = {}
    _step(
        trained,
        "match share",
        lambda: linker.training.estimate_probability_two_random_records_match(
            [block_on("domain", "name_norm")], recall=0.7
        ),
    )
    _step(
        trained,
        "u",
        lambda: linker.training.estimate_u_using_random_sampling(max_pairs=RANDOM_PAIRS, seed=SEED),
    )
    model = _with_exact_u(linker.misc.save_model_to_json(), shares)
    trained["u of exact levels"] = "counted over all pairs: " + ", ".join(sorted(shares))
    linker = Linker(db_api.register(table), model, log_level=logging.WARNING)
    for label, rule in (("domain", "domain"), ("name", "name_norm")):
        _step(
            trained,
            f"m (pairs of one {label})",
            lambda rule=rule: linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(rule), record_sample_proportion=1.0
            ),
        )
    model = _with_bounded_m(linker.misc.save_model_to_json())
    return Linker(db_api.register(table), model, log_level=logging.WARNING), trained


def parameters(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Each comparison level's m, u and match weight (log2 m/u), from Splink's model."""
    rows = []
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            rows.append(
                {
                    "comparison": comparison.get("output_column_name"),
                    "level": level.get("label_for_charts") or level.get("sql_condition"),
                    "m": m,
                    "u": u,
                    "match_weight": None if weight is None else round(weight, 3),
                }
            )
    return rows


def agreeing_fields(pair: dict[str, Any]) -> list[str]:
    """The fields on which a scored pair agrees, by their comparison levels."""
    fields = []
    for name, levels in AGREEING.items():
        gamma = pair.get(f"gamma_{name}")
        if gamma is not None and gamma in levels:
            fields.append(NAME_AGREEMENT[gamma] if name == "name" else name)
    return fields


def score(
    db_api, table, candidates: int, lowest: float, shares: Mapping[str, float]
) -> ScoredPairs:
    """Score the candidate pairs of `table` (registered with `db_api`, a Splink backend) and
    keep those at or above `lowest`; `shares` are the counted u of the exact levels."""
    linker, trained = _trained_linker(db_api, table, candidates, shares)
    predictions = linker.inference.predict(threshold_match_probability=lowest)
    wanted = [
        "unique_id_l",
        "unique_id_r",
        "match_probability",
        "match_weight",
        *(f"gamma_{name}" for name in AGREEING),
    ]
    pairs = [{name: row[name] for name in wanted} for row in predictions.as_record_list()]
    model = linker.misc.save_model_to_json()
    return ScoredPairs(pairs, parameters(model), trained, model)
