"""WSGI cases for tests/python.rs: `python wsgi_cases.py CASE` serves test applications with
basehttp (port 0), drives them over real sockets, prints `ok CASE` and exits 0, or fails with
an assertion. Every application but the deliberately invalid ones is wrapped in
wsgiref.validate.validator, and its warnings are errors: tests/python.rs also checks that
stderr shows no assertion, warning or ignored exception (the validator complains in __del__
when close() was not called)."""

import hashlib
import http.client
import io
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

import basehttp

warnings.simplefilter("error", WSGIWarning)
TIMEOUT = 10


def serve(app, validate=True, **kw):
    kw.setdefault("workers", 2)
    return basehttp.start(validator(app) if validate else app, "127.0.0.1", 0, **kw)


def conn(handle):
    return http.client.HTTPConnection(*handle.address, timeout=TIMEOUT)


def get(handle, path="/", method="GET", body=None, headers=None):
    c = conn(handle)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def raw(handle, request, method="GET"):
    """Sends raw request bytes; returns (response, body) read with http.client."""
    s = socket.create_connection(handle.address, timeout=TIMEOUT)
    s.sendall(request)
    r = http.client.HTTPResponse(s, method=method)
    r.begin()
    data = r.read()
    s.close()
    return r, data


def echo_environ(environ, start_response):
    keys = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int, tuple))}
    body = json.dumps(keys).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def case_get():
    h = serve(echo_environ)
    r, data = raw(h, b"GET /caf%C3%A9/a%20b?q=1&r=%20 HTTP/1.1\r\nHost: example.test\r\n"
                     b"X-Multi: a\r\nX-Multi: b\r\nX_Multi: evil\r\nUser-Agent: t\r\n"
                     b"Connection: close\r\n\r\n")
    assert r.status == 200, r.status
    env = json.loads(data)
    port = h.address[1]
    want = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/caf\u00c3\u00a9/a b",
        "QUERY_STRING": "q=1&r=%20", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port), "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "example.test",
        "HTTP_X_MULTI": "a,b", "HTTP_USER_AGENT": "t", "CONTENT_TYPE": "text/plain",
        "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.input_terminated": True,
        # As runserver (wsgiref) gives them: the server, the gateway, an empty REMOTE_HOST
        # (no reverse lookup), an empty CONTENT_LENGTH without a body.
        "SERVER_SOFTWARE": f"basehttp/{basehttp.__version__}", "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_HOST": "", "CONTENT_LENGTH": "",
    }
    for k, v in want.items():
        assert env.get(k) == v, (k, env.get(k), v)
    assert env["wsgi.version"] == [1, 0]
    assert not any(k in os.environ for k in env if not k.startswith(("HTTP_", "wsgi."))), env
    assert "HTTP_CONTENT_TYPE" not in env
    # The name with '_' was dropped, not merged.
    assert "evil" not in env["HTTP_X_MULTI"]
    # One that parses as another key does not appear either.
    r, data = raw(h, b"GET / HTTP/1.0\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n")
    env = json.loads(data)
    assert "HTTP_X_FORWARDED_FOR" not in env and env["SERVER_PROTOCOL"] == "HTTP/1.0", env
    # An absolute-form target: its authority is the host, the Host field is ignored
    # (RFC 9112 §3.2.2); a fragment is no part of the target (RFC 9112 §3.2.1).
    r, data = raw(h, b"GET http://real.test:8080/p?page=1#posts-17408 HTTP/1.1\r\n"
                     b"Host: other.test\r\nConnection: close\r\n\r\n")
    env = json.loads(data)
    assert env["HTTP_HOST"] == "real.test:8080", env
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/p", "page=1"), env
    r, data = raw(h, b"GET /p#frag HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    env = json.loads(data)
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/p", ""), env
    # An invalid Host value is refused before the application runs.
    r, data = raw(h, b"GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n")
    assert r.status == 400, r.status
    assert h.shutdown()
    # base_environ (runserver passes os.environ): copied in under the server's own keys.
    h = serve(echo_environ, base_environ={"BASEHTTP_MARK": "yes", "REQUEST_METHOD": "evil",
                                          "PATH_INFO": "/evil"})
    r, data = raw(h, b"GET /real HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    env = json.loads(data)
    assert env["BASEHTTP_MARK"] == "yes", env
    assert (env["REQUEST_METHOD"], env["PATH_INFO"]) == ("GET", "/real"), env
    assert h.shutdown()
    # A port out of range is a ValueError that says so, not an OverflowError.
    try:
        basehttp.start(hello, "127.0.0.1", 99999)
    except ValueError as e:
        assert "99999 is out of range (0-65535)" in str(e), e
    else:
        raise AssertionError("port 99999 was accepted")


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def generated(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"hello"


def case_head():
    for app in (hello, generated):
        h = serve(app)
        c = conn(h)
        for _ in range(2):  # and the connection stays usable
            c.request("HEAD", "/")
            r = c.getresponse()
            assert r.status == 200 and r.read() == b"", r.status
            c.request("GET", "/")
            r = c.getresponse()
            assert r.status == 200 and r.read() == b"hello"
        c.close()
        assert h.shutdown()


def upload(environ, start_response):
    assert environ["wsgi.input_terminated"] is True
    n = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(n)
    rest = environ["wsgi.input"].read(1)
    body = json.dumps({"len": len(data), "sha": hashlib.sha256(data).hexdigest(),
                       "rest": len(rest), "type": environ["CONTENT_TYPE"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def case_post_length():
    h = serve(upload)
    payload = os.urandom(300_000)
    r, data = get(h, "/", "POST", payload, {"Content-Type": "application/octet-stream"})
    got = json.loads(data)
    assert r.status == 200 and got == {"len": len(payload), "sha": hashlib.sha256(payload).hexdigest(),
                                       "rest": 0, "type": "application/octet-stream"}, got
    r, data = get(h, "/", "POST", b"")
    assert json.loads(data)["len"] == 0
    assert h.shutdown()


def case_post_chunked():
    h = serve(upload)
    payload = os.urandom(100_000)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 7000]), payload[i:i + 7000])
                      for i in range(0, len(payload), 7000))
    req = (b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/x-test\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
    r, data = raw(h, req, "POST")
    got = json.loads(data)
    assert r.status == 200, r.status
    assert got == {"len": len(payload), "sha": hashlib.sha256(payload).hexdigest(), "rest": 0,
                   "type": "application/x-test"}, got
    assert h.shutdown()


class Closing:
    """An iterable that records close() and the thread that advanced it."""
    closed = []

    def __init__(self, chunks, delay=0.0):
        self.chunks, self.delay, self.threads = list(chunks), delay, set()

    def __iter__(self):
        for c in self.chunks:
            self.threads.add(threading.get_ident())
            time.sleep(self.delay)
            yield c

    def close(self):
        Closing.closed.append(self)


def case_stream():
    made = []
    caller = []

    def app(environ, start_response):
        caller.append(threading.get_ident())
        start_response("200 OK", [("Content-Type", "text/plain")])
        it = Closing([b"one ", b"", b"two ", b"three"], delay=0.05)
        made.append(it)
        return it

    h = serve(app)
    r, data = get(h)
    assert r.status == 200 and data == b"one two three", data
    assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
    assert r.getheader("Content-Length") is None
    time.sleep(0.2)
    assert Closing.closed == made, "close() was not called"
    # Advanced only on the thread that called the application.
    assert made[0].threads == {caller[0]}, (made[0].threads, caller)
    # An application's own Content-Length is honoured (and the body is not chunked).
    def sized(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        return Closing([b"one ", b"two ", b"three"], delay=0.01)
    h2 = serve(sized)
    r, data = get(h2)
    assert data == b"one two three" and r.getheader("Content-Length") == "13", r.getheaders()
    assert r.getheader("Transfer-Encoding") is None
    # An object iterating over a list (as Django's HttpResponse does: `iter(self._container)`)
    # holds its body in memory already: it is taken whole and gets a Content-Length. (Not
    # behind the validator, whose own iterator wrapper would hide the list iterator.)
    class Held:
        closed = 0

        def __init__(self, parts):
            self.parts = parts

        def __iter__(self):
            return iter(self.parts)

        def close(self):
            Held.closed += 1

    def held(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        parts = environ["PATH_INFO"] == "/tuple" and (b"one ", b"", b"two") or [b"one ", b"", b"two"]
        return Held(parts)

    h3 = serve(held, validate=False)
    for path in ("/list", "/tuple"):
        r, data = get(h3, path)
        assert data == b"one two" and r.getheader("Content-Length") == "7", r.getheaders()
        assert r.getheader("Transfer-Encoding") is None
    assert Held.closed == 2, Held.closed
    assert h.shutdown() and h2.shutdown() and h3.shutdown()


def case_write():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"wri")
        write(b"tten, ")
        return [b"then returned"]

    def gen(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"a")
        yield b"b"
        write(b"c")
        yield b"d"

    for a, want in ((app, b"written, then returned"), (gen, b"abcd")):
        h = serve(a)
        r, data = get(h)
        assert r.status == 200 and data == want, data
        assert h.shutdown()


def case_file_wrapper():
    payload = os.urandom(200_000)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(payload)
    files = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(payload)))])
        fh = open(f.name, "rb")
        files.append(fh)
        return environ["wsgi.file_wrapper"](fh, 8192)

    h = serve(app)
    r, data = get(h)
    assert r.status == 200 and data == payload, len(data)
    assert r.getheader("Content-Length") == str(len(payload))
    time.sleep(0.1)
    assert files[0].closed, "the file wrapper was not closed"
    assert h.shutdown()
    os.unlink(f.name)


