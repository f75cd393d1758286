"""Makes a fresh `django-admin startproject mysite` in DIR for the runserver tests in
tests/python.rs: "basehttp" first in INSTALLED_APPS, ALLOWED_HOSTS open, no `migrate` run
(so runserver warns of unapplied migrations), and two views in mysite/views.py: `/hello/`
(its text is what the autoreload test edits), `/slow/` (sleeps, then answers when it ran
and on which thread), `/meta/` (request.META's text values as JSON) and `/whoami/` (the
process, `wsgi.multiprocess`, the thread, and a thread-local count of its requests).
`python runserver_site.py DIR [nodebug] [late] [live]`: `late` puts "basehttp" last in
INSTALLED_APPS instead (after django.contrib.staticfiles); `live` adds a template
(`templates/page.html`, at `/page/`, showing the view's `version`) and a stylesheet of the
project's own (`static/site.css`); prints `ok site`."""

import pathlib
import subprocess
import sys

VIEWS = '''\
import os
import threading
import time

from django.http import HttpResponse, JsonResponse


def hello(request):
    return HttpResponse("hello v1")


def slow(request):
    started = time.monotonic()
    time.sleep(float(request.GET.get("secs", "1")))
    return HttpResponse(f"{started} {time.monotonic()} {threading.get_ident()}")


def page(request):
    from django.shortcuts import render
    return render(request, "page.html", {"version": "py1"})


def meta(request):
    return JsonResponse({k: v for k, v in request.META.items() if isinstance(v, str)})


local = threading.local()


def whoami(request):
    local.count = getattr(local, "count", 0) + 1
    return HttpResponse(f"{os.getpid()} {request.META['wsgi.multiprocess']} "
                        f"{threading.get_ident()} {local.count}")
'''

work = pathlib.Path(sys.argv[1])
work.mkdir(parents=True, exist_ok=True)
subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(work)],
               check=True)
settings = work / "mysite" / "settings.py"
text = settings.read_text()
if "late" in sys.argv[2:]:
    text = text.replace("    'django.contrib.staticfiles',\n",
                        "    'django.contrib.staticfiles',\n    \"basehttp\",\n", 1)
else:
    text = text.replace("INSTALLED_APPS = [\n", 'INSTALLED_APPS = [\n    "basehttp",\n', 1)
text = text.replace("ALLOWED_HOSTS = []", 'ALLOWED_HOSTS = ["*"]', 1)
if "nodebug" in sys.argv[2:]:
    text = text.replace("DEBUG = True", "DEBUG = False", 1)
if "live" in sys.argv[2:]:
    # A page from a template of the project's own, with a stylesheet of its own.
    text += '\nSTATICFILES_DIRS = [BASE_DIR / "static"]\n'
    text = text.replace("'DIRS': [],", "'DIRS': [BASE_DIR / 'templates'],", 1)
    (work / "static").mkdir()
    (work / "static" / "site.css").write_text("h1 { color: rgb(255, 0, 0) }\n")
    (work / "templates").mkdir()
    (work / "templates" / "page.html").write_text(
        "{% load static %}<!DOCTYPE html><html><head>"
        "<link rel=stylesheet href=\"{% static 'site.css' %}\"></head>"
        "<body><h1 id=t>v1</h1><p id=v>{{ version }}</p></body></html>\n")
assert '"basehttp"' in text and 'ALLOWED_HOSTS = ["*"]' in text
settings.write_text(text)
(work / "mysite" / "views.py").write_text(VIEWS)
urls = work / "mysite" / "urls.py"
text = urls.read_text()
text = text.replace("from django.urls import path",
                    "from django.urls import path\n\nfrom mysite import views", 1)
text = text.replace("urlpatterns = [\n", 'urlpatterns = [\n    path("hello/", views.hello),\n'
                    '    path("slow/", views.slow),\n    path("meta/", views.meta),\n'
                    '    path("whoami/", views.whoami),\n    path("page/", views.page),\n', 1)
assert "views.hello" in text
urls.write_text(text)
print("ok site", flush=True)
