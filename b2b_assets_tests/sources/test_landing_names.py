"""Data problems: names in a landing folder that are not an object's, and the object they
probably mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b2b_assets.sources.catalog import OBJECTS_BY_TYPE
from b2b_assets.sources.landing_names import (
    is_temporary,
    suggest_object,
    unknown_landing_entries,
    unknown_object_note,
)
from b2b_assets_tests.sources.data_problems import MISNAMED


def _notes(folder: Path, source_type: str, *names: str) -> dict[str, Any]:
    """Create the files (a name ending in `/` is a folder) and return the notes by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name.endswith("/"):
            (folder / name).mkdir()
        else:
            (folder / name).write_text("x\n", encoding="utf-8")
    notes = unknown_landing_entries(folder, source_type)
    return {note.message.split(": ", 1)[0]: note for note in notes}


def test_misnamed_salesforce_files_suggest_the_object(tmp_path: Path) -> None:
    notes = _notes(
        tmp_path / "crm_1",
        "salesforce",
        "Opportunities.csv",
        "opportunity.CSV",
        "Account.xlsx",
        "Accounts/",
        "Contact.csv",
    )
    assert set(notes) == {"Opportunities.csv", "Account.xlsx", "Accounts/"}
    assert notes["Opportunities.csv"].message == MISNAMED
    assert notes["Opportunities.csv"].meant == "Opportunity"
    assert notes["Account.xlsx"].meant == "Account"
    assert "read from .csv or .parquet" in notes["Account.xlsx"].message
    assert notes["Accounts/"].meant == "Account"
    assert notes["Accounts/"].message.endswith("did you mean Account?")


def test_misnamed_marketo_files_suggest_the_object(tmp_path: Path) -> None:
    notes = _notes(
        tmp_path / "marketo_1", "marketo", "Leads.csv", "lead.csv", "activity_visit_webpage.csv"
    )
    # `Leads.csv` is leads up to case: it is read (names match case-insensitively), no note.
    assert set(notes) == {"lead.csv", "activity_visit_webpage.csv"}
    assert notes["lead.csv"].meant == "leads"
    assert notes["lead.csv"].message == "lead.csv: not a marketo object; did you mean leads?"
    assert "not a marketo object" in notes["activity_visit_webpage.csv"].message
    marketo = [spec.name for spec in OBJECTS_BY_TYPE["marketo"]]
    assert suggest_object("Leads", marketo) == "leads"
    assert unknown_object_note("Leads.csv", "marketo").meant == "leads"


def test_temporary_names_give_no_note(tmp_path: Path) -> None:
    names = (".x.csv", "_x.csv", "Account.csv.part", "Opportunites.csv.tmp", "_SUCCESS")
    assert all(is_temporary(name) for name in names)
    assert _notes(tmp_path / "crm_1", "salesforce", *names) == {}
    assert not is_temporary("Account.csv")
