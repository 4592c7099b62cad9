"""Background data (vectorized with Polars) combined with the planted cases.

Everything except Marketo activities is built in memory here (about 1.4M rows for the largest
objects at scale 1); activities are streamed by `activities.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from . import vocab
from .ids import BAD_BASE, sf_ids
from .plant import CRM, PLANTED_LEAD_BASE, POD, SALT, Planter
from .rng import Rng
from .schema import OBJECTS, POLARS_TYPE

SF = OBJECTS["salesforce"]
MK = OBJECTS["marketo"]
XREF = OBJECTS["mdm"]["account_xref"]
LINE = {"crm_1": 1, "crm_2": 2}
SYNCED = {"marketo_1": "crm_1", "marketo_2": "crm_2"}
BG_LEAD_BASE = 1_000_001
# Background lead ids run from BG_LEAD_BASE up to the planted leads' ids; the background leads
# beyond that many (scales above 1) continue past every planted and unknown lead id, so no
# background lead ever takes a planted lead's id.
BG_LEADS_BELOW_PLANTED = PLANTED_LEAD_BASE - BG_LEAD_BASE
BG_LEAD_CONTINUATION = 100_000_001

INTERNALS: dict[str, dict[str, pl.DataType]] = {
    "Account": {"_c": pl.Int64, "_golden": pl.String},
    "Opportunity": {"_ext15": pl.Boolean},
    "leads": {"_contact18": pl.String},
}


@dataclass
class Counts:
    companies: int
    people: int
    opportunities: int
    activities: int
    members: int
    decoys: int

    @classmethod
    def for_scale(cls, scale: float, n_member_cases: int, n_decoy_cases: int) -> Counts:
        return cls(
            companies=max(40, round(100_000 * scale)),
            people=max(400, round(1_000_000 * scale)),
            opportunities=max(120, round(280_000 * scale)),
            activities=max(2_000, round(10_000_000 * scale)),
            members=max(2 * n_member_cases, round(2_000 * scale)),
            decoys=max(n_decoy_cases, round(1_000 * scale)),
        )


# ---- small helpers ----------------------------------------------------------------------------
def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def seconds_to_ts(seconds: pl.Series) -> pl.Series:
    return pl.select(
        pl.from_epoch(seconds.cast(pl.Int64), time_unit="s").dt.replace_time_zone("UTC")
    ).to_series()


def ts_before(rng: Rng, n: int, as_of: datetime, lo_days: float, hi_days: float) -> pl.Series:
    back = (rng.uniform(n) * ((hi_days - lo_days) * 86400) + lo_days * 86400).floor()
    return seconds_to_ts(_epoch(as_of) - back.cast(pl.Int64))


def variant_email(email: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The address as another system spells it: other case and/or surrounding blanks."""
    return (
        pl.when(kind == 0)
        .then(email.str.to_uppercase())
        .when(kind == 1)
        .then(pl.concat_str(pl.lit(" "), email, pl.lit(" ")))
        .when(kind == 2)
        .then(email.str.to_titlecase())
        .otherwise(pl.concat_str(pl.lit("  "), email.str.to_uppercase()))
    )


def frame_of(obj_name: str, df: pl.DataFrame, bg: bool | None = None) -> pl.DataFrame:
    """Columns of the object, its internal columns, and `_bg` (in that order)."""
    obj = SF.get(obj_name) or MK.get(obj_name) or XREF
    internals = INTERNALS.get(obj_name, {})
    if bg is not None:
        df = df.with_columns(_bg=pl.lit(bg))
    columns = []
    for name, kind in obj.columns:
        dtype = POLARS_TYPE[kind]
        columns.append(
            pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name)
        )
    for name, dtype in internals.items():
        columns.append(
            pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype).alias(name)
        )
    columns.append(pl.col("_bg").cast(pl.Boolean))
    return df.select(columns)


def planted_frame(planter: Planter, instance: str, obj_name: str) -> pl.DataFrame:
    obj = SF.get(obj_name) or MK.get(obj_name) or XREF
    rows = planter.rows.get((instance, obj_name), [])
    schema = {**obj.polars_schema, **INTERNALS.get(obj_name, {})}
    if not rows:
        df = pl.DataFrame(schema=schema)
    else:
        df = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)
    return frame_of(obj_name, df, bg=False)


def ids15(expr: pl.Expr, share_15: pl.Expr) -> pl.Expr:
    return pl.when(share_15).then(expr.str.slice(0, 15)).otherwise(expr)


# ---- the world ----------------------------------------------------------------------------------
@dataclass
class World:
    frames: dict[tuple[str, str], pl.DataFrame]
    lead_ids: dict[str, pl.Series]
    people_with_email: int
    background_companies: int
    background_people: int


