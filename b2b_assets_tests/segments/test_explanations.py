"""Why members qualified, whole and readable: previews, the `why` metadata and `show`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
import yaml

from b2b_assets import show
from b2b_assets.segments.compiler import SegmentCompiler
from b2b_assets.segments.explain import (
    OWN_FIELDS,
    audience_markdown,
    audience_text,
    conditions,
    explain_markdown,
    explain_text,
    format_value,
    markdown_escape,
)
from b2b_assets.segments.language import load_segment
from b2b_assets.sql import markdown_table
from b2b_assets_tests import scenario as s
from b2b_assets_tests.conftest import REPO_ROOT, Run, env_vars

AS_OF = datetime(2026, 11, 15, tzinfo=UTC)
NESTED = {
    "name": "nested",
    "entity": "account",
    "where": {
        "all": [
            {
                "any": [
                    {
                        "opportunities": {
                            "where": {"is_closed_won": True},
                            "sum": {"field": "amount", "gt": 500_000},
                        }
                    },
                    {"events": {"within": {"days": 7}}},
                ]
            },
            {"not": {"people": {"where": {"email": {"contains": "nobody"}}}}},
            {"in_segment": "big_accounts"},
        ]
    },
}


def cells(line: str) -> list[str]:
    """The cells of one Markdown table row (pipes escaped as `\\|` stay inside a cell)."""
    parts, current, escaped = [], "", False
    for ch in line.strip()[1:-1]:
        if ch == "|" and not escaped:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
        escaped = ch == "\\" and not escaped
    return [*parts, current.strip()]


def condition_row(markdown: str, path: str) -> list[str]:
    rows = [line for line in markdown.splitlines() if line.startswith(f"| `{path}` |")]
    assert len(rows) == 1, markdown
    return cells(rows[0])


# --------------------------------------------------------------------------------------------
# markdown_table: lists, dicts and JSON whole; long plain text shortened with an ellipsis
# --------------------------------------------------------------------------------------------


def test_a_long_list_is_kept_whole():
    keys = [f"0035g00000{i:08d}AAL@crm_1" for i in range(12)]
    assert len(json.dumps(keys)) > 300
    table = markdown_table(["person_id", "source_keys"], [("p1", keys)])
    row = table.splitlines()[2]
    assert cells(row) == ["p1", json.dumps(keys, separators=(",", ":"))]
    assert "…" not in row


def test_a_long_json_text_is_kept_whole_on_one_line_with_pipes_escaped():
    why = {
        "all[0].accounts": {
            "matches": 1,
            "examples": [{"account_id": "G-TOWNSEND", "name": "Town | send\nInc"}],
        },
        "all[1].events": {
            "matches": 9,
            "examples": [{"url": f"/products/new-software?page={i}"} for i in range(8)],
        },
    }
    text = json.dumps(why, indent=2)
    assert len(text) > 300
    table = markdown_table(["email", "why"], [("p2@townsend.com", text)])
    lines = table.splitlines()
    assert len(lines) == 3
    why_cell = cells(lines[2])[1]
    assert json.loads(why_cell.replace("\\|", "|")) == why
    assert "Town \\| send" in why_cell and "…" not in why_cell


def test_dicts_and_tuples_are_compact_json():
    table = markdown_table(["a", "b"], [({"k": [1, 2], "when": datetime(2026, 1, 1)}, ("x", 1))])
    assert cells(table.splitlines()[2]) == [
        '{"k":[1,2],"when":"2026-01-01 00:00:00"}',
        '["x",1]',
    ]


def test_a_long_plain_text_is_shortened_with_an_ellipsis():
    table = markdown_table(["note"], [("x" * 300,), ("short",), ("two\nlines",), ("{not json",)])
    rows = [cells(line)[0] for line in table.splitlines()[2:]]
    assert rows[0] == "x" * 59 + "…" and len(rows[0]) == 60
    assert rows[1:] == ["short", "two lines", "{not json"]
    assert cells(markdown_table(["note"], [("y" * 300,)], width=None).splitlines()[2]) == [
        "y" * 300
    ]


# --------------------------------------------------------------------------------------------
# The explanation of real `why` values
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upsell_why(scenario_run: Run) -> str:
    (why,) = scenario_run.query("SELECT why FROM audience.upsell")[0]
    return why


@pytest.fixture(scope="module")
def nested_members(scenario_run: Run, tmp_path_factory) -> list[dict[str, Any]]:
    """The members of an account segment with any, not and in_segment, run on a copy."""
    folder = tmp_path_factory.mktemp("explain")
    for document in (NESTED, {"name": "big_accounts", **s.BIG_ACCOUNTS}):
        (folder / f"{document['name']}.yaml").write_text(yaml.safe_dump(document))
    segments = {x.name: x for x in map(load_segment, sorted(folder.glob("*.yaml")))}
    compiled = SegmentCompiler(segments, AS_OF).compile(segments["nested"])
    copy = folder / "copy.duckdb"
    shutil.copy(scenario_run.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("SET TimeZone = 'UTC'")
        relation = con.execute(compiled.sql, compiled.params)
        columns = [d[0] for d in relation.description]
        return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def assert_explains(markdown: str, why: str) -> None:
    """Every condition of `why` has its row: path, match count, value and every example value."""
    parsed = json.loads(why)
    assert parsed, "a why with conditions"
    for path, entry in parsed.items():
        row = condition_row(markdown, path)
        assert row[1] == format_value(entry["matches"])
        assert row[2] == (format_value(entry["value"]) if "value" in entry else "—")
        for example in entry["examples"] or []:
            for name, value in example.items():
                assert f"{name}={markdown_escape(format_value(value, name))}" in row[3]


def test_the_upsell_why_as_markdown(upsell_why):
    markdown = explain_markdown(upsell_why)
    assert_explains(markdown, upsell_why)
    accounts = condition_row(markdown, "all[0].accounts")
    assert accounts[1] == "1"
    assert accounts[3] == "account_id=G-TOWNSEND, name=Townsend, closed_won_revenue=1,100,000"
    events = condition_row(markdown, "all[1].events")
    assert "occurred_at=2026-11-02 10:15:00+00" in events[3]
    assert "url=/products/new-software" in events[3]


def test_nested_conditions_as_markdown(nested_members):
    assert [m["account_id"] for m in nested_members] == ["G-GLOBEX", "G-TOWNSEND", "G-UMBRELLA"]
    townsend = nested_members[1]
    paths = [c.path for c in conditions(townsend["why"])]
    assert paths == ["all[0].any[0].opportunities", "all[0].any[1].events"]  # not, in_segment: none
    markdown = explain_markdown(townsend["why"])
    assert_explains(markdown, townsend["why"])
    opportunities = condition_row(markdown, "all[0].any[0].opportunities")
    assert opportunities[1:3] == ["2", "1,100,000"]
    assert "amount_usd=900,000" in opportunities[3] and "stage=Closed Won" in opportunities[3]
    assert condition_row(markdown, "all[0].any[1].events")[1:] == ["0", "—", "—"]


def test_nested_conditions_as_text(nested_members):
    lines = explain_text(nested_members[1]["why"]).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("  all[0].any[0].opportunities: 2 matches, value 1,100,000 — ")
    assert "opportunity_id=0068d00000TNcsIAAT@crm_2" in lines[0]
    assert lines[1] == "  all[0].any[1].events: no match"


def test_audience_blocks_name_each_member_and_say_how_many_are_left_out(nested_members):
    markdown = audience_markdown(nested_members[:2], total=5)
    assert markdown.startswith("**Globex Corporation (G-GLOBEX)**\n\n| condition |")
    assert "**Townsend (G-TOWNSEND)**" in markdown
    assert markdown.endswith("_… and 3 more member(s); the first 2 are shown._")
    text = audience_text(nested_members, total=3)
    assert text.split("\n\n")[1].splitlines()[0] == "Townsend (G-TOWNSEND)"
    assert "more member" not in text


def test_a_member_matched_on_its_own_fields():
    assert explain_markdown("{}") == f"_{OWN_FIELDS}_"
    assert explain_text("{}") == f"  {OWN_FIELDS}"
    assert audience_markdown([]) == "_No members._"


def test_markup_in_values_is_escaped_and_examples_beyond_the_sample_are_counted():
    why = {
        "lists": {"matches": 5, "examples": [{"name": "*VIP* | [beta]", "source_instance": "m_1"}]}
    }
    row = condition_row(explain_markdown(why), "lists")
    assert row[3] == "name=\\*VIP\\* \\| \\[beta\\], source_instance=m_1 (+4 more)"


# --------------------------------------------------------------------------------------------
# Through the graph: the audience's metadata
# --------------------------------------------------------------------------------------------


def audience_metadata(run: Run, name: str) -> dict[str, Any]:
    events = run.result.get_asset_materialization_events()
    (event,) = [e for e in events if e.materialization.asset_key.path == ["audience", name]]
    return event.materialization.metadata


def test_the_audience_metadata_explains_each_member(scenario_run, upsell_why):
    metadata = audience_metadata(scenario_run, "upsell")
    markdown = metadata["why"].value
    assert markdown.startswith("**p2@townsend.com (p_")
    assert_explains(markdown, upsell_why)
    preview_row = metadata["preview"].value.splitlines()[2]
    assert json.loads(cells(preview_row)[-1]) == json.loads(upsell_why)


def test_the_metadata_of_an_account_audience_without_relations(scenario_run):
    markdown = audience_metadata(scenario_run, "big_accounts")["why"].value
    assert markdown.count(OWN_FIELDS) == 3
    assert "**Townsend (G-TOWNSEND)**" in markdown


# --------------------------------------------------------------------------------------------
# show
# --------------------------------------------------------------------------------------------


@pytest.fixture
def scenario_env(scenario_run, monkeypatch):
    for name, value in env_vars(scenario_run.data_dir, scenario_run.warehouse, None).items():
        monkeypatch.setenv(name, value)
    return scenario_run


def test_show_prints_each_condition_on_its_own_line(scenario_env, capsys):
    assert show.main(["audience.upsell"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audience.upsell: 1 row(s)\n")
    assert "\nwhy:\np2@townsend.com (p_" in out
    assert (
        "\n  all[0].accounts: 1 match — account_id=G-TOWNSEND, name=Townsend, "
        "closed_won_revenue=1,100,000\n"
    ) in out
    assert (
        "\n  all[1].events: 1 match — occurred_at=2026-11-02 10:15:00+00, "
        "event_type=visit_webpage, url=/products/new-software, source_instance=marketo_1\n"
    ) in out
    assert '{"all[0]' not in out


def test_show_of_every_audience_and_of_other_tables(scenario_env, capsys):
    assert show.main([]) == 0
    out = capsys.readouterr().out
    assert "audience.window_probe: 3 row(s)" in out and "\nw_in@hooli.com (p_" in out
    assert f"Townsend (G-TOWNSEND)\n  {OWN_FIELDS}" in out
    assert show.main(["profile.account"]) == 0
    assert "why:" not in capsys.readouterr().out


def test_show_emails_prints_only_the_emails(scenario_env, capsys):
    assert show.main(["audience.window_probe", "--emails"]) == 0
    assert capsys.readouterr().out == "p2@townsend.com\nw_in@hooli.com\nw_at@hooli.com\n"


def test_show_emails_of_the_demo_audience_as_ci_runs_it(demo_run: Run):
    env = {**os.environ, **env_vars(demo_run.data_dir, demo_run.warehouse, None)}
    result = subprocess.run(
        [sys.executable, "-m", "b2b_assets.show", "audience.new_product_upsell", "--emails"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "p2@townsend.com\n"
