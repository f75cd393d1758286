#!/usr/bin/env bash
# Page load time in a real browser, the developer's reload: headless Chromium (Debian's
# /usr/bin/chromium) driven through the DevTools protocol by benches/pageload.py, from
# navigation start to the end of the load event, with the HTTP cache on (one profile per
# server for all its loads, so after the warm-up load the browser revalidates with
# If-None-Match / If-Modified-Since and the servers answer 304; the files' times are set a day
# ahead so that it does so on every server, see `ahead` below; REVALIDATE=0 leaves them, and
# Chromium then takes some files from its cache unasked). Two pages, servers alternating:
#
#   static   index.html and 6 stylesheets of about 4 KB (a site written in a temp dir), served by
#              nginx        Debian's /usr/sbin/nginx, a generated config in the temp dir
#                           (worker_processes auto, sendfile on, its access log to a file)
#              basehttp     target/release/basehttp 127.0.0.1:PORT -d DIR (defaults, access
#                           log to a file)
#              http.server  python3 -m http.server PORT --bind 127.0.0.1 --directory DIR
#            targets: basehttp <= 1.1x nginx, and faster than http.server
#   admin    Django's admin login page, /admin/login/, and its 7 stylesheets and scripts,
#            through `manage.py runserver --noreload` of a fresh `django-admin startproject`
#            (SQLite, migrated; DEBUG on, so runserver serves the static files; with
#            REVALIDATE=1 the admin's files from a copy in the project's STATICFILES_DIRS):
#              runserver            Django's own
#              basehttp runserver   the same project with "basehttp" first in INSTALLED_APPS
#                                   (a second settings module that adds it)
#            target: basehttp's runserver faster than Django's
#
# Each server's page is loaded once to warm, then REPEATS times LOADS loads one second apart
# (the servers of a page taking turns, the order reversed on even repeats); the table has the
# median of the repeats' medians, min and max of every load, the ratio to the page's first
# server, and the requests each load sent (and how many got 304).
#
#   bash benches/pageload.sh                   # 3 repeats of 10 loads: about 3 minutes
#   QUICK=1 bash benches/pageload.sh           # a smoke run: 1 repeat of 3 loads, under a minute
#   REPEATS=5 LOADS=20 bash benches/pageload.sh
#   REVALIDATE=0 bash benches/pageload.sh      # files' times as written and installed
#
# Uses the benchmark venv of benches/python.sh (target/bench-python-venv, made or refreshed by
# benches/python_apps/venv.sh: Django and the basehttp package), adds websocket-client to it
# from PyPI when missing, and builds target/release/basehttp. Needs python3 (3.11+), cargo,
# curl, chromium and nginx (apt-get install -y chromium nginx-light). Servers listen on free
# 127.0.0.1 ports, each in a process group of its own, and are stopped on exit (Ctrl-C too);
# pageload.py stops its browsers. Writes target/bench/pageload.md and the servers' logs to
# target/bench/pageload-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${QUICK:-0}" = 1 ]; then REPEATS=${REPEATS:-1} LOADS=${LOADS:-3}; fi
REPEATS=${REPEATS:-3}
LOADS=${LOADS:-10}
REVALIDATE=${REVALIDATE:-1}
OUT=${OUT:-target/bench}
NGINX=${NGINX:-/usr/sbin/nginx}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

for tool in python3 cargo curl "$NGINX" "$CHROMIUM"; do
  command -v "$tool" >/dev/null ||
    { echo "benches/pageload.sh needs $tool (apt-get install -y chromium nginx-light curl)" >&2; exit 1; }
done

work=
pgids=()
client=
cleanup() {
  local pg
  # pageload.py stops its browsers on SIGTERM; wait for it before the servers go.
  if [ -n "$client" ]; then kill -TERM "$client" 2>/dev/null || true; wait "$client" 2>/dev/null || true; fi
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
"$PY" -c 'import websocket' 2>/dev/null ||
  "$PY" -m pip install -q --disable-pip-version-check websocket-client
cargo build --release --bin basehttp --quiet
BASEHTTP=$PWD/target/release/basehttp
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/basehttp-pageload.XXXXXX)
# nginx's workers run as nobody (when started by root): they must be able to reach the files.
chmod 755 "$work"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

declare -A port_of
# start NAME DIR COMMAND...: in DIR, in a process group of its own (setsid does not fork: the
# script has no job control, so $! is the group's leader), output to $work/NAME.log. The
# command may use {port}: port_of[NAME] if set, else a free one.
start() {
  local name=$1 dir=$2 port
  shift 2
  port=${port_of[$name]:-$(free_port)}
  port_of[$name]=$port
  local args=("${@//\{port\}/$port}")
  (cd "$dir" && exec setsid "${args[@]}" >"$work/$name.log" 2>&1 </dev/null) &
  pgids+=($!)
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

# ahead DIR: with REVALIDATE=1, the files' modification times a day ahead. A response without
# Cache-Control (nginx's, http.server's, Django's static files) is fresh to Chromium for a
# tenth of the time since its Last-Modified (RFC 9111 §4.2.2), during which a load takes it
# from the cache without asking; a Last-Modified in the future gives it no such time. So
# every load revalidates every resource on every server, as while the files are being edited,
# and the figures do not drift as the files age during the run. The validators do not change:
# the answers are 304.
ahead() {
  [ "$REVALIDATE" = 1 ] || return 0
  find "$1" -type f -exec touch -d '+1 day' {} +
}

# The static page: index.html linking css/1.css .. css/6.css, each about 4 KB of rules.
make_site() {
  local site=$1 i k links=""
  mkdir -p "$site/css"
  for i in 1 2 3 4 5 6; do
    for k in $(seq 0 71); do
      printf '.s%d-%02d { margin: %dpx; padding: %dpx; color: #%02x%02x80; }\n' \
        "$i" "$k" "$k" $((k % 7)) $((i * 40 % 256)) $((k * 3))
    done >"$site/css/$i.css"
    links+="<link rel=\"stylesheet\" href=\"css/$i.css\">"$'\n'
  done
  cat >"$site/index.html" <<EOF
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>basehttp page load</title>
<link rel="icon" href="data:,">
$links</head>
<body>
<h1 class="s1-01">A page with six stylesheets</h1>
<p class="s2-02">Loaded by benches/pageload.py.</p>
</body>
</html>
EOF
  chmod -R a+rX "$site"
  ahead "$site"
}

nginx_config() { # PORT SITE
  cat <<EOF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    sendfile on;
    access_log $work/nginx-access.log;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx-tmp/body;
    proxy_temp_path $work/nginx-tmp/proxy;
    fastcgi_temp_path $work/nginx-tmp/fastcgi;
    uwsgi_temp_path $work/nginx-tmp/uwsgi;
    scgi_temp_path $work/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$1;
        root $2;
    }
}
EOF
}

