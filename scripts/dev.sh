#!/usr/bin/env bash
# Set up, then run `dagster dev` (UI, daemon, sensors, schedules) on the same warehouse and
# Dagster home as ./scripts/demo.sh (var/, see scripts/run_env.sh), with the instance settings
# of scripts/dagster.yaml: runs are launched as they are created, and the "duckdb" pool lets
# one step at a time write the warehouse. Assets the demo built are not built again until
# their inputs change.
#
#   ./scripts/dev.sh                      # http://localhost:3000
#   ./scripts/dev.sh -p 3333 -h 0.0.0.0   # arguments go to `dagster dev`
#
# On the demo data the windows are evaluated as of the demo's instant (B2B_AS_OF); on your own
# data (B2B_DATA_DIR set) they move with the clock unless B2B_AS_OF is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
source scripts/run_env.sh
exec .venv/bin/dagster dev "$@"
