"""A pull's parts land whole, with their progress, exactly once, even when the pull is killed."""

import json
from pathlib import Path

import pytest

from b2b_assets.pulls.landing import PullLanding
from b2b_assets.sources.landing_names import scan_landing

CSV = b"Id,Name\n001,Acme\n"


def test_a_part_lands_with_its_progress(tmp_path: Path) -> None:
    landing = PullLanding(tmp_path)
    name = landing.land("Account", CSV, {"high_water_mark": "2026-01-01T00:00:00.000Z"})
    assert (tmp_path / "Account" / name).read_bytes() == CSV
    again = PullLanding(tmp_path)
    assert again.state("Account") == {"high_water_mark": "2026-01-01T00:00:00.000Z"}
    assert [p.name for p in again.pulled_parts("Account")] == [name]
    # The state folder is not an object: the landing sensor sees only the part.
    assert list(scan_landing(tmp_path, ["Account"])) == [f"Account/{name}"]


def test_parts_sort_in_the_order_they_landed(tmp_path: Path) -> None:
    landing = PullLanding(tmp_path)
    names = [landing.land("Contact", CSV, {"n": n}) for n in range(12)]
    assert names == sorted(names)


def test_a_kill_before_the_rename_forgets_the_part(tmp_path: Path, monkeypatch) -> None:
    landing = PullLanding(tmp_path)
    landing.land("Account", CSV, {"page": 1})

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between the state and the rename

    monkeypatch.setattr("b2b_assets.pulls.landing.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        landing.land("Account", CSV, {"page": 2})
    monkeypatch.undo()
    assert any(p.name.endswith(".part") for p in (tmp_path / "Account").iterdir())
    resumed = PullLanding(tmp_path)
    assert resumed.state("Account") == {"page": 1}
    assert [p.name for p in (tmp_path / "Account").iterdir()] == [
        p.name for p in resumed.pulled_parts("Account")
    ]
    assert len(resumed.pulled_parts("Account")) == 1


def test_a_kill_after_the_rename_commits_the_part(tmp_path: Path, monkeypatch) -> None:
    landing = PullLanding(tmp_path)

    def killed(self, object_name):
        raise KeyboardInterrupt  # the part is in place; its progress not yet applied

    monkeypatch.setattr(PullLanding, "_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        landing.land("Account", CSV, {"page": 2})
    monkeypatch.undo()
    state = json.loads((tmp_path / "_pull" / "state.json").read_text())
    assert "pending" in state["objects"]["Account"]
    resumed = PullLanding(tmp_path)
    assert resumed.state("Account") == {"page": 2}
    assert len(resumed.pulled_parts("Account")) == 1


def test_a_snapshot_replaces_the_earlier_ones(tmp_path: Path) -> None:
    landing = PullLanding(tmp_path)
    first = landing.land("programs", b"id,name\n1,a\n", {"snapshot_part": None})
    second = landing.land("programs", b"id,name\n2,b\n", {"snapshot_part": None})
    assert [p.name for p in landing.pulled_parts("programs")] == [second]
    assert landing.state("programs")["snapshot_part"] == second != first


def test_one_pull_of_a_source_runs_at_a_time(tmp_path: Path) -> None:
    """A second pull waits for the lock of the one running, and gives up with a clear error."""
    from b2b_assets.pulls.landing import PullBusy, pull_lock

    said: list[str] = []
    with pull_lock(tmp_path):
        busy = pytest.raises(PullBusy, match="another pull of this source is still running")
        with busy, pull_lock(tmp_path, said.append, wait=0.6):
            pass
        assert said and "waiting" in said[0]
    with pull_lock(tmp_path, wait=0.1):
        pass  # free again once the first pull ended
