#!/usr/bin/env bash
# Many processes on one machine (issue 19): basehttp's supervisor (`--processes N`) against
# gunicorn's and Granian's own, on loopback, driven by `wrk -t1`. Sections (ROWS):
#
#   cpu      plain.py's /cpu (1 ms of Python loop, calibrated once: BENCH_CPU_ITERS), 16
#            connections: python -m basehttp plain:application --processes 2, gunicorn -k
#            gthread -w 2 --threads 4, granian --interface wsgi --workers 2 --blocking-threads 4,
#            and python -m basehttp plain:application (one process)
#   django   the Django hello view (benchsite, /hello), 64 connections: basehttp --processes 2,
#            granian --workers 2 --blocking-threads 8, gunicorn -w 2 -k gthread --threads 8; then
#            each one's resident memory (VmRSS and PSS from /proc: the main process and each
#            worker), after that load
#   balance  basehttp demo --processes 2, then 4 (the binary, target/release/basehttp), 64
#            connections on /hello for BALANCE_SECONDS (10): each process's share of the
#            requests, from the served counts of /stats (the workers' heartbeats) before and
#            after, once they have settled
#   hup      64 connections on /hello for 8 s, SIGHUP to the supervisor at 2 s and 5 s:
#            basehttp demo --processes 2, then python -m basehttp plain:application
#            --processes 2; wrk's errors (connect, read, write, timeout, status >= 400)
#   kill     basehttp demo --processes 2, 64 connections on /hello for 6 s, SIGKILL to one
#            worker at 2 s (it has lived more than 5 s, so it is replaced at once): wrk's
#            errors against the connections that worker held (its sockets, counted from /proc
#            just before the kill; /stats' `open` is a heartbeat old, and connections move
#            between processes: the demo closes a few with `Connection: close`), and the time
#            until the supervisor logs that the replacement is ready
# and the CPU time of every basehttp supervisor over its whole life (/proc/PID/stat).
#
# The servers run as a user starts them (Python basehttp with its defaults: 8 threads a
# process, access log on, to a file), each in a process group of its own on a free
# 127.0.0.1 port; the cpu and django servers start together and stay up (idle when not
# measured), the others one at a time, each stopped before the next; all stopped at exit.
# cpu and django: a WARMUP-second wrk run per server, then REPEATS runs of DURATION seconds,
# the server order reversed on even repeats; the tables have medians, the ratios are against
# peers of the same run; each run also has each process's CPU seconds (wrk's keep-alive
# connections stay with the process that accepted them: a run where one worker got most of
# them shows it). Targets (issue 19): CPU-bound, --processes 2 >= 1.0x gunicorn and
# Granian and >= 1.5x one process; Django >= 1.0x both; each process within 20% of an equal
# share; no failed request across SIGHUPs; after kill -9 only that worker's in-flight requests
# fail and a replacement is ready in < 2 s.
#
#   bash benches/processes.sh                    # 3 repeats of 5 s: about 3.5 minutes (a first
#                                                # run also builds the binary and the venv: more)
#   DURATION=1 REPEATS=1 WARMUP=0 BALANCE_SECONDS=3 bash benches/processes.sh   # smoke, ~70 s
#   ROWS="balance hup kill" bash benches/processes.sh
#
# Uses the venv of benches/python.sh (target/bench-python-venv: venv.sh) and its helpers
# (benches/python_apps/lib.sh, processes.py); builds target/release/basehttp (cargo build
# --release: nothing to do when it is up to date). Needs python3 (3.11+), cargo, wrk and
# curl. Writes target/bench/processes.md (the tables), processes.tsv (every run: section,
# server, repeat, metric, value) and the servers' logs without their access lines in
# processes-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
WARMUP=${WARMUP:-1}
BALANCE_SECONDS=${BALANCE_SECONDS:-10}
ROWS=${ROWS:-cpu django balance hup kill}
OUT=${OUT:-target/bench}

for tool in wrk curl python3 cargo; do
  command -v "$tool" >/dev/null || { echo "benches/processes.sh needs $tool (apt-get install -y wrk curl)" >&2; exit 1; }
done
for r in $ROWS; do
  case $r in cpu | django | balance | hup | kill) ;; *) echo "unknown row: $r (cpu django balance hup kill)" >&2; exit 2 ;; esac