def case_exc_info():
    def before(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late trouble")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"replaced"]

    def after(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/ok":
            yield b"fine"
            return
        yield b"first "
        try:
            raise ValueError("too late")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                           sys.exc_info())
        yield b"never"

    h = serve(before)
    r, data = get(h)
    assert r.status == 500 and data == b"replaced", (r.status, data)
    h2 = serve(after, workers=1)
    c = conn(h2)
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200
    try:
        data = r.read()
        raise AssertionError(f"the body ended cleanly: {data!r}")
    except http.client.IncompleteRead as e:
        assert e.partial == b"first ", e.partial
    c.close()
    # The worker lives on.
    r, data = get(h2, "/ok")
    assert r.status == 200 and data == b"fine"
    assert h.shutdown() and h2.shutdown()


def case_thread_local():
    local = threading.local()

    def app(environ, start_response):
        local.count = getattr(local, "count", 0) + 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{threading.get_ident()} {local.count}".encode()]

    h = serve(app, workers=1)
    seen = [get(h)[1].decode().split() for _ in range(5)]
    idents = {s[0] for s in seen}
    assert len(idents) == 1, seen
    assert [int(s[1]) for s in seen] == [1, 2, 3, 4, 5], seen
    assert h.stats()["served"] == 5
    assert h.shutdown()


def case_raises():
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise ValueError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]

    h = serve(app, workers=1)
    for _ in range(2):
        r, data = get(h, "/boom")
        assert r.status == 500, r.status
        r, data = get(h, "/")
        assert r.status == 200 and data == b"fine"
    assert h.shutdown()


