"""Deterministic, vectorized random numbers without numpy.

Every stream is named by a text key (`"<seed>/<purpose>/..."`). Bulk draws are SHAKE-256 output
of the key and a draw counter (stable across Python versions, and fast), turned into Polars series
through a zero-copy Arrow buffer; small scalar draws use a `random.Random` seeded with the key.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

_INV53 = 1.0 / (1 << 53)


class Rng:
    """A named random stream: `Rng(seed, "contacts", "crm_1")`."""

    def __init__(self, seed: int, *path: object) -> None:
        self.key = "/".join([str(seed), *(str(p) for p in path)])
        self.py = random.Random(self.key)
        self._draws = 0

    def child(self, *path: object) -> Rng:
        child = Rng.__new__(Rng)
        child.key = "/".join([self.key, *(str(p) for p in path)])
        child.py = random.Random(child.key)
        child._draws = 0
        return child

    def bytes(self, n: int) -> bytes:
        self._draws += 1
        return hashlib.shake_256(f"{self.key}#{self._draws}".encode()).digest(n)

    # ---- bulk draws -----------------------------------------------------------------------
    def u64(self, n: int) -> pl.Series:
        if n <= 0:
            return pl.Series("u64", [], dtype=pl.UInt64)
        buffer = pa.py_buffer(self.bytes(8 * n))
        return pl.Series(
            "u64", pl.from_arrow(pa.Array.from_buffers(pa.uint64(), n, [None, buffer]))
        )

    def uniform(self, n: int) -> pl.Series:
        """Floats in [0, 1)."""
        return ((self.u64(n) // 2048).cast(pl.Float64) * _INV53).alias("u")

    def integers(self, n: int, low: int, high: int) -> pl.Series:
        """Integers in [low, high)."""
        if high <= low:
            return pl.Series("i", [low] * n, dtype=pl.Int64)
        span = high - low
        values = (self.uniform(n) * span).floor().cast(pl.Int64).clip(0, span - 1) + low
        return values.alias("i")

    def bernoulli(self, n: int, p: float) -> pl.Series:
        return (self.uniform(n) < p).alias("b")

    def choice_index(self, n: int, weights: Sequence[float]) -> pl.Series:
        """Indexes into `weights` (need not sum to 1), drawn with those weights."""
        total = float(sum(weights))
        cumulative, running = [], 0.0
        for w in weights[:-1]:
            running += w / total
            cumulative.append(running)
        if not cumulative:
            return pl.Series("k", [0] * n, dtype=pl.UInt32)
        edges = pl.Series("edges", cumulative, dtype=pl.Float64)
        return edges.search_sorted(self.uniform(n), side="right").cast(pl.UInt32).alias("k")

    def choice(
        self, n: int, values: Sequence[Any], weights: Sequence[float] | None = None
    ) -> pl.Series:
        if weights is None:
            index = self.integers(n, 0, len(values)).cast(pl.UInt32)
        else:
            index = self.choice_index(n, weights)
        return pl.Series("v", list(values)).gather(index)

    def skewed_index(self, n: int, size: int, power: float) -> pl.Series:
        """Indexes in [0, size), denser near 0 (`floor(size * u**power)`)."""
        if size <= 0:
            raise ValueError("empty population")
        values = ((self.uniform(n) ** power) * size).floor().cast(pl.Int64).clip(0, size - 1)
        return values.alias("i")

    def uuid4(self, n: int) -> pl.Series:
        """Version-4 UUID strings (vectorized)."""
        if n <= 0:
            return pl.Series("uuid", [], dtype=pl.String)
        raw = pa.Array.from_buffers(pa.binary(16), n, [None, pa.py_buffer(self.bytes(16 * n))])
        variant = self.integers(n, 0, 4).cast(pl.UInt32)
        frame = pl.DataFrame({"h": pl.from_arrow(raw).cast(pl.Binary).bin.encode("hex")})
        h = pl.col("h")
        return frame.select(
            pl.concat_str(
                [
                    h.str.slice(0, 8),
                    pl.lit("-"),
                    h.str.slice(8, 4),
                    pl.lit("-4"),
                    h.str.slice(13, 3),
                    pl.lit("-"),
                    pl.lit(pl.Series(["8", "9", "a", "b"])).gather(pl.lit(variant)),
                    h.str.slice(17, 3),
                    pl.lit("-"),
                    h.str.slice(20, 12),
                ]
            ).alias("uuid")
        )["uuid"]
