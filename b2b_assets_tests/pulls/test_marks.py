"""The next pull starts at the latest instant landed and leaves out the records landed there."""

from b2b_assets.pulls.marks import Mark, new_rows

FILE = (
    b"marketoGUID,leadId,activityDate,activityTypeId\n"
    b"1,7,2026-10-01T10:00:00Z,1\n"
    b"2,7,2026-10-03T10:00:00Z,1\n"
    b"3,8,2026-10-03T10:00:00Z,2\n"
)


def test_the_mark_is_the_latest_instant_and_its_records() -> None:
    fresh = new_rows(FILE, "marketoGUID", {"activityDate": Mark()}, "activityDate")
    assert fresh.rows == 3 and fresh.body == FILE
    assert fresh.marks["activityDate"].to_state() == {
        "at": "2026-10-03T10:00:00Z",
        "keys": ["2", "3"],
    }


def test_records_landed_at_the_mark_are_left_out_and_later_ones_kept() -> None:
    mark = Mark("2026-10-03T10:00:00.000Z", ["2", "3"])
    again = FILE + b"4,9,2026-10-03T10:00:00Z,1\n5,9,2026-10-04T00:00:00+00:00,1\n"
    fresh = new_rows(again, "marketoGUID", {"activityDate": mark}, "activityDate")
    lines = fresh.body.decode().splitlines()
    assert lines[0] == "marketoGUID,leadId,activityDate,activityTypeId"
    # 1 is older than the mark but was not landed at it: the export asked for it, so it stays.
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "4", "5"]
    assert fresh.rows == 3
    assert fresh.marks["activityDate"].to_state() == {
        "at": "2026-10-04T00:00:00+00:00",
        "keys": ["5"],
    }


def test_other_columns_move_their_marks_too() -> None:
    leads = b"id,createdAt,updatedAt\n1,2025-01-01T00:00:00Z,null\n2,2025-02-01T00:00:00Z,2026-01-01T00:00:00Z\n"
    fresh = new_rows(leads, "id", {"createdAt": Mark(), "updatedAt": Mark()}, "createdAt")
    assert fresh.marks["createdAt"].keys == ["2"]
    assert fresh.marks["updatedAt"].to_state() == {"at": "2026-01-01T00:00:00Z", "keys": ["2"]}