def case_invalid():
    def app(environ, start_response):
        p = environ["PATH_INFO"]
        headers = [("Content-Type", "text/plain")]
        status = "200 OK"
        if p == "/crlf":
            headers.append(("X-A", "a\r\nSet-Cookie: x=1"))
        elif p == "/hop":
            headers.append(("Connection", "close"))
        elif p == "/status":
            status = "OK"
        elif p == "/interim":
            status = "100 Continue"
        elif p == "/name":
            headers.append(("X A", "b"))
        start_response(status, headers)
        return [b"body"]

    h = serve(app, validate=False, workers=1)
    # (Unwrapped, so the application's list reaches the server: it gets a Content-Length.)
    for p in ("/crlf", "/hop", "/status", "/interim", "/name"):
        r, data = get(h, p)
        assert r.status == 500, (p, r.status)
        assert r.getheader("Set-Cookie") is None
    r, data = get(h, "/")
    assert r.status == 200 and data == b"body"
    assert r.getheader("Content-Length") == "4"
    assert h.shutdown()


def case_client_leaves():
    made = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        it = Closing([b"x" * 65536] * 2000, delay=0.001)
        made.append(it)
        return it

    h = serve(app, workers=1)
    s = socket.create_connection(h.address, timeout=TIMEOUT)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    s.close()
    deadline = time.time() + 10
    while not Closing.closed and time.time() < deadline:
        time.sleep(0.05)
    assert Closing.closed == made, "close() was not called after the client left"
    r, data = get(h, "/", "HEAD")
    assert r.status == 200
    assert h.shutdown()


