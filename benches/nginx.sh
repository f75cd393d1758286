#!/usr/bin/env bash
# Serving files: basehttp (release build, default settings) against Debian's nginx
# (`worker_processes auto; sendfile on; access_log off;`), side by side in one run, with wrk
# (issue 3, "Speed"). Both serve the same directory from loopback ports: a 1 KiB file
# (requests per second matter), the same one directory down, and a 1 MiB file (bytes per
# second matter).
#
# Runs alternate between the servers (nginx first on odd repeats, basehttp first on even
# ones), so a neighbour's burst of CPU hurts both; the figures are medians of the repeats.
#
#   bash benches/nginx.sh            # 3 repeats of 5 s per server and file
#   DURATION=10 REPEATS=5 bash benches/nginx.sh
#
# Needs nginx and wrk (`apt-get install -y nginx-light wrk`), python3 for free ports; prints a
# Markdown table for BENCHMARKS.md. Targets: 1 KiB >= 0.8x nginx's req/s, 1 MiB >= 0.9x its
# bytes/s.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}

for tool in nginx wrk python3 curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "benches/nginx.sh needs $tool (apt-get install -y nginx-light wrk)" >&2
    exit 1
  fi
done

cargo build --release --bin basehttp --quiet
BIN=target/release/basehttp

work=$(mktemp -d /tmp/basehttp-nginx.XXXXXX)
# nginx's workers run as nobody: they must be able to reach the files.
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/site" "$work/nginx-tmp"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
# The same file one directory down: basehttp checks symlinks there with one readlink more.
mkdir -p "$work/site/sub"
cp "$work/site/1k.bin" "$work/site/sub/1k.bin"
head -c 1048576 /dev/urandom >"$work/site/1m.bin"
chmod -R a+rX "$work/site"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
nginx_port=$(free_port)
basehttp_port=$(free_port)

cat >"$work/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    sendfile on;
    access_log off;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx-tmp;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/site;
    }
}
EOF

nginx -p "$work" -c "$work/nginx.conf" &
pids+=($!)
"$BIN" "$basehttp_port" -d "$work/site" --quiet >/dev/null 2>"$work/basehttp.log" &
pids+=($!)

wait_for() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answers at $1" >&2
  exit 1
}
wait_for "http://127.0.0.1:$nginx_port/1k.bin"
wait_for "http://127.0.0.1:$basehttp_port/1k.bin"

# One wrk run: prints "requests_per_second transfer_bytes_per_second".
run_wrk() {
  local url=$1
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$url" | awk '
    /^Requests\/sec:/ { rps = $2 }
    /^Transfer\/sec:/ {
      v = $2; unit = v; gsub(/[0-9.]/, "", unit); gsub(/[^0-9.]/, "", v)
      m = 1
      if (unit == "KB") m = 1024; else if (unit == "MB") m = 1048576; else if (unit == "GB") m = 1073741824
      tps = v * m
    }
    END { printf "%s %.0f\n", rps, tps }'
}

declare -A results
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "$(nginx -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); basehttp $("$BIN" -V | cut -d' ' -f2)"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $REPEATS repeats, medians"
for rep in $(seq "$REPEATS"); do
  if ((rep % 2)); then order="nginx basehttp"; else order="basehttp nginx"; fi
  for file in 1k.bin sub/1k.bin 1m.bin; do
    for server in $order; do
      port_var="${server}_port"
      line=$(run_wrk "http://127.0.0.1:${!port_var}/$file")
      results[$server,$file]+="$line;"
      echo "  repeat $rep  $server  $file  req/s=${line% *}  transfer B/s=${line#* }"
    done
  done
done

median() { tr ';' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "| file | nginx req/s | basehttp req/s | ratio | nginx MiB/s | basehttp MiB/s | ratio | target |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for file in 1k.bin sub/1k.bin 1m.bin; do
  n_rps=$(echo "${results[nginx,$file]}" | tr ';' '\n' | cut -d' ' -f1 | tr '\n' ';' | median)
  b_rps=$(echo "${results[basehttp,$file]}" | tr ';' '\n' | cut -d' ' -f1 | tr '\n' ';' | median)
  n_bps=$(echo "${results[nginx,$file]}" | tr ';' '\n' | cut -d' ' -f2 | tr '\n' ';' | median)
  b_bps=$(echo "${results[basehttp,$file]}" | tr ';' '\n' | cut -d' ' -f2 | tr '\n' ';' | median)
  case $file in
    1k.bin) target="req/s >= 0.8x" ;;
    sub/1k.bin) target="(informative)" ;;
    *) target="bytes/s >= 0.9x" ;;
  esac
  awk -v f="$file" -v nr="$n_rps" -v br="$b_rps" -v nb="$n_bps" -v bb="$b_bps" -v t="$target" 'BEGIN {
    printf "| %s | %.0f | %.0f | %.2fx | %.1f | %.1f | %.2fx | %s |\n",
      f, nr, br, br / nr, nb / 1048576, bb / 1048576, bb / nb, t }'
done
