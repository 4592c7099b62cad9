"""Pulling a Marketo instance (bulk extract and REST), against a fake instance on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from b2b_assets.pulls.report import PullError
from b2b_assets_tests.conftest import DEMO_DATA
from b2b_assets_tests.fakes.marketo_source import FakeMarketoSource
from b2b_assets_tests.pulls.helpers import hidden_files, landed_rows, pull_marketo

CRM_1 = DEMO_DATA / "landing" / "crm_1"
P2_LEAD = 48212


@pytest.fixture
def instance() -> Iterator[FakeMarketoSource]:
    # The fake's clock runs a second per change: started an hour back, it stays behind ours.
    with FakeMarketoSource(
        page_size=2,
        export_polls_to_complete=2,
        rate_limit=(100_000, 20.0),
        clock_start=datetime.now(UTC) - timedelta(hours=1),
    ) as fake:
        fake.load_landing(DEMO_DATA / "landing" / "marketo_1")
        yield fake


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _objects(report) -> dict[str, object]:
    return {o.name: o for o in report.objects}


def _keys(rows: list[dict[str, str]], *names: str) -> list[tuple[str, ...]]:
    return sorted(tuple(row[name] for name in names) for row in rows)


def test_a_first_pull_lands_every_object(instance: FakeMarketoSource, tmp_path: Path) -> None:
    report = pull_marketo(instance, tmp_path, crm_folder=CRM_1)
    data = instance.data
    assert _keys(landed_rows(tmp_path, "leads"), "id") == sorted((str(k),) for k in data["leads"])
    assert _keys(landed_rows(tmp_path, "activities"), "marketoGUID") == sorted(
        (str(k),) for k in data["activities"]
    )
    for name, key in [
        ("companies", ("id",)),
        ("opportunities", ("marketoGUID",)),
        ("opportunity_roles", ("marketoGUID",)),
        ("programs", ("id",)),
        ("static_lists", ("id",)),
    ]:
        rows = landed_rows(tmp_path, name)
        assert len(rows) == len(data[name]) > 0, name
        assert len(set(_keys(rows, *key))) == len(rows), name
    members = landed_rows(tmp_path, "program_members")
    assert _keys(members, "programId", "leadId") == sorted(
        (str(p), str(lead)) for p, lead in data["program_members"]
    )
    assert len(landed_rows(tmp_path, "static_list_members")) == len(data["static_list_members"])
    # Windows of at most 31 days, by createdAt, filtered by the activity types; every file checked.
    exports = [
        r.body for r in instance.requests_to("/bulk/v1/", "POST") if r.path.endswith("create.json")
    ]
    for body in exports:
        window = body["filter"].get("createdAt") or body["filter"]["updatedAt"]
        start, end = (_instant(window[k]) for k in ("startAt", "endAt"))
        assert timedelta(0) < end - start <= timedelta(days=31)
    assert all(
        b["filter"]["activityTypeIds"] == [1, 2, 3, 6, 7, 9, 10, 11]
        for b in exports
        if "fields" not in b
    )
    pulled = _objects(report)
    assert pulled["activities"].high_water_mark == max(
        (r["activityDate"] for r in landed_rows(tmp_path, "activities")), key=_instant
    )
    assert report.api_calls > 0 and hidden_files(tmp_path) == []


def test_later_pulls_take_new_and_changed_records_only(
    instance: FakeMarketoSource, tmp_path: Path
) -> None:
    pull_marketo(instance, tmp_path, crm_folder=CRM_1)
    again = _objects(pull_marketo(instance, tmp_path, crm_folder=CRM_1))
    assert again["leads"].rows == 0 and again["activities"].rows == 0

    # A visit dated after the last one landed, but before the last pull ran; a changed lead;
    # a company deleted in Marketo.
    latest = max(a["activityDate"] for a in instance.data["activities"].values())
    visit = instance.put(
        "activities",
        {
            "leadId": P2_LEAD,
            "activityDate": latest + timedelta(hours=1),
            "activityTypeId": 1,
            "primaryAttributeValue": "www.bodea.com/products/new-software",
        },
    )
    instance.update("leads", P2_LEAD, title="CIO")
    company = next(iter(instance.data["companies"]))
    instance.delete("companies", company)
    later = _objects(pull_marketo(instance, tmp_path, crm_folder=CRM_1))
    assert later["activities"].rows == 1
    assert landed_rows(tmp_path, "activities")[-1]["marketoGUID"] == str(visit)
    assert later["leads"].rows == 1 and landed_rows(tmp_path, "leads")[-1]["title"] == "CIO"
    companies = landed_rows(tmp_path, "companies")
    assert str(company) not in {row["id"] for row in companies}
    assert len(list((tmp_path / "companies").glob("*.csv"))) == 1
    # Every activity landed once, across all pulls.
    guids = [row["marketoGUID"] for row in landed_rows(tmp_path, "activities")]
    assert len(guids) == len(set(guids)) == len(instance.data["activities"])


def test_without_the_updated_at_filter_new_leads_still_come(tmp_path: Path) -> None:
    with FakeMarketoSource(
        updated_at_filter=False,
        rate_limit=(100_000, 20.0),
        clock_start=datetime.now(UTC) - timedelta(hours=1),
    ) as fake:
        fake.load_landing(DEMO_DATA / "landing" / "marketo_1")
        pull_marketo(fake, tmp_path)
        new = fake.put("leads", {"email": "p9@townsend.com"})
        later = _objects(pull_marketo(fake, tmp_path))
    assert later["leads"].rows == 1
    assert landed_rows(tmp_path, "leads")[-1]["id"] == str(new)
    answers = [r.response for r in fake.requests if isinstance(r.response, dict)]
    assert any(e.get("code") == "1035" for a in answers for e in a.get("errors", []))


def test_a_failed_export_and_a_damaged_file_are_made_again(
    instance: FakeMarketoSource, tmp_path: Path
) -> None:
    instance.fail_next_export()
    pull_marketo(instance, tmp_path / "failed")
    assert len(landed_rows(tmp_path / "failed", "leads")) == len(instance.data["leads"])
    instance.corrupt_next_file("flip")
    pull_marketo(instance, tmp_path / "damaged")
    assert len(landed_rows(tmp_path / "damaged", "leads")) == len(instance.data["leads"])


def test_rate_limits_and_an_expired_token_are_handled(
    instance: FakeMarketoSource, tmp_path: Path
) -> None:
    instance.inject("606", times=2)
    instance.inject("615")
    instance.inject("602")
    report = pull_marketo(instance, tmp_path)
    assert len(landed_rows(tmp_path, "leads")) == len(instance.data["leads"])
    assert report.token_requests == 2
    assert report.limit_wait_seconds > 0  # backing off after 606 and 615


def test_a_spent_daily_quota_stops_then_resumes(
    instance: FakeMarketoSource, tmp_path: Path
) -> None:
    instance.use_quota(instance.daily_quota_bytes)
    report = _objects(pull_marketo(instance, tmp_path))
    assert report["leads"].note == "daily export quota spent" and report["leads"].rows == 0
    instance.reset_daily_quota()
    resumed = _objects(pull_marketo(instance, tmp_path))
    assert resumed["leads"].rows == len(instance.data["leads"])
    assert resumed["activities"].rows == len(instance.data["activities"])


def test_a_job_failing_twice_stops_the_pull(
    instance: FakeMarketoSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pull_marketo(instance, tmp_path)
    instance.put(
        "activities", {"leadId": P2_LEAD, "activityTypeId": 1, "activityDate": datetime.now(UTC)}
    )
    parts = sorted(p.name for p in (tmp_path / "activities").iterdir())
    handle = instance.handle

    def every_export_fails(request):
        if request.path.endswith("/export/create.json"):
            instance.fail_next_export()
        return handle(request)

    monkeypatch.setattr(instance, "handle", every_export_fails)
    with pytest.raises(PullError, match="Failed"):
        pull_marketo(instance, tmp_path)
    assert sorted(p.name for p in (tmp_path / "activities").iterdir()) == parts
    assert hidden_files(tmp_path) == []
