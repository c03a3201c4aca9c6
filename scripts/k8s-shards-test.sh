#!/usr/bin/env bash
# The sharded grid search as Kubernetes runs it, on this machine: the container args of the
# Indexed Job (docker/k8s/backtest-shards-job.yaml) and of the merge Job
# (docker/k8s/backtest-merge-job.yaml), read from the manifests, run with the local binary.
#   1. a scratch directory prepared like scripts/sample-scratch.sh: the repository's params.yaml
#      (the ConfigMap `momentum-params`), `momentum fetch` and `momentum features` (the embedded
#      sample), as backtest-prepare-job.yaml leaves the volume;
#   2. the Indexed Job's args once per index, JOB_COMPLETION_INDEX=0..N-1 (N: the manifest's
#      `completions`, which must match the args' auto/N), $(VAR) expanded from the container's
#      env as the kubelet does, each volume's mount path replaced by the scratch directory
#      (the workspace volume and the ConfigMap) or a directory of its own (an emptyDir);
#      then: one shard-I-of-N.shard per index and nothing else written (no reports, no candidate);
#   3. refusals: `--shard auto/N` without JOB_COMPLETION_INDEX, and the merge with a shard missing;
#   4. the merge Job's args (with --no-track and --reproducible added when absent);
#      reports/metrics.json, reports/grid.csv and models/candidate.json byte for byte equal to an
#      unsharded `momentum backtest --no-track --reproducible` in another scratch directory.
#
#   MOMENTUM_BIN=PATH    the binary to run (default: cargo build -q --locked -p momentum, then
#                        $CARGO_TARGET_DIR/debug/momentum)
#   MOMENTUM_VENV=DIR    the venv of scripts/python-env.sh, for PyYAML (default .venv)
#   K8S_SHARDS=N         run N shards instead of the manifest's completions (auto/N rewritten)
#   KEEP_WORKDIR=1       keep the scratch directories
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${MOMENTUM_VENV:-$root/.venv}
shards_manifest=docker/k8s/backtest-shards-job.yaml
merge_manifest=docker/k8s/backtest-merge-job.yaml
compared=(reports/metrics.json reports/grid.csv models/candidate.json)

say() { printf 'k8s-shards-test: %s\n' "$*" >&2; }
die() {
  printf '\nk8s-shards-test: FAIL: %s\n' "$*" >&2
  [[ -n ${work:-} ]] && KEEP_WORKDIR=1
  exit 1
}

python=$venv/bin/python
[[ -x $python ]] || die "no Python in $venv; run scripts/python-env.sh (MOMENTUM_VENV=$venv)"
"$python" -c 'import yaml' 2>/dev/null || die "PyYAML is missing from $venv; run scripts/python-env.sh"

if [[ -n ${MOMENTUM_BIN:-} ]]; then
  bin=$MOMENTUM_BIN
