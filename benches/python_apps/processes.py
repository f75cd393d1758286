"""Helpers of benches/processes.sh (the standard library only; any Python 3.11+):

    python3 processes.py settle URL N          the served count of each of N worker processes
                                               from a demo's /stats, once its heartbeats agree
    python3 processes.py kill URL LOG          SIGKILL to one worker of a demo's supervisor under
                                               load; how long until the supervisor logs that its
                                               replacement is ready
    python3 processes.py memory PID            resident memory of PID and of every process below it
    python3 processes.py cpu PID               a process's CPU time and how long it has lived
    python3 processes.py report TSV            the Markdown tables of processes.sh's runs
"""

import json
import os
import re
import signal
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict


def stats(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def settle(url, n):
    """Each process's served count once the figures stop moving. /stats lists the figures the
    workers send with their heartbeats (once a second; the answering worker holds the others'
    from its own last beat), at most 2 s old: wait that long after the load, then read until
    two reads 1.2 s apart agree (a read is a request too: it may add 1)."""
    time.sleep(2.2)
    before = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = {p["pid"]: p["served"] for p in stats(url)["processes"]}
        if len(now) >= n and before is not None and set(now) == set(before) and \
                0 <= sum(now.values()) - sum(before.values()) <= 2:
            for pid, served in now.items():
                print(pid, served)
            return
        before = now
        time.sleep(1.2)
    sys.exit(f"the figures at {url} did not settle in 20 s: {before}")


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(") ", 1)[1].split()[1])


def connections_held(pid, port):
    """The TCP connections to `port` whose sockets `pid` holds (its descriptors against the
    sockets of /proc/net/tcp and tcp6 with that local port, the listening one left out)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] != "0A":
                inodes.add(fields[9])
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        held += link.startswith("socket:[") and link[8:-1] in inodes
    return held


def kill(url, log):
    """SIGKILL to the first worker /stats lists; then follows the supervisor's log for the
    replacement's "worker pid P is ready". Prints, tab-separated: the victim's pid, the
    connections it held (its `open` at its last heartbeat, and counted from /proc while it is
    stopped, just before the kill), the milliseconds until that line (-1: none within 10 s), the new pid, the
    supervisor's pid, the victim's exit line."""
    procs = stats(url)["processes"]
    known = {p["pid"] for p in procs}
    victim = procs[0]
    supervisor = parent_of(victim["pid"])
    with open(log, "rb") as f:
        f.seek(0, os.SEEK_END)
        # Stopped first, so that it accepts nothing more while its connections are counted:
        # the count is then exactly what the kill cuts (wrk's connections move between the
        # workers meanwhile: basehttp closes a kept-alive connection after 1,000 requests).
        os.kill(victim["pid"], signal.SIGSTOP)
        held = connections_held(victim["pid"], urllib.parse.urlsplit(url).port)
        os.kill(victim["pid"], signal.SIGKILL)
        t0 = time.monotonic()
        rest, ready_ms, new_pid, exited = b"", -1, 0, ""
        while ready_ms < 0 and time.monotonic() - t0 < 10:
            chunk = f.read()
            if not chunk:
                time.sleep(0.002)
                continue
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                text = line.decode(errors="replace")
                if f"(pid {victim['pid']}) exited" in text:
                    exited = text.strip()
                m = re.search(r"worker pid (\d+) is ready", text)
                if m and int(m[1]) not in known:
                    ready_ms, new_pid = (time.monotonic() - t0) * 1000, int(m[1])
                    break
    print(f"{victim['pid']}\t{victim['open']}\t{held}\t{ready_ms:.0f}\t{new_pid}\t{supervisor}\t{exited}")


def status_kb(pid, field, path="status"):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def below(root):
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parents[int(name)] = parent_of(name)
            except (OSError, IndexError):
                pass
    out = []
    for pid in sorted(parents):
        q = parents[pid]
        while q in parents:
            if q == root:
                out.append(pid)
                break
            q = parents[q]
    return out


def memory(root):
    """One line per process, the root first: pid, "main" or "child", VmRSS and Pss (kB; Pss
    shares each page among the processes that map it), the command."""
    for pid in [root] + below(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        role = "main" if pid == root else "child"
        print(f"{pid}\t{role}\t{status_kb(pid, 'VmRSS')}\t"
              f"{status_kb(pid, 'Pss', 'smaps_rollup')}\t{cmd[:120]}")


def cpu(pid):
    """CPU seconds (user + system, every thread) and seconds alive."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    used = (int(fields[11]) + int(fields[12])) / tick
    print(f"{used:.2f} {uptime - int(fields[19]) / tick:.1f}")


# The report. processes.tsv: a header, then section, server, repeat, metric, value; a metric
# may have several values (one per process).

CPU_ROWS = ["basehttp --processes 2", "gunicorn -w 2", "granian --workers 2", "basehttp (one process)"]
DJANGO_ROWS = ["basehttp --processes 2", "granian --workers 2", "gunicorn -w 2"]