# A fresh Django project with its database migrated, and a second settings module that puts
# "basehttp" first in INSTALLED_APPS (Django takes runserver from the first app that has it).
make_django() {
  local dir=$1
  mkdir -p "$dir"
  "$VENV/bin/django-admin" startproject pagesite "$dir"
  cat >"$dir/pagesite/settings_basehttp.py" <<'EOF'
"""pagesite's settings with basehttp's runserver."""
from .settings import *  # noqa: F403

INSTALLED_APPS = ["basehttp", *INSTALLED_APPS]  # noqa: F405
EOF
  if [ "$REVALIDATE" = 1 ]; then
    # A copy of the admin's static files in the project's own static dir (found before the
    # app's, STATICFILES_FINDERS' order), so that their times can be set ahead.
    cp -r "$("$PY" -c 'import django.contrib.admin as a, os; print(os.path.dirname(a.__file__))')/static" "$dir/static"
    echo 'STATICFILES_DIRS = [BASE_DIR / "static"]' >>"$dir/pagesite/settings.py"
    ahead "$dir/static"
  fi
  (cd "$dir" && "$PY" manage.py migrate -v 0)
}

make_site "$work/site"
make_django "$work/django"
mkdir -p "$work/nginx-tmp"
port_of[nginx]=$(free_port)
nginx_config "${port_of[nginx]}" "$work/site" >"$work/nginx.conf"
start nginx "$work" "$NGINX" -p "$work" -c "$work/nginx.conf"
start basehttp "$work" "$BASEHTTP" "127.0.0.1:{port}" -d "$work/site"
start http.server "$work" python3 -m http.server "{port}" --bind 127.0.0.1 --directory "$work/site"
start runserver "$work/django" "$PY" manage.py runserver --noreload "127.0.0.1:{port}"
start basehttp_runserver "$work/django" "$PY" manage.py runserver --noreload \
  --settings pagesite.settings_basehttp "127.0.0.1:{port}"
for s in nginx basehttp http.server; do wait_for "$s" /css/1.css; done
for s in runserver basehttp_runserver; do wait_for "$s" /admin/login/; done

url() { echo "http://127.0.0.1:${port_of[$1]}$2"; }
versions=$("$PY" -c '
import importlib.metadata as m, sys
print("CPython %d.%d.%d; " % sys.version_info[:3] + ", ".join(
    "%s %s" % (p, m.version(p)) for p in ("basehttp", "django", "websocket-client")))')
header="$(date '+%d %b %Y %H:%M'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $("$CHROMIUM" --version 2>/dev/null | cut -d' ' -f1-2); $("$NGINX" -v 2>&1 | cut -d' ' -f3); basehttp $("$BASEHTTP" -V | cut -d' ' -f2); python3 -m http.server on $(python3 -V); $versions"
how="headless Chromium, one profile per server, cache on; each page loaded once to warm, then $REPEATS alternating repeats of $LOADS loads one second apart; loadEventEnd - navigationStart, median of the repeats' medians"
if [ "$REVALIDATE" = 1 ]; then
  how+="; the files' times a day ahead, so that every load revalidates every resource"
else
  how+="; the files' times as written and installed (REVALIDATE=0)"
fi
echo "$header" >&2
echo "$how" >&2

# pageload.py in the background, so that the traps here run at once on a signal and stop it
# (it then stops its browsers) before the servers.
"$PY" benches/pageload.py --repeats "$REPEATS" --loads "$LOADS" \
  static nginx "$(url nginx /)" "(reference)" \
  static basehttp "$(url basehttp /)" "<= 1.1x, below http.server" \
  static http.server "$(url http.server /)" - \
  admin runserver "$(url runserver /admin/login/)" "(reference)" \
  admin "basehttp runserver" "$(url basehttp_runserver /admin/login/)" "< 1.0x" \
  >"$work/table.md" &
client=$!
wait "$client"
client=

cleanup
mkdir -p "$OUT/pageload-logs"
cp "$work"/*.log "$OUT/pageload-logs/"
{
  echo "$header"
  echo
  echo "$how; \"sent\" is what the browser asked the server for per load (median), the 304 answers in brackets"
  echo
  cat "$work/table.md"
} | tee "$OUT/pageload.md"
echo "wrote $OUT/pageload.md; server logs in $OUT/pageload-logs/" >&2
