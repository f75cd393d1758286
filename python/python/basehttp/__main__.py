"""python -m basehttp MODULE:CALLABLE [ADDRPORT] [options]: serve a WSGI application."""

import argparse
import importlib
import re
import sys
import traceback

import basehttp

EPILOG = """\
ADDRPORT is as runserver takes it: 8000, 0:8000 (all interfaces), 127.0.0.1:8000,
[::1]:8000; the default is 127.0.0.1:8000. Examples:
  python -m basehttp mysite.wsgi:application
  python -m basehttp app:app 0:8080 -w 4
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
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    app = load(args.app)
    host, port = args.addrport
    try:
        handle = basehttp.serve(
            app, host, port, workers=args.workers, queue=args.queue,
            when_full=args.when_full, keep_alive=args.keep_alive,
            access_log=not args.quiet, banner_for=f"WSGI application {args.app}")
    except OSError as e:
        sys.exit(f"Error: cannot listen on {host}:{port}: {e.strerror or e}")
    gil = handle.stats()["gil_wait"]
    print(f"Stopped. Workers waited {gil:.3f} s in total for the GIL.", file=sys.stderr)


if __name__ == "__main__":
    main()
