"""The segment language (docs/segments.md): errors name the file and the path inside it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from b2b_assets.segments.compiler import SegmentCompiler
from b2b_assets.segments.language import SegmentError, load_segment
from b2b_assets_tests.segments.segment_world import AS_OF


def write(folder: Path, stem: str, document: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def error_of(tmp_path: Path, document: Any, others: dict[str, Any] | None = None) -> SegmentError:
    """Load (and compile, among `others`) a segment file that has a mistake."""
    folder = tmp_path / "segments"
    path = write(folder, "bad", document)
    with pytest.raises(SegmentError) as error:
        segment = load_segment(path)
        known = {segment.name: segment}
        for stem, other in (others or {}).items():
            loaded = load_segment(write(folder, stem, other))
            known[loaded.name] = loaded
        SegmentCompiler(known, AS_OF).compile(segment)
    message = str(error.value)
    assert message.startswith(f"{error.value.file}: at {error.value.path or '(top)'}: "), message
    return error.value


def _at(document: Any, path: str) -> Any:
    """The part of a loaded document a SegmentError path points at (KeyError if none)."""
    node = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


@pytest.mark.parametrize(
    ("where", "path", "suggestion"),
    [
        ({"emial": "a@b.c"}, "where.emial", "email"),
        ({"all": [{"can_email": True}, {"titel": "CTO"}]}, "where.all[1].titel", "title"),
        (
            {"accounts": {"where": {"closed_won_revenu": {"gt": 1}}}},
            "where.accounts.where.closed_won_revenu",
            "closed_won_revenue",
        ),
        ({"event": {"within": {"days": 3}}}, "where.event", "events"),
        ({"events": {"where": {"urll": {"contains": "x"}}}}, "where.events.where.urll", "url"),
        (
            {"not": {"opportunities": {"where": {"rol": "Decision Maker"}}}},
            "where.not.opportunities.where.rol",
            "role",
        ),
        ({"in_segmnt": "x"}, "where.in_segmnt", "in_segment"),
    ],
)
def test_unknown_field_says_did_you_mean(tmp_path, where, path, suggestion):
    error = error_of(tmp_path, {"entity": "person", "where": where})
    assert error.file.endswith("bad.yaml")
    assert error.path == path
    assert f"did you mean {suggestion!r}" in str(error)


def test_unknown_account_field_message_as_documented(tmp_path):
    error = error_of(
        tmp_path, {"entity": "person", "where": {"accounts": {"where": {"closed_won_revenu": 1}}}}
    )
    assert str(error) == (
        f"{error.file}: at where.accounts.where.closed_won_revenu: unknown field or relation "
        "'closed_won_revenu' for an account (did you mean 'closed_won_revenue'?)"
    )


@pytest.mark.parametrize(
    ("where", "path", "suggestion"),
    [
        ({"event_count": {"gtee": 3}}, "where.event_count.gtee", "gte"),
        ({"title": {"containz": "x"}}, "where.title.containz", "contains"),
        ({"title": {"not in": ["x"]}}, "where.title.not in", "not_in"),
        ({"events": {"count": {"at_lest": 3}}}, "where.events.count.at_lest", "at_least"),
        ({"event_count": {"at_mots": 3}}, "where.event_count.at_mots", "at_most"),
        ({"events": {"whre": {"type": "open_email"}}}, "where.events.whre", "where"),
        ({"events": {"where": {"type": "open_emial"}}}, "where.events.where.type.eq", "open_email"),
    ],
)
def test_unknown_operator(tmp_path, where, path, suggestion):
    error = error_of(tmp_path, {"where": where})
    assert error.path == path
    assert "unknown" in str(error)
    if suggestion:
        assert f"did you mean {suggestion!r}" in str(error)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ({"event_count": {"gte": "many"}}, "where.event_count.gte"),
        ({"event_count": True}, "where.event_count.eq"),
        ({"can_email": "yes please"}, "where.can_email.eq"),
        ({"can_email": 1}, "where.can_email.eq"),
        ({"title": {"gt": "a"}}, "where.title.gt"),
        ({"title": ["a"]}, "where.title.eq"),
        ({"title": {"in": []}}, "where.title.in"),
        ({"title": {"in": "CTO"}}, "where.title.in"),
        ({"event_count": {"in": [1, "two"]}}, "where.event_count.in[1]"),
        ({"event_count": {"contains": "1"}}, "where.event_count.contains"),
        ({"title": {"is_null": False}}, "where.title.is_null"),
        ({"last_activity_at": {"gte": "last tuesday"}}, "where.last_activity_at.gte"),
        (
            {"accounts": {"where": {"last_closed_won_date": {"gt": "2026-13-01"}}}},
            "where.accounts.where.last_closed_won_date.gt",
        ),
        ({"events": {"count": {"gte": "three"}}}, "where.events.count.gte"),
        ({"events": {"count": {"gte": 3, "field": "type_id"}}}, "where.events.count.field"),
        ({"events": {"sum": {"field": "page", "gt": 1}}}, "where.events.sum.field"),
        ({"events": {"max": {"field": "occurred_at", "gt": "soon"}}}, "where.events.max.gt"),
        ({"events": {"count": {"gte": 1}, "sum": {"field": "type_id", "gt": 1}}}, "where.events"),
        ({"all": []}, "where.all"),
        ({"not": []}, "where.not"),
        ({"in_segment": 3}, "where.in_segment"),
    ],
)
def test_wrong_value_type(tmp_path, where, path):
    error = error_of(tmp_path, {"where": where})
    assert error.path == path


@pytest.mark.parametrize(
    ("entity", "relation", "field", "value"),
    [
        ("account", "opportunities", "close_date", "2026-01-01"),
        ("person", "events", "occurred_at", "2026-01-01T00:00:00Z"),
    ],
)
def test_sum_of_a_date_or_timestamp_is_a_wrong_type(tmp_path, entity, relation, field, value):
    """Documented: sum sums a number field (only min/max also work on dates and timestamps).
    A sum over a time must be reported like any wrong type, not fail inside DuckDB."""
    error = error_of(
        tmp_path, {"entity": entity, "where": {relation: {"sum": {"field": field, "gt": value}}}}
    )
    assert error.path == f"where.{relation}.sum.field"


@pytest.mark.parametrize(
    ("within", "path"),
    [
        ({"days": -3}, "where.events.within.days"),
        ({"days": 0}, "where.events.within.days"),
        ({"days": 1.5}, "where.events.within.days"),
        ({"days": "thirty"}, "where.events.within.days"),
        ({"days": True}, "where.events.within.days"),
        ({"fortnights": 2}, "where.events.within.fortnights"),
        ({"dayz": 2}, "where.events.within.dayz"),
        ({"days": 3, "hours": 2}, "where.events.within"),
        ({}, "where.events.within"),
        ({"field": "occurred_at"}, "where.events.within"),
        ("last_decade", "where.events.within.calendar"),
        ({"calendar": "next_month"}, "where.events.within.calendar"),
        ({"days": 3, "field": "page"}, "where.events.within.field"),
        (30, "where.events.within"),
    ],
)
def test_bad_window(tmp_path, within, path):
    error = error_of(tmp_path, {"where": {"events": {"within": within}}})
    assert error.path == path


def test_window_on_a_relation_without_time(tmp_path):
    error = error_of(tmp_path, {"where": {"lists": {"within": {"days": 3}}}})
    assert error.path == "where.lists.within"


def test_unknown_window_unit_says_did_you_mean(tmp_path):
    error = error_of(tmp_path, {"where": {"events": {"within": {"dayz": 2}}}})
    assert "did you mean 'days'" in str(error)
    error = error_of(tmp_path, {"where": {"events": {"within": "last_mnth"}}})
    assert "did you mean 'last_month'" in str(error)


def test_unknown_segment(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"all": [{"title": "x"}, {"in_segment": "no_such"}]}},
        others={"known_one": {"where": {"title": "y"}}},
    )
    assert error.file.endswith("bad.yaml")
    assert error.path == "where.all[1].in_segment"
    assert "no_such" in str(error) and "known_one" in str(error)


def test_in_segment_of_another_entity(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"in_segment": "accts"}},
        others={"accts": {"entity": "account", "where": {"name": "x"}}},
    )
    assert error.path == "where.in_segment"


def test_cycle_names_the_file_and_the_path(tmp_path):
    error = error_of(tmp_path, {"where": {"in_segment": "bad"}})
    assert error.file.endswith("bad.yaml")
    assert error.path == "where.in_segment"
    assert "cycle" in str(error)


def _error_points_into_its_file(error: SegmentError) -> Any:
    document = yaml.safe_load(Path(error.file).read_text())
    try:
        return _at(document, error.path)
    except (KeyError, IndexError, TypeError):
        pytest.fail(f"{error.path} is not a place in {error.file}: {error}")


def test_cycle_between_two_files_names_a_file_and_a_place_in_it(tmp_path):
    """a -> b -> a: whichever file the message names, the path must be a place in that file."""
    error = error_of(
        tmp_path,
        {"name": "bad", "where": {"in_segment": "other"}},
        others={"other": {"where": {"all": [{"can_email": True}, {"in_segment": "bad"}]}}},
    )
    assert "cycle" in str(error)
    assert _error_points_into_its_file(error) in ("bad", "other")


def test_unknown_segment_behind_another_names_a_file_and_a_place_in_it(tmp_path):
    error = error_of(
        tmp_path,
        {"where": {"in_segment": "middle"}},
        others={"middle": {"where": {"all": [{"title": "x"}, {"in_segment": "no_such"}]}}},
    )
    assert "no_such" in str(error)
    _error_points_into_its_file(error)


def test_errors_name_the_file_and_place_for_top_level_mistakes(tmp_path):
    assert error_of(tmp_path, {"entity": "persn", "where": {"title": "x"}}).path == "entity"
    assert error_of(tmp_path, {"entity": "person"}).path == "where"
    assert error_of(tmp_path, {"where": {"title": "x"}, "wher": 1}).path == "wher"
    assert error_of(tmp_path, {"where": {}}).path == "where"
    assert error_of(tmp_path, "- a\n- b\n").path == ""
    assert error_of(tmp_path, "where: [unclosed\n").path == ""
