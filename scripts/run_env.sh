# Sourced by demo.sh and dev.sh: where the demo's and the UI's runs keep what they write.
#
# Everything a run writes (the warehouse and DuckDB's spill files beside it, the outbox, the
# Dagster home with its runs and event logs) goes to one git-ignored folder, $B2B_RUN_DIR
# (var/ by default), never into data/. Variables already set are kept.
if [ -z "${B2B_DATA_DIR:-}" ]; then
  export B2B_DATA_DIR="$PWD/data"
  # The demo's story happens in October and November 2026: evaluate its windows as of then.
  export B2B_AS_OF="${B2B_AS_OF:-2026-11-15T00:00:00Z}"
fi
export B2B_RUN_DIR="${B2B_RUN_DIR:-$PWD/var}"
export B2B_WAREHOUSE="${B2B_WAREHOUSE:-$B2B_RUN_DIR/warehouse.duckdb}"
export B2B_OUTBOX="${B2B_OUTBOX:-$B2B_RUN_DIR/outbox}"
# With B2B_ENGINE=spark, Spark's tables too.
export B2B_SPARK_WAREHOUSE="${B2B_SPARK_WAREHOUSE:-$B2B_RUN_DIR/spark-warehouse}"
export DAGSTER_HOME="${DAGSTER_HOME:-$B2B_RUN_DIR/dagster_home}"
mkdir -p "$DAGSTER_HOME"
# The instance settings follow scripts/dagster.yaml; a DAGSTER_HOME with settings of its own
# outside the run folder keeps them.
if [ ! -f "$DAGSTER_HOME/dagster.yaml" ] || [ "$DAGSTER_HOME" = "$B2B_RUN_DIR/dagster_home" ]; then
  cp scripts/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
elif ! cmp -s scripts/dagster.yaml "$DAGSTER_HOME/dagster.yaml"; then
  echo "note: $DAGSTER_HOME/dagster.yaml differs from scripts/dagster.yaml (kept)" >&2
fi
# The dagster CLI's notices about its successor (`dg`) and its selection syntax are not about
# this project; other warnings still show.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::FutureWarning:click.core,ignore::Warning:dagster._core.definitions.antlr_asset_selection.antlr_asset_selection}"
