#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (a Python venv with the pinned
# MLflow and DVC, the linters), then formatting, lints, unit and integration tests (the MLflow
# tests start their own servers on 127.0.0.1), doctests, docs, a quick benchmark pass, the ops
# linters, the serving metrics in a real Prometheus and the report in headless Chromium (both
# installed from Debian's packages when missing), the DVC pipeline test and the sharded grid search of
# docker/k8s/ run locally (scripts/k8s-shards-test.sh). Stops at the first failure.
#
#   scripts/test.sh              everything
#   MOMENTUM_VENV=DIR            where the Python venv lives (default .venv)
#   CARGO_TARGET_DIR=DIR         keep builds outside the checkout to make reruns incremental
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export MOMENTUM_VENV=${MOMENTUM_VENV:-$root/.venv}
export MOMENTUM_MLFLOW=${MOMENTUM_MLFLOW:-$MOMENTUM_VENV/bin/mlflow}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*" >&2; }

step "python tools (mlflow, dvc, linters) in $MOMENTUM_VENV"
scripts/python-env.sh

if ! command -v cargo-nextest >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "library crates without the network stack: no tokio/reqwest/rustls/hyper/parquet/arrow in momentum-engine --no-default-features"
deps=$(cargo tree -p momentum-engine -e normal --no-default-features --locked --prefix none)
heavy=$(awk '{print $1}' <<<"$deps" | grep -E '(^|-)(tokio|reqwest|rustls|hyper|parquet|arrow)(-|$)' | sort -u || true)
if [[ -n "$heavy" ]]; then
  echo "error: momentum-engine without default features depends on: ${heavy//$'\n'/ }" >&2
  echo "  (a [workspace.dependencies] entry or a member turned on a default feature; see docs/dependencies.md)" >&2
  exit 1
fi
cargo check -p momentum-engine --no-default-features --locked --quiet
cargo check -p momentum-data --no-default-features --locked --quiet

step "unit and integration tests (nextest)"
cargo nextest run --workspace --locked --no-fail-fast

step "the engine's tests again on the portable instructions (MOMENTUM_SIMD=portable)"
MOMENTUM_SIMD=portable cargo nextest run -p momentum-engine --locked --no-fail-fast

step "doctests"
cargo test --workspace --locked --doc

step "examples: build and run each (crates/*/examples)"
for example in crates/*/examples/*.rs; do
  [[ -e "$example" ]] || continue
  crate=$(basename "$(dirname "$(dirname "$example")")")
  name=$(basename "$example" .rs)
  if ! cargo run --locked -q -p "$crate" --example "$name" >/dev/null; then
    echo "error: example $name of $crate failed ($example)" >&2
    exit 1
  fi
done

step "rustdoc -D warnings, private items included (their links are checked too)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked --quiet

step "benchmarks, one quick pass each (criterion test mode)"
cargo test -p momentum-benches --benches --locked

step "ops linters: hadolint, workflow and compose schemas, actionlint, Dockerfile build steps"
scripts/lint-ops.sh

step "serving operations: promtool on the alert rules and scrape config, a real Prometheus scraping a real momentum serve"
scripts/serve-prometheus-test.sh

step "the HTML report in headless Chromium: screenshots not blank, every section and chart in the DOM, nothing external"
scripts/report-browser-test.sh

step "DVC pipeline in a fresh clone: repro, status, lock, metrics, exp run, failing stage"
scripts/dvc-pipeline-test.sh

step "sharded grid search as Kubernetes runs it: the Indexed Job's and the merge Job's args, merged equal to an unsharded backtest"
scripts/k8s-shards-test.sh

step "all checks passed"
