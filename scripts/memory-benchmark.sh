#!/usr/bin/env bash
# Peak memory of the serving path at S&P 500 scale (issue #26, item 8): a deterministic synthetic
# wide price CSV of TICKERS tickers x DAYS trading days (default 500 x 6,300, about 27 MB) goes
# through `momentum fetch --source csv`, `features`, four historical `scan --as-of`s, a final
# `scan` and `monitor` in a scratch directory, with a production model over the whole universe
# written into its params.yaml. Each command's peak resident set size comes from
# `/usr/bin/time -f %M`; the table gives it in MB (10^6 bytes) and as a multiple of the close
# panel's size (TICKERS * DAYS * 8 bytes). The target is at most 4x. Tracking goes to the local
# store in the scratch directory: no network.
#
# usage: scripts/memory-benchmark.sh
#   MOMENTUM_BIN        the binary to measure (default: cargo build --release, then
#                       ${CARGO_TARGET_DIR:-target}/release/momentum)
#   MEMORY_BENCH_TICKERS, MEMORY_BENCH_DAYS   the data's size (default 500 and 6300)
#   MEMORY_BENCH_KEEP=1 keep the scratch directory (its path is printed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tickers=${MEMORY_BENCH_TICKERS:-500}
days=${MEMORY_BENCH_DAYS:-6300}
target=${CARGO_TARGET_DIR:-target}
if [[ -z ${MOMENTUM_BIN:-} ]]; then
  cargo build --release --locked -q -p momentum
  MOMENTUM_BIN=$target/release/momentum
fi
bin=$(cd "$(dirname "$MOMENTUM_BIN")" && pwd)/$(basename "$MOMENTUM_BIN")
[[ -x $bin ]] || { echo "memory-benchmark: no binary at $bin" >&2; exit 2; }
# shellcheck source=scripts/synthetic-scratch.sh
source scripts/synthetic-scratch.sh

unset MLFLOW_TRACKING_URI
work=$(mktemp -d)
if [[ ${MEMORY_BENCH_KEEP:-} == 1 ]]; then
  echo "memory-benchmark: scratch directory $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"

# The synthetic universe of the scale benchmarks (benches/src/synthetic.rs): one close column
# per ticker, some listed late, some delisted, a few days missing. The as-of dates of the
# historical scans are every 20 trading days before the last.
synthetic_universe "$tickers" "$days"
awk -F, 'NR > 1 { date[NR - 1] = $1 }
  END { n = NR - 1; for (k = 4; k >= 1; k--) print date[n - 20 * k] >"as_of.txt"; print date[n] >"last.txt" }' prices.csv

{
  cat <<'YAML'
production:
  version: '1'
  lookback: 250
  skip: 10
  holding: 20
  top_k: 25
  cost_bps: 10.0
  tickers:
YAML
  head -1 prices.csv | tr ',' '\n' | tail -n +2 | sed 's/^/    - /'
  cat <<'YAML'
  data_digest: null
  promoted_at: '2026-01-01T00:00:00Z'
scan:
  max_staleness_days: 7
YAML
} >>params.yaml

today=$(cat last.txt)
peaks=()
measure() { # label, momentum arguments...
  local label=$1
  shift
  /usr/bin/time -f %M -o rss.txt "$bin" -q "$@" >/dev/null
  peaks+=("$label $(tail -1 rss.txt)")
}
measure fetch fetch
measure features features
while read -r as_of; do
  "$bin" -q scan --as-of "$as_of" --today "$today" >/dev/null
done <as_of.txt
measure scan scan --today "$today"
measure monitor monitor

panel=$((tickers * days * 8))
printf 'input: %s tickers x %s days, CSV %.1f MB, close panel %.1f MB\n' "$tickers" "$days" \
  "$(echo "$(stat -c %s prices.csv) / 1000000" | bc -l)" "$(echo "$panel / 1000000" | bc -l)"
printf '%-10s %14s %16s\n' command "peak RSS (MB)" "x panel size"
for entry in "${peaks[@]}"; do
  read -r label kib <<<"$entry"
  printf '%-10s %14.1f %16.2f\n' "$label" "$(echo "$kib * 1024 / 1000000" | bc -l)" \
    "$(echo "$kib * 1024 / $panel" | bc -l)"
done
