#!/usr/bin/env python3
# Used by docs/experiments.md, experiment 2: python3 docs/idle_keepalive.py PORT N SECONDS
# Opens N keep-alive connections, sends one GET /hello on each, then holds them idle for
# SECONDS and reports how many the server closed meanwhile.
import socket, sys, time
port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    data = b""
    while not data.endswith(b"Hello, World!"):
        data += s.recv(4096)
    conns.append(s)
print(f"{n} idle keep-alive connections open", flush=True)
time.sleep(seconds)
closed = 0
for s in conns:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(f"after {seconds:.0f} s: {closed} of {n} closed by the server", flush=True)