done
row() { [[ " $ROWS " == *" $1 "* ]]; }

source benches/python_apps/venv.sh
bench_venv
BIN=$VENV/bin
APPS=$PWD/benches/python_apps
BASEHTTP=$PWD/target/release/basehttp
if row balance || row hup || row kill; then
  echo "cargo build --release --bin basehttp" >&2
  cargo build --release --bin basehttp
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/basehttp-procbench.XXXXXX)

source benches/python_apps/lib.sh
load_pid=""
trap '[ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true; cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP PIPE
helper() { python3 "$APPS/processes.py" "$@"; }

results=$OUT/processes.tsv
printf 'section\tserver\trepeat\tmetric\tvalue\n' >"$results"
record() { # SECTION SERVER REPEAT METRIC VALUE
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
}

# wait_log NAME PATTERN N: until a server's log has N lines with PATTERN (30 s at most):
# basehttp's supervisor logs "worker pid P is ready", Granian "Started worker-N".
wait_log() {
  for _ in $(seq 300); do
    [ "$(grep -c "$2" "$work/$1.log" || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "$1: fewer than $3 lines with \"$2\" in its log after 30 s:" >&2
  cat "$work/$1.log" >&2
  exit 1
}
wait_ready() { wait_log "$1" 'is ready' "$2"; } # NAME N: N basehttp workers ready

# The supervisor's CPU time over its life, before it is stopped.
supervisor_cpu() { # NAME LABEL
  local used alive
  read -r used alive < <(helper cpu "${pgid_of[$1]}")
  record supervisor "$2" 0 cpu_s "$used"
  record supervisor "$2" 0 alive_s "$alive"
}

# A wrk run in the background, its output in $work/NAME.wrk; load_wait ends it.
load_start() { # NAME CONNECTIONS SECONDS PATH
  wrk -t1 -c"$2" -d"$3s" --latency "http://127.0.0.1:${port_of[$1]}$4" >"$work/$1.wrk" 2>&1 &
  load_pid=$!
}
load_wait() { # NAME SECTION LABEL: records wrk's figures
  local rps p50 p99 requests connect read write timeout non2xx
  wait "$load_pid"
  load_pid=""
  read -r rps p50 p99 requests connect read write timeout non2xx < <(wrk_figures <"$work/$1.wrk")
  for m in rps p50 p99 requests connect read write timeout non2xx; do record "$2" "$3" 0 "$m" "${!m}"; done
  printf '  %-8s %-40s req/s=%-9s requests=%s errors: connect=%s read=%s write=%s timeout=%s non-2xx=%s\n' \
    "$2" "$3" "$rps" "$requests" "$connect" "$read" "$write" "$timeout" "$non2xx"
}

read -r _ cpu_iters cpu_s < <(measure_apps)
export BENCH_CPU_ITERS=$cpu_iters
header=$(bench_header basehttp django gunicorn granian)
measured="the 1 ms loop ($cpu_iters iterations) takes $(awk -v s="$cpu_s" 'BEGIN { printf "%.2f", s * 1000 }') ms of CPU here (median of 20)"
echo "$header"
echo "$measured"
started=$(date +%s)

# The cpu and django servers: started together, measured in turn.
declare -A label_of command_of
serve() { # NAME LABEL COMMAND...
  local name=$1
  label_of[$name]=$2
  shift 2
  command_of[$name]="${*//$BIN\//}"
  start "$name" "$@"
}
PYB=("$BIN/python" -m basehttp)
if row cpu; then
  serve bh2 "basehttp --processes 2" "${PYB[@]}" plain:application "127.0.0.1:{port}" --processes 2
  serve gunicorn "gunicorn -w 2" "$BIN/gunicorn" -k gthread -w 2 --threads 4 -b "127.0.0.1:{port}" plain:application
  serve granian "granian --workers 2" "$BIN/granian" --interface wsgi --workers 2 --blocking-threads 4 \
    --host 127.0.0.1 --port "{port}" plain:application
  serve bh1 "basehttp (one process)" "${PYB[@]}" plain:application "127.0.0.1:{port}"
fi
if row django; then
  serve dj_bh2 "basehttp --processes 2" "${PYB[@]}" benchsite.wsgi:application "127.0.0.1:{port}" --processes 2
  serve dj_granian "granian --workers 2" "$BIN/granian" --interface wsgi --workers 2 --blocking-threads 8 \
    --host 127.0.0.1 --port "{port}" benchsite.wsgi:application
  serve dj_gunicorn "gunicorn -w 2" "$BIN/gunicorn" -k gthread -w 2 --threads 8 -b "127.0.0.1:{port}" \
    benchsite.wsgi:application
fi
servers_of() {
  case $1 in
    cpu) echo "bh2 gunicorn granian bh1" ;;
    django) echo "dj_bh2 dj_granian dj_gunicorn" ;;
  esac
}
path_of() { [ "$1" = cpu ] && echo /cpu || echo /hello; }
connections_of() { [ "$1" = cpu ] && echo 16 || echo 64; }
sections=""
for s in cpu django; do row "$s" && sections+="$s "; done

