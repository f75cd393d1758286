#!/usr/bin/env python3
"""Live reload's costs (issue 21), measured on loopback with the release binary:

1. a plain request beside open event streams: `wrk -t1 -c8` on a small file of
   `basehttp --reload -w 4`, with no stream open and with 50 open (alternating runs, medians);
2. the watcher while nothing changes: the server's CPU over 20 s on a tree of 10,000 files,
   native (inotify) and polling (`BASEHTTP_WATCH=poll`, every second);
3. what an open tab costs: resident memory and threads of basehttp with 0 and 1,000 open
   streams, beside a thread-per-connection server (Python's `ThreadingHTTPServer` holding
   server-sent events the way django-browser-reload's view does: a thread each).

    python3 benches/reload.py            # about 2 minutes; the table on stdout

Needs target/release/basehttp (`cargo build --release`), wrk and Python 3.11. Every server
runs in a process group of its own and is killed at the end; nothing leaves loopback.
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "basehttp")
TICK = os.sysconf("SC_CLK_TCK")
REPEATS = int(os.environ.get("REPEATS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
servers = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, env=None):
    port = free_port()
    p = subprocess.Popen([a.replace("{port}", str(port)) for a in args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **(env or {})}, start_new_session=True)
    servers.append(p)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{args[0]} does not listen")


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def open_streams(port, n, path):
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        conns.append(s)
    for s in conns:
        s.settimeout(10)
        assert s.recv(64).startswith(b"HTTP/1."), "a stream"
    return conns


def wrk(port, path):
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{DURATION}", "--latency",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def tree(n):
    d = tempfile.mkdtemp(prefix="basehttp-reload-bench-")
    for i in range(n):
        sub = os.path.join(d, f"d{i // 100:03d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}.txt"), "w") as f:
            f.write("x\n")
    with open(os.path.join(d, "small.txt"), "w") as f:
        f.write("Hello, World!")
    return d


THREADED_SSE = r'''
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b"retry: 300\n\n"); self.wfile.flush()
        while True:
            time.sleep(30)
            self.wfile.write(b":\n\n"); self.wfile.flush()
ThreadingHTTPServer.request_queue_size = 2048
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def stream_cost(what, path, args, n=1000):
    """A table row: the resident memory and threads `n` open streams add to the server."""
    p, port = start(args)
    rss0, thr0 = status(p.pid, "VmRSS"), status(p.pid, "Threads")
    held = open_streams(port, n, path)
    time.sleep(1)
    rss1, thr1 = status(p.pid, "VmRSS"), status(p.pid, "Threads")
    for s in held:
        s.close()
    stop(p)
    return (what, f"{(rss1 - rss0) / n:.1f} KiB and {(thr1 - thr0) / n:.3f} threads a stream",
            f"{thr0} threads before, {thr1} after; resident {rss0 / 1024:.1f} to {rss1 / 1024:.1f} MiB")


def main():
    if not os.path.exists(BIN):
        raise SystemExit("build it first: cargo build --release")
    rows = []
    site = tree(10_000)
    try:
        # 1. A plain request beside 50 streams.
        p, port = start([BIN, "127.0.0.1:{port}", "--reload", "-w", "4", "--quiet", "-d", site])
        wrk(port, "/small.txt")  # warm-up
        runs = {"none": [], "50": []}
        for r in range(REPEATS):
            for which in (("none", "50") if r % 2 == 0 else ("50", "none")):
                held = open_streams(port, 50, "/__basehttp/events") if which == "50" else []
                runs[which].append(wrk(port, "/small.txt"))
                for s in held:
                    s.close()
                time.sleep(0.3)
        stop(p)
        med = {k: (statistics.median(r for r, _ in v), statistics.median(l for _, l in v))
               for k, v in runs.items()}
        rows.append(("plain request, no stream open", f"{med['none'][0]:,.0f} req/s, p50 {med['none'][1]:.3f} ms", ""))
        rows.append(("plain request, 50 streams open", f"{med['50'][0]:,.0f} req/s, p50 {med['50'][1]:.3f} ms",
                     f"{med['50'][0] / med['none'][0]:.2f}x the throughput"))
        # 2. The watcher, idle, on 10,000 files.
        for name, env in (("native (inotify)", {}), ("polling, every second", {"BASEHTTP_WATCH": "poll"})):
            p, port = start([BIN, "127.0.0.1:{port}", "--reload", "--quiet", "-d", site], env)
            time.sleep(3)  # the watches are set up (or the first scan made)
            c0, t0 = cpu_seconds(p.pid), time.monotonic()
            time.sleep(20)
            share = (cpu_seconds(p.pid) - c0) / (time.monotonic() - t0)
            rows.append((f"watcher idle on 10,000 files: {name}", f"{share * 100:.2f}% of a core", ""))
            stop(p)
        # 3. What an open tab costs.
        rows.append(stream_cost("basehttp: 1,000 open streams", "/__basehttp/events",
                                [BIN, "127.0.0.1:{port}", "--reload", "--quiet", "-d", site]))
        rows.append(stream_cost(
            "thread per connection (Python ThreadingHTTPServer): 1,000 open streams", "/",
            [sys.executable, "-c", THREADED_SSE, "{port}"]))
    finally:
        for p in servers:
            if p.poll() is None:
                stop(p)
        subprocess.run(["rm", "-rf", site])
    load = os.getloadavg()
    print(f"{time.strftime('%d %b %Y %H:%M')}; 2 cores; load {load[0]:.2f} at the end; wrk -t1 -c8 "
          f"-d{DURATION}, medians of {REPEATS} alternating runs\n")
    print("| what | figure | beside |\n|---|---|---|")
    for what, figure, beside in rows:
        print(f"| {what} | {figure} | {beside} |")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        for p in servers:
            if p.poll() is None:
                stop(p)
        raise SystemExit(130)
