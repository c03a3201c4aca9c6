#!/usr/bin/env bash
# Peak memory of a tracked `momentum backtest` per grid combination: the release binary runs a
# 20,000- and a 100,000-combination grid on the sample panel (lookback 20..60 or 20..260 step
# 10, skip 0,5,10,20, holding 2..100 step 2, top_k 1..20) in a scratch directory, each with
# /usr/bin/time, and prints both peaks and the slope in bytes per combination: the figure
# behind momentum_engine::GRID_BYTES_PER_COMBINATION, which the grid's memory check uses.
#
# usage: scripts/grid-memory.sh
#   CARGO_TARGET_DIR  where the release build goes (default target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/sample-scratch.sh
. scripts/sample-scratch.sh

holding=$(seq -s, 2 2 100) top_k=$(seq -s, 1 1 20)
peak_kib() { # lookbacks
  /usr/bin/time -f %M -o peak "$bin" -q backtest --grid-lookback "$1" --grid-skip 0,5,10,20 \
    --grid-holding "$holding" --grid-top-k "$top_k" --max-combinations 200000 >/dev/null 2>&1
  cat peak
}
small=$(peak_kib "$(seq -s, 20 10 60)")
large=$(peak_kib "$(seq -s, 20 10 260)")
echo "20000 combinations: peak $((small / 1024)) MB"
echo "100000 combinations: peak $((large / 1024)) MB"
echo "slope: $(((large - small) * 1024 / 80000)) bytes per combination"
