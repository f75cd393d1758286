# Sourced by benches/python.sh and benches/processes.sh (after venv.sh's bench_venv, which sets
# PY): servers on free 127.0.0.1 ports in process groups of their own, stopped at exit; wrk
# runs and their figures; CPU time from /proc; the apps' calibration; the header of a table.
#
# The caller sets `work` (a temporary directory: the servers' logs) and `APPS` (the directory
# servers start in), `CONNECTIONS` for run_wrk (or per call: CONNECTIONS=16 run_wrk ...), and
# traps EXIT with cleanup.

pgids=()
declare -A port_of pgid_of

# descendants PID: the processes below PID (children, theirs, ...), one pid a line, from the
# parent pids in /proc/PID/stat (past "(comm) " the fields are state, ppid, pgrp, ...).
descendants() {
  # A process may end between the glob and the read: cat then fails, which is no error here.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { pid = $1; sub(/^.*\) /, ""); parent[pid] = $2 }
    END {
      for (p in parent)
        for (q = parent[p]; q in parent; q = parent[q])
          if (q == root) { print p; break }
    }'
}

# stop_groups PGID...: SIGTERM to each group and its leader (a server interrupted before its
# setsid is in no group yet), up to 5 s for each to end, then SIGKILL; the same for the
# processes below a leader outside its group (basehttp's worker processes have groups of
# their own: a supervisor stops them, and they stop when it is gone, but not at once).
stop_groups() {
  local pg p below=()
  for pg in "$@"; do
    for p in $(descendants "$pg"); do below+=("$p"); done
    kill -TERM -- "-$pg" "$pg" 2>/dev/null || true
  done
  for pg in "$@"; do
    for _ in $(seq 50); do
      kill -0 -- "-$pg" 2>/dev/null || kill -0 "$pg" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pg" "$pg" 2>/dev/null || true
  done
  for p in "${below[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
  done
}

cleanup() {
  stop_groups "${pgids[@]}"
  pgids=()
  wait 2>/dev/null || true
}

# stop NAME: stops one server started by start (its log stays).
stop() {
  local pg=${pgid_of[$1]} keep=() x
  stop_groups "$pg"
  wait "$pg" 2>/dev/null || true
  for x in "${pgids[@]}"; do [ "$x" = "$pg" ] || keep+=("$x"); done
  pgids=("${keep[@]}")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME COMMAND...: in $APPS, in a process group of its own (setsid does not fork here:
# the script has no job control, so $! is the group's leader), output to $work/NAME.log. The
# command may use {port}.
start() {
  local name=$1 port
  shift
  port=$(free_port)
  port_of[$name]=$port
  local args=("${@//\{port\}/$port}")
  (cd "$APPS" && exec setsid "${args[@]}" >"$work/$name.log" 2>&1 </dev/null) &
  pgids+=($!)
  pgid_of[$name]=$!
}

wait_for() { # NAME PATH
  local url="http://127.0.0.1:${port_of[$1]}$2"
  for _ in $(seq 150); do
    curl -sf -o /dev/null -m 2 "$url" && return 0
    sleep 0.1
  done
  echo "$1 does not answer at $url; its log:" >&2
  cat "$work/$1.log" >&2
  exit 1
}

# cpu_ticks_each PGID: "pid ticks" for each process in a group and below it (all its threads):
# the user + system CPU time, in clock ticks, from /proc/PID/stat (utime and stime are the 12th
# and 13th fields past "(comm) "). cpu_ticks PGID: their sum.
cpu_ticks_each() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v g="$1" '
    { pid = $1; sub(/^.*\) /, ""); parent[pid] = $2; group[pid] = $3; ticks[pid] = $12 + $13 }
    END {
      for (p in ticks)
        for (q = p; q in parent; q = parent[q])
          if (group[q] == g) { print p, ticks[p]; break }
    }'
}
cpu_ticks() {
  cpu_ticks_each "$1" | awk '{ t += $2 } END { print t + 0 }'
}
TICK=$(getconf CLK_TCK)

# wrk_figures: wrk's output (with --latency) on stdin; prints "req/s p50_ms p99_ms requests
# connect read write timeout non2xx" (the last five are wrk's errors: its socket errors and
# the answers of status 400 or more).
wrk_figures() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return v
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / requests in / { requests = $1 }
    /Socket errors:/ { gsub(/,/, ""); connect = $4; read = $6; write = $8; timeout = $10 }
    /Non-2xx or 3xx responses:/ { status = $5 }
    END {
      printf "%s %.2f %.2f %d %d %d %d %d %d\n", (rps == "" ? 0 : rps), p50, p99, requests,
        connect, read, write, timeout, status
    }'
}

# One wrk run: "req/s p50_ms p99_ms errors reads". reads are wrk's read errors: connections the
# server closed after a response (runserver closes each: Django's response has no
# Content-Length without CommonMiddleware); errors are the rest and non-2xx answers.
run_wrk() { # DURATION URL
  wrk -t1 -c"$CONNECTIONS" -d"$1" --latency "$2" | wrk_figures |
    awk '{ print $1, $2, $3, $5 + $7 + $8 + $9, $6 }'
}

# measure_apps: "sleep_s cpu_iters cpu_s": time.sleep(0.010)'s real duration, and plain.py's
# 1 ms loop, calibrated here once (export BENCH_CPU_ITERS=cpu_iters: every server gets the
# same iteration count) and timed again (the median of 20).
measure_apps() {
  (cd "$APPS" && "$PY" -c '
import statistics, time, plain
t = time.perf_counter()
for _ in range(50): time.sleep(0.010)
s = (time.perf_counter() - t) / 50
n = plain.calibrate(0.001)
def once():
    t = time.thread_time(); plain.spin(n); return time.thread_time() - t
print(s, n, statistics.median(once() for _ in range(20)))')
}

# bench_header PACKAGE...: the date, the cores, the load average, CPython and the packages'
# versions (from the venv), and wrk's.
bench_header() {
  local versions
  versions=$(cd "$APPS" && "$PY" -c '
import importlib.metadata as m, sys
print("CPython %d.%d.%d; " % sys.version_info[:3] + ", ".join(
    "%s %s" % (p, m.version(p)) for p in sys.argv[1:]))' "$@")
  echo "$(date '+%d %b %Y %H:%M'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $versions; $( (wrk -v 2>&1 || true) | head -1 | cut -d" " -f1-2)"
}