if [ -n "$sections" ]; then
  for s in "${!label_of[@]}"; do wait_for "$s" /hello; done
  for s in bh2 dj_bh2; do [ -z "${label_of[$s]:-}" ] || wait_ready $s 2; done
  for s in granian dj_granian; do [ -z "${label_of[$s]:-}" ] || wait_log $s 'Started worker-' 2; done
  sleep 1 # gunicorn logs its workers as they start, before they load the application
  for sec in $sections; do
    for s in $(servers_of "$sec"); do
      record "$sec" "${label_of[$s]}" 0 command "${command_of[$s]}"
      [ "$WARMUP" = 0 ] || wrk -t1 -c"$(connections_of "$sec")" -d"${WARMUP}s" \
        "http://127.0.0.1:${port_of[$s]}$(path_of "$sec")" >/dev/null
    done
  done
  for rep in $(seq "$REPEATS"); do
    for sec in $sections; do
      order=$(servers_of "$sec")
      ((rep % 2)) || order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
      for s in $order; do
        cpu_ticks_each "${pgid_of[$s]}" >"$work/ticks.before"
        line=$(CONNECTIONS=$(connections_of "$sec") run_wrk "${DURATION}s" "http://127.0.0.1:${port_of[$s]}$(path_of "$sec")")
        cpu_ticks_each "${pgid_of[$s]}" >"$work/ticks.after"
        read -r rps p50 p99 err reads <<<"$line"
        # The server's CPU seconds, and each process's (the busiest first: a worker that got
        # none of the connections shows as an idle one).
        read -r cpu each < <(awk -v t="$TICK" 'NR == FNR { b[$1] = $2; next } { print ($2 - b[$1]) / t }' \
          "$work/ticks.before" "$work/ticks.after" | sort -gr |
          awk '{ s += $1; e = e sprintf(" %.2f", $1) } END { printf "%.2f%s\n", s, e }')
        for m in rps p50 p99 err reads cpu each; do record "$sec" "${label_of[$s]}" "$rep" "$m" "${!m}"; done
        record "$sec" "${label_of[$s]}" "$rep" seconds "$DURATION"
        printf '  repeat %s  %-7s %-24s req/s=%-9s p50=%s ms p99=%s ms errors=%s closed=%s server CPU=%s s (each process: %s)\n' \
          "$rep" "$sec" "${label_of[$s]}" "$rps" "$p50" "$p99" "$err" "$reads" "$cpu" "$each"
      done
    done
  done
  # Memory after the Django runs' load: the main process (supervisor, arbiter) and each worker.
  if row django; then
    for s in dj_bh2 dj_gunicorn dj_granian; do
      while IFS=$'\t' read -r pid role rss pss cmd; do
        record memory "${label_of[$s]}" 0 "rss_$role" "$rss"
        record memory "${label_of[$s]}" 0 "pss_$role" "$pss"
        record memory "${label_of[$s]}" 0 process "$pid $role: ${cmd//$BIN\//}"
      done < <(helper memory "${pgid_of[$s]}")
    done
  fi
  row cpu && supervisor_cpu bh2 "python -m basehttp plain:application --processes 2 (cpu)"
  row django && supervisor_cpu dj_bh2 "python -m basehttp benchsite.wsgi:application --processes 2 (django)"
  for s in "${!label_of[@]}"; do stop "$s"; done
fi

