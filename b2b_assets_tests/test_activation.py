"""Activation over several runs against fake Marketo and LinkedIn servers on 127.0.0.1:
people enter, stay, lose consent and age out; each destination ends holding exactly the desired
members, LinkedIn never sees a plain email, secrets never reach logs or metadata."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetSelection

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
