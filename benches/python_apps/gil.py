"""The GIL experiment (docs/experiments.md, experiment 7), driven by benches/gil.sh:

    python gil.py DURATION REPEATS CONNECTIONS WORKERS...

One WSGI app with a CPU-bound view (/cpu: 5 ms of pure-Python loop, calibrated at start
against this thread's CPU time) and a blocking one (/sleep: time.sleep(0.010)), served by
basehttp.start in this process with each worker count in turn, driven by wrk. For each run
it reads handle.stats() before and after, so the GIL wait is the run's own. Prints one
tab-separated line per run: view, workers, repeat, req/s, p50 ms, p99 ms, errors, GIL wait
per request (ms), server CPU per request (ms), and the table of medians at the end.
"""

import re
import resource
import signal
import statistics
import subprocess
import sys
import time

import basehttp
import plain

CPU_5MS = plain.calibrate(0.005)
BODY = b"done"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path == "/cpu":
        plain.spin(CPU_5MS)
    elif path == "/sleep":
        time.sleep(0.010)
    start_response("200 OK", HEADERS)
    return [BODY]


def ms(text):
    v = float(re.match(r"[0-9.]+", text).group())
    return v / 1000 if text.endswith("us") else v * 1000 if text.endswith("s") and not text.endswith("ms") else v


def wrk(url, duration, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    err = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, err + (int(m.group(1)) if m else 0)


def loop_seconds():
    t = time.thread_time()
    plain.spin(CPU_5MS)
    return time.thread_time() - t


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(view, workers, duration, connections):
    handle = basehttp.start(application, "127.0.0.1", 0, workers=workers)
    try:
        host, port = handle.address
        url = f"http://{host}:{port}/{view}"
        subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
        before, cpu_before = handle.stats(), cpu_seconds()
        rps, p50, p99, err = wrk(url, duration, connections)
        after, cpu_after = handle.stats(), cpu_seconds()
    finally:
        handle.shutdown()
    served = max(after["served"] - before["served"], 1)
    gil = (after["gil_wait"] - before["gil_wait"]) / served * 1000
    return rps, p50, p99, err, gil, (cpu_after - cpu_before) / served * 1000


def main():
    # SIGTERM (benches/gil.sh stopping) unwinds: subprocess.run kills the wrk it waits for,
    # and the finally in run() shuts the server down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    duration, repeats, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    counts = [int(w) for w in sys.argv[4:]]
    loop = statistics.median(loop_seconds() for _ in range(10))
    print(f"# /cpu's loop: {CPU_5MS} iterations, {loop * 1000:.2f} ms of CPU alone (median of 10); "
          f"sys.getswitchinterval() = {sys.getswitchinterval() * 1000:.0f} ms", flush=True)
    runs = {}
    for rep in range(1, repeats + 1):
        order = counts if rep % 2 else counts[::-1]
        for view in ("cpu", "sleep"):
            for w in order:
                r = run(view, w, duration, connections)
                runs.setdefault((view, w), []).append(r)
                print("\t".join([view, str(w), str(rep)] + [f"{x:.2f}" for x in r]), flush=True)
    print()
    print("| view | workers | req/s | vs bound | p50 ms | p99 ms | errors | GIL wait per request "
          "| server CPU per request | cores used |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for view in ("cpu", "sleep"):
        base = None
        for w in counts:
            rs = runs[view, w]
            med = [statistics.median(r[i] for r in rs) for i in range(6)]
            if view == "cpu":
                # One core's worth: the CPU a request took with the fewest workers.
                base = base or med[5] / 1000
                bound, name = 1 / base, "5 ms CPU"
            else:
                bound, name = min(w, connections) / 0.010, "10 ms sleep"
            print(f"| {name} | {w} | {med[0]:.0f} | {med[0] / bound:.0%} of {bound:.0f} | {med[1]:.1f} | "
                  f"{med[2]:.1f} | {sum(r[3] for r in rs)} | {med[4]:.2f} ms | {med[5]:.2f} ms | "
                  f"{med[0] * med[5] / 1000:.2f} |")
    print()
    print(f"bound: the 5 ms CPU view (a loop calibrated to 5 ms at start; {loop * 1000:.2f} ms "
          "alone then) under one GIL: one core's worth, 1 / (the server's CPU per request with "
          f"{counts[0]} worker(s)), whatever the workers; the 10 ms sleep: Little's law, "
          f"min(workers, {connections} connections) / 10 ms. GIL wait: the time workers waited "
          "to attach to the interpreter (handle.stats()['gil_wait']), per request; not the "
          "waits inside the view when CPython hands the GIL to another thread every "
          "switch interval. Server CPU: the process's user + system time per request; cores "
          "used: req/s times that.")


if __name__ == "__main__":
    main()
