#!/usr/bin/env bash
# Instructions per request, counted by callgrind: the server's own CPU cost of a request, free
# of the machine's speed and of a neighbour's load, for comparing two versions of the code (a
# refactor must not make the hot path dearer).
#
#   bash benches/callgrind.sh                      # this checkout, cargo's usual target dir
#   CARGO_TARGET_DIR=/tmp/t bash benches/callgrind.sh /path/to/other/checkout
#   N=5000 REPEATS=1 LOG=0 bash benches/callgrind.sh
#
# It builds the release binary of the checkout given (default: the one this script is in; the
# release profile has debug=1) and, for each workload, runs `basehttp` under
# `valgrind --tool=callgrind` twice, once serving N requests and once 2N, and reports
# (I(2N) - I(N)) / N from the two files' totals: start-up, connection set-up and shutdown
# cancel out, and no function name is needed, so the figures stay comparable when internals
# are renamed. Only the binary and its command line are relied on.
#
# One run: start the server under callgrind on a free 127.0.0.1 port; wait until it accepts;
# send WARMUP requests (the server is then past its start-up: `basehttp demo` calibrates its
# /cpu loop for ~40 ms of wall time, a count that changes from run to run by ~6% of the
# figures below, and lazy first-use work is done); zero callgrind's counters
# (`callgrind_control --zero`); send the measured requests; stop the server with SIGINT (a
# graceful shutdown, so callgrind writes its file); read its `totals:` line. The client,
# callgrind_client.py next to this script, runs natively (not under valgrind), sends exact
# counts and checks every answer (status, Content-Length, body); any failure stops the script
# with an error.
#
# Workloads (the access log off, `--quiet`, except the last):
#   hello-keepalive      `basehttp demo`, 1 keep-alive connection, GET /hello one at a time
#   hello-pipelined      `basehttp demo`, 8 connections, 16 GET /hello per write, all 16
#                        answers read, repeated
#   file-1k              `basehttp -d DIR`, 1 keep-alive connection, GET of a 1 KiB file
#   hello-keepalive-log  the first with the access log on, written to a file (LOG=1)
# The server ends a connection after 1000 requests (its default); the client then opens a new
# one and re-sends what was not answered, so that cost is in the figures (once per 1000).
#
# Settings (environment):
#   N          requests of the smaller run (default 20000; the larger one sends 2N)
#   REPEATS    measurements per workload (default 3); the median is printed, each one is
#              logged to stderr
#   WORKERS    the server's -w (default 2). With more workers than cores the run gate's
#              monitor thread wakes every 5 ms (every 100 us while a handler runs), a count
#              proportional to wall time, not to requests; with -w 2 on a machine with two
#              or more cores there is no monitor. WORKERS=8 measures the default set-up.
#   LOG        0 leaves out the hello-keepalive-log row (default 1)
#   WORKLOADS  the workloads to run, space-separated (default all of the above)
#   WARMUP     requests sent before the counters are zeroed (default 16)
#   ZERO       0 skips `callgrind_control --zero` (the plain difference method; the demo's
#              calibration then makes its rows vary by several percent)
#   KEEP       1 keeps the work directory (callgrind files, server and client output)
#
# Output: one line per workload, `workload  instructions/request`, on stdout; progress and
# the raw totals on stderr. Needs valgrind (with callgrind_control), python3 and cargo. The
# default settings take about three to four minutes on a 2-core machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "${1:-$here/..}" && pwd)
client="$here/callgrind_client.py"

N=${N:-20000}
REPEATS=${REPEATS:-3}
WORKERS=${WORKERS:-2}
LOG=${LOG:-1}
WARMUP=${WARMUP:-16}
ZERO=${ZERO:-1}
KEEP=${KEEP:-0}
default_workloads="hello-keepalive hello-pipelined file-1k"
if [ "$LOG" = 1 ]; then default_workloads+=" hello-keepalive-log"; fi
WORKLOADS=${WORKLOADS:-$default_workloads}

for tool in valgrind callgrind_control python3 cargo; do
  if ! command -v "$tool" >/dev/null; then
    echo "benches/callgrind.sh needs $tool (apt-get install -y valgrind python3)" >&2
    exit 1
  fi
done
for value in "$N" "$REPEATS" "$WORKERS" "$WARMUP"; do
  if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    echo "N, REPEATS, WORKERS and WARMUP must be positive integers" >&2
    exit 1
  fi
done
for workload in $WORKLOADS; do
  case $workload in
    hello-keepalive | hello-pipelined | file-1k | hello-keepalive-log) ;;
    *)
      echo "unknown workload $workload" >&2
      exit 1
      ;;
  esac
done

log() { echo "callgrind.sh: $*" >&2; }

