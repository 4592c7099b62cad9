-- The new_product_upsell seed audience, written by hand for DuckDB (the physical floor).
--
-- Input views (bound by floor.py, every column VARCHAR, names normalized, `inst` = instance,
-- `crm` = the Marketo instance's synced_crm): sf_account, sf_contact, sf_opportunity, sf_acr,
-- mk_leads, mk_activities, mk_companies, mk_opportunities, mdm_xref, fx, sources(name, type, crm).
-- Variable: as_of (TIMESTAMPTZ). Session TimeZone is UTC (stamps without an offset are UTC).
-- Output: the sorted normalized emails of people with an account whose closed-won revenue
-- exceeds 1,000,000 USD and a visit to /products/new-software in (as_of - 30 days, as_of].
--
-- Plan: start from the rare side. (1) one pass over the activities finds the visiting leads,
-- (2) their emails, (3) only the contact/lead/relation records of those emails, (4) their accounts,
-- (5) the connected components reachable from those accounts only, (6) closed-won revenue of those
-- components. Every object is still read once in full (that read is the floor), but deduplication,
-- joins and the graph walk only touch the candidates.
--
-- Salesforce ids: the 18-char form is the 15-char id plus a checksum of it, so two ids name the
-- same record exactly when their first 15 characters match. The script keys Salesforce records by
-- left(id, 15) || '@' || instance, which joins like the 18-char key without computing checksums
-- (only emails leave the script, so the internal key form is free).
--
-- Duplicate keys: the row with the latest LastModifiedDate / updatedAt / updated_at wins. A
-- candidate record is a key with ANY row matching the candidate condition, and the latest row of such a
-- key is then re-checked, so restricting before deduplicating is exact.

CREATE OR REPLACE TEMP MACRO nz(x) AS nullif(trim(x), '');
CREATE OR REPLACE TEMP MACRO tf(x) AS coalesce(lower(trim(x)) IN ('true', '1'), false);
CREATE OR REPLACE TEMP MACRO ts(x) AS try_cast(trim(x) AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO em(x) AS nullif(lower(trim(x)), '');
CREATE OR REPLACE TEMP MACRO sfk(x) AS nullif(left(trim(x), 15), '');
-- an id in a Marketo instance's CRM namespace (a Salesforce id only when the instance is synced)
CREATE OR REPLACE TEMP MACRO xid(x, crm) AS CASE WHEN crm IS NULL THEN nz(x) ELSE sfk(x) END;

-- ---------------------------------------------------------------- (1) visiting leads
CREATE TEMP TABLE visit AS
SELECT DISTINCT trim(leadid) || '@' || inst AS k
FROM mk_activities
WHERE activitytypeid = '1'  -- a plain comparison is pushed into the CSV scan
  AND ts(activitydate) > getvariable('as_of') - INTERVAL 30 DAY
  AND ts(activitydate) <= getvariable('as_of')
  -- a cheap necessary condition before parsing JSON (the page name is never JSON-escaped)
  AND (contains(lower(attributes), 'new-software') OR contains(lower(primaryattributevalue), 'new-software'))
  AND contains(lower(coalesce(nz(CASE WHEN json_valid(attributes)
                                      THEN json_extract_string(attributes, '$."Webpage URL"') END),
                              primaryattributevalue)), '/products/new-software');

-- ---------------------------------------------------------------- (2) their emails
CREATE TEMP TABLE lead_raw AS
SELECT nz(id) || '@' || inst AS k, inst, em(email) AS email,
       sfk(sfdcaccountid) || '@' || crm AS sak, xid(externalcompanyid, crm) AS ext, ts(updatedat) AS m
FROM mk_leads WHERE nz(id) IS NOT NULL;

CREATE TEMP TABLE target AS
SELECT DISTINCT email FROM (
    SELECT email FROM lead_raw SEMI JOIN visit USING (k)
    QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1)
WHERE email IS NOT NULL;

-- ---------------------------------------------------------------- (3) the records of those people
CREATE TEMP TABLE plead AS
SELECT * FROM lead_raw WHERE k IN (SELECT k FROM lead_raw SEMI JOIN target USING (email))
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;
DELETE FROM plead WHERE email IS NULL OR email NOT IN (SELECT email FROM target);

CREATE TEMP TABLE contact_raw AS
SELECT sfk(id) || '@' || inst AS k, em(email) AS email, sfk(accountid) || '@' || inst AS ak,
       tf(isdeleted) AS del, ts(lastmodifieddate) AS m
FROM sf_contact WHERE nz(id) IS NOT NULL;

CREATE TEMP TABLE pcontact AS
SELECT k, email, ak FROM contact_raw
WHERE k IN (SELECT k FROM contact_raw SEMI JOIN target USING (email))
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1
    AND NOT del AND email IN (SELECT email FROM target);

CREATE TEMP TABLE acr_raw AS
SELECT sfk(id) || '@' || inst AS rk, sfk(contactid) || '@' || inst AS ck,
       sfk(accountid) || '@' || inst AS ak, tf(isactive) AS active, ts(lastmodifieddate) AS m
FROM sf_acr;

CREATE TEMP TABLE pacr AS
SELECT ck, ak, active FROM acr_raw
WHERE rk IN (SELECT rk FROM acr_raw SEMI JOIN pcontact ON pcontact.k = acr_raw.ck)
QUALIFY row_number() OVER (PARTITION BY rk ORDER BY m DESC NULLS LAST) = 1;

-- ---------------------------------------------------------------- account records and links
CREATE TEMP TABLE acct AS
SELECT k, del FROM (
    SELECT sfk(id) || '@' || inst AS k, tf(isdeleted) AS del, ts(lastmodifieddate) AS m
    FROM sf_account WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;

CREATE TEMP TABLE comp AS
SELECT k, inst, ext, crmk FROM (
    SELECT nz(id) || '@' || inst AS k, inst, xid(externalcompanyid, crm) AS ext,
           sfk(externalcompanyid) || '@' || crm AS crmk, ts(updatedat) AS m
    FROM mk_companies WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;

CREATE TEMP TABLE node AS
SELECT k FROM acct WHERE NOT del
UNION ALL SELECT k FROM comp;

-- MDM rows (latest per golden_id/instance/record, active ones) join their records through a hub
-- node 'G:<golden_id>'. CRM sync joins a Marketo company to the live CRM account it names.
CREATE TEMP TABLE link AS
WITH x AS (
    SELECT * FROM (
        SELECT nz(goldenid) AS g, nz(sourceinstance) AS si, nz(sourcerecordid) AS sr, isactive,
               ts(updatedat) AS m
        FROM mdm_xref)
    QUALIFY row_number() OVER (PARTITION BY g, si, sr ORDER BY m DESC NULLS LAST) = 1),
mdm AS (
    SELECT 'G:' || g AS g,
           CASE WHEN si IN (SELECT name FROM sources WHERE type = 'salesforce')
                THEN left(sr, 15) ELSE sr END || '@' || si AS k
    FROM x WHERE g IS NOT NULL AND (nz(isactive) IS NULL OR tf(isactive))),
e AS (
    SELECT m.k AS a, m.g AS b FROM mdm m SEMI JOIN node n ON n.k = m.k
    UNION ALL
    SELECT c.k, c.crmk FROM comp c SEMI JOIN acct a ON a.k = c.crmk AND NOT a.del)
SELECT a, b FROM e UNION SELECT b, a FROM e;

-- ---------------------------------------------------------------- (4) the candidates' accounts
CREATE TEMP TABLE person_account AS
SELECT email, ak FROM pcontact
UNION ALL
SELECT c.email, r.ak FROM pacr r JOIN pcontact c ON c.k = r.ck WHERE r.active
UNION ALL
SELECT email, sak FROM plead WHERE sak IS NOT NULL
UNION ALL
SELECT l.email, p.k FROM plead l JOIN comp p ON p.inst = l.inst AND p.ext = l.ext WHERE l.sak IS NULL;

-- ---------------------------------------------------------------- (5) components reached from them
-- min-label propagation from the seed accounts, semi-naive (each round only extends the labels
-- that changed), so nodes outside the seeds' components are never visited.
CREATE TEMP TABLE cc AS
WITH RECURSIVE lbl(k, l) USING KEY (k) AS (
    SELECT DISTINCT ak, ak FROM person_account SEMI JOIN node ON node.k = person_account.ak
    UNION
    SELECT e.b, min(w.l) FROM lbl w JOIN link e ON e.a = w.k LEFT JOIN recurring.lbl r ON r.k = e.b
    GROUP BY e.b HAVING any_value(r.l) IS NULL OR min(w.l) < any_value(r.l))
SELECT k, l FROM lbl SEMI JOIN node USING (k);

-- ---------------------------------------------------------------- (6) closed-won revenue, the answer
-- Each opportunity once: a Marketo copy (externalOpportunityId of its synced CRM) yields to the
-- CRM record. A Marketo opportunity's account is the CRM account it names, else the instance's
-- company with that externalCompanyId. Amounts in USD (no currency = USD, unknown rate = dropped).
WITH crm_opp AS (
    SELECT * FROM (
        SELECT sfk(id) || '@' || inst AS ok, sfk(accountid) || '@' || inst AS ak,
               amount, coalesce(upper(nz(currencyisocode)), 'USD') AS cur,
               tf(isclosed) AND tf(iswon) AND NOT tf(isdeleted) AS won, ts(lastmodifieddate) AS m
        FROM sf_opportunity WHERE nz(id) IS NOT NULL)
    QUALIFY row_number() OVER (PARTITION BY ok ORDER BY m DESC NULLS LAST) = 1),
mk_opp AS (
    SELECT * FROM (
        SELECT coalesce(sfk(externalopportunityid) || '@' || crm, nz(marketoguid) || '@' || inst) AS ok,
               inst, xid(externalcompanyid, crm) AS ext,
               sfk(externalcompanyid) || '@' || crm AS ak, amount, 'USD' AS cur,
               tf(isclosed) AND tf(iswon) AS won, ts(updatedat) AS m
        FROM mk_opportunities)
    WHERE ok IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY ok ORDER BY m DESC NULLS LAST) = 1),
company_l AS (
    SELECT p.inst, p.ext, min(c.l) AS l FROM comp p JOIN cc c USING (k)
    WHERE p.ext IS NOT NULL GROUP BY ALL),
opp AS (
    SELECT c.l, o.amount, o.cur FROM crm_opp o JOIN cc c ON c.k = o.ak WHERE o.won
    UNION ALL
    SELECT coalesce(c.l, p.l), o.amount, o.cur
    FROM mk_opp o LEFT JOIN cc c ON c.k = o.ak LEFT JOIN company_l p USING (inst, ext)
    WHERE o.won AND o.ok NOT IN (SELECT ok FROM crm_opp)),
rich AS (
    SELECT o.l FROM opp o
    LEFT JOIN (SELECT upper(nz(currency)) AS cur, try_cast(ratetousd AS DOUBLE) AS rate FROM fx) f USING (cur)
    WHERE o.l IS NOT NULL
    GROUP BY o.l
    HAVING sum(try_cast(o.amount AS DOUBLE) * CASE WHEN o.cur = 'USD' THEN 1 ELSE f.rate END) > 1000000)
SELECT DISTINCT pa.email FROM person_account pa JOIN cc ON cc.k = pa.ak JOIN rich USING (l)
ORDER BY email;
