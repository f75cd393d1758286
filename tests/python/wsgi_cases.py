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
    }
    for k, v in want.items():
        assert env.get(k) == v, (k, env.get(k), v)
    assert env["wsgi.version"] == [1, 0]
    assert "CONTENT_LENGTH" not in env, env
    assert "HTTP_CONTENT_TYPE" not in env
    # The name with '_' was dropped, not merged.
    assert "evil" not in env["HTTP_X_MULTI"]
    # One that parses as another key does not appear either.
    r, data = raw(h, b"GET / HTTP/1.0\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n")
    env = json.loads(data)
    assert "HTTP_X_FORWARDED_FOR" not in env and env["SERVER_PROTOCOL"] == "HTTP/1.0", env
    assert h.shutdown()


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
    assert h.shutdown() and h2.shutdown()


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
    assert h.shutdown()
    assert h.shutdown()  # twice is fine
    try:
        conn(h).request("GET", "/")
        raise AssertionError("still listening")
    except OSError:
        pass
    assert basehttp.DEFAULT_WORKERS == 8


if __name__ == "__main__":
    name = sys.argv[1]
    globals()[f"case_{name}"]()
    print(f"ok {name}", flush=True)
