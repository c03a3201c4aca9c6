# Sourced by the peer benchmarks (bench-vs-numba.sh, bench-vs-optuna.sh): `peer_python PIN...`
# sets `python` to the project's venv's interpreter ($MOMENTUM_VENV, default .venv, made by
# scripts/python-env.sh when absent) after installing each `name==version` pin it lacks. numpy
# is held at the venv's version (MLflow's), so pip refuses a pin that would change it rather
# than change it.
peer_python() {
  local venv=${MOMENTUM_VENV:-$root/.venv} missing=() pin
  python=$venv/bin/python
  if [[ ! -x $python ]]; then
    MOMENTUM_VENV=$venv scripts/python-env.sh
  fi
  for pin in "$@"; do
    if ! "$python" -c 'import importlib.metadata as m, sys; n, v = sys.argv[1].split("=="); sys.exit(m.version(n) != v)' \
      "$pin" 2>/dev/null; then
      missing+=("$pin")
    fi
  done
  if ((${#missing[@]})); then
    local numpy
    numpy=$("$python" -c 'import numpy; print(numpy.__version__)')
    echo "$(basename "$0"): installing ${missing[*]} into $venv (numpy stays $numpy)" >&2
    "$python" -m pip install --quiet --disable-pip-version-check "${missing[@]}" "numpy==$numpy"
  fi
}

# numba 0.68.1 and its llvmlite 0.50.0 have CPython 3.11 x86_64 wheels and accept the numpy
# that MLflow brings (2.4); numba 0.61 would downgrade it (numpy < 2.3).
numba_pins=("numba==0.68.1" "llvmlite==0.50.0")
