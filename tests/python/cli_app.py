"""A WSGI application for the CLI tests in tests/python.rs."""

import os
import re


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/handover":
        # What the application's own subprocesses would inherit of a socket handed on.
        listen = [os.environ.get(n) for n in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")]
        return [f"{listen} inheritable={os.get_inheritable(3)}".encode()]
    if environ["PATH_INFO"] == "/pid":
        return [f"{os.getpid()} multiprocess={environ['wsgi.multiprocess']}".encode()]
    if environ["PATH_INFO"] == "/wedge":
        # Holds the GIL for a very long time (the regex engine does not release it): the
        # worker's heartbeat, which needs the GIL, stops.
        re.match(r"(a+)+$", "a" * 64 + "b")
    return [f"hello from {environ['PATH_INFO']}".encode()]


not_callable = 42
