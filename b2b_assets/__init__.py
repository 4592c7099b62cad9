"""b2b_assets: a B2B customer data platform as Dagster assets on DuckDB."""

import warnings as _warnings

# Pandera imports pyspark.pandas whenever PySpark is installed (the `spark` extra), and PySpark
# then warns about pandas 3 on every run's first check, though no pandas-on-Spark is used.
_warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
