#!/usr/bin/env bash
# Peak memory of a tracked `momentum backtest` per grid combination: the release binary runs a
# 20,000-, a 100,000- and a 300,000-combination grid on the sample panel (lookback 20..60 or
# 20..260 step 10, skip 0,5,10,20, holding 2..100 step 2 or 1..150, top_k 1..20 or 1..40) in a
# scratch directory, each with /usr/bin/time, and prints the peaks and the slopes in bytes per
# combination: the figure behind momentum_engine::GRID_BYTES_PER_COMBINATION, which the grid's
# memory check uses. The rows are streamed to disk, so the slope is what is still held per
# combination (the list of parameters) beside buffers bounded by a chunk of rows.
#
# usage: scripts/grid-memory.sh
#   CARGO_TARGET_DIR  where the release build goes (default target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/sample-scratch.sh
. scripts/sample-scratch.sh

peak_kib() { # lookbacks holdings top_ks
  /usr/bin/time -f %M -o peak "$bin" -q backtest --grid-lookback "$1" --grid-skip 0,5,10,20 \
    --grid-holding "$2" --grid-top-k "$3" --max-combinations 400000 >/dev/null 2>&1
  cat peak
}
small=$(peak_kib "$(seq -s, 20 10 60)" "$(seq -s, 2 2 100)" "$(seq -s, 1 20)")
medium=$(peak_kib "$(seq -s, 20 10 260)" "$(seq -s, 2 2 100)" "$(seq -s, 1 20)")
large=$(peak_kib "$(seq -s, 20 10 260)" "$(seq -s, 1 150)" "$(seq -s, 1 20)")
echo "20000 combinations: peak $((small / 1024)) MB"
echo "100000 combinations: peak $((medium / 1024)) MB"
echo "300000 combinations: peak $((large / 1024)) MB"
echo "slope 20000 -> 100000: $(((medium - small) * 1024 / 80000)) bytes per combination"
echo "slope 100000 -> 300000: $(((large - medium) * 1024 / 200000)) bytes per combination"
