"""The table, the target lines and the chart for benches/python.sh.

    python report.py RESULTS.tsv META.json SVG

RESULTS.tsv has one line per wrk run: workload, server, repeat, req/s, p50 ms, p99 ms,
errors, wrk's read errors (connections the server closed after a response), and the seconds
of CPU the server's processes used during the run. META.json has what the script measured besides (the sleep's real duration, the
calibrated CPU loop). Prints Markdown on stdout; writes the SVG.
"""

import json
import statistics
import sys
from collections import defaultdict

WORKLOADS = [
    ("hello", "plain WSGI hello"),
    ("django", "Django hello view"),
    ("sleep", "sleep 10 ms"),
    ("cpu", "compute 1 ms"),
]
COLORS = {
    "basehttp": "#d9480f", "basehttp (w=1)": "#f59f00", "runserver": "#868e96",
    "gunicorn": "#1c7ed6", "waitress": "#37b24d", "granian": "#7048e8",
    "uvicorn (async view)": "#e64980", "uvicorn (sync view)": "#e64980",
}
WSGI_PEERS = ["runserver", "gunicorn", "waitress", "granian"]


def load(path):
    runs = defaultdict(list)
    for line in open(path):
        if not line.strip():
            continue
        w, s, _rep, rps, p50, p99, err, reads, cpu = line.rstrip("\n").split("\t")
        runs[w, s].append((float(rps), float(p50), float(p99), int(err), int(reads), float(cpu)))
    return runs


def medians(runs, meta_duration):
    out = {}
    for key, rs in runs.items():
        out[key] = dict(
            rps=statistics.median(r[0] for r in rs), p50=statistics.median(r[1] for r in rs),
            p99=statistics.median(r[2] for r in rs), errors=sum(r[3] for r in rs), n=len(rs),
            reads=sum(r[4] for r in rs),
            cores=statistics.median(r[5] / meta_duration for r in rs),
            each=[r[0] for r in rs])
    return out


def ratio(m, w, s, peer):
    a, b = m.get((w, s)), m.get((w, peer))
    return a["rps"] / b["rps"] if a and b and b["rps"] else None


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def bounds(m, meta):
    """What bounds the sleeping and computing apps: Little's law and the GIL ceiling."""
    b = {}
    one = m.get(("hello", "basehttp (w=1)"))
    gil = one["rps"] if one else None
    little = meta["workers"] / 0.010
    little_real = meta["workers"] / meta["sleep_s"]
    b["gil"], b["little"], b["little_real"] = gil, little, little_real
    b["sleep"] = min(little, gil) if gil else little
    b["sleep_which"] = "Little's law" if not gil or little <= gil else "the GIL ceiling"
    return b