def load(path):
    runs = defaultdict(lambda: defaultdict(list))  # (section, server) -> metric -> values
    reps = defaultdict(dict)  # (section, server) -> repeat -> {metric: value}
    with open(path) as f:
        next(f)
        for line in f:
            section, server, rep, metric, value = line.rstrip("\n").split("\t")
            runs[section, server][metric].append(value)
            reps[section, server].setdefault(rep, {})[metric] = value
    return runs, reps


def fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def ratio_text(x):
    return "-" if x is None else f"{x:.2f}x"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def throughput(runs, reps, section, rows, peers, title):
    """The req/s table of a section and its ratios against the peers (medians; the ratio of
    medians, and per repeat the ratio within that repeat)."""
    med = {}
    for s in rows:
        r = runs.get((section, s))
        if not r or not r["rps"]:
            continue
        f = lambda m: statistics.median(float(v) for v in r[m])
        med[s] = dict(rps=f("rps"), p50=f("p50"), p99=f("p99"),
                      errors=sum(int(v) for v in r["err"]) + sum(int(v) for v in r["reads"]),
                      cores=statistics.median(float(c) / float(d) for c, d in zip(r["cpu"], r["seconds"])),
                      cmd=r["command"][0] if r["command"] else "", each=[float(v) for v in r["rps"]])
    if not med:
        return []
    out = [f"### {title}", "",
           "| server | command | req/s | p50 ms | p99 ms | errors | server CPU | CPU per request | "
           + " | ".join(f"vs {label}" for _, label in peers) + " |",
           "|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(peers)]
    for s, m in med.items():
        ratios = [ratio_text(m["rps"] / med[p]["rps"]) if p in med and med[p]["rps"] else "-"
                  for p, _ in peers]
        per = m["cores"] / m["rps"] * 1e6 if m["rps"] else None
        out.append(f"| {s} | `{m['cmd']}` | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | "
                   f"{m['errors']} | {m['cores']:.2f} cores | {fmt(per)} us | " + " | ".join(ratios) + " |")
    out += ["", "per run (req/s, then each process's CPU seconds, the busiest first): " + "; ".join(
        f"{s} " + ", ".join(f"{x:.0f} ({c.strip()})" for x, c in zip(m["each"], runs[section, s]["each"]))
        for s, m in med.items()), ""]
    return out, med


def per_repeat(reps, section, a, b):
    ra, rb = reps.get((section, a), {}), reps.get((section, b), {})
    xs = [float(ra[k]["rps"]) / float(rb[k]["rps"]) for k in sorted(ra) if k in rb
          and "rps" in ra[k] and "rps" in rb[k] and float(rb[k]["rps"])]
    return ", ".join(f"{x:.2f}x" for x in xs)


def target_line(med, reps, section, a, b, want, what):
    if a not in med or b not in med or not med[b]["rps"]:
        return f"| {what} | not measured |"
    x = med[a]["rps"] / med[b]["rps"]
    return f"| {what} | {verdict(x >= want)}: {x:.2f}x (per repeat {per_repeat(reps, section, a, b)}) |"


def report(path):
    runs, reps = load(path)
    out, targets = [], []
    bh = "basehttp --processes 2"
    got = throughput(runs, reps, "cpu", CPU_ROWS,
                     [("gunicorn -w 2", "gunicorn"), ("granian --workers 2", "granian"),
                      ("basehttp (one process)", "one process")],
                     "1 ms of Python per request (plain.py's /cpu), 16 connections")
    if got:
        lines, med = got
        out += lines
        targets += [target_line(med, reps, "cpu", bh, "gunicorn -w 2", 1.0, "CPU-bound: --processes 2 >= 1.0x gunicorn"),
                    target_line(med, reps, "cpu", bh, "granian --workers 2", 1.0, "CPU-bound: --processes 2 >= 1.0x Granian"),
                    target_line(med, reps, "cpu", bh, "basehttp (one process)", 1.5, "CPU-bound: --processes 2 >= 1.5x one process")]
    got = throughput(runs, reps, "django", DJANGO_ROWS,
                     [("granian --workers 2", "granian"), ("gunicorn -w 2", "gunicorn")],
                     "The Django hello view (benchsite), 64 connections")
    if got:
        lines, med = got
        out += lines
        targets += [target_line(med, reps, "django", bh, "granian --workers 2", 1.0, "Django: --processes 2 >= 1.0x Granian"),
                    target_line(med, reps, "django", bh, "gunicorn -w 2", 1.0, "Django: --processes 2 >= 1.0x gunicorn")]

    mem = [(s, r) for (sec, s), r in runs.items() if sec == "memory"]
    if mem:
        out += ["### Resident memory after the Django runs (VmRSS; PSS shares each page among the "
                "processes that map it)", "",
                "| server | main process (supervisor, arbiter) | each worker | per extra process "
                "(a worker's mean) | total | total PSS | pids |", "|---|---:|---:|---:|---:|---:|---|"]
        mb = lambda kb: f"{kb / 1024:.1f} MB"
        for s, r in mem:
            main = [int(v) for v in r["rss_main"]]
            workers = [int(v) for v in r["rss_child"]]
            pss = sum(int(v) for v in r["pss_main"] + r["pss_child"])
            each = ", ".join(mb(w) for w in workers) or "-"
            mean = mb(statistics.mean(workers)) if workers else "-"
            pids = ", ".join(p.split(":")[0] for p in r["process"])
            out.append(f"| {s} | {mb(sum(main))} | {each} | {mean} | {mb(sum(main) + sum(workers))} | "
                       f"{mb(pss)} | {pids} |")
        out.append("")

    sup = [(s, r) for (sec, s), r in runs.items() if sec == "supervisor"]
    if sup:
        out += ["### The supervisor's CPU time over its whole life", "",
                "| supervisor of | CPU | alive | share of a core |", "|---|---:|---:|---:|"]
        for s, r in sup:
            used, alive = float(r["cpu_s"][0]), float(r["alive_s"][0])
            out.append(f"| {s} | {used:.2f} s | {alive:.0f} s | {100 * used / alive if alive else 0:.2f}% |")
        out.append("")

    bal = [(s, r) for (sec, s), r in runs.items() if sec == "balance"]
    if bal:
        out += ["### Balance: `basehttp demo --processes N`, 64 connections on /hello", "",
                "| server | req/s | errors | each process's share of the requests | max deviation from an equal share |",
                "|---|---:|---:|---|---:|"]
        for s, r in bal:
            served = [int(v) for v in r["served"]]
            total = sum(served)
            n = len(served)
            shares = [x / total for x in served] if total else []
            dev = max(abs(x * n - 1) for x in shares) if shares else None
            errors = sum(int(r[k][0]) for k in ("connect", "read", "write", "timeout", "non2xx"))
            out.append(f"| {s} | {float(r['rps'][0]):.0f} | {errors} | "
                       + ", ".join(f"{100 * x:.1f}%" for x in shares)
                       + f" (of {total:,}) | {fmt(None if dev is None else 100 * dev, 1)}% |")
            targets.append(f"| balance, {s}: each process within 20% of an equal share | "
                           + (f"{verdict(dev <= 0.20)}: max deviation {100 * dev:.1f}% |" if dev is not None else "not measured |"))
        out.append("")

    def faults(section, title, extra_head, extra):
        rows = [(s, r) for (sec, s), r in runs.items() if sec == section]
        if not rows:
            return
        nonlocal out
        out += [title, "", "| server | requests | req/s | connect | read | write | timeout | non-2xx | "
                + extra_head + " |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for s, r in rows:
            v = lambda k: int(r[k][0])
            out.append(f"| {s} | {v('requests'):,} | {float(r['rps'][0]):.0f} | {v('connect')} | {v('read')} | "
                       f"{v('write')} | {v('timeout')} | {v('non2xx')} | {extra(s, r)} |")
        out.append("")

    def errors_of(r):
        return sum(int(r[k][0]) for k in ("connect", "read", "write", "timeout", "non2xx"))

    faults("hup", "### SIGHUP twice under load (wrk -c64 -d8, SIGHUP to the supervisor at 2 s and 5 s)",
           "new workers ready | log", lambda s, r: f"{r['ready_after'][0]} | {r['note'][0] if r['note'] else ''}")
    for s, r in ((s, r) for (sec, s), r in runs.items() if sec == "hup"):
        e = errors_of(r)
        targets.append(f"| SIGHUP twice under load, {s}: no failed request | {verdict(e == 0)}: {e} errors, "
                       f"{r['ready_after'][0]} new workers ready |")
    faults("kill", "### kill -9 of one worker under load (wrk -c64, SIGKILL at 2 s)",
           "connections the worker held (/proc at the kill; `open` at its last heartbeat) | "
           "replacement ready after",
           lambda s, r: f"{r['victim_held'][0]} ({r['victim_open'][0]}) | {r['ready_ms'][0]} ms")
    for s, r in ((s, r) for (sec, s), r in runs.items() if sec == "kill"):
        e, held, ms = errors_of(r), int(r["victim_held"][0]), float(r["ready_ms"][0])
        targets.append(f"| kill -9, {s}: only the worker's in-flight requests fail | "
                       f"{verdict(e <= held)}: {e} errors, the worker held {held} connections |")
        targets.append(f"| kill -9, {s}: replacement ready in < 2 s | "
                       + (f"{verdict(ms < 2000)}: {ms:.0f} ms |" if ms >= 0 else "**missed**: none in 10 s |"))

    if targets:
        out += ["### Targets (issue 19)", "", "| target | result |", "|---|---|"] + targets
    print("\n".join(out))


def main():
    cmd, *args = sys.argv[1:]
    if cmd == "settle":
        settle(args[0], int(args[1]))
    elif cmd == "kill":
        kill(args[0], args[1])
    elif cmd == "memory":
        memory(int(args[0]))
    elif cmd == "cpu":
        cpu(int(args[0]))
    elif cmd == "report":
        report(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
