#!/usr/bin/env bash
# Set up, build the whole graph on the demo data in data/, and print the audiences and why.
#
#   ./scripts/demo.sh             # a line per layer, any warnings, the run's summary, the audiences
#   ./scripts/demo.sh --verbose   # Dagster's full log as well
#
# What the run writes goes to var/ (see scripts/run_env.sh); every run's full event log is also
# in the Dagster UI (./scripts/dev.sh uses the same Dagster home).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
level=INFO
for arg in "$@"; do
  case "$arg" in
    -v | --verbose) level=DEBUG ;;
    *) echo "usage: $0 [--verbose]" >&2; exit 2 ;;
  esac
done
./scripts/setup.sh
source scripts/run_env.sh
# A run of this Dagster home killed earlier (SIGKILL, OOM, reboot) would keep its duckdb pool
# slot and make this run wait: mark such runs failed and free their slots.
.venv/bin/python -m b2b_assets.recover --quiet
echo "Building every asset of $B2B_DATA_DIR as of ${B2B_AS_OF:-now} into $B2B_RUN_DIR"
.venv/bin/dagster asset materialize -m b2b_assets.definitions --select '*' \
  --config-json "{\"loggers\": {\"console\": {\"config\": {\"log_level\": \"$level\"}}}}"
echo
.venv/bin/python -m b2b_assets.show
