"""For tests/python.rs: `basehttp.serve` in a daemon thread (where Django's autoreloader runs
the server) with a request in flight when the main thread exits. The pool is stopped first,
at interpreter exit: the view finishes (it says `view finished` on stderr), then the process
ends with status 0, with no abort, hang or traceback. Prints `ok exit` just before exiting."""

import socket
import sys
import threading
import time
import urllib.request

import basehttp

entered = threading.Event()


def app(environ, start_response):
    entered.set()
    time.sleep(0.5)
    print("view finished", file=sys.stderr, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = threading.Thread(target=basehttp.serve, args=(app, "127.0.0.1", port),
                          kwargs={"access_log": False}, daemon=True)
server.start()
deadline = time.monotonic() + 20
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
client = threading.Thread(
    target=lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20).read(),
    daemon=True)
client.start()
assert entered.wait(20), "the request did not reach the view"
print("ok exit", flush=True)
sys.exit(0)
