#!/usr/bin/env bash
# Slow clients: how basehttp holds up against clients that hold connections open doing little,
# beside Debian's nginx 1.22 and the hyper peer (examples/hyper_peer.rs). Two parts:
#
#   A. slowhttptest, one attack at a time, DURATION (30) s each, probe timeout 3 s, default
#      server settings:
#        slowbody   -B (R-U-Dead-Yet) on `/`: -c 300 -r 150 -i 5 -s 1000, and -c 1000 -r 300;
#                   against the file server, nginx, and `basehttp demo`'s /echo
#        slowread   -X on the 50 MB file: -c 300|1000 -r 150 -w 10 -y 20 -n 5 -z 32 -k 1
#        slowloris  -H on `/`: -c 300|1000 -r 150 -i 5
#        range      -R (Apache Killer) on the 50 MB file: -c 300|1000 -r 150
#      The file server (`basehttp PORT -d DIR`) and nginx (`worker_processes auto; sendfile
#      on;`, a config of its own in a temp dir) serve the same directory: a small index.html
#      and a 50 MB file. Every run starts a fresh server. Reported per run: the seconds the
#      probe found the service available (slowhttptest's CSV, `Service Available` column, not
#      0), of the seconds the CSV covers; the most connections slowhttptest held; how it
#      ended; and whether the server answers a GET right afterwards (curl, 5 s).
#   B. fetch      benches/fetch_bursts.mjs: 12 bursts of 500 concurrent Node `fetch` calls to
#                 /hello, 0.9-1.1 s apart, against `basehttp demo` and the hyper peer,
#                 alternating (ROUNDS rounds, the order swapped each round). Node's fetch
#                 reuses kept-alive connections and does not retry: failed requests and
#                 burst times show how the server treats idle connections.
#
#   bash benches/slow_clients.sh                    # everything, about 15 minutes
#   bash benches/slow_clients.sh fetch              # one part (or several: slowbody range ...)
#   CONNS=300 TARGETS="basehttp demo" bash benches/slow_clients.sh slowbody
#   DURATION=10 ROUNDS=1 RESULTS=/tmp/sc bash benches/slow_clients.sh
#
# Parts: slowbody slowread slowloris range fetch (slowhttptest = the first four; all = every
# part). Environment: DURATION (30), PROBE (3), CONNS ("300 1000"), ROUNDS (2), TARGETS
# (basehttp nginx demo hyper), BUILD=0 (skip the cargo build, use the binaries already in the
# target directory), RESULTS (default target/slow-clients/<date-time>), which keeps
# the raw outputs: each run's slowhttptest output, CSV and HTML, the servers' logs, the fetch
# runs' JSON, and summary.md (the table printed at the end).
#
# Installs slowhttptest and nginx-light with apt-get when they are missing (as .ci/run does);
# needs cargo, curl, python3 (free ports) and Node 18+ for the fetch part. Loopback only. Every
# server runs in a process group of its own, stopped at the end of its run and on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30}
PROBE=${PROBE:-3}
CONNS=${CONNS:-300 1000}
ROUNDS=${ROUNDS:-2}
TARGETS=${TARGETS:-basehttp nginx demo hyper}
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-target/slow-clients/$STAMP}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

# Which parts to run.
parts=()
for arg in "$@"; do
  case $arg in
    slowbody | slowread | slowloris | range | fetch) parts+=("$arg") ;;
    slowhttptest) parts+=(slowbody slowread slowloris range) ;;
    all) parts+=(slowbody slowread slowloris range fetch) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown part: $arg (slowbody slowread slowloris range fetch slowhttptest all)" >&2; exit 2 ;;
  esac
done
[ "${#parts[@]}" -gt 0 ] || parts=(slowbody slowread slowloris range fetch)
want_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }
want_target() { [[ " $TARGETS " == *" $1 "* ]]; }
need_slowhttptest=0
for p in slowbody slowread slowloris range; do want_part "$p" && need_slowhttptest=1; done

