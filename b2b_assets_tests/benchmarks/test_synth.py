"""The synthetic environment generator (`python -m benchmarks.synth`).

The seed audience written in expected.json is checked against an independent evaluation of the
segment's meaning (contract section 4) in DuckDB SQL over the generated files; the file layout and
columns are checked against the contract's tables, restated here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from benchmarks.synth import generate

SCALE = 0.001
AS_OF = "2026-11-15T00:00:00Z"
REPO_ROOT = Path(__file__).resolve().parents[2]

# ---- the contract's objects (section 3), restated -------------------------------------------------
# object -> (columns key first, booleans, dates, timestamps, amounts/decimals, integers)
SALESFORCE = {
    "Account": (
        [
            "Id",
            "Name",
            "Website",
            "Industry",
            "AnnualRevenue",
            "NumberOfEmployees",
            "BillingCountry",
            "ParentId",
            "IsDeleted",
            "LastModifiedDate",
        ],
        ["IsDeleted"],
        [],
        ["LastModifiedDate"],
        ["AnnualRevenue"],
        ["NumberOfEmployees"],
    ),
    "Contact": (
        [
            "Id",
            "AccountId",
            "Email",
            "FirstName",
            "LastName",
            "Title",
            "HasOptedOutOfEmail",
            "IsDeleted",
            "LastModifiedDate",
        ],
        ["HasOptedOutOfEmail", "IsDeleted"],
        [],
        ["LastModifiedDate"],
        [],
        [],
    ),
    "Opportunity": (
        [
            "Id",
            "AccountId",
            "Name",
            "Amount",
            "StageName",
            "IsClosed",
            "IsWon",
            "CloseDate",
            "CurrencyIsoCode",
            "IsDeleted",
        ],
        ["IsClosed", "IsWon", "IsDeleted"],
        ["CloseDate"],
        [],
        ["Amount"],
        [],
    ),
    "OpportunityContactRole": (
        ["Id", "OpportunityId", "ContactId", "Role", "IsPrimary"],
        ["IsPrimary"],
        [],
        [],
        [],
        [],
    ),
    "AccountContactRelation": (
        ["Id", "AccountId", "ContactId", "IsDirect", "IsActive", "Roles"],
        ["IsDirect", "IsActive"],
        [],
        [],
        [],
        [],
    ),
    "Campaign": (
        ["Id", "Name", "Type", "Status", "StartDate", "EndDate"],
        [],
        ["StartDate", "EndDate"],
        [],
        [],
        [],
    ),
    "CampaignMember": (
        ["Id", "CampaignId", "ContactId", "LeadId", "Status", "HasResponded"],
        ["HasResponded"],
        [],
        [],
        [],
        [],
    ),
}
MARKETO = {
    "leads": (
        [
            "id",
            "email",
            "firstName",
            "lastName",
            "title",
            "company",
            "externalCompanyId",
            "sfdcContactId",
            "sfdcAccountId",
            "unsubscribed",
            "marketingSuspended",
            "emailInvalid",
            "blackListed",
            "createdAt",
            "updatedAt",
        ],
        ["unsubscribed", "marketingSuspended", "emailInvalid", "blackListed"],
        [],
        ["createdAt", "updatedAt"],
        [],
        ["id"],
    ),
    "activities": (
        [
            "marketoGUID",
            "leadId",
            "activityDate",
            "activityTypeId",
            "primaryAttributeValueId",
            "primaryAttributeValue",
            "attributes",
        ],
        [],
        [],
        ["activityDate"],
        [],
        ["marketoGUID", "leadId", "activityTypeId"],
    ),
    "companies": (
        [
            "id",
            "externalCompanyId",
            "company",
            "website",
            "industry",
            "numberOfEmployees",
            "annualRevenue",
            "billingCountry",
        ],
        [],
        [],
        [],
        ["annualRevenue"],
        ["id", "numberOfEmployees"],
    ),
    "opportunities": (
        [
            "marketoGUID",
            "externalOpportunityId",
            "externalCompanyId",
            "name",
            "stage",
            "amount",
            "closeDate",
            "isClosed",
            "isWon",
        ],
        ["isClosed", "isWon"],
        ["closeDate"],
        [],
        ["amount"],
        [],
    ),
    "opportunity_roles": (
        ["marketoGUID", "externalOpportunityId", "leadId", "role", "isPrimary"],
        ["isPrimary"],
        [],
        [],
        [],
        ["leadId"],
    ),
    "programs": (["id", "name", "type", "channel"], [], [], [], [], ["id"]),
    "program_members": (
        ["programId", "leadId", "status", "reachedSuccess"],
        ["reachedSuccess"],
        [],
        [],
        [],
        ["programId", "leadId"],
    ),
    "static_lists": (["id", "name"], [], [], [], [], ["id"]),
    "static_list_members": (["listId", "leadId"], [], [], [], [], ["listId", "leadId"]),
}
MDM = {
    "account_xref": (
        ["golden_id", "source_instance", "source_record_id", "is_active", "updated_at"],
        ["is_active"],
        [],
        ["updated_at"],
        [],
        [],
    ),
}
INSTANCES = {
    "crm_1": SALESFORCE,
    "crm_2": SALESFORCE,
    "marketo_1": MARKETO,
    "marketo_2": MARKETO,
    "mdm": MDM,
}
SF_REFERENCE_COLUMNS = {"Id", "AccountId", "ContactId", "OpportunityId", "CampaignId", "ParentId"}


# ---- helpers ------------------------------------------------------------------------------------
def run_synth(out: Path, *extra: str, scale: float = SCALE) -> dict:
    argv = ["--scale", str(scale), "--out", str(out), "--quiet", *extra]
    from benchmarks.synth.__main__ import main

    assert main(argv) == 0
    return json.loads((out / "expected.json").read_text())


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def object_files(env: Path, instance: str, obj: str) -> list[Path]:
    folder = env / "landing" / instance
    files = [p for p in (folder / f"{obj}.csv", folder / f"{obj}.parquet") if p.is_file()]
    if (folder / obj).is_dir():
        files += sorted(p for p in (folder / obj).iterdir() if p.suffix in (".csv", ".parquet"))
    return files


def checksum(id15: str) -> str:
    table = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    out = ""
    for chunk in range(3):
        bits = sum(
            1 << i for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if "A" <= ch <= "Z"
        )
        out += table[bits]
    return out


def raw_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


class Env:
    """The generated files as DuckDB views: `raw_<instance>_<object>` (all text, malformed CSV
    lines skipped) and `v_<instance>_<object>` (rows that parse; the rest are bad rows)."""

    def __init__(self, env: Path) -> None:
        self.env = env
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        for instance, objects in INSTANCES.items():
            for obj, spec in objects.items():
                files = object_files(env, instance, obj)
                assert files, f"{instance}/{obj} missing"
                self._views(instance, obj, spec, files)

    def _views(self, instance, obj, spec, files) -> None:
        columns, bools, dates, stamps, numbers, ints = spec
        listed = "[" + ", ".join(f"'{p}'" for p in files) + "]"
        if files[0].suffix == ".parquet":
            source = f"read_parquet({listed}, union_by_name = true)"
            select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)
        else:
            source = (
                f"read_csv({listed}, header = true, all_varchar = true, delim = ',', quote = '\"', "
                f"escape = '\"', nullstr = ['', 'null', 'NULL'], ignore_errors = true, union_by_name = true)"
            )
            select = ", ".join(f'"{c}"' for c in columns)
        name = f"{instance}_{obj}"
        self.con.execute(f"CREATE VIEW raw_{name} AS SELECT {select} FROM {source}")
        checks = [f'"{columns[0]}" IS NOT NULL']
        checks += [f'("{c}" IS NULL OR TRY_CAST("{c}" AS BOOLEAN) IS NOT NULL)' for c in bools]
        checks += [f'("{c}" IS NULL OR TRY_CAST("{c}" AS DATE) IS NOT NULL)' for c in dates]
        checks += [f'("{c}" IS NULL OR TRY_CAST("{c}" AS TIMESTAMPTZ) IS NOT NULL)' for c in stamps]
        checks += [f'("{c}" IS NULL OR TRY_CAST("{c}" AS DOUBLE) IS NOT NULL)' for c in numbers]
        checks += [f'("{c}" IS NULL OR TRY_CAST("{c}" AS BIGINT) IS NOT NULL)' for c in ints]
        self.con.execute(
            f"CREATE VIEW v_{name} AS SELECT * FROM raw_{name} WHERE {' AND '.join(checks)}"
        )

    def scalar(self, sql: str):
        return self.con.execute(sql).fetchone()[0]


def seed_audience_sql(env: Env, as_of: str, fx: dict[str, float]) -> list[str]:
    """Contract section 4, evaluated from scratch: unified accounts (MDM golden ids and CRM sync,
    transitively), closed-won revenue in USD with each opportunity counted once, people unified
    by trimmed lower-cased email, their accounts (Contact.AccountId, active
    AccountContactRelations, the Marketo lead's company), and type-1 visits whose URL (the
    attributes' "Webpage URL", else primaryAttributeValue) contains /products/new-software in
    (as_of - 30 days, as_of]."""
    con = env.con
    con.execute("CREATE OR REPLACE TABLE fx (currency VARCHAR, rate DOUBLE)")
    con.executemany("INSERT INTO fx VALUES (?, ?)", list(fx.items()))
    crms = {"marketo_1": "crm_1", "marketo_2": "crm_2"}
    con.execute("CREATE OR REPLACE MACRO k15(x) AS left(trim(x), 15)")
    con.execute("CREATE OR REPLACE MACRO tf(x) AS coalesce(TRY_CAST(x AS BOOLEAN), false)")
    con.execute(
        "CREATE OR REPLACE TABLE deleted_accounts AS "
        + " UNION ALL ".join(
            f"SELECT '{c}:' || k15(Id) AS node FROM v_{c}_Account WHERE tf(IsDeleted)"
            for c in ("crm_1", "crm_2")
        )
    )
    con.execute(
        "CREATE OR REPLACE TABLE nodes AS SELECT DISTINCT node FROM ("
        + " UNION ALL ".join(
            [
                f"SELECT '{c}:' || k15(Id) AS node FROM v_{c}_Account WHERE NOT tf(IsDeleted)"
                for c in ("crm_1", "crm_2")
            ]
            + [f"SELECT 'mc:{m}:' || id FROM v_{m}_companies" for m in crms]
            + ["SELECT 'G:' || golden_id FROM v_mdm_account_xref"]
        )
        + ")"
    )
    con.execute(
        "CREATE OR REPLACE TABLE edges AS SELECT * FROM ("
        + " UNION ALL ".join(
            [
                "SELECT 'G:' || golden_id AS a, source_instance || ':' || k15(source_record_id) AS b "
                "FROM v_mdm_account_xref WHERE coalesce(TRY_CAST(is_active AS BOOLEAN), true)"
            ]
            + [
                f"SELECT 'mc:{m}:' || id, '{c}:' || k15(externalCompanyId) FROM v_{m}_companies "
                "WHERE externalCompanyId IS NOT NULL"
                for m, c in crms.items()
            ]
        )
        + ") WHERE b IN (SELECT node FROM nodes) AND b NOT IN (SELECT node FROM deleted_accounts)"
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE component AS
        WITH RECURSIVE und(a, b) AS (
            SELECT a, b FROM edges UNION SELECT b, a FROM edges UNION SELECT node, node FROM nodes
        ),
        reach(src, dst) AS (
            SELECT a, b FROM und
            UNION
            SELECT r.src, u.b FROM reach r JOIN und u ON r.dst = u.a
        )
        SELECT src AS node, min(dst) AS comp FROM reach GROUP BY src
        """
    )
    crm_opps = " UNION ALL ".join(
        f"""SELECT '{c}' AS crm, k15(Id) AS oid, '{c}:' || k15(AccountId) AS node,
                   TRY_CAST(Amount AS DOUBLE) AS amount, coalesce(CurrencyIsoCode, 'USD') AS cur,
                   tf(IsClosed) AS closed, tf(IsWon) AS won, tf(IsDeleted) AS deleted
            FROM v_{c}_Opportunity"""
        for c in ("crm_1", "crm_2")
    )
    mk_opps = " UNION ALL ".join(
        f"""SELECT '{c}' AS crm, k15(externalOpportunityId) AS oid,
                   '{c}:' || k15(externalCompanyId) AS node, TRY_CAST(amount AS DOUBLE) AS amount,
                   'USD' AS cur, tf(isClosed) AS closed, tf(isWon) AS won, false AS deleted
            FROM v_{m}_opportunities"""
        for m, c in crms.items()
    )
    con.execute(f"CREATE OR REPLACE TABLE crm_opps AS {crm_opps}")
    con.execute(f"CREATE OR REPLACE TABLE mk_opps AS {mk_opps}")
    con.execute(
        """
        CREATE OR REPLACE TABLE revenue AS
        WITH opps AS (
            SELECT * FROM crm_opps
            UNION ALL
            SELECT * FROM mk_opps m
            WHERE NOT EXISTS (SELECT 1 FROM crm_opps c WHERE c.crm = m.crm AND c.oid = m.oid)
        )
        SELECT comp.comp, sum(o.amount * fx.rate) AS usd
        FROM opps o JOIN fx ON fx.currency = o.cur JOIN component comp ON comp.node = o.node
        WHERE o.closed AND o.won AND NOT o.deleted
        GROUP BY comp.comp
        """
    )
    links = []
    for c in ("crm_1", "crm_2"):
        links.append(
            f"""SELECT lower(trim(Email)) AS email, '{c}:' || k15(AccountId) AS node
                FROM v_{c}_Contact WHERE NOT tf(IsDeleted)"""
        )
        links.append(
            f"""SELECT lower(trim(ct.Email)), '{c}:' || k15(r.AccountId)
                FROM v_{c}_AccountContactRelation r
                JOIN v_{c}_Contact ct ON k15(ct.Id) = k15(r.ContactId) AND NOT tf(ct.IsDeleted)
                WHERE tf(r.IsActive)"""
        )
    for m, c in crms.items():
        links.append(
            f"""SELECT lower(trim(email)), '{c}:' || k15(externalCompanyId) FROM v_{m}_leads
                WHERE externalCompanyId IS NOT NULL"""
        )
    con.execute(
        "CREATE OR REPLACE TABLE person_accounts AS SELECT DISTINCT * FROM ("
        + " UNION ALL ".join(links)
        + ") WHERE email IS NOT NULL AND email <> ''"
    )
    visits = " UNION ALL ".join(
        f"""SELECT lower(trim(l.email)) AS email
            FROM v_{m}_activities a JOIN v_{m}_leads l ON TRY_CAST(l.id AS BIGINT) = TRY_CAST(a.leadId AS BIGINT)
            WHERE TRY_CAST(a.activityTypeId AS INTEGER) = 1
              AND coalesce(
                    CASE WHEN json_valid(a.attributes) THEN json_extract_string(a.attributes, '$."Webpage URL"') END,
                    a.primaryAttributeValue
                  ) LIKE '%/products/new-software%'
              AND TRY_CAST(a.activityDate AS TIMESTAMPTZ) > TIMESTAMPTZ '{as_of}' - INTERVAL 30 DAY
              AND TRY_CAST(a.activityDate AS TIMESTAMPTZ) <= TIMESTAMPTZ '{as_of}'"""
        for m in crms
    )
    rows = con.execute(
        f"""
        WITH visitors AS (SELECT DISTINCT email FROM ({visits}) WHERE email IS NOT NULL AND email <> ''),
        rich AS (
            SELECT DISTINCT pa.email
            FROM person_accounts pa
            JOIN component c ON c.node = pa.node
            JOIN revenue r ON r.comp = c.comp
            WHERE r.usd > 1000000
        )
        SELECT email FROM visitors WHERE email IN (SELECT email FROM rich) ORDER BY email
        """
    ).fetchall()
    return [r[0] for r in rows]


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "plain"
    return out, run_synth(out)


