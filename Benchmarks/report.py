"""The report: summaries over repeats, the markdown table, the CSV, the
bar chart (SVG) of the standard benchmark."""

import csv
import html
import statistics

MEASURES = [
    # key, header, unit, digits
    ("idle_ctx", "idle wake-ups", "ctx switches / window", 0),
    ("idle_ticks", "idle CPU", "ticks / window", 0),
    ("ctx_per_signal", "wake-ups / signal", "ctx switches / SIGUSR1", 2),
    ("ctx_per_exit", "wake-ups / child exit", "ctx switches / reaped exit", 2),
    ("rss_kb", "VmRSS", "kB", 0),
    ("anon_kb", "RssAnon", "kB", 0),
    ("bin_bytes", "binary", "bytes", 0),
    ("storm_ms", "orphan storm reaped", "ms", 1),
    ("storm_peak", "storm peak zombies", "count", 0),
    ("sig_p50_us", "signal latency p50", "us", 1),
    ("sig_p99_us", "signal latency p99", "us", 1),
    ("shutdown_ms", "shutdown", "ms", 2),
    ("startup_ms", "start-up", "ms", 2),
]


EXTRA = [("all_up_ms", "all N children up", "ms", 2),
         ("shutdown2_ms", "shutdown with probe child", "ms", 2),
         ("sup_procs", "supervisor processes", "count", 0),
         ("exit_reap_lag_ms", "last exit-test zombie gone after the "
          "workload finished (20 ms steps)", "ms", 0)]



def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)



def summarize(values):
    nums = [v for v in values if isinstance(v, (int, float))]
    strs = [v for v in values if isinstance(v, str)]
    if not nums:
        return {"text": strs[0] if strs else "n/a", "median": None}
    return {"median": statistics.median(nums), "min": min(nums),
            "max": max(nums), "n": len(nums),
            "errors": len(strs), "error": strs[0] if strs else ""}


def fmt_num(v, digits):
    if v is None:
        return ""
    if digits == 0:
        return "{:,}".format(int(round(v)))
    return "{:,.{d}f}".format(v, d=digits)


def fmt_cell(s, digits):
    if s.get("median") is None:
        return s["text"]
    out = fmt_num(s["median"], digits)
    if s["n"] > 1:
        out += " [%s–%s]" % (fmt_num(s["min"], digits), fmt_num(s["max"], digits))
    if s.get("errors"):
        out += " (%d failed: %s)" % (s["errors"], s["error"])
    return out


def row_label(row, multi_n):
    label = row["supervisor"]
    if row["mode"] == "subreaper":
        label += " (subreaper)"
    if multi_n:
        label += ", N=%d" % row["n"]
    return label



def table(rows, measures):
    """The one loop over a results table: for each row, its label and the
    (key, unit, digits, summary) of each measure it has. Markdown and CSV
    are two renderings of it."""
    for row in rows:
        yield row, [(key, unit, digits, row["summary"][key])
                    for key, _, unit, digits in measures
                    if key in row["summary"]]


def markdown_table(head, body):
    """Lines of a markdown table; '|' inside a cell becomes '/'."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cells in body:
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return lines


def write_markdown(path, rows, meta, multi_n):
    lines = ["# dinit benchmark results", ""]
    lines.append("Machine: %s. Load average before: %s, after: %s." % (
        meta["machine"], meta["load_before"], meta["load_after"]))
    lines.append("")
    lines.append("Command: `%s`" % meta["command"])
    lines.append("")
    lines.append("N=%s children, K=%d events, M=%d orphans, window %g s, %d "
                 "repeat(s); cells are the median [min–max] over repeats."
                 % (",".join(map(str, meta["n"])), meta["k"], meta["m"],
                    meta["window"], meta["repeats"]))
    lines.append("")
    head = ["supervisor"] + ["%s (%s)" % (h, u) for _, h, u, _ in MEASURES]
    lines += markdown_table(head, (
        [row_label(row, multi_n)] + [fmt_cell(s, digits) for _, _, digits, s in cells]
        for row, cells in table(rows, MEASURES)))
    lines.append("")
    for mode, ms in sorted(meta["baseline"].items()):
        if ms is not None:
            lines.append("- Start-up floor (%s): %.2f ms for the first child "
                         "exec'd directly with no supervisor%s." % (
                             mode, ms, " under `unshare`" if mode == "pid1" else ""))
    for row in rows:
        notes = row.get("notes")
        if notes:
            lines.append("- %s: %s" % (row_label(row, multi_n), "; ".join(notes)))
    if meta.get("skipped"):
        for s in meta["skipped"]:
            lines.append("- %s" % s)
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


CSV_HEAD = ["supervisor", "mode", "n", "measure", "unit", "median", "min",
            "max", "repeats", "text", "samples"]


def write_csv(path, rows, multi_n=False, measures=None):
    """Long format: one line per row and measure."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEAD)
        for row, cells in table(rows, measures or MEASURES + EXTRA):
            for key, unit, _, s in cells:
                head = [row["supervisor"], row["mode"], row["n"], key, unit]
                if s.get("median") is None:
                    w.writerow(head + ["", "", "", 0, s["text"], ""])
                else:
                    w.writerow(head + [s["median"], s["min"], s["max"], s["n"],
                                       s.get("error", ""),
                                       " ".join(str(v) for v in row["raw"][key])])