# --- tools -------------------------------------------------------------------------------
need=()
if ((need_slowhttptest)); then
  command -v slowhttptest >/dev/null || need+=(slowhttptest)
  if want_target nginx && ! [ -x /usr/sbin/nginx ]; then need+=(nginx-light); fi
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=/usr/sbin/nginx
for tool in curl python3 cargo; do
  command -v "$tool" >/dev/null || { echo "benches/slow_clients.sh needs $tool" >&2; exit 1; }
done
if want_part fetch; then
  command -v node >/dev/null || { echo "the fetch part needs Node 18+ (global fetch)" >&2; exit 1; }
  node -e 'process.exit(typeof fetch === "function" ? 0 : 1)' ||
    { echo "the fetch part needs Node 18+ (global fetch); this is $(node --version)" >&2; exit 1; }
fi

# 1000 slow connections plus the probe on each side: slowhttptest raises its own soft limit
# up to the hard one; the servers inherit this shell's.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
max_conns=0
for c in $CONNS; do
  if ((c > max_conns)); then max_conns=$c; fi
done
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && ((nofile < max_conns + 100)); then
  echo "warning: ulimit -n is $nofile, too low for $max_conns connections" >&2
fi

# --- build -------------------------------------------------------------------------------
# BUILD=0 uses the binaries already built (say, while the tree does not compile).
if [ "${BUILD:-1}" != 0 ]; then
  cargo build --release --bin basehttp --example hyper_peer --quiet
fi
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$target_dir/release/basehttp
HYPER=$target_dir/release/examples/hyper_peer
for b in "$BIN" "$HYPER"; do
  [ -x "$b" ] || { echo "no $b: build it (cargo build --release --bin basehttp --example hyper_peer)" >&2; exit 1; }
done

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
work=$(mktemp -d /tmp/basehttp-slow.XXXXXX)
# nginx's workers run as nobody: they must be able to reach the files.
chmod 755 "$work"
server_pgid=""
stop_server() {
  if [ -n "$server_pgid" ]; then
    kill -TERM -- "-$server_pgid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- "-$server_pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$server_pgid" 2>/dev/null || true
    wait "$server_pgid" 2>/dev/null || true
    server_pgid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/site" "$work/nginx-tmp"
printf '<!doctype html>\n<title>slow clients</title>\n<p>Hello from the slow-clients bench.</p>\n' \
  >"$work/site/index.html"
head -c 52428800 /dev/urandom >"$work/site/big.bin"
chmod -R a+rX "$work/site"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server TARGET PORT LOG: starts it in a process group of its own (setsid; the script
# has no job control, so setsid does not fork and $! is the group's leader).
start_server() {
  local target=$1 port=$2 log=$3
  case $target in
    basehttp) setsid "$BIN" "127.0.0.1:$port" -d "$work/site" --quiet >"$log" 2>&1 </dev/null & ;;
    demo) setsid "$BIN" demo "127.0.0.1:$port" --quiet >"$log" 2>&1 </dev/null & ;;
    hyper) setsid "$HYPER" "127.0.0.1:$port" >"$log" 2>&1 </dev/null & ;;
    nginx)
      # Debian's defaults but for worker_connections (512 per worker would cap 2 workers
      # near 1000 connections: that limit is not what this bench measures).
      cat >"$work/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $log warn;
events { worker_connections 4096; }
http {
    sendfile on;
    access_log off;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx-tmp;
    server {
        listen 127.0.0.1:$port;
        root $work/site;
    }
}
EOF
      setsid "$NGINX" -p "$work" -e "$log" -c "$work/nginx.conf" >>"$log" 2>&1 </dev/null &
      ;;
  esac
  server_pgid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "$target does not answer on port $port (log: $log)" >&2
  exit 1
}

# after_get URL: "200 in 0.001 s", or what went wrong, for the server still running.
after_get() {
  local out rc
  if [ -n "$server_pgid" ] && ! kill -0 "$server_pgid" 2>/dev/null; then
    echo "server exited"
    return
  fi
  out=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "$1") && rc=0 || rc=$?
  if [ "$rc" = 0 ]; then
    awk -v o="$out" 'BEGIN { split(o, a, " "); printf "%s in %.1f ms\n", a[1], a[2] * 1000 }'
  elif [ "$rc" = 28 ]; then
    echo "no answer in 5 s"
  else
    echo "curl error $rc"
  fi
}

