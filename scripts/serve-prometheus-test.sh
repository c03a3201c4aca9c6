#!/usr/bin/env bash
# The serving operations files against real programs, all on 127.0.0.1:
#   1. promtool checks the alert rules docker/prometheus/rules.yml and the scrape config
#      docker/prometheus/prometheus.yml;
#   2. a real `momentum serve` (the debug build) on the embedded sample, after fetch, scan and
#      monitor have written the files it reads;
#   3. a real Prometheus (Debian's package) scraping it with the repository's scrape config (its
#      target and rule path rewritten for this machine, intervals shortened): through
#      Prometheus' HTTP query API, every metric that the alert rules and the Grafana dashboard
#      (docker/grafana/dashboards/momentum.json) query has been scraped, and every rule
#      evaluates without error.
# Installs Debian's `prometheus` package (promtool and prometheus) when either is missing (as
# root: apt-get update, then apt-get install prometheus). Ports are picked free; the processes
# and the scratch directory are removed on exit.
#
#   scripts/serve-prometheus-test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf -- '--> serve-prometheus-test: %s\n' "$*" >&2; }

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: no promtool/prometheus (as root: apt-get update && apt-get install -y prometheus)" >&2
    exit 1
  fi
  say "installing prometheus from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
prometheus --version 2>&1 | head -1 >&2

rules=$root/docker/prometheus/rules.yml
dashboard=$root/docker/grafana/dashboards/momentum.json

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

say "promtool: rules and scrape config"
promtool check rules "$rules"
# The compose config names the compose service and the container's rule path; point both here.
config() { # config TARGET EVAL_INTERVAL
  sed -e "s|- serve:8080|- $1|" -e "s|/etc/prometheus/rules.yml|$rules|" \
    -e "s|scrape_interval: 15s|scrape_interval: $2|" -e "s|evaluation_interval: 15s|evaluation_interval: $2|" \
    docker/prometheus/prometheus.yml
}
config serve:8080 15s >"$work/compose-prometheus.yml"
promtool check config "$work/compose-prometheus.yml"

say "momentum serve on the sample"
cargo build --locked -q -p momentum
bin="$(realpath "${CARGO_TARGET_DIR:-target}/debug/momentum")"
mkdir "$work/sample"
cp params.yaml "$work/sample/"
(
  cd "$work/sample"
  unset MLFLOW_TRACKING_URI
  "$bin" -q fetch >/dev/null
  "$bin" -q scan >/dev/null
  "$bin" -q monitor >/dev/null
)
(cd "$work/sample" && MLFLOW_TRACKING_URI='' exec "$bin" -q serve --port 0 >"$work/serve.out") &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
serve=$(sed -n 's|^listening on http://||p' "$work/serve.out")
[[ -n $serve ]] || { echo "error: momentum serve did not start" >&2; exit 1; }
say "momentum serve on $serve"

prom_port=$(free_port)
config "$serve" 1s >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

say "requests, scrapes, queries (Prometheus on 127.0.0.1:$prom_port)"
python3 - "$serve" "127.0.0.1:$prom_port" "$rules" "$dashboard" <<'PY'
import json, re, sys, time, urllib.error, urllib.parse, urllib.request

serve, prom, rules_path, dashboard_path = sys.argv[1:]

def http(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()

# Traffic for the request series: answers, a client error, an unsupported type.
for _ in range(3):
    assert http(f"http://{serve}/ping")[0] == 200
assert http(f"http://{serve}/v1/model")[0] == 200
assert http(f"http://{serve}/invocations", b"x", {"Content-Type": "text/plain"})[0] == 415
assert http(f"http://{serve}/invocations", b"{", {"Content-Type": "application/json"})[0] == 400

def query(expr):
    url = f"http://{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = http(url)
    if status != 200:
        return None
    return json.loads(body)["data"]["result"]

deadline = time.time() + 60
while time.time() < deadline:
    up = query('up{job="momentum-serve"}')
    if up and up[0]["value"][1] == "1":
        break
    time.sleep(0.5)
else:
    sys.exit("error: Prometheus never scraped momentum serve (up != 1)")

names = set()
for expr in re.findall(r"expr:\s*(\|[\s\S]*?(?=\n\s*for:)|.*)", open(rules_path).read()):
    names.update(re.findall(r"\bmomentum_[a-z0-9_]+", expr))
dashboard = json.load(open(dashboard_path))
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        found = re.findall(r"\bmomentum_[a-z0-9_]+", target["expr"])
        if not found:
            sys.exit(f"error: dashboard panel {panel['title']!r}: no momentum metric in {target['expr']!r}")
        names.update(found)

# Scrapes happen every second; the request series appear after the traffic above.
deadline = time.time() + 30
missing = sorted(names)
while missing and time.time() < deadline:
    missing = [n for n in missing if not query(f'count({{__name__="{n}",job="momentum-serve"}})')]
    time.sleep(1)
if missing:
    sys.exit("error: not scraped from momentum serve: " + ", ".join(missing))
print(f"scraped: {len(names)} metrics the rules and the dashboard use: {', '.join(sorted(names))}", file=sys.stderr)

# Every rule group has been evaluated, without an error.
deadline = time.time() + 30
while time.time() < deadline:
    status, body = http(f"http://{prom}/api/v1/rules")
    groups = json.loads(body)["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    # A rule not evaluated yet has the zero time as its last evaluation.
    if rules and not any(r.get("lastEvaluation", "0001").startswith("0001") for r in rules):
        break
    time.sleep(1)
bad = [f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"]
if len(rules) != 7 or bad:
    sys.exit(f"error: {len(rules)} rules loaded; unhealthy: {bad}")
alerts = {r["name"]: r["state"] for r in rules}
print(f"rules: all {len(rules)} healthy; states {alerts}", file=sys.stderr)
# The embedded sample is years old: the staleness alert must be on its way.
if alerts["MomentumPricesStale"] not in ("pending", "firing"):
    sys.exit(f"error: MomentumPricesStale is {alerts['MomentumPricesStale']} on years-old prices")
if alerts["MomentumModelMissing"] != "inactive":
    sys.exit("error: MomentumModelMissing is active although a model is served")
PY
say "ok"
