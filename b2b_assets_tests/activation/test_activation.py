"""Activation over several runs against fake Marketo and LinkedIn servers on 127.0.0.1:
people enter, stay, lose consent and age out; each destination ends holding exactly the desired
members, LinkedIn never sees a plain email, secrets never reach logs or metadata."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetSelection

from b2b_assets.activation import delivery, ledger
from b2b_assets.activation.config import MarketoStaticList
from b2b_assets.activation.delivery import DeliveryReport
from b2b_assets.activation.linkedin import LinkedInAudienceClient
from b2b_assets.activation.marketo import MarketoStaticListClient
from b2b_assets.activation.outbox import OutboxTransport, partial
from b2b_assets.activation.transport import Change
from b2b_assets.resources import DuckDBWarehouse
from b2b_assets_tests.conftest import copy_demo, materialize_env
from b2b_assets_tests.fakes.linkedin import FakeLinkedIn
from b2b_assets_tests.fakes.marketo import FakeMarketo

LIST_ID, SEGMENT_ID = 1042, 18842011
CLIENT_ID, CLIENT_SECRET, TOKEN = (
    "act-client-id",
    "act-client-secret-5b7c",
    "act-linkedin-token-9f3d",
)
P1_LEAD, P2_LEAD = 48211, 48212
DELIVERY = AssetSelection.groups("activation")
AUDIENCES = AssetSelection.groups("audience", "activation")


def downstream_of(*raw: str) -> AssetSelection:
    """A raw asset and everything after it: what the sensors and automation would run."""
    return AssetSelection.assets(*(AssetKey(["raw", name]) for name in raw)).downstream()


def sha(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _point_destinations(data_dir: Path, marketo: FakeMarketo, linkedin: FakeLinkedIn) -> None:
    path = data_dir / "destinations.yaml"
    config = yaml.safe_load(path.read_text())
    for destination in config["destinations"]:
        if destination["type"] == "marketo_static_list":
            destination["endpoint"] = marketo.url
            destination["identity_endpoint"] = f"{marketo.url}/identity"
        else:
            destination["endpoint"] = linkedin.url
    path.write_text(yaml.safe_dump(config))


def _append_activity(data_dir: Path, guid: str, lead: int, when: str, url: str) -> None:
    attributes = json.dumps({"Webpage URL": url}).replace('"', '""')
    line = f'{guid},{lead},{when},1,,,www.bodea.com{url},"{attributes}"\r\n'  # the file's CRLF
    with (data_dir / "landing" / "marketo_1" / "activities.csv").open("a") as handle:
        handle.write(line)


def _unsubscribe(data_dir: Path, lead_id: str) -> None:
    path = data_dir / "landing" / "marketo_2" / "leads.csv"
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    column = header.index("unsubscribed")
    for index, line in enumerate(lines):
        cells = line.rstrip("\r\n").split(",")
        if cells[0] == lead_id:
            cells[column] = "true"
            lines[index] = ",".join(cells) + "\r\n"
    path.write_text("".join(lines))


@pytest.fixture
def fakes():
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


def test_deltas_converge_over_runs(tmp_path, fakes, monkeypatch, caplog):
    marketo, linkedin = fakes
    monkeypatch.setenv("MARKETO_1_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", TOKEN)
    data_dir = copy_demo(tmp_path / "data")
    _point_destinations(data_dir, marketo, linkedin)
    warehouse = tmp_path / "warehouse.duckdb"
    caplog.set_level(logging.DEBUG)

    # Run 1: p2 enters both destinations.
    run = materialize_env(data_dir, warehouse, "2026-11-15")
    assert marketo.members(LIST_ID) == {P2_LEAD}
    assert linkedin.members(SEGMENT_ID) == {sha("p2@townsend.com")}

    # Run 2, nothing changed: nothing is sent.
    requests_before = len(marketo.rest_requests()), len(linkedin.requests)
    run = materialize_env(data_dir, warehouse, "2026-11-15", selection=DELIVERY)
    assert (len(marketo.rest_requests()), len(linkedin.requests)) == requests_before
    assert marketo.members(LIST_ID) == {P2_LEAD}

    # Run 3: p1 visits the page too and enters; p2 stays.
    _append_activity(data_dir, "900001", P1_LEAD, "2026-11-10T08:00:00Z", "/products/new-software")
    run = materialize_env(
        data_dir, warehouse, "2026-11-15", selection=downstream_of("marketo_1__activities")
    )
    assert marketo.members(LIST_ID) == {P1_LEAD, P2_LEAD}
    assert linkedin.members(SEGMENT_ID) == {sha("p1@townsend.com"), sha("p2@townsend.com")}

    # Run 4: p2 unsubscribes in Marketo 2 (least permissive wins): removed from both.
    _unsubscribe(data_dir, "51007")
    run = materialize_env(
        data_dir, warehouse, "2026-11-15", selection=downstream_of("marketo_2__leads")
    )
    assert run.scalar("SELECT count(*) FROM audience.new_product_upsell") == 2
    assert marketo.members(LIST_ID) == {P1_LEAD}
    assert linkedin.members(SEGMENT_ID) == {sha("p1@townsend.com")}

    # Run 5: time moves on; p1's visit is older than 30 days: removed.
    run = materialize_env(data_dir, warehouse, "2026-12-11", selection=AUDIENCES)
    assert marketo.members(LIST_ID) == set()
    assert linkedin.members(SEGMENT_ID) == set()
    state = run.scalar("SELECT count(*) FROM ops.activation_state")
    assert state == 0

    # No plain email ever left for LinkedIn; no secret in logs or in any materialization metadata.
    bodies = json.dumps([request.body for request in linkedin.requests])
    assert "@" not in bodies
    logged = caplog.text
    for secret in (CLIENT_SECRET, TOKEN):
        assert secret not in logged
    metadata = json.dumps(
        [str(event.event_specific_data) for event in run.result.all_events], default=str
    )
    for secret in (CLIENT_ID, CLIENT_SECRET, TOKEN):
        assert secret not in metadata


def _append_marketo_2_visit(data_dir: Path, guid: str, lead: int, when: str) -> None:
    attributes = json.dumps({"Webpage URL": "/products/new-software"}).replace('"', '""')
    line = f'{guid},{lead},{when},1,,,www.bodea.com/products/new-software,"{attributes}"\r\n'
    with (data_dir / "landing" / "marketo_2" / "activities.csv").open("a") as handle:
        handle.write(line)


def test_failed_delivery_resumes_and_missing_leads_are_created(tmp_path, fakes, monkeypatch):
    marketo, linkedin = fakes
    monkeypatch.setenv("MARKETO_1_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", TOKEN)
    data_dir = copy_demo(tmp_path / "data")
    _point_destinations(data_dir, marketo, linkedin)
    path = data_dir / "destinations.yaml"
    config = yaml.safe_load(path.read_text())
    for destination in config["destinations"]:
        destination.update(retry_attempts=2, backoff_seconds=0)
        if destination["type"] == "marketo_static_list":
            destination["create_missing_leads"] = True
    path.write_text(yaml.safe_dump(config))
    # p3 (only a Marketo 2 lead) visits the page: no lead in Marketo 1 until one is created.
    _append_marketo_2_visit(data_dir, "900002", 51008, "2026-11-12T09:00:00Z")
    warehouse = tmp_path / "warehouse.duckdb"

    # Run 1: LinkedIn answers 500 more often than the retries allow: its activation fails and
    # records nothing; Marketo succeeds, creating p3's lead in Marketo 1.
    linkedin.inject(500, times=5)
    run = materialize_env(data_dir, warehouse, "2026-11-15", raise_on_error=False)
    assert "activation__new_product_upsell__linkedin_new_product" in run.failed_steps()
    assert linkedin.members(SEGMENT_ID) == set()
    assert (
        run.scalar(
            "SELECT count(*) FROM ops.activation_state WHERE destination = 'linkedin_new_product'"
        )
        == 0
    )
    created = {lead for lead, email in marketo.leads.items() if email == "p3@townsend.com"}
    assert len(created) == 1
    assert marketo.members(LIST_ID) == {P2_LEAD, *created}

    # Run 2: LinkedIn is back; the run resumes and converges, nothing is added twice.
    linkedin.clear_injections()
    run = materialize_env(data_dir, warehouse, "2026-11-15", selection=DELIVERY)
    assert linkedin.members(SEGMENT_ID) == {sha("p2@townsend.com"), sha("p3@townsend.com")}
    assert marketo.members(LIST_ID) == {P2_LEAD, *created}
    marketo_adds = [
        item["id"]
        for request in marketo.rest_requests()
        if request.method == "POST" and request.path.endswith(f"/lists/{LIST_ID}/leads.json")
        for item in request.body["input"]
    ]
    assert sorted(marketo_adds) == sorted({P2_LEAD, *created})


# ------------------------------------------------------------------------------------------------
# A crash between a destination accepting a batch and the warehouse recording it
# ------------------------------------------------------------------------------------------------


class ProcessKilled(BaseException):
    """Stands in for the process dying: raised where the acknowledged batch would be recorded."""


def crash_when_recording(mp: pytest.MonkeyPatch, batch: int) -> None:
    """The `batch`-th acknowledged batch of each destination is sent, then the run dies before it
    is recorded (reconciliations are recorded as usual)."""
    real = delivery._record
    seen: Counter[str] = Counter()

    def record(con, destination, segment, results, run_id, batch_id, batch_status):
        if batch_status == ledger.ACKNOWLEDGED:
            seen[destination] += 1
            if seen[destination] == batch:
                raise ProcessKilled(f"killed after sending batch {batch_id}")
        return real(con, destination, segment, results, run_id, batch_id, batch_status)

    mp.setattr(delivery, "_record", record)


def state(run, destination: str) -> set[str]:
    rows = run.query(
        "SELECT member_id FROM ops.activation_state WHERE destination = $d", {"d": destination}
    )
    return {row[0] for row in rows}


def batch_statuses(run, destination: str) -> list[str]:
    rows = run.query(
        "SELECT status FROM ops.activation_batch WHERE destination = $d ORDER BY batch_no",
        {"d": destination},
    )
    return [row[0] for row in rows]


def linkedin_adds(linkedin: FakeLinkedIn) -> Counter[str]:
    return Counter(
        element["userIds"][0]["idValue"]
        for request in linkedin.requests
        if request.status == 200
        for element in request.body["elements"]
        if element["action"] == "ADD"
    )


MARKETO, LINKEDIN = "marketo_1_new_product", "linkedin_new_product"


def test_crash_after_the_destination_accepted_a_batch_converges(tmp_path, fakes, monkeypatch):
    """Batches of one: each destination acknowledges its second add, then the run dies before
    recording it. The next run asks Marketo (Member of List) and records p2 without adding it
    again; LinkedIn, which cannot be asked, gets the interrupted batch once more."""
    marketo, linkedin = fakes
    monkeypatch.setenv("MARKETO_1_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_1_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("LINKEDIN_ACCESS_TOKEN", TOKEN)
    monkeypatch.setattr(MarketoStaticListClient, "max_batch", 1)
    monkeypatch.setattr(LinkedInAudienceClient, "max_batch", 1)
    data_dir = copy_demo(tmp_path / "data")
    _point_destinations(data_dir, marketo, linkedin)
    _append_activity(data_dir, "900001", P1_LEAD, "2026-11-10T08:00:00Z", "/products/new-software")
    warehouse = tmp_path / "warehouse.duckdb"
    hashes = {sha("p1@townsend.com"), sha("p2@townsend.com")}

    with pytest.MonkeyPatch.context() as mp:
        crash_when_recording(mp, batch=2)
        run = materialize_env(data_dir, warehouse, "2026-11-15", raise_on_error=False)
    assert {f"activation__new_product_upsell__{d}" for d in (MARKETO, LINKEDIN)} <= (
        run.failed_steps()
    )
    assert marketo.members(LIST_ID) == {P1_LEAD, P2_LEAD}  # both were sent...
    assert linkedin.members(SEGMENT_ID) == hashes
    assert state(run, MARKETO) == {str(P1_LEAD)}  # ...only the first was recorded
    assert batch_statuses(run, MARKETO) == ["acknowledged", "pending"]
    assert batch_statuses(run, LINKEDIN) == ["acknowledged", "pending"]

    run = materialize_env(data_dir, warehouse, "2026-11-15", selection=DELIVERY)
    assert sorted(marketo.list_adds(LIST_ID)) == [P1_LEAD, P2_LEAD]  # each added exactly once
    checks = marketo.requests_to(f"/rest/v1/lists/{LIST_ID}/leads/ismember.json", "GET")
    assert [request.query["id"] for request in checks] == [[str(P2_LEAD)]]
    assert marketo.members(LIST_ID) == {P1_LEAD, P2_LEAD}
    assert state(run, MARKETO) == {str(P1_LEAD), str(P2_LEAD)}
    assert batch_statuses(run, MARKETO) == ["acknowledged", "reconciled"]
    reconciled = run.query(
        "SELECT member_id, status, reason FROM ops.activation_log WHERE destination = $d "
        "AND reason IS NOT NULL",
        {"d": MARKETO},
    )
    assert reconciled == [(str(P2_LEAD), "added", delivery.RECONCILED_REASON)]
    # LinkedIn: the interrupted batch was sent again (an ADD of a present member is a no-op).
    interrupted = max(hashes)  # batches go in member order
    assert linkedin_adds(linkedin) == {min(hashes): 1, interrupted: 2}
    assert linkedin.members(SEGMENT_ID) == hashes == state(run, LINKEDIN)
    assert batch_statuses(run, LINKEDIN) == ["acknowledged", "unconfirmed", "acknowledged"]
    assert run.scalar(
        f'SELECT list(member_id ORDER BY member_id) FROM activation."new_product_upsell__{MARKETO}"'
    ) == [str(P1_LEAD), str(P2_LEAD)]

    # Normal operation afterwards: nothing pending, nothing asked, nothing sent again.
    before = len(marketo.requests), len(linkedin.requests)
    run = materialize_env(data_dir, warehouse, "2026-11-15", selection=DELIVERY)
    assert (len(marketo.requests), len(linkedin.requests)) == before
    assert "pending" not in batch_statuses(run, MARKETO) + batch_statuses(run, LINKEDIN)


def outbox_adds(outbox: Path) -> Counter[str]:
    """Every member an outbox requests file adds (Marketo lead ids, LinkedIn hashes)."""
    added: Counter[str] = Counter()
    for path in outbox.rglob("*-requests.json"):
        for request in json.loads(path.read_text())["requests"]:
            body = request["body"]
            if request["method"] == "POST" and "input" in body:
                added.update(str(item["id"]) for item in body["input"])
            for element in body.get("elements", []):
                if element["action"] == "ADD":
                    added.update(user["idValue"] for user in element["userIds"])
    return added


def test_crash_after_the_outbox_wrote_a_batch_converges(tmp_path, monkeypatch):
    """Offline destinations: the second batch file is written, the run dies before recording it;
    the next run finds the file and records it, so no add is written twice or lost."""
    monkeypatch.setattr(OutboxTransport, "MARKETO_BATCH", 1)
    monkeypatch.setattr(OutboxTransport, "LINKEDIN_BATCH", 1)
    data_dir = copy_demo(tmp_path / "data")
    _append_activity(data_dir, "900001", P1_LEAD, "2026-11-10T08:00:00Z", "/products/new-software")
    warehouse = tmp_path / "warehouse.duckdb"
    outbox = tmp_path / "outbox"
    hashes = {sha("p1@townsend.com"), sha("p2@townsend.com")}
    expected = Counter({str(P1_LEAD): 1, str(P2_LEAD): 1, **dict.fromkeys(hashes, 1)})

    with pytest.MonkeyPatch.context() as mp:
        crash_when_recording(mp, batch=2)
        run = materialize_env(data_dir, warehouse, "2026-11-15", raise_on_error=False)
    assert outbox_adds(outbox) == expected  # written...
    assert state(run, MARKETO) == {str(P1_LEAD)}  # ...not all recorded
    assert batch_statuses(run, LINKEDIN) == ["acknowledged", "pending"]
    assert not list(outbox.rglob("*.csv"))  # the run died before writing the membership

    run = materialize_env(data_dir, warehouse, "2026-11-15", selection=DELIVERY)
    assert outbox_adds(outbox) == expected  # nothing written twice, nothing missing
    assert state(run, MARKETO) == {str(P1_LEAD), str(P2_LEAD)}
    assert state(run, LINKEDIN) == hashes
    assert (
        batch_statuses(run, MARKETO)
        == batch_statuses(run, LINKEDIN)
        == [
            "acknowledged",
            "reconciled",
        ]
    )
    assert not list(outbox.rglob("*.partial"))


# ------------------------------------------------------------------------------------------------
# The ledger and reconciliation, batch by batch
# ------------------------------------------------------------------------------------------------


def marketo_destination(endpoint: str | None) -> MarketoStaticList:
    return MarketoStaticList(
        name="list_dest",
        type="marketo_static_list",
        instance="marketo_1",
        list_id=LIST_ID,
        endpoint=endpoint,
    )


def lead_changes(action: str, ids) -> list[Change]:
    return [Change(action, str(i), {"id": i}) for i in ids]  # type: ignore[arg-type]


def warehouse_state(warehouse: DuckDBWarehouse) -> set[str]:
    with warehouse.connect() as con:
        rows = con.execute("SELECT member_id FROM ops.activation_state").fetchall()
    return {row[0] for row in rows}


def send(warehouse, transport, destination, changes, report=None) -> DeliveryReport:
    report = report or DeliveryReport()
    delivery.deliver(warehouse.connect, transport, destination, "seg", changes, report, "run")
    return report


def reconcile(warehouse, transport, destination) -> DeliveryReport:
    report = DeliveryReport()
    delivery.reconcile(warehouse.connect, transport, destination, "seg", report, "run")
    return report


def test_interrupted_marketo_removes_are_recorded_not_resent(tmp_path, monkeypatch):
    """A remove batch Marketo applied but the warehouse never recorded: Member of List says the
    leads are gone, so they leave the state without a second DELETE; a pending add whose lead
    Marketo does not know is left for the plan to send again."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    with FakeMarketo(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        list_ids=[LIST_ID],
        known_leads=range(1, 11),
    ) as marketo:
        destination = marketo_destination(marketo.url)
        client = MarketoStaticListClient(
            marketo.url, f"{marketo.url}/identity", CLIENT_ID, CLIENT_SECRET, LIST_ID
        )
        try:
            send(warehouse, client, destination, lead_changes("add", range(1, 6)))
            for action, ids in (("remove", [1, 2]), ("add", [6, 99])):
                with pytest.MonkeyPatch.context() as mp:
                    crash_when_recording(mp, batch=1)
                    with pytest.raises(ProcessKilled):
                        send(warehouse, client, destination, lead_changes(action, ids))
            assert marketo.members(LIST_ID) == {3, 4, 5, 6}
            assert warehouse_state(warehouse) == {"1", "2", "3", "4", "5"}

            report = reconcile(warehouse, client, destination)
        finally:
            client.close()
    assert warehouse_state(warehouse) == {"3", "4", "5", "6"}  # 99 is left to the plan
    assert (report.reconciled_batches, report.reconciled) == (2, 3)
    assert len(marketo.requests_to(f"/rest/v1/lists/{LIST_ID}/leads.json", "DELETE")) == 1
    with warehouse.connect() as con:
        assert con.execute(
            "SELECT status, confirmed FROM ops.activation_batch ORDER BY batch_no"
        ).fetchall() == [("acknowledged", None), ("reconciled", 2), ("reconciled", 1)]
        assert reconcile(warehouse, client, destination).reconciled_batches == 0


