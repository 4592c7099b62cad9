"""The seed scenario served by fake Salesforce orgs and Marketo instances, and an environment
whose `sources.yaml` pulls from them (the MDM's extract is still dropped in)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from b2b_assets_tests.conftest import copy_demo
from b2b_assets_tests.fakes.marketo_source import FakeMarketoSource
from b2b_assets_tests.fakes.salesforce import FakeSalesforce

SINCE = "2025-10-01T00:00:00Z"


@dataclass
class Served:
    data_dir: Path
    crm: dict[str, FakeSalesforce]
    marketo: dict[str, FakeMarketoSource]

    def credentials(self) -> dict[str, str]:
        """The environment variables the pull blocks name, and their values."""
        values = {}
        for name, fake in {**self.crm, **self.marketo}.items():
            values[f"{name.upper()}_CLIENT_ID"] = fake.client_id
            values[f"{name.upper()}_CLIENT_SECRET"] = fake.client_secret
        return values

    def secrets(self) -> list[str]:
        """Every secret of the fakes: client secrets and every token they issued."""
        fakes = [*self.crm.values(), *self.marketo.values()]
        return [
            *(fake.client_secret for fake in fakes),
            *(token for fake in fakes for token in fake.issued_tokens),
        ]


def pull_block(name: str, fake: FakeSalesforce | FakeMarketoSource) -> dict:
    credentials = {
        "client_id_env": f"{name.upper()}_CLIENT_ID",
        "client_secret_env": f"{name.upper()}_CLIENT_SECRET",
    }
    if isinstance(fake, FakeSalesforce):
        return {
            "instance_url": fake.url,
            "token_url": f"{fake.url}/services/oauth2/token",
            **credentials,
        }
    return {
        "endpoint": fake.url,
        "identity_endpoint": f"{fake.url}/identity",
        "since": SINCE,
        **credentials,
    }


@contextmanager
def served_demo(root: Path, monkeypatch: pytest.MonkeyPatch, **marketo_options) -> Iterator[Served]:
    """The demo's CRM and Marketo extracts served by fakes; its landing folders emptied; the
    sources pull from the fakes. The client's Marketo rate limit is lifted so tests stay quick
    (the fakes keep theirs unless told otherwise)."""
    data_dir = copy_demo(root / "data")
    landing = data_dir / "landing"
    with ExitStack() as stack:
        crm = {
            name: stack.enter_context(FakeSalesforce(client_secret=f"{name}-sf-secret-Qw3"))
            for name in ("crm_1", "crm_2")
        }
        options = {
            "rate_limit": (100_000, 20.0),
            "clock_start": datetime.now(UTC) - timedelta(hours=1),
            **marketo_options,
        }
        marketo = {
            name: stack.enter_context(
                FakeMarketoSource(client_secret=f"{name}-mkto-secret-Zx7", **options)
            )
            for name in ("marketo_1", "marketo_2")
        }
        for name, fake in {**crm, **marketo}.items():
            fake.load_landing(landing / name)
            shutil.rmtree(landing / name)
        config = yaml.safe_load((data_dir / "sources.yaml").read_text())
        for source in config["sources"]:
            fake = crm.get(source["name"]) or marketo.get(source["name"])
            if fake is not None:
                source["pull"] = pull_block(source["name"], fake)
        (data_dir / "sources.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        served = Served(data_dir, crm, marketo)
        for variable, value in served.credentials().items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setattr("b2b_assets.pulls.assets.MARKETO_RATE_LIMIT", (100_000, 1))
        yield served
