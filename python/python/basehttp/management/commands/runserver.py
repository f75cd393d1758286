"""``manage.py runserver`` served by basehttp's thread pool instead of Django's wsgiref server.

Put ``"basehttp"`` first in ``INSTALLED_APPS`` (as daphne is put there for ASGI): Django takes
a command from the first app that has it, so this one replaces both Django's ``runserver``
and that of ``django.contrib.staticfiles``. It is a subclass of whichever of the two the
project would otherwise run, so everything runserver does outside the socket is Django's
own: ``ADDRPORT``, ``--ipv6``, ``--noreload`` (Django's autoreloader runs the server in a
child process and restarts it when a file changes), ``--skip-checks``, the system checks and
the unapplied-migrations warning at start, ``--nostatic`` and ``--insecure`` (static files
from the finders when ``DEBUG`` is on, through Django's ``StaticFilesHandler``). Only
:meth:`Command.inner_run` is replaced: after the checks it starts a basehttp pool where
runserver would start ``WSGIServer``.

With the autoreloader, its parent process binds the socket and hands it to each child it
starts (:meth:`Command.hand_on_socket`), so a reload never refuses a connection.

Added options: ``--workers N`` (default :data:`basehttp.DEFAULT_WORKERS`; ``--nothreading``
means one) and ``--quiet`` (no access lines, as ``--verbosity 0``). Access lines are written
by the Rust server in runserver's shape, so the ``django.server`` logger's settings do not
apply to them.
"""

import argparse
import errno
import os
import sys
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django.utils import autoreload
from django.utils.version import get_docs_version

import basehttp
from basehttp import live

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as RunserverCommand,
    )
else:
    from django.core.management.commands.runserver import Command as RunserverCommand

# runserver's own words for the bind errors it explains (django.core.management.commands.
# runserver); any other is shown as it is.
BIND_ERRORS = {
    errno.EACCES: "You don't have permission to access that port.",
    errno.EADDRINUSE: "That port is already in use.",
    errno.EADDRNOTAVAIL: "That IP address can't be assigned to.",
}


class Command(RunserverCommand):
    help = RunserverCommand.help.rstrip(".") + ", with basehttp's thread pool."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--workers", "-w", type=int, metavar="N",
            help=f"basehttp worker threads (default {basehttp.DEFAULT_WORKERS}; "
            "--nothreading means 1).",
        )
        parser.add_argument(
            "--quiet", action="store_true",
            help="No access lines (they are basehttp's, not the django.server logger's).",
        )
        parser.add_argument(
            "--reload-browser", action=argparse.BooleanOptionalAction, default=None,
            help="The browser follows every save: templates and static files without a "
            "restart, a stylesheet swapped in place (default: on when DEBUG is true, with the "
            "autoreloader).",
        )

    def handle(self, *args, **options):
        workers = options.get("workers")
        if workers is not None and workers < 1:
            raise CommandError("--workers must be at least 1.")
        if workers not in (None, 1) and not options["use_threading"]:
            raise CommandError("--nothreading means one worker; leave out --workers.")
        super().handle(*args, **options)

    def run(self, **options):
        """Django's ``run`` (the autoreloader, or ``inner_run`` with ``--noreload``), after
        one more check than Django makes on ``ADDRPORT``: a port past 65535 is a
        ``CommandError``, as a port that is not a number is, not a traceback at bind."""
        if int(self.port) > 65535:
            raise CommandError(f"{self.port!r} is not a valid port number (0-65535).")
        if options["use_reloader"] and os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true":
            self.hand_on_socket()
        if options["use_reloader"]:
            # The operating system's file watcher in place of Django's StatReloader
            # (basehttp.reloader); run_with_reloader asks for it in the child.
            from basehttp import reloader
            autoreload.get_reloader = reloader.get_reloader
        wanted = options.get("reload_browser")
        live.wanted = options["use_reloader"] and (settings.DEBUG if wanted is None else wanted)
        super().run(**options)

    def hand_on_socket(self):
        """In the autoreloader's parent, before its loop: binds the socket and hands it on to
        every child it starts (:func:`basehttp.hand_on`; Django starts them with
        ``close_fds=False`` and an environment copied from ``os.environ`` at that moment), so
        the port stays open across reloads: a request made while the code reloads waits in
        the kernel's queue and the new child answers it, where Django's own server refuses
        the connection. A bind error is runserver's, said once here."""
        host = "0.0.0.0" if self.addr == "0" else self.addr
        try:
            self._handed_on = basehttp.hand_on(host, int(self.port), ipv6=self.use_ipv6)
        except OSError as e:
            self.stderr.write("Error: %s" % BIND_ERRORS.get(e.errno, e))
            sys.exit(1)

    def inner_run(self, *args, **options):
        """Django's ``inner_run`` with basehttp where it runs ``WSGIServer``: runs in the
        main thread with ``--noreload``, else in the autoreloader child's
        ``django-main-thread``."""
        # An exception silenced in ManagementUtility.execute to be raised in the child.
        autoreload.raise_last_exception()
        shutdown_message = options.get("shutdown_message", "")
        if not options.get("skip_checks"):
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for conn in connections.all(initialized_only=True):
            conn.close()

        if options["use_threading"]:
            workers = options.get("workers") or basehttp.DEFAULT_WORKERS
        else:
            workers = 1
        verbose = options.get("verbosity", 1) > 0 and not options.get("quiet")
        host = "0.0.0.0" if self.addr == "0" else self.addr
        if options.get("force_color"):
            color = True
        elif options.get("no_color"):
            color = False
        else:
            color = None
        try:
            # As Django's own server: the process environment is in every request's environ
            # (under the server's keys), as wsgiref copies it.
            basehttp.serve(
                self.get_handler(*args, **options), host, int(self.port), workers=workers,
                access_log=verbose, color=color, base_environ=os.environ,
                on_start=self.started, live_reload=live.wanted,
            )
        except OSError as e:
            self.stderr.write("Error: %s" % BIND_ERRORS.get(e.errno, e))
            # As runserver: sys.exit does not end the process from the reloader's thread.
            os._exit(1)
        if shutdown_message:
            self.stdout.write(shutdown_message)

    def started(self, handle):
        if live.wanted:
            live.activate(handle)
        self.on_bind(handle.address[1], handle)

    def on_bind(self, server_port, handle=None):
        """runserver's banner, with a line that says basehttp serves and how."""
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        if self._raw_ipv6:
            addr = f"[{self.addr}]"
        elif self.addr == "0":
            addr = "0.0.0.0"
        else:
            addr = self.addr
        now = datetime.now().strftime("%B %d, %Y - %X")
        pool = basehttp.describe(handle) if handle is not None else f"basehttp {basehttp.__version__}"
        if live.wanted:
            pool += ", live reload on"
        self.stdout.write(
            f"{now}\n"
            f"Django version {self.get_version()}, using settings "
            f"{settings.SETTINGS_MODULE!r}\n"
            f"{pool}\n"
            f"Starting development server at {self.protocol}://{addr}:{server_port}/\n"
            f"Quit the server with {quit_command}."
        )
        if os.environ.get("DJANGO_RUNSERVER_HIDE_WARNING") != "true":
            self.stdout.write(self.style.WARNING(
                "WARNING: This is a development server. Do not use it in a production "
                "setting. Use a production WSGI or ASGI server instead.\nFor more "
                "information on production servers see: https://docs.djangoproject.com/"
                f"en/{get_docs_version()}/howto/deployment/"
            ))
        # Access lines go straight to stderr from Rust; the banner must not wait in a pipe's
        # buffer behind them.
        self.stdout.flush()
