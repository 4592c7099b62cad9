"""`sources.yaml`: which source instances exist and where their extracts land."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from b2b_assets.sources.catalog import ObjectSpec

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
SourceType = Literal["salesforce", "marketo", "mdm"]
# Which shape a source's extracts land in: the contract's (section 3) or Fivetran's tables.
LandingFormat = Literal["contract", "fivetran"]
# Marketo activity types pulled when a source names none (contract section 3).
DEFAULT_ACTIVITY_TYPE_IDS = (1, 2, 3, 6, 7, 9, 10, 11)


class SourcesConfigError(ValueError):
    """`sources.yaml` cannot be used; the message names the file and the entry."""


QuarantineShare = Field(default=None, ge=0, le=1)


class ObjectSettings(BaseModel):
    """Settings of one object of a source, overriding the source's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_quarantined: float | None = QuarantineShare


class PullSettings(BaseModel):
    """What every `pull:` block has: the environment variables holding the client credentials,
    and how often the `pull_<source>` schedule pulls (minutes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id_env: str
    client_secret_env: str
    every_minutes: int = Field(default=15, ge=1, le=1440)

    @field_validator("client_id_env", "client_secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("every_minutes")
    @classmethod
    def _fits_a_clock(cls, value: int) -> int:
        if not (60 % value == 0 or (value % 60 == 0 and 1440 % value == 0)):
            raise ValueError(
                "every_minutes must divide an hour (1-60) or be whole hours dividing a day"
            )
        return value

    @property
    def cron(self) -> str:
        """The schedule's cron expression."""
        if self.every_minutes == 1440:
            return "0 0 * * *"
        if self.every_minutes % 60 == 0:
            return f"0 */{self.every_minutes // 60} * * *"
        return "* * * * *" if self.every_minutes == 1 else f"*/{self.every_minutes} * * * *"


def _http_url(value: str) -> str:
    from b2b_assets.apis.http import check_endpoint

    return check_endpoint(value, name="url")


class SalesforcePull(PullSettings):
    """A Salesforce org pulled with Bulk API 2.0 (contract section 7)."""

    instance_url: str
    token_url: str
    api_version: str = Field(default="62.0", pattern=r"^\d{2,3}\.\d$")

    _urls = field_validator("instance_url", "token_url")(lambda cls, v: _http_url(v))


class MarketoPull(PullSettings):
    """A Marketo instance pulled with the bulk extract and REST APIs (contract section 7)."""

    endpoint: str
    identity_endpoint: str
    activity_type_ids: tuple[int, ...] = DEFAULT_ACTIVITY_TYPE_IDS
    since: datetime | None = None

    _urls = field_validator("endpoint", "identity_endpoint")(lambda cls, v: _http_url(v))

    @field_validator("activity_type_ids")
    @classmethod
    def _some_types(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(type_id < 1 for type_id in value):
            raise ValueError("activity_type_ids must list positive activity type ids")
        return tuple(dict.fromkeys(value))

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _pull_kind(value: Any) -> str | None:
    """Which API a `pull:` block is for, by its URLs (so its errors name only that kind's)."""
    if not isinstance(value, dict):
        return "salesforce" if isinstance(value, SalesforcePull) else "marketo"
    if "endpoint" in value or "identity_endpoint" in value:
        return "marketo"
    return "salesforce"


PullBlock = Annotated[
    Annotated[SalesforcePull, Tag("salesforce")] | Annotated[MarketoPull, Tag("marketo")],
    Discriminator(_pull_kind),
]


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
    format: LandingFormat = "contract"
    pull: PullBlock | None = None

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
    def _pull_fits_type(self) -> SourceInstance:
        expected = {"salesforce": SalesforcePull, "marketo": MarketoPull}.get(self.type)
        if self.pull is not None and expected is None:
            raise ValueError(f"a {self.type} source is not pulled; remove its pull block")
        if self.pull is not None and not isinstance(self.pull, expected):
            needs = (
                "instance_url and token_url"
                if self.type == "salesforce"
                else "endpoint and identity_endpoint"
            )
            raise ValueError(
                f"the pull block of a {self.type} source needs {needs} "
                f"(this one has the settings of another kind of source)"
            )
        if self.format == "fivetran" and self.type == "mdm":
            raise ValueError("format fivetran is for salesforce and marketo sources")
        if self.format == "fivetran" and self.pull is not None:
            raise ValueError("a pulled source lands the contract's shape; remove format")
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


class AccountMatching(BaseModel):
    """`account_matching:` of `sources.yaml`: accounts no MDM or CRM sync links, compared by a
    probabilistic model; pairs at or above `auto_merge_threshold` are one unified account,
    pairs from `review_threshold` up are listed for review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    auto_merge_threshold: float = Field(default=0.95, gt=0, le=1)
    review_threshold: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> AccountMatching:
        if self.review_threshold > self.auto_merge_threshold:
            raise ValueError("review_threshold must not be above auto_merge_threshold")
        return self


class SourcesConfig(BaseModel):
    """The whole `sources.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceInstance] = Field(default_factory=list)
    account_matching: AccountMatching | None = None

    def object_specs(self, source: SourceInstance) -> tuple[ObjectSpec, ...]:
        """The objects a source's landing folder holds. With account matching on, the MDM's
        cross-references are optional: matching finds the companies it would have named."""
        from dataclasses import replace

        from b2b_assets.sources.catalog import OBJECTS_BY_TYPE

        specs = OBJECTS_BY_TYPE[source.type]
        if source.type == "mdm" and self.matching is not None:
            return tuple(replace(spec, required=False) for spec in specs)
        return specs

    @property
    def matching(self) -> AccountMatching | None:
        """The account matching settings when matching is on (contract section 8)."""
        on = self.account_matching is not None and self.account_matching.enabled
        return self.account_matching if on else None

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


def _location(document: Any, loc: tuple[int | str, ...]) -> str:
    """`sources.0.pull.salesforce.every_minutes (source 'crm_1')`: where an error is, with the
    name of the source it is in when the entry has one."""
    text = ".".join(str(part) for part in loc) or "(top)"
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        entries = document.get("sources") if isinstance(document, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            text += f" (source {name!r})"
    return text


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
            f"{_location(document, error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise SourcesConfigError(f"{path}: {problems}") from exc
    for source in config.sources:
        landing_dir(path.parent, source)
    return config
