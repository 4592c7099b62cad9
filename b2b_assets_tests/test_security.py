"""Security guarantees.

- Secrets (the Marketo client id and secret, the LinkedIn token, the access tokens Marketo
  issues) never reach a log line, the Dagster event log or run storage, a warehouse value, or any
  file written under the data folder, the outbox or DAGSTER_HOME, on delivery or on failure.
- Landing folders named in `sources.yaml` stay in $B2B_DATA_DIR (more cases in
  sources/test_bad_sources_yaml.py::test_bad_sources_yaml).
- LinkedIn never receives a plain email: see activation/test_destination_clients.py
  (test_linkedin_users_batches_headers_and_membership,
  test_linkedin_refuses_anything_but_a_sha256_hash) and activation/test_activation.py
  (test_deltas_converge_over_runs), which check every request body.
- Configuration values cannot inject SQL: the names that are written into SQL text (source,
  destination and segment names) only accept identifiers, the others are typed or bound as
  parameters. Segment values and names: segments/test_segment_injection.py
  (test_injection_in_values_is_only_a_value, test_injection_in_names_is_rejected).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster
import duckdb
import pytest
import yaml
from dagster import AssetSelection, DagsterInstance
from dagster._serdes import serialize_value

from b2b_assets.activation.config import DestinationConfigError, load_destinations
from b2b_assets.resources import DuckDBWarehouse, RunSettings
from b2b_assets.settings import INSTANCE_YAML
from b2b_assets.sources.config import (
    NAME_PATTERN,
    SourcesConfigError,
    landing_dir,
    load_sources,
)
from b2b_assets_tests.conftest import copy_demo, set_env
from b2b_assets_tests.fakes.linkedin import FakeLinkedIn
from b2b_assets_tests.fakes.marketo import FakeMarketo

LIST_ID, SEGMENT_ID = 1042, 18842011
CLIENT_ID = "sec-client-id-7Q2xK9"
CLIENT_SECRET = "sec-client-secret-Zr4Lm8Wq"
TOKEN = "sec-linkedin-token-Hy6Pd3Vn"
WRONG_SECRET = "sec-wrong-secret-Ub5Tc1Ja"
WRONG_TOKEN = "sec-wrong-token-Kf8Nq2Ms"
AUDIENCES = AssetSelection.groups("audience", "activation")

# --------------------------------------------------------------------------------------------
# (a) No secret in logs, event metadata, the warehouse or files
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fakes() -> Iterator[tuple[FakeMarketo, FakeLinkedIn]]:
    with (
        FakeMarketo(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            list_ids=[LIST_ID],
            known_leads=range(48000, 52000),
        ) as marketo,
        FakeLinkedIn(access_token=TOKEN, segment_ids=[SEGMENT_ID]) as linkedin,
    ):
        yield marketo, linkedin


def _point_destinations(data_dir: Path, marketo: FakeMarketo, linkedin: FakeLinkedIn) -> None:
    path = data_dir / "destinations.yaml"
    config = yaml.safe_load(path.read_text())
    for destination in config["destinations"]:
        destination.update(retry_attempts=2, backoff_seconds=0)
        if destination["type"] == "marketo_static_list":
            destination["endpoint"] = marketo.url
            destination["identity_endpoint"] = f"{marketo.url}/identity"
        else:
            destination["endpoint"] = linkedin.url
    path.write_text(yaml.safe_dump(config))


def _materialize(
    instance: DagsterInstance,
    data_dir: Path,
    warehouse: Path,
    as_of: str,
    selection: Any = None,
) -> dagster.ExecuteInProcessResult:
    from b2b_assets.definitions import build_definitions

    with pytest.MonkeyPatch.context() as mp:
        set_env(mp, data_dir, warehouse, as_of)
        defs = build_definitions()
        return dagster.materialize(
            list(defs.assets or []),
            instance=instance,
            resources={
                "warehouse": DuckDBWarehouse(path=str(warehouse)),
                "settings": RunSettings(),
            },
            selection=selection,
            raise_on_error=False,
        )


def _instance_texts(instance: DagsterInstance) -> list[str]:
    """Every run and every event of the instance, serialized as Dagster stores them."""
    texts = []
    for record in instance.get_run_records():
        texts.append(serialize_value(record.dagster_run))
        texts += [serialize_value(entry) for entry in instance.all_logs(record.dagster_run.run_id)]
    return texts


def _warehouse_texts(warehouse: Path) -> list[str]:
    """Every value of every table and view, as text."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        return [
            repr(con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall())
            for schema, table in tables
        ]
    finally:
        con.close()