def case_api():
    h = basehttp.start(hello, port=0, workers=3, queue=16, keep_alive=2)
    host, port = h.address
    assert host == "127.0.0.1" and port != 0
    c = h.config()
    assert c == {"workers": 3, "queue": 16, "when_full": "block", "keep_alive": 2.0}, c
    r, data = get(h)
    assert data == b"hello"
    s = h.stats()
    assert s["served"] == 1 and s["workers"] == 3 and s["gil_wait"] >= 0, s
    # Every figure of the core's Stats, nested where it is nested there.
    states = s["worker_states"]
    assert len(states) == 3 and set(states) <= {"idle", "reading", "handling", "writing"}, s
    assert set(s["parked"]) == {"idle", "head", "body", "write", "drain", "linger", "stream", "total"}, s
    assert s["latency"]["samples"] >= 1 and s["latency"]["p50"] > 0, s
    assert "client_closed" in s["closes"] and len(s["served_per_worker"]) == 3, s
    # Which process this is; with no supervisor, no other processes.
    assert s["pid"] == os.getpid() and s["processes"] == [], s
    assert h.shutdown()
    assert h.shutdown()  # twice is fine
    try:
        conn(h).request("GET", "/")
        raise AssertionError("still listening")
    except OSError:
        pass
    assert basehttp.DEFAULT_WORKERS == 8
    # A stop signal that comes as the server starts (a supervisor or a test that signals as
    # soon as it reads the banner) stops it as one during the wait does: serve() returns a
    # stopped handle, with no KeyboardInterrupt escaping. SIGINT stops it even where it was
    # ignored when serve() began (as a shell starts background jobs), and is ignored again
    # after.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGINT):
        def signal_self(handle, sig=sig):
            os.kill(os.getpid(), sig)
            # The handler raises at one of Python's next checks, within this loop.
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                time.sleep(0.001)
            raise AssertionError(f"{sig!r} did not stop serve()")
        h = basehttp.serve(hello, port=0, workers=2, on_start=signal_self)
        assert not h.running and not h.stats()["running"], sig
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "SIGTERM's handler restored"
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "SIGINT ignored again"


# --- Issue 12, the remaining PEP 3333 points: reason phrases, file_wrapper zero-copy and
# fallback, write() before the iterable advances, slow uploads, GIL wait ---------------------


def status_line(handle, path, method="GET"):
    """The raw status line and the body of one request."""
    s = socket.create_connection(handle.address, timeout=TIMEOUT)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return head.split(b"\r\n")[0], head, body


