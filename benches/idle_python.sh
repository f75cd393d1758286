#!/usr/bin/env bash
# A request on an idle kept-alive connection, Python package against Granian: the wake-up cost
# a developer's browser meets on every click (a few connections, opened once, mostly idle).
# Both serve the plain WSGI hello (benches/python_apps/plain.py, /hello), one process each,
# as benches/python.sh starts them:
#   basehttp   python -m basehttp plain:application (its Python defaults: 8 workers, access
#              log on: stderr to a file)
#   granian    granian --interface wsgi --workers 1 --blocking-threads 8 (no access log by
#              default)
#
# The client (benches/python_apps/idle_client.py, plain sockets, TCP_NODELAY) opens 6
# connections and sends one request on each, then 15 times sleeps 0.3 s and times one GET on a
# random one of the 6, from the first byte written to the last byte of the response read. The
# servers alternate over REPEATS repeats (the order reversed on even ones); the table has the
# median of the repeats' medians, the max of every sample, in ms, and the ratio basehttp/Granian.
# Target: basehttp <= 1.2x Granian.
#
#   bash benches/idle_python.sh               # 3 repeats: about half a minute (a first run also
#                                             # makes the venv and builds: minutes more)
#   REPEATS=1 ROUNDS=5 bash benches/idle_python.sh     # a smoke run
#
# Uses the benchmark venv of benches/python.sh (target/bench-python-venv, made or refreshed by
# benches/python_apps/venv.sh). Needs python3 (3.11+), cargo and curl. Servers listen on free
# 127.0.0.1 ports, each in a process group of its own, stopped on exit (Ctrl-C too). Writes
# target/bench/idle_python.md (the table) and the servers' logs to target/bench/idle_python-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${REPEATS:-3}
ROUNDS=${ROUNDS:-15}
PAUSE=${PAUSE:-0.3}
CONNS=${CONNS:-6}
OUT=${OUT:-target/bench}

for tool in python3 cargo curl; do
  command -v "$tool" >/dev/null || { echo "benches/idle_python.sh needs $tool" >&2; exit 1; }
done

work=
pgids=()
client=
cleanup() {
  local pg
  if [ -n "$client" ]; then kill -TERM "$client" 2>/dev/null || true; fi
  client=
  # The group, and the pid itself: a server interrupted before its setsid is in no group yet.
  for pg in "${pgids[@]}"; do kill -TERM -- "-$pg" "$pg" 2>/dev/null || true; done
  for pg in "${pgids[@]}"; do
    for _ in $(seq 50); do
      kill -0 -- "-$pg" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pg" "$pg" 2>/dev/null || true
  done
  pgids=()
  wait 2>/dev/null || true
}
trap 'cleanup; [ -z "$work" ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP PIPE

source benches/python_apps/venv.sh
bench_venv
BIN=$VENV/bin
APPS=$PWD/benches/python_apps
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/basehttp-idle.XXXXXX)

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

declare -A port_of
# start NAME COMMAND...: in benches/python_apps, in a process group of its own (setsid does
# not fork: the script has no job control, so $! is the group's leader), output to
# $work/NAME.log. The command may use {port}.
start() {
  local name=$1 port
  shift
  port=$(free_port)
  port_of[$name]=$port
  local args=("${@//\{port\}/$port}")
  (cd "$APPS" && exec setsid "${args[@]}" >"$work/$name.log" 2>&1 </dev/null) &
  pgids+=($!)
}

wait_for() { # NAME
  local url="http://127.0.0.1:${port_of[$1]}/hello"
  for _ in $(seq 150); do
    curl -sf -o /dev/null -m 2 "$url" && return 0
    sleep 0.1
  done
  echo "$1 does not answer at $url; its log:" >&2
  cat "$work/$1.log" >&2
  exit 1
}

start basehttp "$BIN/python" -m basehttp plain:application "127.0.0.1:{port}"
start granian "$BIN/granian" --interface wsgi --workers 1 --blocking-threads 8 \
  --host 127.0.0.1 --port "{port}" plain:application
wait_for basehttp
wait_for granian

versions=$(cd "$APPS" && "$BIN/python" -c '
import importlib.metadata as m, sys
print("CPython %d.%d.%d; " % sys.version_info[:3] + ", ".join(
    "%s %s" % (p, m.version(p)) for p in ("basehttp", "granian")))')
header="$(date '+%d %b %Y %H:%M'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $versions"
how="$CONNS kept-alive connections, one request each, then $ROUNDS times: sleep $PAUSE s, one GET /hello on a random one, timed from write to full response read; $REPEATS alternating repeats, median of the repeats' medians, max of every sample"
echo "$header" >&2
echo "$how" >&2

# The client in the background, so that the traps here run at once on a signal.
"$BIN/python" "$APPS/idle_client.py" --repeats "$REPEATS" --rounds "$ROUNDS" --pause "$PAUSE" \
  --conns "$CONNS" basehttp="${port_of[basehttp]}" granian="${port_of[granian]}" >"$work/table.md" &
client=$!
wait "$client"
client=

cleanup
mkdir -p "$OUT/idle_python-logs"
cp "$work"/*.log "$OUT/idle_python-logs/"
{
  echo "$header"
  echo
  echo "$how; basehttp with its Python defaults (8 workers, access log on, to a file), Granian with \`--workers 1 --blocking-threads 8\`"
  echo
  cat "$work/table.md"
} | tee "$OUT/idle_python.md"
echo "wrote $OUT/idle_python.md; server logs in $OUT/idle_python-logs/" >&2