def build_world(
    seed: int, as_of: datetime, scale: float, counts: Counts, planter: Planter, log
) -> World:
    n_companies = max(20, counts.companies - planter.n_companies)
    n_people = max(200, counts.people - planter.n_people)
    frames: dict[tuple[str, str], pl.DataFrame] = {}

    companies = _companies(seed, n_companies, as_of)
    log(f"companies: {n_companies:,} background + {planter.n_companies:,} planted")

    accounts = {crm: _accounts(seed, crm, companies, as_of, planter) for crm in CRM.values()}
    for crm, df in accounts.items():
        frames[(crm, "Account")] = df

    people = _people(seed, n_people, companies, as_of)
    log(f"people: {n_people:,} background + {planter.n_people:,} planted")

    contacts = _contacts(seed, people, companies, accounts, as_of, planter)
    for crm, df in contacts.items():
        frames[(crm, "Contact")] = df.drop("_p", "_vk", "_email_base", "_account_name")

    leads = _leads(seed, people, contacts, companies, as_of, planter)
    lead_ids = {}
    for instance, df in leads.items():
        frames[(instance, "leads")] = df
        lead_ids[instance] = df["id"]

    n_planted_opps = sum(len(planter.rows.get((crm, "Opportunity"), [])) for crm in CRM.values())
    opps = _opportunities(
        seed, max(0, counts.opportunities - n_planted_opps), accounts, as_of, planter
    )
    for crm, df in opps.items():
        frames[(crm, "Opportunity")] = df
    log("accounts, contacts, leads, opportunities built")

    for crm in CRM.values():
        frames[(crm, "AccountContactRelation")] = _acr(
            seed, crm, contacts[crm], accounts[crm], planter
        )
        ocr = _ocr(seed, crm, opps[crm], contacts[crm])
        frames[(crm, "OpportunityContactRole")] = ocr
        campaigns = _campaigns(seed, crm, scale, as_of)
        frames[(crm, "Campaign")] = campaigns
        frames[(crm, "CampaignMember")] = _campaign_members(seed, crm, campaigns, contacts[crm])
    for instance, crm in SYNCED.items():
        frames[(instance, "companies")] = _marketo_companies(seed, instance, accounts[crm])
        frames[(instance, "opportunities")] = _marketo_opps(seed, instance, opps[crm])
        frames[(instance, "opportunity_roles")] = _marketo_roles(
            seed,
            instance,
            frames[(crm, "OpportunityContactRole")],
            frames[(instance, "opportunities")],
            leads[instance],
        )
        programs = _programs(seed, instance, scale)
        frames[(instance, "programs")] = programs
        frames[(instance, "program_members")] = _program_members(
            seed, instance, programs, leads[instance]
        )
        lists = _static_lists(seed, instance, scale)
        frames[(instance, "static_lists")] = lists
        frames[(instance, "static_list_members")] = _list_members(
            seed, instance, lists, leads[instance]
        )
    frames[("mdm", "account_xref")] = _xref(seed, accounts, as_of)

    emails = []
    for crm in CRM.values():
        emails.append(contacts[crm].filter(~pl.col("IsDeleted")).select(e=pl.col("Email")))
    for df in leads.values():
        emails.append(df.select(e=pl.col("email")))
    people_with_email = (
        pl.concat(emails)
        .select(pl.col("e").str.strip_chars().str.to_lowercase())
        .filter(pl.col("e").is_not_null() & (pl.col("e") != ""))
        .n_unique()
    )
    return World(frames, lead_ids, people_with_email, n_companies, n_people)