def recv_until(s, got, mark):
    """Reads from socket `s` onto `got` until `mark` is in it; the server must not close first."""
    while mark not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return got


def recv_all(s, got=b""):
    """Reads from socket `s` onto `got` until the server closes."""
    while chunk := s.recv(65536):
        got += chunk
    return got


def dechunk(body):
    """The data of a chunked body (no extensions or trailers, as basehttp sends it)."""
    out = b""
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out
        out, body = out + body[:n], body[n + 2:]


def case_reason():
    statuses = {"/fine": "299 Fine By Me", "/ok": "200 OK", "/gone": "404 Not Here, Sorry",
                "/latin": "200 Tr\u00e8s bien", "/bell": "200 Ding\x07", "/empty": "204 "}

    def app(environ, start_response):
        empty = environ["PATH_INFO"] == "/empty"
        start_response(statuses[environ["PATH_INFO"]], [] if empty else [("Content-Type", "text/plain")])
        return [] if empty else [b"body"]

    h = serve(app, workers=1)
    want = {"/fine": b"HTTP/1.1 299 Fine By Me", "/ok": b"HTTP/1.1 200 OK",
            "/gone": b"HTTP/1.1 404 Not Here, Sorry",
            # A non-ASCII phrase (latin-1 in a native string) gets the standard one.
            "/latin": b"HTTP/1.1 200 OK", "/empty": b"HTTP/1.1 204 "}
    for path, line in want.items():
        got, head, body = status_line(h, path)
        assert got == line, (path, got, head)
        assert body == (b"" if path == "/empty" else b"body"), (path, body)
    r, _ = get(h, "/fine")
    assert (r.status, r.reason) == (299, "Fine By Me"), (r.status, r.reason)
    # A control byte in the phrase (which the validator lets through) is a 500 with the
    # reason on stderr.
    got, _, _ = status_line(h, "/bell")
    assert got == b"HTTP/1.1 500 Internal Server Error", got
    assert h.shutdown()


class CountingFile:
    """A real file behind a file-like object that counts its reads and records close()."""

    def __init__(self, path, pos=0):
        self.f = open(path, "rb")
        self.f.seek(pos)
        self.reads = []
        self.closed = False

    def fileno(self):
        return self.f.fileno()

    def tell(self):
        return self.f.tell()

    def read(self, n=-1):
        self.reads.append(n)
        return self.f.read(n)

    def close(self):
        self.closed = True
        self.f.close()


class CountingBytesIO(io.BytesIO):
    """A file-like object without a descriptor (fileno() raises), counting its reads."""

    def __init__(self, data):
        super().__init__(data)
        self.reads = []
        self.closed_by_server = False

    def read(self, n=-1):
        self.reads.append(n)
        return super().read(n)

    def close(self):
        self.closed_by_server = True
        super().close()


def case_file_zero_copy():
    payload = os.urandom(3_000_000 + 17)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(payload)
    made = []

    def app(environ, start_response):
        p = environ["PATH_INFO"]
        headers = [("Content-Type", "application/octet-stream")]
        pos = 1000 if p in ("/tail", "/part") else 0
        if p == "/part":
            headers.append(("Content-Length", "5000"))
        if p == "/plain":
            # A plain open() file, as Django's FileResponse and Flask's send_file give.
            fh = open(f.name, "rb")
        else:
            fh = CountingFile(f.name, pos)
        made.append(fh)
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](fh, 4096)

    h = serve(app, workers=2)
    cases = {"/": payload, "/tail": payload[1000:], "/part": payload[1000:6000],
             "/plain": payload}
    for path, want in cases.items():
        r, data = get(h, path)
        assert r.status == 200 and data == want, (path, len(data), len(want))
        assert r.getheader("Content-Length") == str(len(want)), (path, r.getheaders())
        assert r.getheader("Transfer-Encoding") is None
    r, data = get(h, "/", "HEAD")
    assert r.status == 200 and data == b"" and r.getheader("Content-Length") == str(len(payload))
    time.sleep(0.1)
    counting = [m for m in made if isinstance(m, CountingFile)]
    assert len(counting) == 4, made
    for m in counting:
        # Sent by the server from the descriptor: Python never read a byte.
        assert m.reads == [], m.reads
        assert m.closed, "the file wrapper's close() was not called"
    assert made[3].closed  # the plain file
    # A file deleted after it was opened is still the same file.
    def deleted(environ, start_response):
        fh = CountingFile(f.name)
        os.unlink(f.name)
        made.append(fh)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](fh)

    h2 = serve(deleted, workers=1)
    r, data = get(h2)
    assert data == payload and made[-1].reads == [], (len(data), made[-1].reads)
    assert h.shutdown() and h2.shutdown()


