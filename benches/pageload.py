"""Page load time in headless Chromium, server against server (benches/pageload.sh starts the
servers and runs this; see there for what is measured and the targets).

One Chromium per server, each with a fresh profile of its own kept for all that server's loads
(the HTTP cache on: later loads revalidate what the browser holds, or take it from the cache
unasked while it counts as fresh), driven through the DevTools protocol (websocket-client):
Page and Network enabled, `Page.navigate`, wait for `Page.loadEventFired`, then
`performance.timing.loadEventEnd - navigationStart` read with `Runtime.evaluate`. Each server's page is loaded once to warm; then, REPEATS times, the
servers of a page take turns (the order reversed on even repeats), each loading its page LOADS
times, PAUSE seconds apart. The table: median of the repeats' medians, min and max of every
load, the ratio to the page's reference server, and what went over the wire per load (requests
the browser sent, and how many of them were answered 304; the rest came from its cache).

    python benches/pageload.py [--repeats N] [--loads N] [--pause S]
        PAGE SERVER URL TARGET ... (four per server; the first server of a page is its
        reference; TARGET is a note for the table, "-" for none)

Needs websocket-client and /usr/bin/chromium (or CHROMIUM). Every browser is in a process
group of its own, killed when the script ends, on an error, SIGINT, SIGTERM or SIGHUP.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import websocket

# The project's headless flags (tests/support/chromium.rs): without the background networking
# ones Chromium tries the network, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-port=0",
]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Every Browser started (Browser.__init__ adds itself), closed at the end of main.
BROWSERS = []
# How long Chromium may take to start, and one page to load, before the run gives up.
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 60.0
# performance.timing.loadEventEnd is set once the load handlers have run, just after
# Page.loadEventFired: wait for it in the page.
LOAD_TIME_JS = """new Promise(done => {
  const t = performance.timing;
  (function check() {
    if (t.loadEventEnd) done(t.loadEventEnd - t.navigationStart); else setTimeout(check, 1);
  })();
})"""


class Browser:
    """A headless Chromium with a profile of its own, and a DevTools session on its page.
    Every one started is in BROWSERS, to be closed however the run ends."""

    def __init__(self, binary):
        self.process = None
        BROWSERS.append(self)  # before the start, so that an interrupt cannot lose it
        self.profile = tempfile.mkdtemp(prefix="basehttp-pageload-chromium-")
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.ws = None
        self.next_id = 0
        self.events = []

    def connect(self):
        """Reads the port from DevToolsActivePort, attaches to the page, enables the domains."""
        port = self.devtools_port()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            pages = [t for t in self.targets(port) if t.get("type") == "page"]
            if pages:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("Chromium opened no page")
            time.sleep(0.1)
        # Chromium refuses a DevTools websocket that sends an Origin it was not told to allow.
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=LOAD_TIMEOUT, suppress_origin=True)
        self.call("Page.enable")
        self.call("Network.enable")

    def devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Chromium exited with {self.process.returncode}")
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"Chromium wrote no {path}")

    @staticmethod
    def targets(port):
        # http.client, not urllib: urllib would send this through a proxy set in the environment.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/json/list")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def call(self, method, **params):
        """Sends a command and returns its result; events that come meanwhile are kept."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method):
        """Returns the first event `method` kept or to come."""
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)

    def load(self, url):
        """Loads `url`: the page's load time in ms, the requests the browser sent for it, and
        how many were answered 304."""
        self.events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")
        value = self.call("Runtime.evaluate", expression=LOAD_TIME_JS, awaitPromise=True,
                          returnByValue=True)["result"]["value"]
        return value, *self.wire_counts()

    def wire_counts(self):
        """Requests that went to the server, and 304 answers, from this load's raw responses
        (responseReceivedExtraInfo: what the server sent, before the cache merged a 304)."""
        statuses = [e["params"]["statusCode"] for e in self.events
                    if e["method"] == "Network.responseReceivedExtraInfo"]
        return len(statuses), statuses.count(304)

    def close(self):
        if self.process is not None:
            stop_group(self.process)
        if self.ws is not None:
            self.ws.shutdown()
        shutil.rmtree(self.profile, ignore_errors=True)


def stop_group(process):
    """SIGTERM to the browser's process group; SIGKILL to what is left of it after 5 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # helpers that outlived the leader
    except ProcessLookupError:
        pass
    process.wait()


class Server:
    """One row of the table: a URL, the browser that loads it, and its samples."""

    def __init__(self, page, name, url, target):
        self.page, self.name, self.url, self.target = page, name, url, target
        self.browser = None
        self.medians, self.loads, self.requests, self.revalidated = [], [], [], []

    def run(self, loads, pause, repeat):
        times = []
        for _ in range(loads):
            time.sleep(pause)
            ms, sent, not_modified = self.browser.load(self.url)
            times.append(ms)
            self.requests.append(sent)
            self.revalidated.append(not_modified)
        self.medians.append(statistics.median(times))
        self.loads += times
        print(f"  repeat {repeat}  {self.page:<7} {self.name:<24} median={self.medians[-1]:.1f} ms"
              f" loads={' '.join(f'{t:.0f}' for t in times)}"
              f" requests/load={statistics.median(self.requests[-loads:]):g}", file=sys.stderr)


def table(servers):
    lines = ["| page | server | median ms | min ms | max ms | ratio | sent per load (304) | target |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    reference = {}
    for s in servers:
        reference.setdefault(s.page, s)
    for s in servers:
        ref = reference[s.page]
        m, rm = statistics.median(s.medians), statistics.median(ref.medians)
        ratio = f"{m / rm:.2f}x"
        wire = f"{statistics.median(s.requests):g} ({statistics.median(s.revalidated):g})"
        lines.append(f"| {s.page} | {s.name} | {m:.1f} | {min(s.loads):.0f} | {max(s.loads):.0f}"
                     f" | {ratio} | {wire} | {s.target} |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loads", type=int, default=10)
    p.add_argument("--pause", type=float, default=1.0)
    p.add_argument("rows", nargs="+", metavar="PAGE SERVER URL TARGET")
    args = p.parse_args(argv)
    if len(args.rows) % 4:
        p.error("give PAGE SERVER URL TARGET for each server")
    args.servers = [Server(*args.rows[i:i + 4]) for i in range(0, len(args.rows), 4)]
    for s in args.servers:
        s.target = "" if s.target == "-" else s.target
    return args


def measure(servers, args):
    binary = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for s in servers:
        s.browser = Browser(binary)
    for s in servers:
        s.browser.connect()
        s.browser.load(s.url)  # warm: the cache filled, the connections open
    pages = list(dict.fromkeys(s.page for s in servers))
    for rep in range(1, args.repeats + 1):
        for page in pages:
            order = [s for s in servers if s.page == page]
            for s in order if rep % 2 else order[::-1]:
                s.run(args.loads, args.pause, rep)


def on_signal(*_):
    """The first SIGINT, SIGTERM or SIGHUP ends the run; later ones (benches/pageload.sh sends
    SIGTERM after the terminal's SIGINT) must not cut short the closing of the browsers."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(130)


def main(argv=None):
    args = parse_args(argv)
    # SIGINT too: ignored when the shell started this in the background.
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        measure(args.servers, args)
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for browser in BROWSERS:
            browser.close()
    print(table(args.servers))


if __name__ == "__main__":
    main()