summary_rows=()
row() { # target mode connections available fetch_failures burst_times notes get_after
  local out="|" field
  for field in "$@"; do out+=" $field |"; done
  summary_rows+=("$out")
}

# --- part A: slowhttptest -------------------------------------------------------------------
# csv_summary CSV: "available total max_connected" from slowhttptest's CSV
# (Seconds,Closed,Pending,Connected,Service Available; Service Available is the number of
# connections while the last probe got an answer, 0 once one went unanswered for -p seconds).
csv_summary() {
  awk -F, '
    NR == 1 {
      for (i = 1; i <= NF; i++) {
        h = tolower($i); gsub(/[^a-z ]/, "", h)
        if (h == "service available") sa = i
        if (h == "connected") co = i
      }
      next
    }
    sa && NF >= sa { total++; if ($sa + 0 != 0) avail++; if ($co + 0 > maxc) maxc = $co + 0 }
    END { printf "%d %d %d\n", avail, total, maxc }' "$1"
}

# range_status URL: the status a HEAD with slowhttptest -R's Range header gets.
range_status() {
  local range="bytes=0-" i
  for i in $(seq 0 2000); do range+=",5-$i"; done
  curl -s -o /dev/null -I -m 5 -H "Range: $range" -w '%{http_code}' "$1" || echo "no answer"
}