def case_file_fallback():
    payload = os.urandom(300_000 + 5)
    made = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        b = CountingBytesIO(payload)
        made.append(b)
        return environ["wsgi.file_wrapper"](b, 8192)

    h = serve(app)
    r, data = get(h)
    assert r.status == 200 and data == payload, len(data)
    # No descriptor: iterated, read(blksize) at a time, and streamed.
    assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
    time.sleep(0.1)
    assert made[0].reads and set(made[0].reads) == {8192}, made[0].reads[:5]
    assert len(made[0].reads) == len(payload) // 8192 + 2, len(made[0].reads)
    assert made[0].closed_by_server, "close() was not called"
    # A declared length past the end of a real file: iterated, sent short, and closed.
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(b"only this")

    def short(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return environ["wsgi.file_wrapper"](open(f.name, "rb"))

    h2 = serve(short, workers=1)
    c = conn(h2)
    c.request("GET", "/")
    r = c.getresponse()
    try:
        r.read()
        raise AssertionError("a short body ended cleanly")
    except http.client.IncompleteRead as e:
        assert e.partial == b"only this", e.partial
    c.close()
    os.unlink(f.name)
    assert h.shutdown() and h2.shutdown()


def case_write_before_advance():
    """What write() was given goes out before the iterable is advanced: the iterable's next
    step waits until the client has seen it."""
    seen = [threading.Event(), threading.Event()]

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early;")

        def rest():
            # Not reached before the client has the written bytes, or 5 s have passed.
            yield b"first;" if seen[0].wait(5) else b"LATE;"
            write(b"written;")
            yield b"second;"
            yield b"third." if seen[1].wait(5) else b"LATE."
        return rest()

    h = serve(app, workers=1)
    s = socket.create_connection(h.address, timeout=TIMEOUT)
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    got = b""
    for mark, event in zip((b"early;", b"written;second;"), seen):
        got = recv_until(s, got, mark)
        event.set()
    got = recv_all(s, got)
    s.close()
    body = got.partition(b"\r\n\r\n")[2]
    plain = dechunk(body)
    assert plain == b"early;first;written;second;third.", body
    assert h.shutdown()



def case_write_sends_before_return():
    """write() sends at once, before the application returns: the application waits until
    the client has seen the bytes (the head, then each write), for chunked and sized bodies;
    a HEAD gets the head alone; an application that raises after a write() costs a cut
    response, a traceback, and nothing else."""
    seen = threading.Event()
    waited = []

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        headers = [("Content-Type", "text/plain")]
        if path == "/sized":
            headers.append(("Content-Length", "21"))
        write = start_response("200 OK", headers)
        write(b"written;")
        waited.append(seen.wait(5))
        seen.clear()
        if path == "/raises":
            raise RuntimeError("after a write")
        write(b"more;")
        return [b"returned"]

    h = serve(app, workers=1)
    for path, framing in (("/", b"transfer-encoding: chunked"), ("/sized", b"content-length: 21")):
        s = socket.create_connection(h.address, timeout=TIMEOUT)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        got = recv_until(s, b"", b"written;")
        seen.set()
        got = recv_all(s, got)
        s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        assert framing in head.lower(), head
        plain = dechunk(body) if b"chunked" in framing else body
        assert plain == b"written;more;returned", body
    assert waited == [True, True], waited
    # HEAD: the head goes out at the first write(), with no body bytes.
    seen.set()
    r, data = get(h, "/", method="HEAD")
    assert r.status == 200 and data == b"", data
    # Raising after the head went out: the response is cut (no last chunk), the connection
    # closed, and the worker serves the next request.
    seen.set()
    s = socket.create_connection(h.address, timeout=TIMEOUT)
    s.sendall(b"GET /raises HTTP/1.1\r\nHost: t\r\n\r\n")
    got = recv_all(s)
    s.close()
    assert got.startswith(b"HTTP/1.1 200") and b"written;" in got, got
    assert not got.endswith(b"0\r\n\r\n"), got
    seen.set()
    r, data = get(h, "/sized")
    assert r.status == 200 and data == b"written;more;returned", data
    assert h.shutdown()


def case_slow_upload():
    """With one worker, a client trickling its body holds no worker: another client's GET is
    answered meanwhile (the body is received first, in the queue)."""
    h = serve(upload, workers=1)
    payload = os.urandom(2000)
    s = socket.create_connection(h.address, timeout=TIMEOUT)
    s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload))
    sent = 0
    took = []
    started = time.time()
    while sent < len(payload):
        s.sendall(payload[sent:sent + 100])
        sent += 100
        if sent == 500:
            t = time.time()
            r, data = get(h, "/")
            took.append(time.time() - t)
            assert r.status == 200 and json.loads(data)["len"] == 0
        time.sleep(0.1)
    assert time.time() - started > 1.5
    assert took and took[0] < 1.0, took
    r = http.client.HTTPResponse(s, method="POST")
    r.begin()
    got = json.loads(r.read())
    assert got["len"] == len(payload) and got["sha"] == hashlib.sha256(payload).hexdigest(), got
    s.close()
    assert h.shutdown()


