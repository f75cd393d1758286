# Sourced by benches/python.sh and benches/gil.sh: makes (or reuses) the benchmark venv at
# $VENV (default target/bench-python-venv) with the peers from PyPI and the basehttp package
# built from ./python by maturin (a release build, as `pip install ./python` gives a user).
# The package is rebuilt only when python/, src/, Cargo.toml or Cargo.lock change (a hash
# stamp, as tests/python.rs keeps for target/python-venv). Cargo builds into
# $CARGO_TARGET_DIR when set, else target/bench-python-build. Sets PY to the venv's python.
VENV=${VENV:-target/bench-python-venv}
PEERS=(gunicorn waitress granian "uvicorn[standard]" "django==5.2.*")

bench_venv() {
  local system=${BASEHTTP_PYTHON:-python3} stamp hash build_dir
  "$system" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' ||
    { echo "needs Python 3.11+ ($system; set BASEHTTP_PYTHON)" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || "$system" -m venv "$VENV"
  VENV=$(cd "$VENV" && pwd)
  PY=$VENV/bin/python
  if ! [ -f "$VENV/peers.stamp" ] || [ "$(cat "$VENV/peers.stamp")" != "${PEERS[*]}" ]; then
    echo "installing ${PEERS[*]} and maturin into $VENV (pip)" >&2
    "$PY" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" "${PEERS[@]}"
    echo "${PEERS[*]}" >"$VENV/peers.stamp"
  fi
  hash=$( (cat Cargo.toml Cargo.lock
           find src python -type f -not -path '*/__pycache__/*' -not -path '*/target/*' | sort |
             while read -r f; do echo "$f"; cat "$f"; done) | sha256sum | cut -d' ' -f1)
  stamp=$VENV/basehttp-sources.stamp
  if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    build_dir=${CARGO_TARGET_DIR:-$PWD/target/bench-python-build}
    echo "building the basehttp package into $VENV (maturin, release; CARGO_TARGET_DIR=$build_dir)" >&2
    CARGO_TARGET_DIR=$build_dir PATH="$VENV/bin:$PATH" "$PY" -m pip install -q \
      --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./python
    echo "$hash" >"$stamp"
  fi
}
