#!/usr/bin/python3
"""Draws the benchmark plots and the ratio tables from bench-results/*.csv.

    /usr/bin/python3 scripts/plot_bench.py [--results bench-results] [--out docs/img]

Writes docs/img/{throughput,throughput_ratio,crossover,latency,codec}.png and prints the
markdown tables (ratios to raw cppzmq, the three targets) that docs/PERFORMANCE.md quotes;
also saves them as <results>/summary.md. Needs Debian's python3-matplotlib.
"""
import argparse
import csv
import math
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TRANSPORTS = ["inproc", "ipc", "tcp"]
MB = 1 << 20


def load(results, bench):
    path = os.path.join(results, bench + ".csv")
    if not os.path.exists(path):
        return []
    rows = []
    for r in csv.DictReader(open(path)):
        for k in ("bytes", "msgs_per_s", "gb_per_s", "median_us", "p99_us", "baseline_ratio"):
            r[k] = float(r[k]) if r.get(k) not in (None, "") else None
        r["bytes"] = int(r["bytes"])
        # The JSON packer's run of a bench is its own series (its raw rows are that run's
        # baseline, so ratios stay within one run).
        if r.get("packer") == "json" and r["impl"] in ("session", "raw"):
            r["impl"] += "_json"
        rows.append(r)
    return rows


def series(rows, **match):
    pts = sorted((r["bytes"], r) for r in rows if all(r[k] == v for k, v in match.items()))
    return [p[1] for p in pts]


def finish(fig, title, path, dpi=110):
    """Titles, lays out, saves and closes `fig`."""
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def size_axis(ax):
    ax.set_xscale("log", base=2)
    ticks = [64, 1 << 10, 16 << 10, 256 << 10, 4 * MB, 64 * MB, 256 * MB]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["64B", "1K", "16K", "256K", "4M", "64M", "256M"])
    ax.set_xlabel("buffer size (bytes)")
    ax.grid(True, which="major", alpha=0.3)


def threshold_of(crossover):
    """The session threshold the crossover bench picked, per transport."""
    return {r["transport"]: r["bytes"] for r in crossover
            if r["mode"] == "crossover" and r["impl"] == "session"}


STYLES = {  # (mode, impl) -> label, style
    ("copy", "session"): ("session, always copy", dict(color="tab:blue", marker="o", ms=3)),
    ("zero_copy", "session"): ("session, always zero-copy", dict(color="tab:orange", marker="s", ms=3)),
    ("threshold", "session"): ("session, threshold", dict(color="tab:green", lw=2.2)),
    ("copy", "raw"): ("raw cppzmq, copy", dict(color="tab:blue", ls="--", alpha=0.7)),
    ("zero_copy", "raw"): ("raw cppzmq, zero-copy", dict(color="tab:orange", ls="--", alpha=0.7)),
    ("threshold", "jupyter_client"): ("jupyter_client Session", dict(color="tab:red", ls=":", lw=2)),
}


def plot_throughput(rows, threshold, out):
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), sharey=True)
    for ax, t in zip(axes, TRANSPORTS):
        for (mode, impl), (label, style) in STYLES.items():
            s = series(rows, transport=t, mode=mode, impl=impl)
            if s:
                ax.plot([r["bytes"] for r in s], [r["gb_per_s"] for r in s], label=label, **style)
        ax.axvline(threshold, color="gray", ls="-.", lw=1,
                   label="copy_threshold (%s)" % human(threshold))
        ax.set_yscale("log")
        size_axis(ax)
        ax.set_title(t)
    axes[0].set_ylabel("GB/s (buffer bytes)")
    axes[0].legend(fontsize=8, loc="upper left")
    finish(fig, "One-way throughput, one buffer per signed message (best of interleaved runs)",
           os.path.join(out, "throughput.png"))


