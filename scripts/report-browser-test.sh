#!/usr/bin/env bash
# The tear sheet in a real browser: runs the sample backtest in a scratch directory (the debug
# binary, scripts/sample-scratch.sh), then with headless Chromium
#   (a) renders reports/report.html to PNG screenshots, laptop and phone width, and checks
#       they are not blank (scripts/png-stats.py: enough colours, enough ink);
#   (b) dumps the DOM Chromium built (--dump-dom) and checks every section and chart is in it;
#   (c) checks the file references nothing outside itself (no script, link, src, url(), @import
#       or http(s) URL) and is under 3 MB;
# and the same for a --no-grid backtest, whose grid section must say there is no grid.
# Installs Chromium from Debian's packages when no browser is found (as root: apt-get update,
# then apt-get install chromium).
#
#   scripts/report-browser-test.sh
#   REPORT_SCREENSHOTS=DIR scripts/report-browser-test.sh   # keep the screenshots and reports in DIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
keep=${REPORT_SCREENSHOTS:+$(mkdir -p "$REPORT_SCREENSHOTS" && realpath "$REPORT_SCREENSHOTS")}

# Debian's chromium (installed here when missing, as root); GitHub's Ubuntu runners have
# google-chrome instead. CHROMIUM=PATH picks another.
browser=${CHROMIUM:-}
for candidate in chromium google-chrome; do
  [[ -z $browser ]] && command -v "$candidate" >/dev/null 2>&1 && browser=$candidate
done
if [[ -z $browser ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: no chromium (as root: apt-get update && apt-get install -y chromium; or set CHROMIUM)" >&2
    exit 1
  fi
  echo "report-browser-test: installing chromium from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  browser=chromium
fi
"$browser" --version 2>/dev/null >&2

SAMPLE_PROFILE=debug
# shellcheck source=scripts/sample-scratch.sh
. scripts/sample-scratch.sh

browse() {
  # Root in a container needs --no-sandbox; no GPU in CI. Chromium's D-Bus complaints go away.
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --disable-extensions "$@" 2>/dev/null
}

check() { # check REPORT LABEL CHARTS...: (a), (b) and (c) for one report
  local report=$1 label=$2
  shift 2
  local page
  page="file://$(realpath "$report")"
  # (c) self-contained and small, from the file's own text.
  python3 - "$report" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
size = len(text.encode())
found = [p for p in (r"<script", r"<link", r"<iframe", r"<img", r"\ssrc\s*=", r"url\(", r"@import",
                     r"https?:", r"href\s*=\s*\"(?!#)")
         if re.search(p, text, re.I)]
if found:
    sys.exit(f"error: {path} references something outside itself: {found}")
if size >= 3 * 1024 * 1024:
    sys.exit(f"error: {path} is {size} bytes, not under 3 MB")
print(f"{path}: {size} bytes, self-contained")
PY
  # (a) laptop and phone widths, full length.
  browse --window-size=1100,6000 --screenshot="$work/$label-laptop.png" "$page" >/dev/null
  browse --window-size=390,9000 --screenshot="$work/$label-phone.png" "$page" >/dev/null
  python3 "$root/scripts/png-stats.py" "$work/$label-laptop.png" --min-colours 200 --min-ink 0.08
  python3 "$root/scripts/png-stats.py" "$work/$label-phone.png" --min-colours 200 --min-ink 0.08
  # (b) the DOM Chromium parsed: every section, each chart, and the SVG elements inside it.
  browse --dump-dom "$page" >"$work/$label-dom.html"
  python3 - "$work/$label-dom.html" "$@" <<'PY'
import re, sys
path, charts = sys.argv[1], sys.argv[2:]
dom = open(path, encoding="utf-8").read()
sections = ["summary", "equity", "monthly", "rolling", "distribution", "grid", "costs", "live"]
missing = [f"section {s}" for s in sections if f'<section id="{s}">' not in dom]
for chart in charts:
    name, _, count = chart.partition("=")
    want = int(count or 1)
    got = len(re.findall(rf'data-chart="{re.escape(name)}"', dom))
    if got != want:
        missing.append(f"chart {name}: {got} of {want}")
svgs = len(re.findall(r"<svg\b", dom))
titled = len(re.findall(r"<svg\b[^>]*>\s*<title>[^<]+</title>", dom))
if svgs != titled:
    missing.append(f"{svgs - titled} of {svgs} charts without a title")
if "NaN" in dom:
    missing.append("a NaN printed")
if missing:
    sys.exit(f"error: {path}: " + "; ".join(missing))
print(f"{path}: {len(sections)} sections, {svgs} charts, all titled")
PY
  if [[ -n $keep ]]; then
    cp "$work/$label-laptop.png" "$work/$label-phone.png" "$keep/"
    cp "$report" "$keep/$label-report.html"
  fi
}

"$bin" -q backtest --reproducible --no-track >/dev/null 2>&1
check reports/report.html sample equity underwater monthly rolling-sharpe rolling-volatility \
  distribution heatmap-legend heatmap=4 train-vs-test

"$bin" -q backtest --reproducible --no-track --no-grid --lookback 250 --skip 10 --holding 60 \
  --top-k 5 --reports nogrid --model nogrid/candidate.json >/dev/null 2>&1
check nogrid/report.html nogrid equity underwater monthly rolling-sharpe rolling-volatility \
  distribution heatmap=0 train-vs-test=0
grep -q "No grid: this backtest evaluated one combination (--no-grid)" "$work/nogrid-dom.html" || {
  echo "error: the --no-grid report does not say it has no grid" >&2
  exit 1
}
echo "report-browser-test: the sample's report and a --no-grid report render, complete and self-contained" >&2
