"""Bad inputs: `sources.yaml` mistakes, each a `SourcesConfigError` naming the file and the entry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from b2b_assets.sources.config import SourcesConfigError, load_sources


@dataclass(frozen=True)
class SourcesCase:
    id: str
    text: str
    names: tuple[str, ...]  # what the message must name besides the file
    symlink: tuple[str, str] | None = None  # (link inside the data folder, target outside)


SF_PULL = (
    "      instance_url: https://bodea.my.salesforce.com\n"
    "      token_url: https://bodea.my.salesforce.com/services/oauth2/token\n"
)
SF_ENV = "      client_id_env: CRM_1_ID\n      client_secret_env: CRM_1_SECRET\n"

SOURCES_CASES = [
    SourcesCase(
        "key_typo",
        "sources:\n  - {name: crm_1, tpye: salesforce}\n",
        ("sources.0", "tpye"),
    ),
    SourcesCase(
        "type_typo",
        "sources:\n  - {name: crm_1, type: salesforce}\n  - {name: mkt, type: markteo}\n",
        ("sources.1.type",),
    ),
    SourcesCase(
        "synced_crm_typo",
        "sources:\n  - {name: crm_1, type: salesforce}\n"
        "  - {name: marketo_1, type: marketo, synced_crm: crm1}\n",
        ("marketo_1", "crm1"),
    ),
    SourcesCase(
        "top_level_typo",
        "source:\n  - {name: crm_1, type: salesforce}\n",
        ("source",),
    ),
    SourcesCase(
        "unclosed_flow_mapping",
        "sources:\n  - {name: crm_1, type: salesforce\n",
        ("not valid YAML",),
    ),
    SourcesCase(
        "path_escaping_with_dot_dot",
        "sources:\n  - {name: crm_1, type: salesforce, path: landing/../../outside}\n",
        ("crm_1", "landing/../../outside"),
    ),
    SourcesCase(
        "absolute_path_outside",
        "sources:\n  - {name: crm_1, type: salesforce, path: /etc}\n",
        ("crm_1", "/etc"),
    ),
    SourcesCase(
        "default_landing_folder_is_a_symlink_outside",
        "sources:\n  - {name: crm_1, type: salesforce}\n",
        ("crm_1",),
        symlink=("landing/crm_1", "outside"),
    ),
    SourcesCase(
        "pull_secret_env_not_a_variable_name",
        "sources:\n  - name: crm_1\n    type: salesforce\n    pull:\n"
        f"{SF_PULL}      client_id_env: CRM_1_ID\n      client_secret_env: 's3cr3t value'\n",
        ("crm_1", "client_secret_env", "not an environment variable name"),
    ),
    SourcesCase(
        "pull_every_minutes_off_the_clock",
        "sources:\n  - name: crm_1\n    type: salesforce\n    pull:\n"
        f"{SF_PULL}{SF_ENV}      every_minutes: 7\n",
        ("crm_1", "every_minutes"),
    ),
    SourcesCase(
        "pull_url_not_http",
        "sources:\n  - name: crm_1\n    type: salesforce\n    pull:\n"
        "      instance_url: ftp://bodea.my.salesforce.com\n"
        f"      token_url: https://bodea.my.salesforce.com/services/oauth2/token\n{SF_ENV}",
        ("crm_1", "instance_url"),
    ),
    SourcesCase(
        "pull_on_the_mdm",
        f"sources:\n  - name: mdm\n    type: mdm\n    pull:\n{SF_PULL}{SF_ENV}",
        ("mdm", "pull"),
    ),
    SourcesCase(
        "pull_unknown_setting",
        "sources:\n  - name: crm_1\n    type: salesforce\n    pull:\n"
        f"{SF_PULL}{SF_ENV}      client_secret: hunter2\n",
        ("crm_1", "client_secret"),
    ),
]


def write_sources(case: SourcesCase, tmp_path: Path) -> Path:
    data_dir = tmp_path / "env"
    data_dir.mkdir()
    path = data_dir / "sources.yaml"
    path.write_text(case.text, encoding="utf-8")
    if case.symlink:
        link, target = case.symlink
        (tmp_path / target).mkdir()
        (data_dir / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(tmp_path / target, data_dir / link)
    return path


@pytest.mark.parametrize("case", SOURCES_CASES, ids=[c.id for c in SOURCES_CASES])
def test_bad_sources_yaml(case: SourcesCase, tmp_path: Path) -> None:
    path = write_sources(case, tmp_path)
    with pytest.raises(SourcesConfigError) as error:
        load_sources(path)
    message = str(error.value)
    assert str(path) in message
    for name in case.names:
        assert name in message, f"{name!r} not in {message!r}"


def test_bad_sources_yaml_stops_the_definitions_with_the_same_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from b2b_assets.definitions import build_definitions

    path = write_sources(SOURCES_CASES[5], tmp_path)
    monkeypatch.setenv("B2B_DATA_DIR", str(path.parent))
    monkeypatch.setenv("B2B_WAREHOUSE", str(tmp_path / "w.duckdb"))
    with pytest.raises(SourcesConfigError) as error:
        build_definitions()
    assert str(path) in str(error.value) and "leaves the data folder" in str(error.value)