def plot_ratio(rows, out):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), sharey=True)
    for ax, t in zip(axes, TRANSPORTS):
        for mode in ("copy", "zero_copy", "threshold"):
            s = series(rows, transport=t, mode=mode, impl="session")
            label, style = STYLES[(mode, "session")]
            ax.plot([r["bytes"] for r in s], [r["baseline_ratio"] for r in s], label=label, **style)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(0.9, color="gray", ls=":", lw=1)
        ax.axvspan(MB, 512 * MB, color="tab:green", alpha=0.06)
        size_axis(ax)
        ax.set_title(t)
    axes[0].set_ylabel("session msgs/s / raw cppzmq msgs/s")
    axes[0].legend(fontsize=8)
    finish(fig, "Session throughput as a fraction of raw cppzmq sending the same frames "
                 "(target: >= 0.9 from 1 MiB, shaded)",
           os.path.join(out, "throughput_ratio.png"))


def plot_crossover(rows, out):
    fig, axes = plt.subplots(2, 3, figsize=(16, 8), sharex=True)
    picks = {(r["transport"], r["impl"]): r["bytes"] for r in rows if r["mode"] == "crossover"}
    for col, t in enumerate(TRANSPORTS):
        top, bottom = axes[0][col], axes[1][col]
        for impl, ls in (("session", "-"), ("raw", "--")):
            curves = {}
            for mode, color in (("copy", "tab:blue"), ("zero_copy", "tab:orange")):
                s = series(rows, transport=t, mode=mode, impl=impl)
                curves[mode] = s
                top.plot([r["bytes"] for r in s], [r["msgs_per_s"] / 1e3 for r in s], ls=ls,
                         color=color, marker="o", ms=3, label="%s %s" % (impl, mode))
            ratio = [z["msgs_per_s"] / c["msgs_per_s"]
                     for z, c in zip(curves["zero_copy"], curves["copy"])]
            bottom.plot([r["bytes"] for r in curves["copy"]], ratio, ls=ls, marker="o", ms=3,
                        color="black" if impl == "session" else "gray", label=impl)
            pick = picks.get((t, impl))
            if pick:
                for ax in (top, bottom):
                    ax.axvline(pick, color="black" if impl == "session" else "gray", ls=ls, lw=1)
        bottom.axhline(1.0, color="tab:red", lw=0.8)
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ax.grid(True, alpha=0.3)
        top.set_title("%s: session crossover %s, raw %s" % (
            t, human(picks.get((t, "session"))), human(picks.get((t, "raw")))))
        bottom.set_xlabel("buffer size (bytes), fresh buffer per message")
    axes[0][0].set_ylabel("thousand messages/s")
    axes[1][0].set_ylabel("zero-copy / copy (msgs/s)")
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=8)
    finish(fig, "Copy vs zero-copy: where zero-copy becomes cheaper (vertical lines: "
                 "pick_crossover; above 1 = zero-copy faster)",
           os.path.join(out, "crossover.png"), 100)


def plot_latency(rows, out):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    impls = [("raw", "tab:gray"), ("session", "tab:green"), ("session_json", "tab:olive"),
             ("jupyter_client", "tab:red")]
    for ax, mode in zip(axes, ("request", "request+buffer")):
        for i, (impl, color) in enumerate(impls):
            xs, med, p99 = [], [], []
            for j, t in enumerate(TRANSPORTS):
                s = series(rows, transport=t, mode=mode, impl=impl)
                if s:
                    xs.append(j + (i - 1.5) * 0.2)
                    med.append(s[0]["median_us"])
                    p99.append(s[0]["p99_us"])
            if not xs:
                continue
            bars = ax.bar(xs, med, width=0.19, color=color, label=impl + " (median)")
            ax.scatter(xs, p99, color=color, marker="_", s=300, label=impl + " p99")
            for b, m in zip(bars, med):
                ax.text(b.get_x() + b.get_width() / 2, m, "%.1f" % m, ha="center",
                        va="bottom", fontsize=7)
        ax.set_xticks(range(len(TRANSPORTS)))
        ax.set_xticklabels(TRANSPORTS)
        ax.set_yscale("log")
        ax.set_title(mode + (" (4 KiB buffer)" if "buffer" in mode else " (~100 B content)"))
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("round trip (us), pinned to one CPU")
    axes[0].legend(fontsize=7, ncol=2)
    finish(fig, "Ping-pong of a small signed request and its reply",
           os.path.join(out, "latency.png"))


