"""Where a pull lands its parts, and what it remembers between pulls.

A part is written under a hidden name (`.<name>.part`, never read), flushed to disk, then renamed
into `landing/<source>/<object>/`, so a reader never sees half a file. Each object's progress (its
high-water mark, the job in flight, the page it reached) lives in
`landing/<source>/_pull/state.json` (a folder the readers skip), rewritten atomically.

Landing a part and moving the object's progress forward happen as one step: the state first notes
the part as pending with the progress it brings, then the part is renamed into place, then the
progress is applied. A pull killed anywhere in between resumes from the last complete part: a
pending part that reached its folder is committed, one that did not is forgotten (its hidden file
removed), so no rows are landed twice and none are skipped.

One pull of a source runs at a time (`pull_lock`): a pull started while another is landing (the
schedule's next tick, say) waits for it, then starts from the progress it saved.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from b2b_assets.pulls.report import PullError

STATE_FOLDER = "_pull"
PART_NAME = re.compile(r"\d{8}T\d{12}Z-\d{4}\.csv")


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a hidden temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_folder(path.parent)


LOCK_WAIT_SECONDS = 3600.0


class PullBusy(PullError):
    """Another pull of the source held its landing folder for too long."""


@contextmanager
def pull_lock(
    folder: Path, say: Callable[[str], None] | None = None, wait: float = LOCK_WAIT_SECONDS
) -> Iterator[None]:
    """Hold the source's pull lock (`_pull/.lock`), waiting up to `wait` seconds for a pull
    already running; released when the pull ends, or by the system if its process dies."""
    path = folder / STATE_FOLDER / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PullBusy(
                        f"{folder}: another pull of this source is still running after "
                        f"{wait:.0f} s; this one did not start"
                    ) from None
                if say is not None and not told:
                    say(f"{folder.name}: another pull of this source is running; waiting for it")
                    told = True
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class PullLanding:
    """One source's landing folder as its pulls write it. See the module docstring."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state_path = folder / STATE_FOLDER / "state.json"
        self.objects: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        if self.state_path.exists():
            document = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.objects = document.get("objects", {})
        self._recover()

    def state(self, object_name: str) -> dict[str, Any]:
        """The object's progress (a dict the pull reads and updates; saved by `save`)."""
        return self.objects.setdefault(object_name, {})

    def save(self) -> None:
        document = {"objects": self.objects}
        write_atomically(self.state_path, json.dumps(document, indent=1, sort_keys=True).encode())

    def land(self, object_name: str, data: bytes, progress: dict[str, Any]) -> str:
        """Land one part of the object and move its progress forward by `progress`, together.
        With `progress["snapshot_part"]` naming the part, the object's earlier pulled parts are
        removed once it is in place (a REST object pulled whole each time)."""
        name = self._part_name()
        folder = self.folder / object_name
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{name}.part"
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        progress = {**progress, "snapshot_part": name} if "snapshot_part" in progress else progress
        self.state(object_name)["pending"] = {"part": name, "progress": progress}
        self.save()
        os.replace(temporary, folder / name)
        _fsync_folder(folder)
        self._commit(object_name)
        self.save()
        return name

    def pulled_parts(self, object_name: str) -> list[Path]:
        """The parts pulls landed for the object, oldest first."""
        folder = self.folder / object_name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if PART_NAME.fullmatch(p.name))

    # -- internals --------------------------------------------------------------------------------

    def _part_name(self) -> str:
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return f"{stamp}Z-{self._sequence % 10000:04d}.csv"

    def _commit(self, object_name: str) -> None:
        state = self.state(object_name)
        pending = state.pop("pending", None)
        if pending is None:
            return
        state.update(pending["progress"])
        self._prune_snapshot(object_name)

    def _prune_snapshot(self, object_name: str) -> None:
        keep = self.state(object_name).get("snapshot_part")
        if keep is None:
            return
        for part in self.pulled_parts(object_name):
            if part.name != keep:
                part.unlink(missing_ok=True)

    def _unfinished(self) -> Iterator[Path]:
        for folder in (p for p in self.folder.iterdir() if p.is_dir()):
            yield from (
                p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part")
            )

    def _recover(self) -> None:
        """Finish what a killed pull left: commit a pending part that reached its folder,
        forget one that did not, and remove hidden unfinished files."""
        if not self.folder.is_dir():
            return
        changed = False
        for object_name, state in self.objects.items():
            pending = state.get("pending")
            if pending is None:
                continue
            if (self.folder / object_name / pending["part"]).exists():
                self._commit(object_name)
            else:
                state.pop("pending")
            changed = True
        for path in list(self._unfinished()):
            path.unlink(missing_ok=True)
        if changed:
            self.save()
