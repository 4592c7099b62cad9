"""Matching truth planted into a generated environment, for the account-matching benchmark.

    python -m benchmarks.synth.lookalikes DIR [--seed N] [--share 0.02] [--minimum 8]

Given the output of `python -m benchmarks.synth`, deterministically (one seed):

- **Known duplicates**: `share` of the background companies present in both CRMs (at least
  `minimum`) lose every MDM `account_xref` row, so only matching can join their two accounts.
  crm_2's copy (its Account and the Marketo 2 company synced from it) gets one to three of:
  a one- or two-character typo in the name, another legal form, other casing or punctuation,
  another spelling of the website (`www.`, `https://`, case, a path), no website at all (only
  where the account's contacts have emails at the company's domain, so emails and name carry
  it), the country spelled another way (`USA`, `Deutschland`, `The Netherlands`...).
- **Look-alikes that are other companies**: new crm_2 accounts (their own contacts with emails
  at their own domain, the synced Marketo 2 company and leads, no MDM row), each modelled on
  a crm_1 company: the same normalized name in another country with that country's domain
  (`acme.de` in Germany beside `acme.com` in the United States), or a similar name (one letter
  apart, or the same first word) in the same country with another domain.

Writes `sources.yaml`'s `account_matching: {enabled: true}` block and `matching_truth.json`:
`duplicates` and `lookalikes` as (crm_1 key, crm_2 key) pairs of the groups' representative
keys (`<18-character Id>@<instance>`), with the variations or kind of each, and `counts`.

Files keep the generator's format and each instance's spelling (`writer.style_for`): a CSV is
rewritten row by row with its BOM and line ends (values not edited are copied as they are), a
Parquet file is read and written with its column types. Every file is written beside the old
one and renamed over it, so an environment of hard links to a cached one never changes the
cache. New Salesforce ids count from `LOOKALIKE_BASE`, clear of the background (below 2M per
object at scale 1), the planted cases (`PLANTED_BASE`) and bad rows (`BAD_BASE`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from . import vocab
from .generate import DEFAULT_AS_OF, parse_as_of
from .ids import BAD_BASE, PLANTED_BASE, sf_id, to18
from .plant import POD, SALT
from .schema import OBJECTS, ObjectDef
from .writer import render, style_for

TRUTH_FILE = "matching_truth.json"
LOOKALIKE_BASE = 50_000_000  # Salesforce counters of the records planted here
LEAD_BASE = 80_000_001  # Marketo lead ids (background, planted, unknown and bad ids are apart)
COMPANY_BASE = 50_000_001  # Marketo company ids
DOMAIN_NUMBER_BASE = 9_000_000  # numbers of the look-alikes' own domains (companies: below)
assert PLANTED_BASE < LOOKALIKE_BASE < BAD_BASE

SF = OBJECTS["salesforce"]
MK = OBJECTS["marketo"]
XREF = OBJECTS["mdm"]["account_xref"]

VARIATIONS = (
    "typo",
    "legal_form",
    "case_punctuation",
    "website_spelling",
    "no_website",
    "country_spelling",
)
LEGAL_FORMS = ("Inc", "Inc.", "LLC", "GmbH", "Ltd", "Ltd.", "Corp", "Corp.", "Corporation",
               "Limited", "Co.", "AG", "S.A.", "PLC")  # fmt: skip
_LEGAL_TAIL = re.compile(
    r"[ ,]+(inc\.?|corp\.?|corporation|llc|ltd\.?|gmbh|co\.?|limited|ag|s\.a\.|plc)$", re.I
)
# Other spellings of a country; some (The Netherlands, Brasil...) are not in the product's
# alias table, as in real data.
COUNTRY_SPELLINGS = {
    "United States": ("USA", "US", "U.S.A.", "United States of America", "united states"),
    "United Kingdom": ("UK", "GB", "Great Britain"),
    "Germany": ("Deutschland", "DE"),
    "France": ("FR", "FRANCE"),
    "Netherlands": ("The Netherlands", "Holland"),
    "Spain": ("España",),
    "Brazil": ("Brasil",),
    "Italy": ("Italia",),
}
# A country's web domain ending and legal form, for the same name abroad.
ABROAD = {
    "United States": (".us", "Inc."),
    "Canada": (".ca", "Ltd."),
    "United Kingdom": (".co.uk", "Ltd"),
    "Germany": (".de", "GmbH"),
    "France": (".fr", "SAS"),
    "Netherlands": (".nl", "B.V."),
    "Australia": (".com.au", "Pty Ltd"),
    "Japan": (".co.jp", "K.K."),
    "India": (".in", "Pvt Ltd"),
    "Brazil": (".com.br", "Ltda"),
    "Spain": (".es", "S.L."),
    "Italy": (".it", "S.p.A."),
    "Sweden": (".se", "AB"),
    "Singapore": (".sg", "Pte. Ltd."),
    "Mexico": (".mx", "S.A."),
}
KEYBOARD = {
    "a": "qsz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip
VOWELS = "aeiou"


# ---- files --------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    """A column name as the contract's reading rules compare them."""
    return name.lower().replace("_", "")


