"""The pulls' secrets (the connected apps' client secrets, the access tokens the APIs issue, and
a wrong secret someone set) never reach a log line, the Dagster event log or run storage, the
warehouse, a pull's state or any other file under the data folder or DAGSTER_HOME: not when the
pulls succeed, not when a session expires mid-pull, not when authentication fails."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance

from b2b_assets.settings import INSTANCE_YAML
from b2b_assets_tests.pulls.served import served_demo
from b2b_assets_tests.test_security import (
    _instance_texts,
    _materialize,
    _warehouse_texts,
    assert_no_secret,
)

AUDIENCE = "SELECT email FROM audience.new_product_upsell ORDER BY email"
JOBS = "/services/data/v62.0/jobs/query"
WRONG_SF_SECRET = "pull-wrong-sf-secret-Hd5Kx2"
WRONG_MKTO_SECRET = "pull-wrong-mkto-secret-Vb8Qn4"
SOURCES = ("crm_1", "crm_2", "marketo_1", "marketo_2")


def _pulls(*sources: str) -> AssetSelection:
    return AssetSelection.assets(*(AssetKey(["pull", source]) for source in sources))


def _failures(result) -> dict[str, str]:
    """Each failed step's key and the error message its failure event carries."""
    return {
        event.step_key: event.step_failure_data.error.message
        for event in result.all_events
        if event.is_step_failure
    }


def test_no_secret_of_a_pull_in_logs_event_log_warehouse_or_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """In a persistent Dagster instance: the whole graph pulled from the fakes (a Salesforce
    session and a Marketo token expiring mid-pull), then pulls failing to authenticate (a wrong
    Salesforce secret, a session refused twice, a wrong Marketo secret, a token refused twice).
    No secret anywhere; the failures say what went wrong without one."""
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()

    with (
        served_demo(tmp_path, monkeypatch) as served,
        DagsterInstance.from_config(str(home)) as instance,
    ):
        data_dir = served.data_dir
        crm_1, crm_2 = served.crm["crm_1"], served.crm["crm_2"]
        marketo_1, marketo_2 = served.marketo["marketo_1"], served.marketo["marketo_2"]
        crm_1.inject("401", path=f"{JOBS}/")  # the session expires while a job runs
        marketo_1.inject("602")  # the token expires mid-pull
        pulled = _materialize(instance, data_dir, warehouse, "2026-11-15")
        assert pulled.success, _failures(pulled)
        assert len(crm_1.issued_tokens) == 2, "the expired session was not renewed"
        tokens_before = len(marketo_2.issued_tokens)

        # Pulls that cannot authenticate; a CRM failing holds back its Marketo instance, so the
        # CRMs and the Marketo instances fail in two runs.
        monkeypatch.setenv("CRM_1_CLIENT_SECRET", WRONG_SF_SECRET)
        crm_2.inject("401", times=2, path=JOBS)  # refused, renewed, refused again
        crms = _materialize(instance, data_dir, warehouse, "2026-11-15", _pulls("crm_1", "crm_2"))
        monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", WRONG_MKTO_SECRET)
        marketo_2.expire_tokens()  # a new token is issued, then refused, renewed, refused again
        marketo_2.inject("601", times=2)
        marketos = _materialize(
            instance, data_dir, warehouse, "2026-11-15", _pulls("marketo_1", "marketo_2")
        )
        stored = _instance_texts(instance)
        secrets = [*served.secrets(), WRONG_SF_SECRET, WRONG_MKTO_SECRET]

    assert not crms.success and not marketos.success
    assert len(marketo_2.issued_tokens) == tokens_before + 1
    failures = {**_failures(crms), **_failures(marketos)}
    assert set(failures) == {f"pull__{source}" for source in SOURCES}
    # Each failure says why, in words a user can act on.
    assert "invalid_client" in failures["pull__crm_1"]
    assert "INVALID_SESSION_ID" in failures["pull__crm_2"]
    assert "Marketo identity call failed: HTTP 401" in failures["pull__marketo_1"]
    assert "601" in failures["pull__marketo_2"]
    for step, message in failures.items():
        assert not [s for s in secrets if s in message], f"a secret in the failure of {step}"

    # The places searched hold what the runs wrote: the scan is not of empty text.
    out, err = capfd.readouterr()
    logs = [caplog.text, out, err]
    assert "renewing the token" in caplog.text
    assert all(any(f"pull__{source}" in text for text in logs) for source in SOURCES)
    assert any("ASSET_MATERIALIZATION" in text for text in stored)
    assert any("STEP_FAILURE" in text and "invalid_client" in text for text in stored)
    states = sorted(data_dir.glob("landing/*/_pull/state.json"))
    assert [state.parent.parent.name for state in states] == sorted(SOURCES)
    tables = _warehouse_texts(warehouse)
    assert any("p2@townsend.com" in text for text in tables)
    assert all(fake.issued_tokens for fake in [*served.crm.values(), *served.marketo.values()])
    folders = [data_dir, home, warehouse.parent]
    assert (home / "history").exists() and any(warehouse.parent.iterdir())
    canary = (home / "canary.txt", crm_1.issued_tokens[0])
    assert_no_secret(secrets, logs, stored, tables, folders, canary)