def table(m, meta, servers):
    b = bounds(m, meta)
    rows = ["| workload | server | req/s | p50 ms | p99 ms | errors | server CPU | CPU per request "
            "| vs granian | vs gunicorn | note |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for w, title in WORKLOADS:
        for s in servers:
            r = m.get((w, s))
            if not r:
                continue
            note = ""
            if w == "hello" and s == "basehttp (w=1)":
                note = "one worker: the GIL ceiling (every request's Python in turn)"
            elif w == "sleep" and s.startswith("uvicorn"):
                note = (f"Django `async def` view awaiting 10 ms; Little's bound for 64 conns "
                        f"{64 / 0.010:.0f}/s: {r['rps'] / (64 / 0.010):.0%}")
            elif w == "sleep":
                note = (f"bound {b['sleep']:.0f}/s ({b['sleep_which']}): {r['rps'] / b['sleep']:.0%}; "
                        f"against the measured sleep of {meta['sleep_s'] * 1000:.2f} ms: "
                        f"{r['rps'] / min(b['little_real'], b['gil'] or 1e9):.0%}")
            elif w == "django" and s.startswith("uvicorn"):
                note = "Django's ASGI handler, sync view in a thread (informative)"
            if r["reads"]:
                note += ("; " if note else "") + (
                    f"closed the connection after {min(1, r['reads'] / (r['rps'] * r['n'] * meta['duration'])):.0%} of responses "
                    "(wrk's read errors, not counted as errors)")
            rows.append(
                f"| {title} | {s} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | "
                f"{r['cores']:.2f} cores | {r['cores'] / r['rps'] * 1e6:.0f} us | "
                f"{fmt_ratio(ratio(m, w, s, 'granian'))} | {fmt_ratio(ratio(m, w, s, 'gunicorn'))} | {note} |")
    return rows, b


def targets(m, b):
    lines = []

    def line(text, ok, detail):
        mark = "-" if ok is None else ("met" if ok else "MISSED")
        lines.append(f"- {text}: **{mark}** ({detail})")

    g, gu = ratio(m, "hello", "basehttp", "granian"), ratio(m, "hello", "basehttp", "gunicorn")
    line("plain hello >= 1.0x Granian", None if g is None else g >= 1.0, fmt_ratio(g))
    line("plain hello >= 3x gunicorn", None if gu is None else gu >= 3.0, fmt_ratio(gu))
    parts, ok = [], True
    for peer in WSGI_PEERS:
        x = ratio(m, "django", "basehttp", peer)
        if x is None:
            continue
        parts.append(f"{peer} {x:.2f}x")
        ok = ok and x >= 1.0
    line("Django view >= 1.0x every WSGI peer", ok if parts else None, ", ".join(parts) or "no data")
    s = m.get(("sleep", "basehttp"))
    if s:
        share = s["rps"] / b["sleep"]
        gil = f"{b['gil']:.0f}/s" if b["gil"] else "not measured"
        line("sleeping app >= 95% of its bound", share >= 0.95,
             f"{s['rps']:.0f}/s of {b['sleep']:.0f}/s = {share:.0%}; the bound is {b['sleep_which']}: "
             f"Little's {b['little']:.0f}/s (8 workers / 10 ms), GIL ceiling {gil} "
             f"(hello on one worker); the sleeping app's server CPU per request is "
             f"{s['cores'] / s['rps'] * 1e6:.0f} us, so even all of it under the GIL would allow "
             f"{s['rps'] / s['cores']:.0f}/s")
    return lines


def svg(m, servers, b, meta, path):
    panels = [(w, t) for w, t in WORKLOADS if any((w, s) in m for s in servers)]
    pw, ph, gap, top, left = 250, 260, 40, 50, 60
    width = left + len(panels) * (pw + gap)
    height = top + ph + 120
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">requests/s, wrk -t1 -c64, one process per '
           f'server; median of {meta["repeats"]} runs of {meta["duration"]} s, {meta["date"]} '
           '(each panel its own scale; dashed: the bound)</text>']
    for i, (w, title) in enumerate(panels):
        x0 = left + i * (pw + gap)
        bars = [(s, m[w, s]["rps"]) for s in servers if (w, s) in m]
        bound = b["sleep"] if w == "sleep" else None
        top_v = max([v for _, v in bars] + [bound or 0]) * 1.15 or 1
        y = lambda v: top + ph - ph * v / top_v
        out.append(f'<text x="{x0}" y="{top - 10}" font-size="13">{title}</text>')
        out.append(f'<line x1="{x0}" y1="{top + ph}" x2="{x0 + pw}" y2="{top + ph}" stroke="#333"/>')
        for k in range(5):
            v = top_v * k / 4
            out.append(f'<line x1="{x0}" y1="{y(v):.1f}" x2="{x0 + pw}" y2="{y(v):.1f}" stroke="#eee"/>')
            label = f"{v / 1000:.1f}k" if top_v >= 5000 else f"{v:.0f}"
            out.append(f'<text x="{x0 - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="10">{label}</text>')
        bw = pw / max(len(bars), 1)
        for j, (s, v) in enumerate(bars):
            bx = x0 + j * bw + bw * 0.15
            color = COLORS.get(s, "#495057")
            out.append(f'<rect x="{bx:.1f}" y="{y(v):.1f}" width="{bw * 0.7:.1f}" '
                       f'height="{top + ph - y(v):.1f}" fill="{color}"/>')
            out.append(f'<text x="{bx + bw * 0.35:.1f}" y="{y(v) - 4:.1f}" text-anchor="middle" '
                       f'font-size="10">{v:.0f}</text>')
            lx, ly = bx + bw * 0.35, top + ph + 10
            out.append(f'<text x="{lx:.1f}" y="{ly}" font-size="11" text-anchor="end" '
                       f'transform="rotate(-45 {lx:.1f} {ly})">{s}</text>')
        if bound:
            out.append(f'<line x1="{x0}" y1="{y(bound):.1f}" x2="{x0 + pw}" y2="{y(bound):.1f}" '
                       'stroke="black" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    results, meta_path, svg_path = sys.argv[1:4]
    meta = json.load(open(meta_path))
    m = medians(load(results), meta["duration"])
    servers = meta["servers"]
    rows, b = table(m, meta, servers)
    print("\n".join(rows))
    print()
    print("\n".join(targets(m, b)))
    print()
    print("per run (req/s): " + "; ".join(
        f"{w}/{s} " + " ".join(f"{v:.0f}" for v in m[w, s]["each"])
        for w, _ in WORKLOADS for s in servers if (w, s) in m))
    svg(m, servers, b, meta, svg_path)


if __name__ == "__main__":
    main()
