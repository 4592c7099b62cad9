"""Sources landed by Fivetran (`format: fivetran`): the demo's rows in the tables and columns of
Fivetran's published seeds give the same profiles and audiences as in the contract's shape;
rows Fivetran marks deleted or replaced are set aside, never counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2b_assets.automation import source_watch
from b2b_assets.sources.config import SourcesConfigError, load_sources
from b2b_assets.sources.fivetran import DELETED_REASON, EARLIER_VERSION_REASON, attribute_name
from b2b_assets.sources.landing_names import unknown_landing_entries
from b2b_assets_tests.conftest import Run
from b2b_assets_tests.sources.fivetran_landing import HEADERS, TOWNSEND_2

ACCOUNT_COLUMNS = "account_id, name, closed_won_revenue, list_sort(source_keys)"
PERSON_COLUMNS = "person_id, email, list_sort(account_ids), can_email"


def test_the_tables_are_in_the_published_seeds_shapes(fivetran_run: Run):
    landing = fivetran_run.data_dir / "landing"
    header = (landing / "crm_1" / "account.csv").read_text().splitlines()[0].split(",")
    assert header[: len(HEADERS["salesforce/account"])] == HEADERS["salesforce/account"]
    header = (landing / "marketo_1" / "lead.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == HEADERS["marketo/lead"]
    assert (landing / "marketo_1" / "activity_visit_webpage").is_dir()
    assert not (landing / "marketo_1" / "activities.csv").exists()


def test_fivetran_shapes_give_the_same_profiles(demo_run: Run, fivetran_run: Run):
    assert fivetran_run.result.success
    for table, columns in (
        ("profile.account", ACCOUNT_COLUMNS),
        ("profile.person", PERSON_COLUMNS),
    ):
        query = f"SELECT {columns} FROM {table} ORDER BY 1"
        assert fivetran_run.query(query) == demo_run.query(query), table
    audience = "SELECT email FROM audience.new_product_upsell ORDER BY email"
    assert fivetran_run.query(audience) == demo_run.query(audience) == [("p2@townsend.com",)]
    events = "SELECT count(*), count(DISTINCT url) FROM b2b.experience_event"
    assert fivetran_run.query(events) == demo_run.query(events)


def test_activity_tables_become_activities_with_marketo_attributes(
    demo_run: Run, fivetran_run: Run
):
    visits = """SELECT marketo_guid, lead_id, activity_date, primary_attribute_value,
                       json_extract_string(attributes, '$."Webpage URL"')
                FROM raw.marketo_1__activities WHERE activity_type_id = 1 ORDER BY 1"""
    rows = fivetran_run.query(visits)
    assert rows == demo_run.query(visits)
    assert any(row[-1] for row in rows)
    assert attribute_name("client_ip_address") == "Client IP Address"
    assert attribute_name("webpage_url") == "Webpage URL"


def test_deleted_and_replaced_rows_are_set_aside_and_counted(fivetran_run: Run):
    reasons = dict(
        fivetran_run.query(
            """SELECT object || ' ' || reason, count(*) FROM raw.quarantine
               WHERE source_instance IN ('crm_2', 'marketo_1') GROUP BY 1"""
        )
    )
    assert reasons == {f"leads {DELETED_REASON}": 1, f"Account {EARLIER_VERSION_REASON}": 1}
    deleted = fivetran_run.query(
        "SELECT is_deleted FROM raw.crm_2__opportunity WHERE id = '0068d00000ZZZZZAAA'"
    )
    assert deleted == [(True,)]
    names = fivetran_run.query(f"SELECT name FROM raw.crm_2__account WHERE id = '{TOWNSEND_2}'")
    assert names == [("Townsend Inc.",)]
    # Set aside as the source meant: the quarantine checks do not warn about them.
    checks = {
        e.asset_check_evaluation_data.asset_key.path[-1]: e.asset_check_evaluation_data
        for e in fivetran_run.result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    for table in ("crm_2__account", "marketo_1__leads"):
        assert checks[table].passed, table


def test_other_fivetran_tables_are_not_noted_and_the_sensor_sees_activity_tables(
    fivetran_run: Run,
):
    config = load_sources(fivetran_run.data_dir / "sources.yaml")
    (marketo_1,) = [s for s in config.sources if s.name == "marketo_1"]
    folder = fivetran_run.data_dir / "landing" / "marketo_1"
    assert (folder / "lead_describe.csv").exists() and (folder / "activity_type.csv").exists()
    assert unknown_landing_entries(folder, "marketo", "fivetran") == []
    watched = source_watch(marketo_1, folder)
    found = watched.scan()
    assert {watched.object_of(path) for path in found} == {
        "leads",
        "activities",
        "companies",
        "opportunities",
        "opportunity_roles",
        "programs",
        "program_members",
        "static_lists",
        "static_list_members",
    }
    assert any(path.startswith("activity_visit_webpage/") for path in found)
    # The same folder read in the contract's shape names what it does not read.
    assert unknown_landing_entries(folder, "marketo", "contract")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: mdm, type: mdm, format: fivetran}", "format fivetran is for salesforce"),
        (
            "{name: crm_1, type: salesforce, format: fivetran, pull: {instance_url: "
            "'https://x.my.salesforce.com', token_url: 'https://x.my.salesforce.com/t', "
            "client_id_env: A_ID, client_secret_env: A_SECRET}}",
            "a pulled source lands the contract's shape",
        ),
        ("{name: crm_1, type: salesforce, format: airbyte}", "format"),
    ],
)
def test_a_format_that_cannot_be_read_is_a_clear_error(tmp_path: Path, entry: str, message: str):
    (tmp_path / "sources.yaml").write_text(f"sources:\n  - {entry}\n")
    with pytest.raises(SourcesConfigError, match=message):
        load_sources(tmp_path / "sources.yaml")
