"""The summary of a soak run of reports/bench/soak.sh: its three verdicts, results.md and soak.svg.

    python3 soak.py seconds DURATION     # a `harness load --duration` as seconds (exit 2 if not one)
    python3 soak.py report @OUT/report.args        # again, with the arguments soak.sh used
    python3 soak.py report OUT --started EPOCH --duration-s S --duration DURATION \\
        --tolerance 0.05 --p99-factor 3 --command '…' [--stopped WHY] \\
        --api fibric:SUBSCRIBERS:RATE:BATCH:EXIT …   # one per API

`report` reads OUT/rss.csv (one sample a second: VmRSS of the server and of
each harness, CPU seconds, the kernel's TCP memory) and, per API, OUT/API/load.json
and OUT/API/deliver.hlog (the per-interval histograms, read with hlog.py).
After the warm-up, the first max(10 s, 10 % of the duration):

1. RSS flat: for the server and each harness, the largest RSS after the
   warm-up is at most (1 + tolerance) × its RSS at the end of the warm-up.
2. Nothing lost: `counters.lost` and `counters.publish_errors` are 0 in each
   load.json, and each harness exited 0 or 1 (1: a threshold broke; 2 and 3
   are failures).
3. p99 stable: each interval's deliver p99 after the warm-up is at most
   max(factor × the median interval p99, 50 ms).

The deliver intervals of each run must add up to its load.json (count exactly,
p99 and max within the histogram's precision), or the decoder is wrong and
verdict 3 fails with it. `--stopped` says soak.sh cut the run short (memory
ran low), which fails it too. Writes OUT/results.md and OUT/soak.svg, prints
the results, and exits 0 when every verdict holds, 1 when one fails, 3 when a
harness wrote no report at all (it did not start).
"""

import argparse
import csv
import datetime
import json
import math
import os
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hlog  # noqa: E402  (beside this file)

APIS = ["fibric", "pulse", "fauna", "actyx", "atproto"]
PROCESSES = ["server"] + APIS
P99_FLOOR_US = 50_000
MIN_WARMUP_S = 10.0

# humantime's units (what `harness load --duration` parses), in seconds.
UNITS = {
    "nsec": 1e-9, "ns": 1e-9,
    "usec": 1e-6, "us": 1e-6,
    "msec": 1e-3, "ms": 1e-3,
    "seconds": 1, "second": 1, "sec": 1, "secs": 1, "s": 1,
    "minutes": 60, "minute": 60, "min": 60, "mins": 60, "m": 60,
    "hours": 3600, "hour": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "days": 86400, "day": 86400, "d": 86400,
    "weeks": 604800, "week": 604800, "w": 604800,
}


def parse_duration(text):
    """Seconds in a humantime duration such as `30s`, `10m`, `1h 30m`; None if it is not one."""
    pieces = re.findall(r"\s*(\d+)\s*([a-zA-Z]+)", text)
    if not pieces or "".join(f"{n}{u}" for n, u in pieces) != re.sub(r"\s+", "", text):
        return None
    if any(unit not in UNITS for _, unit in pieces):
        return None
    return sum(int(n) * UNITS[unit] for n, unit in pieces)


def warmup_of(duration_s):
    return max(MIN_WARMUP_S, 0.1 * duration_s)


# ---------------------------------------------------------------- inputs


