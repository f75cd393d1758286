"""A fresh `django-admin startproject` served by basehttp (for tests/python.rs): the admin
login page, a login POST with the CSRF cookie that gets its 302 and a session, the admin
index with that session, and Django's 404 page. Prints `ok django`."""

import http.client
import http.cookies
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import django
from django.core.management import call_command

import basehttp

TIMEOUT = 20
work = tempfile.mkdtemp(prefix="basehttp-django-")
subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", work], check=True)
sys.path.insert(0, work)
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
django.setup()
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User  # noqa: E402

User.objects.create_superuser("admin", "admin@example.com", "pw")
from mysite.wsgi import application  # noqa: E402

handle = basehttp.start(application, port=0, workers=4)
host, port = handle.address
jar = {}


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    h = dict(headers or {})
    if jar:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    for value in r.headers.get_all("Set-Cookie") or []:
        cookie = http.cookies.SimpleCookie(value)
        for k, morsel in cookie.items():
            jar[k] = morsel.value
    c.close()
    return r, data


r, page = request("GET", "/admin/login/")
assert r.status == 200, r.status
assert "csrftoken" in jar, r.getheaders()
token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "admin",
                               "password": "pw", "next": "/admin/"})
r, _ = request("POST", "/admin/login/", form, {
    "Content-Type": "application/x-www-form-urlencoded",
    "Referer": f"http://{host}:{port}/admin/login/"})
assert r.status == 302 and r.getheader("Location") == "/admin/", (r.status, r.getheaders())
assert "sessionid" in jar, jar
r, page = request("GET", "/admin/")
assert r.status == 200 and b"Site administration" in page, r.status
r, page = request("GET", "/no/such/page/")
assert r.status == 404, r.status
assert handle.shutdown()
shutil.rmtree(work)
print("ok django", flush=True)