def assert_no_secret(
    secrets: list[str],
    logs: list[str],
    stored: list[str],
    tables: list[str],
    folders: list[Path],
    canary: tuple[Path, str],
) -> None:
    """None of `secrets` in the logs, the event log, the warehouse or the files of `folders`;
    first, a canary file holding `canary[1]` proves the file scan finds a secret."""
    path, token = canary
    path.write_text(f"token={token}")
    assert _files_with(folders, token) == [str(path)]
    path.unlink()
    for secret in secrets:
        assert not any(secret in text for text in logs), f"{secret!r} is in the logs"
        assert not any(secret in text for text in stored), f"{secret!r} is in the event log"
        assert not any(secret in text for text in tables), f"{secret!r} is in the warehouse"
        assert _files_with(folders, secret) == [], f"{secret!r} is in a file"


def _files_with(folders: list[Path], secret: str) -> list[str]:
    """The files under `folders` whose bytes hold `secret`."""
    needle = secret.encode()
    return [
        str(path)
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and needle in path.read_bytes()
    ]


def test_no_secret_in_logs_event_log_warehouse_or_files(
    tmp_path: Path,
    fakes: tuple[FakeMarketo, FakeLinkedIn],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A delivery to both destinations, then one with a wrong Marketo secret and a wrong
    LinkedIn token (both fail), in a persistent Dagster instance: no secret anywhere."""
    marketo, linkedin = fakes
    caplog.set_level(logging.DEBUG)
    data_dir = copy_demo(tmp_path / "data")
    _point_destinations(data_dir, marketo, linkedin)
    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    monkeypatch.setenv("MARKETO_1_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", TOKEN)

    with DagsterInstance.from_config(str(home)) as instance:
        delivered = _materialize(instance, data_dir, warehouse, "2026-11-15")
        assert delivered.success
        assert marketo.members(LIST_ID) and linkedin.members(SEGMENT_ID), "nothing was delivered"

        # Time moves on, members leave; the credentials are now wrong: both deliveries fail.
        monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", WRONG_SECRET)
        monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", WRONG_TOKEN)
        marketo.revoke_tokens()
        failed = _materialize(instance, data_dir, warehouse, "2026-12-11", AUDIENCES)
        assert not failed.success
        failures = [e for e in failed.all_events if e.is_step_failure]
        assert {e.step_key for e in failures} == {
            "activation__new_product_upsell__marketo_1_new_product",
            "activation__new_product_upsell__linkedin_new_product",
        }
        stored = _instance_texts(instance)

    secrets = [CLIENT_ID, CLIENT_SECRET, TOKEN, WRONG_SECRET, WRONG_TOKEN, *marketo.issued_tokens]
    assert marketo.issued_tokens, "Marketo issued no token: the client did not authenticate"
    out, err = capfd.readouterr()
    logs = [caplog.text, out, err]
    tables = _warehouse_texts(warehouse)
    folders = [tmp_path / "data", home, warehouse.parent]
    # The places searched hold what the runs wrote: the scan is not of empty text.
    assert any("marketo_1_new_product" in text for text in logs)
    assert any("ASSET_MATERIALIZATION" in text for text in stored)
    assert any("linkedin_new_product" in text for text in tables)
    assert (home / "history").exists() and any(warehouse.parent.iterdir())
    assert_no_secret(secrets, logs, stored, tables, folders, (home / "canary.txt", TOKEN))


# --------------------------------------------------------------------------------------------
# (b) Landing folders stay in the data folder
# --------------------------------------------------------------------------------------------


def _sources(data_dir: Path, path: str | None) -> Path:
    entry: dict[str, Any] = {"name": "crm_1", "type": "salesforce"}
    if path is not None:
        entry["path"] = path
    file = data_dir / "sources.yaml"
    file.write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    return file


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An environment folder with a sibling folder `outside` it must never read."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "env" / "landing").mkdir(parents=True)
    return tmp_path / "env"


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("landing/exports", "landing/exports"),  # the override itself is a symlink
        ("landing/exports/crm_1", "landing/exports"),  # a folder above it is one
        (None, "landing"),  # the default landing/<name>, through a symlinked landing/
        ("landing/../../outside", None),
        ("landing/crm_1/../../../outside/crm_1", None),
        ("../env/../outside", None),
        ("OUTSIDE_ABSOLUTE", None),  # replaced by the absolute path of `outside`
    ],
)
def test_landing_folder_cannot_leave_the_data_folder(
    data_dir: Path, path: str | None, link: str | None
) -> None:
    outside = data_dir.parent / "outside"
    if link is not None:
        (data_dir / link).parent.mkdir(parents=True, exist_ok=True)
        if (data_dir / link).exists():
            (data_dir / link).rmdir()
        os.symlink(outside, data_dir / link)
    if path == "OUTSIDE_ABSOLUTE":
        path = str(outside)
    file = _sources(data_dir, path)
    with pytest.raises(SourcesConfigError) as error:
        load_sources(file)
    message = str(error.value)
    assert str(file) in message and "'crm_1'" in message
    assert "leaves the data folder" in message and str(data_dir.resolve()) in message


@pytest.mark.parametrize(
    ("path", "why"),
    [("landing/crm\x00_1", "null byte"), ("landing/loop", "symlink loop")],
)
def test_unusable_landing_path_is_a_clear_error(data_dir: Path, path: str, why: str) -> None:
    os.symlink(data_dir / "landing" / "loop", data_dir / "landing" / "loop")
    file = _sources(data_dir, path)
    with pytest.raises(SourcesConfigError) as error:
        load_sources(file)
    assert str(file) in str(error.value) and "'crm_1'" in str(error.value), why


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, "landing/crm_1"),
        ("exports/crm_1", "exports/crm_1"),
        ("landing/../exports/crm_1", "exports/crm_1"),  # `..` that stays inside is fine
        ("~/crm_1", "~/crm_1"),  # no home-folder expansion: a folder named "~"
        ("INSIDE_ABSOLUTE", "exports/crm_1"),  # an absolute path inside the data folder
    ],
)
def test_landing_folder_inside_the_data_folder_is_accepted(
    data_dir: Path, path: str | None, expected: str
) -> None:
    if path == "INSIDE_ABSOLUTE":
        path = str(data_dir / "exports" / "crm_1")
    config = load_sources(_sources(data_dir, path))
    assert landing_dir(data_dir, config.sources[0]) == data_dir.resolve() / expected


# --------------------------------------------------------------------------------------------
# (d) Configuration values cannot inject SQL
# --------------------------------------------------------------------------------------------

INJECTIONS = [
    "crm_1'; DROP TABLE profile.person; --",
    'crm_1"; DROP TABLE profile.person; --',
    "crm_1 OR 1=1",
    "crm_1)--",
    "crm_1\nDROP TABLE x",
    "crm_1\n",
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_source_names_are_identifiers_only(tmp_path: Path, name: str) -> None:
    """Source names are written into SQL text (raw table names, '<name>' literals, keys):
    only lower-case identifiers are accepted, in `name` and in the `synced_crm` reference."""
    for document in (
        {"sources": [{"name": name, "type": "salesforce"}]},
        {
            "sources": [
                {"name": "crm_1", "type": "salesforce"},
                {"name": "marketo_1", "type": "marketo", "synced_crm": name},
            ]
        },
    ):
        file = tmp_path / "sources.yaml"
        file.write_text(yaml.safe_dump(document), encoding="utf-8")
        with pytest.raises(SourcesConfigError) as error:
            load_sources(file)
        assert str(file) in str(error.value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "marketo_1_new_product'; DROP TABLE ops.activation_state; --"),
        ("name", 'x"."y'),
        ("name", "Upper"),
        ("instance", "marketo_1' OR '1'='1"),
        ("list_id", "1042; DROP TABLE ops.activation_log"),
        ("list_id", "1042 OR 1=1"),
    ],
)
def test_destination_values_cannot_inject_sql(tmp_path: Path, field: str, value: str) -> None:
    """Destination names go into `activation."<segment>__<name>"`; the Marketo instance is
    bound as a parameter and must be a marketo source; list ids are integers."""
    entry = {
        "name": "marketo_1_new_product",
        "type": "marketo_static_list",
        "instance": "marketo_1",
        "list_id": 1042,
        "client_secret_env": "MARKETO_1_CLIENT_SECRET",
        field: value,
    }
    file = tmp_path / "destinations.yaml"
    file.write_text(yaml.safe_dump({"destinations": [entry]}), encoding="utf-8")
    with pytest.raises(DestinationConfigError) as error:
        load_destinations(file, {"marketo_1"})
    assert str(file) in str(error.value)


def test_every_accepted_name_is_a_plain_sql_identifier() -> None:
    """What NAME_PATTERN accepts can be written into SQL text as a literal and an identifier
    without quoting: a table made from the longest accepted name round-trips."""
    longest = "a" + "z_9" * 20 + "xy"
    assert NAME_PATTERN.fullmatch(longest) and len(longest) == 63
    for rejected in (
        "",
        "1abc",
        "_abc",
        "abc-d",
        "abc d",
        "abc'",
        'ab"c',
        "Abc",
        "é",
        "a" * 64,
        "abc\n",
    ):
        assert not NAME_PATTERN.fullmatch(rejected), rejected
    con = duckdb.connect()
    try:
        con.execute("CREATE SCHEMA raw")
        con.execute(f"CREATE TABLE raw.{longest}__account AS SELECT '{longest}' AS source")
        assert con.execute(f"SELECT source FROM raw.{longest}__account").fetchall() == [(longest,)]
    finally:
        con.close()