def object_file(root: Path, instance: str, obj: str) -> Path:
    """`landing/<instance>/<obj>.csv|parquet` (the objects edited here are single files)."""
    for suffix in ("csv", "parquet"):
        path = root / "landing" / instance / f"{obj}.{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{root}/landing/{instance}: no {obj}.csv or {obj}.parquet")


def read_text_frame(path: Path, obj: ObjectDef) -> pl.DataFrame:
    """The object's columns (canonical names), every value as text, nulls as null."""
    if path.suffix == ".csv":
        frame = pl.read_csv(
            path,
            infer_schema=False,
            null_values=["", "null", "NULL"],
            truncate_ragged_lines=True,
        )
    else:
        frame = pl.read_parquet(path)
    canonical = {_norm(name): name for name in obj.names}
    frame = frame.rename({c: canonical[_norm(c)] for c in frame.columns if _norm(c) in canonical})
    return frame.select(pl.col(c).cast(pl.String) for c in obj.names if c in frame.columns)


def rewrite(
    path: Path,
    instance: str,
    obj: ObjectDef,
    key: str,
    edits: RowEdits | None,
    new_rows: Sequence[dict[str, Any]] = (),
) -> int:
    """Rewrite one object file: the rows whose `key` column `edits` names are changed or
    dropped, `new_rows` (typed values) are appended. Returns the rows changed or dropped."""
    temp = path.with_name(f".{path.name}.matching.tmp")
    if path.suffix == ".csv":
        changed = _rewrite_csv(path, temp, instance, obj, key, edits, new_rows)
    else:
        changed = _rewrite_parquet(path, temp, obj, key, edits, new_rows)
    os.replace(temp, path)
    return changed


@dataclass
class RowEdits:
    """Edits of rows by key: `changes[key]` is a dict of new values, or None to drop the row."""

    changes: dict[str, dict[str, str | None] | None]
    normalize: Callable[[str], str] = lambda value: value
    seen: set[str] = field(default_factory=set)

    def apply(self, value: str | None) -> tuple[bool, dict[str, str | None] | None]:
        """(whether the row is named, its changes or None to drop it)."""
        if value is None:
            return False, None
        wanted = self.normalize(value.strip())
        if wanted not in self.changes:
            return False, None
        self.seen.add(wanted)
        return True, self.changes[wanted]


def _rewrite_csv(
    path: Path,
    temp: Path,
    instance: str,
    obj: ObjectDef,
    key: str,
    edits: RowEdits | None,
    new_rows: Sequence[dict[str, Any]],
) -> int:
    with path.open("rb") as handle:
        head = handle.read(65536)
    bom = head.startswith(b"\xef\xbb\xbf")
    first_line = head.split(b"\n", 1)[0]
    terminator = "\r\n" if first_line.endswith(b"\r") else "\n"
    style = style_for(instance, obj)
    changed = 0
    with (
        path.open(encoding="utf-8-sig", newline="") as source,
        temp.open("w", encoding="utf-8", newline="") as target,
    ):
        if bom:
            target.write("\ufeff")
        reader = csv.reader(source)
        writer = csv.writer(target, lineterminator=terminator)
        header = next(reader)
        writer.writerow(header)
        position = {_norm(name): i for i, name in enumerate(header)}
        key_at = position[_norm(key)]
        for row in reader:
            if edits is not None and key_at < len(row):
                named, change = edits.apply(row[key_at])
                if named:
                    changed += 1
                    if change is None:
                        continue
                    for column, value in change.items():
                        row[position[_norm(column)]] = style.null if value is None else value
            writer.writerow(row)
        if new_rows:
            text = render(obj.frame(list(new_rows)), obj, style)
            names = {_norm(name): name for name in text.columns}
            for values in text.iter_rows(named=True):
                writer.writerow(
                    [
                        style.null if (v := values.get(names.get(_norm(h), ""))) is None else v
                        for h in header
                    ]
                )
    return changed