def write_svg(path, rows, multi_n, meta):
    panels = [("idle_ctx", "Idle wake-ups (ctx switches / %g s)" % meta["window"]),
              ("rss_kb", "VmRSS (kB)"),
              ("sig_p50_us", "Signal forwarding latency p50 (µs)"),
              ("shutdown_ms", "Shutdown latency (ms)")]
    label_w, bar_w, row_h, pad = 190, 330, 18, 12
    panel_w = label_w + bar_w + 90
    cols = 2
    panel_h = 30 + row_h * len(rows) + pad
    width = cols * panel_w + pad
    height = 40 + ((len(panels) + cols - 1) // cols) * (panel_h + pad)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (
               pad, html.escape("dinit and peers: N=%s children, medians over %d "
                                "repeat(s)" % (",".join(map(str, meta["n"])),
                                               meta["repeats"])))]
    for i, (key, title) in enumerate(panels):
        x0 = pad + (i % cols) * panel_w
        y0 = 40 + (i // cols) * (panel_h + pad)
        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (
            x0, y0 + 14, html.escape(title)))
        vals = [r["summary"][key].get("median") for r in rows]
        vmax = max([v for v in vals if v is not None] or [1]) or 1
        for j, row in enumerate(rows):
            y = y0 + 24 + j * row_h
            lab = row_label(row, multi_n)
            color = "#d62728" if row["supervisor"].startswith("dinit") else "#4878a8"
            out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (
                x0 + label_w - 6, y + 12, html.escape(lab)))
            v = vals[j]
            if v is None:
                out.append('<text x="%d" y="%d" fill="#888">%s</text>' % (
                    x0 + label_w, y + 12,
                    html.escape(row["summary"][key]["text"][:60])))
                continue
            w = max(1.0, bar_w * v / vmax)
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                       % (x0 + label_w, y + 2, w, row_h - 4, color))
            digits = dict((k, d) for k, _, _, d in MEASURES)[key]
            out.append('<text x="%.1f" y="%d">%s</text>' % (
                x0 + label_w + w + 4, y + 12, html.escape(fmt_num(v, digits))))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")



# ------------------------------------------------------- the scaling report

SCALE_COLORS = {"dinit": "#d62728", "s6": "#2ca02c", "runit": "#1f77b4",
                "supervisord": "#9467bd"}


def scaling_ratios(rows, name, key, small=1000):
    """{n: value(n) / value(small)} for `name`'s rows with n > small."""
    med = {r["n"]: r["summary"][key].get("median") for r in rows
           if r["supervisor"] == name}
    if not med.get(small):
        return {}
    return {n: v / med[small] for n, v in sorted(med.items())
            if n > small and v is not None}


