"""The ``basehttp`` Django app: ``"basehttp"`` in ``INSTALLED_APPS`` gives ``manage.py
runserver`` basehttp's thread pool (see :mod:`basehttp.management.commands.runserver`), and a
system check that says when it cannot."""

import os

from django.apps import AppConfig, apps
from django.core import checks
from django.core.management import find_commands


class BasehttpConfig(AppConfig):
    name = "basehttp"
    verbose_name = "basehttp"

    def ready(self):
        checks.register(runserver_is_basehttp_s)
        # Live reload under runserver (basehttp.live): inert unless runserver turned it on.
        from django.utils.autoreload import autoreload_started, file_changed

        from . import live
        autoreload_started.connect(live.on_autoreload_started, dispatch_uid="basehttp.live")
        file_changed.connect(live.on_file_changed, dispatch_uid="basehttp.live")


def runserver_is_basehttp_s(app_configs=None, **kwargs):
    """``basehttp.W001``: an app before ``basehttp`` in ``INSTALLED_APPS`` provides
    ``runserver`` too (``django.contrib.staticfiles``, ``daphne``, ...). Django takes a command
    from the first app that has it, so that app's server runs, and basehttp's never does."""
    for config in apps.get_app_configs():
        if config.name == "basehttp":
            return []
        if "runserver" in find_commands(os.path.join(config.path, "management")):
            return [checks.Warning(
                f"'basehttp' comes after {config.name!r} in INSTALLED_APPS, and "
                f"{config.name!r} provides runserver too: manage.py runserver runs its "
                "server, not basehttp's.",
                hint="Put 'basehttp' first in INSTALLED_APPS (Django takes a command from "
                     "the first app that has it).",
                id="basehttp.W001",
            )]
    return []