if row balance; then
  for n in 2 4; do
    name=balance$n
    start "$name" "$BASEHTTP" demo "127.0.0.1:{port}" --processes "$n"
    wait_for "$name" /hello
    wait_ready "$name" "$n"
    url="http://127.0.0.1:${port_of[$name]}/stats"
    helper settle "$url" "$n" >"$work/$name.before"
    load_start "$name" 64 "$BALANCE_SECONDS" /hello
    load_wait "$name" balance "demo --processes $n"
    helper settle "$url" "$n" >"$work/$name.after"
    # Each process's requests: its served count after, less before (a process absent before
    # had served nothing yet).
    while read -r pid served; do
      record balance "demo --processes $n" 0 served "$served"
    done < <(awk 'NR == FNR { before[$1] = $2; next } { print $1, $2 - before[$1] }' \
      "$work/$name.before" "$work/$name.after")
    echo "  balance  demo --processes $n: served per process $(awk 'NR == FNR { b[$1] = $2; next } { printf "%s ", $2 - b[$1] }' "$work/$name.before" "$work/$name.after")"
    supervisor_cpu "$name" "basehttp demo --processes $n (balance)"
    stop "$name"
  done
fi

if row hup; then
  for name in hup_demo hup_py; do
    if [ $name = hup_demo ]; then
      label="basehttp demo --processes 2"
      start $name "$BASEHTTP" demo "127.0.0.1:{port}" --processes 2
    else
      label="python -m basehttp plain:application --processes 2"
      start $name "${PYB[@]}" plain:application "127.0.0.1:{port}" --processes 2
    fi
    wait_for $name /hello
    wait_ready $name 2
    lines=$(wc -l <"$work/$name.log")
    load_start $name 64 8 /hello
    sleep 2
    kill -HUP "${pgid_of[$name]}"
    sleep 3
    kill -HUP "${pgid_of[$name]}"
    load_wait $name hup "$label"
    ready=$(tail -n +"$((lines + 1))" "$work/$name.log" | grep -c 'is ready' || true)
    stopped=$(tail -n +"$((lines + 1))" "$work/$name.log" | grep -c 'stopped' || true)
    record hup "$label" 0 ready_after "$ready"
    record hup "$label" 0 note "$stopped old workers logged as stopped"
    echo "  hup      $label: $ready new workers ready, $stopped stopped"
    supervisor_cpu $name "$label (SIGHUP)"
    stop $name
  done
fi

if row kill; then
  name=kill_demo
  label="basehttp demo --processes 2"
  start $name "$BASEHTTP" demo "127.0.0.1:{port}" --processes 2
  wait_for $name /hello
  wait_ready $name 2
  # A worker that lived 5 s or more is replaced at once (a younger one after a back-off).
  sleep 3.5
  load_start $name 64 6 /hello
  sleep 2
  IFS=$'\t' read -r victim open held ready_ms new_pid sup exited < <(helper kill "http://127.0.0.1:${port_of[$name]}/stats" "$work/$name.log")
  [ "$sup" = "${pgid_of[$name]}" ] || { echo "killed pid $victim, whose parent $sup is not the supervisor" >&2; exit 1; }
  load_wait $name kill "$label"
  record kill "$label" 0 victim_open "$open"
  record kill "$label" 0 victim_held "$held"
  record kill "$label" 0 ready_ms "$ready_ms"
  echo "  kill     killed worker pid $victim (it held $held connections; $open at its last heartbeat): replacement pid $new_pid ready after $ready_ms ms; $exited"
  supervisor_cpu $name "$label (kill -9)"
  stop $name
fi
elapsed=$(($(date +%s) - started))

mkdir -p "$OUT/processes-logs"
for f in "$work"/*.log; do
  grep -v '"GET /' "$f" >"$OUT/processes-logs/$(basename "$f")" || true
done
{
  echo "$header"
  echo
  echo "$measured"
  echo "client: wrk -t1; cpu and django: ${DURATION} s per run, median of $REPEATS alternating runs (warm-up ${WARMUP} s); balance: ${BALANCE_SECONDS} s; $(nproc) cores; took $((elapsed / 60)) min $((elapsed % 60)) s"
  echo
  helper report "$results"
} | tee "$OUT/processes.md"
echo
echo "wrote $OUT/processes.{md,tsv} (python3 benches/python_apps/processes.py report TSV redraws"
echo "the tables); the servers' logs without access lines in $OUT/processes-logs/"
