"""A Salesforce pull killed (SIGKILL) mid-way resumes without losing or duplicating a record, and
rows that do land twice (a query run again after its job was gone) are harmless in the raw layer."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import AssetKey

from b2b_assets.pulls.landing import PART_NAME
from b2b_assets.sources.catalog import SALESFORCE
from b2b_assets.sources.landing_names import scan_landing
from b2b_assets.sources.reader import SUPERSEDED
from b2b_assets_tests.conftest import DEMO_DATA, Run, copy_demo, materialize_env
from b2b_assets_tests.fakes import RecordedRequest
from b2b_assets_tests.fakes.salesforce import FakeSalesforce, format_csv_value
from b2b_assets_tests.pulls.helpers import LOG, landed_rows, pull_salesforce

PAGE = 20
ACCOUNTS = 12 * PAGE
CONTACTS = 8 * PAGE
SLOW_PAGE_SECONDS = 0.15
WAIT_SECONDS = 30.0
AUDIENCE = "SELECT email FROM audience.new_product_upsell ORDER BY email"
CONTACT_VALUES = (
    "SELECT * EXCLUDE (_file_name, _row_number, _loaded_at) FROM raw.crm_1__contact ORDER BY id"
)

# The pull as a separate process, so it can be killed: `python -c CHILD <url> <folder> <page>`,
# the client's credentials in the environment. Real sleeps, default retries: as in production.
# With KILL_TEST_AT it SIGKILLs itself while landing data part number KILL_TEST_PART: just before
# the part's rename (its hidden file torn in half) or just after it (its progress not applied).
CHILD = """
import logging, os, signal, sys
from pathlib import Path
from b2b_assets.apis.salesforce import SalesforceApi
from b2b_assets.pulls.landing import PullLanding
from b2b_assets.pulls.report import PullReport
from b2b_assets.pulls.salesforce import SalesforcePuller

url, folder, page = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
moment, replace, renames = os.environ.get("KILL_TEST_AT"), os.replace, []


def killing_replace(source, target):
    if moment and str(source).endswith(".csv.part"):
        renames.append(target)
        if len(renames) == int(os.environ["KILL_TEST_PART"]):
            if moment == "before_rename":
                os.truncate(source, os.path.getsize(source) // 2)
            else:
                replace(source, target)
            os.kill(os.getpid(), signal.SIGKILL)
    replace(source, target)


os.replace = killing_replace
api = SalesforceApi(
    url, url + "/services/oauth2/token",
    os.environ["KILL_TEST_CLIENT_ID"], os.environ["KILL_TEST_CLIENT_SECRET"],
)
puller = SalesforcePuller(api, PullLanding(folder), logging.getLogger("pull"), page_records=page)
puller.pull(PullReport("crm_1"))
print("pulled to the end", flush=True)
"""


class SlowPagesOrg(FakeSalesforce):
    """A fake org whose injections (here "slow") apply only to result pages (`…/results`), so
    creating and polling jobs stays quick while each page takes a while."""

    def eligible_for_injection(self, request: RecordedRequest) -> bool:
        return request.path.endswith("/results")


def _fill(org: FakeSalesforce) -> None:
    """Accounts and contacts enough for many pages of PAGE records (whole pages only)."""
    accounts = [
        org.put("Account", {"Name": f"Account {n:03d}", "Industry": "Retail"})
        for n in range(ACCOUNTS)
    ]
    for n in range(CONTACTS):
        org.put(
            "Contact",
            {
                "AccountId": accounts[n % ACCOUNTS],
                "Email": f"person{n:03d}@example.com",
                "LastName": f"Person {n:03d}",
            },
        )


def _visible(folder: Path) -> list[Path]:
    """Every file of the object folders a reader would see (not hidden, not the state)."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
    )


def _leftovers(folder: Path) -> list[Path]:
    """Hidden files anywhere under the landing folder (unfinished parts, a half-written state)."""
    return sorted(path for path in folder.rglob(".*") if path.is_file())


def _assert_whole_parts(folder: Path) -> None:
    """Every visible file is a part by its name and whole: a header and PAGE complete rows."""
    visible = _visible(folder)
    assert all(PART_NAME.fullmatch(path.name) for path in visible), visible
    listed = {folder / name for name in scan_landing(folder, [s.name for s in SALESFORCE])}
    assert listed == set(visible)
    for path in visible:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), f"{path.name} ends mid-row"
        header, *rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == PAGE and all(len(row) == len(header) for row in rows), path.name


def _count(folder: Path, object_name: str) -> int:
    target = folder / object_name
    return (
        len([p for p in target.iterdir() if PART_NAME.fullmatch(p.name)]) if target.exists() else 0
    )


