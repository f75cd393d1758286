#!/usr/bin/env python3
"""The client of benches/callgrind.sh: sends an exact number of requests to a local server
and checks every response (status, framing, body), so a broken run fails loudly.

    callgrind_client.py wait PORT [TIMEOUT [PID]]
        Polls connect() until PORT on 127.0.0.1 accepts (the probe connection is closed at
        once, without a request); fails after TIMEOUT seconds (default 60), or as soon as
        process PID (the server) is gone.
    callgrind_client.py run PORT PATH REQUESTS [--body FILE | --text TEXT]
                            [--connections C] [--pipeline D]
        Sends REQUESTS `GET PATH` requests over C keep-alive connections (default 1), D per
        write on each (default 1: one at a time, each answer awaited), and checks that every
        answer is a 200 with the expected body. With several connections every round writes a
        batch on each connection, then reads each one's answers. When the server ends a
        connection (`Connection: close`, e.g. at its per-connection request limit), the
        client reconnects and re-sends what was not answered. Prints what it did on stdout.

Raw sockets, the standard library only; loopback only. Exit status 0 only if exactly
REQUESTS good answers arrived.
"""

import os
import socket
import sys
import time

HOST = "127.0.0.1"
READ_SIZE = 256 * 1024
IO_TIMEOUT = 120.0  # seconds; the server runs under valgrind, ~50x slower than native


class Failure(Exception):
    pass


def wait(port, timeout, pid):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            if pid is not None:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    raise Failure(f"the server (pid {pid}) exited before listening")
            if time.monotonic() > deadline:
                raise Failure(f"nothing listens on {HOST}:{port} after {timeout:.0f} s")
            time.sleep(0.05)


class Connection:
    """One keep-alive connection with a receive buffer and a response parser."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False  # the server said `Connection: close` or closed

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(READ_SIZE)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def response(self, expected):
        """Reads one response; returns True if the connection stays open after it. Raises
        Failure on anything but a 200 with the expected body; returns None if the server
        closed the connection before a response began (nothing of it buffered)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if not self._fill():
                if self.buf:
                    raise Failure(f"connection closed inside a response head: {bytes(self.buf[:200])!r}")
                return None
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[: end + 4]
        lines = head.split("\r\n")
        if not lines[0].startswith("HTTP/1.1 200 "):
            raise Failure(f"unexpected status line {lines[0]!r}")
        length = None
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise Failure(f"unexpected Transfer-Encoding: {value}")
            elif name == "connection" and "close" in value.lower():
                keep = False
        if length is None:
            raise Failure(f"response without Content-Length:\n{head}")
        while len(self.buf) < length:
            if not self._fill():
                raise Failure("connection closed inside a response body")
        body = bytes(self.buf[:length])
        del self.buf[:length]
        if body != expected:
            raise Failure(f"unexpected body ({len(body)} bytes, expected {len(expected)}): {body[:80]!r}")
        if not keep:
            self.closed = True
        return keep


def run(port, path, total, expected, connections, depth):
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    conns = [Connection(port) for _ in range(connections)]
    answered = 0
    reconnects = 0
    writes = 0
    try:
        while answered < total:
            # One round: a batch on every connection (as many as are still needed), then
            # every connection's answers.
            batches = []
            left = total - answered
            for i, conn in enumerate(conns):
                n = min(depth, left)
                left -= n
                if n == 0:
                    break
                conn.sock.sendall(request * n)
                writes += 1
                batches.append((i, n))
            for i, n in batches:
                conn = conns[i]
                got = 0
                while got < n:
                    keep = conn.response(expected)
                    if keep is None:
                        break
                    got += 1
                    if not keep:
                        break
                answered += got
                if got < n or conn.closed:
                    # The server ended the connection (its request limit): drain it, open a
                    # new one; the unanswered requests are sent again in the next round.
                    if got == 0 and not conn.closed:
                        raise Failure(f"connection closed with {n} requests unanswered")
                    conn.close()
                    conns[i] = Connection(port)
                    reconnects += 1
    finally:
        for conn in conns:
            conn.close()
    if answered != total:
        raise Failure(f"{answered} answers for {total} requests")
    print(f"{answered} requests answered, {writes} writes, {connections} connection(s), "
          f"pipeline {depth}, {reconnects} reconnects")


def main(argv):
    if len(argv) >= 2 and argv[0] == "wait":
        timeout = float(argv[2]) if len(argv) > 2 else 60.0
        wait(int(argv[1]), timeout, int(argv[3]) if len(argv) > 3 else None)
        return 0
    if len(argv) < 4 or argv[0] != "run":
        print(__doc__, file=sys.stderr)
        return 2
    port, path, total = int(argv[1]), argv[2], int(argv[3])
    expected, connections, depth = None, 1, 1
    rest = argv[4:]
    while rest:
        opt, value, rest = rest[0], rest[1], rest[2:]
        if opt == "--body":
            with open(value, "rb") as f:
                expected = f.read()
        elif opt == "--text":
            expected = value.encode()
        elif opt == "--connections":
            connections = int(value)
        elif opt == "--pipeline":
            depth = int(value)
        else:
            raise Failure(f"unknown option {opt}")
    if expected is None:
        raise Failure("give the expected body with --body FILE or --text TEXT")
    if total < 1 or connections < 1 or depth < 1:
        raise Failure("REQUESTS, --connections and --pipeline must be positive")
    run(port, path, total, expected, connections, depth)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Failure, OSError, ValueError, IndexError) as e:
        print(f"callgrind_client.py: {e}", file=sys.stderr)
        sys.exit(1)
