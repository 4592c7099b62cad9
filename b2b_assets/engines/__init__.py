"""Where the layers are built: DuckDB (the default) or Spark (contract section 6)."""
