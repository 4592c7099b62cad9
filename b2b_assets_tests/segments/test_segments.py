"""Segments: parsing errors that point at the spot, parameter binding, windows, isolation."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from b2b_assets.segments.compiler import SegmentCompiler, window_bounds
from b2b_assets.segments.language import SegmentError, Window, load_segment
from b2b_assets_tests import scenario as s
from b2b_assets_tests.scenario import key

AS_OF = datetime(2026, 11, 15, tzinfo=UTC)


def write_segment(folder: Path, stem: str, document) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def parse_error(tmp_path: Path, document) -> SegmentError:
    path = write_segment(tmp_path / "segments", "seg", document)
    with pytest.raises(SegmentError) as error:
        segment = load_segment(path)
        SegmentCompiler({segment.name: segment}, AS_OF).compile(segment)
    assert str(path) in str(error.value)
    assert error.value.file == str(path)
    return error.value


# --------------------------------------------------------------------------------------------
# Parsing errors name the file and the path
# --------------------------------------------------------------------------------------------


def test_unknown_field_suggests_the_close_one(tmp_path):
    error = parse_error(tmp_path, {"entity": "person", "where": {"all": [{"emial": "a@b.c"}]}})
    assert error.path == "where.all[0].emial"
    assert "where.all[0].emial" in str(error)
    assert "did you mean 'email'" in str(error)


def test_unknown_field_in_a_relation(tmp_path):
    error = parse_error(
        tmp_path,
        {"entity": "person", "where": {"accounts": {"where": {"closed_won_revenu": {"gt": 1}}}}},
    )
    assert error.path == "where.accounts.where.closed_won_revenu"
    assert "closed_won_revenue" in str(error)


def test_unknown_operator(tmp_path):
    error = parse_error(tmp_path, {"entity": "person", "where": {"event_count": {"gtee": 3}}})
    assert error.path == "where.event_count.gtee"
    assert "gtee" in str(error)
    assert "did you mean 'gte'" in str(error)
    error = parse_error(tmp_path, {"entity": "person", "where": {"email": {"equalz": "a@b.c"}}})
    assert error.path == "where.email.equalz"
    assert "equalz" in str(error)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ({"event_count": {"gte": "many"}}, "where.event_count.gte"),
        ({"can_email": "yes"}, "where.can_email.eq"),
        ({"email": {"gt": "a"}}, "where.email.gt"),
        ({"last_activity_at": {"gte": "last tuesday"}}, "where.last_activity_at.gte"),
    ],
)
def test_wrong_value_type(tmp_path, where, path):
    error = parse_error(tmp_path, {"entity": "person", "where": where})
    assert error.path == path
    assert path in str(error)


@pytest.mark.parametrize(
    ("within", "path"),
    [
        ({"days": -3}, "where.events.within.days"),
        ({"days": "thirty"}, "where.events.within.days"),
        ({"fortnights": 2}, "where.events.within.fortnights"),
        ({"days": 3, "hours": 2}, "where.events.within"),
        ("last_decade", "where.events.within.calendar"),
    ],
)
def test_bad_window(tmp_path, within, path):
    error = parse_error(tmp_path, {"entity": "person", "where": {"events": {"within": within}}})
    assert error.path == path
    assert path in str(error)


def test_unknown_segment(tmp_path):
    error = parse_error(tmp_path, {"entity": "person", "where": {"in_segment": "no_such"}})
    assert error.path == "where.in_segment"
    assert "no_such" in str(error)


def resolve(document, path: str):
    """The node at a segment path like `where.all[1].in_segment` (KeyError if there is none)."""
    node = document
    for part in path.split("."):
        name, *indexes = part.replace("]", "").split("[")
        node = node[name]
        for index in indexes:
            node = node[int(index)]
    return node


def test_cycle_between_two_segments(tmp_path):
    folder = tmp_path / "segments"
    documents = {
        "a": {"entity": "person", "where": {"in_segment": "b"}},
        "b": {"entity": "person", "where": {"all": [{"can_email": True}, {"in_segment": "a"}]}},
    }
    files = {name: write_segment(folder, name, doc) for name, doc in documents.items()}
    segments = {name: load_segment(path) for name, path in files.items()}
    compiler = SegmentCompiler(segments, AS_OF)
    for name in ("a", "b"):
        with pytest.raises(SegmentError) as error:
            compiler.compile(segments[name])
        message = str(error.value)
        assert "cycle" in message
        # The error names a file and a path, and the path is in that file: it points at an
        # `in_segment` of the cycle.
        named = next(n for n, path in files.items() if str(path) == error.value.file)
        assert error.value.file in message and error.value.path in message
        assert error.value.path.endswith("in_segment")
        try:
            target = resolve(documents[named], error.value.path)
        except (KeyError, IndexError, TypeError):
            pytest.fail(
                f"{error.value.file} has no {error.value.path} (compiling {name}): {message}"
            )
        assert target in documents


def test_not_valid_yaml_names_the_file(tmp_path):
    path = write_segment(tmp_path / "segments", "bad", "entity: person\nwhere: [unclosed\n")
    with pytest.raises(SegmentError) as error:
        load_segment(path)
    assert str(path) in str(error.value)


def test_segments_reference_each_other(tmp_path):
    folder = tmp_path / "segments"
    base = write_segment(folder, "base", {"entity": "person", "where": {"can_email": True}})
    top = write_segment(
        folder,
        "top",
        {"entity": "person", "where": {"all": [{"in_segment": "base"}, {"title": "CIO"}]}},
    )
    segments = {seg.name: seg for seg in (load_segment(base), load_segment(top))}
    compiled = SegmentCompiler(segments, AS_OF).compile(segments["top"])
    assert compiled.references == {"base"}


# --------------------------------------------------------------------------------------------
# Values are parameters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def scenario_copy(scenario_run, tmp_path):
    """A writable copy of the scenario's warehouse."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(scenario_run.warehouse, target)
    con = duckdb.connect(str(target))
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