def read_samples(path):
    """rss.csv as a list of dicts of floats (None where a process was gone)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else None) for k, v in row.items()})
    return rows


def series(samples, column):
    """(t, value) of `column` where it has a value."""
    return [(s["t_s"], s[column]) for s in samples if s.get(column) is not None]


def slope_per_hour(points):
    """Least-squares slope of (t, value) per hour; None with fewer than two points."""
    if len(points) < 2:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in points) / var * 3600


def rss_verdict(samples, process, warmup, tolerance):
    points = series(samples, f"{process}_kib")
    after = [(t, v) for t, v in points if t >= warmup]
    out = {"process": process, "ok": False, "at_warmup": None, "max": None, "max_at": None, "end": None, "slope": None}
    if points:
        out["end"] = points[-1][1]
    if len(after) < 2:
        out["why"] = "fewer than two samples after the warm-up"
        return out
    base = after[0][1]
    top_t, top = max(after, key=lambda p: p[1])
    out.update(at_warmup=base, max=top, max_at=top_t, limit=base * (1 + tolerance), slope=slope_per_hour(after))
    out["ok"] = top <= base * (1 + tolerance)
    if not out["ok"]:
        out["why"] = f"{top / 1024:.1f} MiB at {top_t:.0f} s > {1 + tolerance:g} × {base / 1024:.1f} MiB"
    return out


def delivery_verdict(api, load, exit_code):
    out = {"api": api, "exit": exit_code, "ok": False}
    if load is None:
        out["why"] = "no load.json"
        return out
    c = load["counters"]
    out.update({k: c.get(k) for k in ("published", "delivered", "lost", "publish_errors", "subscriber_errors", "late_publishes")})
    why = []
    if c.get("lost") != 0:
        why.append(f"{c.get('lost')} lost")
    if c.get("publish_errors") != 0:
        why.append(f"{c.get('publish_errors')} publish errors")
    if exit_code not in (0, 1):
        why.append(f"exit {exit_code}")
    out["ok"] = not why
    if why:
        out["why"] = ", ".join(why)
    return out


def p99_verdict(api, load, intervals, started, warmup, factor):
    """Per-interval deliver p99 after the warm-up, and the decoder's agreement with load.json."""
    out = {"api": api, "ok": False, "points": [], "median": None, "worst": None, "worst_at": None}
    if load is None or intervals is None:
        out["why"] = "no load.json" if load is None else "no deliver.hlog"
        return out
    for interval in intervals:
        h = interval.histogram
        if h.total:
            t = interval.start - started
            out["points"].append((t, t + interval.length / 2, h.value_at_quantile(0.99)))
    problems = hlog.compare(hlog.total(intervals), load["histograms"]["deliver"])
    out["decoder_ok"] = not problems
    after = [(t, p99) for t, _, p99 in out["points"] if t >= warmup]
    if problems:
        out["why"] = "deliver.hlog does not add up to load.json (" + "; ".join(problems) + ")"
        return out
    if not after:
        out["why"] = "no interval with deliveries after the warm-up"
        return out
    median = statistics.median(p for _, p in after)
    worst_at, worst = max(after, key=lambda p: p[1])
    limit = max(factor * median, P99_FLOOR_US)
    out.update(median=median, worst=worst, worst_at=worst_at, limit=limit, intervals=len(after))
    out["ok"] = worst <= limit
    if not out["ok"]:
        out["why"] = f"{worst / 1000:.1f} ms at {worst_at:.0f} s > {limit / 1000:.1f} ms"
    return out


# ---------------------------------------------------------------- results.md


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def ms(us):
    return "–" if us is None else f"{us / 1000:.2f}"


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores ({model}){mem}"


def cpu_summary(samples):
    """CPU seconds of the server, the harnesses and everything else on the machine, as phrases."""
    last = samples[-1] if samples else {}
    span = last.get("t_s") or 0
    cores = lambda s: f" ({s / span:.2f} cores on average)" if span else ""  # noqa: E731
    server, harness, machine = (last.get(k) for k in ("server_cpu_s", "harness_cpu_s", "machine_cpu_s"))
    parts = []
    if server is not None:
        parts.append(f"the server {server:.1f} s{cores(server)}")
    if harness is not None:
        per = ", ".join(f"{a} {last[f'{a}_cpu_s']:.1f}" for a in APIS if last.get(f"{a}_cpu_s") is not None)
        parts.append(f"the five harnesses {harness:.1f} s{cores(harness)}: {per}")
    if None not in (server, harness, machine):
        other = max(0.0, machine - server - harness)
        parts.append(f"everything else on the machine {other:.1f} s{cores(other)}")
    return parts


def server_growth_note(rss, apis, store):
    """The server's growth per event published: `--memory` keeps every event, so it grows with its log."""
    slope = rss["server"]["slope"]
    if store != "memory":
        return None
    rate = sum(a["rate"] for a in apis)
    if slope is None or not rate:
        return None
    per_event = slope * 1024 / (rate * 3600)
    return (f"The server's RSS grew {slope / 1024:+.1f} MiB/h after the warm-up while {rate:g} events/s were "
            f"published in all: {per_event:,.0f} bytes per event. `--memory` keeps every event, so the server "
            f"grows with its log; a leak would show as more than an event's stored size per event.")


