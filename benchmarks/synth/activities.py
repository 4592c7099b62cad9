"""Marketo activities, streamed: one time slice (part file) at a time, built per activity type.

Background activities cover the 90 days before as_of and never touch `/products/new-software`;
planted rows (see plant.py) are merged into the part covering their instant and every part is
sorted by time, with `marketoGUID` increasing across parts.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import polars as pl

from . import vocab
from .rng import Rng
from .schema import OBJECTS, POLARS_TYPE

ACTIVITIES = OBJECTS["marketo"]["activities"]
UNKNOWN_LEAD_BASE = 50_000_001  # lead ids no `leads` row has (background share of unknowns)
GUID_BASE = 500_000_001
WINDOW_DAYS = 90

# activityTypeId -> share of background activities
TYPE_SHARES = [(6, 0.33), (7, 0.30), (10, 0.14), (11, 0.05), (1, 0.155), (2, 0.025)]
N_EMAILS = 48
N_REF = len(vocab.REFERRERS)
N_FORMS = len(vocab.FORMS)


def _json_str(key: str, value: pl.Expr) -> list[pl.Expr]:
    return [pl.lit(f'"{key}": "'), value, pl.lit('"')]


def _json_raw(key: str, value: pl.Expr) -> list[pl.Expr]:
    return [pl.lit(f'"{key}": '), value.cast(pl.String)]


def _obj(*items: list[pl.Expr]) -> pl.Expr:
    parts: list[pl.Expr] = [pl.lit("{")]
    for i, item in enumerate(items):
        if i:
            parts.append(pl.lit(", "))
        parts.extend(item)
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def _lookup(values: list, index: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(values)).gather(index)


def email_names() -> list[str]:
    months = ["Aug", "Sep", "Oct", "Nov"]
    return [
        f"{vocab.EMAIL_TOPICS[k % len(vocab.EMAIL_TOPICS)]} - {months[k % 4]} 2026 #{k // 16 + 1}"
        for k in range(N_EMAILS)
    ]


def background_chunk(rng: Rng, n: int, lead_ids: pl.Series, t0: int, span_s: int) -> pl.DataFrame:
    """`n` background activities with instants in [t0, t0 + span_s) (epoch seconds)."""
    # four 64-bit draws per row; small fields are cut from the same word
    words = pl.DataFrame({"r1": rng.u64(n), "r2": rng.u64(n), "r3": rng.u64(n), "r4": rng.u64(n)})
    inv53, inv32 = 1.0 / (1 << 53), 1.0 / (1 << 32)
    cumulative, running = [], 0.0
    for _, share in TYPE_SHARES[:-1]:
        running += share
        cumulative.append(running)
    edges = pl.Series(cumulative, dtype=pl.Float64)
    types = pl.Series([t for t, _ in TYPE_SHARES], dtype=pl.Int64)
    n_leads = lead_ids.len()
    r3 = pl.col("r3")
    base = words.select(
        lead_index=((pl.col("r1") // 2048).cast(pl.Float64) * inv53)
        .pow(1.3)
        .mul(n_leads)
        .floor()
        .cast(pl.Int64)
        .clip(0, n_leads - 1),
        t=(pl.col("r2") % span_s).cast(pl.Int64) + t0,
        u_type=(pl.col("r2") // (1 << 32)).cast(pl.Float64) * inv32,
        email_k=(r3 % N_EMAILS).cast(pl.Int64),
        ref_k=((r3 // N_EMAILS) % N_REF).cast(pl.Int64),
        form_k=((r3 // (N_EMAILS * 7)) % len(vocab.FORMS)).cast(pl.Int64),
        unknown=((r3 // (N_EMAILS * 7 * 8)) % 10_000) < 200,
        unknown_id=((r3 // (N_EMAILS * 7 * 8 * 10_000)) % 10_000_000).cast(pl.Int64)
        + UNKNOWN_LEAD_BASE,
        u=(r3 // (1 << 48)).cast(pl.Float64) / (1 << 16),
        u_path=(pl.col("r4") // 2048).cast(pl.Float64) * inv53,
    )
    path_edges, running = [], 0.0
    total = float(sum(vocab.WEB_WEIGHTS))
    for w in vocab.WEB_WEIGHTS[:-1]:
        running += w / total
        path_edges.append(running)
    base = base.with_columns(
        activityTypeId=types.gather(edges.search_sorted(base["u_type"], side="right")),
        path_k=pl.Series(path_edges, dtype=pl.Float64)
        .search_sorted(base["u_path"], side="right")
        .cast(pl.Int64),
        leadId=pl.when(pl.col("unknown"))
        .then(pl.col("unknown_id"))
        .otherwise(lead_ids.gather(base["lead_index"])),
    )
    lead = pl.col("leadId")
    ua_k = (lead % len(vocab.USER_AGENTS)).cast(pl.Int64)
    ip = pl.concat_str(
        ((lead * 7) % 223 + 1).cast(pl.String),
        pl.lit("."),
        ((lead // 7) % 256).cast(pl.String),
        pl.lit("."),
        ((lead // 1792) % 256).cast(pl.String),
        pl.lit("."),
        (lead % 254 + 1).cast(pl.String),
    )
    ua = _lookup(vocab.USER_AGENTS, ua_k)
    path = _lookup(vocab.WEB_PATHS, pl.col("path_k"))
    names = email_names()
    email_k = pl.col("email_k")
    run = (88_000 + email_k * 3).cast(pl.String)
    step = (email_k % 12 + 1).cast(pl.String)
    email_common = {
        "campaignId": 7300 + email_k,
        "primaryAttributeValueId": 2200 + email_k,
        "primaryAttributeValue": _lookup(names, email_k),
    }
    device = [
        _json_str(
            "Device",
            pl.when(_lookup(vocab.UA_MOBILE, ua_k))
            .then(pl.lit("Mobile"))
            .otherwise(pl.lit("Desktop")),
        ),
        _json_raw("Is Bot Activity", pl.lit("false")),
        _json_raw(
            "Is Mobile Device",
            pl.when(_lookup(vocab.UA_MOBILE, ua_k)).then(pl.lit("true")).otherwise(pl.lit("false")),
        ),
        _json_str("Platform", _lookup(vocab.UA_PLATFORM, ua_k)),
    ]
    sends = [
        _json_raw("Campaign Run ID", run),
        _json_raw("Choice Number", pl.lit("0")),
        _json_raw("Has Predictive", pl.lit("false")),
        _json_raw("Step ID", step),
    ]
    builders = {
        6: {**email_common, "attributes": _obj(*sends)},
        7: {**email_common, "attributes": _obj(*sends)},
        10: {
            **email_common,
            "attributes": _obj(
                sends[0], sends[1], *device, _json_raw("Step ID", step), _json_str("User Agent", ua)
            ),
        },
        11: {
            **email_common,
            "attributes": _obj(
                sends[0],
                sends[1],
                *device[:2],
                _json_raw(
                    "Is Mobile Device",
                    pl.when(_lookup(vocab.UA_MOBILE, ua_k))
                    .then(pl.lit("true"))
                    .otherwise(pl.lit("false")),
                ),
                _json_str("Link", pl.concat_str(pl.lit("https://www.bodea.com"), path)),
                _json_str(
                    "Link ID",
                    pl.concat_str(
                        pl.lit("lk"),
                        email_k.cast(pl.String),
                        pl.lit("x"),
                        pl.col("path_k").cast(pl.String),
                    ),
                ),
                device[3],
                _json_raw("Step ID", step),
                _json_str("User Agent", ua),
            ),
        },
        1: {
            "campaignId": pl.lit(None, pl.Int64),
            "primaryAttributeValueId": 4000 + pl.col("path_k"),
            "primaryAttributeValue": pl.concat_str(pl.lit("www.bodea.com"), path),
            "attributes": pl.when(pl.col("u") < 0.05)
            .then(  # some visits carry no "Webpage URL": the page is primaryAttributeValue
                _obj(
                    _json_str("Client IP Address", ip),
                    _json_str("Query Parameters", pl.lit("")),
                    _json_str("Referrer URL", _lookup(vocab.REFERRERS, pl.col("ref_k"))),
                    _json_str("User Agent", ua),
                )
            )
            .otherwise(
                _obj(
                    _json_str("Client IP Address", ip),
                    _json_str(
                        "Query Parameters",
                        pl.when(pl.col("u") > 0.9)
                        .then(pl.lit("utm_source=newsletter&utm_medium=email"))
                        .otherwise(pl.lit("")),
                    ),
                    _json_str("Referrer URL", _lookup(vocab.REFERRERS, pl.col("ref_k"))),
                    _json_str("User Agent", ua),
                    _json_str("Webpage URL", path),
                )
            ),
        },
        2: {
            "campaignId": pl.lit(None, pl.Int64),
            "primaryAttributeValueId": 1180 + pl.col("form_k"),
            "primaryAttributeValue": _lookup(vocab.FORMS, pl.col("form_k")),
            "attributes": _obj(
                _json_str("Client IP Address", ip),
                [pl.lit('"Form Fields": "a:1:{s:5:\\"Email\\";s:0:\\"\\";}"')],
                _json_str("Query Parameters", pl.lit("")),
                _json_str("Referrer URL", pl.concat_str(pl.lit("https://www.bodea.com"), path)),
                _json_str("User Agent", ua),
                _json_raw("Webpage ID", 4000 + pl.col("path_k")),
            ),
        },
    }
    frames = []
    for type_id, columns in builders.items():
        sub = base.filter(pl.col("activityTypeId") == type_id)
        if sub.height == 0:
            continue
        frames.append(
            sub.select(
                pl.col("leadId").cast(pl.Int64),
                pl.col("activityTypeId"),
                *[
                    (expr if isinstance(expr, pl.Expr) else pl.lit(expr))
                    .cast(POLARS_TYPE[k])
                    .alias(name)
                    for name, k in ACTIVITIES.columns
                    if (expr := columns.get(name)) is not None
                ],
                _t=pl.col("t"),
            )
        )
    out = pl.concat(frames, how="diagonal")
    return out.select(
        *[
            pl.col(name) if name in out.columns else pl.lit(None, POLARS_TYPE[k]).alias(name)
            for name, k in ACTIVITIES.columns
        ],
        pl.col("_t"),
    )


def write_activities(
    *,
    seed: int,
    as_of: datetime,
    instance: str,
    n_background: int,
    lead_ids: pl.Series,
    planted: list[dict],
    part_rows: int,
    writer,
    fresh_keys,
    progress,
) -> int:
    """Write `landing/<instance>/activities/part-NNNN.*`; returns the rows written."""
    now = int(as_of.timestamp())
    start = now - WINDOW_DAYS * 86400
    parts = max(1, math.ceil(n_background / part_rows))
    span = math.ceil((now - start) / parts)
    by_part: dict[int, list[dict]] = {}
    for row in planted:
        t = int(row["_t"].timestamp())
        j = min(parts - 1, max(0, (t - start) // span))
        by_part.setdefault(j, []).append({**row, "_t": t})
    guid = GUID_BASE
    n_bad_total = writer.bad_count(n_background)
    written = 0
    # one part is written (Polars releases the GIL) while the next one is generated
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for j in range(parts):
            n = n_background // parts + (1 if j < n_background % parts else 0)
            t0 = start + j * span
            chunk = background_chunk(
                Rng(seed, "activities", instance, j), n, lead_ids, t0, min(span, now - t0)
            ).with_columns(_bg=pl.lit(True))
            extra = by_part.get(j, [])
            if extra:
                planted_df = pl.DataFrame(
                    [{c: r.get(c) for c in [*ACTIVITIES.names, "_t"]} for r in extra],
                    schema={**ACTIVITIES.polars_schema, "_t": pl.Int64},
                ).with_columns(_bg=pl.lit(False))
                chunk = pl.concat([chunk, planted_df], how="diagonal")
            chunk = chunk.sort("_t", maintain_order=True).with_columns(
                marketoGUID=pl.int_range(guid, guid + chunk.height, dtype=pl.Int64),
                activityDate=pl.when(pl.col("activityDate").is_null())
                .then(pl.from_epoch("_t", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .otherwise(pl.col("activityDate")),
            )
            guid += chunk.height
            n_bad = n_bad_total // parts + (1 if j < n_bad_total % parts else 0)
            if pending is not None:
                written += pending.result()
            pending = pool.submit(
                _write_part, writer, instance, chunk, fresh_keys(j), j, n_bad, parts, progress
            )
            del chunk
        if pending is not None:
            written += pending.result()
    return written


def _write_part(writer, instance, chunk, keys, j, n_bad, parts, progress) -> int:
    n = writer.write(
        instance, ACTIVITIES, chunk, background=chunk["_bg"], fresh_keys=keys, part=j, n_bad=n_bad
    )
    progress.log(f"{instance}/activities part {j + 1}/{parts}: {n:,} rows")
    return n


def window_start(as_of: datetime) -> datetime:
    return as_of - timedelta(days=WINDOW_DAYS)