def _child(
    org: FakeSalesforce, folder: Path, page: int = PAGE, **env: str
) -> subprocess.Popen[str]:
    """The pull of `org` into `folder` started in a child process (see CHILD)."""
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, org.url, str(folder), str(page)],
        env={
            **os.environ,
            "KILL_TEST_CLIENT_ID": org.client_id,
            "KILL_TEST_CLIENT_SECRET": org.client_secret,
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _pull_killed_when(org: FakeSalesforce, folder: Path, landed: Callable[[], bool]) -> str:
    """Start the pull in a child process, SIGKILL it as soon as `landed()` holds; its output."""
    child = _child(org, folder)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not landed():
            if child.poll() is not None:
                pytest.fail(f"the pull ended before it was killed:\n{child.communicate()[0]}")
            if time.monotonic() > deadline:
                pytest.fail(f"nothing landed within {WAIT_SECONDS:.0f}s")
            time.sleep(0.01)
        child.kill()  # SIGKILL: no handler, no cleanup
    finally:
        if child.poll() is None:
            child.kill()
        output = child.communicate(timeout=WAIT_SECONDS)[0]
    assert child.returncode == -9, output
    return output


def _state(folder: Path) -> dict:
    return json.loads((folder / "_pull" / "state.json").read_text())["objects"]


@pytest.fixture
def org() -> Iterator[SlowPagesOrg]:
    """An org with many pages of accounts and contacts."""
    with SlowPagesOrg(polls_to_complete=1, client_secret="kill-test-secret-Pq9") as fake:
        _fill(fake)
        yield fake


def _resume_and_check(org: FakeSalesforce, folder: Path, resumed: str) -> None:
    """Resume the pull in-process; then every record of the org has landed exactly once, the
    parts landed before stay, nothing hidden is left, and the marks are the newest records'.
    `resumed` names the object whose job was in flight: it goes on from its page, with no new
    query; the objects pulled whole before are asked only for what changed since."""
    landed_before = set(_visible(folder))
    jobs_before = len(org.requests_to("/services/data", "POST"))
    org.clear_injections()
    report = pull_salesforce(org, folder, page_records=PAGE)

    queries = [r.body["query"] for r in org.requests_to("/services/data", "POST")[jobs_before:]]
    names = [spec.name for spec in SALESFORCE]
    assert [query.split(" FROM ")[1].split()[0] for query in queries] == [
        name for name in names if name != resumed
    ]
    for query in queries:
        incremental = names.index(query.split(" FROM ")[1].split()[0]) < names.index(resumed)
        assert (" WHERE SystemModstamp > " in query) == incremental, query
    assert landed_before <= set(_visible(folder)), "a part landed before the kill was removed"
    _assert_whole_parts(folder)
    assert _leftovers(folder) == []
    for name, records in org.records.items():
        ids = Counter(row["Id"] for row in landed_rows(folder, name))
        assert ids == Counter(list(records)), f"{name}: lost or duplicated records"
    # It fetched only what had not landed: a part renamed into place before the kill counts.
    assert report.rows == ACCOUNTS + CONTACTS - PAGE * len(landed_before)
    state = _state(folder)
    pulled = {o.name: o for o in report.objects}
    for name in ("Account", "Contact"):
        newest = max(record["SystemModstamp"] for record in org.records[name].values())
        assert state[name]["high_water_mark"] == format_csv_value(newest)
        assert pulled[name].high_water_mark == state[name]["high_water_mark"]
        assert state[name]["job"] is None and "pending" not in state[name]

    # Nothing more to pull: the next pull lands nothing and leaves the marks where they are.
    assert pull_salesforce(org, folder, page_records=PAGE).rows == 0
    assert _state(folder) == state


def test_a_pull_killed_at_any_moment_resumes_without_loss_or_duplicates(
    org: SlowPagesOrg, tmp_path: Path
) -> None:
    """Each result page slow to come; the pull killed from outside three times, as soon as a
    part appears (mid-Account twice, then just into Contact); then resumed in-process."""
    folder = tmp_path / "landing" / "crm_1"
    org.inject("slow", times=10_000, delay=SLOW_PAGE_SECONDS)
    outputs = [_pull_killed_when(org, folder, lambda: _count(folder, "Account") > 0)]
    _assert_whole_parts(folder)
    assert 0 < _count(folder, "Account") < ACCOUNTS // PAGE, "not killed mid-object"

    before = _count(folder, "Account")
    outputs.append(_pull_killed_when(org, folder, lambda: _count(folder, "Account") > before))
    _assert_whole_parts(folder)
    assert _count(folder, "Account") < ACCOUNTS // PAGE, "not killed mid-object"
    assert _state(folder)["Account"]["job"] is not None

    outputs.append(_pull_killed_when(org, folder, lambda: _count(folder, "Contact") > 0))
    _assert_whole_parts(folder)
    assert _count(folder, "Contact") < CONTACTS // PAGE, "not killed mid-object"
    assert not any(org.client_secret in output for output in outputs)

    _resume_and_check(org, folder, "Contact")


@pytest.mark.parametrize("moment", ["before_rename", "after_rename"])
def test_a_pull_killed_while_landing_a_part_resumes_without_loss_or_duplicates(
    org: SlowPagesOrg, tmp_path: Path, moment: str
) -> None:
    """The pull kills itself while landing the third Account part: before its rename (the
    hidden file torn, the state naming it pending) or just after (the part in place, its
    progress not yet applied). The resume forgets the first, keeps the second, lands the rest."""
    folder = tmp_path / "landing" / "crm_1"
    child = _child(org, folder, KILL_TEST_AT=moment, KILL_TEST_PART="3")
    output = child.communicate(timeout=WAIT_SECONDS)[0]
    assert child.returncode == -9, output

    pending = _state(folder)["Account"]["pending"]["part"]
    if moment == "before_rename":
        assert [p.name for p in _leftovers(folder)] == [f".{pending}.part"]
        assert _count(folder, "Account") == 2
    else:
        assert (folder / "Account" / pending).is_file() and _count(folder, "Account") == 3
    _assert_whole_parts(folder)

    _resume_and_check(org, folder, "Account")
    assert (folder / "Account" / pending).exists() == (moment == "after_rename")


def _profiles(run: Run) -> dict[str, list[tuple]]:
    """The downstream tables a duplicate could change, every row in a fixed order."""
    return {
        table: run.query(f"SELECT * FROM {table} ORDER BY ALL")
        for table in ("profile.person", "profile.account", "audience.new_product_upsell")
    }


def _demo_without_crm_1(root: Path) -> tuple[Path, Path]:
    """The demo data folder with CRM 1's extracts replaced by an empty landing folder to pull
    into (the other sources stay dropped files): (data folder, CRM 1's landing folder)."""
    data_dir = copy_demo(root / "data")
    folder = data_dir / "landing" / "crm_1"
    shutil.rmtree(folder)
    return data_dir, folder


def test_rows_landed_twice_are_kept_once_in_the_raw_layer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """CRM 1's pull killed after two pages of contacts, its query job then gone (Salesforce
    deletes old jobs): the resume queries again and lands those contacts a second time. The raw
    table keeps each once, the copies are accounted for as superseded, and the profiles and the
    audience are those of a clean pull."""
    caplog.set_level(logging.INFO, logger=LOG.name)
    with FakeSalesforce(polls_to_complete=1) as org:
        org.load_landing(DEMO_DATA / "landing" / "crm_1")
        clean_dir, clean = _demo_without_crm_1(tmp_path / "clean")
        assert pull_salesforce(org, clean, page_records=2).rows == sum(
            len(records) for records in org.records.values()
        )

        twice_dir, folder = _demo_without_crm_1(tmp_path / "twice")
        account_parts = -(-len(org.records["Account"]) // 2)
        child = _child(
            org, folder, 2, KILL_TEST_AT="after_rename", KILL_TEST_PART=str(account_parts + 2)
        )
        output = child.communicate(timeout=WAIT_SECONDS)[0]
        assert child.returncode == -9, output
        landed_once = Counter(row["Id"] for row in landed_rows(folder, "Contact"))
        assert sum(landed_once.values()) == 4
        with org.lock:
            org.jobs.clear()
        pull_salesforce(org, folder, page_records=2)
    assert "Contact: the interrupted job is gone; querying again" in caplog.text
    contacts = org.records["Contact"]
    ids = Counter(row["Id"] for row in landed_rows(folder, "Contact"))
    assert ids == Counter(list(contacts)) + landed_once
    assert _leftovers(folder) == []

    first = materialize_env(clean_dir, tmp_path / "clean" / "warehouse.duckdb")
    second = materialize_env(twice_dir, tmp_path / "twice" / "warehouse.duckdb")
    assert first.result.success and second.result.success
    assert first.query(AUDIENCE) == second.query(AUDIENCE) == [("p2@townsend.com",)]
    assert _profiles(second) == _profiles(first)

    n, copies = len(contacts), sum(landed_once.values())
    accounting = (
        "SELECT rows_read, rows_kept, rows_quarantined, reasons FROM ops.row_accounting "
        "WHERE source_instance = 'crm_1' AND object = 'Contact' ORDER BY loaded_at DESC LIMIT 1"
    )
    assert first.query(accounting) == [(n, n, 0, "{}")]
    assert second.query("SELECT count(*), count(DISTINCT id) FROM raw.crm_1__contact") == [(n, n)]
    assert {row[0] for row in second.query("SELECT id FROM raw.crm_1__contact")} == set(contacts)
    # The same values as the clean pull's, row for row (only where each row was read differs).
    assert second.query(CONTACT_VALUES) == first.query(CONTACT_VALUES)
    quarantined = second.query(
        "SELECT reason, count(*) FROM raw.quarantine "
        "WHERE source_instance = 'crm_1' AND object = 'Contact' GROUP BY reason"
    )
    assert quarantined == [(SUPERSEDED, copies)]
    ((read, kept, set_aside, reasons),) = second.query(accounting)
    assert (read, kept, set_aside) == (n + copies, n, copies)
    assert json.loads(reasons) == {SUPERSEDED: copies}
    (check,) = [
        c
        for c in second.result.get_asset_check_evaluations()
        if c.asset_key == AssetKey(["raw", "crm_1__contact"]) and c.check_name == "quarantine"
    ]
    # Superseded copies are not problems: the load's quarantine check passes, and counts them.
    assert check.passed and check.description == "Contact of crm_1: every row kept"
    assert check.metadata["superseded_rows"].value == copies
    assert check.metadata["rows_quarantined"].value == 0
