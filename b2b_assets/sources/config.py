"""`sources.yaml`: which source instances exist and where their extracts land."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
SourceType = Literal["salesforce", "marketo", "mdm"]


class SourcesConfigError(ValueError):
    """`sources.yaml` cannot be used; the message names the file and the entry."""


QuarantineShare = Field(default=None, ge=0, le=1)


class ObjectSettings(BaseModel):
    """Settings of one object of a source, overriding the source's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_quarantined: float | None = QuarantineShare


class SourceInstance(BaseModel):
    """One source instance: a CRM org, a Marketo instance or an MDM.

    `max_quarantined` is the share of rows read (0 to 1) a load may quarantine before its
    `quarantine` check blocks it (the last good tables stay); unset, quarantined rows only warn.
    `objects` overrides it per object (`objects: {Opportunity: {max_quarantined: 0}}`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: SourceType
    synced_crm: str | None = None
    path: str | None = None
    freshness_hours: float = Field(default=24.0, gt=0)
    max_quarantined: float | None = QuarantineShare
    objects: dict[str, ObjectSettings] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(
                f"{value!r} must be lower-case letters, digits and '_', starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _sync_only_for_marketo(self) -> SourceInstance:
        if self.synced_crm is not None and self.type != "marketo":
            raise ValueError("synced_crm is only allowed on a marketo source")
        return self

    @model_validator(mode="after")
    def _objects_exist(self) -> SourceInstance:
        from b2b_assets.sources.landing_names import object_names, unknown_object_note

        known = {name.lower() for name in object_names(self.type)}
        for name in self.objects:
            if name.lower() not in known:
                raise ValueError(f"objects: {unknown_object_note(name, self.type).message}")
        return self

    def max_quarantined_of(self, object_name: str) -> float | None:
        """The quarantine limit of one object: its own setting, else the source's."""
        for name, settings in self.objects.items():
            if name.lower() == object_name.lower() and settings.max_quarantined is not None:
                return settings.max_quarantined
        return self.max_quarantined


class SourcesConfig(BaseModel):
    """The whole `sources.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceInstance] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> SourcesConfig:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique, repeated: {duplicates}")
        types = {source.name: source.type for source in self.sources}
        for source in self.sources:
            if source.synced_crm is None:
                continue
            if types.get(source.synced_crm) != "salesforce":
                raise ValueError(
                    f"source {source.name!r}: synced_crm {source.synced_crm!r} "
                    "is not a salesforce source of this file"
                )
        return self

    def by_name(self) -> dict[str, SourceInstance]:
        return {source.name: source for source in self.sources}

    def of_type(self, source_type: str) -> list[SourceInstance]:
        return [source for source in self.sources if source.type == source_type]


def landing_dir(data_dir: Path, source: SourceInstance) -> Path:
    """The folder of a source's extracts, with every symlink and `..` resolved: it must be in
    the data folder (an absolute `path:` too), or this is a SourcesConfigError."""
    root = data_dir.resolve()
    where = f"{data_dir / 'sources.yaml'}: source {source.name!r} path {source.path!r}"
    try:
        folder = (root / (source.path or f"landing/{source.name}")).resolve()
    except (ValueError, OSError, RuntimeError) as exc:  # NUL byte, symlink loop, ...
        raise SourcesConfigError(f"{where} is not a usable folder: {exc}") from exc
    if folder != root and root not in folder.parents:
        raise SourcesConfigError(f"{where} leaves the data folder {root} (it is {folder})")
    return folder


def load_sources(path: Path) -> SourcesConfig:
    """Read and validate `sources.yaml`, with errors that name the file and the entry."""
    if not path.exists():
        raise SourcesConfigError(f"{path}: not found (set B2B_DATA_DIR to your environment folder)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SourcesConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        config = SourcesConfig.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SourcesConfigError(f"{path}: {problems}") from exc
    for source in config.sources:
        landing_dir(path.parent, source)
    return config
