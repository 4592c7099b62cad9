"""FakeSalesforce answers as Salesforce's OAuth 2.0 client credentials flow and Bulk API 2.0 query
jobs are documented to."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from b2b_assets_tests.conftest import DEMO_DATA
from b2b_assets_tests.fakes.salesforce import FakeSalesforce, to_18

V = "/services/data/v62.0"
START = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def sf() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(clock_start=START, polls_to_complete=2, page_size=3) as fake:
        yield fake


def token(sf: FakeSalesforce) -> str:
    answer = httpx.post(
        f"{sf.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sf.client_id,
            "client_secret": sf.client_secret,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def client(sf: FakeSalesforce) -> httpx.Client:
    return httpx.Client(base_url=sf.url, headers={"Authorization": f"Bearer {token(sf)}"})


def run_job(api: httpx.Client, query: str, operation: str = "queryAll", **extra: str) -> str:
    created = api.post(f"{V}/jobs/query", json={"operation": operation, "query": query, **extra})
    assert created.status_code == 200, created.text
    job_id = created.json()["id"]
    for _ in range(10):
        info = api.get(f"{V}/jobs/query/{job_id}").json()
        if info["state"] == "JobComplete":
            return job_id
    raise AssertionError(f"job never completed: {info}")


def all_rows(api: httpx.Client, job_id: str, max_records: int | None = None) -> list[dict]:
    rows: list[dict] = []
    locator = None
    while True:
        params = {"maxRecords": max_records} if max_records else {}
        if locator:
            params["locator"] = locator
        page = api.get(f"{V}/jobs/query/{job_id}/results", params=params)
        assert page.status_code == 200, page.text
        rows += list(csv.DictReader(io.StringIO(page.text)))
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            return rows


def test_client_credentials_token_and_its_errors(sf: FakeSalesforce) -> None:
    answer = httpx.post(
        f"{sf.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(sf.client_id, sf.client_secret),  # the client may also come in HTTP Basic auth
    )
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == sf.url and body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit()

    def ask(**form: str) -> httpx.Response:
        return httpx.post(f"{sf.url}/services/oauth2/token", data=form)

    wrong_secret = ask(grant_type="client_credentials", client_id=sf.client_id, client_secret="x")
    assert wrong_secret.status_code == 400 and wrong_secret.json()["error"] == "invalid_client"
    wrong_id = ask(grant_type="client_credentials", client_id="nobody", client_secret="x")
    assert wrong_id.status_code == 400 and wrong_id.json()["error"] == "invalid_client_id"
    password = ask(grant_type="password", client_id=sf.client_id, client_secret=sf.client_secret)
    assert password.json()["error"] == "unsupported_grant_type"


def test_every_data_call_needs_a_live_session(sf: FakeSalesforce) -> None:
    expected = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    anonymous = httpx.get(f"{sf.url}{V}/jobs/query")
    assert anonymous.status_code == 401 and anonymous.json() == expected
    api = client(sf)
    listed = api.get(f"{V}/jobs/query")
    assert listed.status_code == 200 and listed.headers["Sforce-Limit-Info"].startswith(
        "api-usage="
    )
    sf.expire_tokens()
    assert api.get(f"{V}/jobs/query").status_code == 401
    assert httpx.get(f"{sf.url}/services/data/v30.0/jobs/query").status_code == 401
    fresh = client(sf)
    assert fresh.get("/services/data/v30.0/jobs/query").status_code == 404  # before Bulk API 2.0


def test_a_query_job_runs_to_paged_csv_results(sf: FakeSalesforce) -> None:
    sf.load_landing(DEMO_DATA / "landing" / "crm_1")
    api = client(sf)
    created = api.post(
        f"{V}/jobs/query",
        json={"operation": "query", "query": "SELECT Id, Name, IsDeleted FROM Account"},
    ).json()
    assert created["state"] == "UploadComplete" and created["object"] == "Account"
    assert len(created["id"]) == 18 and created["id"].startswith("750")
    assert created["apiVersion"] == 62.0 and created["contentType"] == "CSV"
    assert created["lineEnding"] == "LF" and created["columnDelimiter"] == "COMMA"
    early = api.get(f"{V}/jobs/query/{created['id']}/results")
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    states = [api.get(f"{V}/jobs/query/{created['id']}").json()["state"] for _ in range(3)]
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    info = api.get(f"{V}/jobs/query/{created['id']}").json()
    assert info["numberRecordsProcessed"] == 3 and info["jobType"] == "V2Query"
    assert {"retries", "totalProcessingTime"} <= set(info)

    first = api.get(f"{V}/jobs/query/{created['id']}/results", params={"maxRecords": 2})
    assert first.headers["Content-Type"].startswith("text/csv")
    assert first.headers["Sforce-NumberOfRecords"] == "2"
    locator = first.headers["Sforce-Locator"]
    assert locator not in ("", "null")
    assert first.text.splitlines()[0] == '"Id","Name","IsDeleted"'
    second = api.get(f"{V}/jobs/query/{created['id']}/results", params={"locator": locator})
    assert second.headers["Sforce-Locator"] == "null"
    assert second.headers["Sforce-NumberOfRecords"] == "1"
    assert second.text.splitlines()[0] == '"Id","Name","IsDeleted"'  # every page has its header
    again = api.get(f"{V}/jobs/query/{created['id']}/results", params={"locator": locator})
    assert again.text == second.text  # a locator can be used again
    bad = api.get(f"{V}/jobs/query/{created['id']}/results", params={"locator": "null"})
    assert bad.status_code == 400
    other_version = api.get(f"/services/data/v61.0/jobs/query/{created['id']}/results")
    assert other_version.status_code == 409
    unknown = api.get(f"{V}/jobs/query/750R0000000zzzzIAA")
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"


def test_page_size_is_the_smaller_of_max_records_and_the_servers(sf: FakeSalesforce) -> None:
    for number in range(8):
        sf.put("Account", {"Name": f"Account {number}"})
    api = client(sf)
    job_id = run_job(api, "SELECT Id, Name FROM Account")
    sizes = []
    locator = None
    while locator != "null":
        params = {"maxRecords": 100, **({"locator": locator} if locator else {})}
        page = api.get(f"{V}/jobs/query/{job_id}/results", params=params)
        sizes.append(int(page.headers["Sforce-NumberOfRecords"]))
        locator = page.headers["Sforce-Locator"]
    assert sizes == [3, 3, 2]
    assert len(all_rows(api, job_id, max_records=5)) == 8


def test_query_leaves_deleted_rows_out_and_query_all_keeps_them(sf: FakeSalesforce) -> None:
    kept = sf.put("Contact", {"LastName": "Ng", "Email": "p1@example.com"})
    gone = sf.put("Contact", {"LastName": "Old", "Email": "p2@example.com"})
    before = sf.get("Contact", gone)
    high_water = before["SystemModstamp"]
    sf.advance(60)
    sf.delete("Contact", gone)
    after = sf.get("Contact", gone)
    assert after["IsDeleted"] is True
    assert after["SystemModstamp"] > high_water
    assert after["LastModifiedDate"] == after["SystemModstamp"]

    api = client(sf)
    fields = "SELECT Id, IsDeleted, SystemModstamp FROM Contact"
    live = all_rows(api, run_job(api, fields, operation="query"))
    assert [r["Id"] for r in live] == [kept]
    everything = all_rows(api, run_job(api, fields, operation="queryAll"))
    assert {r["Id"]: r["IsDeleted"] for r in everything} == {kept: "false", gone: "true"}
    stamp = high_water.strftime("%Y-%m-%dT%H:%M:%SZ")
    newer = all_rows(api, run_job(api, f"{fields} WHERE SystemModstamp > {stamp}"))
    assert [r["Id"] for r in newer] == [gone]
    both = all_rows(api, run_job(api, f"{fields} WHERE SystemModstamp >= {stamp}"))
    assert {r["Id"] for r in both} == {gone}  # kept was stamped one tick before
    with_offset = "2026-11-01T13:00:00.000+01:00"  # 12:00Z, the clock's start
    from_start = all_rows(api, run_job(api, f"{fields} WHERE SystemModstamp >= {with_offset}"))
    assert {r["Id"] for r in from_start} == {kept, gone}


def test_results_are_a_snapshot_taken_when_the_job_completes(sf: FakeSalesforce) -> None:
    sf.put("Account", {"Name": "Before"})
    api = client(sf)
    created = api.post(
        f"{V}/jobs/query", json={"operation": "query", "query": "SELECT Name FROM Account"}
    )
    job_id = created.json()["id"]
    sf.put("Account", {"Name": "While running"})
    while api.get(f"{V}/jobs/query/{job_id}").json()["state"] != "JobComplete":
        pass
    sf.put("Account", {"Name": "After"})
    assert [r["Name"] for r in all_rows(api, job_id)] == ["Before", "While running"]


def test_csv_is_written_like_salesforce_writes_it(sf: FakeSalesforce) -> None:
    sf.put(
        "Opportunity",
        {
            "Name": 'Big, "quoted"\ndeal',
            "Amount": 1500000,
            "IsWon": True,
            "IsClosed": False,
            "CloseDate": "2026-05-15",
            "AccountId": None,
        },
    )
    api = client(sf)
    query = (
        "SELECT Name, Amount, IsWon, IsClosed, CloseDate, AccountId, CreatedDate FROM Opportunity"
    )
    job_id = run_job(api, query)
    text = api.get(f"{V}/jobs/query/{job_id}/results").text
    row = next(csv.DictReader(io.StringIO(text)))
    assert row == {
        "Name": 'Big, "quoted"\ndeal',
        "Amount": "1500000",
        "IsWon": "true",
        "IsClosed": "false",
        "CloseDate": "2026-05-15",
        "AccountId": "",
        "CreatedDate": "2026-11-01T12:00:00.000Z",
    }
    piped = run_job(api, query, columnDelimiter="PIPE", lineEnding="CRLF")
    piped_text = api.get(f"{V}/jobs/query/{piped}/results").text
    assert piped_text.startswith('"Name"|"Amount"|') and "\r\n" in piped_text


def test_soql_errors_name_the_problem(sf: FakeSalesforce) -> None:
    sf.remove_field("Opportunity", "CurrencyIsoCode")  # an org without multi-currency
    api = client(sf)

    def create(query: str) -> httpx.Response:
        return api.post(f"{V}/jobs/query", json={"operation": "queryAll", "query": query})

    no_currency = create("SELECT Id, CurrencyIsoCode FROM Opportunity")
    assert no_currency.status_code == 400
    assert no_currency.json()[0]["errorCode"] == "INVALIDFIELD"
    assert (
        "No such column 'CurrencyIsoCode' on entity 'Opportunity'"
        in no_currency.json()[0]["message"]
    )
    unknown = create("SELECT Id FROM Widget")
    assert unknown.json()[0]["errorCode"] == "INVALID_TYPE"
    assert "sObject type 'Widget' is not supported." in unknown.json()[0]["message"]
    for malformed in (
        "SELECT FROM Account",
        "SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01",
        "SELECT Id FROM Account WHERE SystemModstamp > 2026-01-01T00:00:00Z OR IsDeleted = true",
        "SELECT COUNT() FROM Account",
        "SELECT Id, Id FROM Account",
        "Id FROM Account",
    ):
        answer = create(malformed)
        assert answer.status_code == 400, malformed
        assert answer.json()[0]["errorCode"] in ("MALFORMED_QUERY", "INVALIDFIELD"), malformed
    quoted = create("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01T00:00:00Z'")
    assert quoted.json()[0]["errorCode"] == "INVALIDFIELD"
    wrong_operation = api.post(
        f"{V}/jobs/query", json={"operation": "select", "query": "SELECT Id FROM Account"}
    )
    assert wrong_operation.status_code == 400


def test_failed_and_aborted_jobs(sf: FakeSalesforce) -> None:
    api = client(sf)
    sf.fail_next_job("Query timed out")
    failing = api.post(
        f"{V}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
    ).json()
    for _ in range(3):
        info = api.get(f"{V}/jobs/query/{failing['id']}").json()
    assert info["state"] == "Failed" and info["errorMessage"] == "Query timed out"
    assert api.get(f"{V}/jobs/query/{failing['id']}/results").status_code == 412

    aborted = api.post(
        f"{V}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
    ).json()
    patched = api.patch(f"{V}/jobs/query/{aborted['id']}", json={"state": "Aborted"})
    assert patched.status_code == 200 and patched.json()["state"] == "Aborted"
    assert api.get(f"{V}/jobs/query/{aborted['id']}").json()["state"] == "Aborted"

    by_setup = api.post(
        f"{V}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
    ).json()
    assert sf.abort_job() == by_setup["id"]
    assert api.get(f"{V}/jobs/query/{by_setup['id']}").json()["state"] == "Aborted"
    assert api.delete(f"{V}/jobs/query/{by_setup['id']}").status_code == 204
    assert api.get(f"{V}/jobs/query/{by_setup['id']}").status_code == 404


def test_injected_failures_and_call_counts(sf: FakeSalesforce) -> None:
    api = client(sf)
    sf.inject("REQUEST_LIMIT_EXCEEDED")
    limited = api.get(f"{V}/jobs/query")
    assert limited.status_code == 403
    assert limited.json() == [
        {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ]
    assert api.get(f"{V}/jobs/query").status_code == 200
    sf.inject("503")
    assert api.get(f"{V}/jobs/query").status_code == 503
    sf.inject("401")
    assert api.get(f"{V}/jobs/query").json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert api.get(f"{V}/jobs/query").status_code == 401  # that session was revoked
    sf.inject("500", path="/services/oauth2/token")
    assert httpx.post(f"{sf.url}/services/oauth2/token", data={}).status_code == 500
    client(sf)
    assert sf.count(f"{V}/jobs/query", "GET") == 5
    assert sf.count("/services/oauth2/token") == 3
    assert all("authorization" not in r.headers for r in sf.requests)


def test_landing_files_load_and_ids_are_18_characters() -> None:
    assert to_18("0015g00000J1Uin") == "0015g00000J1UinAAF"
    with FakeSalesforce(clock_start=START, polls_to_complete=0) as sf:
        counts = sf.load_landing(DEMO_DATA / "landing" / "crm_1")
        assert counts["Account"] == 4 and counts["Contact"] == 6
        townsend = sf.get("Account", "0015g00000J1Uin")
        assert townsend["Name"] == "Townsend"
        assert townsend["LastModifiedDate"] == datetime(2026, 10, 3, 9, 12, 44, tzinfo=UTC)
        assert townsend["SystemModstamp"] == townsend["LastModifiedDate"]
        new = sf.put("Account", {"Name": "Newer"})
        assert sf.get("Account", new)["SystemModstamp"] >= START
        api = client(sf)
        created = api.post(
            f"{V}/jobs/query", json={"operation": "queryAll", "query": "SELECT Id FROM Account"}
        ).json()
        rows = all_rows(api, created["id"])
        assert len(rows) == 5 and all(len(r["Id"]) == 18 for r in rows)
