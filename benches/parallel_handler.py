"""Experiment 8 (docs/experiments.md): one request's work split into parts, run by processes
started for the request, by a pool of processes started once, or by threads.

    python3 benches/parallel_handler.py                    # 20 cells of 5 s: about 2.5 minutes
    python3 benches/parallel_handler.py --duration 1 --connections 1    # a smoke run: about 20 s
    python3 benches/parallel_handler.py --designs inline,threads,pool --payload-kb 1000

Each request to `/cpu` or `/sleep` does its work in 4 parts of 5 ms each (`--parts`,
`--part-ms`): `/cpu` a pure-Python loop calibrated once, at start, to 5 ms of CPU on this
machine; `/sleep` `time.sleep(0.005)`. The designs ("ParallelHandler"s) that run the parts:

    inline      one after another in the request's thread: the baseline, no splitting
    threads     4 threads started for the request and joined (C)
    pool        a ProcessPoolExecutor(4) started once with the server; a request submits 4
                parts and waits for them (B)
    forkserver  4 processes started for the request and joined, from the fork server (A)
    spawn       the same, each process a fresh interpreter (A)

The server is the standard library's `wsgiref.simple_server` with `socketserver.ThreadingMixIn`
(a thread per connection, as Django's runserver), one server process per design, in its own
process group, so that the only pool in play is the one under test (basehttp's Python package
would add its run gate and GIL scheduling to what is measured, and needs a build). The client is
a closed loop of N threads in this process, a new connection per request (wsgiref answers
HTTP/1.0), measuring each request from connect to the last byte; it runs in another process
than the server so that its threads do not compete for the server's GIL. It shares the
machine's cores with the server: on 2 cores, compare rows of one run, not absolute figures.

Processes are started with `forkserver` (and `spawn` for comparison), never `fork`: the server
is multi-threaded, and a forked child gets a copy of every lock another thread held at that
moment, held forever by a thread that does not exist in the child (glibc and CPython reset
the ones they registered at-fork handlers for, the allocator's and logging's among them; a
lock in this code, a library or a C extension is not reset). The fork server is a fresh
single-threaded process that imports this file once and forks a child per process asked of
it: no interpreter start per process, and nothing locked. It is the default on Linux from
Python 3.14; `spawn` (a new interpreter per process, which imports this file and unpickles its
task) is the default on macOS and Windows. This file's top level imports only what a part
needs, so a child starts as cheaply as a child can; a part that lives in a Django views module
would make every child import Django.

Every cell is bounded in time (`--duration`, plus a short warm-up) and count
(`--max-requests`); loopback only. Every server and its processes share one process group,
killed (SIGTERM, then SIGKILL) when its design is done, when this script exits, on Ctrl-C,
and by the server itself if this script dies (its stdin closes). Prints progress on stderr and
a markdown table on stdout. Linux (reads the servers' CPU time from /proc); CPython 3.11+,
standard library only.
"""

# A spawned child imports this file to find its task: keep the top level to what a part needs.
# Everything the server and the client use is imported inside their functions.
import os
import signal
import sys
import time

DESIGNS = ("inline", "threads", "pool", "forkserver", "spawn")
WORKS = ("cpu", "sleep")
LABELS = {
    "inline": "inline: 4 parts one after another (no split)",
    "threads": "C: 4 threads per request",
    "pool": "B: pool of 4 processes, started once (forkserver)",
    "forkserver": "A: 4 processes per request (forkserver)",
    "spawn": "A: 4 processes per request (spawn)",
}
# A part or a request that takes longer than this is an error, not a data point.
PART_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 60
# How long a server may take to start (the pool's processes, a first fork server).
READY_TIMEOUT_S = 60


# ---------------------------------------------------------------------------------------------
# The parts: what every design runs. Module-level, so that a child process can unpickle them.


def spin(n):
    """`n` turns of a pure-Python loop: CPU under the GIL, nothing released."""
    x = 0
    for i in range(n):
        x += i * i
    return x


def part(work, iters, part_s, payload):
    """One part of a request: `iters` loop turns, or a sleep of `part_s`. The payload goes in
    and comes back, as a part's input rows and its results would (pickled both ways across a
    process boundary, shared in place by threads)."""
    if work == "cpu":
        return spin(iters), payload
    time.sleep(part_s)
    return 0, payload


def part_into(conn, work, iters, part_s, payload):
    """A per-request process's body: run the part, send its result back on `conn`."""
    try:
        conn.send(part(work, iters, part_s, payload))
    finally:
        conn.close()


def nothing():
    """A process that does nothing: what starting and joining one costs."""


