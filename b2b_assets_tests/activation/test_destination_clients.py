"""The Marketo and LinkedIn destination clients against small real HTTP fakes of those APIs."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from b2b_assets.activation.assets import transport_for
from b2b_assets.activation.config import (
    LINKEDIN_VERSION,
    DestinationConfigError,
    LinkedInAudience,
    load_destinations,
)
from b2b_assets.activation.delivery import DeliveryReport, deliver, reconcile
from b2b_assets.activation.linkedin import LinkedInAudienceClient, LinkedInVersionError
from b2b_assets.activation.marketo import MarketoStaticListClient
from b2b_assets.activation.transport import Change, ChangeResult, DeliveryError, Transport
from b2b_assets.apis.http import RetrySettings, parse_retry_after
from b2b_assets.resources import DuckDBWarehouse
from b2b_assets_tests.conftest import DEMO_DATA
from b2b_assets_tests.fakes.linkedin import FakeLinkedIn
from b2b_assets_tests.fakes.marketo import FakeMarketo

LIST_ID = 1001
SEGMENT_ID = 555
SECRET = "mkto-Secret-9f8e7d6c5b4a"
CLIENT_ID = "mkto-client-1234"
LI_TOKEN = "AQX-linkedin-token-0123456789"
FAST = RetrySettings(attempts=4, backoff_initial=0.01, backoff_max=0.05, backoff_jitter=0.0)


class Sleeps(list):
    """A `sleep` that records the requested waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def sha(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def in_batches(client: Transport, changes: list[Change]) -> list[ChangeResult]:
    results: list[ChangeResult] = []
    for start in range(0, len(changes), client.max_batch):
        results += client.deliver(changes[start : start + client.max_batch])
    return results


def leads(action: str, ids) -> list[Change]:
    return [Change(action, str(i), {"id": i}) for i in ids]  # type: ignore[arg-type]


def users(action: str, emails) -> list[Change]:
    return [
        Change(action, sha(e), {"idType": "SHA256_EMAIL", "idValue": sha(e)})  # type: ignore[arg-type]
        for e in emails
    ]


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


_open_clients: list[Transport] = []


def close_clients() -> None:
    while _open_clients:
        _open_clients.pop().close()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_clients()


@pytest.fixture
def marketo() -> Iterator[FakeMarketo]:
    with FakeMarketo(
        client_id=CLIENT_ID, client_secret=SECRET, list_ids=[LIST_ID], known_leads=range(1, 1001)
    ) as fake:
        yield fake
        close_clients()  # before the server stops


@pytest.fixture
def linkedin() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn(access_token=LI_TOKEN, segment_ids=[SEGMENT_ID]) as fake:
        yield fake
        close_clients()


def marketo_client(
    fake: FakeMarketo, *, client_secret: str = SECRET, **overrides
) -> MarketoStaticListClient:
    options = {"timeout": 2.0, "retry": FAST, "sleep": Sleeps()}
    options.update(overrides)
    client = MarketoStaticListClient(
        fake.url, fake.url + "/identity", CLIENT_ID, client_secret, LIST_ID, **options
    )
    _open_clients.append(client)
    return client


def linkedin_client(fake: FakeLinkedIn, kind: str = "users", **overrides) -> LinkedInAudienceClient:
    options = {"timeout": 2.0, "retry": FAST, "sleep": Sleeps()}
    options.update(overrides)
    token = options.pop("access_token", LI_TOKEN)
    version = options.pop("linkedin_version", "202601")
    client = LinkedInAudienceClient(fake.url, token, SEGMENT_ID, kind, version, **options)
    _open_clients.append(client)
    return client  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Marketo
# ------------------------------------------------------------------------------------------------


def test_marketo_batches_of_300_and_final_membership(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    results = in_batches(client, leads("add", range(1, 701)))

    calls = marketo.rest_requests()
    assert [len(r.body["input"]) for r in calls] == [300, 300, 100]
    assert {r.method for r in calls} == {"POST"}
    assert {r.path for r in calls} == {f"/rest/v1/lists/{LIST_ID}/leads.json"}
    assert all(r.query == {} for r in calls)
    assert [r.status for r in results] == ["added"] * 700
    assert marketo.members(LIST_ID) == set(range(1, 701))
    assert len(marketo.identity_requests()) == 1  # token cached across calls

    results = in_batches(client, leads("remove", range(1, 401)))
    removes = marketo.rest_requests()[3:]
    assert [(r.method, len(r.body["input"])) for r in removes] == [("DELETE", 300), ("DELETE", 100)]
    assert removes[0].body == {"input": [{"id": i} for i in range(1, 301)]}
    assert {r.status for r in results} == {"removed"}
    assert marketo.members(LIST_ID) == set(range(401, 701))
    meta = client.close()
    assert meta["rest_calls"] == 5 and meta["token_requests"] == 1 and meta["removed"] == 400


def test_marketo_skipped_results_carry_reasons(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    results = client.deliver(leads("add", [5, 999_999, 6]))
    assert [(r.change.member_id, r.status, r.reason) for r in results] == [
        ("5", "added", None),
        ("999999", "skipped", "1004 Lead not found"),
        ("6", "added", None),
    ]
    results = client.deliver(leads("remove", [5, 7]))
    assert [(r.status, r.reason) for r in results] == [
        ("removed", None),
        ("skipped", "1015 Lead not in list"),
    ]
    assert marketo.members(LIST_ID) == {6}


def test_marketo_batch_contract(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    assert client.deliver([]) == []
    with pytest.raises(ValueError):
        client.deliver(leads("add", range(1, 302)))
    with pytest.raises(ValueError):
        client.deliver(leads("add", [1]) + leads("remove", [2]))
    with pytest.raises(ValueError):
        client.deliver([Change("add", "not-a-number")])
    assert marketo.requests == []


def test_marketo_token_renewed_on_602_and_call_retried_once(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    client.deliver(leads("add", [1]))
    marketo.expire_tokens()
    assert [r.status for r in client.deliver(leads("add", [2]))] == ["added"]
    assert marketo.error_codes() == ["ok", "602", "ok"]
    assert len(marketo.identity_requests()) == 2
    assert len(set(marketo.issued_tokens)) == 2


def test_marketo_token_renewed_on_601(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    client.deliver(leads("add", [1]))
    marketo.revoke_tokens()
    client.deliver(leads("add", [2]))
    assert marketo.error_codes() == ["ok", "601", "ok"]
    assert marketo.members(LIST_ID) == {1, 2}


def test_marketo_second_token_error_after_renewal_raises(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    marketo.inject("602", times=2)
    with pytest.raises(DeliveryError, match="602"):
        client.deliver(leads("add", [1]))
    assert marketo.error_codes() == ["602", "602"]  # retried exactly once
    assert marketo.members(LIST_ID) == set()


def test_marketo_token_renewed_before_expiry_from_expires_in(marketo: FakeMarketo) -> None:
    now = [1000.0]
    client = marketo_client(marketo, clock=lambda: now[0], token_refresh_margin=60)
    client.deliver(leads("add", [1]))
    now[0] += 3000  # 600 s left: still cached
    client.deliver(leads("add", [2]))
    assert len(marketo.identity_requests()) == 1
    now[0] += 545  # 55 s left, inside the margin: renew before calling
    client.deliver(leads("add", [3]))
    assert len(marketo.identity_requests()) == 2
    assert "602" not in marketo.error_codes()


def test_marketo_token_lifetime_expiry_on_the_server(marketo: FakeMarketo) -> None:
    marketo.token_lifetime = 0.3
    # The client's clock never moves, so only the server's 602 tells it the token expired.
    client = marketo_client(marketo, clock=lambda: 0.0, token_refresh_margin=0)
    client.deliver(leads("add", [1]))
    time.sleep(0.35)
    client.deliver(leads("add", [2]))
    assert marketo.error_codes() == ["ok", "602", "ok"]
    assert marketo.members(LIST_ID) == {1, 2}


@pytest.mark.parametrize("kind", ["606", "615", "604", "608", "500", "503", "slow"])
def test_marketo_backs_off_then_succeeds(marketo: FakeMarketo, kind: str) -> None:
    sleeps = Sleeps()
    client = marketo_client(marketo, sleep=sleeps, timeout=0.25)
    marketo.inject(kind, times=2, delay=0.6)
    results = client.deliver(leads("add", [1, 2, 3]))
    assert [r.status for r in results] == ["added"] * 3
    assert sleeps == pytest.approx([0.01, 0.02])  # exponential: initial, then doubled
    assert len(marketo.rest_requests()) == 3
    assert marketo.members(LIST_ID) == {1, 2, 3}
    assert client.close()["retries"] == 2


def test_marketo_delivery_error_after_retries_exhausted(marketo: FakeMarketo) -> None:
    sleeps = Sleeps()
    client = marketo_client(marketo, sleep=sleeps)
    marketo.inject("606", times=10)
    with pytest.raises(DeliveryError, match="606") as info:
        client.deliver(leads("add", [1]))
    assert "after 4 attempt(s)" in str(info.value)
    assert len(marketo.rest_requests()) == 4
    assert sleeps == pytest.approx([0.01, 0.02, 0.04])
    assert marketo.members(LIST_ID) == set()


def test_marketo_non_retryable_error_raises_at_once(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    marketo.inject("607")
    with pytest.raises(DeliveryError, match="607 Daily quota reached"):
        client.deliver(leads("add", [1]))
    assert len(marketo.rest_requests()) == 1


def test_marketo_rate_limit_blocks_instead_of_hitting_606() -> None:
    with FakeMarketo(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        list_ids=[LIST_ID],
        known_leads=range(1, 10),
        rate_limit=(3, 0.7),
    ) as fake:
        client = marketo_client(fake, rate_limit=(3, 1))
        started = time.monotonic()
        for i in range(1, 6):
            client.deliver(leads("add", [i]))
        elapsed = time.monotonic() - started
        assert fake.error_codes() == ["ok"] * 5
        assert elapsed >= 0.8
        assert client.close()["rate_limit_wait_seconds"] > 0


def test_marketo_client_is_sequential_under_threads(marketo: FakeMarketo) -> None:
    marketo.max_concurrent = 1
    client = marketo_client(marketo)
    marketo.inject("slow", delay=0.3)
    threads = [
        threading.Thread(target=client.deliver, args=(leads("add", [i]),)) for i in (1, 2, 3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert marketo.error_codes() == ["ok"] * 3
    assert marketo.members(LIST_ID) == {1, 2, 3}


def test_fake_marketo_enforces_concurrency_and_batch_size(marketo: FakeMarketo) -> None:
    marketo.max_concurrent = 1
    marketo.inject("slow", delay=0.4)
    url = f"{marketo.url}/rest/v1/lists/{LIST_ID}/leads.json"
    slow = threading.Thread(target=httpx.post, args=(url,), kwargs={"json": {"input": []}})
    slow.start()
    time.sleep(0.15)
    second = httpx.post(url, json={"input": []}).json()
    slow.join()
    assert second["errors"][0]["code"] == "615"

    token = httpx.get(
        f"{marketo.url}/identity/oauth/token",
        params={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
        },
    ).json()["access_token"]
    too_many = httpx.post(
        url,
        json={"input": [{"id": i} for i in range(301)]},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert too_many["errors"][0]["code"] == "1003"


def test_marketo_upsert_leads(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    emails = [f"person{i}@example.com" for i in range(450)]
    ids = client.upsert_leads(emails + ["not-an-email"])
    assert len(ids) == 450 and len(set(ids.values())) == 450
    upserts = marketo.requests_to("/rest/v1/leads.json")
    assert [len(r.body["input"]) for r in upserts] == [300, 151]
    assert (
        upserts[0].body["action"] == "createOrUpdate" and upserts[0].body["lookupField"] == "email"
    )
    assert client.upsert_leads(emails[:2]) == {e: ids[e] for e in emails[:2]}  # updated, same ids
    results = client.deliver(leads("add", [ids[e] for e in emails[:3]]))
    assert {r.status for r in results} == {"added"}


def test_marketo_member_of_list_in_calls_of_300(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    in_batches(client, leads("add", range(1, 401)))
    marketo.inject("606")  # the check backs off and retries like every call
    membership = client.list_membership([*range(350, 1001), 5000])
    assert membership == {**{i: i <= 400 for i in range(350, 1001)}, 5000: False}
    checks = marketo.requests_to(f"/rest/v1/lists/{LIST_ID}/leads/ismember.json")
    answered = [r for r in checks if r.status == 200 and r.response["success"]]
    assert [len(r.query["id"]) for r in answered] == [300, 300, 52]
    assert {r.method for r in checks} == {"GET"} and all(r.body is None for r in checks)
    assert answered[0].query["id"][:2] == ["350", "351"]
    # What an interrupted batch left behind: added leads present, removed leads absent.
    assert client.applied("b1", leads("add", [399, 400, 401, 5000])) == {"399", "400"}
    assert client.applied("b2", leads("remove", [399, 401, 5000])) == {"401", "5000"}


def test_fake_marketo_member_of_list_answers(marketo: FakeMarketo) -> None:
    client = marketo_client(marketo)
    client.deliver(leads("add", [7]))
    token = marketo.issued_tokens[-1]
    path = f"{marketo.url}/rest/v1/lists/{LIST_ID}/leads/ismember.json"
    auth = {"Authorization": f"Bearer {token}"}
    answer = httpx.get(path, params={"id": "7,8,999999"}, headers=auth).json()
    assert answer["success"] and [(r["id"], r["status"]) for r in answer["result"]] == [
        (7, "memberof"),
        (8, "notmemberof"),
        (999999, "skipped"),
    ]
    assert answer["result"][2]["reasons"][0]["code"] == "1004"
    too_many = httpx.get(path, params=[("id", str(i)) for i in range(1, 302)], headers=auth)
    assert too_many.json()["errors"][0]["code"] == "1003"


def test_linkedin_cannot_say_what_a_segment_holds(linkedin: FakeLinkedIn) -> None:
    client = linkedin_client(linkedin)
    client.deliver(users("add", ["a@example.com"]))
    assert client.applied("b1", users("add", ["a@example.com"])) is None
    assert len(linkedin.requests) == 1  # nothing was asked or sent


def test_marketo_secrets_never_in_urls_exceptions_or_logs(
    marketo: FakeMarketo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    client = marketo_client(marketo)
    client.deliver(leads("add", [1]))
    marketo.expire_tokens()
    marketo.inject("606")
    client.deliver(leads("add", [2]))
    for kind, times in (("606", 10), ("602", 2), ("500", 10), ("1003", 1)):
        marketo.inject(kind, times=times)
        with pytest.raises(DeliveryError) as info:
            client.deliver(leads("add", [3]))
        errors.append(info.value)
        marketo.clear_injections()
    marketo.inject("slow", times=10, delay=0.3)
    with pytest.raises(DeliveryError) as info:
        marketo_client(
            marketo,
            timeout=0.1,
            retry=RetrySettings(attempts=2, backoff_initial=0, backoff_jitter=0),
        ).deliver(leads("add", [4]))
    errors.append(info.value)
    marketo.clear_injections()
    with pytest.raises(DeliveryError) as info:
        marketo_client(marketo, client_secret=SECRET + "-wrong").deliver(leads("add", [4]))
    errors.append(info.value)
    client.close()

    secrets = [SECRET, SECRET + "-wrong", *marketo.issued_tokens]
    assert len(marketo.issued_tokens) >= 2
    texts = ["".join(traceback.format_exception(e)) for e in errors] + [repr(e) for e in errors]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    for rest in marketo.rest_requests():
        assert rest.query == {}
        texts.append(rest.path + rest.raw_body + repr(rest.headers))
    assert any("identity" in t for t in texts) and caplog.records
    for secret in secrets:
        assert not any(secret in t for t in texts), "a secret leaked"


# ------------------------------------------------------------------------------------------------
# LinkedIn
# ------------------------------------------------------------------------------------------------


def test_linkedin_users_batches_headers_and_membership(linkedin: FakeLinkedIn) -> None:
    client = linkedin_client(linkedin)
    emails = [f"User{i}@Example.com " for i in range(12_000)]
    results = in_batches(client, users("add", emails))
    calls = linkedin.requests
    assert [len(r.body["elements"]) for r in calls] == [5000, 5000, 2000]
    first = calls[0]
    assert first.method == "POST" and first.path == f"/rest/dmpSegments/{SEGMENT_ID}/users"
    assert first.headers["x-restli-method"] == "BATCH_CREATE"
    assert first.headers["x-restli-protocol-version"] == "2.0.0"
    assert first.headers["linkedin-version"] == "202601"
    assert "authorization" not in first.headers
    assert first.body["elements"][0] == {
        "action": "ADD",
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("user0@example.com")}],
    }
    assert {r.status for r in results} == {"added"}
    assert linkedin.members(SEGMENT_ID) == {sha(e) for e in emails}

    removed = in_batches(client, users("remove", emails[:7000]))
    assert {r.status for r in removed} == {"removed"}
    assert linkedin.requests[-1].body["elements"][0]["action"] == "REMOVE"
    assert linkedin.members(SEGMENT_ID) == {sha(e) for e in emails[7000:]}
    for request in linkedin.requests:
        assert "@" not in request.raw_body and "example.com" not in request.raw_body.lower()
    assert client.close()["calls"] == 5


@pytest.mark.parametrize(
    "payload",
    [
        {"idType": "SHA256_EMAIL", "idValue": "someone@example.com"},
        {"idType": "SHA256_EMAIL", "idValue": sha("a@b.co").upper()},
        {"idType": "SHA256_EMAIL", "idValue": sha("a@b.co")[:63]},
        {"idType": "EMAIL", "idValue": sha("a@b.co")},
        {"idType": "SHA256_EMAIL", "idValue": sha("a@b.co"), "email": "a@b.co"},
        {},
    ],
)
def test_linkedin_refuses_anything_but_a_sha256_hash(linkedin: FakeLinkedIn, payload: dict) -> None:
    client = linkedin_client(linkedin)
    good = users("add", ["ok@example.com"])
    with pytest.raises(ValueError) as info:
        client.deliver(good + [Change("add", "someone@example.com", payload)])
    assert "@" not in str(info.value)
    assert linkedin.requests == []  # nothing of the batch was sent


def test_fake_linkedin_rejects_plain_emails_and_oversized_batches(linkedin: FakeLinkedIn) -> None:
    url = f"{linkedin.url}/rest/dmpSegments/{SEGMENT_ID}/users"
    headers = {
        "Authorization": f"Bearer {LI_TOKEN}",
        "X-RestLi-Method": "BATCH_CREATE",
        "X-Restli-Protocol-Version": "2.0.0",
        "LinkedIn-Version": "202601",
    }
    plain = {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "x@example.com"}]}
    answer = httpx.post(url, json={"elements": [plain]}, headers=headers)
    assert answer.json()["elements"][0]["status"] == 400
    hashed = {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("x@y.z")}]}
    assert httpx.post(url, json={"elements": [hashed] * 5001}, headers=headers).status_code == 400
    assert linkedin.members(SEGMENT_ID) == set()


def test_linkedin_companies(linkedin: FakeLinkedIn) -> None:
    client = linkedin_client(linkedin, kind="companies")
    companies = [
        Change("add", "acme.com", {"companyName": "Acme", "companyWebsiteDomain": "acme.com"}),
        Change(
            "add", "globex.com", {"companyName": "Globex", "companyWebsiteDomain": "globex.com"}
        ),
    ]
    assert [r.status for r in client.deliver(companies)] == ["added", "added"]
    request = linkedin.requests[-1]
    assert request.path == f"/rest/dmpSegments/{SEGMENT_ID}/companies"
    assert request.body["elements"][0] == {
        "action": "ADD",
        "companyName": "Acme",
        "companyWebsiteDomain": "acme.com",
    }
    client.deliver(
        [Change("remove", "acme.com", {"companyName": "Acme", "companyWebsiteDomain": "acme.com"})]
    )
    assert linkedin.members(SEGMENT_ID, "companies") == {"globex.com"}
    with pytest.raises(ValueError):
        client.deliver([Change("add", "x", {"email": "ceo@acme.com"})])


def test_linkedin_per_element_failures(linkedin: FakeLinkedIn) -> None:
    linkedin.reject_ids = {sha("bad@example.com")}
    client = linkedin_client(linkedin)
    results = client.deliver(users("add", ["good@example.com", "bad@example.com"]))
    assert [(r.status, r.reason) for r in results] == [
        ("added", None),
        ("failed", "422 Member could not be processed"),
    ]


def test_linkedin_honours_retry_after_on_429(linkedin: FakeLinkedIn) -> None:
    sleeps = Sleeps()
    client = linkedin_client(linkedin, sleep=sleeps)
    linkedin.inject(429, retry_after=7)
    linkedin.inject(429)
    results = client.deliver(users("add", ["a@example.com"]))
    assert [r.status for r in results] == ["added"]
    assert sleeps == pytest.approx([7.0, 0.02])  # Retry-After, then exponential backoff
    assert [r.status for r in linkedin.requests] == [429, 429, 200]


@pytest.mark.parametrize("kind", ["429", "500", "503", "slow"])
def test_linkedin_backs_off_then_succeeds(linkedin: FakeLinkedIn, kind: str) -> None:
    sleeps = Sleeps()
    client = linkedin_client(linkedin, sleep=sleeps, timeout=0.25)
    linkedin.inject(kind, times=2, delay=0.6)
    results = client.deliver(users("add", ["a@example.com", "b@example.com"]))
    assert [r.status for r in results] == ["added", "added"]
    assert sleeps == pytest.approx([0.01, 0.02])
    assert linkedin.members(SEGMENT_ID) == {sha("a@example.com"), sha("b@example.com")}


def test_linkedin_errors_and_token_never_leaks(
    linkedin: FakeLinkedIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    client = linkedin_client(linkedin)
    linkedin.inject(500, times=10)
    with pytest.raises(DeliveryError, match="after 4 attempt") as info:
        client.deliver(users("add", ["a@example.com"]))
    errors.append(info.value)
    assert len(linkedin.requests) == 4
    linkedin.clear_injections()
    with pytest.raises(DeliveryError, match="401") as info:
        linkedin_client(linkedin, access_token=LI_TOKEN + "-stale").deliver(
            users("add", ["a@example.com"])
        )
    errors.append(info.value)
    assert len(linkedin.requests) == 5  # no retry on 401
    texts = ["".join(traceback.format_exception(e)) for e in errors] + [caplog.text]
    texts += [r.raw_body + repr(r.headers) + repr(r.query) for r in linkedin.requests]
    assert not any(LI_TOKEN in t for t in texts)
    assert linkedin.members(SEGMENT_ID) == set()


def test_linkedin_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        LinkedInAudienceClient("https://api.linkedin.com", "t", 1, "people", "202601")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LinkedInAudienceClient("https://api.linkedin.com", "t", 1, "users", "2026-01")
    with pytest.raises(ValueError):
        LinkedInAudienceClient("http://api.linkedin.com", "t", 1, "users", "202601")


def linkedin_destination(**settings) -> LinkedInAudience:
    return LinkedInAudience(
        name="linkedin_new_product", type="linkedin_users", segment_id=SEGMENT_ID, **settings
    )


def test_linkedin_default_version_is_current_and_sent_as_the_header(
    linkedin: FakeLinkedIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    linkedin.oldest_version = "202611"
    destination = linkedin_destination(
        endpoint=linkedin.url, access_token_env="LI_TEST_TOKEN", backoff_seconds=0
    )
    assert destination.linkedin_version == LINKEDIN_VERSION == "202611"
    demo = load_destinations(DEMO_DATA / "destinations.yaml", {"marketo_1", "marketo_2"})
    assert demo.by_name()["linkedin_new_product"].linkedin_version == "202611"
    monkeypatch.setenv("LI_TEST_TOKEN", LI_TOKEN)
    client = transport_for(destination, "seg", tmp_path / "outbox", "2026-12-04")
    _open_clients.append(client)
    assert [r.status for r in client.deliver(users("add", ["a@example.com"]))] == ["added"]
    assert [r.headers["linkedin-version"] for r in linkedin.requests] == ["202611"]


def test_linkedin_sunset_version_names_the_setting_and_is_not_retried(
    linkedin: FakeLinkedIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    linkedin.oldest_version = "202611"
    sleeps = Sleeps()
    client = linkedin_client(
        linkedin, linkedin_version="202410", destination="linkedin_new_product", sleep=sleeps
    )
    with pytest.raises(LinkedInVersionError) as info:
        client.deliver(users("add", ["a@example.com"]))
    assert str(info.value) == (
        "LinkedIn answered 426 NONEXISTENT_VERSION: LinkedIn-Version 202410 is no longer served; "
        "set linkedin_version of destination 'linkedin_new_product' in destinations.yaml "
        "to a current version (YYYYMM, e.g. 202611)"
    )
    assert isinstance(info.value, DeliveryError)
    assert [r.status for r in linkedin.requests] == [426]
    assert sleeps == [] and client.close()["retries"] == 0
    texts = ["".join(traceback.format_exception(info.value)), caplog.text]
    assert not any(LI_TOKEN in t for t in texts)
    assert linkedin.members(SEGMENT_ID) == set()


def test_linkedin_any_426_names_the_setting(linkedin: FakeLinkedIn) -> None:
    linkedin.inject(426, times=10)
    client = linkedin_client(linkedin)
    with pytest.raises(LinkedInVersionError) as info:
        client.deliver(users("add", ["a@example.com"]))
    assert str(info.value) == (
        "LinkedIn answered HTTP 426: LinkedIn-Version 202601 was refused (injected); "
        f"set linkedin_version of the LinkedIn destination of segment_id {SEGMENT_ID} "
        "in destinations.yaml to a current version (YYYYMM, e.g. 202611)"
    )
    assert len(linkedin.requests) == 1


def test_linkedin_version_refused_leaves_the_batch_pending(
    linkedin: FakeLinkedIn, tmp_path: Path
) -> None:
    linkedin.oldest_version = "202611"
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    destination = linkedin_destination(endpoint=linkedin.url, linkedin_version="202410")
    changes = users("add", ["a@example.com", "b@example.com"])
    stale = linkedin_client(linkedin, linkedin_version="202410", destination=destination.name)
    report = DeliveryReport()
    with pytest.raises(LinkedInVersionError, match="linkedin_version of destination"):
        deliver(warehouse.connect, stale, destination, "seg", changes, report, "r1")
    assert report.statuses == Counter()
    with warehouse.connect() as con:
        assert con.execute("SELECT status FROM ops.activation_batch").fetchall() == [("pending",)]
        assert con.execute("SELECT count(*) FROM ops.activation_state").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM ops.activation_log").fetchone() == (0,)

    current = linkedin_client(linkedin, linkedin_version="202611", destination=destination.name)
    report = DeliveryReport()
    reconcile(warehouse.connect, current, destination, "seg", report, "r2")
    deliver(warehouse.connect, current, destination, "seg", changes, report, "r2")
    assert report.unconfirmed_batches == 1 and report.statuses == Counter(added=2)
    with warehouse.connect() as con:
        statuses = con.execute("SELECT status FROM ops.activation_batch ORDER BY batch_no")
        assert statuses.fetchall() == [("unconfirmed",), ("acknowledged",)]
    assert linkedin.members(SEGMENT_ID) == {c.member_id for c in changes}


@pytest.mark.parametrize("version", ["2024-10", "202413", "20261", "v202611", "202611.01", 2024])
def test_linkedin_version_setting_must_be_yyyymm(tmp_path: Path, version: object) -> None:
    with pytest.raises(ValidationError, match="linkedin_version must be YYYYMM"):
        linkedin_destination(linkedin_version=version)
    path = tmp_path / "destinations.yaml"
    entry = {"name": "linkedin_new_product", "type": "linkedin_users", "linkedin_version": version}
    path.write_text(yaml.safe_dump({"destinations": [entry]}))
    with pytest.raises(DestinationConfigError) as info:
        load_destinations(path, set())
    message = str(info.value)
    assert str(path) in message and "linkedin_version" in message and repr(version) in message


def test_linkedin_version_setting_takes_an_unquoted_number(tmp_path: Path) -> None:
    path = tmp_path / "destinations.yaml"
    path.write_text(
        "destinations:\n  - {name: li, type: linkedin_users, linkedin_version: 202611}\n"
    )
    assert load_destinations(path, set()).by_name()["li"].linkedin_version == "202611"


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(
        10.0
    )
