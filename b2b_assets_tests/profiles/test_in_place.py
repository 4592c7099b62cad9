"""The person-level profiles follow new events in place, and equal a whole build (Hypothesis)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2b_assets import generations
from b2b_assets.model.engagement import experience_event
from b2b_assets.profiles import accounts, people
from b2b_assets.resources import RunSettings
from b2b_assets.sources import parts
from b2b_assets.sources.config import load_sources
from b2b_assets.sources.publishing import publish_loaded_parts
from b2b_assets.sources.sql_macros import install_macros
from b2b_assets_tests.conftest import copy_demo, materialize_env

AS_OF = datetime(2026, 11, 15, tzinfo=UTC)
RAW = "raw.marketo_1__activities"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo built once: its data folder and warehouse."""
    root = tmp_path_factory.mktemp("in_place")
    data = copy_demo(root / "data")
    run = materialize_env(data, root / "warehouse.duckdb", as_of=AS_OF.isoformat())
    return data, run.warehouse


def _context() -> SimpleNamespace:
    return SimpleNamespace(resources=SimpleNamespace(settings=RunSettings(as_of=AS_OF.isoformat())))


def _land(con: duckdb.DuckDBPyConnection, load: int, rows: list[tuple[str, str, datetime]]) -> None:
    """A new load of Marketo 1's activities, as the raw layer appends it: a part of its own,
    recorded with its file, and the raw view over every part."""
    file_name = f"landing/marketo_1/activities/drop-{load}.csv"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _drop AS SELECT * FROM {RAW} WHERE FALSE")
    for number, (guid, lead, when) in enumerate(rows, start=1):
        con.execute(
            """INSERT INTO _drop BY NAME SELECT $guid AS marketo_guid, $lead AS lead_id,
                   $when AS activity_date, 1 AS activity_type_id,
                   'www.bodea.com/pricing' AS primary_attribute_value,
                   'marketo_1' AS _source_instance, $file AS _file_name,
                   $n AS _row_number, now() AS _loaded_at""",
            {"guid": guid, "lead": lead, "when": when, "file": file_name, "n": number},
        )
    folder = parts.load_folder(parts.parts_root(con), RAW, f"drop-{load}")
    folder.mkdir(parents=True)
    part = str(parts.part_path(folder, 0))
    con.execute(
        "COPY (SELECT *, NULL::VARCHAR[] AS _problems, NULL::VARCHAR AS _record FROM _drop) "
        f"TO '{part}' (FORMAT parquet)"
    )
    con.execute(
        """INSERT INTO ops.loaded_files (raw_table, file_name, size, mtime_ns, rows_read,
               load_id, signature, loaded_at, part)
           VALUES ($t, $f, 0, 0, $n, $l, '', now(), $p)""",
        {"t": RAW, "f": file_name, "n": len(rows), "l": f"drop-{load}", "p": part},
    )
    publish_loaded_parts(con, RAW, "")


def _build(con: duckdb.DuckDBPyConnection, events, context) -> dict:
    """The run a landing sensor starts: events, then the person profiles."""
    events.run(con, context)
    activity = people._person_activity_build(con, context)
    person = people._person_build(con, context)
    account = accounts._account_build(con, context)
    assert account["build"] == person["build"]
    return {"activity": activity["build"], "person": person["build"]}


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return sorted(con.execute(query).fetchall(), key=repr)


LEADS = st.sampled_from(["48211", "48212", "48213", "51007", "51008", "99999"])
GUIDS = st.sampled_from([f"9{n:05d}" for n in range(12)] + ["102988"])  # 102988 already exists
WHEN = st.integers(min_value=-60, max_value=5).map(lambda days: AS_OF + timedelta(days=days))
DROP = st.lists(st.tuples(GUIDS, LEADS, WHEN), min_size=1, max_size=6, unique_by=lambda r: r[0])


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drops=st.lists(DROP, min_size=1, max_size=3))
def test_in_place_builds_equal_a_whole_build(built, tmp_path_factory, drops) -> None:
    data, warehouse = built
    copy = tmp_path_factory.mktemp("drop") / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    events = experience_event(load_sources(data / "sources.yaml"))
    context = _context()
    with duckdb.connect(str(copy)) as con:
        install_macros(con)
        modes = []
        for load, drop in enumerate(drops):
            _land(con, load, drop)
            modes.append(_build(con, events, context))
        # New events, some replacing earlier ones (a guid seen before), some for leads that
        # are nobody's, some after as-of: each drop is taken in place.
        assert modes == [{"activity": "in place", "person": "in place"}] * len(drops)
        in_place = {
            table: _rows(con, f"SELECT * FROM profile.{table}")
            for table in ("person_activity", "person")
        }
        con.execute(
            f"CREATE TEMP TABLE whole_activity AS {people.PERSON_ACTIVITY_SQL}", {"as_of": AS_OF}
        )
        assert in_place["person_activity"] == _rows(con, "SELECT * FROM whole_activity")
        whole_person = people.PERSON_SQL.replace("profile.person_activity", "whole_activity")
        assert in_place["person"] == _rows(con, whole_person)
        con.execute(f"CREATE TEMP TABLE whole_person AS {whole_person}")
        whole_account = accounts.ACCOUNT_SQL.replace("profile.person p", "whole_person p")
        assert "whole_person p" in whole_account
        assert _rows(con, "SELECT * FROM profile.account") == _rows(con, whole_account)


def test_another_as_of_or_new_people_rebuild_whole(built, tmp_path) -> None:
    data, warehouse = built
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    events = experience_event(load_sources(data / "sources.yaml"))
    with duckdb.connect(str(copy)) as con:
        install_macros(con)
        _land(con, 0, [("900001", "48212", AS_OF - timedelta(days=1))])
        assert _build(con, events, _context()) == {"activity": "in place", "person": "in place"}
        later = SimpleNamespace(
            resources=SimpleNamespace(settings=RunSettings(as_of="2026-12-01T00:00:00Z"))
        )
        _land(con, 1, [("900002", "48212", AS_OF - timedelta(days=1))])
        # Another as-of: activity is recounted whole, and the person profile with it.
        assert _build(con, events, later) == {"activity": "whole", "person": "whole"}
        generations.record(con, "identity.person")  # people resolved again
        _land(con, 2, [("900003", "48212", AS_OF - timedelta(days=1))])
        assert _build(con, events, later)["activity"] == "whole"
        assert _build(con, events, later) == {"activity": "in place", "person": "in place"}
