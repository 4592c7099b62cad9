"""What account matching compares: each group of account records already linked (by the MDM or
CRM sync) as one candidate, with its normalized name, website domain, its people's email
domains and its country (contract section 8).

The SQL is DuckDB's dialect in the forms every engine runs (see `engines.dialect`).
"""

from __future__ import annotations

from b2b_assets.identity.components import COMPONENTS
from b2b_assets.profiles.aggregates import sorted_set
from b2b_assets.sql import literal

# Words of a company name that say its legal form or that it is a group, not who it is.
LEGAL_SUFFIXES = (
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy",
    "ab", "as", "aps", "pty", "pte", "kk", "sl", "se", "the", "group", "holding", "holdings",
    "international", "intl",
)  # fmt: skip
# Mail providers anyone can use: a shared address there says nothing about the company.
FREE_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com",
    "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.com",
    "gmx.de", "gmx.net", "web.de", "yandex.com", "yandex.ru", "mail.ru", "zoho.com",
    "qq.com", "163.com", "126.com", "fastmail.com", "hey.com", "orange.fr", "free.fr",
    "laposte.net", "t-online.de", "libero.it", "btinternet.com", "comcast.net",
)  # fmt: skip
# Accented letters folded to their base letter (every engine has `translate`).
ACCENTED = "àáâãäåāçćčèéêëēěìíîïīñńòóôõöøōùúûüūýÿšžłß"
FOLDED = "aaaaaaaccceeeeeeiiiiinnooooooouuuuuyyszls"
# Country spellings that name the same country: ISO codes, native and other common names.
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "united states": ("us", "usa", "u.s.", "u.s.a.", "united states of america", "america"),
    "united kingdom": ("uk", "gb", "gbr", "great britain", "england", "scotland", "wales",
                       "u.k."),
    "germany": ("de", "deu", "deutschland"),
    "france": ("fr", "fra", "république française"),
    "italy": ("it", "ita", "italia"),
    "spain": ("es", "esp", "españa", "espana"),
    "portugal": ("pt", "prt"),
    "netherlands": ("nl", "nld", "the netherlands", "holland", "nederland"),
    "belgium": ("be", "bel", "belgique", "belgie", "belgië"),
    "switzerland": ("ch", "che", "schweiz", "suisse", "svizzera"),
    "austria": ("at", "aut", "österreich", "osterreich"),
    "ireland": ("ie", "irl", "eire", "éire"),
    "sweden": ("se", "swe", "sverige"),
    "norway": ("no", "nor", "norge"),
    "denmark": ("dk", "dnk", "danmark"),
    "finland": ("fi", "fin", "suomi"),
    "poland": ("pl", "pol", "polska"),
    "czech republic": ("cz", "cze", "czechia", "česko", "cesko"),
    "brazil": ("br", "bra", "brasil"),
    "mexico": ("mx", "mex", "méxico"),
    "canada": ("ca", "can"),
    "australia": ("au", "aus"),
    "new zealand": ("nz", "nzl"),
    "japan": ("jp", "jpn", "nippon"),
    "china": ("cn", "chn", "prc", "people's republic of china"),
    "india": ("in", "ind", "bharat"),
    "singapore": ("sg", "sgp"),
    "south korea": ("kr", "kor", "korea", "republic of korea"),
    "south africa": ("za", "zaf"),
    "united arab emirates": ("ae", "are", "uae"),
    "argentina": ("ar", "arg"),
    "chile": ("cl", "chl"),
    "colombia": ("co", "col"),
    "israel": ("il", "isr"),
    "turkey": ("tr", "tur", "türkiye", "turkiye"),
}  # fmt: skip
COUNTRY_ALIASES = {alias: name for name, aliases in COUNTRY_NAMES.items() for alias in aliases}


def normalized_name(column: str) -> str:
    """Lower case, accents folded, dots dropped, other punctuation as spaces, legal forms
    removed, words separated by one space."""
    words = "|".join(LEGAL_SUFFIXES)
    folded = f"translate(lower({column}), '{ACCENTED}', '{FOLDED}')"
    # Dots go first, so that `S.A.` is `sa`; any other punctuation separates words.
    undotted = f"regexp_replace({folded}, '[.]', '', 'g')"
    spaced = f"' ' || regexp_replace({undotted}, '[^a-z0-9]+', ' ', 'g') || ' '"
    # A match takes the spaces around it, so a following legal form needs another pass.
    stripped = spaced
    for _ in range(3):
        stripped = f"regexp_replace({stripped}, ' ({words}) ', ' ', 'g')"
    return f"nullif(trim(regexp_replace({stripped}, ' +', ' ', 'g')), '')"


def normalized_country(column: str) -> str:
    cases = " ".join(
        f"WHEN {literal(alias)} THEN {literal(name)}" for alias, name in COUNTRY_ALIASES.items()
    )
    folded = f"lower(trim({column}))"
    return f"nullif(CASE {folded} {cases} ELSE {folded} END, '')"


def free_mail_list() -> str:
    return "[" + ", ".join(literal(domain) for domain in FREE_MAIL_DOMAINS) + "]"


def email_domain(column: str) -> str:
    """The domain of a normalized email, NULL for a free-mail one."""
    domain = f"nullif(split_part({column}, '@', 2), '')"
    return f"CASE WHEN NOT list_contains({free_mail_list()}, {domain}) THEN {domain} END"


def candidates_sql() -> str:
    """One row per group of linked live account records (`_components` of the deterministic
    links): the group's representative key (its smallest Salesforce key, else its smallest
    key), golden ids, and the features of its preferred record (a Salesforce account first)
    with the email domains of all its people."""
    name = normalized_name("a.name")
    country = normalized_country("a.billing_country")
    return f"""
        WITH records AS (
            SELECT m.component, a.account_key, {name} AS name_norm,
                   coalesce(a.domain, min(a.domain) OVER w) AS domain,
                   coalesce({country}, min({country}) OVER w) AS country,
                   row_number() OVER (
                       PARTITION BY m.component
                       ORDER BY a.source_type <> 'salesforce', a.account_key) AS rank
            FROM {COMPONENTS} m JOIN b2b.account a ON a.account_key = m.node
            WINDOW w AS (PARTITION BY m.component)
        ),
        people AS (
            SELECT m.component, {email_domain("p.email_normalized")} AS email_domain
            FROM b2b.account_person r
            JOIN b2b.person p ON p.person_key = r.person_key AND NOT p.is_deleted
            JOIN {COMPONENTS} m ON m.node = r.account_key
            WHERE coalesce(r.is_active, TRUE)
        ),
        domains AS (
            SELECT component, {sorted_set("email_domain")} AS email_domains
            FROM people GROUP BY component
        ),
        groups AS (
            SELECT component, count(*) AS records,
                   min(golden_id) AS golden_id, max(golden_id) AS other_golden_id
            FROM {COMPONENTS} GROUP BY component
        )
        SELECT r.account_key AS unique_id, r.component, g.records, g.golden_id,
               g.other_golden_id, r.name_norm,
               nullif(split_part(r.name_norm, ' ', 1), '') AS name_token,
               nullif(trim(split_part(r.name_norm, ' ', 1) || ' '
                           || split_part(r.name_norm, ' ', 2)), '') AS name_prefix,
               r.domain, d.email_domains,
               r.country
        FROM records r JOIN groups g USING (component)
        LEFT JOIN domains d USING (component)
        WHERE r.rank = 1"""
