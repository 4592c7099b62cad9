"""One tiny multi-source environment that the model, identity, profile and segment tests share.

It is materialized once per session (see `scenario_run` in conftest.py). Everything it holds is
written here, with the expectations next to the data:

* Townsend: crm_1 Account A1 + crm_2 Account B1 joined by the MDM (G-TOWNSEND), and the
  marketo_1 company 3101 joined to A1 by CRM sync (its externalCompanyId is A1's 15-char id).
  Closed-won: Opportunity 1 (200,000, arrives through crm_1 and marketo_1) + 900,000 in crm_2
  = 1,100,000. A deleted 7,000,000 won deal, a lost deal, an open deal and an open deal flagged
  won are not counted. A deleted crm_1 account is in the MDM group but not in the profile.
* Umbrella (crm_2, G-UMBRELLA): 600,000 EUR * 1.08 + 500,000 USD = 1,148,000. A CHF deal has no
  fx rate: it is quarantined, never counted as USD.
* Globex: crm_1 A_GLX + the third CRM's account C1 (crm_3, only added in sources.yaml), joined
  by the MDM (G-GLOBEX): 1,000,000 + 250,000 = 1,250,000.
* The same Account id in crm_1 and crm_2 (SAME) is two records and two unified accounts (an
  inactive MDM row that would put crm_2's into Townsend does not count).
* Swiss Co (crm_1 + marketo_1 company 3300): its only deal is in CHF, which has no rate; the
  CRM row is quarantined and the deal's marketo_1 mirror must not count it as USD either.
* People: p2 is in crm_1, crm_2 (" P2@Townsend.COM ") and marketo_1 ("P2@townsend.com"): one
  person. Two crm_1 contacts without email (same name) stay two people. c1@consultco.com is a
  contact of Globex (crm_1) and of Umbrella (crm_2, " C1@ConsultCo.com"), and related to
  Townsend by an active AccountContactRelation (an inactive one to SAME does not count).
  u1@umbrella.com is unsubscribed in marketo_1; opt@globex.com has HasOptedOutOfEmail; three
  Hooli leads are marketingSuspended, emailInvalid and blackListed.
  eu@globex.com is a crm_3 contact of Globex and a marketo_1 lead of Swiss Co (two accounts).
* Events (as of 2026-11-15): p2 visits the new product page on 2026-11-02; w_in visits at
  2026-10-16T00:00:01Z, w_edge exactly at 2026-10-16T00:00:00Z (30 days before: excluded),
  w_at exactly at as_of (included), w_future one second after as_of (not seen).
"""

from __future__ import annotations

from pathlib import Path

