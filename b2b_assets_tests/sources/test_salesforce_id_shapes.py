"""Data problems: Salesforce id shapes at the reader, and parts in temporary folders."""

from __future__ import annotations

from b2b_assets.sources.publishing import load_object
from b2b_assets.sources.reader import ReadContext
from b2b_assets_tests.conftest import Landing
from b2b_assets_tests.scenario import sf18
from b2b_assets_tests.sources.data_problems import BASE64_ACCOUNT, CONTACT, ID_REASON, object_spec


def _reader_ctx() -> ReadContext:
    return ReadContext(
        instance="crm_1",
        normalize_sf_ids=True,
        currencies=("USD",),
        instances=("crm_1",),
        run_id="test-data-problems",
    )


def test_salesforce_record_ids_of_other_shapes_are_quarantined(con, landing: Landing) -> None:
    account = "0015g00000J1Uin"
    rows = [
        {"Id": "0035g00000FXhB9", "AccountId": account, "Email": "fifteen@x.example"},
        {"Id": sf18("0035g000005YwVA"), "AccountId": account, "Email": "eighteen@x.example"},
        {"Id": "0035g00000tWqnjAA", "AccountId": account, "Email": "seventeen@x.example"},
        {"Id": "0035g00000tWqnjAAAB", "AccountId": account, "Email": "nineteen@x.example"},
        {"Id": "abc+def/ghi=jklm", "AccountId": account, "Email": "base64@x.example"},
        {"Id": "0035g00000Malfm", "AccountId": BASE64_ACCOUNT, "Email": "malformed@x.example"},
    ]
    landing.csv("crm_1", "Contact", rows)
    result = load_object(con, landing.folder("crm_1"), CONTACT, _reader_ctx())
    assert (result.rows_read, result.rows_kept, result.rows_quarantined) == (6, 3, 3)
    kept = dict(con.execute("SELECT id, account_id FROM raw.crm_1__contact").fetchall())
    assert kept == {
        sf18("0035g00000FXhB9"): sf18(account),
        sf18("0035g000005YwVA"): sf18(account),
        sf18("0035g00000Malfm"): BASE64_ACCOUNT,
    }
    quarantined = con.execute(
        "SELECT row_number, reason, problems FROM raw.quarantine ORDER BY row_number"
    ).fetchall()
    assert [(number, reason) for number, reason, _ in quarantined] == [
        (3, ID_REASON),
        (4, ID_REASON),
        (5, ID_REASON),
    ]
    assert "abc+def/ghi=jklm" in quarantined[2][2][0]
    assert result.malformed_references == {"AccountId": 1}
    assert dict(result.reasons) == {ID_REASON: 3}


def test_parts_in_a_temporary_folder_of_an_object_folder_are_not_read(
    con, landing: Landing
) -> None:
    header = "Id,Name\n"
    landing.text("crm_1", "Account/part-0001.csv", header + "0015g00000J1Uin,Written\n")
    landing.text(
        "crm_1", "Account/_temporary/0/part-0002.csv", header + "0015g00000jgrcA,Being written\n"
    )
    landing.text("crm_1", "Account/.staging/part-0003.csv", header + "0015g00000MBiin,Staged\n")
    result = load_object(
        con, landing.folder("crm_1"), object_spec("salesforce", "Account"), _reader_ctx()
    )
    names = [row[0] for row in con.execute("SELECT name FROM raw.crm_1__account").fetchall()]
    assert (result.rows_read, names) == (1, ["Written"])