def calibrate(seconds):
    """Loop turns that take `seconds` of CPU time on this thread (best of 5)."""
    n = 10_000
    while True:
        t = time.thread_time()
        spin(n)
        took = time.thread_time() - t
        if took > 0.02:
            break
        n *= 2
    per_turn = took / n
    for _ in range(4):
        t = time.thread_time()
        spin(n)
        per_turn = min(per_turn, (time.thread_time() - t) / n)
    return max(1, int(seconds / per_turn))


# ---------------------------------------------------------------------------------------------
# The designs: each runs a request's parts and returns their results, in order.


class Inline:
    """The parts one after another in the request's own thread."""

    def __init__(self, parts):
        self.parts = parts

    def run(self, *args):
        return [part(*args) for _ in range(self.parts)]


class ThreadsPerRequest:
    """A thread per part, started for the request and joined. Threads start in tens of
    microseconds and share the payload in place; CPU-bound parts take turns on the GIL."""

    def __init__(self, parts):
        self.parts = parts

    def run(self, *args):
        import threading

        results = [None] * self.parts

        def one(i):
            results[i] = part(*args)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(self.parts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PART_TIMEOUT_S)
        if any(r is None for r in results):
            raise RuntimeError("a part's thread did not finish")
        return results


class PoolStartedOnce:
    """A ProcessPoolExecutor started with the server: a request submits its parts (task and
    payload pickled to a worker through a pipe, the result pickled back) and waits for them.
    Its processes are as many as the parts, so a request may have them all, but concurrent
    requests share them."""

    def __init__(self, parts, method):
        import concurrent.futures
        import multiprocessing

        self.parts = parts
        self.executor = concurrent.futures.ProcessPoolExecutor(
            parts, mp_context=multiprocessing.get_context(method))

    def start(self):
        """Starts every process now (the executor starts them as tasks find none idle), so
        that no request pays for it; returns the seconds it took."""
        t = time.perf_counter()
        for f in [self.executor.submit(nothing) for _ in range(self.parts)]:
            f.result(READY_TIMEOUT_S)
        return time.perf_counter() - t

    def run(self, *args):
        futures = [self.executor.submit(part, *args) for _ in range(self.parts)]
        return [f.result(PART_TIMEOUT_S) for f in futures]

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)


class ProcessesPerRequest:
    """What the articles propose: a process per part, started for the request, its result
    sent back on a pipe, joined. Every request pays for starting and reaping its processes."""

    def __init__(self, parts, method):
        import multiprocessing

        self.parts = parts
        self.context = multiprocessing.get_context(method)

    def start(self):
        """Starts and joins one process that does nothing, 4 times (the first also starts the
        fork server); returns the median of the last 3, in seconds."""
        took = []
        for _ in range(4):
            t = time.perf_counter()
            p = self.context.Process(target=nothing, daemon=True)
            p.start()
            p.join(READY_TIMEOUT_S)
            took.append(time.perf_counter() - t)
        return sorted(took[1:])[1]

    def run(self, *args):
        readers, processes = [], []
        try:
            for _ in range(self.parts):
                reader, writer = self.context.Pipe(duplex=False)
                readers.append(reader)
                p = self.context.Process(target=part_into, args=(writer, *args), daemon=True)
                p.start()
                processes.append(p)
                writer.close()  # the child holds its own copy; EOF if it dies
            results = []
            for reader in readers:
                if not reader.poll(PART_TIMEOUT_S):
                    raise TimeoutError("a part's process did not answer")
                results.append(reader.recv())
            return results
        finally:
            for reader in readers:
                reader.close()
            for p in processes:
                p.join(PART_TIMEOUT_S)
                if p.exitcode is None:
                    p.kill()
                    p.join()


def make_design(name, parts):
    if name == "inline":
        return Inline(parts)
    if name == "threads":
        return ThreadsPerRequest(parts)
    if name == "pool":
        return PoolStartedOnce(parts, "forkserver")
    return ProcessesPerRequest(parts, name)


# ---------------------------------------------------------------------------------------------
# The server: `parallel_handler.py serve ...`, started by the driver, one design per process.


def serve(args):
    import json
    import socketserver
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def orphaned():
        # The driver holds our stdin; when it goes (the driver exited or died), stop the whole
        # process group: this server and every process it started. (os.read, not sys.stdin:
        # a daemon thread inside a buffered read aborts the interpreter's exit.)
        while os.read(0, 512):
            pass
        os.killpg(os.getpgrp(), signal.SIGTERM)

    threading.Thread(target=orphaned, daemon=True).start()

    design = make_design(args.design, args.parts)
    payload = bytes(args.payload_kb * 1024)
    part_s = args.part_ms / 1000
    start_s = design.start() if hasattr(design, "start") else None

    def application(environ, start_response):
        work = environ.get("PATH_INFO", "").strip("/")
        if work not in WORKS:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"/cpu or /sleep\n"]
        results = design.run(work, args.iters, part_s, payload)
        body = f"{args.design} {work}: {len(results)} parts\n".encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True
        request_queue_size = 128  # socketserver's default 5 would refuse a burst of connects

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = Server(("127.0.0.1", 0), Quiet)
    httpd.set_app(application)
    try:
        print(json.dumps({"port": httpd.server_address[1], "start_s": start_s}), flush=True)
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        if hasattr(design, "close"):
            design.close()