@pytest.fixture(scope="module")
def with_bad_rows(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "bad"
    return out, run_synth(out, "--bad-rows", "0.05", "--seed", "7")


# ---- tests --------------------------------------------------------------------------------------
def test_deterministic_for_a_seed(tmp_path, plain):
    out, _ = plain
    again = tmp_path / "again"
    run_synth(again)
    assert digest_tree(again) == digest_tree(out)
    other = tmp_path / "other"
    run_synth(other, "--seed", "2")
    assert digest_tree(other) != digest_tree(out)


def test_deterministic_parquet_with_bad_rows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_synth(a, "--format", "parquet", "--bad-rows", "0.02")
    run_synth(b, "--format", "parquet", "--bad-rows", "0.02")
    assert digest_tree(a) == digest_tree(b)


def test_environment_files(plain):
    out, expected = plain
    assert (out / "sources.yaml").read_text().count("name:") == 5
    import yaml

    sources = yaml.safe_load((out / "sources.yaml").read_text())["sources"]
    assert [(s["name"], s["type"], s.get("synced_crm")) for s in sources] == [
        ("crm_1", "salesforce", None),
        ("crm_2", "salesforce", None),
        ("marketo_1", "marketo", "crm_1"),
        ("marketo_2", "marketo", "crm_2"),
        ("mdm", "mdm", None),
    ]
    fx = dict(r for r in csv.reader((out / "fx_rates.csv").read_text().splitlines()[1:]))
    assert {"USD", "EUR", "GBP"} <= set(fx)
    demo = REPO_ROOT / "data" / "segments" / "new_product_upsell.yaml"
    segment = out / "segments" / "new_product_upsell.yaml"
    if demo.is_file():
        assert segment.read_bytes() == demo.read_bytes()
    assert "/products/new-software" in segment.read_text()
    for key in ("scale", "seed", "as_of", "row_counts", "seed_audience", "seed_audience_size"):
        assert key in expected
    assert expected["as_of"] == AS_OF
    assert expected["seed_audience_size"] == len(expected["seed_audience"]) > 0
    assert expected["seed_audience"] == sorted(expected["seed_audience"])


def test_files_and_columns_per_contract(plain):
    out, expected = plain
    for instance, objects in INSTANCES.items():
        for obj, (columns, *_rest) in objects.items():
            files = object_files(out, instance, obj)
            assert files, f"{instance}/{obj}"
            rows = 0
            for path in files:
                header, body = raw_csv_rows(path)
                missing = [c for c in columns if c not in header]
                assert not missing, f"{path}: missing {missing}"
                assert all(len(r) == len(header) for r in body), path
                rows += len(body)
            assert expected["row_counts"][f"{instance}/{obj}"] == rows
    counts = expected["row_counts"]
    assert counts["crm_1/Account"] + counts["crm_2/Account"] > expected["companies"]
    assert counts["marketo_1/activities"] + counts["marketo_2/activities"] >= 2000


def test_salesforce_ids_are_case_safe(plain):
    out, _ = plain
    known: set[str] = set()
    for instance in ("crm_1", "crm_2"):
        for obj in SALESFORCE:
            for path in object_files(out, instance, obj):
                header, body = raw_csv_rows(path)
                for column in SF_REFERENCE_COLUMNS & set(header):
                    i = header.index(column)
                    for row in body:
                        value = row[i]
                        if not value:
                            assert column != "Id"
                            continue
                        assert len(value) == 18 and value.isalnum(), value
                        assert value[15:] == checksum(value[:15]), value
                        known.add(value)
    short = 0
    for instance in ("marketo_1", "marketo_2"):
        for obj, columns in (
            ("leads", ("externalCompanyId", "sfdcContactId", "sfdcAccountId")),
            ("companies", ("externalCompanyId",)),
            ("opportunities", ("externalOpportunityId", "externalCompanyId")),
            ("opportunity_roles", ("externalOpportunityId",)),
        ):
            for path in object_files(out, instance, obj):
                header, body = raw_csv_rows(path)
                for column in columns:
                    i = header.index(column)
                    for row in body:
                        value = row[i]
                        if value in ("", "null"):
                            continue
                        if len(value) == 15:
                            short += 1
                            value = value + checksum(value)
                        assert value[15:] == checksum(value[:15]) and value in known, value
    header, body = raw_csv_rows(out / "landing" / "mdm" / "account_xref.csv")
    i = header.index("source_record_id")
    for row in body:
        value = row[i] if len(row[i]) == 18 else row[i] + checksum(row[i])
        assert value in known
    assert short > 0  # some Marketo external ids come in the 15-character form


def test_seed_audience_matches_independent_sql(plain):
    out, expected = plain
    env = Env(out)
    audience = seed_audience_sql(env, expected["as_of"], expected["fx_rates"])
    assert audience == expected["seed_audience"]
    # planted decoys are really outside, and the background never touches the page
    assert not set(audience) & set(expected["planted"]["decoy_emails"])
    hits = sum(
        env.scalar(
            f"SELECT count(*) FROM v_{m}_activities WHERE primaryAttributeValue LIKE '%/products/new-software%' "
            "OR attributes LIKE '%/products/new-software%'"
        )
        for m in ("marketo_1", "marketo_2")
    )
    assert 0 < hits <= expected["planted"]["page_activities"]


def test_seed_audience_other_as_of_and_parquet(tmp_path):
    out = tmp_path / "pq"
    expected = run_synth(out, "--format", "parquet", "--as-of", "2026-03-01", "--seed", "3")
    assert expected["as_of"] == "2026-03-01T00:00:00Z"
    assert list((out / "landing" / "marketo_1" / "activities").glob("part-*.parquet"))
    env = Env(out)
    assert (
        seed_audience_sql(env, expected["as_of"], expected["fx_rates"]) == expected["seed_audience"]
    )


def test_bad_rows_do_not_change_the_audience(with_bad_rows):
    out, expected = with_bad_rows
    env = Env(out)
    assert (
        seed_audience_sql(env, expected["as_of"], expected["fx_rates"]) == expected["seed_audience"]
    )


def test_bad_row_counts(with_bad_rows):
    out, expected = with_bad_rows
    env = Env(out)
    assert expected["bad_rows_total"] > 0
    for instance, objects in INSTANCES.items():
        for obj, (columns, bools, dates, stamps, numbers, _ints) in objects.items():
            label = f"{instance}/{obj}"
            declared = expected["bad_rows"][label]
            extra = 0
            for path in object_files(out, instance, obj):
                header, body = raw_csv_rows(path)
                extra += sum(1 for r in body if len(r) == len(header) + 1)
            name = f"raw_{instance}_{obj}"

            def failing(cols, cast, name=name):
                if not cols:
                    return 0
                cond = " OR ".join(
                    f'("{c}" IS NOT NULL AND TRY_CAST("{c}" AS {cast}) IS NULL)' for c in cols
                )
                return env.scalar(f"SELECT count(*) FROM {name} WHERE {cond}")

            found = {
                "missing_key": env.scalar(
                    f'SELECT count(*) FROM {name} WHERE "{columns[0]}" IS NULL'
                ),
                "unparseable_boolean": failing(bools, "BOOLEAN"),
                "impossible_date": failing(dates, "DATE") + failing(stamps, "TIMESTAMPTZ"),
                "non_numeric_amount": failing(numbers, "DOUBLE"),
                "extra_column": extra,
            }
            found = {k: v for k, v in found.items() if v}
            assert found == declared["kinds"], label
            assert sum(found.values()) == declared["total"], label
            valid = env.scalar(f"SELECT count(*) FROM v_{instance}_{obj}")
            assert valid == expected["valid_row_counts"][label], label
            assert valid + declared["total"] == expected["row_counts"][label], label


def test_cli_entry_point(tmp_path):
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.synth", "--scale", "0.0005", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "done:" in result.stdout
    assert (out / "expected.json").is_file()
    with pytest.raises(FileExistsError):
        generate(0.0005, out, quiet=True)


def test_background_lead_ids_never_take_a_planted_or_unknown_lead_id():
    """Above scale 1 there are more background leads than ids below the planted ones: they
    continue past every planted and unknown lead id (scale 10 has about 7.6M per instance)."""
    from benchmarks.synth.activities import UNKNOWN_LEAD_BASE as BACKGROUND_UNKNOWN
    from benchmarks.synth.plant import PAIRED_LEAD_BASE, PLANTED_LEAD_BASE, UNKNOWN_LEAD_BASE
    from benchmarks.synth.world import background_lead_ids

    ids = background_lead_ids(7_700_000)
    assert ids.n_unique() == ids.len() == 7_700_000
    assert ids.is_sorted()
    taken = [
        (PLANTED_LEAD_BASE, PAIRED_LEAD_BASE + 1_000_000),  # planted and paired leads
        (BACKGROUND_UNKNOWN, BACKGROUND_UNKNOWN + 10_000_000),  # activities of unknown leads
        (UNKNOWN_LEAD_BASE, UNKNOWN_LEAD_BASE + 10_000_000),
    ]
    for low, high in taken:
        assert ids.filter((ids >= low) & (ids < high)).len() == 0, (low, high)
    assert background_lead_ids(3).to_list() == [1_000_001, 1_000_002, 1_000_003]
