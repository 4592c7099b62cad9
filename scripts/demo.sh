#!/usr/bin/env bash
# Set up, materialize the whole graph on the demo data in data/, and print the audiences.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
export B2B_DATA_DIR="${B2B_DATA_DIR:-$PWD/data}"
# The demo's story happens in October and November 2026: evaluate its windows as of then.
export B2B_AS_OF="${B2B_AS_OF:-2026-11-15T00:00:00Z}"
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
# A run of this DAGSTER_HOME killed earlier (SIGKILL, OOM, reboot) would keep its duckdb pool
# slot and make this run wait forever: mark such runs failed and free their slots. Runs whose
# process is alive are left alone.
.venv/bin/python -m b2b_assets.recover
.venv/bin/dagster asset materialize -m b2b_assets.definitions --select '*'
.venv/bin/python -m b2b_assets.show
