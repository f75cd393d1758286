"""A minimal Django 5.2 project for benches/python.sh: what a view costs on real Django
without what a project adds around it. DEBUG off, no middleware, no installed apps, no
database (as the prototype in the design notes measured it). BENCH_MIDDLEWARE (dotted
paths, comma-separated) adds middleware, e.g. django.middleware.common.CommonMiddleware,
which gives responses a Content-Length."""

import os

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = []
MIDDLEWARE = [m for m in os.environ.get("BENCH_MIDDLEWARE", "").split(",") if m]
ROOT_URLCONF = "benchsite.urls"
DATABASES = {}
USE_TZ = True
WSGI_APPLICATION = "benchsite.wsgi.application"
ASGI_APPLICATION = "benchsite.asgi.application"