def _rewrite_parquet(
    path: Path,
    temp: Path,
    obj: ObjectDef,
    key: str,
    edits: RowEdits | None,
    new_rows: Sequence[dict[str, Any]],
) -> int:
    frame = pl.read_parquet(path)
    names = {_norm(c): c for c in frame.columns}
    key_column = names[_norm(key)]
    changed = 0
    if edits is not None:
        rows = frame.to_dicts()
        kept = []
        for row in rows:
            value = row[key_column]
            named, change = edits.apply(None if value is None else str(value))
            if named:
                changed += 1
                if change is None:
                    continue
                for column, new in change.items():
                    row[names[_norm(column)]] = new
            kept.append(row)
        frame = pl.DataFrame(kept, schema=frame.schema)
    if new_rows:
        typed = obj.frame(list(new_rows))
        text = render(typed, obj, style_for("", obj))
        canonical = {_norm(c): c for c in obj.names}
        columns = []
        for column, dtype in frame.schema.items():
            name = canonical.get(_norm(column))
            if name is None:
                columns.append(pl.Series(column, [None] * typed.height, dtype=dtype))
            elif typed[name].dtype == dtype:
                columns.append(typed[name].alias(column))
            elif dtype == pl.String:  # a file of text columns (written with bad rows)
                columns.append(text[name].alias(column))
            else:
                columns.append(typed[name].cast(dtype).alias(column))
        frame = pl.concat([frame, pl.DataFrame(columns)], how="vertical")
    frame.write_parquet(temp)
    return changed


# ---- names, websites, countries -------------------------------------------------------------
def website_domain(website: str | None) -> str | None:
    """The domain of a website as the platform derives it (lower case, no scheme or www)."""
    if not website:
        return None
    found = re.match(r"^([a-z]+://)?(www\.)?([^/:?#]+)", website.strip().lower())
    return found.group(3) if found else None


def _strip_legal(name: str) -> str:
    return _LEGAL_TAIL.sub("", name).strip()


def _case_like(template: str, letter: str) -> str:
    return letter.upper() if template.isupper() else letter


def typo(name: str, rng: random.Random) -> str:
    """One or two character edits in one word of four letters or more (a transposition is the
    two-character edit of one slip)."""
    words = _strip_legal(name).split(" ")
    tail = name[len(_strip_legal(name)) :]
    choices = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not choices:
        return name + "s"
    i = rng.choice(choices)
    word = list(words[i])
    edits = 1 if rng.random() < 0.6 else 2
    kinds = ["substitute", "delete", "double"] + (["transpose"] if edits == 1 else [])
    for _ in range(edits):
        kind = rng.choice(kinds)
        at = rng.randrange(1, len(word) - 1)
        if kind == "substitute":
            near = KEYBOARD.get(word[at].lower(), "e")
            word[at] = _case_like(word[at], rng.choice(near))
        elif kind == "delete":
            del word[at]
        elif kind == "double":
            word.insert(at, word[at])
        else:
            word[at], word[at + 1] = word[at + 1], word[at]
    words[i] = "".join(word)
    changed = " ".join(words) + tail
    return changed if changed != name else name + "s"


def other_legal_form(name: str, rng: random.Random) -> str:
    base = _strip_legal(name)
    form = rng.choice([f for f in LEGAL_FORMS if not name.lower().endswith(f.lower())])
    return f"{base}{rng.choice([' ', ', '])}{form}"


def case_punctuation(name: str, rng: random.Random) -> str:
    base = _strip_legal(name)
    tail = name[len(base) :]
    options = [
        name.upper(),
        name.lower(),
        base.replace(" ", "-", 1) + tail,
        base.replace(" ", "", 1) + tail,  # two words run together
        name if name.endswith(".") else name + ".",
        base.replace(" ", " & ", 1) + tail if base.count(" ") == 1 else f"{name} ",
    ]
    return rng.choice([o for o in options if o != name] or [name.upper()])


