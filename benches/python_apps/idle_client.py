"""The client of benches/idle_python.sh: the time of one request on an idle kept-alive connection.

For each server, each repeat: open CONNS connections (TCP_NODELAY) and send one request on
each, then ROUNDS times sleep PAUSE seconds and time one GET on a random one of them, from the
first byte written to the last byte of the response read. The servers alternate (the order
reversed on even repeats); a run's median and max go to stderr as it ends, and the Markdown
table (median of the repeats' medians, max of every sample, ratio to the reference server) to
stdout. A connection the server closed is reported, reopened and not timed.

    python3 idle_client.py [--repeats N] [--rounds N] [--pause S] [--conns N] [--path P]
                           NAME=PORT ... (the last one is the reference)
"""

import argparse
import random
import socket
import statistics
import sys
import time

HEAD_LIMIT = 64 * 1024


class Closed(Exception):
    """The server closed the connection (or reset it) before a whole response came."""


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_response(sock):
    """Reads one response framed by Content-Length (the apps here always send one)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > HEAD_LIMIT:
            raise ValueError("response head too long")
        buf += recv_some(sock)
    head, _, body = buf.partition(b"\r\n\r\n")
    length = content_length(head)
    while len(body) < length:
        body += recv_some(sock)
    if not head.startswith(b"HTTP/1.1 200 "):
        raise ValueError(f"unexpected response: {head[:80]!r}")


def recv_some(sock):
    try:
        chunk = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Closed from e
    if not chunk:
        raise Closed
    return chunk


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError(f"no Content-Length in {head[:200]!r}")


def timed_get(sock, request):
    """Seconds from writing `request` to reading the whole response."""
    t = time.perf_counter()
    try:
        sock.sendall(request)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Closed from e
    recv_response(sock)
    return time.perf_counter() - t


def one_run(port, args):
    """The timed samples (seconds) of one run, and how many connections the server closed."""
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    conns = [connect(port) for _ in range(args.conns)]
    closed = 0
    try:
        for sock in conns:
            timed_get(sock, request)
        samples = []
        for _ in range(args.rounds):
            time.sleep(args.pause)
            i = random.randrange(len(conns))
            try:
                samples.append(timed_get(conns[i], request))
            except Closed:
                closed += 1
                conns[i].close()
                conns[i] = connect(port)
        return samples, closed
    finally:
        for sock in conns:
            sock.close()


def table(servers, medians, maxes, closes):
    ref = servers[-1][0]
    ref_median = statistics.median(medians[ref])
    lines = [
        f"| server | median ms | max ms | {ref} = 1 | closed by the server | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, _ in servers:
        m = statistics.median(medians[name])
        target = "(reference)" if name == ref else "<= 1.2x"
        lines.append(f"| {name} | {m * 1000:.3f} | {max(maxes[name]) * 1000:.3f} | "
                     f"{m / ref_median:.2f}x | {closes[name]} | {target} |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--pause", type=float, default=0.3)
    p.add_argument("--conns", type=int, default=6)
    p.add_argument("--path", default="/hello")
    p.add_argument("servers", nargs="+", metavar="NAME=PORT")
    args = p.parse_args(argv)
    args.servers = [(n, int(port)) for n, _, port in (s.partition("=") for s in args.servers)]
    return args


def main(argv=None):
    args = parse_args(argv)
    servers = args.servers
    medians = {n: [] for n, _ in servers}
    maxes = {n: [] for n, _ in servers}
    closes = {n: 0 for n, _ in servers}
    for rep in range(1, args.repeats + 1):
        order = servers if rep % 2 else servers[::-1]
        for name, port in order:
            samples, closed = one_run(port, args)
            closes[name] += closed
            if not samples:
                sys.exit(f"{name}: every timed request found its connection closed")
            medians[name].append(statistics.median(samples))
            maxes[name].append(max(samples))
            print(f"  repeat {rep}  {name:<9} median={medians[name][-1] * 1000:.3f} ms "
                  f"max={maxes[name][-1] * 1000:.3f} ms  closed={closed}", file=sys.stderr)
    print(table(servers, medians, maxes, closes))


if __name__ == "__main__":
    main()
