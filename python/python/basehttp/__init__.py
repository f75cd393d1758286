"""basehttp for Python: serve a WSGI application (Django, Flask, any PEP 3333 callable)
with basehttp's Rust thread pool.

    import basehttp
    basehttp.serve(app, "127.0.0.1", 8000)          # in the foreground, until Ctrl-C

    handle = basehttp.start(app, port=0)              # in the background
    host, port = handle.address
    print(handle.stats()["served"])
    handle.shutdown()
"""

import atexit
import os
import signal
import socket
import sys
import threading
import time
import weakref

from . import _native
from ._native import Handle, InvalidResponse

__all__ = ["serve", "start", "Handle", "InvalidResponse", "describe", "use_color", "hand_on",
           "__version__", "DEFAULT_WORKERS"]
__version__ = _native.__version__

#: Python's own default, independent of the Rust server's: each worker is a thread that may
#: hold a database connection of its own (Django keeps one per thread), so the pool stays
#: small. PostgreSQL's default max_connections is 100.
DEFAULT_WORKERS = 8

_live = weakref.WeakSet()


def _stop_all():
    # Before the interpreter finalizes, while workers can still finish their Python calls.
    for handle in list(_live):
        handle.shutdown()


atexit.register(_stop_all)


def use_color(force=None):
    """Whether access lines are coloured: ``force`` if it is ``True`` or ``False`` (runserver's
    ``--force-color`` and ``--no-color``), else when standard error is a terminal and
    ``NO_COLOR`` is unset."""
    if force is not None:
        return force
    return sys.stderr.isatty() and not os.environ.get("NO_COLOR")


def start(app, host="127.0.0.1", port=0, *, workers=DEFAULT_WORKERS, queue=None,
          when_full="block", keep_alive=None, access_log=False, color=None,
          base_environ=None, inherit=True, live_reload=False):
    """Starts serving ``app`` in the background; returns a :class:`Handle` with
    ``.address`` (``(host, port)``, the real port when ``port`` is 0), ``.stats()``,
    ``.config()`` and ``.shutdown()`` (graceful; also run at interpreter exit).
    Access lines (runserver's shape, on stderr) are off unless ``access_log=True``.
    ``base_environ``, a dict, is copied into every request's ``environ`` under the server's
    own keys (runserver passes ``os.environ``, as Django's own server does).
    A port outside 0-65535 is a ``ValueError``; an address that cannot be bound, ``OSError``.

    A listening socket handed on to this process (by ``python -m basehttp --processes``'s
    supervisor, by the autoreloader under basehttp's ``runserver``, or by systemd: see
    :func:`hand_on`) is served instead of binding ``host`` and ``port``, unless
    ``inherit=False``; the handover variables are then removed from ``os.environ``, and the
    socket is not inherited by the application's own subprocesses.

    ``live_reload=True`` serves live reload's script and event stream (``/__basehttp/...``) and
    puts the script into the HTML pages a browser navigates to (asked for uncompressed);
    ``handle.reload("css", "/static/site.css")`` or ``handle.reload("reload", "/")`` then
    tells every open tab (see :mod:`basehttp.live`)."""
    listener = _native.inherited() if inherit else None
    if listener is not None:
        for name in _native.HANDOVER_VARIABLES:
            os.environ.pop(name, None)
    handle = _native.start(
        app, host, port, workers=workers, queue=queue, when_full=when_full,
        keep_alive=keep_alive, access_log=access_log, color=use_color(color),
        base_environ=None if base_environ is None else dict(base_environ),
        listener=listener, live_reload=live_reload,
    )
    _live.add(handle)
    return handle


def hand_on(host, port, *, ipv6=False):
    """Binds ``host:port`` (as :func:`start` would: the first address that binds, with
    ``SO_REUSEADDR``) and makes the socket the one this process's next children serve: at
    descriptor 3 (or the next free one, named in ``LISTEN_FDS_FIRST_FD``), inheritable, with
    ``LISTEN_FDS=1``, ``LISTEN_FDNAMES=basehttp`` and ``BASEHTTP_LISTEN_PARENT`` (this pid) in
    ``os.environ``. Children started with ``close_fds=False`` (as Django's autoreloader starts
    its) then serve it one after another, and a connection made between two of them waits in
    the kernel's queue instead of being refused. Returns the socket; keep it open. Raises
    ``OSError`` as ``socket.bind`` does, with ``errno`` set."""
    sock = socket.socket(fileno=_native.bind_fd(host, port, ipv6))
    fd = sock.fileno()
    if fd != 3:
        try:
            os.fstat(3)
        except OSError:
            # Free: systemd's place for the first socket.
            fd = os.dup2(sock.fileno(), 3)
            sock.close()
            sock = socket.socket(fileno=fd)
    os.set_inheritable(fd, True)
    os.environ.pop("LISTEN_PID", None)
    os.environ.update({
        "LISTEN_FDS": "1",
        "LISTEN_FDNAMES": "basehttp",
        "BASEHTTP_LISTEN_PARENT": str(os.getpid()),
    })
    if fd == 3:
        os.environ.pop("LISTEN_FDS_FIRST_FD", None)
    else:
        os.environ["LISTEN_FDS_FIRST_FD"] = str(fd)
    return sock


