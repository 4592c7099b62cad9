"""Account matching against planted truth: precision, recall and time.

    python -m benchmarks.matching [--scale 0.1] [--scale 1] [--seed 1] [--share 0.02]
                                  [--baseline] [--keep DIR]

For each scale:
1. Uses (or generates) the synthetic environment of `python -m benchmarks.bench --scale S`
   (/tmp/b2b_bench/scale-<S>), linked file by file into a run folder (hard links: the
   planting below replaces the files it changes, so the cached data never changes).
2. Plants the matching truth (`benchmarks/synth/lookalikes.py`): known duplicates whose MDM
   rows are gone and whose crm_2 copy varies, and look-alikes that are other companies; turns
   `account_matching` on.
3. Materializes, in process, only what matching needs: the selection
   `identity/account` and everything upstream of it (the raw accounts, contacts, leads,
   companies and cross-references, b2b.account/person/account_person, identity.account_link,
   identity.account_match); no activities, profiles or audiences.
4. Prints the candidates, the pairs the blocking rules compare, the pairs listed, merged and
   for review, recall (a planted duplicate is found when both its records have one
   `account_id` in identity.account), pair-level precision (merged pairs of
   identity.account_match that are one company: a planted duplicate or records the generator
   made for one company; wrong: look-alikes and other companies), the look-alikes merged,
   the unified accounts that mix companies, the model's training and weights, the time of the
   matching step (`build_seconds` of identity/account_match) and of the whole run, and for
   each missed duplicate why (its features, the probability the saved model gives it, whether
   the blocking rules compare it). With --baseline, the same selection with matching off on
   the same data, for the time identity costs without matching.

Targets at the default thresholds (0.95 / 0.5): precision >= 0.99, recall >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

if not __package__:  # run as a file (`python benchmarks/matching.py`): import from the root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import cache_folder, ensure_data, loadavg, machine  # noqa: E402
from benchmarks.incremental import link_environment  # noqa: E402
from benchmarks.synth.lookalikes import (  # noqa: E402
    TRUTH_FILE,
    plant_matching_truth,
    xref_golden,
)

MATCH_KEY = ("identity", "account_match")
PRECISION_TARGET = 0.99
RECALL_TARGET = 0.9
MISSES_SHOWN = 12


@dataclass
class Figures:
    """What one benchmark run measured."""

    scale: float
    duplicates: int
    lookalikes: int
    candidates: int
    pairs_listed: int
    merged: int
    review: int
    blocked_by_mdm: int
    found: int
    merged_correct: int
    merged_planted: int
    merged_lookalike: int
    merged_other: int
    lookalikes_merged: int
    accounts_mixing: int
    training: dict[str, str]
    match_seconds: float
    run_seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    missed: list[dict[str, Any]] = field(default_factory=list)
    wrong: list[dict[str, Any]] = field(default_factory=list)
    weights: list[dict[str, Any]] = field(default_factory=list)
    blocking: dict[str, int] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.found / self.duplicates if self.duplicates else 1.0

    @property
    def precision(self) -> float:
        return self.merged_correct / self.merged if self.merged else 1.0

    @property
    def meets_targets(self) -> bool:
        return (
            self.precision >= PRECISION_TARGET
            and self.recall >= RECALL_TARGET
            and self.lookalikes_merged == 0
        )


# ---- running ------------------------------------------------------------------------------------
def matching_selection():
    """`identity/account` and everything upstream of it."""
    from dagster import AssetKey, AssetSelection

    return AssetSelection.assets(AssetKey(["identity", "account"])).upstream()


def materialize(data_dir: Path, warehouse: Path, as_of: str):
    """The matching selection of the environment's definitions, in process (the console shows
    warnings and errors only); returns the result and its wall time (the definitions are
    built first, not timed)."""
    from dagster import Definitions, define_asset_job

    from b2b_assets.console import concise_console_logger
    from b2b_assets.definitions import build_definitions
    from b2b_assets.resources import DuckDBWarehouse, RunSettings

    names = ("B2B_DATA_DIR", "B2B_WAREHOUSE", "B2B_AS_OF", "B2B_OUTBOX")
    before = {name: os.environ.get(name) for name in names}
    os.environ.update(
        B2B_DATA_DIR=str(data_dir),
        B2B_WAREHOUSE=str(warehouse),
        B2B_AS_OF=as_of,
        B2B_OUTBOX=str(warehouse.parent / "outbox"),
    )
    try:
        job = define_asset_job("account_matching_benchmark", selection=matching_selection())
        defs = Definitions(
            assets=list(build_definitions().assets or []),
            jobs=[job],
            resources={
                "warehouse": DuckDBWarehouse(path=str(warehouse)),
                "settings": RunSettings(),
            },
            loggers={"console": concise_console_logger},
        )
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        started = time.perf_counter()
        result = defs.resolve_job_def(job.name).execute_in_process(run_config=quiet)
        return result, time.perf_counter() - started
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def materializations(result) -> dict[str, dict[str, Any]]:
    """Each materialized asset's metadata (plain values), by `schema/table`."""
    out = {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        out["/".join(event.asset_key.path)] = {
            name: getattr(value, "value", value) for name, value in metadata.items()
        }
    return out


# ---- truth --------------------------------------------------------------------------------------
def company_of_records(data_dir: Path, truth: dict[str, Any]) -> dict[str, str]:
    """The company (the generator's golden id, or the look-alike itself) of each CRM account
    key the generator or the planting made."""
    company = {f"{rid}@{instance}": g for (instance, rid), g in xref_golden(data_dir).items()}
    for pair in truth["duplicates"]:
        company[pair["crm_1"]] = company[pair["crm_2"]] = pair["golden_id"]
    for pair in truth["lookalikes"]:
        company[pair["crm_2"]] = f"lookalike:{pair['crm_2']}"
    return company


def _companies_table(con: duckdb.DuckDBPyConnection, company: dict[str, str]) -> None:
    import pyarrow as pa

    con.register(
        "_truth_company",
        pa.table({"crm_key": list(company), "company": list(company.values())}),
    )


def evaluate(
    warehouse: Path,
    data_dir: Path,
    result,
    run_seconds: float,
    scale: float,
    *,
    diagnose: bool = True,
) -> Figures:
    """Compare identity.account and identity.account_match with the planted truth."""
    truth = json.loads((data_dir / TRUTH_FILE).read_text())
    company = company_of_records(data_dir, truth)
    metadata = materializations(result)
    match = metadata.get("/".join(MATCH_KEY), {})
    lookalike_keys = {p["crm_2"] for p in truth["lookalikes"]}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        _companies_table(con, company)
        # each live record's company, through its CRM account (a synced Marketo company's too)
        con.execute(
            """CREATE TEMP TABLE _record AS
               SELECT i.account_key, i.account_id, t.company
               FROM identity.account i JOIN b2b.account a USING (account_key)
               LEFT JOIN _truth_company t ON t.crm_key = a.crm_account_key"""
        )
        account_of = dict(con.execute("SELECT account_key, account_id FROM _record").fetchall())
        company_of = dict(con.execute("SELECT account_key, company FROM _record").fetchall())
        merged = con.execute(
            """SELECT left_key, right_key, match_probability, agreeing, rule
               FROM identity.account_match WHERE decision = 'merged'"""
        ).fetchall()
        mixing = con.execute(
            """SELECT count(*) FROM (SELECT account_id FROM _record GROUP BY account_id
                                     HAVING count(DISTINCT company) > 1)"""
        ).fetchall()[0][0]
        model_row = con.execute(
            "SELECT training, model FROM ops.account_match_model ORDER BY built_at DESC LIMIT 1"
        ).fetchall()
    finally:
        con.close()

    planted = {frozenset((p["crm_1"], p["crm_2"])) for p in truth["duplicates"]}
    lookalike_pairs = {frozenset((p["crm_1"], p["crm_2"])) for p in truth["lookalikes"]}
    correct = planted_hits = lookalike_hits = other = 0
    wrong = []
    for left, right, probability, agreeing, rule in merged:
        pair = frozenset((left, right))
        if pair in planted:
            correct += 1
            planted_hits += 1
        elif company_of.get(left) is not None and company_of.get(left) == company_of.get(right):
            correct += 1
        else:
            is_lookalike = pair in lookalike_pairs or bool(pair & lookalike_keys)
            lookalike_hits += is_lookalike
            other += not is_lookalike
            wrong.append(
                {
                    "left": left,
                    "right": right,
                    "probability": probability,
                    "agreeing": agreeing,
                    "rule": rule,
                    "lookalike": is_lookalike,
                }
            )
    found = sum(
        account_of.get(p["crm_1"]) is not None
        and account_of.get(p["crm_1"]) == account_of.get(p["crm_2"])
        for p in truth["duplicates"]
    )
    lookalikes_merged = sum(
        account_of.get(p["crm_1"]) is not None
        and account_of.get(p["crm_1"]) == account_of.get(p["crm_2"])
        for p in truth["lookalikes"]
    )
    missed = [
        p
        for p in truth["duplicates"]
        if account_of.get(p["crm_1"]) is None
        or account_of.get(p["crm_1"]) != account_of.get(p["crm_2"])
    ]
    from b2b_assets.identity.match_model import parameters

    training = match.get("training") or (json.loads(model_row[0][0]) if model_row else {})
    model = json.loads(model_row[0][1]) if model_row else {}
    figures = Figures(
        scale=scale,
        duplicates=len(truth["duplicates"]),
        lookalikes=len(truth["lookalikes"]),
        candidates=int(match.get("candidates", 0)),
        pairs_listed=int(match.get("pairs_listed", 0)),
        merged=len(merged),
        review=int(match.get("review", 0)),
        blocked_by_mdm=int(match.get("blocked_by_mdm", 0)),
        found=found,
        merged_correct=correct,
        merged_planted=planted_hits,
        merged_lookalike=lookalike_hits,
        merged_other=other,
        lookalikes_merged=lookalikes_merged,
        accounts_mixing=mixing,
        training=training,
        match_seconds=float(match.get("build_seconds", float("nan"))),
        run_seconds=run_seconds,
        step_seconds={
            asset: float(values["build_seconds"])
            for asset, values in metadata.items()
            if "build_seconds" in values
        },
        missed=missed,
        wrong=wrong,
        weights=parameters(model) if model else [],
    )
    if diagnose and model:
        diagnose_pairs(warehouse, data_dir, model, figures)
    return figures


# ---- why pairs are missed -----------------------------------------------------------------------
def _candidates(warehouse: Path, data_dir: Path):
    """The product's candidates (one row per group of linked records), rebuilt read-only."""
    from b2b_assets.identity.components import Graph
    from b2b_assets.identity.matching import _candidates as product_candidates
    from b2b_assets.identity.matching import match_nodes
    from b2b_assets.identity.tables import _mdm_members, deterministic_account_links
    from b2b_assets.sources.config import load_sources
    from b2b_assets.sources.sql_macros import install_macros

    config = load_sources(data_dir / "sources.yaml")
    graph = Graph(match_nodes(_mdm_members(config)), deterministic_account_links(config))
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        install_macros(con)
        table, _ = product_candidates(con, graph)
    finally:
        con.close()
    return table


def blocking_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Pairs of candidates each blocking rule compares, and all of them together."""
    counts = {}
    for name, column in (
        ("domain", "domain"),
        ("name_norm", "name_norm"),
        ("name_prefix", "name_prefix"),
    ):
        counts[name] = con.execute(
            f"""SELECT coalesce(sum(n * (n - 1) // 2), 0)::BIGINT FROM (
                    SELECT count(*) AS n FROM _cand WHERE {column} IS NOT NULL GROUP BY {column})"""
        ).fetchall()[0][0]
    con.execute(
        """CREATE TEMP TABLE _email AS
           SELECT DISTINCT i, unnest(email_domains) AS d FROM _cand"""
    )
    counts["email_domains"] = con.execute(
        """SELECT count(*) FROM (SELECT DISTINCT a.i, b.i FROM _email a
                                 JOIN _email b ON a.d = b.d AND a.i < b.i)"""
    ).fetchall()[0][0]
    counts["all rules"] = con.execute(
        """SELECT count(*) FROM (
               SELECT l.i, r.i FROM _cand l JOIN _cand r ON l.domain = r.domain AND l.i < r.i
               UNION SELECT l.i, r.i FROM _cand l JOIN _cand r
                     ON l.name_norm = r.name_norm AND l.i < r.i
               UNION SELECT l.i, r.i FROM _cand l JOIN _cand r
                     ON l.name_prefix = r.name_prefix AND l.i < r.i
               UNION SELECT a.i, b.i FROM _email a JOIN _email b ON a.d = b.d AND a.i < b.i)"""
    ).fetchall()[0][0]
    return counts


def diagnose_pairs(warehouse: Path, data_dir: Path, model: dict, figures: Figures) -> None:
    """The blocking counts; for each missed duplicate its two candidates' features, whether a
    blocking rule compares them and the probability the run's saved model gives them."""
    from splink import DuckDBAPI, Linker

    candidates = _candidates(warehouse, data_dir)
    con = duckdb.connect()
    try:
        con.register("_cand_view", candidates)
        con.execute("CREATE TABLE _cand AS SELECT *, row_number() OVER () AS i FROM _cand_view")
        figures.blocking = blocking_counts(con)
        wanted = [p for p in figures.missed] + [w for w in figures.wrong]
        if not wanted:
            return
        columns = [c for c in candidates.column_names]
        selected = con.sql(f"SELECT {', '.join(columns)} FROM _cand").to_arrow_table()
        rows = {r["unique_id"]: r for r in selected.to_pylist()}
        scratch = duckdb.connect()
        scratch.register("_c", candidates)
        scratch.execute("CREATE TABLE candidates AS SELECT * FROM _c")
        api = DuckDBAPI(connection=scratch)
        settings = {k: v for k, v in model.items() if k != "sql_dialect"}
        linker = Linker(api.register("candidates"), settings, log_level=logging.ERROR)
        logging.getLogger("splink").setLevel(logging.ERROR)
        for item in wanted:
            left_key = item.get("crm_1", item.get("left"))
            right_key = item.get("crm_2", item.get("right"))
            left, right = rows.get(left_key), rows.get(right_key)
            item["features"] = [_features(left), _features(right)]
            if left is None or right is None:
                item["scored"] = "not a candidate"
                continue
            scored = linker.inference.score_pair(left, right).as_record_list()[0]
            item["scored"] = {
                "probability": round(scored["match_probability"], 4),
                "blocked": _compared(left, right),
                "levels": {
                    name: scored.get(f"gamma_{name}")
                    for name in ("name", "domain", "email_domains", "country")
                },
            }
        scratch.close()
    finally:
        con.close()


def _compared(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Whether a blocking rule of the model compares the two candidates (Splink's own
    `found_by_blocking_rules` of `score_pair` compares exploded arrays as whole lists)."""
    rules = ("domain", "name_norm", "name_prefix")
    same = any(left[c] is not None and left[c] == right[c] for c in rules)
    return same or bool(set(left["email_domains"] or ()) & set(right["email_domains"] or ()))


def _features(row: dict | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "name": row["name_norm"],
        "domain": row["domain"],
        "email_domains": row["email_domains"],
        "country": row["country"],
        "golden": row["golden_id"],
    }


# ---- printing -----------------------------------------------------------------------------------
def report(figures: Figures, truth: dict[str, Any]) -> None:
    f = figures
    counts = truth["counts"]
    print()
    print(f"== scale {f.scale:g} ==")
    variations = ", ".join(f"{k} {v}" for k, v in counts["variations"].items())
    kinds = ", ".join(f"{k} {v}" for k, v in counts["lookalike_kinds"].items())
    print(
        f"planted: {f.duplicates} duplicates of {counts['companies_in_both_crms']:,} companies in "
        f"both CRMs ({variations}); {f.lookalikes} look-alikes ({kinds})"
    )
    print(f"candidates:                {f.candidates:10,}")
    if f.blocking:
        rules = ", ".join(f"{k} {v:,}" for k, v in f.blocking.items() if k != "all rules")
        print(f"pairs compared (blocking): {f.blocking['all rules']:10,}  ({rules})")
    print(f"pairs listed (p >= 0.5):   {f.pairs_listed:10,}")
    print(f"merged:                    {f.merged:10,}")
    print(f"review:                    {f.review:10,}  ({f.blocked_by_mdm:,} blocked by MDM)")
    print(
        f"recall:                    {f.recall:10.3f}  ({f.found} of {f.duplicates} planted "
        "duplicates in one unified account)"
    )
    print(
        f"precision (pairs):         {f.precision:10.3f}  ({f.merged_correct} of {f.merged} "
        f"merged pairs are one company, {f.merged_planted} of them planted; wrong: "
        f"{f.merged_lookalike} with a look-alike, {f.merged_other} other)"
    )
    print(f"look-alikes merged:        {f.lookalikes_merged:10}  of {f.lookalikes} pairs")
    print(f"accounts mixing companies: {f.accounts_mixing:10}")
    print(f"training:                  {json.dumps(f.training)}")
    print(
        f"matching step:             {f.match_seconds:10.2f} s  (identity/account_match "
        "build_seconds)"
    )
    identity = f.step_seconds.get("identity/account", float("nan"))
    print(
        f"identity/account:          {identity:10.2f} s  (matching / identity.account: "
        f"{f.match_seconds / identity if identity else float('nan'):.1f}x)"
    )
    print(
        f"whole run:                 {f.run_seconds:10.2f} s  ({len(f.step_seconds)} assets, "
        "in process)"
    )
    if f.baseline:
        b = f.baseline
        print(
            f"baseline, matching off:    {b['run_seconds']:10.2f} s whole run, "
            f"identity/account {b['identity/account']:.2f} s, identity/account_link "
            f"{b['identity/account_link']:.2f} s"
        )
    slowest = sorted(f.step_seconds.items(), key=lambda kv: -kv[1])[:6]
    print("slowest builds:            " + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    print(
        f"meets targets (precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}, "
        f"no look-alike merged): {'yes' if f.meets_targets else 'NO'}"
    )
    if f.weights:
        print("model (m, u, match weight):")
        for p in f.weights:
            print(
                f"  {p['comparison']:>13} {str(p['level'])[:34]:34} m={_g(p['m']):>9} "
                f"u={_g(p['u']):>9} w={p['match_weight']}"
            )
    if f.missed:
        by_variation = Counter(v for p in f.missed for v in p["variations"])
        print(
            "missed duplicates by variation: "
            + ", ".join(
                f"{k} {v} of {counts['variations'][k]}" for k, v in by_variation.most_common()
            )
        )
        blocked = Counter(_blocked(p) for p in f.missed)
        print(
            "missed duplicates, compared by a blocking rule: "
            + ", ".join(f"{k} {v}" for k, v in blocked.items())
        )
        print(
            "missed duplicates by levels (name, domain, email_domains, country; 3 exact, 2 typo, "
            "1 first word / agree, 0 differ, -1 null): "
            + ", ".join(f"{k} {v}" for k, v in Counter(_levels(p) for p in f.missed).most_common())
        )
        for p in f.missed[:MISSES_SHOWN]:
            print(
                f"  missed {p['crm_1']} ~ {p['crm_2']} [{', '.join(p['variations'])}]: "
                f"{_pair_text(p)}"
            )
    for w in f.wrong[:MISSES_SHOWN]:
        print(
            f"  wrongly merged {w['left']} ~ {w['right']} p={w['probability']} "
            f"(look-alike: {w['lookalike']}): {_pair_text(w)}"
        )


def _blocked(item: dict[str, Any]) -> str:
    scored = item.get("scored")
    if not isinstance(scored, dict):
        return str(scored)
    return "yes" if scored.get("blocked") else "no"


def _levels(item: dict[str, Any]) -> str:
    scored = item.get("scored")
    if not isinstance(scored, dict):
        return str(scored)
    return "(" + " ".join(str(v) for v in scored["levels"].values()) + ")"


def _pair_text(item: dict[str, Any]) -> str:
    features = item.get("features") or [None, None]
    scored = item.get("scored")
    text = " | ".join(json.dumps(x, default=str) for x in features)
    return f"{text} -> {json.dumps(scored, default=str)}"


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


# ---- one scale ---------------------------------------------------------------------------------
def run_scale(
    scale: float, seed: int, share: float, run_dir: Path, baseline: bool
) -> tuple[Figures, dict]:
    """Generate or reuse, link, plant, materialize, evaluate."""
    cache = cache_folder(scale, seed, "csv")
    expected, _ = ensure_data(cache, scale, seed, "csv")
    data_dir = run_dir / "data"
    link_environment(cache, data_dir)
    started = time.perf_counter()
    truth = plant_matching_truth(data_dir, seed=seed, share=share)
    print(
        f"planted in {time.perf_counter() - started:.1f} s: {truth['counts']['duplicates']} "
        f"duplicates, {truth['counts']['lookalikes']} look-alikes",
        flush=True,
    )
    warehouse = run_dir / "warehouse.duckdb"
    print("materializing identity/account and its upstream ...", flush=True)
    result, seconds = materialize(data_dir, warehouse, expected["as_of"])
    if not result.success:
        raise SystemExit(f"the run failed; see {run_dir}")
    figures = evaluate(warehouse, data_dir, result, seconds, scale)
    if baseline:
        figures.baseline = run_baseline(data_dir, run_dir, expected["as_of"])
    return figures, truth


def run_baseline(data_dir: Path, run_dir: Path, as_of: str) -> dict[str, float]:
    """The same selection with matching off, on the same planted data."""
    off = run_dir / "data_matching_off"
    link_environment(data_dir, off)
    sources = off / "sources.yaml"
    text = "".join(
        line
        for line in sources.read_text().splitlines(keepends=True)
        if not line.startswith("account_matching:")
    )
    sources.unlink()  # a hard link to the planted file: replaced, not written through
    sources.write_text(text)
    print("baseline: the same selection with matching off ...", flush=True)
    result, seconds = materialize(off, run_dir / "warehouse_off.duckdb", as_of)
    steps = {k: float(v.get("build_seconds", 0)) for k, v in materializations(result).items()}
    return {"run_seconds": seconds, **steps}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, action="append", help="repeatable (default 0.1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--share", type=float, default=0.02, help="duplicates: share of companies in both CRMs"
    )
    ap.add_argument("--baseline", action="store_true", help="also run with matching off")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folders under DIR")
    args = ap.parse_args(argv)
    scales = args.scale or [0.1]
    print(f"machine: {machine()}; load average: {loadavg()}", flush=True)
    results = []
    for scale in scales:
        if args.keep is not None:
            run_dir = args.keep / f"scale-{scale:g}"
            if run_dir.exists():
                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True)
        else:
            run_dir = Path(tempfile.mkdtemp(prefix=f"b2b_matching_{scale:g}_"))
        try:
            figures, truth = run_scale(scale, args.seed, args.share, run_dir, args.baseline)
            report(figures, truth)
            results.append(figures)
        finally:
            if args.keep is None:
                shutil.rmtree(run_dir, ignore_errors=True)
    print()
    print("scale  candidates  merged  review  precision  recall  look-alikes  match s   run s")
    for f in results:
        print(
            f"{f.scale:<6g} {f.candidates:10,} {f.merged:7,} {f.review:7,} {f.precision:10.3f} "
            f"{f.recall:7.3f} {f.lookalikes_merged:12} {f.match_seconds:7.1f} "
            f"{f.run_seconds:7.1f}"
        )
    return 0 if all(f.meets_targets for f in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
