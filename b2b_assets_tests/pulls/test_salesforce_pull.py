"""Pulling a Salesforce org with Bulk API 2.0 query jobs, against a fake org on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from b2b_assets.pulls.report import PullError
from b2b_assets_tests.conftest import DEMO_DATA
from b2b_assets_tests.fakes.salesforce import FakeSalesforce
from b2b_assets_tests.pulls.helpers import Sleeps, hidden_files, landed_rows, pull_salesforce

TOWNSEND_900K = "0068d00000TNcsIAAT"


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(page_size=1000, polls_to_complete=2) as fake:
        fake.load_landing(DEMO_DATA / "landing" / "crm_2")
        yield fake


def _objects(report) -> dict[str, object]:
    return {o.name: o for o in report.objects}


def test_a_first_pull_lands_every_row_in_pages(org: FakeSalesforce, tmp_path: Path) -> None:
    report = pull_salesforce(org, tmp_path, page_records=2)
    pulled = _objects(report)
    for name, records in org.records.items():
        rows = landed_rows(tmp_path, name)
        assert sorted(r["Id"] for r in rows) == sorted(records), name
        assert pulled[name].rows == len(records)
        assert pulled[name].parts == -(-len(records) // 2)  # one part per page of 2
    opportunity = pulled["Opportunity"]
    assert (
        opportunity.high_water_mark
        == max(landed_rows(tmp_path, "Opportunity"), key=lambda r: r["SystemModstamp"])[
            "SystemModstamp"
        ]
    )
    # queryAll, the contract's columns and SystemModstamp; the first pull has no filter.
    created = [r.body for r in org.requests_to("/services/data", "POST")]
    assert {body["operation"] for body in created} == {"queryAll"}
    query = next(b["query"] for b in created if b["query"].endswith("FROM Opportunity"))
    assert query.startswith("SELECT Id, AccountId, Name, Amount, StageName, IsClosed, IsWon")
    assert "SystemModstamp" in query and "WHERE" not in query
    assert report.api_calls > 0 and report.token_requests == 1
    assert hidden_files(tmp_path) == []


def test_a_second_pull_takes_only_what_changed_and_deletes(
    org: FakeSalesforce, tmp_path: Path
) -> None:
    first = _objects(pull_salesforce(org, tmp_path))
    unchanged = _objects(pull_salesforce(org, tmp_path))
    assert sum(o.rows for o in unchanged.values()) == 0
    assert unchanged["Account"].high_water_mark == first["Account"].high_water_mark

    org.advance(60)
    org.delete("Opportunity", TOWNSEND_900K)
    org.update("Account", "0018d00000Dqn62AAB", Website="https://townsend.example")
    later = _objects(pull_salesforce(org, tmp_path))
    assert {name: o.rows for name, o in later.items() if o.rows} == {"Account": 1, "Opportunity": 1}
    deleted = landed_rows(tmp_path, "Opportunity")[-1]
    assert deleted["Id"] == TOWNSEND_900K and deleted["IsDeleted"] == "true"
    incremental = org.requests_to("/services/data", "POST")[-7:]
    where = f"WHERE SystemModstamp > {first['Opportunity'].high_water_mark[:19]}Z"
    assert any(r.body["query"].endswith(where) for r in incremental)


def test_an_expired_session_is_renewed_once_mid_pull(org: FakeSalesforce, tmp_path: Path) -> None:
    pull_salesforce(org, tmp_path / "warm")  # nothing to see here: the session exists
    org.inject("401", path="/services/data/v62.0/jobs/query/")
    report = pull_salesforce(org, tmp_path / "pull", page_records=2)
    assert report.token_requests == 2
    assert sorted(r["Id"] for r in landed_rows(tmp_path / "pull", "Contact")) == sorted(
        org.records["Contact"]
    )


def test_a_failed_job_runs_once_more(org: FakeSalesforce, tmp_path: Path) -> None:
    org.fail_next_job("Internal error while processing the query")
    report = pull_salesforce(org, tmp_path)
    assert _objects(report)["Account"].rows == len(org.records["Account"])
    assert len([r for r in org.requests_to("/services/data", "POST")]) == 8  # 7 objects + 1


def test_a_job_failing_twice_stops_the_pull_without_partial_files(
    org: FakeSalesforce, tmp_path: Path
) -> None:
    pull_salesforce(org, tmp_path)
    org.advance(60)
    org.update("Account", "0018d00000Dqn62AAB", Industry="Retail")
    org.fail_next_job("Internal error", times=2)
    before = sorted(p.name for p in (tmp_path / "Account").iterdir())
    with pytest.raises(PullError, match="Failed"):
        pull_salesforce(org, tmp_path)
    assert sorted(p.name for p in (tmp_path / "Account").iterdir()) == before
    assert hidden_files(tmp_path) == []


def test_request_limits_are_waited_out(org: FakeSalesforce, tmp_path: Path) -> None:
    sleeps = Sleeps()
    org.inject("REQUEST_LIMIT_EXCEEDED", times=2)
    org.inject("503")
    report = pull_salesforce(org, tmp_path, sleep=sleeps)
    assert _objects(report)["Account"].rows == len(org.records["Account"])
    assert report.limit_wait_seconds > 0
    assert [r.status for r in org.requests[:5] if r.status and r.status >= 400][:3] == [
        403,
        403,
        503,
    ]


def test_a_field_the_org_lacks_is_left_out(org: FakeSalesforce, tmp_path: Path) -> None:
    org.remove_field("Opportunity", "CurrencyIsoCode")
    report = pull_salesforce(org, tmp_path)
    opportunity = _objects(report)["Opportunity"]
    assert opportunity.note == "without CurrencyIsoCode"
    assert opportunity.rows == len(org.records["Opportunity"])
    assert "CurrencyIsoCode" not in landed_rows(tmp_path, "Opportunity")[0]
