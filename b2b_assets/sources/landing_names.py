"""Names in a landing folder: which are objects of its source, which are being written, and which
are neither (a misnamed file, reported with the object it probably meant)."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from b2b_assets.sources.catalog import OBJECTS_BY_TYPE, folded_name
from b2b_assets.sources.fivetran import table_matcher

EXTENSIONS = (".csv", ".parquet")
IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".crdownload", ".inprogress")
# The raw asset's metadata entry with the fingerprint of the files it read.
FINGERPRINT = "landing_fingerprint"


def is_temporary(name: str) -> bool:
    """A name never read: hidden, a marker, or a file still being written."""
    return name.startswith((".", "_")) or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def in_temporary_place(relative: Path) -> bool:
    """Whether a path below a landing folder, or any folder on its way, has a temporary name
    (a writer's `_temporary/` or `.staging/` folder of unfinished parts)."""
    return any(is_temporary(part) for part in relative.parts)


def object_names(source_type: str) -> list[str]:
    return [spec.name for spec in OBJECTS_BY_TYPE[source_type]]


def object_resolver(source_type: str, landing_format: str) -> Callable[[str], str | None]:
    """The object (its name in lower case) that a file or folder name of a source's landing
    folder holds, without the file's extension; None for a name of no object."""
    matchers = [
        (spec.name.lower(), table_matcher(spec, source_type, landing_format))
        for spec in OBJECTS_BY_TYPE[source_type]
    ]

    def resolve(stem: str) -> str | None:
        return next((name for name, holds in matchers if holds(stem)), None)

    return resolve


def suggest_object(name: str, candidates: list[str]) -> str | None:
    """The object a name probably means: the same up to case, `_`, a plural, or a typo."""
    by_folded = {folded_name(candidate): candidate for candidate in candidates}
    folded = folded_name(name)
    singulars = (folded, folded.removesuffix("s"), folded.removesuffix("es"), folded + "s")
    if folded.endswith("ies"):
        singulars += (folded[:-3] + "y",)
    for variant in singulars:
        if variant in by_folded:
            return by_folded[variant]
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None


@dataclass(frozen=True)
class LandingNote:
    """A name in a landing folder that is not read, why, and the object it probably meant."""

    message: str
    meant: str | None = None


def unknown_object_note(name: str, source_type: str) -> LandingNote:
    """`Opportunities.csv: not a salesforce object; did you mean Opportunity?`."""
    names = object_names(source_type)
    stem = Path(name).stem if Path(name).suffix.lower() in EXTENSIONS else name
    meant = suggest_object(stem, names)
    hint = f"did you mean {meant}?" if meant else f"its objects are {', '.join(names)}"
    return LandingNote(f"{name}: not a {source_type} object; {hint}", meant)


def unknown_landing_entries(
    folder: Path, source_type: str, landing_format: str = "contract"
) -> list[LandingNote]:
    """A note for each file or folder of `folder` that is no object of `source_type` (nor a
    temporary name): a misnamed object, or an object in a format that is not read. A loader
    such as Fivetran lands many tables the platform does not read: those are not noted."""
    if not folder.is_dir():
        return []
    resolve = object_resolver(source_type, landing_format)
    known = {name.lower(): name for name in object_names(source_type)}
    notes = []
    for entry in sorted(folder.iterdir()):
        if is_temporary(entry.name):
            continue
        meant = resolve(entry.name if entry.is_dir() else entry.stem)
        if meant is None and landing_format != "contract":
            continue
        if entry.is_dir():
            if meant is None:
                notes.append(unknown_object_note(f"{entry.name}/", source_type))
            continue
        if meant is not None and entry.suffix.lower() in EXTENSIONS:
            continue
        if meant is not None:
            message = f"{entry.name}: {known[meant]} is read from .csv or .parquet files only"
            notes.append(LandingNote(message, known[meant]))
        else:
            notes.append(unknown_object_note(entry.name, source_type))
    return notes


def unknown_source_folders(
    landing_root: Path, source_folders: Sequence[Path], source_names: Sequence[str]
) -> list[LandingNote]:
    """A note for each folder of `landing/` that no source of `sources.yaml` reads."""
    if not landing_root.is_dir():
        return []
    read = {folder.resolve() for folder in source_folders}
    notes = []
    for entry in sorted(landing_root.iterdir()):
        if not entry.is_dir() or is_temporary(entry.name) or entry.resolve() in read:
            continue
        # Only a spelling of a source's name (case, `_`, `-`): crm3 may well be a new source.
        meant = next((n for n in source_names if folded_name(n) == folded_name(entry.name)), None)
        hint = f"did you mean {meant}?" if meant else "add it to sources.yaml to read it"
        notes.append(LandingNote(f"landing/{entry.name}/: not a source of sources.yaml; {hint}"))
    return notes


def entry_name(relative: Path) -> str:
    """The name under which a landed file's object is found: the folder it is in directly
    below the landing folder, or its own name without extension."""
    top = relative.parts[0]
    return Path(top).stem if len(relative.parts) == 1 else top


def scan_landing(
    folder: Path, objects: Sequence[str], resolve: Callable[[str], str | None] | None = None
) -> dict[str, tuple[int, int]]:
    """Data files of the objects under a landing folder: relative path -> (size, mtime_ns).
    `resolve` names the object a top-level name holds (by default, the name itself)."""
    wanted = {name.lower() for name in objects}
    resolve = resolve or str.lower
    found: dict[str, tuple[int, int]] = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if not path.is_file() or path.suffix.lower() not in EXTENSIONS:
            continue
        if in_temporary_place(relative):
            continue
        object_name = resolve(entry_name(relative))
        if object_name in wanted:
            stat = path.stat()
            found[relative.as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def fingerprint(files: dict[str, tuple[int, int]]) -> str:
    """A digest of files' paths, sizes and modification times: equal when nothing changed."""
    text = json.dumps({path: list(state) for path, state in files.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def top_level(files: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Only the files directly in the folder (the reference data beside the landing folders)."""
    return {path: state for path, state in files.items() if "/" not in path}


def landed_files(
    folder: Path, stamps: dict[str, tuple[int, int]], nested: bool = True
) -> dict[str, tuple[int, int]]:
    """A load's file stamps keyed as `scan_landing` keys them (relative to the folder), so the
    sensors can compare the files they see with the files a load read; `nested=False` keeps
    only the files directly in the folder, as the reference data's sensor does."""
    files = {Path(path).relative_to(folder).as_posix(): state for path, state in stamps.items()}
    return files if nested else top_level(files)
