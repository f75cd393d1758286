"""python -m basehttp MODULE:CALLABLE [ADDRPORT] [options]: serve a WSGI application."""

import argparse
import faulthandler
import importlib
import os
import re
import signal
import sys
import traceback

import basehttp

EPILOG = """\
ADDRPORT is as runserver takes it: 8000, 0:8000 (all interfaces), 127.0.0.1:8000,
[::1]:8000; the default is 127.0.0.1:8000. Examples:
  python -m basehttp mysite.wsgi:application
  python -m basehttp app:app 0:8080 -w 4
  python -m basehttp mysite.wsgi --processes 4     # one per core: Python runs one thread
                                                  # of Python at a time per process

With --processes N (or WEB_CONCURRENCY), a supervisor binds the socket and starts N
worker processes that share it; SIGHUP replaces them one at a time (each new one
serving before an old one stops), SIGTERM or Ctrl-C stops them gracefully.
"""


def parse_addrport(text):
    m = re.fullmatch(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d+)", text)
    if m:
        host = m.group("v6") or m.group("host")
        port = m.group("port")
    elif text.isdigit():
        host, port = "127.0.0.1", text
    else:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port or address:port")
    if host == "0":
        host = "0.0.0.0"
    port = int(port)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range")
    return host, port


def print_user_traceback(e):
    """Prints the traceback of ``e`` raised while importing the application, without the
    frames of this module and of the import machinery: the frames left are the user's code
    (or the libraries it called), ending where it raised, as gunicorn shows them."""
    def ours(frame):
        name = frame.filename
        return (name == __file__ or name.startswith("<frozen importlib")
                or name == importlib.__file__)
    te = traceback.TracebackException.from_exception(e)
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if not ours(f)])
    print("".join(te.format()), end="", file=sys.stderr)


def load(spec):
    """The callable `spec` names (MODULE:CALLABLE; CALLABLE defaults to `application`),
    or SystemExit with a one-line error."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "application"
    if not module_name:
        sys.exit(f"Error: {spec!r} is not MODULE:CALLABLE")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name or module_name.startswith(f"{e.name}."):
            sys.exit(f"Error: cannot import module {module_name!r}: no module named {e.name!r}"
                     " (is it on sys.path, or the current directory?)")
        print_user_traceback(e)
        sys.exit(f"Error: importing {module_name!r} failed: {type(e).__name__}: {e}")
    except Exception as e:
        print_user_traceback(e)
        sys.exit(f"Error: importing {module_name!r} failed: {type(e).__name__}: {e}")
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            sys.exit(f"Error: module {module_name!r} has no attribute {attr!r}")
    if not callable(obj):
        sys.exit(f"Error: {module_name}:{attr} is not callable (a WSGI application is)")
    return obj


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m basehttp", description="Serve a WSGI application with basehttp.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("app", metavar="MODULE:CALLABLE")
    p.add_argument("addrport", metavar="ADDRPORT", nargs="?", type=parse_addrport,
                   default=("127.0.0.1", 8000))
    p.add_argument("-w", "--workers", type=int, default=basehttp.DEFAULT_WORKERS,
                   help=f"worker threads (default {basehttp.DEFAULT_WORKERS})")
    p.add_argument("-q", "--queue", type=int, help="connections that may wait for a worker")
    p.add_argument("--when-full", choices=["block", "reject"], default="block",
                   help="what a full queue does to new connections (default block)")
    p.add_argument("--keep-alive", type=float, metavar="SECS",
                   help="keep-alive timeout in seconds; 0 disables keep-alive")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.add_argument("--processes", type=int, metavar="N",
                   help="worker processes sharing the socket, under a supervisor "
                   "(default: WEB_CONCURRENCY if set, else 1)")
    p.add_argument("--max-requests", type=int, metavar="N",
                   help="replace a worker process after N requests (up to 10%% more)")
    p.add_argument("--timeout", type=float, metavar="SECS",
                   help="replace a worker process that sends no heartbeat for SECS "
                   "(default 30); its threads' stacks are printed first")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    processes = args.processes
    if processes is None:
        text = os.environ.get("WEB_CONCURRENCY")
        try:
            processes = int(text) if text else 1
        except ValueError:
            p.error(f"WEB_CONCURRENCY={text!r} is not a whole number of processes")
    if processes < 1:
        p.error("--processes must be at least 1")
    if args.max_requests is not None and args.max_requests < 1:
        p.error("--max-requests must be at least 1")
    if args.timeout is not None and args.timeout < 1:
        p.error("--timeout must be at least 1 second")
    worker = supervised()
    if not worker and (processes > 1 or args.max_requests or args.timeout):
        return supervise(args, processes, sys.argv[1:] if argv is None else argv)
    if worker:
        # The supervisor sends SIGUSR1 to a worker that stopped beating, a second before it
        # kills it: every thread's stack, to see where it hung.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    app = load(args.app)
    host, port = args.addrport
    try:
        handle = basehttp.serve(
            app, host, port, workers=args.workers, queue=args.queue,
            when_full=args.when_full, keep_alive=args.keep_alive,
            access_log=not args.quiet,
            banner_for=None if worker else f"WSGI application {args.app}")
    except OSError as e:
        sys.exit(f"Error: cannot listen on {host}:{port}: {e.strerror or e}")
    if not worker:
        gil = handle.stats()["gil_wait"]
        print(f"Stopped. Workers waited {gil:.3f} s in total for the GIL.", file=sys.stderr)


def supervised():
    """Whether this process is a worker of a supervisor: its parent named in
    BASEHTTP_SUPERVISOR (a grandchild that inherited the variable is not)."""
    value = os.environ.get("BASEHTTP_SUPERVISOR", "")
    return value.partition(":")[0] == str(os.getppid())


def _reload(signum, frame):
    raise basehttp._native.Reload


def supervise(args, processes, argv):
    """The supervisor: binds the socket and runs ``processes`` workers (this command line,
    each a fresh interpreter that imports the application itself), until Ctrl-C or SIGTERM;
    SIGHUP replaces them one at a time. The supervisor imports no application: a worker
    that cannot start stops it, with the worker's own error above."""
    host, port = args.addrport

    def banner(address):
        url = basehttp.url_of(address)
        print(f"Supervisor: {processes} worker process{'es' if processes != 1 else ''} "
              f"(pid {os.getpid()}; SIGHUP replaces them one at a time)\n"
              f"basehttp {basehttp.__version__}: {args.workers} workers each\n"
              f"Serving WSGI application {args.app}\n"
              f"Starting development server at {url}\n"
              "Quit the server with CONTROL-C.", file=sys.stderr, flush=True)

    previous = basehttp._catch_stop_signals()
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _reload)
    try:
        basehttp._native.supervise(
            ["-m", "basehttp", *argv], host, port,
            processes=processes, max_requests=args.max_requests,
            timeout=args.timeout or 30.0, on_start=banner)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        sys.exit(f"Error: {e.strerror or e}")
    finally:
        basehttp._restore_signals(previous)


if __name__ == "__main__":
    main()
