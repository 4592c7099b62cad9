"""The objects the generator writes, their columns (contract section 3) and column types."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

S, B, TS, D, F, I = "str", "bool", "ts", "date", "float", "int"  # noqa: E741

POLARS_TYPE = {
    S: pl.String,
    B: pl.Boolean,
    TS: pl.Datetime("us", "UTC"),
    D: pl.Date,
    F: pl.Float64,
    I: pl.Int64,
}


@dataclass(frozen=True)
class ObjectDef:
    source_type: str
    name: str
    columns: tuple[tuple[str, str], ...]
    amount_columns: tuple[str, ...] = ()
    fresh_key: bool = True  # bad-row copies get a fresh key (the key is a record id)

    @property
    def key(self) -> str:
        return self.columns[0][0]

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def of_type(self, *kinds: str) -> list[str]:
        return [c for c, k in self.columns if k in kinds]

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c: POLARS_TYPE[k] for c, k in self.columns}

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)

    def frame(self, rows: list[dict]) -> pl.DataFrame:
        if not rows:
            return self.empty()
        return pl.DataFrame(
            [{c: r.get(c) for c in self.names} for r in rows], schema=self.polars_schema
        )


def _o(source_type, name, cols, amounts=(), fresh_key=True):
    return ObjectDef(source_type, name, tuple(cols), tuple(amounts), fresh_key)


SALESFORCE = [
    _o(
        "salesforce",
        "Account",
        [
            ("Id", S),
            ("Name", S),
            ("Website", S),
            ("Industry", S),
            ("AnnualRevenue", F),
            ("NumberOfEmployees", I),
            ("BillingCountry", S),
            ("ParentId", S),
            ("IsDeleted", B),
            ("LastModifiedDate", TS),
        ],
        amounts=("AnnualRevenue",),
    ),
    _o(
        "salesforce",
        "Contact",
        [
            ("Id", S),
            ("AccountId", S),
            ("Email", S),
            ("FirstName", S),
            ("LastName", S),
            ("Title", S),
            ("HasOptedOutOfEmail", B),
            ("IsDeleted", B),
            ("LastModifiedDate", TS),
        ],
    ),
    _o(
        "salesforce",
        "Opportunity",
        [
            ("Id", S),
            ("AccountId", S),
            ("Name", S),
            ("Amount", F),
            ("StageName", S),
            ("IsClosed", B),
            ("IsWon", B),
            ("CloseDate", D),
            ("CurrencyIsoCode", S),
            ("IsDeleted", B),
        ],
        amounts=("Amount",),
    ),
    _o(
        "salesforce",
        "OpportunityContactRole",
        [
            ("Id", S),
            ("OpportunityId", S),
            ("ContactId", S),
            ("Role", S),
            ("IsPrimary", B),
        ],
    ),
    _o(
        "salesforce",
        "AccountContactRelation",
        [
            ("Id", S),
            ("AccountId", S),
            ("ContactId", S),
            ("IsDirect", B),
            ("IsActive", B),
            ("Roles", S),
        ],
    ),
    _o(
        "salesforce",
        "Campaign",
        [
            ("Id", S),
            ("Name", S),
            ("Type", S),
            ("Status", S),
            ("StartDate", D),
            ("EndDate", D),
        ],
    ),
    _o(
        "salesforce",
        "CampaignMember",
        [
            ("Id", S),
            ("CampaignId", S),
            ("ContactId", S),
            ("LeadId", S),
            ("Status", S),
            ("HasResponded", B),
        ],
    ),
]

MARKETO = [
    _o(
        "marketo",
        "leads",
        [
            ("id", I),
            ("email", S),
            ("firstName", S),
            ("lastName", S),
            ("title", S),
            ("company", S),
            ("externalCompanyId", S),
            ("sfdcContactId", S),
            ("sfdcAccountId", S),
            ("unsubscribed", B),
            ("marketingSuspended", B),
            ("emailInvalid", B),
            ("blackListed", B),
            ("createdAt", TS),
            ("updatedAt", TS),
        ],
    ),
    _o(
        "marketo",
        "activities",
        [
            ("marketoGUID", I),
            ("leadId", I),
            ("activityDate", S),
            ("activityTypeId", I),
            ("campaignId", I),
            ("primaryAttributeValueId", I),
            ("primaryAttributeValue", S),
            ("attributes", S),
        ],
    ),
    _o(
        "marketo",
        "companies",
        [
            ("id", I),
            ("externalCompanyId", S),
            ("company", S),
            ("website", S),
            ("industry", S),
            ("numberOfEmployees", I),
            ("annualRevenue", F),
            ("billingCountry", S),
        ],
        amounts=("annualRevenue",),
    ),
    _o(
        "marketo",
        "opportunities",
        [
            ("marketoGUID", S),
            ("externalOpportunityId", S),
            ("externalCompanyId", S),
            ("name", S),
            ("stage", S),
            ("amount", F),
            ("closeDate", D),
            ("isClosed", B),
            ("isWon", B),
        ],
        amounts=("amount",),
    ),
    _o(
        "marketo",
        "opportunity_roles",
        [
            ("marketoGUID", S),
            ("externalOpportunityId", S),
            ("leadId", I),
            ("role", S),
            ("isPrimary", B),
        ],
    ),
    _o("marketo", "programs", [("id", I), ("name", S), ("type", S), ("channel", S)]),
    _o(
        "marketo",
        "program_members",
        [
            ("programId", I),
            ("leadId", I),
            ("status", S),
            ("reachedSuccess", B),
        ],
        fresh_key=False,
    ),
    _o("marketo", "static_lists", [("id", I), ("name", S)]),
    _o("marketo", "static_list_members", [("listId", I), ("leadId", I)], fresh_key=False),
]

MDM = [
    _o(
        "mdm",
        "account_xref",
        [
            ("golden_id", S),
            ("source_instance", S),
            ("source_record_id", S),
            ("is_active", B),
            ("updated_at", TS),
        ],
        fresh_key=False,
    ),
]

OBJECTS: dict[str, dict[str, ObjectDef]] = {
    "salesforce": {o.name: o for o in SALESFORCE},
    "marketo": {o.name: o for o in MARKETO},
    "mdm": {o.name: o for o in MDM},
}

# Bad-row kinds (`--bad-rows`), named as in expected.json.
UNPARSEABLE_BOOLEAN = "unparseable_boolean"
IMPOSSIBLE_DATE = "impossible_date"
NON_NUMERIC_AMOUNT = "non_numeric_amount"
MISSING_KEY = "missing_key"
EXTRA_COLUMN = "extra_column"


def bad_kinds(obj: ObjectDef, fmt: str) -> list[str]:
    kinds = [MISSING_KEY]
    if obj.of_type(B):
        kinds.append(UNPARSEABLE_BOOLEAN)
    if obj.of_type(D, TS) or obj.name == "activities":
        kinds.append(IMPOSSIBLE_DATE)
    if obj.amount_columns:
        kinds.append(NON_NUMERIC_AMOUNT)
    if fmt == "csv":
        kinds.append(EXTRA_COLUMN)
    return kinds
