#!/usr/bin/env bash
# Compares the speed of the issue's 9,000-combination sample grid at several revisions on this
# machine: builds the `grid_timing` example of each revision (bench profile, one worktree per
# commit, `.` for the checkout as it is), then runs the binaries one after the other ROUNDS
# times and prints each one's best time, with the start of each binary's SHA-256 (two
# revisions that built the same code show the same digest). Running them alternately (in
# reverse order every other round) keeps a shared machine's load from favouring one side; for
# a host whose speed moves within seconds, each revision after the first also gets the
# geometric mean of its time over the first's in the same round, with two standard errors
# (docs/performance.md).
#
# usage: scripts/compare-grid-timing.sh [-t THREADS] [-r ROUNDS] REV [REV ...]
#   -t THREADS  rayon threads of the grid (default 2)
#   -r ROUNDS   alternating rounds; each run is the best of 3 (default 5)
#   CARGO_TARGET_DIR  shared by every build (default target); the dependencies build once,
#                     the four workspace crates of the example once per revision
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

threads=2 rounds=5
while getopts "t:r:h" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi

target=${CARGO_TARGET_DIR:-$PWD/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
work=$(mktemp -d)
trap 'git worktree prune; rm -rf "$work"' EXIT

revs=("$@") bins=()
for rev in "${revs[@]}"; do
  if [ "$rev" = . ]; then
    src=$PWD name=checkout
  else
    name=$(git rev-parse --short "$rev")
    src=$work/tree-$name
    git worktree add --quiet --detach "$src" "$rev"
  fi
  printf 'compare-grid-timing: building %s\n' "$rev" >&2
  # Every revision shares the target directory, where cargo files a workspace crate by its
  # path inside the workspace: after another checkout's build it can take this checkout's
  # crates for fresh and hand back the other's binary. So the workspace crates the example
  # uses are cleaned and rebuilt each time (the dependencies stay built).
  (cd "$src" && CARGO_TARGET_DIR=$target cargo clean --quiet --profile bench \
    -p momentum-data -p momentum-features -p momentum-engine -p momentum-benches &&
    CARGO_TARGET_DIR=$target cargo build --quiet --locked --profile bench \
    -p momentum-benches --example grid_timing)
  cp "$target/release/examples/grid_timing" "$work/grid_timing-$name"
  bins+=("$work/grid_timing-$name")
done

declare -A best
times=$work/times
for ((round = 1; round <= rounds; round++)); do
  order=()
  for i in "${!bins[@]}"; do
    if ((round % 2 == 0)); then order=("$i" "${order[@]}"); else order+=("$i"); fi
  done
  for i in "${order[@]}"; do
    bin=${bins[$i]}
    # grid_timing prints "... best of 3 0.200 s = 45000 combinations/s".
    seconds=$("$bin" "$threads" 3 | sed -nE 's/.*best of 3 ([0-9.]+) s.*/\1/p')
    printf '%s %s %s\n' "$round" "$i" "$seconds" >>"$times"
    if [ -z "${best[$bin]:-}" ] || awk -v a="$seconds" -v b="${best[$bin]}" 'BEGIN { exit !(a < b) }'; then
      best[$bin]=$seconds
    fi
  done
done

# The binary's digest shows which revisions built the same code.
printf '%-12s %-10s %-30s %s\n' revision binary "best of $rounds x 3 on $threads thread(s)" \
  "time / first's, same round"
for i in "${!bins[@]}"; do
  digest=$(sha256sum "${bins[$i]}" | cut -c1-8)
  ratio=$(awk -v rev="$i" '
    { t[$1, $2] = $3; if ($1 > rounds) rounds = $1 }
    END {
      if (rev == 0) { print "-"; exit }
      for (r = 1; r <= rounds; r++) { x = log(t[r, rev] / t[r, 0]); sum += x; sq += x * x }
      mean = sum / rounds
      se = rounds > 1 ? sqrt((sq - rounds * mean * mean) / (rounds - 1) / rounds) : 0
      printf "%.3f +- %.3f (2 s.e.)", exp(mean), 2 * se
    }' "$times")
  printf '%-12s %-10s %-30s %s\n' "${revs[$i]}" "$digest" "${best[${bins[$i]}]} s" "$ratio"
done
