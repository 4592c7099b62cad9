#!/usr/bin/env python
"""Plain-pandas baseline: the `new_product_upsell` seed audience as a user without the platform writes it.

    python benchmarks/pandas_audience.py ENV_DIR [--as-of 2026-11-15T00:00:00Z] [--timing]

Written for pandas 3 (the default `str` dtype). Reads the raw extracts of ENV_DIR (sources.yaml, fx_rates.csv, landing/) with read_csv / read_parquet,
then merges and groupbys. Prints the sorted normalized emails, one per line; --timing to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

NULLS = ["", "null", "NULL"]
warnings.simplefilter("ignore", pd.errors.ParserWarning)  # lines with an extra field
CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


# ------------------------------------------------------------------------------ reading
def norm(name: str) -> str:
    return str(name).replace("_", "").lower().strip()


def read_one(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        df = pd.read_parquet(path, dtype_backend="numpy_nullable")  # ints with nulls stay ints
        df = df.astype(object).where(df.notna(), None)
        for c in df.columns:  # everything as text, like the CSVs
            df[c] = df[c].map(
                lambda v: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
            )
    else:
        # index_col=False: a first data line with an extra field must not turn column 1 into the
        # index (the extra field is dropped); other malformed lines are skipped
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=NULLS,
            encoding="utf-8-sig",
            index_col=False,
            on_bad_lines="skip",
        )
    out = pd.DataFrame(index=df.index)
    for c in df.columns:  # IsWon, iswon, is_won are one column
        n = norm(c)
        out[n] = df[c] if n not in out else out[n].fillna(df[c])
    return out


def read_object(folder: Path, obj: str, columns: list[str], required: bool = False) -> pd.DataFrame:
    files = [folder / f"{obj}.csv", folder / f"{obj}.parquet"]
    files = [f for f in files if f.is_file()]
    if (folder / obj).is_dir():
        files += sorted(p for p in (folder / obj).iterdir() if p.suffix in (".csv", ".parquet"))
    if not files:
        if required:
            raise SystemExit(f"missing required object {folder / obj}")
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    df = pd.concat([read_one(f) for f in files], ignore_index=True)
    for c in columns:
        if c not in df:
            df[c] = None
    return df[columns]


def load(
    env: Path, stype: str, obj: str, columns: list[str], sources, required=False
) -> pd.DataFrame:
    frames = []
    for s in sources:
        if s["type"] != stype:
            continue
        df = read_object(env / s.get("path", f"landing/{s['name']}"), obj, columns, required)
        df["inst"] = s["name"]
        df["crm"] = s.get("synced_crm")
        frames.append(df)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns + ["inst", "crm"]})
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------ value rules
def clean(s: pd.Series) -> pd.Series:
    s = s.astype(object).where(s.notna(), None).astype("str")
    return s.str.strip().replace("", None)


def flag(s: pd.Series) -> pd.Series:
    return clean(s).str.lower().isin(["true", "1"])


def stamp(s: pd.Series) -> pd.Series:
    return pd.to_datetime(clean(s), utc=True, errors="coerce", format="ISO8601")


def email(s: pd.Series) -> pd.Series:
    return clean(s).str.lower()


def sf18(x):
    if not isinstance(x, str) or len(x) != 15:
        return x
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(x[start : start + 5]) if "A" <= ch <= "Z")
        suffix += CHECKSUM[bits]
    return x + suffix


def sfid(s: pd.Series) -> pd.Series:
    return clean(s).map(sf18)


def key(ids: pd.Series, inst: pd.Series) -> pd.Series:
    return (ids + "@" + inst).where(ids.notna() & inst.notna(), None)


def latest(df: pd.DataFrame, key_cols, ts_col) -> pd.DataFrame:
    """Rows with duplicate keys: the latest timestamp wins."""
    df = df.assign(_ts=stamp(df[ts_col]))
    df = df.sort_values("_ts", na_position="first", kind="stable")
    return df.drop_duplicates(key_cols, keep="last").drop(columns="_ts")


def url_of(attrs, primary):
    if isinstance(attrs, str):
        try:
            value = json.loads(attrs)
            if isinstance(value, dict) and value.get("Webpage URL") not in (None, ""):
                return str(value["Webpage URL"])
        except ValueError:
            pass
    return primary if isinstance(primary, str) else ""


# ------------------------------------------------------------------------------ the audience
def audience(env: Path, as_of: pd.Timestamp) -> list[str]:
    sources = yaml.safe_load((env / "sources.yaml").read_text())["sources"]
    salesforce = {s["name"] for s in sources if s["type"] == "salesforce"}

    accounts = load(
        env, "salesforce", "Account", ["id", "isdeleted", "lastmodifieddate"], sources, True
    )
    contacts = load(
        env,
        "salesforce",
        "Contact",
        ["id", "accountid", "email", "isdeleted", "lastmodifieddate"],
        sources,
        True,
    )
    opps = load(
        env,
        "salesforce",
        "Opportunity",
        [
            "id",
            "accountid",
            "amount",
            "isclosed",
            "iswon",
            "currencyisocode",
            "isdeleted",
            "lastmodifieddate",
        ],
        sources,
    )
    acr = load(
        env,
        "salesforce",
        "AccountContactRelation",
        ["id", "accountid", "contactid", "isactive", "lastmodifieddate"],
        sources,
    )
    leads = load(
        env,
        "marketo",
        "leads",
        ["id", "email", "externalcompanyid", "sfdcaccountid", "updatedat"],
        sources,
        True,
    )
    acts = load(
        env,
        "marketo",
        "activities",
        ["leadid", "activitydate", "activitytypeid", "primaryattributevalue", "attributes"],
        sources,
    )
    companies = load(env, "marketo", "companies", ["id", "externalcompanyid", "updatedat"], sources)
    mk_opps = load(
        env,
        "marketo",
        "opportunities",
        [
            "marketoguid",
            "externalopportunityid",
            "externalcompanyid",
            "amount",
            "isclosed",
            "iswon",
            "updatedat",
        ],
        sources,
    )
    xref = load(
        env,
        "mdm",
        "account_xref",
        ["goldenid", "sourceinstance", "sourcerecordid", "isactive", "updatedat"],
        sources,
        True,
    )
    fx_path = env / "fx_rates.csv"
    fx = read_one(fx_path) if fx_path.is_file() else pd.DataFrame({"currency": [], "ratetousd": []})
    rates = dict(
        zip(
            clean(fx["currency"]).str.upper(),
            pd.to_numeric(fx["ratetousd"], errors="coerce"),
            strict=True,
        )
    )
    rates["USD"] = 1.0

    # --- account records: CRM accounts and Marketo companies
    accounts["k"] = key(sfid(accounts["id"]), accounts["inst"])
    accounts = latest(accounts[accounts["k"].notna()], ["k"], "lastmodifieddate")
    live = set(accounts.loc[~flag(accounts["isdeleted"]), "k"])

    synced = companies["crm"].notna()
    companies["k"] = key(clean(companies["id"]), companies["inst"])
    companies["ext"] = clean(companies["externalcompanyid"])
    companies.loc[synced, "ext"] = companies.loc[synced, "ext"].map(sf18)
    companies["crmk"] = key(companies["ext"].where(synced, None), companies["crm"])
    companies = latest(companies[companies["k"].notna()], ["k"], "updatedat")

    nodes = pd.Series(sorted(live | set(companies["k"])), dtype=object)

    # --- links: MDM golden ids (active rows) and CRM sync
    xref = latest(xref, ["goldenid", "sourceinstance", "sourcerecordid"], "updatedat")
    active = clean(xref["isactive"]).isna() | flag(xref["isactive"])
    xref = xref[active & clean(xref["goldenid"]).notna()].copy()
    inst = clean(xref["sourceinstance"])
    rid = clean(xref["sourcerecordid"])
    rid = rid.where(~inst.isin(salesforce), rid.map(sf18))
    xref["k"] = key(rid, inst)
    xref["g"] = "G:" + clean(xref["goldenid"])
    xref = xref[xref["k"].isin(set(nodes))]
    sync = companies[companies["crmk"].isin(live)]
    edges = pd.concat(
        [
            xref[["k", "g"]].rename(columns={"k": "a", "g": "b"}),
            sync[["k", "crmk"]].rename(columns={"k": "a", "crmk": "b"}),
        ],
        ignore_index=True,
    )
    edges = pd.concat([edges, edges.rename(columns={"a": "b", "b": "a"})], ignore_index=True)

    # connected components: number the keys, propagate the smallest number until nothing changes
    codes, uniques = pd.factorize(pd.concat([nodes, edges["a"], edges["b"]], ignore_index=True))
    n_nodes = len(nodes)
    ea = codes[n_nodes : n_nodes + len(edges)]
    eb = codes[n_nodes + len(edges) :]
    label = np.arange(len(uniques))
    while True:
        best = pd.Series(label[ea]).groupby(eb).min()  # smallest label among each key's neighbours
        new = label.copy()
        new[best.index] = np.minimum(best.values, label[best.index])
        if (new == label).all():
            break
        label = new
    comp = pd.Series(label[codes[:n_nodes]], index=nodes.values)

    # --- opportunities, each once: the CRM record wins over its Marketo copy
    opps["ok"] = key(sfid(opps["id"]), opps["inst"])
    opps = latest(opps[opps["ok"].notna()], ["ok"], "lastmodifieddate")
    opps["won"] = flag(opps["isclosed"]) & flag(opps["iswon"]) & ~flag(opps["isdeleted"])
    opps["l"] = key(sfid(opps["accountid"]), opps["inst"]).map(comp)
    opps["cur"] = clean(opps["currencyisocode"]).str.upper().fillna("USD")

    msync = mk_opps["crm"].notna()
    crm_ok = key(sfid(mk_opps["externalopportunityid"]).where(msync, None), mk_opps["crm"])
    mk_opps["ok"] = crm_ok.fillna(key(clean(mk_opps["marketoguid"]), mk_opps["inst"]))
    mk_opps = latest(mk_opps[mk_opps["ok"].notna()], ["ok"], "updatedat")
    mk_opps = mk_opps[~mk_opps["ok"].isin(set(opps["ok"]))].copy()
    mk_opps["won"] = flag(mk_opps["isclosed"]) & flag(mk_opps["iswon"])
    mk_opps["ext"] = clean(mk_opps["externalcompanyid"])
    ms = mk_opps["crm"].notna()
    mk_opps.loc[ms, "ext"] = mk_opps.loc[ms, "ext"].map(sf18)
    via_crm = key(mk_opps["ext"].where(ms, None), mk_opps["crm"]).map(comp)
    company_comp = (
        companies.assign(l=companies["k"].map(comp))
        .groupby(["inst", "ext"])["l"]
        .min()
        .rename("cl")
        .reset_index()
    )
    mk_opps = mk_opps.merge(company_comp, on=["inst", "ext"], how="left")
    mk_opps["l"] = via_crm.values
    mk_opps["l"] = mk_opps["l"].fillna(mk_opps["cl"])
    mk_opps["cur"] = "USD"

    won = pd.concat([opps[opps["won"]], mk_opps[mk_opps["won"]]], ignore_index=True)[
        ["l", "amount", "cur"]
    ]
    won["usd"] = pd.to_numeric(won["amount"], errors="coerce") * won["cur"].map(rates)
    revenue = won.dropna(subset=["l"]).groupby("l")["usd"].sum()
    rich = set(revenue[revenue > 1_000_000].index)

    # --- people (by normalized email) and their accounts
    contacts["k"] = key(sfid(contacts["id"]), contacts["inst"])
    contacts = latest(contacts[contacts["k"].notna()], ["k"], "lastmodifieddate")
    contacts = contacts[~flag(contacts["isdeleted"])].copy()
    contacts["email"] = email(contacts["email"])
    contacts["ak"] = key(sfid(contacts["accountid"]), contacts["inst"])

    acr["rk"] = key(sfid(acr["id"]), acr["inst"])
    acr = latest(acr, ["rk"], "lastmodifieddate")
    acr = acr[flag(acr["isactive"])].copy()
    acr["ck"] = key(sfid(acr["contactid"]), acr["inst"])
    acr["ak"] = key(sfid(acr["accountid"]), acr["inst"])
    acr = acr.merge(contacts[["k", "email"]], left_on="ck", right_on="k")

    leads["k"] = key(clean(leads["id"]), leads["inst"])
    leads = latest(leads[leads["k"].notna()], ["k"], "updatedat")
    leads["email"] = email(leads["email"])
    ls = leads["crm"].notna()
    leads["sak"] = key(sfid(leads["sfdcaccountid"]).where(ls, None), leads["crm"])
    leads["ext"] = clean(leads["externalcompanyid"])
    leads.loc[ls, "ext"] = leads.loc[ls, "ext"].map(sf18)
    by_company = leads[leads["sak"].isna() & leads["ext"].notna()].merge(
        companies.loc[companies["ext"].notna(), ["inst", "ext", "k"]].rename(columns={"k": "ak"}),
        on=["inst", "ext"],
    )

    person_account = pd.concat(
        [
            contacts[["email", "ak"]],
            acr[["email", "ak"]],
            leads[["email", "sak"]].rename(columns={"sak": "ak"}),
            by_company[["email", "ak"]],
        ],
        ignore_index=True,
    ).dropna()
    person_account["l"] = person_account["ak"].map(comp)
    at_rich = set(person_account.loc[person_account["l"].isin(rich), "email"])

    # --- events: visits to the new product page in (as_of - 30 days, as_of]
    acts = acts[acts["activitytypeid"] == "1"].copy()
    acts["when"] = stamp(acts["activitydate"])
    acts = acts[(acts["when"] > as_of - pd.Timedelta(days=30)) & (acts["when"] <= as_of)].copy()
    urls = [
        url_of(a, p) for a, p in zip(acts["attributes"], acts["primaryattributevalue"], strict=True)
    ]
    acts = acts[
        pd.Series(urls, index=acts.index, dtype=object)
        .str.lower()
        .str.contains("/products/new-software", regex=False)
    ]
    acts = acts.assign(k=key(clean(acts["leadid"]), acts["inst"]))
    visitors = set(acts.merge(leads[["k", "email"]], on="k")["email"].dropna())

    return sorted(at_rich & visitors)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("env", type=Path)
    ap.add_argument("--as-of", default="2026-11-15T00:00:00Z")
    ap.add_argument("--timing", action="store_true", help="print wall time to stderr")
    args = ap.parse_args(argv)
    as_of = pd.Timestamp(args.as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    t0 = time.perf_counter()
    emails = audience(args.env, as_of)
    t1 = time.perf_counter()
    sys.stdout.write("".join(e + "\n" for e in emails))
    sys.stdout.flush()
    if args.timing:
        print(f"pandas: {len(emails)} emails; total {t1 - t0:.3f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
