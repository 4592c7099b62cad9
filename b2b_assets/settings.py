"""The contract's environment variables, read in one place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The Dagster instance settings the scripts copy to $DAGSTER_HOME/dagster.yaml.
INSTANCE_YAML = REPO_ROOT / "scripts" / "dagster.yaml"
DEFAULT_MEMORY_LIMIT = "4GB"
_MEMORY_SIZE = re.compile(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting from the environment cannot be used."""


def parse_as_of(text: str | None) -> datetime:
    """Parse `B2B_AS_OF`: an ISO-8601 date (midnight UTC) or timestamp; now when empty."""
    if text is None or not text.strip():
        return datetime.now(UTC).replace(microsecond=0)
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SettingsError(f"B2B_AS_OF={raw!r} is not an ISO-8601 date or timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_memory_limit(text: str | None) -> str:
    """Parse `B2B_MEMORY_LIMIT`: a size such as `4GB` or `10GiB` (the default when empty)."""
    if text is None or not text.strip():
        return DEFAULT_MEMORY_LIMIT
    raw = text.strip()
    if not _MEMORY_SIZE.fullmatch(raw):
        raise SettingsError(f"B2B_MEMORY_LIMIT={raw!r} is not a size such as 4GB, 512MB or 10GiB")
    return raw


@dataclass(frozen=True)
class Settings:
    """Where the environment lives and when windows are evaluated."""

    data_dir: Path
    warehouse: Path
    outbox: Path
    as_of_text: str | None
    memory_limit: str = DEFAULT_MEMORY_LIMIT

    @property
    def as_of(self) -> datetime:
        return parse_as_of(self.as_of_text)

    @property
    def sources_file(self) -> Path:
        return self.data_dir / "sources.yaml"

    @property
    def segments_dir(self) -> Path:
        return self.data_dir / "segments"

    @property
    def destinations_file(self) -> Path:
        return self.data_dir / "destinations.yaml"

    @property
    def fx_rates_file(self) -> Path:
        return self.data_dir / "fx_rates.csv"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or the mapping given)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("B2B_DATA_DIR") or REPO_ROOT / "data").expanduser().resolve()
    warehouse = Path(env.get("B2B_WAREHOUSE") or data_dir / "warehouse.duckdb").expanduser()
    outbox = Path(env.get("B2B_OUTBOX") or data_dir / "outbox").expanduser()
    return Settings(
        data_dir=data_dir,
        warehouse=warehouse.resolve(),
        outbox=outbox.resolve(),
        as_of_text=env.get("B2B_AS_OF"),
        memory_limit=parse_memory_limit(env.get("B2B_MEMORY_LIMIT")),
    )
