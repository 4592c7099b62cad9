"""Fixtures of the segment language tests: one in-memory warehouse per module, loaded per test."""

from __future__ import annotations

import pytest

from b2b_assets_tests.segments.segment_world import Warehouse, connect, people_world


@pytest.fixture(scope="module")
def duck():
    """One in-memory DuckDB with the warehouse tables for this module (rows replaced per test:
    connecting and creating tables is the slow part)."""
    con = connect()
    yield con
    con.close()


@pytest.fixture
def warehouse(duck):
    """Load a World's rows into the warehouse tables: `db = warehouse(world)`."""
    return lambda world: Warehouse(world, duck)


@pytest.fixture
def people(warehouse) -> Warehouse:
    return warehouse(people_world())