def results_markdown(args, apis, rss, delivery, p99, samples, warmup, verdicts):
    lines = []
    date = datetime.datetime.fromtimestamp(args.started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"# Soak: all five APIs at once for {args.duration}")
    lines.append("")
    lines.append(f"Command: `{args.command}`" + (f" (binaries: `{args.binaries}`)" if args.binaries else ""))
    lines.append("")
    server = "--memory" if args.store == "memory" else "--data-dir` (the log on disk)"
    if args.store == "memory":
        server += "`"
    lines.append(f"Run {date} on {machine()}. One `reference-server {server}; one `harness load` per API, "
                 f"all five at once, `--grace 5s --interval 1s`. Warm-up: the first {warmup:.0f} s. "
                 f"RSS tolerance {args.tolerance:g}; p99 limit max({args.p99_factor:g} × median interval p99, "
                 f"{P99_FLOOR_US // 1000} ms).")
    lines.append("")
    lines.append("| API | subscribers | events/s | batch |")
    lines.append("|---|---:|---:|---:|")
    for a in apis:
        lines.append(f"| {a['name']} | {a['subscribers']} | {a['rate']:g} | {a['batch']} |")
    lines.append("")
    lines.append("| process | RSS MiB at warm-up end | max after (at s) | at end | growth MiB/h | RSS flat "
                 "| published | delivered | lost | publish errors | exit | nothing lost "
                 "| deliver p99 ms median | worst (at s) | p99 stable |")
    lines.append("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|")
    yes = lambda v: ("yes" if v["ok"] else "**no**")  # noqa: E731
    for process in PROCESSES:
        r = rss[process]
        max_at = f"{mib(r['max'])} ({r['max_at']:.0f})" if r["max"] is not None else "–"
        slope = "–" if r["slope"] is None else f"{r['slope'] / 1024:+.1f}"
        row = [process, mib(r["at_warmup"]), max_at, mib(r["end"]), slope, yes(r)]
        if process == "server":
            row += [""] * 9
        else:
            d, p = delivery[process], p99[process]
            worst = f"{ms(p['worst'])} ({p['worst_at']:.0f})" if p["worst"] is not None else "–"
            num = lambda k: "–" if d.get(k) is None else str(d[k])  # noqa: E731
            row += [num("published"), num("delivered"), num("lost"), num("publish_errors"), str(d["exit"]), yes(d),
                    ms(p["median"]), worst, yes(p)]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    cpu = cpu_summary(samples)
    if cpu:
        lines.append(f"CPU seconds over the run ({samples[-1]['t_s']:.0f} s): {'; '.join(cpu)}.")
        lines.append("")
    tcp = [s["tcp_mem_pages"] for s in samples if s.get("tcp_mem_pages") is not None]
    available = [s["mem_available_kib"] for s in samples if s.get("mem_available_kib") is not None]
    if tcp and available:
        lines.append(f"Kernel TCP memory (`/proc/net/sockstat`): at most {max(tcp):.0f} pages, {tcp[-1]:.0f} at the "
                     f"end. MemAvailable: {available[0] / 1024:,.0f} MiB at the start, {min(available) / 1024:,.0f} "
                     f"MiB at the lowest.")
        lines.append("")
    note = server_growth_note(rss, apis, args.store)
    if note:
        lines.append(note)
        lines.append("")
    if args.stopped:
        lines.append(f"**The run was cut short**: {args.stopped}. The harnesses were killed, so they wrote no report.")
        lines.append("")
    decoder = [a["name"] for a in apis if p99[a["name"]].get("decoder_ok")]
    lines.append(f"The deliver intervals of {len(decoder)} of 5 runs add up to their load.json "
                 "(count exactly, p99 and max within 0.1 %), read with `hlog.py`.")
    lines.append("")
    lines.append("Verdicts:")
    lines.append("")
    for name, ok, why in verdicts:
        lines.append(f"- {name}: {'holds' if ok else 'FAILS'}" + ("" if ok else f" ({'; '.join(why)})"))
    lines.append("")
    lines.append("Raw data: `rss.csv` (one sample a second), `API/load.json` and `API/*.hlog` per API, "
                 "the plot `soak.svg`.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- soak.svg

COLOURS = {
    "server": "#222222",
    "fibric": "#1f77b4",
    "pulse": "#ff7f0e",
    "fauna": "#2ca02c",
    "actyx": "#d62728",
    "atproto": "#9467bd",
    "harnesses": "#8c564b",
    "other": "#9a9a9a",
}


def nice_step(span, ticks=6):
    raw = span / ticks if span > 0 else 1
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def linear_ticks(lo, hi, ticks=6):
    step = nice_step(hi - lo, ticks)
    start = math.floor(lo / step) * step
    out = []
    v = start
    while v <= hi + step * 1e-9:
        if v >= lo - step * 1e-9:
            out.append(round(v, 10))
        v += step
    return out, step


def log_ticks(lo, hi):
    out = []
    e = math.floor(math.log10(lo))
    while 10**e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10**e
            if lo * 0.9999 <= v <= hi * 1.0001:
                out.append(v)
        e += 1
    return out


def fmt(v):
    return f"{v:g}" if v < 1e5 else f"{v:.0f}"


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Panel:
    """A plot area with a linear x axis (seconds) and a linear or log y axis."""

    def __init__(self, x0, y0, w, h, t_max, y_lo, y_hi, log=False):
        self.x0, self.y0, self.w, self.h = x0, y0, w, h
        self.t_max, self.y_lo, self.y_hi, self.log = t_max, y_lo, y_hi, log

    def x(self, t):
        return self.x0 + self.w * (t / self.t_max if self.t_max else 0)

    def y(self, v):
        if self.log:
            v = max(v, self.y_lo)
            f = (math.log10(v) - math.log10(self.y_lo)) / (math.log10(self.y_hi) - math.log10(self.y_lo))
        else:
            f = (v - self.y_lo) / (self.y_hi - self.y_lo) if self.y_hi > self.y_lo else 0
        return self.y0 + self.h * (1 - f)


def time_axis(t_max):
    """(divisor, unit) for labelling seconds: minutes from ten minutes on."""
    return (60, "min") if t_max >= 600 else (1, "s")


def draw_panel(out, panel, title, y_label, y_ticks, lines_by_name, warmup, legend, extra=None):
    p = panel
    out.append(f'<text x="{p.x0}" y="{p.y0 - 12}" font-size="15" font-weight="bold">{esc(title)}</text>')
    # The warm-up, shaded: the verdicts ignore it.
    wx = p.x(min(warmup, p.t_max))
    out.append(f'<rect x="{p.x0}" y="{p.y0}" width="{wx - p.x0:.1f}" height="{p.h}" fill="#eeeeee"/>')
    out.append(f'<text x="{p.x0 + 4}" y="{p.y0 + 14}" font-size="11" fill="#777">warm-up</text>')
    for v in y_ticks:
        y = p.y(v)
        out.append(f'<line x1="{p.x0}" y1="{y:.1f}" x2="{p.x0 + p.w}" y2="{y:.1f}" stroke="#dddddd"/>')
        out.append(f'<text x="{p.x0 - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{fmt(v)}</text>')
    div, unit = time_axis(p.t_max)
    x_ticks, _ = linear_ticks(0, p.t_max / div, 8)
    for v in x_ticks:
        x = p.x(v * div)
        out.append(f'<line x1="{x:.1f}" y1="{p.y0 + p.h}" x2="{x:.1f}" y2="{p.y0 + p.h + 5}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{p.y0 + p.h + 18}" font-size="11" text-anchor="middle">{fmt(v)}</text>')
    out.append(f'<rect x="{p.x0}" y="{p.y0}" width="{p.w}" height="{p.h}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{p.x0 + p.w / 2}" y="{p.y0 + p.h + 36}" font-size="12" text-anchor="middle">'
               f'time since the harnesses started ({unit})</text>')
    cy = p.y0 + p.h / 2
    out.append(f'<text x="{p.x0 - 48}" y="{cy}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 {p.x0 - 48} {cy})">{esc(y_label)}</text>')
    if extra:
        extra(out, p)
    for name, points in lines_by_name.items():
        if not points:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{p.x(t):.1f},{p.y(v):.1f}" for i, (t, v) in enumerate(points))
        out.append(f'<path d="{path}" fill="none" stroke="{COLOURS[name]}" stroke-width="1.6"/>')
    lx, ly = p.x0 + p.w + 16, p.y0 + 6
    for i, (name, label) in enumerate(legend):
        y = ly + i * 20
        out.append(f'<line x1="{lx}" y1="{y + 6}" x2="{lx + 22}" y2="{y + 6}" stroke="{COLOURS[name]}" stroke-width="3"/>')
        out.append(f'<text x="{lx + 28}" y="{y + 10}" font-size="12">{esc(label)}</text>')


def cpu_rates(samples):
    """Cores in use between samples: the server, the five harnesses together, and everything else."""
    lines = {"server": [], "harnesses": [], "other": []}
    for before, after in zip(samples, samples[1:]):
        dt = after["t_s"] - before["t_s"]
        # A harness that ended between the two samples took its last CPU
        # seconds with it (its /proc entry is gone), so that step says nothing.
        ended = any(before.get(f"{a}_kib") is not None and after.get(f"{a}_kib") is None for a in APIS)
        if dt <= 0 or ended:
            continue
        rate = lambda k: (after[k] - before[k]) / dt if None not in (after.get(k), before.get(k)) else None  # noqa: E731
        server, harness, machine = rate("server_cpu_s"), rate("harness_cpu_s"), rate("machine_cpu_s")
        t = after["t_s"]
        if server is not None:
            lines["server"].append((t, server))
        if harness is not None:
            lines["harnesses"].append((t, harness))
        if None not in (server, harness, machine):
            lines["other"].append((t, max(0.0, machine - server - harness)))
    return lines


def svg(samples, p99, warmup, title):
    width, height = 1100, 900
    left, plot_w, plot_h = 80, 800, 190
    t_max = max([s["t_s"] for s in samples] + [t for v in p99.values() for _, t, _ in v["points"]] + [1])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="26" font-size="17" font-weight="bold">{esc(title)}</text>']
    # Panel 1: RSS in MiB.
    rss_lines = {p: [(t, v / 1024) for t, v in series(samples, f"{p}_kib")] for p in PROCESSES}
    values = [v for pts in rss_lines.values() for _, v in pts] or [1]
    ticks, _ = linear_ticks(0, max(values) * 1.05, 5)
    hi = max(ticks[-1], max(values)) if ticks else 1
    rss_panel = Panel(left, 66, plot_w, plot_h, t_max, 0, hi)
    draw_panel(out, rss_panel, "Resident memory (VmRSS) per process", "MiB", ticks, rss_lines, warmup,
               [(p, "reference-server" if p == "server" else f"harness {p}") for p in PROCESSES])
    # Panel 2: per-interval deliver p99 in ms, log scale, with the 50 ms floor.
    p99_lines = {a: [(mid, v / 1000) for _, mid, v in p99[a]["points"]] for a in APIS}
    values = [v for pts in p99_lines.values() for _, v in pts] or [1]
    lo = 10 ** math.floor(math.log10(max(min(values), 0.01)))
    hi = 10 ** math.ceil(math.log10(max(max(values), P99_FLOOR_US / 1000) * 1.01))
    lat_panel = Panel(left, 356, plot_w, plot_h, t_max, lo, hi, log=True)

    def floor_line(out, p):
        y = p.y(P99_FLOOR_US / 1000)
        out.append(f'<line x1="{p.x0}" y1="{y:.1f}" x2="{p.x0 + p.w}" y2="{y:.1f}" stroke="#999" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{p.x0 + p.w - 4}" y="{y - 4:.1f}" font-size="11" fill="#777" text-anchor="end">'
                   f'{P99_FLOOR_US // 1000} ms floor</text>')

    legend = []
    for a in APIS:
        m = p99[a]["median"]
        legend.append((a, f"{a} (median {m / 1000:.1f} ms)" if m is not None else a))
    draw_panel(out, lat_panel, "Deliver p99 per 1 s interval (publish to delivery, corrected)", "ms (log scale)",
               log_ticks(lo, hi), p99_lines, warmup, legend, extra=floor_line)
    # Panel 3: cores in use, so that a latency spike can be set beside other work on the machine.
    cpu_lines = cpu_rates(samples)
    cores = os.cpu_count() or 2
    top = max([cores] + [v for pts in cpu_lines.values() for _, v in pts])
    ticks, _ = linear_ticks(0, top, 4)
    cpu_panel = Panel(left, 646, plot_w, plot_h, t_max, 0, max(ticks[-1], top))
    draw_panel(out, cpu_panel, f"CPU in use (cores of {cores})", "cores", ticks, cpu_lines, warmup,
               [("server", "reference-server"), ("harnesses", "the five harnesses"),
                ("other", "everything else")])
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def parse_api(text):
    name, subscribers, rate, batch, exit_code = text.split(":")
    if name not in APIS:
        raise argparse.ArgumentTypeError(f"unknown API {name}")
    return {"name": name, "subscribers": int(subscribers), "rate": float(rate), "batch": int(batch),
            "exit": int(exit_code)}


def report(argv):
    # `@FILE` reads the arguments from FILE, one a line (soak.sh writes OUT/report.args).
    ap = argparse.ArgumentParser(prog="soak.py report", fromfile_prefix_chars="@")
    ap.add_argument("out", type=Path)
    ap.add_argument("--started", type=float, required=True, help="when the harnesses started, seconds since the epoch")
    ap.add_argument("--duration-s", type=float, required=True)
    ap.add_argument("--duration", required=True, help="the duration as given")
    ap.add_argument("--tolerance", type=float, required=True)
    ap.add_argument("--p99-factor", type=float, required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--binaries", default="", help="where the binaries came from")
    ap.add_argument("--stopped", default="", help="why soak.sh stopped the run early, if it did")
    ap.add_argument("--store", default="memory", choices=["disk", "memory"], help="where the server kept its log")
    ap.add_argument("--api", type=parse_api, action="append", required=True)
    args = ap.parse_args(argv)
    out = args.out
    warmup = warmup_of(args.duration_s)
    samples = read_samples(out / "rss.csv")
    rss = {p: rss_verdict(samples, p, warmup, args.tolerance) for p in PROCESSES}
    delivery, p99 = {}, {}
    missing = []
    for a in args.api:
        name = a["name"]
        load_path = out / name / "load.json"
        load = json.loads(load_path.read_text()) if load_path.exists() else None
        if load is None:
            missing.append(name)
        hlog_path = out / name / "deliver.hlog"
        intervals = hlog.read_log(hlog_path) if hlog_path.exists() else None
        delivery[name] = delivery_verdict(name, load, a["exit"])
        p99[name] = p99_verdict(name, load, intervals, args.started, warmup, args.p99_factor)
    verdicts = [
        ("1. RSS flat", all(r["ok"] for r in rss.values()),
         [f"{p}: {r['why']}" for p, r in rss.items() if not r["ok"]]),
        ("2. nothing lost", all(d["ok"] for d in delivery.values()),
         [f"{a}: {d['why']}" for a, d in delivery.items() if not d["ok"]]),
        ("3. p99 stable", all(p["ok"] for p in p99.values()),
         [f"{a}: {p['why']}" for a, p in p99.items() if not p["ok"]]),
    ]
    if args.stopped:
        verdicts.append(("run complete", False, [args.stopped]))
    md = results_markdown(args, args.api, rss, delivery, p99, samples, warmup, verdicts)
    (out / "results.md").write_text(md, encoding="utf-8")
    date = datetime.datetime.fromtimestamp(args.started, datetime.timezone.utc).date().isoformat()
    title = f"Soak, five APIs at once, {args.duration} ({date})"
    (out / "soak.svg").write_text(svg(samples, p99, warmup, title), encoding="utf-8")
    print(md, end="")
    if missing and not args.stopped:
        print(f"soak: no report from {', '.join(missing)}: it did not start (see OUT/API.log)", file=sys.stderr)
        return 3
    return 0 if all(ok for _, ok, _ in verdicts) else 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "seconds" and len(argv) == 3:
        seconds = parse_duration(argv[2])
        if seconds is None or seconds <= 0:
            print(f"soak: {argv[2]!r} is not a duration (try 30s, 10m or 1h)", file=sys.stderr)
            return 2
        print(f"{seconds:g}")
        return 0
    if len(argv) >= 2 and argv[1] == "report":
        return report(argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
