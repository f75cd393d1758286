"""A Django project served by basehttp, for tests/python.rs: a fresh `startproject` with a
small app beside it (views that store an upload and return its sha256, stream, send a file,
count per thread, and a page that logs into the admin in a frame), migrated, with a superuser
made by `manage.py createsuperuser --noinput`.

    python django_project.py            # over sockets; prints `ok django project`
    python django_project.py browser    # prints `url URL` and serves until stdin closes

Over sockets: a 5 MB multipart upload stored byte for byte, a StreamingHttpResponse that
arrives chunked and part by part, a FileResponse byte for byte (through wsgi.file_wrapper,
sent zero-copy), Django's 404 page, and per-thread state (threading.local and the database
connection) kept across requests on one worker."""

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap

PASSWORD = "basehttp-pw-12"
TIMEOUT = 20

work = tempfile.mkdtemp(prefix="basehttp-django-project-")
big = os.path.join(work, "big.bin")
with open(big, "wb") as f:
    f.write(os.urandom(2_000_003))
subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", work], check=True)
os.makedirs(os.path.join(work, "uploads"))
open(os.path.join(work, "uploads", "__init__.py"), "w").close()
with open(os.path.join(work, "uploads", "views.py"), "w") as f:
    f.write(textwrap.dedent(f'''
        import hashlib
        import io
        import threading

        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.files.storage import default_storage
        from django.db import connection
        from django.http import (FileResponse, HttpResponse, JsonResponse,
                                 StreamingHttpResponse)
        from django.views.decorators.csrf import csrf_exempt

        go = threading.Event()
        local = threading.local()


        @csrf_exempt
        def upload(request):
            f = request.FILES["file"]
            name = default_storage.save("uploads/" + f.name, f)
            h = hashlib.sha256()
            with default_storage.open(name, "rb") as stored:
                while chunk := stored.read(1 << 16):
                    h.update(chunk)
            return JsonResponse({{"name": name, "size": default_storage.size(name),
                                 "sha256": h.hexdigest(), "note": request.POST.get("note"),
                                 "kind": type(f).__name__}})


        def stream(request):
            def parts():
                yield b"part 0;"
                # The next part waits until the client has the first one.
                yield b"part 1;" if go.wait(5) else b"LATE;"
                for i in range(2, 5):
                    yield f"part {{i}};".encode()
            return StreamingHttpResponse(parts(), content_type="text/plain")


        class CountedFile(io.FileIO):
            """A real file that counts the reads Python makes of it."""
            reads = 0

            def read(self, n=-1):
                CountedFile.reads += 1
                return super().read(n)


        def file(request):
            return FileResponse(CountedFile({big!r}), content_type="application/octet-stream")


        def counter(request):
            local.n = getattr(local, "n", 0) + 1
            User.objects.count()
            return JsonResponse({{"thread": threading.get_ident(), "n": local.n,
                                 "db": id(connection.connection)}})


        def browser_login(request):
            return HttpResponse(PAGE)


        PAGE = """<!doctype html>
        <title>login through the form</title>
        <p id="state">waiting</p>
        <iframe id="f" src="/admin/login/?next=/admin/" width="800" height="600"></iframe>
        <script>
        const frame = document.getElementById("f"), state = document.getElementById("state");
        let submitted = false;
        frame.onload = () => {{
          const d = frame.contentDocument;
          if (!submitted) {{
            submitted = true;
            d.getElementById("id_username").value = "admin";
            d.getElementById("id_password").value = "{PASSWORD}";
            d.querySelector("[type=submit]").click();
            return;
          }}
          const site = d.querySelector("#site-name");
          // Stylesheets that arrived as CSS (a 404 page would be refused as one).
          const css = [...d.styleSheets].filter(s => {{
            try {{ return s.cssRules.length > 0; }} catch (e) {{ return false; }}
          }}).length;
          state.textContent = "after login: " + d.location.pathname + " | " + d.title + " | "
            + (site ? site.textContent.trim() : "no site name") + " | stylesheets: " + css;
        }};
        </script>
        """
    '''))
with open(os.path.join(work, "mysite", "settings.py"), "a") as f:
    f.write(textwrap.dedent(f"""
        MEDIA_ROOT = {os.path.join(work, "media")!r}
        # The login page is shown in a frame of the test page (same origin).
        X_FRAME_OPTIONS = "SAMEORIGIN"
        # One database connection per thread, kept across requests.
        DATABASES["default"]["CONN_MAX_AGE"] = 600
    """))
