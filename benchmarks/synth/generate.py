"""Generate a complete environment folder (`B2B_DATA_DIR`) and its `expected.json`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from .activities import write_activities
from .plant import DECOY_CASES, MEMBER_CASES, plant
from .schema import OBJECTS
from .world import Counts, build_world, fresh_key_factory
from .writer import Progress, Writer

DEFAULT_AS_OF = "2026-11-15T00:00:00Z"
REPO_DATA = Path(__file__).resolve().parents[2] / "data"

SOURCES_YAML = """\
sources:
  - {name: crm_1, type: salesforce}
  - {name: crm_2, type: salesforce}
  - {name: marketo_1, type: marketo, synced_crm: crm_1}   # Marketo 1 mirrors CRM 1 through native CRM sync
  - {name: marketo_2, type: marketo, synced_crm: crm_2}
  - {name: mdm, type: mdm}
"""

FX_RATES_CSV = "currency,rate_to_usd\nUSD,1\nEUR,1.08\nGBP,1.27\nJPY,0.0066\n"
FX_RATES = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0066}

# Fallbacks for the demo's seed segment and destinations (the demo files are copied when present).
SEGMENT_FILE = "new_product_upsell.yaml"
SEGMENT_TEXT = """\
# People at an account whose closed-won revenue, across every business line, exceeds $1M,
# who visited the new product page in the 30 days before B2B_AS_OF.
name: new_product_upsell
entity: person
description: >-
  Upsell the new software to people at accounts with more than $1M closed-won revenue
  across all business lines who visited the new product page in the last 30 days.
where:
  all:
    - accounts:
        where:
          closed_won_revenue: {gt: 1000000}
    - events:
        where:
          type: visit_webpage
          url: {contains: /products/new-software}
        within: {days: 30}
        count: {gte: 1}
"""

GENERATED = [
    "sources.yaml",
    "fx_rates.csv",
    "destinations.yaml",
    "segments",
    "landing",
    "expected.json",
]


def parse_as_of(text: str) -> datetime:
    """ISO-8601 date (midnight UTC) or timestamp (`Z`, an offset, or none = UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prepare(out: Path, overwrite: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    present = [name for name in GENERATED if (out / name).exists()]
    if present and not overwrite:
        raise FileExistsError(f"{out} already holds {', '.join(present)}; pass --overwrite")
    for name in present:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _environment_files(out: Path) -> None:
    (out / "sources.yaml").write_text(SOURCES_YAML, encoding="utf-8")
    (out / "fx_rates.csv").write_text(FX_RATES_CSV, encoding="utf-8")
    (out / "segments").mkdir()
    demo_segment = REPO_DATA / "segments" / SEGMENT_FILE
    segment = demo_segment.read_bytes() if demo_segment.is_file() else SEGMENT_TEXT.encode()
    (out / "segments" / SEGMENT_FILE).write_bytes(segment)
    demo_destinations = REPO_DATA / "destinations.yaml"
    if b"destinations:" in segment and demo_destinations.is_file():
        # the seed segment names the demo's destinations: keep the environment consistent
        shutil.copyfile(demo_destinations, out / "destinations.yaml")


def generate(
    scale: float,
    out: str | Path,
    *,
    seed: int = 1,
    bad_rows: float = 0.0,
    fmt: str = "csv",
    as_of: str = DEFAULT_AS_OF,
    part_rows: int = 1_000_000,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    if scale <= 0:
        raise ValueError("--scale must be positive")
    if not 0 <= bad_rows < 1:
        raise ValueError("--bad-rows must be in [0, 1)")
    if fmt not in ("csv", "parquet"):
        raise ValueError("--format must be csv or parquet")
    out = Path(out)
    as_of_dt = parse_as_of(as_of)
    progress = Progress(quiet=quiet)
    progress.log(
        f"synth: scale={scale} seed={seed} as_of={format_ts(as_of_dt)} format={fmt} "
        f"bad_rows={bad_rows} -> {out}"
    )
    _prepare(out, overwrite)
    _environment_files(out)

    counts = Counts.for_scale(scale, len(MEMBER_CASES), len(DECOY_CASES))
    probe = plant(seed, as_of_dt, 0, counts.members, counts.decoys)
    company_base = max(20, counts.companies - probe.n_companies)
    planter = plant(seed, as_of_dt, company_base, counts.members, counts.decoys)
    progress.log(
        f"planted: {len(planter.members):,} members, {len(planter.decoys):,} decoy people, "
        f"{planter.n_visits:,} page activities"
    )

    world = build_world(seed, as_of_dt, scale, counts, planter, progress.log)
    writer = Writer(out, fmt, bad_rows, seed, progress)
    defs = {name: obj for group in OBJECTS.values() for name, obj in group.items()}
    for key in sorted(world.frames):
        instance, name = key
        df = world.frames.pop(key)
        writer.write(
            instance,
            defs[name],
            df,
            background=df["_bg"],
            fresh_keys=fresh_key_factory(instance, name, seed),
        )
        del df

    n_planted = {i: len(planter.activities.get(i, [])) for i in ("marketo_1", "marketo_2")}
    n_background = max(0, counts.activities - sum(n_planted.values()))
    n_leads = {i: world.lead_ids[i].len() for i in n_planted}
    first = round(n_background * n_leads["marketo_1"] / sum(n_leads.values()))
    for instance, n in (("marketo_1", first), ("marketo_2", n_background - first)):
        write_activities(
            seed=seed,
            as_of=as_of_dt,
            instance=instance,
            n_background=n,
            lead_ids=world.lead_ids[instance],
            planted=planter.activities.get(instance, []),
            part_rows=part_rows,
            writer=writer,
            fresh_keys=lambda j, i=instance: fresh_key_factory(i, "activities", seed, j),
            progress=progress,
        )
        label = f"{instance}/activities"
        progress.log(f"{label}: {writer.row_counts[label]:,} rows")

    members = sorted(set(planter.members))
    expected = {
        "generator": "benchmarks.synth",
        "scale": scale,
        "seed": seed,
        "as_of": format_ts(as_of_dt),
        "format": fmt,
        "bad_rows_fraction": bad_rows,
        "fx_rates": FX_RATES,
        "row_counts": dict(sorted(writer.row_counts.items())),
        "valid_row_counts": dict(sorted(writer.good_counts.items())),
        "files": dict(sorted(writer.files.items())),
        "bad_rows": dict(sorted(writer.bad_rows.items())),
        "bad_rows_total": sum(v["total"] for v in writer.bad_rows.values()),
        "companies": world.background_companies + planter.n_companies,
        "unified_accounts": world.background_companies + planter.n_companies,
        "people_with_email": world.people_with_email,
        "seed_segment": "new_product_upsell",
        "seed_audience": members,
        "seed_audience_size": len(members),
        "planted": {
            "members": dict(sorted(planter.member_kinds.items())),
            "decoys": dict(sorted(planter.decoy_kinds.items())),
            "decoy_emails": sorted(set(planter.decoys)),
            "page_activities": planter.n_visits,
            "companies": planter.n_companies,
            "people": planter.n_people,
        },
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    progress.log(
        f"done: {sum(writer.row_counts.values()):,} rows, {size / 1e6:,.1f} MB, "
        f"seed audience {len(members):,} in {progress.elapsed():.1f}s"
    )
    return expected
