"""b2b_assets: a B2B customer data platform as Dagster assets on DuckDB."""