with open(os.path.join(work, "mysite", "urls.py"), "a") as f:
    f.write(textwrap.dedent("""
        from uploads import views
        urlpatterns += [
            path("upload/", views.upload), path("stream/", views.stream),
            path("file/", views.file), path("counter/", views.counter),
            path("browser-login/", views.browser_login),
        ]
    """))
manage = [sys.executable, "manage.py"]
subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], cwd=work, check=True)
subprocess.run(manage + ["createsuperuser", "--noinput", "--username", "admin",
                         "--email", "admin@example.com"], cwd=work, check=True,
               env=dict(os.environ, DJANGO_SUPERUSER_PASSWORD=PASSWORD))

sys.path.insert(0, work)
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
from mysite.wsgi import application  # noqa: E402
from uploads import views  # noqa: E402

import basehttp  # noqa: E402

handle = basehttp.start(application, port=0, workers=4)
host, port = handle.address


def request(method, path, body=None, headers=None, h=handle):
    c = http.client.HTTPConnection(*h.address, timeout=TIMEOUT)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def dechunk(body):
    out = b""
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out
        out, body = out + body[:n], body[n + 2:]


if sys.argv[1:] == ["browser"]:
    # Static files as docs/python.md suggests: Django's handler around the application.
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    handle.shutdown()
    handle = basehttp.start(StaticFilesHandler(application), port=0, workers=4)
    host, port = handle.address
    print(f"url http://{host}:{port}/browser-login/", flush=True)
    sys.stdin.read()
    assert handle.shutdown()
    shutil.rmtree(work)
    print("ok browser", flush=True)
    sys.exit(0)

# A 5 MB multipart upload, stored byte for byte (Django spills it to a temporary file).
payload = os.urandom(5 * 1024 * 1024 + 11)
boundary = "basehttp-boundary-7c1f"
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n").encode() + payload + \
    f"\r\n--{boundary}--\r\n".encode()
r, data = request("POST", "/upload/", body,
                  {"Content-Type": f"multipart/form-data; boundary={boundary}"})
assert r.status == 200, (r.status, data[:500])
got = json.loads(data)
assert got["size"] == len(payload) and got["sha256"] == hashlib.sha256(payload).hexdigest(), got
assert got["note"] == "hello" and got["kind"] == "TemporaryUploadedFile", got
with open(os.path.join(work, "media", got["name"]), "rb") as f:
    assert f.read() == payload

# A StreamingHttpResponse: chunked, and its second part made only after the first arrived.
s = socket.create_connection((host, port), timeout=TIMEOUT)
s.sendall(b"GET /stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
raw = b""
while b"part 0;" not in raw:
    chunk = s.recv(65536)
    assert chunk, raw
    raw += chunk
views.go.set()
while chunk := s.recv(65536):
    raw += chunk
s.close()
head, _, rest = raw.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
assert b"\r\nTransfer-Encoding: chunked\r\n" in head and b"Content-Length" not in head, head
assert dechunk(rest) == b"part 0;part 1;part 2;part 3;part 4;", rest

# A FileResponse, byte for byte, with its length, sent by the server from the descriptor
# (Django hands it to wsgi.file_wrapper): Python reads none of it.
with open(big, "rb") as f:
    want = f.read()
r, data = request("GET", "/file/")
assert r.status == 200 and data == want, (r.status, len(data))
assert r.getheader("Content-Length") == str(len(want)), r.getheaders()
assert views.CountedFile.reads == 0, views.CountedFile.reads
r, data = request("HEAD", "/file/")
assert r.status == 200 and data == b"" and r.getheader("Content-Length") == str(len(want))

# Django's 404 page (DEBUG is on in a fresh project: the technical one).
r, data = request("GET", "/no/such/page/")
assert r.status == 404 and b"Page not found" in data, (r.status, data[:300])

# Per-thread state on one worker: a threading.local counter that goes on counting, and the
# same database connection (CONN_MAX_AGE) from one request to the next.
one = basehttp.start(application, port=0, workers=1)
seen = [json.loads(request("GET", "/counter/", h=one)[1]) for _ in range(4)]
assert len({s["thread"] for s in seen}) == 1, seen
assert [s["n"] for s in seen] == [1, 2, 3, 4], seen
assert len({s["db"] for s in seen}) == 1, seen
assert one.shutdown() and handle.shutdown()
shutil.rmtree(work)
print("ok django project", flush=True)
