#!/usr/bin/env bash
# Starts the MLflow UI (the pinned mlflow==3.17.2 from the project venv) on 127.0.0.1, with a
# SQLite backend and proxied artifacts under mlflow-data/, for browsing momentum's runs.
#
#   scripts/mlflow-ui.sh                 # http://127.0.0.1:5000 (Ctrl-C stops it)
#   MLFLOW_PORT=5050 scripts/mlflow-ui.sh
#
# Then, in another shell, push the local runs (mlruns/) to it; sync is idempotent, repeat it
# after each backtest, or export MLFLOW_TRACKING_URI so that new runs are pushed as they end:
#
#   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 momentum runs sync
#
# Environment: MLFLOW_PORT (default 5000), MLFLOW_HOST (default 127.0.0.1), MLFLOW_DATA (default
# <repo>/mlflow-data), MOMENTUM_VENV (default <repo>/.venv, created by scripts/python-env.sh),
# MLFLOW_WORKERS (default 1: fastest on a small machine, see shared docs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MOMENTUM_VENV:-$root/.venv}
port=${MLFLOW_PORT:-5000}
host=${MLFLOW_HOST:-127.0.0.1}
data=${MLFLOW_DATA:-$root/mlflow-data}
workers=${MLFLOW_WORKERS:-1}

"$root/scripts/python-env.sh"
mlflow=${MOMENTUM_MLFLOW:-$venv/bin/mlflow}
if [[ ! -x $mlflow ]]; then
  echo "mlflow-ui: $mlflow not found; run scripts/python-env.sh" >&2
  exit 1
fi
mkdir -p "$data/artifacts"
data=$(cd "$data" && pwd)

echo "mlflow-ui: MLflow $("$mlflow" --version 2>/dev/null | awk '{print $NF}') on http://$host:$port (data in $data)" >&2
echo "mlflow-ui: show local runs with: MLFLOW_TRACKING_URI=http://$host:$port momentum runs sync" >&2
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
exec "$mlflow" server --host "$host" --port "$port" --workers "$workers" \
  --backend-store-uri "sqlite:///$data/mlflow.db" \
  --artifacts-destination "$data/artifacts"