AS_OF = "2026-11-15"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf18(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce id (independent implementation)."""
    assert len(id15) == 15
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _CHECKSUM[bits]
    return id15 + suffix


# Accounts (15-char bases)
A1, A_DEL, A_GLX, A_SAME = (
    "0015g00000J1Uin",
    "0015g00000pSeCw",
    "0015g00000jgrcA",
    "001Xx00000SAME1",
)
A_CHF = "001Xx00000SWISS"
B1, B_UMB = "0018d00000Dqn62", "0018d00000zSzMl"
C1 = "001Aa00000GLXeu"
# Contacts
P1, P2, P_NOMAIL1, P_NOMAIL2 = (
    "0035g00000FXhB9",
    "0035g000005YwVA",
    "0035g00000yeBY2",
    "0035g00000yeBY3",
)
P_OPT, P_DEL, P_C1, P_OB = (
    "0035g00000OPTOU",
    "0035g00000DELET",
    "0035g00000n8NTN",
    "0035g00000OBRIE",
)
Q2, Q_C1, Q_U1 = "0038d00000Ys7Fu", "0038d00000vhIre", "0038d000009K9eo"
R_CON = "003Aa00000EUcon"
# Opportunities
O1, O_DEL, O_GLX, O_SAME = (
    "0065g00000dR0Nx",
    "0065g00000wpK5l",
    "0065g00000ZJnmK",
    "0065g00000SAME1",
)
Q1, Q_LOST, Q_OPEN, Q_WEIRD = (
    "0068d00000TNcsI",
    "0068d00000DCZso",
    "0068d00000bOc7q",
    "0068d00000WEIRD",
)
Q_EUR, Q_USD, Q_CHF, Q_SAME = (
    "0068d00000oGmQu",
    "0068d000001Ry7H",
    "0068d00000CHFxx",
    "0068d00000SAME2",
)
R1 = "006Aa00000EUwon"
O_CHF = "0065g00000CHFsw"

INJECTION = "O'Brien'; DROP TABLE x; --"

SOURCES = [
    {"name": "crm_1", "type": "salesforce"},
    {"name": "crm_2", "type": "salesforce"},
    {"name": "marketo_1", "type": "marketo", "synced_crm": "crm_1"},
    {"name": "mdm", "type": "mdm"},
    {"name": "crm_3", "type": "salesforce"},
]


def key(record_id: str, instance: str) -> str:
    """The source key of a Salesforce record (18-char id) or of any other record."""
    if len(record_id) == 15 and instance.startswith("crm"):
        record_id = sf18(record_id)
    return f"{record_id}@{instance}"


def _account(id_, name, website=None, deleted=False, modified="2026-10-01T00:00:00Z"):
    return {
        "Id": sf18(id_),
        "Name": name,
        "Website": website,
        "Industry": "Manufacturing",
        "AnnualRevenue": 1000,
        "NumberOfEmployees": 10,
        "BillingCountry": "US",
        "ParentId": None,
        "IsDeleted": "true" if deleted else "false",
        "LastModifiedDate": modified,
    }


def _contact(id_, account, email, first="F", last="L", opted_out=False, deleted=False):
    return {
        "Id": sf18(id_),
        "AccountId": account,
        "Email": email,
        "FirstName": first,
        "LastName": last,
        "Title": "Title",
        "HasOptedOutOfEmail": "true" if opted_out else "false",
        "IsDeleted": "true" if deleted else "false",
        "LastModifiedDate": "2026-10-01T00:00:00Z",
    }


def _opp(id_, account, amount, closed, won, currency="USD", deleted=False, name=None):
    return {
        "Id": sf18(id_),
        "AccountId": account,
        "Name": name or f"Opp {id_}",
        "Amount": amount,
        "StageName": "Closed Won" if closed and won else ("Closed Lost" if closed else "Open"),
        "IsClosed": str(closed).lower(),
        "IsWon": str(won).lower(),
        "CloseDate": "2026-06-30",
        "CurrencyIsoCode": currency,
        "IsDeleted": "true" if deleted else "false",
    }


def _lead(id_, email, company=None, ext_company=None, contact=None, account=None, unsub=False):
    return {
        "id": id_,
        "email": email,
        "firstName": "F",
        "lastName": "L",
        "title": "T",
        "company": company,
        "externalCompanyId": ext_company,
        "sfdcContactId": contact,
        "sfdcAccountId": account,
        "unsubscribed": "TRUE" if unsub else "FALSE",
        "marketingSuspended": "0",
        "emailInvalid": "false",
        "blackListed": "False",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-10-01T00:00:00Z",
    }


def _visit(guid, lead, when, page="www.bodea.com/products/new-software"):
    return {
        "marketoGUID": guid,
        "leadId": lead,
        "activityDate": when,
        "activityTypeId": 1,
        "primaryAttributeValueId": 4102,
        "primaryAttributeValue": page,
        "attributes": '{"Webpage URL": "/' + page.split("/", 1)[1] + '"}',
    }


UPSELL = {
    "name": "upsell",
    "entity": "person",
    "where": {
        "all": [
            {"accounts": {"where": {"closed_won_revenue": {"gt": 1000000}}}},
            {
                "events": {
                    "where": {
                        "type": "visit_webpage",
                        "url": {"contains": "/products/new-software"},
                    },
                    "within": {"days": 30},
                    "count": {"gte": 1},
                }
            },
        ]
    },
}
WINDOW_PROBE = {
    "entity": "person",
    "where": {"events": {"where": {"type": "visit_webpage"}, "within": {"days": 30}}},
}
OBRIEN = {"entity": "person", "where": {"last_name": INJECTION}}
BIG_ACCOUNTS = {"entity": "account", "where": {"closed_won_revenue": {"gt": 1000000}}}
BROKEN = {"entity": "person", "where": {"emial": "a@b.c"}}


def build(landing) -> None:
    """Write the scenario into a `Landing` (see conftest.py)."""
    landing.sources(SOURCES)
    landing.fx({"USD": 1, "EUR": 1.08})

    landing.csv(
        "crm_1",
        "Account",
        [
            _account(A1, "Townsend", "townsend.com"),
            _account(A_DEL, "Old Townsend Duplicate", "townsend.com", deleted=True),
            _account(A_GLX, "Globex Corporation", "www.globex.com"),
            _account(A_SAME, "Same Id (crm_1)"),
            _account(A_CHF, "Swiss Co", "swiss.ch"),
        ],
    )
    landing.csv(
        "crm_1",
        "Contact",
        [
            _contact(P1, sf18(A1), "p1@townsend.com"),
            _contact(P2, sf18(A1), "p2@townsend.com", "Peter", "Olsen"),
            _contact(P_NOMAIL1, sf18(A_GLX), None, "Sam", "Rivera"),
            _contact(P_NOMAIL2, sf18(A_GLX), "", "Sam", "Rivera"),
            _contact(P_OPT, sf18(A_GLX), "opt@globex.com", opted_out=True),
            _contact(P_DEL, sf18(A1), "deleted@townsend.com", deleted=True),
            _contact(P_C1, sf18(A_GLX), "c1@consultco.com"),
            _contact(P_OB, sf18(A_GLX), "ob@globex.com", "Pat", INJECTION),
        ],
    )
    landing.csv(
        "crm_1",
        "AccountContactRelation",
        [
            {
                "Id": sf18("07k5g00000V0lyo"),
                "AccountId": sf18(A1),
                "ContactId": sf18(P_C1),
                "IsDirect": "false",
                "IsActive": "true",
                "Roles": "Consultant",
            },
            {
                "Id": sf18("07k5g00000V0lyp"),
                "AccountId": sf18(A_SAME),
                "ContactId": sf18(P_C1),
                "IsDirect": "false",
                "IsActive": "false",
                "Roles": "Former",
            },
        ],
    )
    landing.csv(
        "crm_1",
        "Opportunity",
        [
            _opp(O1, sf18(A1), 200000, True, True, name="Opportunity 1"),
            _opp(O_DEL, sf18(A1), 7000000, True, True, deleted=True),
            _opp(O_GLX, sf18(A_GLX), 1000000, True, True),
            _opp(O_SAME, sf18(A_SAME), 10, True, True),
            _opp(O_CHF, sf18(A_CHF), 1000000, True, True, currency="CHF"),
        ],
    )

    landing.csv(
        "crm_2",
        "Account",
        [
            _account(B1, "Townsend Inc.", "https://www.townsend.com"),
            _account(B_UMB, "Umbrella Corporation", "umbrella.com"),
            _account(A_SAME, "Same Id (crm_2)"),
        ],
    )
    landing.csv(
        "crm_2",
        "Contact",
        [
            _contact(Q2, B1, " P2@Townsend.COM ", "Peter", "Olsen"),  # 15-char AccountId
            _contact(Q_C1, sf18(B_UMB), " C1@ConsultCo.com"),
            _contact(Q_U1, sf18(B_UMB), "u1@umbrella.com"),
        ],
    )
    landing.csv(
        "crm_2",
        "Opportunity",
        [
            _opp(Q1, sf18(B1), 900000, True, True),
            _opp(Q_LOST, sf18(B1), 5000000, True, False),
            _opp(Q_OPEN, sf18(B1), 2000000, False, False),
            _opp(Q_WEIRD, sf18(B1), 3000000, False, True),
            _opp(Q_EUR, sf18(B_UMB), 600000, True, True, currency="EUR"),
            _opp(Q_USD, sf18(B_UMB), 500000, True, True, currency="usd"),
            _opp(Q_CHF, sf18(B_UMB), 1000000, True, True, currency="CHF"),
            _opp(Q_SAME, sf18(A_SAME), 20, True, True),
        ],
    )

    # The third CRM: only a sources.yaml entry and its landing folder.
    landing.csv("crm_3", "Account", [_account(C1, "Globex Europe", "globex.eu")])
    landing.csv("crm_3", "Contact", [_contact(R_CON, sf18(C1), "eu@globex.com")])
    landing.csv("crm_3", "Opportunity", [_opp(R1, sf18(C1), 250000, True, True)])

    landing.csv(
        "marketo_1",
        "companies",
        [
            {"id": 3101, "externalCompanyId": A1, "company": "Townsend", "website": "townsend.com"},
            {"id": 3200, "externalCompanyId": None, "company": "Hooli", "website": "hooli.com"},
            {"id": 3300, "externalCompanyId": sf18(A_CHF), "company": "Swiss Co"},
        ],
    )
    landing.csv(
        "marketo_1",
        "leads",
        [
            _lead(48211, "p1@townsend.com", "Townsend", A1, P1, sf18(A1)),
            _lead(48212, "P2@townsend.com", "Townsend", sf18(A1), sf18(P2), sf18(A1)),
            _lead(48300, "u1@umbrella.com", "Umbrella", unsub=True),
            _lead(48401, "w_in@hooli.com", "Hooli"),
            _lead(48402, "w_edge@hooli.com", "Hooli"),
            _lead(48403, "w_at@hooli.com", "Hooli"),
            _lead(48404, "w_future@hooli.com", "Hooli"),
            _lead(48500, None, "Hooli"),
            _lead(48700, "EU@globex.com", "Swiss Co", sf18(A_CHF)),  # the lead's company
            {**_lead(48601, "ms@hooli.com", "Hooli"), "marketingSuspended": "1"},
            {**_lead(48602, "ei@hooli.com", "Hooli"), "emailInvalid": "True"},
            {**_lead(48603, "bl@hooli.com", "Hooli"), "blackListed": "TRUE"},
        ],
    )
    landing.csv(
        "marketo_1",
        "opportunities",
        [
            {
                "marketoGUID": "bdd640fb-0667",
                "externalOpportunityId": O1,
                "externalCompanyId": A1,
                "name": "Opportunity 1",
                "stage": "Closed Won",
                "amount": 200000,
                "closeDate": "2026-06-30",
                "isClosed": "true",
                "isWon": "true",
            },
            # The mirror of crm_1's CHF deal (quarantined there: no CHF rate).
            {
                "marketoGUID": "chf-mirror",
                "externalOpportunityId": sf18(O_CHF),
                "externalCompanyId": sf18(A_CHF),
                "name": "Swiss deal",
                "stage": "Closed Won",
                "amount": 1000000,
                "closeDate": "2026-06-30",
                "isClosed": "true",
                "isWon": "true",
            },
        ],
    )
    landing.csv(
        "marketo_1",
        "activities",
        [
            _visit(102988, 48212, "2026-11-02T10:15:00Z"),
            _visit(103001, 48401, "2026-10-16T02:00:01+02:00"),
            _visit(103002, 48402, "2026-10-16T00:00:00Z"),
            _visit(103003, 48403, "2026-11-15 00:00:00"),
            _visit(103004, 48404, "2026-11-15T00:00:01Z"),
            _visit(103005, 99999, "2026-11-01T00:00:00Z"),  # a lead no leads row has
        ],
    )

    landing.csv(
        "mdm",
        "account_xref",
        [
            {
                "golden_id": "G-TOWNSEND",
                "source_instance": "crm_1",
                "source_record_id": A1,
                "is_active": "true",
                "updated_at": "2026-10-01T02:00:00Z",
            },
            {
                "golden_id": "G-TOWNSEND",
                "source_instance": "crm_2",
                "source_record_id": sf18(B1),
                "is_active": "true",
                "updated_at": "2026-10-01T02:00:00Z",
            },
            {
                "golden_id": "G-TOWNSEND",
                "source_instance": "crm_1",
                "source_record_id": sf18(A_DEL),
                "is_active": "true",
                "updated_at": None,
            },
            {
                "golden_id": "G-UMBRELLA",
                "source_instance": "crm_2",
                "source_record_id": sf18(B_UMB),
                "is_active": None,
                "updated_at": None,
            },
            {
                "golden_id": "G-GLOBEX",
                "source_instance": "crm_1",
                "source_record_id": sf18(A_GLX),
                "is_active": "1",
                "updated_at": None,
            },
            {
                "golden_id": "G-TOWNSEND",
                "source_instance": "crm_2",
                "source_record_id": sf18(A_SAME),
                "is_active": "false",
                "updated_at": None,
            },
            {
                "golden_id": "G-GLOBEX",
                "source_instance": "crm_3",
                "source_record_id": sf18(C1),
                "is_active": "1",
                "updated_at": None,
            },
        ],
    )

    landing.segment("upsell", UPSELL)
    landing.segment("window_probe", WINDOW_PROBE)
    landing.segment("obrien", OBRIEN)
    landing.segment("big_accounts", BIG_ACCOUNTS)
    landing.segment("broken", BROKEN)


def prepare_warehouse(warehouse: Path) -> None:
    """A table `x` that an injected `DROP TABLE x` would remove."""
    import duckdb

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE TABLE x AS SELECT 42 AS answer")
    finally:
        con.close()