else
  say "building momentum (cargo build -q --locked -p momentum)"
  cargo build -q --locked -p momentum
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  [[ $target_dir == /* ]] || target_dir=$root/$target_dir
  bin=$target_dir/debug/momentum
fi
[[ -x $bin ]] || die "no momentum binary at $bin"
bin=$(realpath "$bin")

work=$(mktemp -d "${TMPDIR:-/tmp}/momentum-k8s-shards.XXXXXX")
cleanup() { if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
# Nothing reaches a tracking server or the price API from the caller's environment.
unset MLFLOW_TRACKING_URI MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD FINANCIAL_DATASETS_API_KEY \
  JOB_COMPLETION_INDEX

# container MANIFEST WHAT SCRATCH [N]: the Job's only container, as the kubelet would start it
# here, NUL-separated on stdout. WHAT is `args` (the args, $(VAR) expanded, mount paths mapped,
# auto/<completions> rewritten to auto/N when N is given), `env` (KEY=VALUE of the literal env
# values, paths mapped; the secret-backed ones are left out, as the test tracks nothing) or
# `completions`. Errors name the manifest and the field.
container() {
  "$python" - "$@" <<'EOF'
import os, re, sys, yaml

path, what, scratch = sys.argv[1:4]
shards = sys.argv[4] if len(sys.argv) > 4 else None

def fail(msg):
    sys.exit(f"k8s-shards-test: {path}: {msg}")

docs = [d for d in yaml.safe_load_all(open(path)) if d]
jobs = [d for d in docs if d.get("kind") == "Job"]
if len(jobs) != 1:
    fail(f"expected one Job, found {len(jobs)}")
job = jobs[0]
pod = job["spec"]["template"]["spec"]
if len(pod.get("containers", [])) != 1:
    fail("expected one container in spec.template.spec.containers")
c = pod["containers"][0]
if "command" in c:
    fail(f"container {c['name']}: `command` replaces the image's entrypoint `momentum`; the test runs args only")
completions = job["spec"].get("completions", 1)
if what == "completions":
    sys.stdout.write(str(completions))
    sys.exit(0)

# Each volume's mount path maps to a directory here: the workspace volume and the ConfigMap
# (whose params.yaml the scratch directory holds) to the scratch directory, an emptyDir to one of
# its own beside it.
volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounts = []
for m in c.get("volumeMounts", []):
    v = volumes.get(m["name"]) or fail(f"volumeMount {m['name']} has no volume")
    if "persistentVolumeClaim" in v or "configMap" in v:
        local = scratch
    elif "emptyDir" in v:
        local = os.path.join(os.path.dirname(scratch), f"emptydir-{os.path.basename(scratch)}-{m['name']}")
        os.makedirs(local, exist_ok=True)
    else:
        fail(f"volume {m['name']}: only persistentVolumeClaim, configMap and emptyDir are mapped")
    mounts.append((m["mountPath"].rstrip("/"), local))
mounts.sort(key=lambda pair: -len(pair[0]))
workdir = c.get("workingDir")
if workdir is None or (workdir.rstrip("/"), scratch) not in mounts:
    fail(f"workingDir {workdir!r} is not the workspace volume's mount path")

def local_path(value):
    for mount, local in mounts:
        if value == mount or value.startswith(mount + "/"):
            return local + value[len(mount):]
    return value

literal = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
from_refs = {e["name"] for e in c.get("env", []) if "valueFrom" in e}

def expand(value):
    # The kubelet's $(VAR): a defined variable is replaced, $$ is a literal $.
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name in literal:
            return literal[name]
        fail(f"args use $({name}), which has no literal value in the container's env"
             + (" (it comes from a secret or field)" if name in from_refs else ""))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, value)

if what == "env":
    out = [f"{k}={local_path(v)}" for k, v in literal.items()]
elif what == "args":
    args = [local_path(expand(str(a))) for a in c.get("args", [])]
    autos = [i for i, a in enumerate(args) if a.startswith("auto/")]
    if autos:
        n = args[autos[0]][len("auto/"):]
        if n != str(completions):
            fail(f"the args say auto/{n} but completions is {completions}: they must agree")
        if shards:
            args[autos[0]] = f"auto/{shards}"
    out = args
else:
    fail(f"unknown field {what}")
sys.stdout.write("\0".join(out) + ("\0" if out else ""))
EOF
}

# run DIR ENV... -- ARGS...: momentum in DIR with the container's env; prints its output on failure.
run() {
  local dir=$1 envs=() log
  shift
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  log=$(mktemp "$work/log.XXXXXX")
  if (cd "$dir" && env "${envs[@]}" "$bin" "$@") >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  cat "$log" >&2
  return 1
}

# --- 1. the prepared volume ------------------------------------------------------------------
base=$work/base
mkdir -p "$base"
cp params.yaml "$base/params.yaml"
say "1. scratch volume: params.yaml, momentum fetch, momentum features (embedded sample)"
(cd "$base" && "$bin" -q fetch >/dev/null && "$bin" -q features >/dev/null) || die "fetch/features on the sample failed"
cp -a "$base" "$work/sharded"
cp -a "$base" "$work/unsharded"
scratch=$work/sharded

completions=$(container "$shards_manifest" completions "$scratch") || die "could not read completions from $shards_manifest (above)"
n=${K8S_SHARDS:-$completions}
[[ $n =~ ^[1-9][0-9]*$ ]] || die "K8S_SHARDS must be a positive number (got $n)"
shard_args=() shard_env=() merge_args=() merge_env=()
# read_container ARRAY MANIFEST WHAT [N]: `container`'s output into the array ARRAY.
read_container() {
  local array=$1 out
  shift
  out=$(mktemp "$work/container.XXXXXX")
  container "$1" "$2" "$scratch" "${@:3}" >"$out" || die "could not read $2 from $1 (above)"
  mapfile -d '' -t "$array" <"$out"
}
if [[ $n == "$completions" ]]; then
  read_container shard_args "$shards_manifest" args
else
  read_container shard_args "$shards_manifest" args "$n"
fi
read_container shard_env "$shards_manifest" env
read_container merge_args "$merge_manifest" args
read_container merge_env "$merge_manifest" env
[[ " ${shard_args[*]} " == *" --shard auto/$n "* ]] || die "$shards_manifest: the args do not hold --shard auto/N: ${shard_args[*]}"
for flag in --no-track --reproducible; do
  [[ " ${merge_args[*]} " == *" $flag "* ]] || merge_args+=("$flag")
done
say "shard command ($n indexes): momentum ${shard_args[*]}"
say "merge command: momentum ${merge_args[*]}"

# The shard directory: the value after --shard-out; the merge must read the same one.
shard_dir=
for ((i = 0; i < ${#shard_args[@]} - 1; i++)); do
  [[ ${shard_args[i]} == --shard-out ]] && shard_dir=${shard_args[i + 1]}
done
[[ -n $shard_dir ]] || die "$shards_manifest: no --shard-out DIR in the args"
[[ " ${merge_args[*]} " == *" --merge $shard_dir "* ]] \
  || die "the merge Job does not read the shard Job's directory $shard_dir: ${merge_args[*]}"

# --- 2. the Indexed Job, one index at a time -------------------------------------------------
say "2. the Indexed Job's pods: JOB_COMPLETION_INDEX=0..$((n - 1))"
for ((i = 0; i < n; i++)); do
  run "$scratch" "${shard_env[@]}" "JOB_COMPLETION_INDEX=$i" -- "${shard_args[@]}" \
    || die "shard $i of $n failed (output above)"
done
expected=$(for ((i = 0; i < n; i++)); do echo "shard-$i-of-$n.shard"; done)
found=$(find "$shard_dir" -mindepth 1 -printf '%f\n' 2>/dev/null | sort -V)
[[ $found == "$expected" ]] || die "the shard directory $shard_dir holds [${found//$'\n'/ }], expected [${expected//$'\n'/ }]"
for path in "${compared[@]}" reports; do
  [[ ! -e $scratch/$path ]] || die "a shard wrote $path: shards write their .shard file only"
done

# --- 3. refusals -----------------------------------------------------------------------------
say "3a. --shard auto/N without JOB_COMPLETION_INDEX must fail"
if run "$scratch" "${shard_env[@]}" -- "${shard_args[@]}" 2>"$work/no-index.log"; then
  die "the shard command ran without JOB_COMPLETION_INDEX"
fi
grep -q JOB_COMPLETION_INDEX "$work/no-index.log" || die "the error without JOB_COMPLETION_INDEX does not name it: $(cat "$work/no-index.log")"
if [[ $n -gt 1 ]]; then
  say "3b. the merge with shard $((n - 1)) of $n missing must fail and write nothing"
  incomplete=$work/incomplete-shards
  mkdir -p "$incomplete"
  cp "$shard_dir"/*.shard "$incomplete/"
  rm "$incomplete/shard-$((n - 1))-of-$n.shard"
  incomplete_args=()
  for arg in "${merge_args[@]}"; do
    [[ $arg == "$shard_dir" ]] && arg=$incomplete
    incomplete_args+=("$arg")
  done
  if run "$scratch" "${merge_env[@]}" -- "${incomplete_args[@]}" 2>"$work/missing.log"; then
    die "the merge accepted $((n - 1)) of $n shards"
  fi
  for path in "${compared[@]}"; do
    [[ ! -e $scratch/$path ]] || die "the refused merge wrote $path"
  done
fi

# --- 4. the merge Job, against an unsharded backtest -----------------------------------------
say "4. the merge Job, then an unsharded backtest in another scratch directory"
run "$scratch" "${merge_env[@]}" -- "${merge_args[@]}" || die "the merge failed (output above)"
run "$work/unsharded" -- backtest --no-track --reproducible || die "the unsharded backtest failed (output above)"
for path in "${compared[@]}"; do
  [[ -f $scratch/$path ]] || die "the merge did not write $path"
  if ! cmp -s "$scratch/$path" "$work/unsharded/$path"; then
    diff <(head -c 4000 "$work/unsharded/$path") <(head -c 4000 "$scratch/$path") | head -20 >&2 || true
    die "$path differs between the merged shards (>) and the unsharded backtest (<)"
  fi
done
say "PASS: $n shards from $shards_manifest merged by $merge_manifest equal the unsharded backtest (${compared[*]})"