def write_scaling_markdown(path, rows, meta, measures):
    lines = ["# dinit scaling benchmark", ""]
    lines.append("Machine: %s. Load average before: %s, after: %s." % (
        meta["machine"], meta["load_before"], meta["load_after"]))
    lines.append("")
    lines.append("Command: `%s`" % meta["command"])
    lines.append("")
    lines.append("Each supervisor as PID 1 of a fresh PID namespace with N daemons "
                 "that exit at once on TERM; idle window %g s; %d repeat(s); cells "
                 "are the median [min–max] over repeats." % (meta["window"], meta["repeats"]))
    lines.append("")
    ordered = sorted(rows, key=lambda r: (r["supervisor"] != "dinit", r["supervisor"], r["n"]))
    head = ["supervisor", "N"] + ["%s (%s)" % (h, u) for _, h, u, _ in measures]
    lines += markdown_table(head, (
        [row["supervisor"], "{:,}".format(row["n"])] +
        [fmt_cell(s, digits) for _, _, digits, s in cells]
        for row, cells in table(ordered, measures)))
    lines.append("")
    for key, what in (("rss_growth_kb_per_1000", "RSS"), ("pss_growth_kb_per_1000", "PSS")):
        parts = []
        for name, (upto1000, overall) in meta.get(key, {}).items():
            if upto1000 is None:
                continue
            text = "%s %s kB" % (name, fmt_num(upto1000, 0))
            if overall is not None and abs(overall - upto1000) > 0.5:
                text += " (%s kB over all its sizes)" % fmt_num(overall, 0)
            parts.append(text)
        if parts:
            lines.append("- %s growth per 1,000 daemons (least-squares slope over "
                         "N <= 1,000): %s." % (what, "; ".join(parts)))
    for key, what in (("startup_ms", "start-up"), ("stop_ms", "stop")):
        ratios = scaling_ratios(rows, "dinit", key)
        if ratios:
            lines.append("- dinit %s against N=1,000: %s." % (what, ", ".join(
                "N=%s: %.1fx (N ratio %gx)" % ("{:,}".format(n), v, n / 1000)
                for n, v in ratios.items())))
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_scaling_svg(path, rows, meta):
    """Two log-log panels, start-up and stop time per daemon against N, one
    line per supervisor."""
    import math
    panels = [("startup_per_child_ms", "Start-up per daemon (ms)"),
              ("stop_per_child_ms", "Stop per daemon (ms)")]
    pw, ph, ml, mt, mb, pad = 420, 300, 60, 30, 40, 20
    width = pad + len(panels) * (ml + pw + pad) + 110
    height = 40 + mt + ph + mb
    names = []
    for r in rows:
        if r["supervisor"] not in names:
            names.append(r["supervisor"])
    ns = sorted({r["n"] for r in rows})
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (
               pad, html.escape("Time per daemon against N daemons (log-log), "
                                "PID 1 of a fresh PID namespace"))]

    def decades(lo, hi):
        return [10 ** e for e in range(int(math.floor(math.log10(lo))),
                                       int(math.ceil(math.log10(hi))) + 1)]

    for i, (key, title) in enumerate(panels):
        x0 = pad + i * (ml + pw + pad) + ml
        y0 = 40 + mt
        vals = [r["summary"][key].get("median") for r in rows]
        vals = [v for v in vals if v]
        if not vals or not ns:
            continue
        xt = decades(ns[0], ns[-1]) if ns[-1] > ns[0] else [ns[0], ns[0] * 10]
        yt = decades(min(vals), max(vals))
        if len(yt) < 2:
            yt = [yt[0], yt[0] * 10]
        lx0, lx1 = math.log10(xt[0]), math.log10(xt[-1])
        ly0, ly1 = math.log10(yt[0]), math.log10(yt[-1])

        def px(n):
            return x0 + pw * (math.log10(n) - lx0) / (lx1 - lx0)

        def py(v):
            return y0 + ph - ph * (math.log10(v) - ly0) / (ly1 - ly0)
        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (x0, y0 - 10, html.escape(title)))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (x0, y0, pw, ph))
        for t in xt:
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (px(t), y0, px(t), y0 + ph))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (px(t), y0 + ph + 14, "{:,}".format(t)))
        for t in yt:
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0, py(t), x0 + pw, py(t)))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (x0 - 4, py(t) + 4, "%g" % t))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">N (daemons)</text>' % (x0 + pw / 2, y0 + ph + 30))
        for name in names:
            pts = [(r["n"], r["summary"][key].get("median")) for r in rows if r["supervisor"] == name]
            pts = sorted(p for p in pts if p[1])
            color = SCALE_COLORS.get(name, "#555")
            if len(pts) > 1:
                out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                    color, " ".join("%.1f,%.1f" % (px(n), py(v)) for n, v in pts)))
            for n, v in pts:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s N=%d: %s ms</title></circle>' % (
                    px(n), py(v), color, html.escape(name), n, fmt_num(v, 4)))
    lx = pad + len(panels) * (ml + pw + pad)
    for j, name in enumerate(names):
        y = 40 + mt + 10 + j * 18
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (lx, y - 4, SCALE_COLORS.get(name, "#555")))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 20, y + 1, html.escape(name)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