def _companies(seed: int, n: int, as_of: datetime) -> pl.DataFrame:
    r = Rng(seed, "companies")
    u_lines = r.uniform(n)
    df = pl.DataFrame(
        {
            "_c": pl.int_range(n, eager=True, dtype=pl.Int64),
            "w1": r.choice(n, vocab.COMPANY_WORDS_A),
            "w2": r.choice(n, vocab.COMPANY_WORDS_B),
            "suffix": r.choice(n, vocab.COMPANY_SUFFIXES),
            "suffix2": r.choice(n, vocab.CRM2_SUFFIXES),
            "same_name": r.bernoulli(n, 0.5),
            "u_lines": u_lines,
            "web1": r.integers(n, 0, 4),
            "web2": r.integers(n, 0, 4),
            "industry": r.choice(n, vocab.INDUSTRIES),
            "country": r.choice(n, vocab.COUNTRIES),
            "u_emp": r.uniform(n),
            "u_rev": r.uniform(n),
        }
    )

    def website(k: pl.Expr) -> pl.Expr:
        d = pl.col("domain")
        return (
            pl.when(k == 0)
            .then(d)
            .when(k == 1)
            .then(pl.concat_str(pl.lit("www."), d))
            .when(k == 2)
            .then(pl.concat_str(pl.lit("https://www."), d))
            .otherwise(pl.concat_str(pl.lit("http://"), d))
        )

    return df.with_columns(
        lines=pl.when(pl.col("u_lines") < 0.35)
        .then(1)
        .when(pl.col("u_lines") < 0.60)
        .then(2)
        .otherwise(3)
        .cast(pl.Int64),
        name1=pl.concat_str("w1", pl.lit(" "), "w2", "suffix"),
        domain=pl.concat_str(
            pl.col("w1").str.to_lowercase(),
            pl.col("w2").str.to_lowercase(),
            pl.col("_c").cast(pl.String),
            pl.lit(".com"),
        ),
        employees=(pl.lit(10.0).pow(pl.lit(1.0) + 3.9 * pl.col("u_emp").pow(1.4)))
        .floor()
        .cast(pl.Int64),
    ).with_columns(
        name2=pl.when(pl.col("same_name"))
        .then(pl.col("name1"))
        .otherwise(pl.concat_str("w1", pl.lit(" "), "w2", "suffix2")),
        website1=website(pl.col("web1")),
        website2=website(pl.col("web2")),
        revenue=((pl.col("employees") * (80_000 + 320_000 * pl.col("u_rev"))) / 1000).round(0)
        * 1000,
        golden=pl.concat_str(pl.lit("G-"), (pl.col("_c") + 1).cast(pl.String).str.zfill(8)),
    )


def _accounts(
    seed: int, crm: str, companies: pl.DataFrame, as_of: datetime, planter: Planter
) -> pl.DataFrame:
    line = LINE[crm]
    r = Rng(seed, "accounts", crm)
    a = companies.filter((pl.col("lines") == line) | (pl.col("lines") == 3))
    n = a.height
    name, web = ("name1", "website1") if line == 1 else ("name2", "website2")
    df = pl.DataFrame(
        {
            "Id": sf_ids("Account", POD[crm], pl.int_range(n, eager=True), SALT[crm]),
            "Name": a[name],
            "Website": a[web],
            "Industry": a["industry"],
            "AnnualRevenue": a["revenue"],
            "NumberOfEmployees": a["employees"],
            "BillingCountry": a["country"],
            "IsDeleted": pl.repeat(False, n, eager=True),
            "LastModifiedDate": ts_before(r, n, as_of, 1, 400),
            "_c": a["_c"],
            "_golden": a["golden"],
            "_has_parent": r.bernoulli(n, 0.03),
            "_prow": (r.uniform(n) * pl.int_range(n, eager=True)).floor().cast(pl.Int64),
            "_dupe": r.bernoulli(n, 0.005),
        }
    )
    df = df.with_columns(
        ParentId=pl.when(pl.col("_has_parent") & (pl.int_range(pl.len()) > 0))
        .then(pl.col("Id").gather(pl.col("_prow")))
        .otherwise(None)
    )
    dupes = df.filter(pl.col("_dupe"))
    dupes = dupes.with_columns(
        Id=sf_ids("Account", POD[crm], pl.int_range(n, n + dupes.height, eager=True), SALT[crm]),
        Name=pl.concat_str(pl.lit("Old "), pl.col("Name"), pl.lit(" Duplicate")),
        AnnualRevenue=pl.lit(None, pl.Float64),
        NumberOfEmployees=pl.lit(None, pl.Int64),
        ParentId=pl.lit(None, pl.String),
        IsDeleted=pl.lit(True),
        LastModifiedDate=ts_before(r, dupes.height, as_of, 100, 900),
    )
    return pl.concat(
        [
            frame_of("Account", df, bg=True),
            frame_of("Account", dupes, bg=True),
            planted_frame(planter, crm, "Account"),
        ]
    )


