"""Account matching against planted truth (`benchmarks/matching.py`) at tiny scales.

A synthetic environment is generated, known duplicates and look-alikes are planted
(`benchmarks/synth/lookalikes.py`), and only what matching needs is materialized (the selection
`identity/account` and its upstream). Two sizes: at 0.002 there are fewer candidates than the
model needs to train, so its priors decide; at 0.02 (5% of the companies in both CRMs planted
as duplicates, for enough pairs) it trains. Each run takes a few seconds.
"""

from __future__ import annotations

import filecmp
import json
import time
from pathlib import Path

import polars as pl
import pytest

from b2b_assets_tests.conftest import Run, materialize_env
from benchmarks.incremental import link_environment
from benchmarks.matching import (
    PRECISION_TARGET,
    RECALL_TARGET,
    Figures,
    evaluate,
    matching_selection,
)
from benchmarks.synth import generate
from benchmarks.synth.lookalikes import TRUTH_FILE, VARIATIONS, plant_matching_truth

SCALE = 0.002
# (scale, share of the companies in both CRMs planted as duplicates, whether the model trains)
SIZES = {"priors": (0.002, 0.02, False), "trained": (0.02, 0.05, True)}
TOUCHED = [
    "landing/crm_2/Account.csv",
    "landing/crm_2/Contact.csv",
    "landing/marketo_2/companies.csv",
    "landing/marketo_2/leads.csv",
    "landing/mdm/account_xref.csv",
    "sources.yaml",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated environment, never planted (tests link or copy it)."""
    root = tmp_path_factory.mktemp("matching_quality") / "generated"
    generate(SCALE, root, quiet=True)
    return root


@pytest.fixture(scope="module")
def planted(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    data = tmp_path_factory.mktemp("planted") / "data"
    link_environment(generated, data)
    return data, plant_matching_truth(data, seed=1)


@pytest.fixture(scope="module", params=sorted(SIZES))
def matched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, Figures, bool]:
    scale, share, trains = SIZES[request.param]
    data = tmp_path_factory.mktemp(f"matched_{request.param}") / "data"
    expected = generate(scale, data, quiet=True)
    plant_matching_truth(data, seed=1, share=share)
    started = time.perf_counter()
    run = materialize_env(
        data, data.parent / "warehouse.duckdb", expected["as_of"], selection=matching_selection()
    )
    seconds = time.perf_counter() - started
    return run, evaluate(run.warehouse, data, run.result, seconds, scale), trains


def test_the_truth_is_planted(planted: tuple[Path, dict]):
    data, truth = planted
    counts = truth["counts"]
    assert counts["duplicates"] >= 8 and counts["lookalikes"] >= 8
    assert all(counts["variations"][v] >= 1 for v in VARIATIONS if v != "no_website")
    assert set(counts["lookalike_kinds"]) == {
        "same_name_other_country",
        "one_letter_apart",
        "same_first_word",
    }
    assert json.loads((data / TRUTH_FILE).read_text()) == json.loads(json.dumps(truth))
    assert "account_matching: {enabled: true}" in (data / "sources.yaml").read_text()
    for pair in truth["duplicates"] + truth["lookalikes"]:
        for side in ("crm_1", "crm_2"):
            record_id, instance = pair[side].split("@")
            assert len(record_id) == 18 and instance == side


def test_planting_leaves_a_linked_original_as_it_was(generated: Path, planted: tuple[Path, dict]):
    data, _ = planted
    for name in TOUCHED:
        assert not filecmp.cmp(generated / name, data / name, shallow=False), name
        assert (generated / name).stat().st_nlink == 1, name  # replaced, not written through
    assert not (generated / TRUTH_FILE).exists()


def test_planting_is_deterministic(generated: Path, tmp_path: Path):
    again = tmp_path / "again"
    link_environment(generated, again)
    first = plant_matching_truth(again, seed=1)
    other = tmp_path / "other"
    link_environment(generated, other)
    assert plant_matching_truth(other, seed=1) == first
    for name in TOUCHED:
        assert filecmp.cmp(again / name, other / name, shallow=False), name


def test_planted_parquet_files_keep_their_types_and_are_read(tmp_path: Path):
    data = tmp_path / "parquet"
    expected = generate(SCALE, data, fmt="parquet", quiet=True)
    before = {
        name: pl.read_parquet(data / "landing" / name).schema
        for name in ("crm_2/Account.parquet", "marketo_2/leads.parquet")
    }
    truth = plant_matching_truth(data, seed=1)
    for name, schema in before.items():
        assert pl.read_parquet(data / "landing" / name).schema == schema
    accounts = pl.read_parquet(data / "landing" / "crm_2" / "Account.parquet")
    new = {p["crm_2"].split("@")[0] for p in truth["lookalikes"]}
    assert new <= set(accounts["Id"])
    xref = pl.read_parquet(data / "landing" / "mdm" / "account_xref.parquet")
    gone = {p["golden_id"] for p in truth["duplicates"]}
    assert not gone & set(xref["golden_id"])
    run = materialize_env(
        data, tmp_path / "warehouse.duckdb", expected["as_of"], selection=matching_selection()
    )
    assert run.result.success, run.failed_steps()
    assert run.query("SELECT object, reason FROM raw.quarantine") == []
    figures = evaluate(run.warehouse, data, run.result, 0.0, SCALE, diagnose=False)
    assert figures.found == figures.duplicates and figures.lookalikes_merged == 0


def test_the_planted_files_read_without_quarantine(matched: tuple[Run, Figures, bool]):
    run, _, _ = matched
    assert run.result.success, run.failed_steps()
    assert run.query("SELECT object, reason FROM raw.quarantine") == []
    built = {"/".join(e.asset_key.path) for e in run.result.get_asset_materialization_events()}
    assert "identity/account_match" in built and "identity/account" in built
    assert not any(name.endswith("activities") or name.startswith("profile") for name in built)


def test_matching_finds_the_duplicates_and_merges_no_lookalike(
    matched: tuple[Run, Figures, bool],
):
    _, figures, trains = matched
    detail = f"missed: {figures.missed}; wrongly merged: {figures.wrong}"
    assert figures.recall >= RECALL_TARGET, detail
    assert figures.precision >= PRECISION_TARGET, detail
    assert figures.lookalikes_merged == 0 and figures.merged_lookalike == 0, detail
    assert figures.accounts_mixing == 0, detail
    assert figures.duplicates >= 8 and figures.lookalikes >= 8
    assert (figures.training.get("u") == "estimated") is trains, figures.training
