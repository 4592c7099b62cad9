"""Real-looking Salesforce ids: 15-character case-sensitive body plus the 3-character
case-safe checksum (for each 5-character chunk, bit i set when character i is an uppercase
A-Z, indexed into `ABCDEFGHIJKLMNOPQRSTUVWXYZ012345`)."""

from __future__ import annotations

import polars as pl

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SPACE = 62**6
_MULT = 2_654_435_761  # odd and not a multiple of 31: a bijection on [0, 62**6)

# Key prefixes of the standard objects.
PREFIX = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "AccountContactRelation": "07k",
    "Campaign": "701",
    "CampaignMember": "00v",
}

# Counter ranges: background records count from 0, planted ones and injected bad rows from
# these offsets, so the three never collide.
PLANTED_BASE = 40_000_000
BAD_BASE = 60_000_000


def checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-character id into its 18-character form."""
    if len(id15) != 15:
        raise ValueError(f"not a 15-character id: {id15!r}")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += CHECKSUM_CHARS[bits]
    return suffix


def to18(id15: str) -> str:
    return id15 + checksum(id15)


_HALF = 62**3


def _scramble(frame: pl.DataFrame, salt: int) -> pl.Series:
    """A keyed bijection on [0, 62**6) of column `c`: an affine step, then a 4-round Feistel
    network on the two base-62**3 halves (all intermediate values stay far below 2**64). Each
    round is materialized, so the expression never grows."""
    frame = frame.select(x=(pl.col("c") * _MULT + (salt % _SPACE)) % _SPACE).select(
        left=pl.col("x") // _HALF, right=pl.col("x") % _HALF
    )
    for r in range(4):
        k1, k2, k3 = 40_503 + 7 * r + salt % 997, 23_456 + 131 * r, 9_973 * (r + 1) + salt % 10_007
        right = pl.col("right")
        f = ((right * right) % _HALF * k1 + right * k2 + k3) % _HALF
        frame = frame.select(left=right, right=(pl.col("left") + f) % _HALF)
    return frame.select(x=pl.col("left") * _HALF + pl.col("right"))["x"]


def _object_salt(obj: str, salt: int) -> int:
    """Each object type (and instance salt) numbers its records differently."""
    return (salt * 1_000_003 + int.from_bytes(PREFIX[obj].encode(), "big") * 7_919) % _SPACE


def _scramble_int(c: int, salt: int) -> int:
    """`_scramble` for one Python int (the same arithmetic)."""
    x = (c * _MULT + (salt % _SPACE)) % _SPACE
    left, right = x // _HALF, x % _HALF
    for r in range(4):
        k1, k2, k3 = 40_503 + 7 * r + salt % 997, 23_456 + 131 * r, 9_973 * (r + 1) + salt % 10_007
        f = ((right * right) % _HALF * k1 + right * k2 + k3) % _HALF
        left, right = right, (left + f) % _HALF
    return left * _HALF + right


def sf_id(obj: str, pod: str, counter: int, salt: int = 0) -> str:
    x = _scramble_int(counter, _object_salt(obj, salt))
    digits = "".join(BASE62[(x // 62**k) % 62] for k in range(5, -1, -1))
    return to18(PREFIX[obj] + pod + "0000" + digits)


def sf_ids(obj: str, pod: str, counters: pl.Series, salt: int = 0) -> pl.Series:
    """18-character ids for the given counters (vectorized): `<prefix><pod>0000<6 base62>`."""
    prefix = PREFIX[obj] + pod
    if len(prefix) != 5:
        raise ValueError("prefix + pod must be 5 characters")
    salt = _object_salt(obj, salt)
    frame = pl.DataFrame({"x": _scramble(pl.DataFrame({"c": counters.cast(pl.UInt64)}), salt)})
    digits = [((pl.col("x") // (62**k)) % 62).cast(pl.Int64) for k in range(5, -1, -1)]
    frame = frame.select(*(d.alias(f"d{i}") for i, d in enumerate(digits)))
    digits = [pl.col(f"d{i}") for i in range(6)]
    alphabet = pl.lit(pl.Series(list(BASE62)))
    check = pl.lit(pl.Series(list(CHECKSUM_CHARS)))
    upper = [((d >= 10) & (d < 36)).cast(pl.Int64) for d in digits]
    bits1 = sum((1 << i) for i, ch in enumerate(prefix) if "A" <= ch <= "Z")
    # chunk 2 is "0000" + digit 0 (position 4); chunk 3 is digits 1..5 (positions 0..4)
    bits2 = upper[0] * 16
    bits3 = upper[1] + upper[2] * 2 + upper[3] * 4 + upper[4] * 8 + upper[5] * 16
    out = frame.select(
        pl.concat_str(
            [
                pl.lit(prefix + "0000"),
                *(alphabet.gather(d) for d in digits),
                pl.lit(CHECKSUM_CHARS[bits1]),
                check.gather(bits2),
                check.gather(bits3),
            ]
        ).alias("id")
    )
    return out["id"]