def _people(seed: int, n: int, companies: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    r = Rng(seed, "people")
    n_companies = companies.height
    home = r.skewed_index(n, n_companies, 1.7)
    second_company = r.integers(n, 0, n_companies)
    df = pl.DataFrame(
        {
            "_p": pl.int_range(n, eager=True, dtype=pl.Int64),
            "first": r.choice(n, vocab.FIRST_NAMES),
            "last": r.choice(n, vocab.LAST_NAMES),
            "title": r.choice(n, vocab.TITLES),
            "home": home,
            "has_email": ~r.bernoulli(n, 0.005),
            "lead_only": r.bernoulli(n, 0.02),
            "variant": r.bernoulli(n, 0.10),
            "vk": r.integers(n, 0, 4),
            "r_line": r.uniform(n),
            "second": r.bernoulli(n, 0.13),
            "c2": second_company,
            "r_line2": r.uniform(n),
            "lead_instance": r.integers(n, 1, 3),
            "lead_company": r.integers(n, 0, n_companies),
        }
    )
    df = df.with_columns(
        c2=pl.when(pl.col("c2") == pl.col("home"))
        .then((pl.col("c2") + 1) % n_companies)
        .otherwise(pl.col("c2")),
        local=pl.concat_str(
            pl.col("first").str.to_lowercase(), pl.lit("."), pl.col("last").str.to_lowercase()
        ),
    )
    df = df.join(
        companies.select(home="_c", home_lines="lines", domain="domain"),
        on="home",
        how="left",
        maintain_order="left",
    ).join(companies.select(c2="_c", c2_lines="lines"), on="c2", how="left", maintain_order="left")
    df = df.with_columns(dup=pl.int_range(pl.len()).over(["domain", "local"]))
    return df.with_columns(
        email=pl.when(pl.col("has_email")).then(
            pl.concat_str(
                "local",
                pl.when(pl.col("dup") > 0)
                .then((pl.col("dup") + 1).cast(pl.String))
                .otherwise(pl.lit("")),
                pl.lit("@"),
                "domain",
            )
        ),
        vk=pl.when(pl.col("variant") & pl.col("has_email")).then(pl.col("vk")).otherwise(None),
    )


def _contacts(seed, people, companies, accounts, as_of, planter) -> dict[str, pl.DataFrame]:
    p = people.filter(~pl.col("lead_only"))
    rl = pl.col("r_line")
    both_home = pl.col("home_lines") == 3
    in1 = (pl.col("home_lines") == 1) | (both_home & (rl < 0.875))
    in2 = (pl.col("home_lines") == 2) | (both_home & ((rl < 0.75) | (rl >= 0.875)))
    second_line = (
        pl.when(pl.col("c2_lines") == 3)
        .then(pl.when(pl.col("r_line2") < 0.5).then(1).otherwise(2))
        .otherwise(pl.col("c2_lines"))
    )
    base = ["_p", "first", "last", "title", "email", "vk"]
    parts = [
        p.filter(in1).select(*base, _c="home", line=pl.lit(1), _kind=pl.lit(0), _var=pl.lit(False)),
        # the person's Contact in the second line spells the email like Marketo does
        p.filter(in2).select(*base, _c="home", line=pl.lit(2), _kind=pl.lit(0), _var=in1),
        p.filter(pl.col("second")).select(
            *base, _c="c2", line=second_line, _kind=pl.lit(1), _var=pl.lit(True)
        ),
    ]
    rows = pl.concat(
        [
            x.with_columns(pl.col("line").cast(pl.Int64), pl.col("_kind").cast(pl.Int64))
            for x in parts
        ]
    )
    out = {}
    for crm, line in LINE.items():
        r = Rng(seed, "contacts", crm)
        c = rows.filter(pl.col("line") == line).sort(["_p", "_kind"], maintain_order=True)
        acc = (
            accounts[crm]
            .filter(pl.col("_bg") & ~pl.col("IsDeleted"))
            .select("_c", AccountId="Id", _account_name="Name")
        )
        c = c.join(acc, on="_c", how="inner", maintain_order="left")
        n = c.height
        c = c.with_columns(
            Id=sf_ids("Contact", POD[crm], pl.int_range(n, eager=True), SALT[crm]),
            Email=pl.when(pl.col("_var") & pl.col("vk").is_not_null())
            .then(variant_email(pl.col("email"), pl.col("vk")))
            .otherwise(pl.col("email")),
            FirstName="first",
            LastName="last",
            Title="title",
            HasOptedOutOfEmail=r.bernoulli(n, 0.02),
            IsDeleted=r.bernoulli(n, 0.003),
            LastModifiedDate=ts_before(r, n, as_of, 1, 500),
            _email_base="email",
            _vk="vk",
        )
        bg = pl.concat(
            [
                frame_of("Contact", c, bg=True),
                c.select("_p", "_vk", "_email_base", "_account_name"),
            ],
            how="horizontal",
        )
        planted = planted_frame(planter, crm, "Contact").with_columns(
            _p=pl.lit(None, pl.Int64),
            _vk=pl.lit(None, pl.Int64),
            _email_base=pl.lit(None, pl.String),
            _account_name=pl.lit(None, pl.String),
        )
        out[crm] = pl.concat([bg, planted])
    return out


def _leads(seed, people, contacts, companies, as_of, planter) -> dict[str, pl.DataFrame]:
    out = {}
    lead_only = people.filter(pl.col("lead_only")).join(
        companies.select(lead_company="_c", company_name="name1"),
        on="lead_company",
        how="left",
        maintain_order="left",
    )
    for instance, crm in SYNCED.items():
        r = Rng(seed, "leads", instance)
        c = contacts[crm].filter(pl.col("_bg") & ~pl.col("IsDeleted"))
        from_contacts = c.select(
            email=pl.when(pl.col("_vk").is_not_null())
            .then(variant_email(pl.col("_email_base"), pl.col("_vk")))
            .otherwise(pl.col("_email_base")),
            firstName="FirstName",
            lastName="LastName",
            title="Title",
            company="_account_name",
            externalCompanyId="AccountId",
            sfdcContactId="Id",
            sfdcAccountId="AccountId",
            _contact18="Id",
            _order=pl.col("_p") * 4 + 1,
        )
        lo = lead_only.filter(pl.col("lead_instance") == LINE[crm]).select(
            email=pl.when(pl.col("vk").is_not_null())
            .then(variant_email(pl.col("email"), pl.col("vk")))
            .otherwise(pl.col("email")),
            firstName="first",
            lastName="last",
            title="title",
            company="company_name",
            externalCompanyId=pl.lit(None, pl.String),
            sfdcContactId=pl.lit(None, pl.String),
            sfdcAccountId=pl.lit(None, pl.String),
            _contact18=pl.lit(None, pl.String),
            _order=pl.col("_p") * 4,
        )
        df = pl.concat([from_contacts, lo])
        n = df.height
        ext15 = r.bernoulli(n, 0.03)
        con15 = r.bernoulli(n, 0.03)
        now = _epoch(as_of)
        created_s = now - (r.uniform(n) * (1080 * 86400) + 20 * 86400).floor().cast(pl.Int64)
        updated_s = created_s + (
            (now - created_s).cast(pl.Float64) * r.uniform(n) * 0.98
        ).floor().cast(pl.Int64)
        df = df.with_columns(
            externalCompanyId=ids15(pl.col("externalCompanyId"), pl.lit(ext15)),
            sfdcContactId=ids15(pl.col("sfdcContactId"), pl.lit(con15)),
            unsubscribed=r.bernoulli(n, 0.02),
            marketingSuspended=r.bernoulli(n, 0.005),
            emailInvalid=r.bernoulli(n, 0.01),
            blackListed=r.bernoulli(n, 0.003),
            createdAt=seconds_to_ts(created_s),
            updatedAt=seconds_to_ts(updated_s),
        )
        df = df.sort(["createdAt", "_order"], maintain_order=True).with_columns(
            id=background_lead_ids(n)
        )
        out[instance] = pl.concat(
            [frame_of("leads", df, bg=True), planted_frame(planter, instance, "leads")]
        ).sort("id", maintain_order=True)
    return out


def background_lead_ids(n: int) -> pl.Series:
    """The ids of n background leads, in order, clear of the planted lead ids at any scale."""
    index = pl.Series("id", range(n), dtype=pl.Int64)
    return pl.select(
        pl.when(index < BG_LEADS_BELOW_PLANTED)
        .then(index + BG_LEAD_BASE)
        .otherwise(index - BG_LEADS_BELOW_PLANTED + BG_LEAD_CONTINUATION)
        .alias("id")
    ).to_series()


def _opportunities(seed, n_total, accounts, as_of, planter) -> dict[str, pl.DataFrame]:
    pools = {
        crm: df.filter(pl.col("_bg") & ~pl.col("IsDeleted")).select("Id", "Name")
        for crm, df in accounts.items()
    }
    total_accounts = sum(p.height for p in pools.values())
    out = {}
    as_of_day = _epoch(as_of) // 86400
    for crm, pool in pools.items():
        r = Rng(seed, "opportunities", crm)
        if crm == "crm_1":
            n = round(n_total * pool.height / total_accounts)
            n_first = n
        else:
            n = n_total - n_first
        idx = r.skewed_index(n, pool.height, 1.5)
        past = as_of_day - r.integers(n, 1, 730)
        future = as_of_day + r.integers(n, 1, 365)
        df = pl.DataFrame(
            {
                "AccountId": pool["Id"].gather(idx),
                "_account_name": pool["Name"].gather(idx),
                "u_stage": r.uniform(n),
                "u_amount": r.uniform(n),
                "open_stage": r.choice(n, vocab.OPEN_STAGES),
                "product": r.choice(n, vocab.PRODUCTS),
                "CurrencyIsoCode": r.choice(n, ["USD", "EUR", "GBP"], [0.95, 0.03, 0.02]),
                "IsDeleted": r.bernoulli(n, 0.005),
                "_ext15": r.bernoulli(n, 0.03),
                "past": past,
                "future": future,
            }
        )
        df = (
            df.with_columns(
                status=pl.when(pl.col("u_stage") < 0.35)
                .then(pl.lit("won"))
                .when(pl.col("u_stage") < 0.60)
                .then(pl.lit("lost"))
                .otherwise(pl.lit("open")),
                # log-uniform between 5,000 and 2.5M, whole hundreds
                Amount=(pl.lit(10.0).pow(3.7 + 2.7 * pl.col("u_amount")) / 100).round(0) * 100,
            )
            .with_columns(
                Id=sf_ids("Opportunity", POD[crm], pl.int_range(n, eager=True), SALT[crm]),
                StageName=pl.when(pl.col("status") == "won")
                .then(pl.lit("Closed Won"))
                .when(pl.col("status") == "lost")
                .then(pl.lit("Closed Lost"))
                .otherwise(pl.col("open_stage")),
                IsClosed=pl.col("status") != "open",
                IsWon=pl.col("status") == "won",
                CloseDate=pl.from_epoch(
                    pl.when(pl.col("status") == "open")
                    .then(pl.col("future"))
                    .otherwise(pl.col("past")),
                    time_unit="d",
                ),
            )
            .with_columns(
                Name=pl.concat_str(
                    "_account_name",
                    pl.lit(" - "),
                    "product",
                    pl.lit(" "),
                    pl.col("CloseDate").dt.year().cast(pl.String),
                )
            )
        )
        out[crm] = pl.concat(
            [frame_of("Opportunity", df, bg=True), planted_frame(planter, crm, "Opportunity")]
        )
    return out


def _acr(seed, crm, contacts, accounts, planter) -> pl.DataFrame:
    r = Rng(seed, "acr", crm)
    c = contacts.filter(~pl.col("IsDeleted"))
    n = c.height
    direct = c.select(
        AccountId="AccountId",
        ContactId="Id",
        IsDirect=pl.lit(True),
        IsActive=pl.lit(True),
        Roles=pl.when(pl.lit(r.bernoulli(n, 0.4)))
        .then(None)
        .otherwise(pl.lit(r.choice(n, vocab.ACR_ROLES))),
    )
    pool = accounts.filter(pl.col("_bg") & ~pl.col("IsDeleted"))["Id"]
    bgc = contacts.filter(pl.col("_bg") & ~pl.col("IsDeleted"))
    pick = r.bernoulli(bgc.height, 0.03)
    ind = bgc.filter(pick)
    m = ind.height
    ind = (
        ind.select(
            AccountId=pool.gather(r.integers(m, 0, pool.len())),
            ContactId="Id",
            own="AccountId",
            IsDirect=pl.lit(False),
            IsActive=r.bernoulli(m, 0.8),
            Roles=r.choice(m, vocab.ACR_ROLES),
        )
        .filter(pl.col("AccountId") != pl.col("own"))
        .drop("own")
    )
    df = pl.concat([direct, ind])
    df = df.with_columns(
        Id=sf_ids(
            "AccountContactRelation", POD[crm], pl.int_range(df.height, eager=True), SALT[crm]
        )
    )
    return pl.concat(
        [
            frame_of("AccountContactRelation", df, bg=True),
            planted_frame(planter, crm, "AccountContactRelation"),
        ]
    )


def _ocr(seed, crm, opps, contacts) -> pl.DataFrame:
    r = Rng(seed, "ocr", crm)
    cs = (
        contacts.filter(~pl.col("IsDeleted"))
        .select("AccountId", ContactId="Id")
        .sort(["AccountId", "ContactId"])
    )
    groups = (
        cs.with_row_index("ri")
        .group_by("AccountId", maintain_order=True)
        .agg(start=pl.col("ri").min().cast(pl.Int64), cnt=pl.len().cast(pl.Int64))
    )
    o = opps.filter(~pl.col("IsDeleted")).select(
        OpportunityId="Id", AccountId="AccountId", _bg="_bg"
    )
    o = o.join(groups, on="AccountId", how="inner", maintain_order="left")
    n = o.height
    rounds = []
    for k, share in enumerate([1.0, 0.45, 0.12]):
        take = r.bernoulli(n, share) if k else pl.repeat(True, n, eager=True)
        pick = (r.uniform(n) * o["cnt"]).floor().cast(pl.Int64) + o["start"]
        rounds.append(
            o.with_columns(
                _pick=pick, _take=take, _round=pl.lit(k), Role=r.choice(n, vocab.OCR_ROLES)
            ).filter(pl.col("_take"))
        )
    df = pl.concat(rounds)
    df = df.with_columns(ContactId=cs["ContactId"].gather(df["_pick"]))
    df = df.sort(["OpportunityId", "_round"], maintain_order=True).unique(
        ["OpportunityId", "ContactId"], keep="first", maintain_order=True
    )
    df = df.with_columns(
        IsPrimary=pl.col("_round") == 0,
        Id=sf_ids(
            "OpportunityContactRole", POD[crm], pl.int_range(df.height, eager=True), SALT[crm]
        ),
    )
    return frame_of("OpportunityContactRole", df)


def _campaigns(seed, crm, scale, as_of) -> pl.DataFrame:
    r = Rng(seed, "campaigns", crm)
    n = max(3, round(300 * scale))
    start = ts_before(r, n, as_of, -20, 540).dt.date()
    length = r.integers(n, 0, 60)
    df = pl.DataFrame(
        {
            "Type": r.choice(n, vocab.CAMPAIGN_TYPES),
            "topic": r.choice(n, vocab.EMAIL_TOPICS),
            "StartDate": start,
            "len": length,
        }
    ).with_columns(EndDate=pl.col("StartDate") + pl.duration(days=pl.col("len")))
    as_of_date = as_of.date()
    df = df.with_columns(
        Id=sf_ids("Campaign", POD[crm], pl.int_range(n, eager=True), SALT[crm]),
        Name=pl.concat_str(
            "Type", pl.lit(" - "), "topic", pl.lit(" "), pl.col("StartDate").dt.strftime("%b %Y")
        ),
        Status=pl.when(pl.col("EndDate") < as_of_date)
        .then(pl.lit("Completed"))
        .when(pl.col("StartDate") > as_of_date)
        .then(pl.lit("Planned"))
        .otherwise(pl.lit("In Progress")),
    )
    return frame_of("Campaign", df, bg=True)


def _campaign_members(seed, crm, campaigns, contacts) -> pl.DataFrame:
    r = Rng(seed, "campaign-members", crm)
    c = contacts.filter(~pl.col("IsDeleted"))
    pick = r.bernoulli(c.height, 0.06)
    c = c.filter(pick)
    n = c.height
    status = r.choice(n, vocab.CAMPAIGN_MEMBER_STATUSES)
    df = pl.DataFrame(
        {
            "CampaignId": campaigns["Id"].gather(r.integers(n, 0, campaigns.height)),
            "ContactId": c["Id"],
            "Status": status,
        }
    ).with_columns(HasResponded=pl.col("Status").is_in(["Responded", "Attended"]))
    df = df.with_columns(
        Id=sf_ids("CampaignMember", POD[crm], pl.int_range(n, eager=True), SALT[crm])
    )
    return frame_of("CampaignMember", df, bg=True)


def _marketo_companies(seed, instance, accounts) -> pl.DataFrame:
    r = Rng(seed, "marketo-companies", instance)
    a = accounts.filter(~pl.col("IsDeleted")).sort("_c", maintain_order=True)
    n = a.height
    df = a.select(
        id=pl.int_range(100_001, 100_001 + n, dtype=pl.Int64),
        externalCompanyId=ids15(pl.col("Id"), pl.lit(r.bernoulli(n, 0.03))),
        company="Name",
        website="Website",
        industry="Industry",
        numberOfEmployees="NumberOfEmployees",
        annualRevenue="AnnualRevenue",
        billingCountry="BillingCountry",
        _bg="_bg",
    )
    return frame_of("companies", df)


def _marketo_opps(seed, instance, opps) -> pl.DataFrame:
    r = Rng(seed, "marketo-opportunities", instance)
    o = opps.filter(~pl.col("IsDeleted"))
    n = o.height
    df = o.select(
        marketoGUID=r.uuid4(n),
        externalOpportunityId=ids15(pl.col("Id"), pl.col("_ext15")),
        externalCompanyId=ids15(pl.col("AccountId"), pl.lit(r.bernoulli(n, 0.03))),
        name="Name",
        stage="StageName",
        amount="Amount",
        closeDate="CloseDate",
        isClosed="IsClosed",
        isWon="IsWon",
        _bg="_bg",
        _opp18="Id",
    )
    return (
        frame_of("opportunities", df)
        .with_columns(df["_opp18"])
        .sort("marketoGUID", maintain_order=True)
    )


def _marketo_roles(seed, instance, ocr, mk_opps, leads) -> pl.DataFrame:
    r = Rng(seed, "marketo-roles", instance)
    lead_of = leads.filter(pl.col("_contact18").is_not_null()).select(
        ContactId="_contact18", leadId="id"
    )
    opp = mk_opps.select(OpportunityId="_opp18", externalOpportunityId="externalOpportunityId")
    df = ocr.join(lead_of, on="ContactId", how="inner", maintain_order="left").join(
        opp, on="OpportunityId", how="inner", maintain_order="left"
    )
    n = df.height
    df = df.select(
        marketoGUID=r.uuid4(n),
        externalOpportunityId="externalOpportunityId",
        leadId="leadId",
        role="Role",
        isPrimary="IsPrimary",
        _bg="_bg",
    )
    return frame_of("opportunity_roles", df).sort("marketoGUID", maintain_order=True)


def _programs(seed, instance, scale) -> pl.DataFrame:
    r = Rng(seed, "programs", instance)
    n = max(3, round(200 * scale))
    kinds = r.integers(n, 0, len(vocab.PROGRAM_TYPES))
    types = pl.Series([t for t, _ in vocab.PROGRAM_TYPES]).gather(kinds.cast(pl.UInt32))
    channels = pl.Series([c for _, c in vocab.PROGRAM_TYPES]).gather(kinds.cast(pl.UInt32))
    df = pl.DataFrame(
        {
            "id": pl.int_range(1001, 1001 + n, eager=True, dtype=pl.Int64),
            "type": types,
            "channel": channels,
            "topic": r.choice(n, vocab.EMAIL_TOPICS),
        }
    ).with_columns(
        name=pl.concat_str(
            "channel", pl.lit(" - "), "topic", pl.lit(" "), pl.col("id").cast(pl.String)
        )
    )
    return frame_of("programs", df, bg=True)


def _program_members(seed, instance, programs, leads) -> pl.DataFrame:
    r = Rng(seed, "program-members", instance)
    chosen = leads.filter(r.bernoulli(leads.height, 0.08))
    n = chosen.height
    df = pl.DataFrame(
        {
            "programId": programs["id"].gather(r.integers(n, 0, programs.height)),
            "leadId": chosen["id"],
            "status": r.choice(n, vocab.PROGRAM_STATUSES),
        }
    ).with_columns(reachedSuccess=pl.col("status").is_in(["Attended", "Engaged"]))
    return frame_of("program_members", df, bg=True).unique(
        ["programId", "leadId"], maintain_order=True
    )


def _static_lists(seed, instance, scale) -> pl.DataFrame:
    r = Rng(seed, "static-lists", instance)
    n = max(2, round(60 * scale))
    df = pl.DataFrame(
        {
            "id": pl.int_range(501, 501 + n, eager=True, dtype=pl.Int64),
            "topic": r.choice(n, vocab.EMAIL_TOPICS),
        }
    ).with_columns(
        name=pl.concat_str(pl.lit("List - "), "topic", pl.lit(" "), pl.col("id").cast(pl.String))
    )
    return frame_of("static_lists", df, bg=True)


def _list_members(seed, instance, lists, leads) -> pl.DataFrame:
    r = Rng(seed, "static-list-members", instance)
    chosen = leads.filter(r.bernoulli(leads.height, 0.06))
    n = chosen.height
    df = pl.DataFrame(
        {"listId": lists["id"].gather(r.integers(n, 0, lists.height)), "leadId": chosen["id"]}
    )
    return frame_of("static_list_members", df, bg=True).unique(
        ["listId", "leadId"], maintain_order=True
    )


def _xref(seed, accounts, as_of) -> pl.DataFrame:
    parts = []
    for crm, df in accounts.items():
        r = Rng(seed, "xref", crm)
        n = df.height
        parts.append(
            df.select(
                golden_id="_golden",
                source_instance=pl.lit(crm),
                source_record_id=ids15(pl.col("Id"), pl.lit(r.bernoulli(n, 0.02))),
                is_active=~(pl.col("IsDeleted") & pl.lit(r.bernoulli(n, 0.5))),
                updated_at=ts_before(r, n, as_of, 1, 700),
                _bg="_bg",
            )
        )
    return frame_of("account_xref", pl.concat(parts)).sort(
        ["golden_id", "source_instance", "source_record_id"], maintain_order=True
    )


# ---- fresh keys for injected bad rows ------------------------------------------------------------
def fresh_key_factory(instance: str, obj_name: str, seed: int, part: int | None = None):
    if instance in CRM.values():

        def sf(n: int) -> list:
            return sf_ids(
                obj_name,
                POD[instance],
                pl.int_range(BAD_BASE, BAD_BASE + n, eager=True),
                SALT[instance],
            ).to_list()

        return sf
    if obj_name in ("opportunities", "opportunity_roles"):
        return lambda n: Rng(seed, "bad-keys", instance, obj_name).uuid4(n).to_list()
    if obj_name == "activities":
        base = 990_000_000 + (part or 0) * 1_000_000
        return lambda n: list(range(base, base + n))
    return lambda n: list(range(900_000_001, 900_000_001 + n))