def plot_codec(rows, out):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for mode, impl, color, ls in (("encode", "session", "tab:blue", "-"),
                                  ("decode", "session", "tab:orange", "-"),
                                  ("encode", "session_json", "tab:blue", ":"),
                                  ("decode", "session_json", "tab:orange", ":"),
                                  ("encode", "raw", "tab:gray", "--")):
        s = series(rows, mode=mode, impl=impl)
        ax.plot([r["bytes"] for r in s], [r["median_us"] for r in s], color=color, ls=ls,
                marker="o", ms=3, label="%s %s (median)" % (impl, mode))
    size_axis(ax)
    ax.set_ylabel("us per message")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    finish(fig, "Codec without sockets: one signed message with one buffer",
           os.path.join(out, "codec.png"))


def human(n):
    if n is None:
        return "?"
    for unit, size in (("MiB", MB), ("KiB", 1 << 10)):
        if n >= size:
            return ("%.0f %s" if n % size == 0 else "%.1f %s") % (n / size, unit)
    return "%d B" % n


def tables(lat, tp, cross, threshold):
    out = []
    out.append("### Latency (round trip, pinned, median / p99 in us)\n")
    out.append("| transport | message | raw cppzmq | session (msgpack) | session/raw "
               "| session (JSON) | JSON session/raw | jupyter_client | jupyter_client/session |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for t in TRANSPORTS:
        for mode in ("request", "request+buffer"):
            g = {r["impl"]: r for r in lat if r["transport"] == t and r["mode"] == mode}
            if "session" not in g:
                continue
            raw, ses, jc = g.get("raw"), g["session"], g.get("jupyter_client")
            js = g.get("session_json")
            out.append("| %s | %s | %.1f / %.1f | %.1f / %.1f | **%.2fx** | %s | %s | %s | %s |" % (
                t, mode, raw["median_us"], raw["p99_us"], ses["median_us"], ses["p99_us"],
                ses["baseline_ratio"],
                "%.1f / %.1f" % (js["median_us"], js["p99_us"]) if js else "-",
                "**%.2fx**" % js["baseline_ratio"] if js else "-",
                "%.0f / %.0f" % (jc["median_us"], jc["p99_us"]) if jc else "-",
                # jupyter_client speaks JSON: compared with the JSON session when it ran
                "**%.0fx**" % (jc["median_us"] / (js or ses)["median_us"]) if jc else "-"))
    out.append("\n### Throughput: session / raw cppzmq (msgs/s ratio, same frames, same run)\n")
    sizes = sorted({r["bytes"] for r in tp if r["impl"] == "session"})
    shown = [s for s in sizes if s in (64, 1 << 10, 16 << 10, 64 << 10, MB, 16 * MB, 256 * MB)]
    out.append("| transport | mode | " + " | ".join(human(s) for s in shown) + " |")
    out.append("|---|---|" + "---|" * len(shown))
    idx = {(r["transport"], r["mode"], r["impl"], r["bytes"]): r for r in tp}
    for t in TRANSPORTS:
        for mode in ("copy", "zero_copy", "threshold"):
            cells = []
            for s in shown:
                r = idx.get((t, mode, "session", s))
                cells.append("%.2f" % r["baseline_ratio"] if r and r["baseline_ratio"] else "-")
            out.append("| %s | %s | %s |" % (t, mode, " | ".join(cells)))
    out.append("\n### The three targets\n")
    # 1. small request over tcp
    g = {r["impl"]: r for r in lat if r["transport"] == "tcp" and r["mode"] == "request"}
    if "session" in g:
        ratio = g["session"]["baseline_ratio"]
        jc = g.get("jupyter_client")
        speed = jc["median_us"] / g["session"]["median_us"] if jc else float("nan")
        out.append("1. small signed request over tcp: session/raw = **%.2fx** (target <= 1.25x: "
                   "%s); jupyter_client/session = **%.1fx** (target >= 10x: %s)" % (
                       ratio, "met" if ratio <= 1.25 else "MISSED",
                       speed, "met" if speed >= 10 else "MISSED"))
    # issue 13: the small round trip, both packers, inproc and tcp
    limits = {"inproc": 1.5, "tcp": 1.15}
    for impl, name in (("session", "msgpack"), ("session_json", "JSON")):
        cells = []
        for t, limit in limits.items():
            r = next((r for r in lat if r["transport"] == t and r["mode"] == "request"
                      and r["impl"] == impl), None)
            if r and r["baseline_ratio"]:
                cells.append("%s **%.2fx** (target <= %.2fx: %s)" % (
                    t, r["baseline_ratio"], limit,
                    "met" if r["baseline_ratio"] <= limit else "MISSED"))
        if cells:
            out.append("1b. small round trip, %s: %s" % (name, "; ".join(cells)))
    # 2. >= 1 MiB at least 0.9x of raw zero-copy, worst size per transport
    for t in TRANSPORTS:
        worst = None
        for r in tp:
            if (r["transport"] == t and r["impl"] == "session" and r["mode"] == "threshold"
                    and r["bytes"] >= MB):
                q = r["msgs_per_s"] / idx[(t, "zero_copy", "raw", r["bytes"])]["msgs_per_s"]
                if worst is None or q < worst[0]:
                    worst = (q, r["bytes"])
        if worst:
            out.append("2. %s, buffers >= 1 MiB, session (threshold mode) / raw zero-copy: worst "
                       "**%.2fx** at %s (target >= 0.9x: %s)" % (
                           t, worst[0], human(worst[1]), "met" if worst[0] >= 0.9 else "MISSED"))
    # 3. threshold within 10% of the better mode
    worst = None
    for (t, mode, impl, b), r in idx.items():
        if mode != "threshold" or impl != "session":
            continue
        best = max(idx[(t, "copy", "session", b)]["msgs_per_s"],
                   idx[(t, "zero_copy", "session", b)]["msgs_per_s"])
        q = r["msgs_per_s"] / best
        if worst is None or q < worst[0]:
            worst = (q, t, b)
    if worst:
        out.append("3. threshold mode / better of copy and zero-copy: worst **%.2fx** (%s, %s) "
                   "(target >= 0.90x: %s); threshold %s" % (
                       worst[0], worst[1], human(worst[2]),
                       "met" if worst[0] >= 0.9 else "MISSED", human(threshold)))
    picks = {(r["transport"], r["impl"]): r["bytes"] for r in cross if r["mode"] == "crossover"}
    if picks:
        out.append("\n### Measured crossover (pick_crossover over crossover_bench)\n")
        out.append("| transport | session | raw cppzmq |")
        out.append("|---|---|---|")
        for t in TRANSPORTS:
            out.append("| %s | %s | %s |" % (t, human(picks.get((t, "session"))),
                                            human(picks.get((t, "raw")))))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--results", default="bench-results")
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--threshold", type=int, default=16 * 1024,
                    help="the session's copy_threshold in the sweep (default_copy_threshold)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lat, tp = load(a.results, "latency"), load(a.results, "throughput")
    codec, cross = load(a.results, "codec"), load(a.results, "crossover")
    if tp:
        plot_throughput(tp, a.threshold, a.out)
        plot_ratio(tp, a.out)
    if cross:
        plot_crossover(cross, a.out)
    if lat:
        plot_latency(lat, a.out)
    if codec:
        plot_codec(codec, a.out)
    text = tables(lat, tp, cross, a.threshold)
    with open(os.path.join(a.results, "summary.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