run_slow() { # NAME MODE TARGET PATH CONNS SLOWHTTPTEST-FLAGS...
  local name=$1 mode=$2 target=$3 path=$4 conns=$5
  shift 5
  local port prefix ended rc check
  port=$(free_port)
  prefix="$RESULTS/$name"
  start_server "$target" "$port" "$prefix.server.log"
  local note=""
  if [ "$mode" = range ]; then
    # slowhttptest -R sends one HEAD with this header (-a 5 -b 2000, the defaults) and
    # `Connection: close`, and stops once no connection is open: say what it gets.
    note="; the range HEAD gets $(range_status "http://127.0.0.1:$port$path")"
  fi
  echo "== $name: slowhttptest $* -c $conns -l $DURATION -p $PROBE -u http://127.0.0.1:$port$path"
  timeout $((DURATION + 60)) slowhttptest "$@" -c "$conns" -l "$DURATION" -p "$PROBE" \
    -u "http://127.0.0.1:$port$path" -g -o "$prefix" >"$prefix.out" 2>&1 && rc=0 || rc=$?
  check=$(after_get "http://127.0.0.1:$port$([ "$target" = demo ] && echo /hello || echo /)")
  stop_server
  ended=$(sed 's/\x1b\[[0-9;]*m//g' "$prefix.out" |
    awk '/Test ended on/ { s = $4; sub(/[a-z]+$/, "", s) }
         /Exit status:/ { sub(/.*Exit status: */, ""); e = $0 }
         END { if (s != "") printf "ended at %s s: %s", s, e }')
  [ -n "$ended" ] || ended="slowhttptest exit $rc, no final status"
  if [ -f "$prefix.csv" ]; then
    read -r avail total maxc < <(csv_summary "$prefix.csv")
  else
    avail=0 total=0 maxc=0
    ended="no CSV; $ended"
  fi
  echo "   available $avail of $total s; max connected $maxc; $ended$note; GET after: $check"
  row "$target" "$mode" "$conns" "$avail of $total s" "-" "-" "max connected $maxc; $ended$note" "$check"
  sleep 1
}

slow_targets() { # the file-serving targets of a mode, plus any it adds
  local t
  for t in basehttp nginx "$@"; do
    if want_target "$t"; then echo "$t"; fi
  done
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; ulimit -n $(ulimit -n)"
versions="basehttp $("$BIN" -V | cut -d' ' -f2)"
if ((need_slowhttptest)); then
  # slowhttptest -h exits 1.
  versions+="; slowhttptest $( (slowhttptest -h 2>&1 || true) | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)"
  if want_target nginx; then versions+="; $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"; fi
fi
if want_part fetch; then versions+="; node $(node --version)"; fi
echo "$versions"
echo "results: $RESULTS"
started=$(date +%s)

for c in $CONNS; do
  want_part slowbody || break
  rate=150
  if ((c >= 1000)); then rate=300; fi
  for t in $(slow_targets demo); do
    path=/
    [ "$t" = demo ] && path=/echo
    run_slow "slowbody-$t-$c" slowbody "$t" "$path" "$c" -B -r "$rate" -i 5 -s 1000
  done
done
for c in $CONNS; do
  want_part slowread || break
  for t in $(slow_targets); do
    run_slow "slowread-$t-$c" slowread "$t" /big.bin "$c" -X -r 150 -w 10 -y 20 -n 5 -z 32 -k 1
  done
done
for c in $CONNS; do
  want_part slowloris || break
  for t in $(slow_targets); do
    run_slow "slowloris-$t-$c" slowloris "$t" / "$c" -H -r 150 -i 5
  done
done
for c in $CONNS; do
  want_part range || break
  for t in $(slow_targets); do
    run_slow "range-$t-$c" range "$t" /big.bin "$c" -R -r 150
  done
done

# --- part B: Node fetch bursts --------------------------------------------------------------
if want_part fetch; then
  fetch_targets=()
  for t in demo hyper; do want_target "$t" && fetch_targets+=("$t"); done
  for round in $(seq "$ROUNDS"); do
    order=("${fetch_targets[@]}")
    if ((round % 2 == 0)) && [ "${#order[@]}" = 2 ]; then order=("${order[1]}" "${order[0]}"); fi
    for t in "${order[@]}"; do
      name="fetch-$t-round$round"
      port=$(free_port)
      start_server "$t" "$port" "$RESULTS/$name.server.log"
      echo "== $name: node benches/fetch_bursts.mjs http://127.0.0.1:$port/hello (12 x 500)"
      timeout 600 node benches/fetch_bursts.mjs "http://127.0.0.1:$port/hello" \
        --bursts 12 --concurrency 500 --pause-min 0.9 --pause-max 1.1 \
        >"$RESULTS/$name.json" 2>"$RESULTS/$name.log" && rc=0 || rc=$?
      check=$(after_get "http://127.0.0.1:$port/hello")
      stop_server
      if [ "$rc" != 0 ] || ! [ -s "$RESULTS/$name.json" ]; then
        echo "   node exited $rc (see $RESULTS/$name.log)"
        row "$t" "fetch bursts" "500 x 12" "-" "node exit $rc" "-" "see $name.log" "$check"
        continue
      fi
      IFS=$'\t' read -r failures requests median maxb first bursts < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("\t".join(str(x) for x in (r["failures"], r["requests"], r["median_after_first"],
      r["max_after_first"], r["first_error"] or "-",
      " ".join("%.2f" % s for s in r["burst_seconds"]))))' "$RESULTS/$name.json")
      echo "   failed $failures of $requests (first: $first); bursts (s): $bursts"
      notes="first error: $first; bursts: $bursts"
      [ "$failures" = 0 ] && notes="bursts: $bursts"
      row "$t" "fetch bursts (round $round)" "500 x 12" "-" "$failures of $requests" \
        "$median / $maxb s" "$notes" "$check"
      sleep 1
    done
  done
fi

elapsed=$(($(date +%s) - started))
{
  echo "slow clients, $(date '+%d %b %Y %H:%M'); $(nproc) cores; $versions"
  echo "parts: ${parts[*]}; slowhttptest: ${DURATION} s runs, probe timeout ${PROBE} s; fetch: 12 bursts of 500, 0.9-1.1 s apart, $ROUNDS rounds; took $((elapsed / 60)) min $((elapsed % 60)) s"
  echo
  echo "| target | mode | connections | service available | fetch failures | burst median / max after the first | notes | GET afterwards |"
  echo "|---|---|---:|---:|---:|---:|---|---|"
  printf '%s\n' "${summary_rows[@]}"
} | tee "$RESULTS/summary.md"
echo
echo "raw outputs: $RESULTS"
