#!/usr/bin/env bash
# Python WSGI servers (issue 12, "Speed"): basehttp's Python package against Django's
# runserver, gunicorn, waitress and Granian, each server one process, driven by
# `wrk -t1 -c64` on loopback, with uvicorn serving an `async def` Django view for the
# sync-against-async comparison. Workloads (benches/python_apps/):
#
#   hello    plain WSGI hello (plain.py)          basehttp, gunicorn, waitress, granian,
#                                                 and basehttp with one worker (the GIL ceiling)
#   django   a Django 5.2 hello view (benchsite)  basehttp, runserver, gunicorn, waitress,
#                                                 granian, uvicorn (sync view, informative)
#   sleep    plain WSGI, time.sleep(10 ms)        basehttp, gunicorn, waitress, granian, and
#                                                 uvicorn with an `async def` view awaiting 10 ms
#   cpu      plain WSGI, 1 ms of Python loop      basehttp, gunicorn, waitress, granian
#
# The servers, as a user starts them (all on free 127.0.0.1 ports, started once, in process
# groups of their own, stopped with SIGTERM at the end):
#   basehttp   python -m basehttp plain:application (its Python defaults: 8 workers, access
#              log on: stderr to a file); benchsite.wsgi:application for Django
#   runserver  python manage.py runserver --noreload (one process: no autoreloader child;
#              its request log to a file)
#   gunicorn   gunicorn -k gthread -w 1 --threads 8 (its default logging: no access log)
#   waitress   waitress-serve --threads 8 (no access log by default)
#   granian    granian --interface wsgi --workers 1 --blocking-threads 8 (no access log by default)
#   uvicorn    uvicorn benchsite.asgi:application --workers 1 (uvicorn[standard]: uvloop and
#              httptools; its access log on, to a file)
# Django: DEBUG=False, ALLOWED_HOSTS=['127.0.0.1'], no middleware, no apps, no database;
# BENCH_MIDDLEWARE=django.middleware.common.CommonMiddleware (dotted paths, comma-separated)
# adds middleware (that one gives responses a Content-Length, so runserver keeps connections).
#
# Runs alternate (the server order reversed on even repeats), each after a WARMUP-second
# wrk run per server and workload; the table has medians. Targets (issue 12): plain hello
# >= 1.0x Granian and >= 3x gunicorn; the Django view >= 1.0x every WSGI peer; the sleeping
# app >= 95% of the lower of Little's bound (8 workers / 10 ms = 800/s) and its GIL ceiling
# (hello on one worker).
#
#   bash benches/python.sh                       # 3 repeats of 5 s: about 6 minutes (a first run
#                                                # also makes the venv and builds: minutes more)
#   DURATION=1 REPEATS=1 WARMUP=0 bash benches/python.sh      # a smoke run, under a minute
#   WORKLOADS="hello sleep" bash benches/python.sh
#
# Makes its venv in target/bench-python-venv (benches/python_apps/venv.sh: the peers from
# PyPI, basehttp built from ./python by maturin; the helpers it shares with processes.sh in
# benches/python_apps/lib.sh). Needs python3 (3.11+), cargo, wrk and curl.
# Writes target/bench/python.md (the table), python.tsv (every run), python-meta.json (what
# was measured besides) and python.svg (the chart); the servers' logs in python-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-64}
WORKLOADS=${WORKLOADS:-hello django sleep cpu}
OUT=${OUT:-target/bench}

for tool in wrk curl python3 cargo; do
  command -v "$tool" >/dev/null || { echo "benches/python.sh needs $tool (apt-get install -y wrk curl)" >&2; exit 1; }
done

source benches/python_apps/venv.sh
bench_venv
BIN=$VENV/bin
APPS=$PWD/benches/python_apps
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/basehttp-pybench.XXXXXX)

source benches/python_apps/lib.sh
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP PIPE

# Which servers run which workload, in table order.
servers_for() {
  case $1 in
    hello) echo "basehttp basehttp_w1 gunicorn waitress granian" ;;
    django) echo "dj_basehttp runserver dj_gunicorn dj_waitress dj_granian uvicorn" ;;
    sleep) echo "basehttp gunicorn waitress granian uvicorn" ;;
    cpu) echo "basehttp gunicorn waitress granian" ;;
  esac
}
label() {
  case $1 in
    basehttp | dj_basehttp) echo basehttp ;;
    basehttp_w1) echo "basehttp (w=1)" ;;
    dj_*) echo "${1#dj_}" ;;
    uvicorn) [ "$2" = sleep ] && echo "uvicorn (async view)" || echo "uvicorn (sync view)" ;;
    *) echo "$1" ;;
  esac
}
path_for() { # SERVER WORKLOAD
  case $2 in
    hello | django) echo /hello ;;
    sleep) [ "$1" = uvicorn ] && echo /async-sleep || echo /sleep ;;
    cpu) echo /cpu ;;
  esac
}

need=" "
for w in $WORKLOADS; do
  case $w in hello | django | sleep | cpu) ;; *) echo "unknown workload: $w (hello django sleep cpu)" >&2; exit 2 ;; esac
  need+="$(servers_for "$w") "
done
has() { [[ "$need" == *" $1 "* ]]; }

# What bounds the apps: time.sleep(0.010)'s real duration, and the 1 ms loop (lib.sh).
read -r sleep_s cpu_iters cpu_s < <(measure_apps)
export BENCH_CPU_ITERS=$cpu_iters