def test_compiled_sql_binds_values_as_parameters(tmp_path):
    path = write_segment(tmp_path / "segments", "obrien", s.OBRIEN)
    segment = load_segment(path)
    compiled = SegmentCompiler({segment.name: segment}, AS_OF).compile(segment)
    assert s.INJECTION not in compiled.sql
    assert "DROP" not in compiled.sql.upper()
    assert "O'Brien" not in compiled.sql
    assert s.INJECTION in compiled.params.values()


def test_injection_value_is_only_a_value(scenario_run, scenario_copy, tmp_path):
    # Through the graph: the person whose last name is that text is the member, `x` survives.
    members = scenario_run.query("SELECT person_id, email FROM audience.obrien")
    assert [email for _, email in members] == ["ob@globex.com"]
    assert scenario_run.query("SELECT answer FROM main.x") == [(42,)]
    # And the compiled query run again by hand.
    path = write_segment(tmp_path / "segments", "obrien", s.OBRIEN)
    segment = load_segment(path)
    compiled = SegmentCompiler({segment.name: segment}, AS_OF).compile(segment)
    rows = scenario_copy.execute(compiled.sql, compiled.params).fetchall()
    assert [row[1] for row in rows] == ["ob@globex.com"]
    assert scenario_copy.execute("SELECT answer FROM main.x").fetchall() == [(42,)]


# --------------------------------------------------------------------------------------------
# Windows: "the last N days" is (as_of - N days, as_of]
# --------------------------------------------------------------------------------------------


def test_window_bounds_of_last_30_days():
    start, end, inclusive = window_bounds(Window("days", 30, "occurred_at"), AS_OF)
    assert start == AS_OF - timedelta(days=30)
    assert end == AS_OF and inclusive


def test_window_membership_through_the_graph(scenario_run):
    members = {
        email
        for _, email in scenario_run.query("SELECT person_id, email FROM audience.window_probe")
    }
    assert "w_in@hooli.com" in members  # one second inside the window
    assert "w_at@hooli.com" in members  # exactly at as_of
    assert "w_edge@hooli.com" not in members  # exactly 30 days before as_of: excluded
    assert "w_future@hooli.com" not in members  # after as_of: not seen
    assert members == {"w_in@hooli.com", "w_at@hooli.com", "p2@townsend.com"}