def case_gil_wait():
    """Workers that wait for the GIL while this thread holds it count the wait."""
    h = serve(hello, workers=2)
    results = []

    def client():
        for _ in range(20):
            results.append(get(h)[1])

    t = threading.Thread(target=client)
    t.start()
    # Pure Python work holds the GIL (given up only at the switch interval).
    n = 0
    while t.is_alive():
        n += 1
    t.join()
    assert results == [b"hello"] * 20
    s = h.stats()
    assert 0 < s["gil_wait"] < 60, s
    assert h.shutdown()
    assert h.stats()["gil_wait"] >= s["gil_wait"]


def case_slow_reader():
    """With one worker, a client that reads nothing of a 3.5 MiB streamed response holds the
    worker only until the iterable is done: it is closed on the thread that called the
    application, another client's GET is answered meanwhile, and the body then arrives
    whole (the sockets take about 3 MB, the worker reads the rest ahead)."""
    chunk = bytes(range(256)) * 256  # 64 KiB
    closed = []
    caller = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        if environ["PATH_INFO"] != "/big":
            return [b"quick"]
        caller.append(threading.get_ident())
        it = Closing([chunk] * 56)
        it.close = lambda: closed.append(threading.get_ident())
        return it

    h = serve(app, workers=1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(h.address)
    s.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    deadline = time.time() + 10
    while not closed and time.time() < deadline:
        time.sleep(0.02)
    assert closed == caller, (closed, caller)
    t = time.time()
    r, data = get(h, "/")
    took = time.time() - t
    assert data == b"quick" and took < 1.0, took
    got = b""
    while part := s.recv(1 << 20):
        got += part
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert dechunk(body) == chunk * 56, len(body)
    assert h.shutdown()


if __name__ == "__main__":
    name = sys.argv[1]
    globals()[f"case_{name}"]()
    print(f"ok {name}", flush=True)
