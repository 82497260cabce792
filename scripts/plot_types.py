#!/usr/bin/python3
"""Plots bench/types_bench.cpp's sweep (and the Python figures beside it) and prints the
ratio table of docs/TYPES.md.

    build/bench/types_bench > bench-results/types.jsonl
    /usr/bin/python3 scripts/types_bench_py.py > bench-results/types_py.jsonl
    /usr/bin/python3 scripts/plot_types.py [--results bench-results] [--out docs/img]

Writes <out>/types.png (GB/s against size: arrays, tables, tensors; one line per path) and
<out>/types_codecs.png (arrays, each codec on noise and smooth doubles), and prints markdown:
the dedicated handler's speed-up over the inline msgpack and JSON paths at each size.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.startswith("{")]


def human(n):
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if n < 1024:
            return f"{n:g} {unit}"
        n /= 1024
    return f"{n:g} TiB"


def series(rows, **match):
    pts = sorted((r["bytes"], r["gb_per_s"]) for r in rows
                 if all(r.get(k) == v for k, v in match.items()))
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_kinds(cpp, py, out):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), sharey=True)
    for ax, kind in zip(axes, ["array", "table", "tensor"]):
        for path, style in [("handler", "-o"), ("handler_build", "-.o"), ("msgpack", "--s"), ("json", ":^")]:
            x, y = series(cpp, kind=kind, path=path, codec="none", data="noise")
            if x:
                ax.plot(x, y, style, label=f"C++ {path}")
        for path in sorted({r["path"] for r in py if r["kind"] == kind}):
            x, y = series(py, kind=kind, path=path)
            ax.plot(x, y, "-x", alpha=0.6, label=f"Python {path}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{kind}s: encode + tcp + decode")
        ax.set_xlabel("payload bytes")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("GB/s (payload bytes / time per message)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "types.png"), dpi=110)


def plot_codecs(cpp, out):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, data in zip(axes, ["noise", "smooth"]):
        for codec in ["none", "lz4", "zstd", "blosc"]:
            x, y = series(cpp, kind="array", path="handler", codec=codec, data=data)
            if x:
                ax.plot(x, y, "-o", label=codec)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"<f8 arrays, {data} data, tcp loopback")
        ax.set_xlabel("payload bytes")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("GB/s")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "types_codecs.png"), dpi=110)


def ratio_table(cpp):
    print("| kind | size | handler GB/s | vs msgpack | vs JSON |")
    print("|---|---|---|---|---|")
    for kind in ["array", "table"]:
        h = dict(zip(*series(cpp, kind=kind, path="handler", codec="none", data="noise")))
        m = dict(zip(*series(cpp, kind=kind, path="msgpack", codec="none", data="noise")))
        j = dict(zip(*series(cpp, kind=kind, path="json", codec="none", data="noise")))
        for size in sorted(h):
            rm = f"{h[size] / m[size]:.1f}x" if size in m else "-"
            rj = f"{h[size] / j[size]:.1f}x" if size in j else "-"
            print(f"| {kind} | {human(size)} | {h[size]:.3g} | {rm} | {rj} |")
    print()
    print("| size | codec | noise GB/s | smooth GB/s | smooth wire ratio |")
    print("|---|---|---|---|---|")
    for r in sorted({r["bytes"] for r in cpp if r["kind"] == "array"}):
        for codec in ["none", "lz4", "zstd", "blosc"]:
            row = {d: next((x for x in cpp if x["kind"] == "array" and x["path"] == "handler"
                            and x["codec"] == codec and x["data"] == d and x["bytes"] == r), None)
                   for d in ["noise", "smooth"]}
            if not row["noise"] or not row["smooth"]:
                continue
            wire = row["smooth"]["wire_bytes"] / r
            print(f"| {human(r)} | {codec} | {row['noise']['gb_per_s']:.3g} | "
                  f"{row['smooth']['gb_per_s']:.3g} | {wire:.3f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="bench-results")
    ap.add_argument("--out", default="docs/img")
    args = ap.parse_args()
    cpp = load(os.path.join(args.results, "types.jsonl"))
    py = load(os.path.join(args.results, "types_py.jsonl"))
    plot_kinds(cpp, py, args.out)
    plot_codecs(cpp, args.out)
    ratio_table(cpp)


if __name__ == "__main__":
    main()
