"""Planted seed-segment members and decoys, built record by record.

The seed segment (`segments/new_product_upsell.yaml`, contract section 4): a person (people unified
by trimmed, lower-cased email) qualifies when one of the person's unified accounts has closed-won
revenue strictly above 1,000,000 USD and the person has an activity of type 1 whose URL (the
attributes' "Webpage URL", else primaryAttributeValue) contains `/products/new-software` in
(as_of - 30 days, as_of].

Background data never touches that page, so the audience is exactly the planted members. Each
planted case owns its companies (nothing in the background links to them except harmless records
such as campaign memberships and non-visit activities), so a case's outcome is known by
construction. Members cover: one line above 1M, above 1M only when both business lines are summed
(MDM), above 1M only after FX conversion, membership through an active AccountContactRelation,
through a second Contact in another line (email differing in case/blanks), through the Marketo
lead's company only, and through a lead in the other Marketo instance; visit URLs and timestamps
vary (no "Webpage URL" attribute, query strings, sub-pages, window edges, UTC offsets). Decoys must
not qualify: accounts at or below 1M (exactly 1,000,000; only with lost/open deals; only when the
Marketo copy is counted twice; only with a deleted deal; JPY read as USD; only through ParentId;
only through a same-named account without an MDM link; only through an inactive
AccountContactRelation or a deleted Contact), visits 30+ days old, visits after as_of, form fills
on the page, near-miss URLs, visits by unknown lead ids, and lead ids that exist in the other
Marketo instance.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import vocab
from .ids import PLANTED_BASE, sf_id

CRM = {1: "crm_1", 2: "crm_2"}
MKTO = {1: "marketo_1", 2: "marketo_2"}
POD = {"crm_1": "5g", "crm_2": "8d"}
SALT = {"crm_1": 11, "crm_2": 29}

NEW_SOFTWARE_PAGE_ID = 4102
PLANTED_LEAD_BASE = 2_000_001
PAIRED_LEAD_BASE = 3_000_001
UNKNOWN_LEAD_BASE = 70_000_001

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


@dataclass
class Opp:
    amount: float
    status: str = "won"  # won | lost | open
    currency: str = "USD"
    deleted: bool = False
    ext15: bool = False  # the Marketo copy carries the 15-character id


@dataclass
class Company:
    idx: int
    name: str
    domain: str
    golden: str
    accounts: dict[int, str]  # line -> Account Id
    names: dict[int, str] = field(default_factory=dict)  # line -> Account Name


@dataclass
class Person:
    first: str
    last: str
    title: str
    email: str  # normalized


@dataclass
class ContactRec:
    contact_id: str
    lead_id: int | None
    instance: str | None


def golden_id(idx: int) -> str:
    return f"G-{idx + 1:08d}"


def company_domain(w1: str, w2: str, idx: int) -> str:
    return f"{w1}{w2}{idx}.com".lower()


@dataclass
class Planter:
    seed: int
    as_of: datetime
    company_base: int
    r: random.Random = field(init=False)
    rows: dict[tuple[str, str], list[dict]] = field(default_factory=lambda: defaultdict(list))
    activities: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    members: list[str] = field(default_factory=list)
    decoys: list[str] = field(default_factory=list)
    member_kinds: Counter = field(default_factory=Counter)
    decoy_kinds: Counter = field(default_factory=Counter)
    n_companies: int = 0
    n_people: int = 0
    n_visits: int = 0

    def __post_init__(self) -> None:
        self.r = random.Random(f"{self.seed}/planted")
        self._counters: dict[tuple[str, str], int] = defaultdict(lambda: PLANTED_BASE)
        self._lead_next = {"marketo_1": PLANTED_LEAD_BASE, "marketo_2": PLANTED_LEAD_BASE}
        self._pair_next = PAIRED_LEAD_BASE
        self._unknown_next = UNKNOWN_LEAD_BASE
        self._emails: set[str] = set()
        self._member_visits = 0

    # ---- primitives -----------------------------------------------------------------------
    def _sf(self, crm: str, obj: str) -> str:
        counter = self._counters[(crm, obj)]
        self._counters[(crm, obj)] = counter + 1
        return sf_id(obj, POD[crm], counter, SALT[crm])

    def _ts(self, lo_days: float, hi_days: float) -> datetime:
        return self.as_of - timedelta(seconds=int(self.r.uniform(lo_days, hi_days) * 86400))

    def rich(self) -> float:
        return float(round(self.r.uniform(1_150_000, 4_000_000), -3))

    def poor(self) -> float:
        return float(round(self.r.uniform(100_000, 950_000), -3))

    def split(self, total: float, ext15: bool = False) -> list[Opp]:
        """`total` USD as one to three won deals (parts are whole thousands)."""
        parts = self.r.choice([1, 2, 3])
        amounts = []
        rest = total
        for _ in range(parts - 1):
            piece = float(round(rest * self.r.uniform(0.2, 0.6), -3))
            amounts.append(piece)
            rest -= piece
        amounts.append(rest)
        return [Opp(a, ext15=ext15 and i == 0) for i, a in enumerate(amounts)]

    def noise(self) -> list[Opp]:
        """Deals that never count: lost and open ones, some large."""
        out = [Opp(float(round(self.r.uniform(50_000, 2_500_000), -3)), "lost")]
        if self.r.random() < 0.7:
            out.append(Opp(float(round(self.r.uniform(50_000, 3_000_000), -3)), "open"))
        return out

    def company(
        self,
        lines: list[int],
        opps: dict[int, list[Opp]] | None = None,
        *,
        name: str | None = None,
        domain: str | None = None,
        parent: dict[int, str] | None = None,
    ) -> Company:
        idx = self.company_base + self.n_companies
        self.n_companies += 1
        r = self.r
        w1, w2 = r.choice(vocab.COMPANY_WORDS_A), r.choice(vocab.COMPANY_WORDS_B)
        fixed_name = name is not None
        name = name or f"{w1} {w2}{r.choice(vocab.COMPANY_SUFFIXES)}"
        domain = domain or company_domain(w1, w2, idx)
        employees = int(10 ** r.uniform(1.3, 4.8))
        industry, country = r.choice(vocab.INDUSTRIES), r.choice(vocab.COUNTRIES)
        company = Company(idx, name, domain, golden_id(idx), {})
        for line in lines:
            crm = CRM[line]
            account_id = self._sf(crm, "Account")
            company.accounts[line] = account_id
            if line == 1 or fixed_name:
                company.names[line] = name
            else:
                company.names[line] = f"{w1} {w2}{r.choice(vocab.CRM2_SUFFIXES)}"
            self.rows[(crm, "Account")].append(
                {
                    "Id": account_id,
                    "Name": company.names[line],
                    "Website": r.choice([domain, f"www.{domain}", f"https://www.{domain}"]),
                    "Industry": industry,
                    "AnnualRevenue": float(employees * r.randint(80, 400) * 1000),
                    "NumberOfEmployees": employees,
                    "BillingCountry": country,
                    "ParentId": (parent or {}).get(line),
                    "IsDeleted": False,
                    "LastModifiedDate": self._ts(1, 300),
                    "_c": idx,
                    "_golden": company.golden,
                }
            )
            for opp in (opps or {}).get(line, []):
                self.opportunity(crm, account_id, company.names[line], opp)
        return company

    def opportunity(self, crm: str, account_id: str, account_name: str, opp: Opp) -> str:
        r = self.r
        opp_id = self._sf(crm, "Opportunity")
        if opp.status == "open":
            close = (self.as_of + timedelta(days=r.randint(5, 300))).date()
            stage = r.choice(vocab.OPEN_STAGES)
        else:
            close = (self.as_of - timedelta(days=r.randint(10, 700))).date()
            stage = "Closed Won" if opp.status == "won" else "Closed Lost"
        self.rows[(crm, "Opportunity")].append(
            {
                "Id": opp_id,
                "AccountId": account_id,
                "Name": f"{account_name} - {r.choice(vocab.PRODUCTS)} {close.year}",
                "Amount": opp.amount,
                "StageName": stage,
                "IsClosed": opp.status != "open",
                "IsWon": opp.status == "won",
                "CloseDate": close,
                "CurrencyIsoCode": opp.currency,
                "IsDeleted": opp.deleted,
                "_ext15": opp.ext15,
            }
        )
        return opp_id

    def person(self, company: Company) -> Person:
        r = self.r
        first, last = r.choice(vocab.FIRST_NAMES), r.choice(vocab.LAST_NAMES)
        local = f"{first}.{last}".lower()
        email, n = f"{local}@{company.domain}", 1
        while email in self._emails:
            n += 1
            email = f"{local}{n}@{company.domain}"
        self._emails.add(email)
        self.n_people += 1
        return Person(first, last, r.choice(vocab.TITLES), email)

    def variant(self, email: str) -> str:
        """The same address as another system may spell it: other case, surrounding blanks."""
        k = self.r.randrange(4)
        if k == 0:
            return email.upper()
        if k == 1:
            return f" {email} "
        if k == 2:
            local, _, domain = email.partition("@")
            return f"{local.title()}@{domain.capitalize()}"
        return f"  {email.upper()}"

    def maybe_variant(self, email: str) -> str:
        return self.variant(email) if self.r.random() < 0.3 else email

    def contact(
        self,
        person: Person,
        company: Company,
        line: int,
        *,
        email: str | None = None,
        lead: bool = True,
        lead_email: str | None = None,
        lead_id: int | None = None,
        deleted: bool = False,
    ) -> ContactRec:
        crm = CRM[line]
        contact_id = self._sf(crm, "Contact")
        self.rows[(crm, "Contact")].append(
            {
                "Id": contact_id,
                "AccountId": company.accounts[line],
                "Email": email if email is not None else person.email,
                "FirstName": person.first,
                "LastName": person.last,
                "Title": person.title,
                "HasOptedOutOfEmail": False,
                "IsDeleted": deleted,
                "LastModifiedDate": self._ts(1, 200),
            }
        )
        if not lead or deleted:
            return ContactRec(contact_id, None, None)
        instance = MKTO[line]
        lid = self.lead(
            instance,
            person,
            lead_email if lead_email is not None else person.email,
            company=company,
            line=line,
            contact_id=contact_id,
            lead_id=lead_id,
        )
        return ContactRec(contact_id, lid, instance)

    def lead(
        self,
        instance: str,
        person: Person,
        email: str,
        *,
        company: Company | None = None,
        line: int | None = None,
        contact_id: str | None = None,
        company_text: str | None = None,
        ext15: bool = False,
        lead_id: int | None = None,
    ) -> int:
        if lead_id is None:
            lead_id = self._lead_next[instance]
            self._lead_next[instance] += 1
        account_id = company.accounts[line] if company is not None and line is not None else None
        created = self._ts(60, 900)
        self.rows[(instance, "leads")].append(
            {
                "id": lead_id,
                "email": email,
                "firstName": person.first,
                "lastName": person.last,
                "title": person.title,
                "company": company.names[line] if company is not None and line else company_text,
                "externalCompanyId": (account_id[:15] if ext15 else account_id)
                if account_id
                else None,
                "sfdcContactId": contact_id,
                "sfdcAccountId": account_id if contact_id else None,
                "unsubscribed": False,
                "marketingSuspended": False,
                "emailInvalid": False,
                "blackListed": False,
                "createdAt": created,
                "updatedAt": created + (self.as_of - created) * self.r.uniform(0.1, 0.99),
                "_contact18": contact_id,
            }
        )
        return lead_id

    def acr(self, line: int, contact_id: str, company: Company, active: bool) -> None:
        crm = CRM[line]
        self.rows[(crm, "AccountContactRelation")].append(
            {
                "Id": self._sf(crm, "AccountContactRelation"),
                "AccountId": company.accounts[line],
                "ContactId": contact_id,
                "IsDirect": False,
                "IsActive": active,
                "Roles": self.r.choice(vocab.ACR_ROLES),
            }
        )

    def activity(
        self,
        instance: str,
        lead_id: int,
        when: datetime,
        *,
        tz_minutes: int | None = None,
        fraction: bool = False,
        type_id: int = 1,
        path: str = "/products/new-software",
        url_variant: int = 0,
    ) -> None:
        """A type-1 visit (or a type-2 form fill) on `path` at the UTC instant `when`."""
        r = self.r
        ua = r.choice(vocab.USER_AGENTS)
        ip = f"198.51.{r.randrange(256)}.{r.randrange(1, 255)}"
        ref = r.choice(vocab.REFERRERS)
        if tz_minutes is None:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + (".317Z" if fraction else "Z")
        else:
            local = when + timedelta(minutes=tz_minutes)
            sign = "+" if tz_minutes >= 0 else "-"
            hh, mm = divmod(abs(tz_minutes), 60)
            stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hh:02d}:{mm:02d}"
        query = ""
        if type_id == 2:
            pav_id, pav = 1205, "New Software Demo Request"
            attrs = (
                f'{{"Client IP Address": "{ip}", "Form Fields": "a:1:{{s:5:\\"Email\\";s:0:\\"\\";}}", '
                f'"Query Parameters": "", "Referrer URL": "https://www.bodea.com{path}", '
                f'"User Agent": "{ua}", "Webpage ID": {NEW_SOFTWARE_PAGE_ID}, "Webpage URL": "{path}"}}'
            )
        else:
            pav_id = NEW_SOFTWARE_PAGE_ID if "new-software" in path else 4199
            page = path
            if url_variant == 2:
                query = "utm_source=linkedin&utm_campaign=new-software-launch"
            if url_variant == 3:
                page = path + "/pricing"
            pav = f"www.bodea.com{page}"
            if url_variant == 4:
                pav = f"https://www.bodea.com{page}?ref=email"
            web_url = f'"Webpage URL": "{page}"'
            if url_variant == 5:
                pav = f"www.bodea.com/p/{pav_id}"  # the page by id; the URL is in the attributes
            attrs_items = [
                f'"Client IP Address": "{ip}"',
                f'"Query Parameters": "{query}"',
                f'"Referrer URL": "{ref}"',
                f'"User Agent": "{ua}"',
            ]
            if url_variant != 1:  # variant 1: no "Webpage URL", the page is primaryAttributeValue
                attrs_items.append(web_url)
            attrs = "{" + ", ".join(attrs_items) + "}"
        self.activities[instance].append(
            {
                "leadId": lead_id,
                "activityDate": stamp,
                "activityTypeId": type_id,
                "campaignId": None,
                "primaryAttributeValueId": pav_id,
                "primaryAttributeValue": pav,
                "attributes": attrs,
                "_t": when,
            }
        )
        self.n_visits += 1

    def member_visit(self, instance: str, lead_id: int) -> None:
        """An in-window visit; timestamps and URL shapes rotate over the members."""
        k = self._member_visits
        self._member_visits += 1
        a = self.as_of
        tv = k % 10
        uv = (k // 3) % 6 if k % 3 == 0 else 0
        if tv <= 5:
            self.activity(instance, lead_id, self._ts(1 / 24, 29.5), url_variant=uv)
        elif tv == 6:
            when = a if (k // 10) % 2 == 0 else a - 30 * DAY + SECOND  # both window edges
            self.activity(instance, lead_id, when, url_variant=uv)
        elif tv == 7:  # 1h before as_of, written at +02:00 (the local clock reads 1h after as_of)
            self.activity(instance, lead_id, a - HOUR, tz_minutes=120, url_variant=uv)
        elif tv == 8:  # 1h after the window opens, written at -05:00 (local clock before it)
            self.activity(instance, lead_id, a - 30 * DAY + HOUR, tz_minutes=-300, url_variant=uv)
        else:
            self.activity(instance, lead_id, self._ts(0.5, 25), fraction=True, url_variant=uv)

    def in_window(self) -> datetime:
        return self._ts(0.2, 29)

    def member(self, person: Person, kind: str) -> None:
        self.members.append(person.email)
        self.member_kinds[kind] += 1

    def decoy(self, person: Person | None, kind: str) -> None:
        if person is not None:
            self.decoys.append(person.email)
        self.decoy_kinds[kind] += 1

    # ---- members ----------------------------------------------------------------------------
    def m_rich_one_line(self, k: int) -> None:
        line = 1 + k % 2
        co = self.company([line], {line: self.split(self.rich(), ext15=k % 3 == 0) + self.noise()})
        p = self.person(co)
        rec = self.contact(p, co, line, lead_email=self.maybe_variant(p.email))
        self.member_visit(rec.instance, rec.lead_id)
        self.member(p, "rich_in_one_line")

    def m_cross_line(self, k: int) -> None:
        r = self.r
        won1 = float(round(r.uniform(420_000, 620_000), -3))
        won2 = 1_020_000.0 - won1 + float(round(r.uniform(0, 200_000), -3))
        co = self.company([1, 2], {1: self.split(won1) + self.noise(), 2: self.split(won2)})
        line = 1 + k % 2
        p = self.person(co)
        rec = self.contact(p, co, line, lead_email=self.maybe_variant(p.email))
        if k % 4 == 3:  # also a Contact in the other line, without visits there
            self.contact(p, co, 3 - line, email=self.variant(p.email))
        self.member_visit(rec.instance, rec.lead_id)
        self.member(p, "above_1m_only_across_lines")

    def m_fx(self, k: int) -> None:
        line = 1 + k % 2
        if k % 2 == 0:
            won = Opp(float(round(self.r.uniform(930_000, 990_000), -3)), currency="EUR")
        else:
            won = Opp(float(round(self.r.uniform(790_000, 900_000), -3)), currency="GBP")
        co = self.company([line], {line: [won, *self.noise()]})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.member_visit(rec.instance, rec.lead_id)
        self.member(p, "above_1m_only_in_usd")

    def m_acr(self, k: int) -> None:
        line = 1 + k % 2
        home = self.company([line], {line: [Opp(self.poor())]})
        rich = self.company([line], {line: self.split(self.rich())})
        p = self.person(home)
        rec = self.contact(p, home, line)
        self.acr(line, rec.contact_id, rich, active=True)
        self.member_visit(rec.instance, rec.lead_id)
        self.member(p, "via_active_account_contact_relation")

    def m_second_contact(self, k: int) -> None:
        line = 1 + k % 2
        home = self.company([line], {line: [Opp(self.poor())]})
        rich = self.company([3 - line], {3 - line: self.split(self.rich())})
        p = self.person(home)
        rec = self.contact(p, home, line)
        other = self.variant(p.email)
        self.contact(p, rich, 3 - line, email=other, lead_email=self.variant(p.email))
        self.member_visit(rec.instance, rec.lead_id)
        self.member(p, "via_second_contact_other_line")

    def m_lead_company(self, k: int) -> None:
        line = 1 + k % 2
        rich = self.company([line], {line: self.split(self.rich())})
        p = self.person(rich)
        lid = self.lead(
            MKTO[line], p, self.maybe_variant(p.email), company=rich, line=line, ext15=k % 2 == 0
        )
        self.member_visit(MKTO[line], lid)
        self.member(p, "via_marketo_lead_company")

    def m_other_instance(self, k: int) -> None:
        line = 1 + k % 2
        rich = self.company([line], {line: self.split(self.rich()) + self.noise()})
        p = self.person(rich)
        self.contact(p, rich, line)
        other = MKTO[3 - line]
        lid = self.lead(other, p, self.variant(p.email), company_text=rich.names[line])
        self.member_visit(other, lid)
        self.member(p, "visit_through_other_marketo_instance")

    # ---- decoys -----------------------------------------------------------------------------
    def _rich_person(self, k: int) -> tuple[Company, Person, ContactRec]:
        line = 1 + k % 2
        co = self.company([line], {line: self.split(self.rich()) + self.noise()})
        p = self.person(co)
        return co, p, self.contact(p, co, line)

    def d_poor(self, k: int) -> None:
        total = self.poor()
        if k % 2:
            a = float(round(total * self.r.uniform(0.3, 0.7), -3))
            co = self.company([1, 2], {1: [Opp(a)] + self.noise(), 2: [Opp(total - a)]})
            line = 1 + (k // 2) % 2
        else:
            line = 1 + (k // 2) % 2
            co = self.company([line], {line: self.split(total) + self.noise()})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "account_at_most_1m")

    def d_exact(self, k: int) -> None:
        co = self.company([1, 2], {1: [Opp(600_000.0)] + self.noise(), 2: [Opp(400_000.0)]})
        line = 1 + k % 2
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "account_exactly_1m")

    def d_old(self, k: int) -> None:
        a = self.as_of
        for variant in range(4):
            _, p, rec = self._rich_person(k + variant)
            if variant == 0:
                self.activity(rec.instance, rec.lead_id, a - 30 * DAY)  # the excluded edge
            elif variant == 1:
                self.activity(rec.instance, rec.lead_id, a - 30 * DAY - SECOND)
            elif variant == 2:
                self.activity(rec.instance, rec.lead_id, self._ts(31, 85))
            else:  # 1h before the window, written at +02:00 (the local clock reads inside it)
                self.activity(rec.instance, rec.lead_id, a - 30 * DAY - HOUR, tz_minutes=120)
            self.decoy(p, "visit_30_days_or_older")

    def d_future(self, k: int) -> None:
        a = self.as_of
        for variant in range(3):
            _, p, rec = self._rich_person(k + variant)
            if variant == 0:
                self.activity(rec.instance, rec.lead_id, a + SECOND)
            elif variant == 1:
                when = a + timedelta(seconds=int(self.r.uniform(3600, 5 * 86400)))
                self.activity(rec.instance, rec.lead_id, when)
            else:  # 3h after as_of, written at -05:00 (the local clock reads before as_of)
                self.activity(rec.instance, rec.lead_id, a + 3 * HOUR, tz_minutes=-300)
            self.decoy(p, "visit_after_as_of")

    def d_form(self, k: int) -> None:
        _, p, rec = self._rich_person(k)
        self.activity(rec.instance, rec.lead_id, self.in_window(), type_id=2)
        self.decoy(p, "form_fill_not_visit")

    def d_open_lost(self, k: int) -> None:
        line = 1 + k % 2
        won = float(round(self.r.uniform(200_000, 600_000), -3))
        deals = [Opp(won), Opp(1_500_000.0, "open"), Opp(900_000.0, "lost")]
        co = self.company([line], {line: deals})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "above_1m_only_with_open_or_lost")

    def d_double(self, k: int) -> None:
        line = 1 + k % 2
        won = float(round(self.r.uniform(520_000, 990_000), -3))
        co = self.company([line], {line: [Opp(won, ext15=k % 2 == 0)]})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "above_1m_only_counting_marketo_copy")

    def d_deleted_opp(self, k: int) -> None:
        line = 1 + k % 2
        won = float(round(self.r.uniform(300_000, 700_000), -3))
        co = self.company([line], {line: [Opp(won), Opp(900_000.0, deleted=True)]})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "above_1m_only_with_deleted_deal")

    def d_jpy(self, k: int) -> None:
        line = 1 + k % 2
        amount = float(round(self.r.uniform(100_000_000, 150_000_000), -5))  # <= 990k USD
        co = self.company([line], {line: [Opp(amount, currency="JPY")]})
        p = self.person(co)
        rec = self.contact(p, co, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "above_1m_only_if_jpy_read_as_usd")

    def d_url(self, k: int) -> None:
        _, p, rec = self._rich_person(k)
        paths = [
            "/products/new_software",
            "/products/new-softwar",
            "/product/new-software",
            "/products/software-new",
            "/products/new-hardware",
        ]
        self.activity(rec.instance, rec.lead_id, self.in_window(), path=paths[k % len(paths)])
        self.decoy(p, "near_miss_url")

    def d_unknown_lead(self, k: int) -> None:
        lid = self._unknown_next
        self._unknown_next += 1
        self.activity(MKTO[1 + k % 2], lid, self.in_window())
        self.decoy(None, "unknown_lead_id")

    def d_inactive_acr(self, k: int) -> None:
        line = 1 + k % 2
        home = self.company([line], {line: [Opp(self.poor())]})
        rich = self.company([line], {line: self.split(self.rich())})
        p = self.person(home)
        rec = self.contact(p, home, line)
        self.acr(line, rec.contact_id, rich, active=False)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "rich_only_via_inactive_relation")

    def d_deleted_contact(self, k: int) -> None:
        line = 1 + k % 2
        home = self.company([line], {line: [Opp(self.poor())]})
        other = 1 + (k // 2) % 2
        rich = self.company([other], {other: self.split(self.rich())})
        p = self.person(home)
        rec = self.contact(p, home, line)
        self.contact(p, rich, other, deleted=True)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "rich_only_via_deleted_contact")

    def d_parent(self, k: int) -> None:
        line = 1 + k % 2
        parent = self.company([line], {line: self.split(self.rich())})
        child = self.company(
            [line], {line: [Opp(self.poor())]}, parent={line: parent.accounts[line]}
        )
        p = self.person(child)
        rec = self.contact(p, child, line)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "rich_only_via_parent_account")

    def d_namesake(self, k: int) -> None:
        rich = self.company([2], {2: self.split(self.rich())})
        poor = self.company([1], {1: [Opp(self.poor())]}, name=rich.names[2], domain=rich.domain)
        p = self.person(poor)
        rec = self.contact(p, poor, 1)
        self.activity(rec.instance, rec.lead_id, self.in_window())
        self.decoy(p, "rich_only_via_same_name_without_mdm_link")

    def d_lead_id_collision(self, k: int) -> None:
        """Lead id L visits in one Marketo instance (poor account); in the other instance, lead
        L is a person at a rich account who never visited. Neither qualifies."""
        line = 1 + k % 2
        shared = self._pair_next
        self._pair_next += 1
        poor = self.company([line], {line: [Opp(self.poor())]})
        rich = self.company([3 - line], {3 - line: self.split(self.rich())})
        visitor = self.person(poor)
        rec = self.contact(visitor, poor, line, lead_id=shared)
        bystander = self.person(rich)
        self.contact(bystander, rich, 3 - line, lead_id=shared)
        self.activity(rec.instance, shared, self.in_window())
        self.decoy(visitor, "lead_id_collision_visitor")
        self.decoy(bystander, "lead_id_collision_bystander")


MEMBER_CASES = [
    Planter.m_rich_one_line,
    Planter.m_cross_line,
    Planter.m_cross_line,  # the case the segment is about: twice as frequent
    Planter.m_fx,
    Planter.m_acr,
    Planter.m_second_contact,
    Planter.m_lead_company,
    Planter.m_other_instance,
]
DECOY_CASES = [
    Planter.d_poor,
    Planter.d_exact,
    Planter.d_old,
    Planter.d_future,
    Planter.d_form,
    Planter.d_open_lost,
    Planter.d_double,
    Planter.d_deleted_opp,
    Planter.d_jpy,
    Planter.d_url,
    Planter.d_unknown_lead,
    Planter.d_inactive_acr,
    Planter.d_deleted_contact,
    Planter.d_parent,
    Planter.d_namesake,
    Planter.d_lead_id_collision,
]


def plant(seed: int, as_of: datetime, company_base: int, n_members: int, n_decoys: int) -> Planter:
    """Build the planted cases: `n_members` members and `n_decoys` decoy cases, interleaved."""
    planter = Planter(seed, as_of, company_base)
    order = [("m", i) for i in range(n_members)] + [("d", i) for i in range(n_decoys)]
    random.Random(f"{seed}/plant-order").shuffle(order)
    for kind, i in order:
        cases = MEMBER_CASES if kind == "m" else DECOY_CASES
        cases[i % len(cases)](planter, i // len(cases))
    return planter
