"""A Flask 3 application served by basehttp (for tests/python.rs): a route with a path
parameter, a JSON POST, a streamed response, flask's 404, and send_file (of a path, and of a
file object, which goes out zero-copy). Prints `ok flask`."""

import http.client
import io
import json
import os
import tempfile

from flask import Flask, Response, request, send_file, stream_with_context

import basehttp

app = Flask(__name__)
payload = os.urandom(100_000)
fd, path = tempfile.mkstemp()
os.write(fd, payload)
os.close(fd)


@app.get("/hello/<name>")
def hello(name):
    return f"Hello, {name}!"


@app.post("/echo")
def echo():
    return {"got": request.get_json(), "args": request.args.to_dict()}


@app.get("/stream")
def stream():
    def gen():
        for i in range(3):
            yield f"part {i};"
    return Response(stream_with_context(gen()), mimetype="text/plain")


@app.get("/file")
def file():
    return send_file(path, mimetype="application/octet-stream")


class CountedFile(io.FileIO):
    """A real file that counts the reads Python makes of it."""
    reads = 0

    def read(self, n=-1):
        CountedFile.reads += 1
        return super().read(n)


@app.get("/file-object")
def file_object():
    # A file object, not a path: werkzeug hands it to wsgi.file_wrapper.
    return send_file(CountedFile(path), mimetype="application/octet-stream")


handle = basehttp.start(app, port=0, workers=2)


def request_(method, target, body=None, headers=None):
    c = http.client.HTTPConnection(*handle.address, timeout=20)
    c.request(method, target, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


r, data = request_("GET", "/hello/w%C3%B6rld")
assert r.status == 200 and data == "Hello, wörld!".encode(), (r.status, data)
r, data = request_("POST", "/echo?x=1", json.dumps({"a": [1, 2]}),
                   {"Content-Type": "application/json"})
assert r.status == 200 and json.loads(data) == {"got": {"a": [1, 2]}, "args": {"x": "1"}}, data
r, data = request_("GET", "/stream")
assert r.status == 200 and data == b"part 0;part 1;part 2;", data
assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
r, data = request_("GET", "/missing")
assert r.status == 404, r.status
r, data = request_("GET", "/file")
assert r.status == 200 and data == payload, (r.status, len(data))
assert r.getheader("Content-Length") == str(len(payload)), r.getheaders()
# Sent by the server from the descriptor (zero-copy): Python reads none of it.
r, data = request_("GET", "/file-object")
assert r.status == 200 and data == payload, (r.status, len(data))
assert r.getheader("Content-Length") == str(len(payload)), r.getheaders()
assert CountedFile.reads == 0, CountedFile.reads
assert handle.shutdown()
os.unlink(path)
print("ok flask", flush=True)