def website_spelling(domain: str, rng: random.Random) -> str:
    return rng.choice(
        [
            f"https://www.{domain}/",
            f"WWW.{domain.upper()}",
            f"http://{domain}/en-us/home",
            f"https://{domain[:1].upper()}{domain[1:]}",
            f" www.{domain} ",
            f"https://www.{domain}/?utm_source=crm",
        ]
    )


def country_spelling(country: str, rng: random.Random) -> str:
    spellings = COUNTRY_SPELLINGS.get(country)
    if spellings:
        return rng.choice(spellings)
    return rng.choice([country.upper(), country.lower(), f" {country} "])


# ---- the plan -----------------------------------------------------------------------------------
@dataclass
class Account:
    """A live account record: its 18-character id and the fields matching reads."""

    id: str
    name: str
    website: str | None
    country: str | None
    golden: str | None

    @property
    def domain(self) -> str | None:
        return website_domain(self.website)


def _accounts(root: Path, instance: str, golden: dict[tuple[str, str], str]) -> list[Account]:
    frame = read_text_frame(object_file(root, instance, "Account"), SF["Account"])
    frame = frame.filter(
        pl.col("Id").is_not_null()
        & ~pl.col("IsDeleted").fill_null("false").str.to_lowercase().is_in(["true", "1"])
    )
    out = []
    for row in frame.iter_rows(named=True):
        if len(row["Id"]) not in (15, 18):
            continue
        account_id = to18(row["Id"][:15])
        out.append(
            Account(
                account_id,
                row["Name"] or "",
                row["Website"],
                row["BillingCountry"],
                golden.get((instance, account_id)),
            )
        )
    return out


def xref_golden(root: Path) -> dict[tuple[str, str], str]:
    """(instance, 18-character id) -> golden id, of every cross-reference row."""
    frame = read_text_frame(object_file(root, "mdm", "account_xref"), XREF)
    out = {}
    for golden, instance, record in frame.select(
        "golden_id", "source_instance", "source_record_id"
    ).iter_rows():
        if golden and instance and record and len(record.strip()) in (15, 18):
            out[(instance, to18(record.strip()[:15]))] = golden
    return out


def _email_domains(root: Path) -> dict[str, set[str]]:
    """crm_2 account id -> the email domains of its live contacts."""
    frame = read_text_frame(object_file(root, "crm_2", "Contact"), SF["Contact"])
    frame = frame.filter(
        pl.col("AccountId").is_not_null()
        & pl.col("Email").is_not_null()
        & ~pl.col("IsDeleted").fill_null("false").str.to_lowercase().is_in(["true", "1"])
    ).select(
        account=pl.col("AccountId").str.slice(0, 15),
        domain=pl.col("Email").str.strip_chars().str.to_lowercase().str.split("@").list.get(-1),
    )
    out: dict[str, set[str]] = {}
    for account, domain in frame.unique().iter_rows():
        out.setdefault(to18(account), set()).add(domain)
    return out


def _background_limit(root: Path) -> int | None:
    """Golden ids of background companies are G-00000001 up to this (planted cases above)."""
    path = root / "expected.json"
    if not path.is_file():
        return None
    expected = json.loads(path.read_text())
    planted = expected.get("planted", {}).get("companies", 0)
    return expected["companies"] - planted if "companies" in expected else None


def _is_background(golden: str | None, limit: int | None) -> bool:
    if golden is None or not golden.startswith("G-") or not golden[2:].isdigit():
        return False
    return limit is None or int(golden[2:]) <= limit


def _duplicate_variations(i: int, rng: random.Random, carried_by_email: bool) -> list[str]:
    """One variation in turn (so each kind is frequent), sometimes one or two more."""
    first = VARIATIONS[i % len(VARIATIONS)]
    if first == "no_website" and not carried_by_email:
        first = "website_spelling"
    chosen = [first]
    for _ in range(rng.choices([0, 1, 2], [0.45, 0.4, 0.15])[0]):
        extra = rng.choice(VARIATIONS)
        website = {"website_spelling", "no_website"}
        if extra in chosen or (extra in website and website & set(chosen)):
            continue
        if extra == "no_website" and not carried_by_email:
            continue
        chosen.append(extra)
    return [v for v in VARIATIONS if v in chosen]  # applied in a fixed order