def test_outbox_batch_never_written_is_sent_again_once(tmp_path):
    """The run dies after the intent was logged but before the batch file existed (only its
    partial file): reconciliation finds no batch, records nothing, and the batch is written once
    when sent again."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    destination = marketo_destination(None)
    outbox = OutboxTransport(tmp_path / "outbox", destination, "seg", "2026-11-15")
    send(warehouse, outbox, destination, lead_changes("add", [1, 2]))
    with warehouse.connect() as con:
        batch = ledger.open_batch(con, destination.name, "seg", lead_changes("remove", [2]), "r")
    partial(outbox.batch_file(batch.batch_id)).write_text('{"batch_id": "torn')

    assert reconcile(warehouse, outbox, destination).reconciled == 0
    assert warehouse_state(warehouse) == {"1", "2"}
    assert not list(outbox.folder.glob("*.partial"))
    send(warehouse, outbox, destination, lead_changes("remove", [2]))
    assert warehouse_state(warehouse) == {"1"}
    removes = [
        path.name
        for path in sorted(outbox.folder.glob("*-requests.json"))
        if json.loads(path.read_text())["action"] == "remove"
    ]
    assert len(removes) == 1 and batch.batch_id not in removes[0]


def test_delivery_lock_lets_one_holder_in_at_a_time(tmp_path):
    path = ledger.lock_path(tmp_path / "w.duckdb", "dest", "seg")
    with ledger.delivery_lock(path):
        second = ledger.delivery_lock(path, timeout=0.2, poll=0.05)
        with pytest.raises(TimeoutError):
            second.__enter__()
    with ledger.delivery_lock(path, timeout=0.2):
        pass
