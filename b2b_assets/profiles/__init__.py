"""Unified profiles: accounts and people with their rollups."""