def _vary(account: Account, variations: list[str], rng: random.Random) -> dict[str, str | None]:
    name, website, country = account.name, account.website, account.country
    domain = account.domain or ""
    for variation in variations:
        if variation == "typo":
            name = typo(name, rng)
        elif variation == "legal_form":
            name = other_legal_form(name, rng)
        elif variation == "case_punctuation":
            name = case_punctuation(name, rng)
        elif variation == "website_spelling" and domain:
            website = website_spelling(domain, rng)
        elif variation == "no_website":
            website = None
        elif variation == "country_spelling" and country:
            country = country_spelling(country, rng)
    return {"Name": name, "Website": website, "BillingCountry": country}


@dataclass
class NewCompany:
    """A look-alike planted in crm_2: the account, its contacts and the synced Marketo rows."""

    account: dict[str, Any]
    contacts: list[dict[str, Any]]
    company: dict[str, Any]
    leads: list[dict[str, Any]]


@dataclass
class _Ids:
    """Counters of the records planted here."""

    counters: dict[str, int] = field(default_factory=dict)
    lead: int = LEAD_BASE
    company: int = COMPANY_BASE
    domain: int = DOMAIN_NUMBER_BASE

    def sf(self, obj: str) -> str:
        counter = self.counters.get(obj, LOOKALIKE_BASE)
        self.counters[obj] = counter + 1
        return sf_id(obj, POD["crm_2"], counter, SALT["crm_2"])


def _similar_name(base: str, rng: random.Random) -> tuple[str, str]:
    """Another company's name close to `base`: one letter apart (a vowel of the first word),
    or the same first word with another second word."""
    words = _strip_legal(base).split(" ")
    first = words[0]
    vowels = [i for i, ch in enumerate(first) if ch.lower() in VOWELS and i > 0]
    if len(words) > 1 and (not vowels or rng.random() < 0.5):
        others = [w for w in vocab.COMPANY_WORDS_B if w.lower() != words[1].lower()]
        return f"{first} {rng.choice(others)}", "same_first_word"
    at = rng.choice(vowels) if vowels else len(first) - 1
    swap = rng.choice([v for v in VOWELS if v != first[at].lower()])
    renamed = first[:at] + swap + first[at + 1 :]
    return " ".join([renamed, *words[1:]]), "one_letter_apart"


def _new_company(
    ids: _Ids,
    rng: random.Random,
    as_of: datetime,
    name: str,
    domain: str,
    country: str,
) -> NewCompany:
    account_id = ids.sf("Account")
    employees = int(10 ** rng.uniform(1.3, 4.5))
    touched = as_of - timedelta(days=rng.uniform(1, 300))
    website = rng.choice([domain, f"www.{domain}", f"https://www.{domain}"])
    industry = rng.choice(vocab.INDUSTRIES)
    account = {
        "Id": account_id,
        "Name": name,
        "Website": website,
        "Industry": industry,
        "AnnualRevenue": float(employees * rng.randint(80, 400) * 1000),
        "NumberOfEmployees": employees,
        "BillingCountry": country,
        "ParentId": None,
        "IsDeleted": False,
        "LastModifiedDate": touched,
    }
    company = {
        "id": ids.company,
        "externalCompanyId": account_id,
        "company": name,
        "website": website,
        "industry": industry,
        "numberOfEmployees": employees,
        "annualRevenue": account["AnnualRevenue"],
        "billingCountry": country,
    }
    ids.company += 1
    contacts, leads, locals_ = [], [], set()
    for _ in range(rng.randint(1, 3)):
        first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
        local = f"{first}.{last}".lower()
        while local in locals_:
            local += str(rng.randint(2, 9))
        locals_.add(local)
        email, title = f"{local}@{domain}", rng.choice(vocab.TITLES)
        contact_id = ids.sf("Contact")
        created = as_of - timedelta(days=rng.uniform(30, 700))
        contacts.append(
            {
                "Id": contact_id,
                "AccountId": account_id,
                "Email": email,
                "FirstName": first,
                "LastName": last,
                "Title": title,
                "HasOptedOutOfEmail": False,
                "IsDeleted": False,
                "LastModifiedDate": created + (as_of - created) / 2,
            }
        )
        leads.append(
            {
                "id": ids.lead,
                "email": email,
                "firstName": first,
                "lastName": last,
                "title": title,
                "company": name,
                "externalCompanyId": account_id,
                "sfdcContactId": contact_id,
                "sfdcAccountId": account_id,
                "unsubscribed": False,
                "marketingSuspended": False,
                "emailInvalid": False,
                "blackListed": False,
                "createdAt": created,
                "updatedAt": created + (as_of - created) / 3,
            }
        )
        ids.lead += 1
    return NewCompany(account, contacts, company, leads)


