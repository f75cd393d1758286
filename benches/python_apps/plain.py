"""Plain WSGI applications for benches/python.sh, one callable served by every server:

    /hello   13 bytes, nothing else
    /sleep   time.sleep(0.010): a view waiting on I/O, the GIL released meanwhile
    /cpu     1 ms of pure-Python work under the GIL: a loop of BENCH_CPU_ITERS iterations
             (benches/python.sh calibrates it once and gives every server the same count),
             else calibrated at import against this thread's CPU time

A dict lookup picks the view: the same few hundred nanoseconds for every server.
"""

import os
import time

HELLO = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]


def spin(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def calibrate(seconds):
    """Loop iterations that take `seconds` of CPU time on this thread (best of 5)."""
    n = 10_000
    while True:
        t = time.thread_time()
        spin(n)
        took = time.thread_time() - t
        if took > 0.02:
            break
        n *= 2
    per_iter = took / n
    for _ in range(4):
        t = time.thread_time()
        spin(n)
        per_iter = min(per_iter, (time.thread_time() - t) / n)
    return max(1, int(seconds / per_iter))


CPU_1MS = int(os.environ.get("BENCH_CPU_ITERS") or 0) or calibrate(0.001)


def hello(start_response):
    start_response("200 OK", HEADERS)
    return [HELLO]


def sleep(start_response):
    time.sleep(0.010)
    return hello(start_response)


def cpu(start_response):
    spin(CPU_1MS)
    return hello(start_response)


VIEWS = {"/hello": hello, "/sleep": sleep, "/cpu": cpu}


def application(environ, start_response):
    view = VIEWS.get(environ.get("PATH_INFO", ""))
    if view is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    return view(start_response)
