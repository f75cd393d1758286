#!/usr/bin/env python3
"""Django's StatReloader against basehttp's NativeReloader (issue 21), under basehttp's
``manage.py runserver``: a fresh Django project whose URLconf imports a package of 3,000
modules (3,000 more files for the reloader to watch, as a large project has), served on
loopback. For each reloader:

- the CPU the serving process uses over 20 s while nothing changes (the reloader runs in it);
- the time from saving a module to the new server answering with the new code (a view
  returns a constant of that module; a client polls it every 10 ms), median of 5 saves.

    target/python-venv/bin/python benches/django_reloader.py     # about 2 minutes

Needs a Python with Django and basehttp installed (target/python-venv has both after
`cargo test --test python`). Servers in process groups of their own, killed at the end;
loopback only.
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

MODULES = int(os.environ.get("MODULES", "3000"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project(root):
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", root], check=True)
    settings = os.path.join(root, "mysite", "settings.py")
    text = open(settings).read()
    text = text.replace("INSTALLED_APPS = [\n", 'INSTALLED_APPS = [\n    "basehttp",\n', 1)
    text = text.replace("ALLOWED_HOSTS = []", 'ALLOWED_HOSTS = ["*"]', 1)
    open(settings, "w").write(text)
    pkg = os.path.join(root, "many")
    os.makedirs(pkg)
    open(os.path.join(pkg, "__init__.py"), "w").write(
        "".join(f"from . import m{i}\n" for i in range(MODULES)))
    for i in range(MODULES):
        open(os.path.join(pkg, f"m{i}.py"), "w").write(f"VALUE = {i}\n")
    open(os.path.join(root, "mysite", "views.py"), "w").write(
        "from django.http import HttpResponse\nimport many\nfrom many import m7\n\n"
        "def value(request):\n    return HttpResponse(str(m7.VALUE))\n")
    urls = os.path.join(root, "mysite", "urls.py")
    text = open(urls).read().replace(
        "from django.urls import path", "from django.urls import path\nfrom mysite import views", 1)
    text = text.replace("urlpatterns = [\n", 'urlpatterns = [\n    path("value/", views.value),\n', 1)
    open(urls, "w").write(text)


def get(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/value/", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def cpu_of_group(pgid):
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def measure(root, reloader):
    port = free_port()
    env = {**os.environ, "BASEHTTP_RELOADER": reloader, "PYTHONDONTWRITEBYTECODE": "1"}
    p = subprocess.Popen([sys.executable, "manage.py", "runserver", "--skip-checks",
                          "--quiet", "--no-reload-browser", f"127.0.0.1:{port}"],
                         cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True, text=True)
    try:
        deadline = time.monotonic() + 60
        while get(port) != "7":
            assert time.monotonic() < deadline, "the server does not answer"
            time.sleep(0.1)
        time.sleep(3)  # the reloader's first look
        c0, t0 = cpu_of_group(p.pid), time.monotonic()
        time.sleep(20)
        idle = (cpu_of_group(p.pid) - c0) / (time.monotonic() - t0)
        saves = []
        module = os.path.join(root, "many", "m7.py")
        for n in range(1, 6):
            value = str(1000 + n)
            with open(module, "w") as f:
                f.write(f"VALUE = {value}\n")
            t = time.monotonic()
            while get(port) != value:
                assert time.monotonic() - t < 30, "no reload"
                time.sleep(0.01)
            saves.append(time.monotonic() - t)
            time.sleep(2)
        return idle, statistics.median(saves), saves
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def main():
    root = tempfile.mkdtemp(prefix="basehttp-reloader-bench-")
    try:
        project(root)
        rows = []
        for reloader, name in (("stat", "StatReloader (Django's)"), ("native", "NativeReloader (basehttp)")):
            idle, median, saves = measure(root, reloader)
            rows.append((name, idle, median, saves))
            # Restore the module between runs.
            open(os.path.join(root, "many", "m7.py"), "w").write("VALUE = 7\n")
    finally:
        subprocess.run(["rm", "-rf", root])
    load = os.getloadavg()
    print(f"{time.strftime('%d %b %Y %H:%M')}; 2 cores; load {load[0]:.2f} at the end; "
          f"a project of {MODULES:,} extra modules; Python {sys.version.split()[0]}\n")
    print("| reloader | CPU while idle (20 s) | save to new code answering (median of 5) | the 5 |")
    print("|---|---:|---:|---|")
    for name, idle, median, saves in rows:
        print(f"| {name} | {idle * 100:.1f}% of a core | {median * 1000:.0f} ms | "
              f"{', '.join(f'{s * 1000:.0f}' for s in saves)} |")


if __name__ == "__main__":
    main()
