"""The corpus of bad inputs as a whole: enough cases, every source type, every corpus file used."""

from __future__ import annotations

from b2b_assets_tests.sources import test_bad_files, test_bad_keys_and_names, test_bad_values
from b2b_assets_tests.sources.bad_input_cases import CORPUS
from b2b_assets_tests.sources.test_bad_sources_yaml import SOURCES_CASES

CASES = [*test_bad_files.CASES, *test_bad_keys_and_names.CASES, *test_bad_values.CASES]


def test_the_corpus_has_enough_cases() -> None:
    objects = {(case.source_type, case.obj) for case in CASES}
    assert len(CASES) + len(SOURCES_CASES) >= 40
    assert {t for t, _ in objects} >= {"salesforce", "marketo", "mdm"}
    used = {c.content.removeprefix("corpus:") for c in CASES if isinstance(c.content, str)}
    assert {p.name for p in CORPUS.glob("*.csv")} <= used, "a corpus file no case uses"