# ---------------------------------------------------------------------------------------------
# The driver: starts a server per design, runs the client against it, prints the table.


class ServerProcess:
    """A `serve` child in its own session (so its process group is its and its processes'
    alone), stopped by signalling that group."""

    def __init__(self, design, args):
        import json
        import select
        import subprocess

        command = [sys.executable, os.path.abspath(__file__), "serve", "--design", design,
                   "--iters", str(args.iters), "--parts", str(args.parts),
                   "--part-ms", str(args.part_ms), "--payload-kb", str(args.payload_kb)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True)
        self.pgid = self.proc.pid  # a session leader's group id is its pid
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT_S)
            line = self.proc.stdout.readline() if ready else b""
            if not line:
                raise RuntimeError(f"the {design} server did not start (exit code "
                                   f"{self.proc.poll()})")
            info = json.loads(line)
        except BaseException:
            self.stop()
            raise
        self.port, self.start_s = info["port"], info["start_s"]

    def stop(self):
        import subprocess

        try:
            os.killpg(self.pgid, signal.SIGTERM)
            self.proc.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        # The group's other members (pool workers, the fork server, per-request processes)
        # got the same signal; SIGKILL whatever outlived it.
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            pipe.close()

    def cpu_seconds(self):
        """CPU time of the server's process group (user + system, with the children each
        member has reaped: per-request processes are reaped by the server or the fork
        server), from /proc; None where there is no /proc."""
        try:
            entries = os.listdir("/proc")
        except OSError:
            return None
        ticks = 0
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[2]) == self.pgid:  # pgrp
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")


