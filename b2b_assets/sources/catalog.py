"""The objects each source type exports, and the columns the project understands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["string", "id", "sfid", "bool", "timestamp", "date", "double", "int", "json"]


def normalize_column_name(name: str) -> str:
    """Column names match case-insensitively and ignoring `_` (and surrounding blanks)."""
    return name.strip().lstrip("\ufeff").replace("_", "").lower()


def folded_name(name: str) -> str:
    """A file, folder or source name up to case, `_`, `-` and other punctuation."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def snake_case(name: str) -> str:
    """`IsWon` -> `is_won`, `externalCompanyId` -> `external_company_id`."""
    if name.islower():
        return name
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class Column:
    """A column of an extract: its name as the tool spells it, how to parse it, whether required."""

    name: str
    kind: Kind = "string"
    required: bool = False
    default: str | None = None

    @property
    def field(self) -> str:
        return snake_case(self.name)


@dataclass(frozen=True)
class ObjectSpec:
    """An object a source type exports: a file `<name>.csv|.parquet` or a folder of parts."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    updated_at: str | None = None
    description: str = ""
    extra_rules: tuple[str, ...] = field(default_factory=tuple)
    # Files of an append-only object are never rewritten by the source: new files are loaded
    # on their own, the rows of files already loaded stay (see reader.plan_load).
    append_only: bool = False

    @property
    def table(self) -> str:
        return snake_case(self.name)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _cols(*columns: Column | str) -> tuple[Column, ...]:
    return tuple(Column(column) if isinstance(column, str) else column for column in columns)


SF = "sfid"
SALESFORCE: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "Account",
        True,
        _cols(
            Column("Id", SF, True),
            Column("Name", required=True),
            "Website",
            "Industry",
            Column("AnnualRevenue", "double"),
            Column("NumberOfEmployees", "int"),
            "BillingCountry",
            Column("ParentId", SF),
            Column("IsDeleted", "bool", default="false"),
            Column("LastModifiedDate", "timestamp"),
        ),
        key=("Id",),
        updated_at="LastModifiedDate",
        description="Salesforce accounts: one row per Account record.",
    ),
    ObjectSpec(
        "Contact",
        True,
        _cols(
            Column("Id", SF, True),
            Column("AccountId", SF, True),
            Column("Email", required=True),
            "FirstName",
            "LastName",
            "Title",
            Column("HasOptedOutOfEmail", "bool", default="false"),
            Column("IsDeleted", "bool", default="false"),
            Column("LastModifiedDate", "timestamp"),
        ),
        key=("Id",),
        updated_at="LastModifiedDate",
        description="Salesforce contacts: one row per Contact record.",
    ),
    ObjectSpec(
        "Opportunity",
        False,
        _cols(
            Column("Id", SF, True),
            Column("AccountId", SF, True),
            "Name",
            Column("Amount", "double", True),
            "StageName",
            Column("IsClosed", "bool", True),
            Column("IsWon", "bool", True),
            Column("CloseDate", "date"),
            "CurrencyIsoCode",
            Column("IsDeleted", "bool", default="false"),
            Column("LastModifiedDate", "timestamp"),
        ),
        key=("Id",),
        updated_at="LastModifiedDate",
        extra_rules=("currency",),
        description="Salesforce opportunities: one row per Opportunity record.",
    ),
    ObjectSpec(
        "OpportunityContactRole",
        False,
        _cols(
            Column("Id", SF, True),
            Column("OpportunityId", SF, True),
            Column("ContactId", SF, True),
            "Role",
            Column("IsPrimary", "bool", default="false"),
        ),
        key=("Id",),
        description="Salesforce opportunity contact roles: a contact's role on an opportunity.",
    ),
    ObjectSpec(
        "AccountContactRelation",
        False,
        _cols(
            Column("Id", SF, True),
            Column("AccountId", SF, True),
            Column("ContactId", SF, True),
            Column("IsDirect", "bool", default="false"),
            Column("IsActive", "bool", default="true"),
            "Roles",
        ),
        key=("Id",),
        description="Salesforce account contact relations: a contact related to an account.",
    ),
    ObjectSpec(
        "Campaign",
        False,
        _cols(
            Column("Id", SF, True),
            "Name",
            "Type",
            "Status",
            Column("StartDate", "date"),
            Column("EndDate", "date"),
        ),
        key=("Id",),
        description="Salesforce campaigns: one row per Campaign record.",
    ),
    ObjectSpec(
        "CampaignMember",
        False,
        _cols(
            Column("Id", SF, True),
            Column("CampaignId", SF, True),
            Column("ContactId", SF),
            Column("LeadId", SF),
            "Status",
            Column("HasResponded", "bool", default="false"),
        ),
        key=("Id",),
        description="Salesforce campaign members: a contact or lead in a campaign.",
    ),
)

MARKETO: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "leads",
        True,
        _cols(
            Column("id", "id", True),
            Column("email", required=True),
            "firstName",
            "lastName",
            "title",
            "company",
            Column("externalCompanyId", SF),
            Column("sfdcContactId", SF),
            Column("sfdcAccountId", SF),
            Column("unsubscribed", "bool", default="false"),
            Column("marketingSuspended", "bool", default="false"),
            Column("emailInvalid", "bool", default="false"),
            Column("blackListed", "bool", default="false"),
            Column("createdAt", "timestamp"),
            Column("updatedAt", "timestamp"),
        ),
        key=("id",),
        updated_at="updatedAt",
        description="Marketo leads: one row per lead.",
    ),
    ObjectSpec(
        "activities",
        False,
        _cols(
            Column("marketoGUID", "id", True),
            Column("leadId", "id", True),
            Column("activityDate", "timestamp", True),
            Column("activityTypeId", "int", True),
            "primaryAttributeValueId",
            "primaryAttributeValue",
            Column("attributes", "json"),
        ),
        key=("marketoGUID",),
        description="Marketo activities: one row per activity of a lead.",
        append_only=True,
    ),
    ObjectSpec(
        "companies",
        False,
        _cols(
            Column("id", "id", True),
            Column("externalCompanyId", SF),
            "company",
            "website",
            "industry",
            Column("numberOfEmployees", "int"),
            Column("annualRevenue", "double"),
            "billingCountry",
        ),
        key=("id",),
        description="Marketo companies: one row per company.",
    ),
    ObjectSpec(
        "opportunities",
        False,
        _cols(
            Column("marketoGUID", "id", True),
            Column("externalOpportunityId", SF),
            Column("externalCompanyId", SF),
            "name",
            "stage",
            Column("amount", "double"),
            Column("closeDate", "date"),
            Column("isClosed", "bool", default="false"),
            Column("isWon", "bool", default="false"),
        ),
        key=("marketoGUID",),
        description="Marketo opportunities: one row per opportunity.",
    ),
    ObjectSpec(
        "opportunity_roles",
        False,
        _cols(
            Column("marketoGUID", "id", True),
            Column("externalOpportunityId", SF, True),
            Column("leadId", "id", True),
            "role",
            Column("isPrimary", "bool", default="false"),
        ),
        key=("marketoGUID",),
        description="Marketo opportunity roles: a lead's role on an opportunity.",
    ),
    ObjectSpec(
        "programs",
        False,
        _cols(Column("id", "id", True), "name", "type", "channel"),
        key=("id",),
        description="Marketo programs: one row per program.",
    ),
    ObjectSpec(
        "program_members",
        False,
        _cols(
            Column("programId", "id", True),
            Column("leadId", "id", True),
            "status",
            Column("reachedSuccess", "bool", default="false"),
        ),
        key=("programId", "leadId"),
        description="Marketo program members: a lead's membership in a program.",
    ),
    ObjectSpec(
        "static_lists",
        False,
        _cols(Column("id", "id", True), "name"),
        key=("id",),
        description="Marketo static lists: one row per list.",
    ),
    ObjectSpec(
        "static_list_members",
        False,
        _cols(Column("listId", "id", True), Column("leadId", "id", True)),
        key=("listId", "leadId"),
        description="Marketo static list members: a lead on a list.",
    ),
)

MDM: tuple[ObjectSpec, ...] = (
    ObjectSpec(
        "account_xref",
        True,
        _cols(
            Column("golden_id", "id", True),
            Column("source_instance", "id", True),
            Column("source_record_id", "id", True),
            Column("is_active", "bool", default="true"),
            Column("updated_at", "timestamp"),
        ),
        key=("source_instance", "source_record_id"),
        updated_at="updated_at",
        extra_rules=("known_instance", "sf_record_ids"),
        description="MDM cross-references: one row per source record and its golden id.",
    ),
)

FX_RATES = ObjectSpec(
    "fx_rates",
    False,
    _cols(Column("currency", "id", True), Column("rate_to_usd", "double", True)),
    key=("currency",),
    extra_rules=("positive",),
    description="Exchange rates: one row per currency, its value in USD.",
)

OBJECTS_BY_TYPE: dict[str, tuple[ObjectSpec, ...]] = {
    "salesforce": SALESFORCE,
    "marketo": MARKETO,
    "mdm": MDM,
}

ACTIVITY_TYPES: dict[int, str] = {
    1: "visit_webpage",
    2: "fill_out_form",
    3: "click_link",
    6: "send_email",
    7: "email_delivered",
    8: "email_bounced",
    9: "unsubscribe_email",
    10: "open_email",
    11: "click_email",
    12: "new_lead",
    13: "change_data_value",
    24: "add_to_list",
    25: "remove_from_list",
    46: "interesting_moment",
}
