"""`destinations.yaml`: where audiences are sent. Secrets are named, never written here."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
ENV_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LINKEDIN_VERSION = "202611"
LINKEDIN_VERSION_PATTERN = re.compile(r"\d{4}(0[1-9]|1[0-2])")


class DestinationConfigError(ValueError):
    """`destinations.yaml` cannot be used; the message names the file and the entry."""


class _Destination(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    endpoint: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    retry_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=1.0, ge=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(
                f"{value!r}: lower-case letters, digits and '_', starting with a letter"
            )
        return value

    @property
    def offline(self) -> bool:
        """No endpoint configured: write what would be sent to the outbox instead."""
        return not self.endpoint


def _env_name(value: str | None) -> str | None:
    if value is not None and not ENV_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _linkedin_version(value: object) -> object:
    """A `LinkedIn-Version` as `YYYYMM` text; an unquoted YAML number is taken as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not LINKEDIN_VERSION_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a LinkedIn API version: linkedin_version must be YYYYMM, "
            f"e.g. {LINKEDIN_VERSION!r}"
        )
    return value


class MarketoStaticList(_Destination):
    """A static list in one Marketo instance of `sources.yaml`."""

    type: Literal["marketo_static_list"]
    instance: str
    list_id: int
    identity_endpoint: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    create_missing_leads: bool = False

    _check_env = field_validator("client_id_env", "client_secret_env")(_env_name)


class LinkedInAudience(_Destination):
    """A LinkedIn Matched Audience (DMP segment) of users (hashed emails) or companies."""

    type: Literal["linkedin_users", "linkedin_companies"]
    ad_account: str | int | None = None
    segment_id: str | int | None = None
    segment_name: str | None = None
    access_token_env: str | None = None
    linkedin_version: str = LINKEDIN_VERSION

    _check_env = field_validator("access_token_env")(_env_name)
    _check_version = field_validator("linkedin_version", mode="before")(_linkedin_version)

    @property
    def kind(self) -> str:
        return "users" if self.type == "linkedin_users" else "companies"


Destination = Annotated[MarketoStaticList | LinkedInAudience, Field(discriminator="type")]


class DestinationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: list[Destination] = Field(default_factory=list)

    def by_name(self) -> dict[str, MarketoStaticList | LinkedInAudience]:
        return {destination.name: destination for destination in self.destinations}


def load_destinations(path: Path, marketo_instances: set[str]) -> DestinationsConfig:
    """Read `destinations.yaml` (absent: no destinations) with errors naming file and entry."""
    if not path.exists():
        return DestinationsConfig()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = DestinationsConfig.model_validate(document)
    except yaml.YAMLError as exc:
        raise DestinationConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise DestinationConfigError(f"{path}: {problems}") from exc
    names = [destination.name for destination in config.destinations]
    if len(names) != len(set(names)):
        raise DestinationConfigError(f"{path}: destination names must be unique")
    for destination in config.destinations:
        if (
            isinstance(destination, MarketoStaticList)
            and destination.instance not in marketo_instances
        ):
            raise DestinationConfigError(
                f"{path}: destination {destination.name!r}: instance {destination.instance!r} "
                "is not a marketo source of sources.yaml"
            )
    return config


def secret(variable: str | None, destination: str, purpose: str) -> str:
    """Read a secret from the environment; the error names the variable, never a value."""
    if not variable:
        raise DestinationConfigError(f"destination {destination!r} needs {purpose}_env")
    value = os.environ.get(variable)
    if not value:
        raise DestinationConfigError(
            f"destination {destination!r}: environment variable {variable} ({purpose}) is not set"
        )
    return value