G="-k gthread -w 1 --threads 8 -b 127.0.0.1:{port}"
has basehttp && start basehttp "$BIN/python" -m basehttp plain:application "127.0.0.1:{port}"
has basehttp_w1 && start basehttp_w1 "$BIN/python" -m basehttp plain:application "127.0.0.1:{port}" -w 1
# shellcheck disable=SC2086
has gunicorn && start gunicorn "$BIN/gunicorn" $G plain:application
has waitress && start waitress "$BIN/waitress-serve" --threads 8 --listen "127.0.0.1:{port}" plain:application
has granian && start granian "$BIN/granian" --interface wsgi --workers 1 --blocking-threads 8 \
  --host 127.0.0.1 --port "{port}" plain:application
has dj_basehttp && start dj_basehttp "$BIN/python" -m basehttp benchsite.wsgi:application "127.0.0.1:{port}"
has runserver && start runserver "$BIN/python" manage.py runserver --noreload "127.0.0.1:{port}"
# shellcheck disable=SC2086
has dj_gunicorn && start dj_gunicorn "$BIN/gunicorn" $G benchsite.wsgi:application
has dj_waitress && start dj_waitress "$BIN/waitress-serve" --threads 8 --listen "127.0.0.1:{port}" benchsite.wsgi:application
has dj_granian && start dj_granian "$BIN/granian" --interface wsgi --workers 1 --blocking-threads 8 \
  --host 127.0.0.1 --port "{port}" benchsite.wsgi:application
has uvicorn && start uvicorn "$BIN/uvicorn" benchsite.asgi:application --workers 1 --host 127.0.0.1 --port "{port}"
for s in "${!port_of[@]}"; do wait_for "$s" /hello; done

header=$(bench_header basehttp django gunicorn waitress granian uvicorn)
echo "$header"
echo "wrk -t1 -c$CONNECTIONS, ${DURATION} s per run, $REPEATS alternating repeats, medians; warm-up ${WARMUP} s"
measured="time.sleep(0.010) takes $(awk -v s="$sleep_s" 'BEGIN { printf "%.2f", s * 1000 }') ms here; the 1 ms loop ($cpu_iters iterations) $(awk -v s="$cpu_s" 'BEGIN { printf "%.2f", s * 1000 }') ms of CPU (median of 20)"
echo "$measured"

if [ "$WARMUP" != 0 ]; then
  for w in $WORKLOADS; do
    for s in $(servers_for "$w"); do
      wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:${port_of[$s]}$(path_for "$s" "$w")" >/dev/null
    done
  done
fi

results=$OUT/python.tsv
: >"$results"
started=$(date +%s)
for rep in $(seq "$REPEATS"); do
  for w in $WORKLOADS; do
    order=$(servers_for "$w")
    ((rep % 2)) || order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
    for s in $order; do
      t0=$(cpu_ticks "${pgid_of[$s]}")
      line=$(run_wrk "${DURATION}s" "http://127.0.0.1:${port_of[$s]}$(path_for "$s" "$w")")
      t1=$(cpu_ticks "${pgid_of[$s]}")
      read -r rps p50 p99 err reads <<<"$line"
      cpu=$(awk -v a="$t0" -v b="$t1" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$(label "$s" "$w")" "$rep" "$rps" "$p50" "$p99" "$err" "$reads" "$cpu" >>"$results"
      printf '  repeat %s  %-7s %-22s req/s=%-9s p50=%s ms p99=%s ms errors=%s closed=%s server CPU=%s s\n' \
        "$rep" "$w" "$(label "$s" "$w")" "$rps" "$p50" "$p99" "$err" "$reads" "$cpu"
    done
  done
done
elapsed=$(($(date +%s) - started))

# Stop the servers (SIGTERM: basehttp prints the GIL wait as it stops) and keep their logs.
cleanup
pgids=()
gil_lines=""
for s in basehttp basehttp_w1 dj_basehttp; do
  [ -f "$work/$s.log" ] || continue
  g=$(sed -n 's/.*Workers waited \([0-9.]*\) s in total for the GIL.*/\1/p' "$work/$s.log" | tail -1)
  [ -n "$g" ] && gil_lines+="$s: workers waited ${g} s in total for the GIL over the whole run; "
done
mkdir -p "$OUT/python-logs"
cp "$work"/*.log "$OUT/python-logs/"

servers_json=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
  basehttp "basehttp (w=1)" runserver gunicorn waitress granian "uvicorn (sync view)" "uvicorn (async view)")
cat >"$OUT/python-meta.json" <<EOF
{"workers": 8, "duration": $DURATION, "repeats": $REPEATS, "date": "$(date '+%d %b %Y')", "sleep_s": $sleep_s, "cpu_s": $cpu_s, "cpu_iters": $cpu_iters, "servers": $servers_json}
EOF
{
  echo "$header"
  echo
  echo "$measured"
  echo "client: wrk -t1 -c$CONNECTIONS; ${DURATION} s per run, median of $REPEATS alternating runs; $(nproc) cores; one process per server; basehttp with its Python defaults (8 workers, access log on, to a file); took $((elapsed / 60)) min $((elapsed % 60)) s"
  echo
  (cd "$APPS" && python3 report.py "$results" "$OUT/python-meta.json" "$OUT/python.svg")
  echo
  echo "${gil_lines:-no GIL wait reported}"
} | tee "$OUT/python.md"
echo
echo "wrote $OUT/python.{md,tsv,svg} and python-meta.json (python3 benches/python_apps/report.py"
echo "TSV META SVG redraws them); server logs in $OUT/python-logs/"
