"""SQL macros for the reading rules, created on each connection that needs them."""

from __future__ import annotations

import duckdb

_UPPER_BIT = "(CASE WHEN ascii(substr(c, {pos}, 1)) BETWEEN 65 AND 90 THEN {bit} ELSE 0 END)"
_CHUNK_INDEX = " + ".join(_UPPER_BIT.format(pos=i + 1, bit=1 << i) for i in range(5))

MACROS = (
    # Each macro tests the common case first with cheap comparisons, so that the costly string
    # functions only run on the few values that need them. Sets of constants are written as
    # `contains`/`list_contains`: a long IN list would be planned as a join per column.
    # Null: empty, `null`, `NULL` (and surrounding blanks). Only a short value starting with a
    # blank or an `n` can be one, so most values pass after two cheap tests.
    """CREATE OR REPLACE TEMP MACRO b2b_null(x) AS
       CASE WHEN strlen(x) < 9
                 AND contains('nN ' || chr(9) || chr(10) || chr(13), left(x, 1))
                 AND lower(trim(x, ' ' || chr(9) || chr(10) || chr(13))) IN ('', 'null')
            THEN NULL ELSE x END""",
    # Surrounding blanks removed (ids).
    """CREATE OR REPLACE TEMP MACRO b2b_trim(x) AS
       CASE WHEN starts_with(x, ' ') OR ends_with(x, ' ') OR contains(x, chr(9))
                 OR contains(x, chr(13)) OR contains(x, chr(10))
            THEN nullif(trim(x, ' ' || chr(9) || chr(10) || chr(13)), '') ELSE x END""",
    # Whole numbers only: "12.7" is not rounded to 13, "1,200" is not 1200.
    """CREATE OR REPLACE TEMP MACRO b2b_int(x) AS
       CASE WHEN regexp_full_match(trim(x), '[+-]?[0-9]+(\\.0*)?')
            THEN TRY_CAST(TRY_CAST(trim(x) AS DOUBLE) AS BIGINT) END""",
    # Booleans: true/false, 1/0, and yes/no, y/n, t/f in any case.
    """CREATE OR REPLACE TEMP MACRO b2b_bool(x) AS
       CASE WHEN x IN ('true', 'false') THEN x = 'true'
            WHEN list_contains(['true', '1', 'yes', 'y', 't'], lower(trim(x))) THEN TRUE
            WHEN list_contains(['false', '0', 'no', 'n', 'f'], lower(trim(x))) THEN FALSE END""",
    f"""CREATE OR REPLACE TEMP MACRO sf_chunk(c) AS
       substr('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345', 1 + {_CHUNK_INDEX}, 1)""",
    # Salesforce ids: a 15-character id and its 18-character form name one record; 15-character
    # ids get their checksum suffix, 18-character ids are kept as the API writes them.
    """CREATE OR REPLACE TEMP MACRO sf_id18(x) AS
       CASE WHEN length(x) = 15 AND regexp_full_match(x, '[A-Za-z0-9]{15}')
            THEN x || sf_chunk(substr(x, 1, 5)) || sf_chunk(substr(x, 6, 5))
                 || sf_chunk(substr(x, 11, 5))
            ELSE x END""",
    # The shape of a Salesforce id: 15 or 18 letters and digits.
    """CREATE OR REPLACE TEMP MACRO sf_id_shaped(x) AS
       length(x) IN (15, 18) AND regexp_full_match(x, '[A-Za-z0-9]+')""",
    # Emails match after trimming and lower-casing.
    """CREATE OR REPLACE TEMP MACRO normalize_email(x) AS
       CASE WHEN trim(x) = '' THEN NULL ELSE lower(trim(x)) END""",
)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the reading-rule macros on this connection."""
    for statement in MACROS:
        con.execute(statement)
