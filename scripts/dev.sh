#!/usr/bin/env bash
# Set up, then run `dagster dev` (UI, daemon, sensors, schedules) with the project's instance
# settings: $DAGSTER_HOME/dagster.yaml (from ./dagster.yaml) queues runs, dequeues them every
# second and limits the "duckdb" pool to one step at a time, so sensor-, schedule- and
# automation-launched runs take turns on the warehouse. The project's own .dagster_home/ follows
# ./dagster.yaml on every start; a DAGSTER_HOME of your own gets it only when it has none.
#
#   ./scripts/dev.sh                      # http://localhost:3000
#   ./scripts/dev.sh -p 3333 -h 0.0.0.0   # arguments go to `dagster dev`
#   B2B_AS_OF=2026-11-15T00:00:00Z ./scripts/dev.sh   # evaluate the demo's windows as of then
#
# B2B_AS_OF is not set here: in development the windows move with the clock (now), unlike the
# demo, which pins them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
export B2B_DATA_DIR="${B2B_DATA_DIR:-$PWD/data}"
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
if [ ! -f "$DAGSTER_HOME/dagster.yaml" ]; then
  cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
elif ! cmp -s dagster.yaml "$DAGSTER_HOME/dagster.yaml"; then
  if [ "$DAGSTER_HOME" = "$PWD/.dagster_home" ]; then
    cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
    echo "dev.sh: updated $DAGSTER_HOME/dagster.yaml from ./dagster.yaml" >&2
  else
    echo "dev.sh: $DAGSTER_HOME/dagster.yaml differs from ./dagster.yaml (kept)" >&2
  fi
fi
exec .venv/bin/dagster dev "$@"
