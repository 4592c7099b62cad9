"""Pulling from the fake APIs in tests: clients pointed at a fake, without waits."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from b2b_assets.apis.http import RetrySettings
from b2b_assets.apis.marketo import MarketoApi, MarketoError
from b2b_assets.apis.salesforce import SalesforceApi
from b2b_assets.pulls.landing import PullLanding
from b2b_assets.pulls.marketo import MarketoPuller
from b2b_assets.pulls.report import PullReport
from b2b_assets.pulls.salesforce import SalesforcePuller
from b2b_assets.sources.config import MarketoPull
from b2b_assets_tests.fakes.salesforce import FakeSalesforce

LOG = logging.getLogger("b2b_assets_tests.pulls")
QUICK = RetrySettings(attempts=4, backoff_initial=0.01, backoff_max=0.05, backoff_jitter=0.0)


class Sleeps:
    """A sleep that only records how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def salesforce_api(fake: FakeSalesforce, sleep: Sleeps | None = None) -> SalesforceApi:
    return SalesforceApi(
        fake.url,
        f"{fake.url}/services/oauth2/token",
        fake.client_id,
        fake.client_secret,
        retry=QUICK,
        sleep=sleep or Sleeps(),
    )


def pull_salesforce(
    fake: FakeSalesforce, folder: Path, *, page_records: int = 2, sleep: Sleeps | None = None
) -> PullReport:
    api = salesforce_api(fake, sleep)
    try:
        puller = SalesforcePuller(
            api, PullLanding(folder), LOG, sleep=sleep or Sleeps(), page_records=page_records
        )
        return puller.pull(PullReport("crm"))
    finally:
        api.close()


def marketo_settings(fake, **options) -> MarketoPull:
    return MarketoPull(
        endpoint=fake.url,
        identity_endpoint=f"{fake.url}/identity",
        client_id_env="MARKETO_TEST_CLIENT_ID",
        client_secret_env="MARKETO_TEST_CLIENT_SECRET",
        **options,
    )


def pull_marketo(
    fake,
    folder: Path,
    *,
    since: str = "2025-10-01T00:00:00Z",
    crm_folder: Path | None = None,
    sleep: Sleeps | None = None,
    **options,
) -> PullReport:
    api = MarketoApi(
        fake.url,
        f"{fake.url}/identity",
        fake.client_id,
        fake.client_secret,
        retry=QUICK,
        rate_limit=(10_000, 1),
        sleep=sleep or Sleeps(),
        error=MarketoError,
    )
    try:
        puller = MarketoPuller(
            api,
            PullLanding(folder),
            marketo_settings(fake, since=since, **options),
            LOG,
            sleep=sleep or Sleeps(),
            crm_folder=crm_folder,
        )
        return puller.pull(PullReport("marketo"))
    finally:
        api.close()


def landed_rows(folder: Path, object_name: str) -> list[dict[str, str]]:
    """Every row of every part landed for the object, oldest part first."""
    rows: list[dict[str, str]] = []
    target = folder / object_name
    for part in sorted(target.glob("*.csv")) if target.is_dir() else []:
        rows += list(csv.DictReader(io.StringIO(part.read_text(encoding="utf-8"))))
    return rows


def hidden_files(folder: Path) -> list[Path]:
    """Unfinished parts left behind (hidden `.…part` files)."""
    return [p for p in folder.rglob(".*") if p.is_file() and p.name.endswith(".part")]
