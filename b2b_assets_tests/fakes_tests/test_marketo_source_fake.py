"""FakeMarketoSource answers as Marketo's bulk extract and REST read APIs are documented to."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from b2b_assets_tests.conftest import DEMO_DATA
from b2b_assets_tests.fakes.marketo_source import FakeMarketoSource

START = datetime(2026, 11, 1, tzinfo=UTC)
OCTOBER = {"startAt": "2026-10-01T00:00:00Z", "endAt": "2026-10-31T00:00:00Z"}


@pytest.fixture
def mk() -> Iterator[FakeMarketoSource]:
    with FakeMarketoSource(clock_start=START, page_size=2) as fake:
        fake.load_landing(DEMO_DATA / "landing" / "marketo_1")
        yield fake


def client(mk: FakeMarketoSource) -> httpx.Client:
    answer = httpx.get(
        f"{mk.url}/identity/oauth/token",
        params={
            "grant_type": "client_credentials",
            "client_id": mk.client_id,
            "client_secret": mk.client_secret,
        },
    )
    token = answer.json()["access_token"]
    return httpx.Client(base_url=mk.url, headers={"Authorization": f"Bearer {token}"})


def error(answer: httpx.Response) -> tuple[str, str]:
    body = answer.json()
    assert answer.status_code == 200 and body["success"] is False, body
    return body["errors"][0]["code"], body["errors"][0]["message"]


def result(answer: httpx.Response) -> Any:
    body = answer.json()
    assert answer.status_code == 200 and body["success"] is True, body
    return body["result"]


def export(api: httpx.Client, entity: str, body: dict[str, Any]) -> str:
    return result(api.post(f"/bulk/v1/{entity}/export/create.json", json=body))[0]["exportId"]


def finish(api: httpx.Client, entity: str, export_id: str) -> dict[str, Any]:
    result(api.post(f"/bulk/v1/{entity}/export/{export_id}/enqueue.json"))
    for _ in range(10):
        status = result(api.get(f"/bulk/v1/{entity}/export/{export_id}/status.json"))[0]
        if status["status"] in ("Completed", "Failed", "Cancelled"):
            return status
    raise AssertionError(status)


def test_lead_export_runs_from_create_to_a_file_that_matches_its_checksum(
    mk: FakeMarketoSource,
) -> None:
    api = client(mk)
    body = {
        "fields": ["email", "id", "sfdcLeadId", "unsubscribed", "createdAt"],
        "format": "CSV",
        "filter": {
            "createdAt": {"startAt": "2025-11-01T00:00:00Z", "endAt": "2025-12-01T00:00:00Z"}
        },
    }
    created = result(api.post("/bulk/v1/leads/export/create.json", json=body))[0]
    assert created["status"] == "Created" and created["format"] == "CSV"
    export_id = created["exportId"]
    queued = result(api.post(f"/bulk/v1/leads/export/{export_id}/enqueue.json"))[0]
    assert queued["status"] == "Queued" and "queuedAt" in queued
    not_yet = api.get(f"/bulk/v1/leads/export/{export_id}/file.json")
    assert not_yet.status_code == 404 and not_yet.headers["Content-Type"].startswith("text/plain")
    statuses = []
    while not statuses or statuses[-1]["status"] != "Completed":
        statuses.append(result(api.get(f"/bulk/v1/leads/export/{export_id}/status.json"))[0])
    assert [s["status"] for s in statuses] == ["Processing", "Completed"]
    done = statuses[-1]
    assert {"startedAt", "finishedAt", "numberOfRecords", "fileSize"} <= set(done)
    assert done["fileChecksum"].startswith("sha256:")

    file = api.get(f"/bulk/v1/leads/export/{export_id}/file.json")
    assert file.status_code == 200 and file.headers["Content-Type"].startswith("text/csv")
    assert done["fileChecksum"] == "sha256:" + hashlib.sha256(file.content).hexdigest()
    assert done["fileSize"] == len(file.content)
    lines = file.text.splitlines()
    assert lines[0] == "email,id,sfdcLeadId,unsubscribed,createdAt"
    assert lines[1] == "p1@townsend.com,48211,null,false,2025-11-04T09:20:11Z"
    assert len(lines) - 1 == done["numberOfRecords"]
    part = api.get(f"/bulk/v1/leads/export/{export_id}/file.json", headers={"Range": "bytes=0-4"})
    assert part.status_code == 206 and part.content == file.content[:5]
    assert part.headers["Content-Range"] == f"bytes 0-4/{len(file.content)}"
    listed = result(api.get("/bulk/v1/leads/export.json", params={"status": "Completed"}))
    assert [j["exportId"] for j in listed] == [export_id]


def test_lead_export_filters_are_checked_as_marketo_does() -> None:
    with FakeMarketoSource(clock_start=START, updated_at_filter=False) as mk:
        api = client(mk)

        def create(fields: list[str], **flt: Any) -> httpx.Response:
            return api.post(
                "/bulk/v1/leads/export/create.json", json={"fields": fields, "filter": flt}
            )

        too_long = create(
            ["id"], createdAt={"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-02-02T00:00:01Z"}
        )
        assert error(too_long)[0] == "1003" and "31 days" in error(too_long)[1]
        millis = create(
            ["id"],
            createdAt={"startAt": "2026-01-01T00:00:00.000Z", "endAt": "2026-01-02T00:00:00Z"},
        )
        assert error(millis)[0] == "1003"
        unknown = create(["id", "favouriteColour"], createdAt=OCTOBER)
        assert error(unknown)[0] == "1003" and "favouriteColour" in error(unknown)[1]
        updated = create(["id"], updatedAt=OCTOBER)
        assert error(updated) == (
            "1035",
            "Unsupported filter type for target subscription: updatedAt",
        )
        assert error(create(["id"], smartListId=5))[0] == "1035"
        assert error(create(["id"], createdAt=OCTOBER, updatedAt=OCTOBER))[0] == "1003"
        exactly_31_days = {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-02-01T00:00:00Z"}
        assert result(create(["id"], createdAt=exactly_31_days))


def test_export_queue_and_daily_quota_limits() -> None:
    with FakeMarketoSource(clock_start=START, max_queue=3, daily_quota_bytes=2000) as mk:
        mk.put("leads", {"email": "a@example.com", "createdAt": "2026-10-05T00:00:00Z"})
        api = client(mk)
        body = {"fields": ["id", "email"], "filter": {"createdAt": OCTOBER}}
        ids = [export(api, "leads", body) for _ in range(4)]
        for export_id in ids[:3]:
            result(api.post(f"/bulk/v1/leads/export/{export_id}/enqueue.json"))
        again = api.post(f"/bulk/v1/leads/export/{ids[0]}/enqueue.json")
        assert error(again) == ("1029", "Job already queued")
        full = api.post(f"/bulk/v1/leads/export/{ids[3]}/enqueue.json")
        assert error(full) == ("1029", "Too many jobs (3) in queue")
        result(api.get(f"/bulk/v1/leads/export/{ids[0]}/status.json"))
        states = [j.status for j in mk.export_jobs()]
        assert states.count("Processing") == 2 and states.count("Queued") == 1

        mk.advance_exports(5)
        assert [j.status for j in mk.export_jobs()][:3] == ["Completed"] * 3
        mk.use_quota(2000)
        spent = api.post("/bulk/v1/leads/export/create.json", json=body)
        assert error(spent) == ("1029", "Export daily quota 1MB exceeded.")
        assert error(api.post(f"/bulk/v1/leads/export/{ids[3]}/enqueue.json"))[0] == "1029"
        mk.reset_daily_quota()
        assert result(api.post(f"/bulk/v1/leads/export/{ids[3]}/enqueue.json"))


def test_failed_cancelled_and_corrupted_exports(mk: FakeMarketoSource) -> None:
    api = client(mk)
    body = {"fields": ["id"], "filter": {"createdAt": OCTOBER}}
    mk.fail_next_export("Out of disk")
    failed = finish(api, "leads", export(api, "leads", body))
    assert failed["status"] == "Failed" and failed["errorMsg"] == "Out of disk"
    assert "fileChecksum" not in failed
    assert api.get(f"/bulk/v1/leads/export/{failed['exportId']}/file.json").status_code == 404

    cancelled_id = export(api, "leads", body)
    cancelled = result(api.post(f"/bulk/v1/leads/export/{cancelled_id}/cancel.json"))[0]
    assert cancelled["status"] == "Cancelled"

    mk.corrupt_next_file()
    done = finish(api, "activities", export(api, "activities", {"filter": {"createdAt": OCTOBER}}))
    served = api.get(f"/bulk/v1/activities/export/{done['exportId']}/file.json").content
    assert done["fileChecksum"] != "sha256:" + hashlib.sha256(served).hexdigest()
    assert len(served) < done["fileSize"]
    unknown = api.get("/bulk/v1/leads/export/00000000-0000-0000-0000-000000000000/status.json")
    assert error(unknown)[0] == "1003"


def test_activity_file_has_marketos_columns_and_filters(mk: FakeMarketoSource) -> None:
    api = client(mk)
    flt = {
        "createdAt": {"startAt": "2026-10-16T15:00:06Z", "endAt": "2026-10-31T00:00:00Z"},
        "activityTypeIds": [6],
    }
    done = finish(api, "activities", export(api, "activities", {"format": "CSV", "filter": flt}))
    text = api.get(f"/bulk/v1/activities/export/{done['exportId']}/file.json").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == (
        "marketoGUID,leadId,activityDate,activityTypeId,campaignId,"
        "primaryAttributeValueId,primaryAttributeValue,attributes"
    )
    assert rows and all(r["activityTypeId"] == "6" for r in rows)
    assert rows[0]["activityDate"] == "2026-10-16T15:00:06Z"  # startAt is included
    assert json.loads(rows[0]["attributes"])["Campaign Run ID"] == 88101
    mk.put(
        "activities",
        {
            "leadId": 48211,
            "activityTypeId": 1,
            "activityDate": "2026-10-20T10:00:00Z",
            "primaryAttributeValue": "/pricing",
            "attributes": {"Webpage URL": "/pricing"},
        },
    )
    visits = export(
        api,
        "activities",
        {
            "fields": ["leadId", "campaignId", "attributes"],
            "filter": {"createdAt": OCTOBER, "activityTypeIds": [1]},
        },
    )
    done = finish(api, "activities", visits)
    lines = api.get(f"/bulk/v1/activities/export/{visits}/file.json").text.splitlines()
    assert lines[0] == "leadId,campaignId,attributes"
    assert '48211,null,"{""Webpage URL"":""/pricing""}"' in lines
    too_long = api.post(
        "/bulk/v1/activities/export/create.json",
        json={
            "filter": {
                "createdAt": {"startAt": "2026-09-01T00:00:00Z", "endAt": "2026-10-31T00:00:00Z"}
            }
        },
    )
    assert error(too_long)[0] == "1003"


def test_rest_reads_page_by_next_page_token(mk: FakeMarketoSource) -> None:
    api = client(mk)

    def read_all(path: str, **params: Any) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        token = None
        while True:
            body = api.get(
                path, params={**params, **({"nextPageToken": token} if token else {})}
            ).json()
            assert body["success"], body
            records += body.get("result", [])
            token = body.get("nextPageToken")
            if not token:
                return records

    members = read_all("/rest/v1/lists/501/leads.json", fields="email,sfdcContactId")
    assert len(members) == 4 and all(set(m) >= {"id", "email"} for m in members)
    roles = read_all(
        "/rest/v1/opportunities/roles.json", filterType="leadId", filterValues="48211,48212,48213"
    )
    assert {r["role"] for r in roles} >= {"Decision Maker", "Evaluator"}
    assert all("seq" in r and "marketoGUID" in r for r in roles)
    companies = read_all(
        "/rest/v1/companies.json",
        filterType="externalCompanyId",
        filterValues="0015g00000J1UinAAF,0015g00000jgrcAAAQ,0015g00000MBiinAAD",
        fields="company,annualRevenue,billingCountry",
    )
    assert [c["company"] for c in companies] == ["Townsend", "Globex Corporation", "Initech"]
    opportunities = read_all(
        "/rest/v1/opportunities.json",
        filterType="externalOpportunityId",
        filterValues="0065g00000dR0NxAAK",
        fields="name,amount,isWon,closeDate",
    )
    assert opportunities[0]["isWon"] is True and opportunities[0]["closeDate"] == "2026-06-30"
    program = read_all("/rest/v1/leads/programs/1041.json")
    assert program and set(program[0]["membership"]) >= {
        "progressionStatus",
        "reachedSuccess",
        "membershipDate",
    }
    lists = read_all("/rest/v1/lists.json")
    assert [(s["id"], s["name"]) for s in lists] == [
        (501, "Customers - Business Line 1"),
        (502, "Webinar Q4 Attendees"),
    ]

    first = api.get("/rest/v1/lists/501/leads.json").json()
    assert "moreResult" not in first and first["nextPageToken"]
    other_query = api.get(
        "/rest/v1/lists/502/leads.json", params={"nextPageToken": first["nextPageToken"]}
    )
    assert error(other_query)[0] == "1003"
    assert error(api.get("/rest/v1/companies.json")) == ("1003", "filterType not specified")
    assert (
        error(
            api.get(
                "/rest/v1/companies.json",
                params={"filterType": "industry", "filterValues": "Energy"},
            )
        )[0]
        == "1011"
    )
    too_many = ",".join(str(n) for n in range(301))
    assert (
        error(
            api.get(
                "/rest/v1/companies.json", params={"filterType": "id", "filterValues": too_many}
            )
        )[0]
        == "1003"
    )
    assert error(api.get("/rest/v1/lists.json", params={"batchSize": 301}))[0] == "1003"
    assert (
        error(api.get("/rest/v1/lists/501/leads.json", params={"fields": "shoeSize"}))[0] == "1006"
    )
    long_form = api.post(
        "/rest/v1/companies.json",
        params={"_method": "GET"},
        data={"filterType": "id", "filterValues": "3101,3102", "fields": "company"},
    )
    assert [c["company"] for c in result(long_form)] == ["Townsend", "Globex Corporation"]


def test_asset_programs_page_by_offset(mk: FakeMarketoSource) -> None:
    api = client(mk)
    first = api.get("/rest/asset/v1/programs.json", params={"maxReturn": 1, "offset": 0}).json()
    assert first["success"] and len(first["result"]) == 1 and first["errors"] == []
    program = first["result"][0]
    assert {"id", "name", "type", "channel", "folder", "createdAt", "updatedAt"} <= set(program)
    assert program["createdAt"].endswith("Z+0000")
    past = api.get("/rest/asset/v1/programs.json", params={"maxReturn": 200, "offset": 2}).json()
    assert past["success"] is True and "result" not in past
    assert past["warnings"] == ["No assets found for the given search criteria."]
    assert error(api.get("/rest/asset/v1/programs.json", params={"maxReturn": 201}))[0] == "1003"


def test_paging_variants_and_strictness_switches() -> None:
    with FakeMarketoSource(
        clock_start=START,
        page_size=1,
        more_result=True,
        token_on_last_page=True,
        any_filter_type=True,
        crm_sync=True,
    ) as mk:
        mk.load_landing(DEMO_DATA / "landing" / "marketo_1")
        api = client(mk)
        pages = []
        token = None
        while True:
            body = api.get(
                "/rest/v1/lists.json", params={"nextPageToken": token} if token else {}
            ).json()
            pages.append(body)
            token = body.get("nextPageToken")
            if not body["result"]:
                break
        assert [len(p["result"]) for p in pages] == [1, 1, 0]
        assert [p["moreResult"] for p in pages] == [True, False, False]
        by_company = api.get(
            "/rest/v1/opportunities.json",
            params={"filterType": "externalCompanyId", "filterValues": "0015g00000J1UinAAF"},
        )
        assert result(by_company)
        roles = api.get(
            "/rest/v1/opportunities/roles.json",
            params={"filterType": "leadId", "filterValues": "1"},
        )
        assert error(roles)[0] == "1018"


def test_limits_and_tokens_apply_to_bulk_calls_too() -> None:
    with FakeMarketoSource(clock_start=START, rate_limit=(3, 20.0)) as mk:
        anonymous = httpx.get(f"{mk.url}/bulk/v1/leads/export.json")
        assert error(anonymous)[0] == "600"
        api = client(mk)
        mk.inject("606")
        assert error(api.get("/bulk/v1/leads/export.json"))[0] == "606"
        mk.inject("503")
        assert api.get("/bulk/v1/leads/export.json").status_code == 503
        codes = [api.get("/rest/v1/lists.json").json() for _ in range(4)]
        assert [c["success"] for c in codes] == [True, True, True, False]
        assert codes[-1]["errors"][0]["code"] == "606"
        mk.expire_tokens()
        assert error(api.get("/bulk/v1/leads/export.json"))[0] == "602"
