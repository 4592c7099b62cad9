-- The new_product_upsell seed audience, written by hand for DuckDB (the physical floor).
--
-- Input views (bound by floor.py, every column VARCHAR, names normalized, `inst` = instance,
-- `crm` = the Marketo instance's synced_crm): sf_account, sf_contact, sf_opportunity, sf_acr,
-- mk_leads, mk_activities (already pruned to activityTypeId 1), mk_companies, mk_opportunities,
-- mdm_xref, fx, sources(name, type, crm).  Variable: as_of (TIMESTAMPTZ).  Session TimeZone is UTC (naive stamps are UTC).
-- Output: the sorted normalized emails of people with an account whose closed-won revenue
-- exceeds 1,000,000 USD and a visit to /products/new-software in (as_of - 30 days, as_of].

CREATE OR REPLACE TEMP MACRO nz(x) AS nullif(trim(x), '');
CREATE OR REPLACE TEMP MACRO tf(x) AS coalesce(lower(trim(x)) IN ('true', '1'), false);
CREATE OR REPLACE TEMP MACRO ts(x) AS try_cast(trim(x) AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO em(x) AS nullif(lower(trim(x)), '');
-- Salesforce 15 -> 18: each 5-char chunk gives a 5-bit mask of its uppercase letters.
CREATE OR REPLACE TEMP MACRO ub(s, p) AS CASE WHEN substr(s, p, 1) BETWEEN 'A' AND 'Z' THEN 1 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO ck(s, o) AS substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345',
    1 + ub(s, o + 1) + 2 * ub(s, o + 2) + 4 * ub(s, o + 3) + 8 * ub(s, o + 4) + 16 * ub(s, o + 5), 1);
CREATE OR REPLACE TEMP MACRO sf18(x) AS CASE WHEN length(trim(x)) = 15
    THEN trim(x) || ck(trim(x), 0) || ck(trim(x), 5) || ck(trim(x), 10) ELSE nz(x) END;
-- an id in a Marketo instance's CRM namespace (only normalized when it is a synced CRM id)
CREATE OR REPLACE TEMP MACRO xid(x, crm) AS CASE WHEN crm IS NULL THEN nz(x) ELSE sf18(x) END;

-- ---------------------------------------------------------------- account records (graph nodes)
CREATE TEMP TABLE acct AS
SELECT k, del FROM (
    SELECT sf18(id) || '@' || inst AS k, tf(isdeleted) AS del, ts(lastmodifieddate) AS m
    FROM sf_account WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;

CREATE TEMP TABLE comp AS
SELECT k, inst, ext, crmk FROM (
    SELECT nz(id) || '@' || inst AS k, inst, xid(externalcompanyid, crm) AS ext,
           sf18(externalcompanyid) || '@' || crm AS crmk, ts(updatedat) AS m
    FROM mk_companies WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;

CREATE TEMP TABLE node AS
SELECT k FROM acct WHERE NOT del
UNION ALL SELECT k FROM comp;

-- ---------------------------------------------------------------- links -> connected components
CREATE TEMP TABLE link AS
WITH x AS (
    SELECT goldenid, sourceinstance, sourcerecordid, isactive FROM mdm_xref
    QUALIFY row_number() OVER (PARTITION BY nz(goldenid), nz(sourceinstance), nz(sourcerecordid)
                               ORDER BY ts(updatedat) DESC NULLS LAST) = 1),
mdm AS (
    SELECT 'G:' || nz(goldenid) AS g,
           CASE WHEN nz(sourceinstance) IN (SELECT name FROM sources WHERE type = 'salesforce')
                THEN sf18(sourcerecordid) ELSE nz(sourcerecordid) END || '@' || trim(sourceinstance) AS k
    FROM x WHERE nz(goldenid) IS NOT NULL AND (nz(isactive) IS NULL OR tf(isactive))),
e AS (
    SELECT m.k AS a, m.g AS b FROM mdm m SEMI JOIN node n ON n.k = m.k
    UNION ALL
    SELECT c.k, c.crmk FROM comp c SEMI JOIN acct a ON a.k = c.crmk AND NOT a.del)
SELECT a, b FROM e UNION SELECT b, a FROM e;

CREATE TEMP TABLE cc AS
WITH RECURSIVE lbl(k, l) USING KEY (k) AS (
    SELECT k, k FROM (SELECT k FROM node UNION SELECT a FROM link)
    UNION
    SELECT e.b, min(w.l) FROM lbl w JOIN link e ON e.a = w.k JOIN recurring.lbl r ON r.k = e.b
    GROUP BY e.b HAVING min(w.l) < any_value(r.l))
SELECT k, l FROM lbl SEMI JOIN node USING (k);

-- ---------------------------------------------------------------- closed-won revenue per component
CREATE TEMP TABLE rich AS
WITH crm_opp AS (
    SELECT * FROM (
        SELECT sf18(id) || '@' || inst AS ok, sf18(accountid) || '@' || inst AS ak,
               amount, coalesce(upper(nz(currencyisocode)), 'USD') AS cur,
               tf(isclosed) AND tf(iswon) AND NOT tf(isdeleted) AS won, ts(lastmodifieddate) AS m
        FROM sf_opportunity WHERE nz(id) IS NOT NULL)
    QUALIFY row_number() OVER (PARTITION BY ok ORDER BY m DESC NULLS LAST) = 1),
mk_opp AS (
    SELECT * FROM (
        SELECT coalesce(sf18(externalopportunityid) || '@' || crm, nz(marketoguid) || '@' || inst) AS ok,
               inst, xid(externalcompanyid, crm) AS ext,
               sf18(externalcompanyid) || '@' || crm AS ak, amount, 'USD' AS cur,
               tf(isclosed) AND tf(iswon) AS won, ts(updatedat) AS m
        FROM mk_opportunities)
    WHERE ok IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY ok ORDER BY m DESC NULLS LAST) = 1),
opp AS (
    SELECT c.l, o.amount, o.cur FROM crm_opp o JOIN cc c ON c.k = o.ak WHERE o.won
    UNION ALL
    SELECT coalesce(c.l, (SELECT min(c2.l) FROM comp p JOIN cc c2 ON c2.k = p.k
                          WHERE p.inst = o.inst AND p.ext = o.ext)), o.amount, o.cur
    FROM mk_opp o LEFT JOIN cc c ON c.k = o.ak
    WHERE o.won AND o.ok NOT IN (SELECT ok FROM crm_opp))
SELECT o.l FROM opp o
LEFT JOIN (SELECT upper(nz(currency)) AS cur, try_cast(ratetousd AS DOUBLE) AS rate FROM fx) f USING (cur)
WHERE o.l IS NOT NULL
GROUP BY o.l
HAVING sum(try_cast(o.amount AS DOUBLE) * CASE WHEN o.cur = 'USD' THEN 1 ELSE f.rate END) > 1000000;

-- ---------------------------------------------------------------- people -> accounts, events
CREATE TEMP TABLE contact AS
SELECT k, inst, email, ak FROM (
    SELECT sf18(id) || '@' || inst AS k, inst, em(email) AS email, sf18(accountid) || '@' || inst AS ak,
           tf(isdeleted) AS del, ts(lastmodifieddate) AS m
    FROM sf_contact WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1 AND NOT del;

CREATE TEMP TABLE lead AS
SELECT * FROM (
    SELECT nz(id) || '@' || inst AS k, inst, crm, em(email) AS email,
           sf18(sfdcaccountid) || '@' || crm AS sak, xid(externalcompanyid, crm) AS ext,
           ts(updatedat) AS m
    FROM mk_leads WHERE nz(id) IS NOT NULL)
QUALIFY row_number() OVER (PARTITION BY k ORDER BY m DESC NULLS LAST) = 1;

WITH person_account AS (
    SELECT email, ak FROM contact WHERE email IS NOT NULL
    UNION ALL
    SELECT c.email, sf18(r.accountid) || '@' || r.inst
    FROM (SELECT * FROM sf_acr
          QUALIFY row_number() OVER (PARTITION BY sf18(id) || '@' || inst
                                     ORDER BY ts(lastmodifieddate) DESC NULLS LAST) = 1) r
    JOIN contact c ON c.k = sf18(r.contactid) || '@' || r.inst
    WHERE tf(r.isactive) AND c.email IS NOT NULL
    UNION ALL
    SELECT email, sak FROM lead WHERE email IS NOT NULL AND sak IS NOT NULL
    UNION ALL
    SELECT l.email, p.k FROM lead l JOIN comp p ON p.inst = l.inst AND p.ext = l.ext
    WHERE l.email IS NOT NULL AND l.sak IS NULL),
at_rich AS (
    SELECT DISTINCT pa.email FROM person_account pa
    JOIN cc ON cc.k = pa.ak JOIN rich USING (l)),
visited AS (
    SELECT DISTINCT l.email
    FROM mk_activities a JOIN lead l ON l.k = trim(a.leadid) || '@' || a.inst
    WHERE try_cast(trim(a.activitytypeid) AS INTEGER) = 1
      AND ts(a.activitydate) > getvariable('as_of') - INTERVAL 30 DAY
      AND ts(a.activitydate) <= getvariable('as_of')
      AND contains(lower(coalesce(
              nz(CASE WHEN json_valid(a.attributes)
                      THEN json_extract_string(a.attributes, '$."Webpage URL"') END),
              a.primaryattributevalue)), '/products/new-software')
      AND l.email IS NOT NULL)
SELECT email FROM at_rich SEMI JOIN visited USING (email) ORDER BY email;