def _stem(domain: str) -> str:
    """`acme12.com` -> `acme12` (the look-alike abroad keeps it with its country's ending)."""
    return domain.split(".", 1)[0]


def key(record_id: str, instance: str) -> str:
    return f"{record_id}@{instance}"


def plant_matching_truth(
    root: str | Path, *, seed: int = 1, share: float = 0.02, minimum: int = 8
) -> dict[str, Any]:
    """Plant known duplicates and look-alikes into the environment at `root` (see the module
    docstring); returns what `matching_truth.json` holds."""
    root = Path(root)
    if (root / TRUTH_FILE).exists():
        raise FileExistsError(f"{root / TRUTH_FILE} exists: the truth is planted already")
    rng = random.Random(f"{seed}/matching-truth")
    expected_path = root / "expected.json"
    as_of_text = (
        json.loads(expected_path.read_text()).get("as_of", DEFAULT_AS_OF)
        if expected_path.is_file()
        else DEFAULT_AS_OF
    )
    as_of = parse_as_of(as_of_text)
    golden = xref_golden(root)
    limit = _background_limit(root)
    first = _accounts(root, "crm_1", golden)
    second = _accounts(root, "crm_2", golden)
    by_golden: dict[str, dict[str, list[Account]]] = {}
    for instance, accounts in (("crm_1", first), ("crm_2", second)):
        for account in accounts:
            if _is_background(account.golden, limit):
                by_golden.setdefault(account.golden, {}).setdefault(instance, []).append(account)
    both = sorted(
        g
        for g, sides in by_golden.items()
        if len(sides.get("crm_1", [])) == 1 and len(sides.get("crm_2", [])) == 1
    )
    wanted = min(len(both), max(minimum, round(share * len(both))))
    chosen = sorted(rng.sample(both, wanted))

    # Known duplicates: the MDM rows go, crm_2's copy varies.
    emails = _email_domains(root)
    duplicates, account_changes = [], {}
    for i, g in enumerate(chosen):
        one, two = by_golden[g]["crm_1"][0], by_golden[g]["crm_2"][0]
        domain = one.domain or two.domain
        carried = domain is not None and domain in emails.get(two.id, set())
        variations = _duplicate_variations(i, rng, carried)
        change = _vary(two, variations, rng)
        account_changes[two.id] = change
        duplicates.append(
            {
                "crm_1": key(one.id, "crm_1"),
                "crm_2": key(two.id, "crm_2"),
                "golden_id": g,
                "variations": variations,
                "crm_1_record": {"name": one.name, "website": one.website, "country": one.country},
                "crm_2_generated": {
                    "name": two.name,
                    "website": two.website,
                    "country": two.country,
                },
                "crm_2_record": {
                    "name": change["Name"],
                    "website": change["Website"],
                    "country": change["BillingCountry"],
                },
            }
        )

    # Look-alikes, modelled on crm_1 background companies that are not duplicates.
    taken = set(chosen)
    models = sorted(
        (a for a in first if _is_background(a.golden, limit) and a.golden not in taken),
        key=lambda a: a.id,
    )
    abroad = max(minimum // 2, round(len(chosen) / 2))
    similar = max(minimum // 2, round(len(chosen) / 4))
    picked = rng.sample(models, min(len(models), abroad + similar))
    ids, planted, lookalikes = _Ids(), [], []
    for n, model in enumerate(picked):
        stem = _stem(model.domain or f"company{n}.com")
        if n < abroad:
            home = model.country if model.country in ABROAD else "United States"
            country = rng.choice(sorted(c for c in ABROAD if c != home))
            ending, form = ABROAD[country]
            name = model.name if rng.random() < 0.5 else f"{_strip_legal(model.name)} {form}"
            domain, kind = f"{stem}{ending}", "same_name_other_country"
        else:
            country = model.country or "United States"
            name, kind = _similar_name(model.name, rng)
            ending = ABROAD.get(country, (".com",))[0] if rng.random() < 0.3 else ".com"
            words = re.sub(r"[^a-z]", "", name.lower())
            domain = f"{words}{ids.domain}{ending}"
            ids.domain += 1
        new = _new_company(ids, rng, as_of, name, domain, country)
        planted.append(new)
        lookalikes.append(
            {
                "crm_1": key(model.id, "crm_1"),
                "crm_2": key(new.account["Id"], "crm_2"),
                "kind": kind,
                "crm_1_record": {
                    "name": model.name,
                    "website": model.website,
                    "country": model.country,
                },
                "crm_2_record": {
                    "name": name,
                    "website": new.account["Website"],
                    "country": country,
                },
            }
        )

    _write(root, chosen, account_changes, planted)
    truth = {
        "generator": "benchmarks.synth.lookalikes",
        "seed": seed,
        "share": share,
        "duplicates": duplicates,
        "lookalikes": lookalikes,
        "counts": {
            "companies_in_both_crms": len(both),
            "duplicates": len(duplicates),
            "lookalikes": len(lookalikes),
            "variations": {v: sum(v in d["variations"] for d in duplicates) for v in VARIATIONS},
            "lookalike_kinds": {
                k: sum(x["kind"] == k for x in lookalikes)
                for k in ("same_name_other_country", "one_letter_apart", "same_first_word")
            },
        },
    }
    (root / TRUTH_FILE).write_text(json.dumps(truth, indent=2, default=str) + "\n", "utf-8")
    _enable_matching(root / "sources.yaml")
    return truth


def _write(
    root: Path,
    chosen: list[str],
    account_changes: dict[str, dict[str, str | None]],
    planted: list[NewCompany],
) -> None:
    def by_id(value: str) -> str:
        return to18(value[:15]) if len(value) in (15, 18) else value

    gone = set(chosen)
    xref = RowEdits({g: None for g in gone})
    removed = rewrite(object_file(root, "mdm", "account_xref"), "mdm", XREF, "golden_id", xref)
    if len(xref.seen) != len(gone):
        raise RuntimeError(f"account_xref: {len(gone) - len(xref.seen)} golden ids not found")
    edits = RowEdits(dict(account_changes), by_id)
    rewrite(
        object_file(root, "crm_2", "Account"),
        "crm_2",
        SF["Account"],
        "Id",
        edits,
        [p.account for p in planted],
    )
    synced = RowEdits(
        {
            i: {
                "company": c["Name"],
                "website": c["Website"],
                "billingCountry": c["BillingCountry"],
            }
            for i, c in account_changes.items()
        },
        by_id,
    )
    rewrite(
        object_file(root, "marketo_2", "companies"),
        "marketo_2",
        MK["companies"],
        "externalCompanyId",
        synced,
        [p.company for p in planted],
    )
    rewrite(
        object_file(root, "crm_2", "Contact"),
        "crm_2",
        SF["Contact"],
        "Id",
        None,
        [c for p in planted for c in p.contacts],
    )
    rewrite(
        object_file(root, "marketo_2", "leads"),
        "marketo_2",
        MK["leads"],
        "id",
        None,
        [lead for p in planted for lead in p.leads],
    )
    if removed < 2 * len(gone):
        raise RuntimeError(f"account_xref: only {removed} rows removed for {len(gone)} companies")


def _enable_matching(path: Path) -> None:
    """Turn account matching on, keeping the generator's file as it is written."""
    import yaml

    text = path.read_text(encoding="utf-8")
    config = yaml.safe_load(text) or {}
    if "account_matching" in config:
        config["account_matching"] = {"enabled": True}
        text = yaml.safe_dump(config, sort_keys=False)
    else:
        end = "" if text.endswith("\n") else "\n"
        text = f"{text}{end}account_matching: {{enabled: true}}\n"
    temp = path.with_name(f".{path.name}.matching.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)  # a new file: a hard-linked original is left as it is


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.synth.lookalikes",
        description="Plant known duplicates and look-alikes into a generated environment.",
    )
    parser.add_argument("env", type=Path, help="an environment written by benchmarks.synth")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--share", type=float, default=0.02, help="of companies in both CRMs")
    parser.add_argument("--minimum", type=int, default=8, help="duplicates at least")
    args = parser.parse_args(argv)
    truth = plant_matching_truth(args.env, seed=args.seed, share=args.share, minimum=args.minimum)
    print(json.dumps(truth["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