def test_event_after_as_of_is_not_in_the_profile(scenario_run):
    got = dict(
        scenario_run.query(
            "SELECT email, event_count FROM profile.person WHERE email LIKE 'w\\_%' ESCAPE '\\'"
        )
    )
    assert got == {
        "w_in@hooli.com": 1,
        "w_edge@hooli.com": 1,
        "w_at@hooli.com": 1,
        "w_future@hooli.com": 0,
    }


@pytest.mark.parametrize(
    ("as_of", "member"),
    [
        (datetime(2026, 11, 2, 10, 14, 59, tzinfo=UTC), False),  # the visit is in the future
        (datetime(2026, 11, 2, 10, 15, 0, tzinfo=UTC), True),  # at as_of
        (datetime(2026, 12, 2, 10, 14, 59, tzinfo=UTC), True),  # one second inside 30 days
        (datetime(2026, 12, 2, 10, 15, 0, tzinfo=UTC), False),  # exactly 30 days before as_of
    ],
)
def test_window_boundaries_of_the_compiled_query(scenario_copy, tmp_path, as_of, member):
    """p2's only visit is at 2026-11-02T10:15:00Z (its profile does not depend on as_of)."""
    path = write_segment(tmp_path / "segments", "upsell", s.UPSELL)
    segment = load_segment(path)
    compiled = SegmentCompiler({segment.name: segment}, as_of).compile(segment)
    emails = [row[1] for row in scenario_copy.execute(compiled.sql, compiled.params).fetchall()]
    assert emails == (["p2@townsend.com"] if member else [])


# --------------------------------------------------------------------------------------------
# Audiences through the graph
# --------------------------------------------------------------------------------------------


def test_seed_audience(scenario_run):
    got = scenario_run.query("SELECT person_id, email, why FROM audience.upsell")
    assert [email for _, email, _ in got] == ["p2@townsend.com"]
    assert "G-TOWNSEND" in got[0][2] and "2026-11-02" in got[0][2]


def test_account_audience(scenario_run):
    got = scenario_run.query("SELECT account_id, name FROM audience.big_accounts ORDER BY 1")
    assert got == [
        ("G-GLOBEX", "Globex Corporation"),
        ("G-TOWNSEND", "Townsend"),
        ("G-UMBRELLA", "Umbrella Corporation"),
    ]


def test_broken_segment_fails_only_its_own_asset(scenario_run):
    assert scenario_run.failed_steps() == {"audience__broken"}
    assert {"audience__upsell", "audience__window_probe", "audience__obrien"} <= (
        scenario_run.succeeded_steps()
    )
    assert (
        scenario_run.scalar(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'audience' AND table_name = 'broken'"
        )
        == 0
    )
    failure = next(e for e in scenario_run.result.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.to_string()
    assert "broken.yaml" in message
    assert "where.emial" in message
    assert "email" in message


def test_audience_members_are_people_of_the_profile(scenario_run):
    missing = scenario_run.scalar(
        "SELECT count(*) FROM audience.window_probe a ANTI JOIN profile.person p USING (person_id)"
    )
    assert missing == 0
    p2 = scenario_run.scalar(
        "SELECT person_id FROM identity.person WHERE person_key = $k", {"k": key(s.P2, "crm_1")}
    )
    assert scenario_run.query("SELECT person_id FROM audience.upsell") == [(p2,)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-15", datetime(2026, 11, 15, tzinfo=UTC)),
        ("2026-11-15T10:00:00Z", datetime(2026, 11, 15, 10, tzinfo=UTC)),
        ("2026-11-15T10:00:00+02:00", datetime(2026, 11, 15, 8, tzinfo=UTC)),
        ("2026-11-15T10:00:00", datetime(2026, 11, 15, 10, tzinfo=UTC)),
    ],
)
def test_b2b_as_of_is_a_utc_instant(text, expected):
    from b2b_assets.settings import load_settings

    assert load_settings({"B2B_AS_OF": text}).as_of == expected