def load(port, work, connections, duration, max_requests):
    """A closed loop of `connections` threads, each sending its next GET when the last one is
    answered, for `duration` seconds or `max_requests` in all. Returns the latencies of the
    good answers (s), the errors, the first error, and the elapsed time."""
    import http.client
    import threading

    latencies, errors, first_error = [], [0], [None]
    lock = threading.Lock()
    budget = [max_requests]
    deadline = time.perf_counter() + duration

    def client():
        mine = []
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            t = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
                try:
                    conn.request("GET", f"/{work}")
                    response = conn.getresponse()
                    body = response.read()
                finally:
                    conn.close()
                if response.status != 200 or b"parts" not in body:
                    raise RuntimeError(f"{response.status} {body[:80]!r}")
                mine.append(time.perf_counter() - t)
            except Exception as e:  # counted, shown once
                with lock:
                    errors[0] += 1
                    first_error[0] = first_error[0] or repr(e)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0], first_error[0], time.perf_counter() - start


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def drive(args):
    import platform

    designs = args.designs.split(",")
    works = args.works.split(",")
    connection_counts = [int(c) for c in args.connections.split(",")]
    for d in designs:
        if d not in DESIGNS:
            sys.exit(f"unknown design {d!r}: choose from {','.join(DESIGNS)}")
    for w in works:
        if w not in WORKS:
            sys.exit(f"unknown work {w!r}: choose from {','.join(WORKS)}")

    args.iters = calibrate(args.part_ms / 1000)
    cells = len(designs) * len(works) * len(connection_counts)
    estimate = cells * (args.duration + args.warmup + 0.5) + len(designs)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)
    log(f"{cells} cells of {args.duration:g} s (+{args.warmup:g} s warm-up): about "
        f"{estimate / 60:.1f} minutes; one CPU part = {args.iters} loop turns "
        f"= {args.part_ms:g} ms of CPU alone")

    notes, rows = [], []
    started = time.perf_counter()
    for design in designs:
        server = ServerProcess(design, args)
        try:
            if design == "pool":
                notes.append(f"the pool's {args.parts} processes (forkserver) started once, "
                             f"in {server.start_s * 1000:.0f} ms with the fork server")
            elif design in ("forkserver", "spawn"):
                notes.append(f"one process started and joined ({design}): "
                             f"{server.start_s * 1000:.1f} ms, median of 3")
            for connections in connection_counts:
                for work in works:
                    load(server.port, work, connections, args.warmup, args.max_requests)
                    time.sleep(0.2)  # let the fork server reap the warm-up's processes
                    cpu_before = server.cpu_seconds()
                    latencies, errors, first_error, elapsed = load(
                        server.port, work, connections, args.duration, args.max_requests)
                    time.sleep(0.2)
                    cpu_after = server.cpu_seconds()
                    latencies.sort()
                    n = len(latencies)
                    row = {
                        "design": design, "work": work, "connections": connections,
                        "rps": n / elapsed, "p50": percentile(latencies, 50) * 1000,
                        "p99": percentile(latencies, 99) * 1000, "n": n, "errors": errors,
                        "cpu": (None if cpu_before is None or cpu_after is None
                                else (cpu_after - cpu_before)),
                        "elapsed": elapsed,
                    }
                    rows.append(row)
                    log(f"{design:10} {work:5} c={connections:<3} {row['rps']:8.1f} req/s  "
                        f"p50 {row['p50']:7.1f} ms  p99 {row['p99']:7.1f} ms  n={n}  "
                        f"errors={errors}" + (f" (first: {first_error})" if first_error else ""))
        finally:
            server.stop()
    took = time.perf_counter() - started

    print(f"{time.strftime('%d %b %Y %H:%M')}; {os.cpu_count()} cores, load average "
          f"{load_average()} at the end; CPython {platform.python_version()}; "
          f"wsgiref (thread per connection), "
          f"client: {args.connections} closed-loop connection(s), a new connection per request, "
          f"{args.duration:g} s per cell; {args.parts} parts of {args.part_ms:g} ms per request"
          + (f", {args.payload_kb} KiB payload in and out of each part" if args.payload_kb else ""))
    print()
    for note in notes:
        print(f"- {note}")
    print()
    print("| design | work | connections | req/s | vs inline | p50 ms | p99 ms | requests "
          "| errors | server CPU per request | server cores |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    inline = {(r["work"], r["connections"]): r["rps"] for r in rows if r["design"] == "inline"}
    order = {w: i for i, w in enumerate(works)}
    for r in sorted(rows, key=lambda r: (order[r["work"]], r["connections"])):
        base = inline.get((r["work"], r["connections"]))
        ratio = f"{r['rps'] / base:.2f}x" if base else ""
        cpu = per = ""
        if r["cpu"] is not None:
            cpu = f"{r['cpu'] / r['elapsed']:.2f}"
            per = f"{r['cpu'] / r['n'] * 1000:.1f} ms" if r["n"] else ""
        work = f"{args.parts} x {args.part_ms:g} ms " + ("CPU" if r["work"] == "cpu" else "sleep")
        print(f"| {LABELS[r['design']]} | {work} | {r['connections']} | {r['rps']:.1f} | {ratio} "
              f"| {r['p50']:.1f} | {r['p99']:.1f} | {r['n']} | {r['errors']} | {per} | {cpu} |")
    print()
    print(f"took {took:.0f} s")


def main():
    import argparse

    parser = argparse.ArgumentParser(
        description="Experiment 8: a request's work split into parts, run by processes "
                    "started per request, a pool started once, or threads.")
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--designs", default=",".join(DESIGNS),
                        help=f"comma-separated, from {','.join(DESIGNS)} (default: all)")
    parser.add_argument("--works", default=",".join(WORKS), help="cpu,sleep (default: both)")
    parser.add_argument("--connections", default="1,4",
                        help="client connections, comma-separated: one cell each (default: 1,4)")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds measured per cell (default: 5)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="seconds of unmeasured load before each cell (default: 0.5)")
    parser.add_argument("--max-requests", type=int, default=100_000,
                        help="requests per cell at most (default: 100000)")
    parser.add_argument("--parts", type=int, default=4, help="parts per request (default: 4)")
    parser.add_argument("--part-ms", type=float, default=5.0,
                        help="a part's CPU time or sleep, ms (default: 5)")
    parser.add_argument("--payload-kb", type=int, default=0,
                        help="KiB each part takes in and gives back, to see pickling (default: 0)")
    server = sub.add_parser("serve", help="(internal) one design's server; prints its port")
    server.add_argument("--design", choices=DESIGNS, required=True)
    server.add_argument("--iters", type=int, required=True)
    server.add_argument("--parts", type=int, required=True)
    server.add_argument("--part-ms", type=float, required=True)
    server.add_argument("--payload-kb", type=int, required=True)
    args = parser.parse_args()

    if args.command == "serve":
        serve(args)
        return

    def unwind(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)
    signal.signal(signal.SIGHUP, unwind)
    try:
        drive(args)
    except KeyboardInterrupt:
        sys.exit("interrupted; servers stopped")


if __name__ == "__main__":
    main()
