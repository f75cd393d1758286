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
import sys
import threading
import time
import weakref

from . import _native
from ._native import Handle

__all__ = ["serve", "start", "Handle", "__version__", "DEFAULT_WORKERS"]
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


def _color():
    return sys.stderr.isatty() and not os.environ.get("NO_COLOR")


def start(app, host="127.0.0.1", port=0, *, workers=DEFAULT_WORKERS, queue=None,
          when_full="block", keep_alive=None, access_log=False, color=None):
    """Starts serving ``app`` in the background; returns a :class:`Handle` with
    ``.address`` (``(host, port)``, the real port when ``port`` is 0), ``.stats()``,
    ``.config()`` and ``.shutdown()`` (graceful; also run at interpreter exit).
    Access lines (runserver's shape, on stderr) are off unless ``access_log=True``."""
    handle = _native.start(
        app, host, port, workers=workers, queue=queue, when_full=when_full,
        keep_alive=keep_alive, access_log=access_log,
        color=_color() if color is None else color,
    )
    _live.add(handle)
    return handle


def url(handle):
    host, port = handle.address
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def banner(handle, what):
    c = handle.config()
    return (
        f"basehttp {__version__}: {c['workers']} workers, queue of {c['queue']} "
        f"({c['when_full']} when full)\n"
        f"Serving {what}\n"
        f"Starting development server at {url(handle)}\n"
        "Quit the server with CONTROL-C."
    )


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def _run_until_stopped(handle):
    """Waits until ``handle`` is shut down, or on the main thread until Ctrl-C or SIGTERM
    (then shuts it down gracefully and returns)."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main:
        # No signal reaches this thread. It may be a daemon thread (Django's autoreloader runs
        # the server in one) still waiting when the interpreter finalizes, and a thread that
        # wakes then is ended (pthread_exit, CPython 3.11-3.13) or parked for good (3.14)
        # where it asks for the GIL back: that must happen in Python's own code (time.sleep),
        # not in the extension, whose Rust frames must not be unwound by pthread_exit. The
        # pool itself is stopped before finalizing, at exit (atexit, _stop_all).
        try:
            while handle.stats()["running"]:
                time.sleep(0.1)
        finally:
            handle.shutdown()
        return
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.shutdown()
        signal.signal(signal.SIGTERM, previous)


def serve(app, host="127.0.0.1", port=8000, *, workers=DEFAULT_WORKERS, queue=None,
          when_full="block", keep_alive=None, access_log=True, color=None,
          banner_for=None):
    """Serves ``app`` in the foreground until Ctrl-C or SIGTERM, then stops gracefully
    (in-flight requests finish) and returns. The GIL is released while it waits; signals
    are checked every 100 ms. ``banner_for`` names the app in a startup banner on stderr.
    Off the main thread (where no signal arrives) it serves until the handle is shut down
    or the interpreter exits."""
    handle = start(app, host, port, workers=workers, queue=queue, when_full=when_full,
                   keep_alive=keep_alive, access_log=access_log, color=color)
    try:
        if banner_for is not None:
            print(banner(handle, banner_for), file=sys.stderr, flush=True)
    except BaseException:
        handle.shutdown()
        raise
    _run_until_stopped(handle)
    return handle
