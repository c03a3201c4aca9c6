#!/usr/bin/env bash
# What local tracking costs a backtest of the 9,000-combination sample grid (lookback 5..250
# step 5, skip 0, holding 1..60, top_k 3,5,7): the release binary runs `momentum backtest
# --no-track` and `momentum backtest` (the local store, the default) one after the other,
# ROUNDS times, in alternating order, on the sample panel in a scratch directory; it prints
# each side's median wall time, the ratio of the medians, and the bytes one tracked run adds
# to mlruns/. With -u URI it also times `momentum runs sync` of one tracked run to the MLflow
# server at URI (start one with `make mlflow`): the parent, its child runs and the artifacts.
#
# usage: scripts/tracking-overhead.sh [-t THREADS] [-r ROUNDS] [-u URI]
#   -t THREADS  rayon threads of the grid (default 2)
#   -r ROUNDS   alternating rounds (default 7)
#   -u URI      an MLflow server to time the push against (default: none)
#   CARGO_TARGET_DIR  where the release build goes (default target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

threads=2 rounds=7 uri=
while getopts "t:r:u:h" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    u) uri=$OPTARG ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/sample-scratch.sh
. scripts/sample-scratch.sh
grid=("${sample_grid[@]}" --threads "$threads" --reproducible)

: >untracked.txt
: >tracked.txt
for ((round = 1; round <= rounds; round++)); do
  rm -rf mlruns
  if ((round % 2)); then
    seconds "$bin" backtest --no-track "${grid[@]}" >>untracked.txt
    seconds "$bin" backtest "${grid[@]}" >>tracked.txt
  else
    seconds "$bin" backtest "${grid[@]}" >>tracked.txt
    seconds "$bin" backtest --no-track "${grid[@]}" >>untracked.txt
  fi
done
bytes=$(du -sb mlruns | cut -f1)
untracked=$(median <untracked.txt)
tracked=$(median <tracked.txt)
printf 'rounds %d, %d threads, 9,000 combinations\n' "$rounds" "$threads"
printf 'backtest --no-track  median %.3f s  (%s)\n' "$untracked" "$(tr '\n' ' ' <untracked.txt)"
printf 'backtest (tracked)   median %.3f s  (%s)\n' "$tracked" "$(tr '\n' ' ' <tracked.txt)"
printf 'ratio of medians     %.3f\n' "$(awk -v a="$untracked" -v b="$tracked" 'BEGIN { print b / a }')"
printf 'mlruns/ after one tracked run: %d bytes (%.2f MB), %d files\n' "$bytes" \
  "$(awk -v b="$bytes" 'BEGIN { print b / 1000000 }')" "$(find mlruns -type f | wc -l)"
if [ -n "$uri" ]; then
  printf 'push to %s: %.2f s\n' "$uri" \
    "$(MLFLOW_TRACKING_URI=$uri seconds "$bin" runs sync)"
fi