def url(handle):
    return url_of(handle.address)


def url_of(address):
    host, port = address
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def describe(handle):
    """One line on the pool: ``basehttp 0.1.0: 8 workers, queue of 4096 (block when full)``."""
    c = handle.config()
    workers = f"{c['workers']} worker{'s' if c['workers'] != 1 else ''}"
    return (f"basehttp {__version__}: {workers}, queue of {c['queue']} "
            f"({c['when_full']} when full)")


def banner(handle, what):
    return (
        f"{describe(handle)}\n"
        f"Serving {what}\n"
        f"Starting development server at {url(handle)}\n"
        "Quit the server with CONTROL-C."
    )


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def _catch_stop_signals():
    """Makes SIGTERM raise KeyboardInterrupt, and SIGINT too where no Python handler has it
    (a shell starts background jobs with SIGINT ignored, and Python keeps that): a server
    stops on either, as the binary, gunicorn and uvicorn do. Main thread only; returns what
    to give :func:`_restore_signals`."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _sigterm)}
    if not callable(signal.getsignal(signal.SIGINT)):
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def _restore_signals(previous):
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _wait(handle):
    """Waits until ``handle`` is shut down, or on the main thread until a signal's handler
    raises (``serve`` makes Ctrl-C and SIGTERM raise KeyboardInterrupt)."""
    if threading.current_thread() is threading.main_thread():
        handle.wait()
        return
    # No signal reaches this thread. It may be a daemon thread (Django's autoreloader runs
    # the server in one) still waiting when the interpreter finalizes, and a thread that
    # wakes then is ended (pthread_exit, CPython 3.11-3.13) or parked for good (3.14) where
    # it asks for the GIL back: that must happen in Python's own code (time.sleep), not in
    # the extension, whose Rust frames must not be unwound by pthread_exit. The pool itself
    # is stopped before finalizing, at exit (atexit, _stop_all).
    while handle.running:
        time.sleep(0.1)


def serve(app, host="127.0.0.1", port=8000, *, workers=DEFAULT_WORKERS, queue=None,
          when_full="block", keep_alive=None, access_log=True, color=None,
          base_environ=None, banner_for=None, on_start=None, live_reload=False):
    """Serves ``app`` in the foreground until Ctrl-C or SIGTERM, then stops gracefully
    (in-flight requests finish) and returns the stopped handle. The GIL is released while it
    waits; signals are checked every 100 ms. Once the socket is bound, ``on_start(handle)``
    runs (to print a banner, say); ``banner_for`` names the app in basehttp's own banner on
    stderr instead. Off the main thread (where no signal arrives: Django's autoreloader runs
    runserver in one) it serves until the handle is shut down or the interpreter exits.
    Errors before serving are raised as :func:`start` raises them."""
    # SIGTERM stops it as Ctrl-C does, from before the banner says it serves: a supervisor
    # or a test that signals as soon as it reads the banner must not find the default action.
    in_main = threading.current_thread() is threading.main_thread()
    previous = _catch_stop_signals() if in_main else {}
    try:
        handle = start(app, host, port, workers=workers, queue=queue, when_full=when_full,
                       keep_alive=keep_alive, access_log=access_log, color=color,
                       base_environ=base_environ, live_reload=live_reload)
        try:
            if on_start is not None:
                on_start(handle)
            if banner_for is not None:
                print(banner(handle, banner_for), file=sys.stderr, flush=True)
            _wait(handle)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM, in the wait or before it began (a supervisor or a test that
            # signals as soon as it reads the banner; the handler raises as `print`
            # returns): a graceful stop, not a traceback.
            pass
        finally:
            handle.shutdown()
    finally:
        _restore_signals(previous)
    return handle