# The binary, wherever cargo puts it (CARGO_TARGET_DIR, a config's target-dir, or ./target).
log "building $checkout (cargo build --release)"
bin=$(cd "$checkout" && cargo build --release --bin basehttp \
  --message-format=json-render-diagnostics |
  python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["target"]["name"] == "basehttp":
        exe = msg["executable"]
if not exe:
    sys.exit("no basehttp executable in the output of cargo build")
print(exe)')
log "binary: $bin"

work=$(mktemp -d /tmp/basehttp-callgrind.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    # SIGTERM is a graceful shutdown too; SIGKILL if that takes more than 10 s.
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then
    log "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fixed 1 KiB file (the same bytes every run).
mkdir -p "$work/site"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(i * 7 % 256 for i in range(1024)))' \
  >"$work/site/1k.bin"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_once TAG REQUESTS: one server under callgrind for $workload, REQUESTS measured requests;
# sets $total to the instruction total. (Not in a subshell: the EXIT trap must see the pid.)
run_once() {
  local tag=$1 requests=$2 port out stderr_to server_args path expect shape
  port=$(free_port)
  out="$work/$tag.callgrind"
  stderr_to="$work/$tag.stderr"
  path=/hello
  expect=(--text "Hello, World!")
  shape=()
  case $workload in
    hello-keepalive) server_args=(demo "127.0.0.1:$port" --quiet) ;;
    hello-keepalive-log) server_args=(demo "127.0.0.1:$port") ;;
    hello-pipelined)
      server_args=(demo "127.0.0.1:$port" --quiet)
      shape=(--connections 8 --pipeline 16)
      ;;
    file-1k)
      server_args=("127.0.0.1:$port" -d "$work/site" --quiet)
      path=/1k.bin
      expect=(--body "$work/site/1k.bin")
      ;;
  esac
  server_args+=(-w "$WORKERS")

  # vgdb's FIFOs (callgrind_control talks through them) in the work directory, not /tmp.
  valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$work/$tag.valgrind" \
    --vgdb-prefix="$work/vgdb" "$bin" "${server_args[@]}" >"$work/$tag.stdout" 2>"$stderr_to" &
  server_pid=$!
  if ! python3 "$client" wait "$port" 120 "$server_pid"; then
    log "$tag: the server did not start; its output:"
    cat "$work/$tag.stdout" "$stderr_to" "$work/$tag.valgrind" >&2 || true
    return 1
  fi
  # Warm-up on one connection, then a moment for the server to finish with it.
  if ! python3 "$client" run "$port" "$path" "$WARMUP" "${expect[@]}" >"$work/$tag.warmup"; then
    log "$tag: the warm-up requests failed"
    return 1
  fi
  sleep 0.5
  if [ "$ZERO" = 1 ] && ! callgrind_control --vgdb-prefix="$work/vgdb" --zero "$server_pid" >"$work/$tag.zero" 2>&1; then
    log "$tag: callgrind_control --zero failed (ZERO=0 does without it):"
    cat "$work/$tag.zero" >&2
    return 1
  fi
  if ! python3 "$client" run "$port" "$path" "$requests" "${expect[@]}" "${shape[@]}" \
    >"$work/$tag.client"; then
    log "$tag: the client failed"
    return 1
  fi

  kill -INT "$server_pid"
  local waited=0 status=0
  while kill -0 "$server_pid" 2>/dev/null && [ $waited -lt 1200 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    log "$tag: the server did not stop within 120 s of SIGINT"
    return 1
  fi
  wait "$server_pid" || status=$?
  server_pid=
  if [ $status -ne 0 ]; then
    log "$tag: the server exited with status $status"
    cat "$stderr_to" "$work/$tag.valgrind" >&2 || true
    return 1
  fi

  total=$(awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 } END { print (t != "" ? t : s) }' \
    "$out" 2>/dev/null || true)
  if ! [[ "$total" =~ ^[0-9]+$ ]]; then
    log "$tag: no totals line in $out"
    return 1
  fi
  if [ "$workload" = hello-keepalive-log ]; then
    local lines
    lines=$(grep -c '"GET /hello HTTP/1.1" 200' "$stderr_to" || true)
    if [ "$lines" -ne $((requests + WARMUP)) ]; then
      log "$tag: $lines access lines for $requests requests and $WARMUP of warm-up"
      return 1
    fi
  fi
  log "$tag: $total instructions ($(cat "$work/$tag.client"))"
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)) }'
}

started=$SECONDS
log "N=$N and 2N=$((2 * N)) requests, REPEATS=$REPEATS, -w $WORKERS, WARMUP=$WARMUP, ZERO=$ZERO"
for workload in $WORKLOADS; do
  figures=()
  for repeat in $(seq "$REPEATS"); do
    run_once "$workload.$repeat.n" "$N"
    small=$total
    run_once "$workload.$repeat.2n" $((2 * N))
    large=$total
    figure=$(((large - small + N / 2) / N))
    log "$workload: ($large - $small) / $N = $figure instructions/request"
    figures+=("$figure")
  done
  if [ "$REPEATS" -gt 1 ]; then
    log "$workload: ${figures[*]}"
  fi
  printf '%-20s %s\n' "$workload" "$(printf '%s\n' "${figures[@]}" | median)"
done
log "done in $((SECONDS - started)) s"
