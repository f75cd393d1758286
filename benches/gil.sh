#!/usr/bin/env bash
# Experiment 7 (docs/experiments.md): what the GIL does to CPU-bound and to blocking views
# as basehttp's Python workers grow. One WSGI app (benches/python_apps/gil.py) with a 5 ms
# pure-Python loop (/cpu) and a 10 ms time.sleep (/sleep), served by `basehttp.start` with
# 1, 2, 4, 8 and 16 workers in turn (a fresh server each run, access log off), driven by
# `wrk -t1 -c16 --latency`. Reported per run: req/s, p50, p99, and from `handle.stats()` and
# the process's rusage, the GIL wait and the server's CPU time per request. Worker counts
# alternate in order (reversed on even repeats); the table has medians.
#
#   bash benches/gil.sh                          # 2 repeats of 7 s: about 2.5 minutes
#   DURATION=1 REPEATS=1 bash benches/gil.sh     # a smoke run, about 15 s
#   WORKERS="1 8" bash benches/gil.sh
#
# Uses the venv of benches/python.sh (target/bench-python-venv, made if missing). Needs
# python3 (3.11+), cargo, wrk and curl. Writes target/bench/gil.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-7}
REPEATS=${REPEATS:-2}
CONNECTIONS=${CONNECTIONS:-16}
WORKERS=${WORKERS:-1 2 4 8 16}
OUT=${OUT:-target/bench}

for tool in wrk curl python3 cargo; do
  command -v "$tool" >/dev/null || { echo "benches/gil.sh needs $tool (apt-get install -y wrk curl)" >&2; exit 1; }
done
source benches/python_apps/venv.sh
bench_venv
mkdir -p "$OUT"

# The driver is the server: one process, stopped (by its pid) if this script is.
driver=""
trap '[ -z "$driver" ] || kill "$driver" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM HUP PIPE
started=$(date +%s)
{
  echo "$(date '+%d %b %Y %H:%M'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; basehttp $("$PY" -c 'import basehttp; print(basehttp.__version__)'), CPython $("$PY" -c 'import platform; print(platform.python_version())')"
  echo "wrk -t1 -c$CONNECTIONS, ${DURATION} s per run, median of $REPEATS runs; workers: $WORKERS"
} | tee "$OUT/gil.md"
# shellcheck disable=SC2086
(cd benches/python_apps && exec "$PY" gil.py "$DURATION" "$REPEATS" "$CONNECTIONS" $WORKERS) >"$OUT/gil.out" &
driver=$!
tail -f --pid="$driver" "$OUT/gil.out" &
wait "$driver"
driver=""
wait
elapsed=$(($(date +%s) - started))
sed -n '/^$/,$p' "$OUT/gil.out" >>"$OUT/gil.md"
echo "took $((elapsed / 60)) min $((elapsed % 60)) s" | tee -a "$OUT/gil.md"
echo "wrote $OUT/gil.md"
