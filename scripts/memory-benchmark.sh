#!/usr/bin/env bash
# Peak memory of the serving path at S&P 500 scale (issue #26, item 8): a deterministic synthetic
# wide price CSV of TICKERS tickers x DAYS trading days (default 500 x 6,300, about 28 MB) goes
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
if [[ -z ${MOMENTUM_BIN:-} ]]; then
  cargo build --release --locked -q -p momentum
  MOMENTUM_BIN=${CARGO_TARGET_DIR:-target}/release/momentum
fi
bin=$(cd "$(dirname "$MOMENTUM_BIN")" && pwd)/$(basename "$MOMENTUM_BIN")
[[ -x $bin ]] || { echo "memory-benchmark: no binary at $bin" >&2; exit 2; }

unset MLFLOW_TRACKING_URI
work=$(mktemp -d)
if [[ ${MEMORY_BENCH_KEEP:-} == 1 ]]; then
  echo "memory-benchmark: scratch directory $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"

# Wide layout (date, then one close column per ticker), weekdays from 2000-01-03. Each ticker is
# a random walk with uniform daily returns of +-2% around its own drift, from a Park-Miller
# generator: integer arithmetic exact in awk's doubles, so every awk writes the same bytes.
# Every 25th ticker is listed late (empty cells before its first day), as index members are.
awk -v n="$tickers" -v days="$days" '
BEGIN {
  seed = 20260101
  printf "date"
  for (i = 0; i < n; i++) {
    printf ",S%03d", i
    price[i] = 20 + (i * 37) % 200
    drift[i] = ((i % 7) - 3) * 0.0001
    first[i] = (i % 25 == 0) ? 1000 + 2 * i : 0
  }
  printf "\n"
  split("31 28 31 30 31 30 31 31 30 31 30 31", month_days, " ")
  y = 2000; m = 1; d = 3; dow = 0  # a Monday
  for (t = 0; t < days; ) {
    if (dow < 5) {
      printf "%04d-%02d-%02d", y, m, d
      for (i = 0; i < n; i++) {
        seed = (seed * 16807) % 2147483647
        price[i] *= 1 + drift[i] + (seed / 2147483647 - 0.5) * 0.04
        if (t >= first[i]) printf ",%.4f", price[i]; else printf ","
      }
      printf "\n"
      dates[t++] = sprintf("%04d-%02d-%02d", y, m, d)
    }
    dow = (dow + 1) % 7
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    if (++d > month_days[m] + (m == 2 && leap)) { d = 1; if (++m > 12) { m = 1; y++ } }
  }
  # The as-of dates of the historical scans: every 20 trading days before the last.
  for (k = 4; k >= 1; k--) print dates[days - 1 - 20 * k] > "as_of.txt"
  print dates[days - 1] > "last.txt"
}' >prices.csv

{
  cat <<'YAML'
data:
  source: csv
  path: prices.csv
  tickers: []
  start: "1990-01-01"
  end: "2099-12-31"
  out: data/raw/prices.parquet
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
tracking:
  uri: ""
  store: mlruns
scan:
  max_staleness_days: 7
YAML
} >params.yaml

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
