#!/usr/bin/python3
"""Runs the benchmark sweep and writes one CSV per benchmark into bench-results/.

    /usr/bin/python3 scripts/bench_sweep.py [--build build] [--quick] [--only latency,...]

Runs the C++ benchmarks (build/bench/*_bench --json; latency and codec once per packer,
msgpack then JSON, each row naming its packer), then the same latency and throughput
sweeps with jupyter_client's Python Session over pyzmq, in this process, on the same
machine, and appends those rows (impl "jupyter_client") to latency.csv and throughput.csv.
Every figure compares only rows of one run. Then: /usr/bin/python3 scripts/plot_bench.py.

Needs Debian's python3-zmq and python3-jupyter-client (scripts/deps.sh installs them).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time

COLUMNS = ["bench", "transport", "mode", "impl", "packer", "bytes", "msgs_per_s", "gb_per_s",
           "median_us", "p99_us", "baseline_ratio", "messages", "pinned"]
BENCHES = ["latency", "throughput", "codec", "crossover"]
TRANSPORTS = ["inproc", "ipc", "tcp"]
# Benches run a second time with --packer json (the path stock Jupyter peers speak); the
# others move buffers, where the packer of the ~100-byte content does not matter.
PER_PACKER = ("latency", "codec")


def run_cpp(build, bench, quick, extra):
    """Runs build/bench/<bench>_bench --json; returns its records, progress to stderr."""
    cmd = [os.path.join(build, "bench", bench + "_bench"), "--json"] + (["--quick"] if quick else [])
    cmd += extra
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# -- jupyter_client Session, the peer a Python user would pick ---------------------------------

def free_endpoint(transport, tag):
    """An endpoint both processes can name before either binds."""
    if transport == "inproc":
        return "inproc://zsession-py-" + tag
    if transport == "ipc":
        return "ipc:///tmp/zsession-py-%d-%s" % (os.getpid(), tag)
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "tcp://127.0.0.1:%d" % probe.getsockname()[1]


def make_session():
    from jupyter_client.session import Session
    # Default packer (JSON), as Jupyter runs; the same key and scheme as the C++ benchmarks.
    return Session(key=b"zsession-benchmark-key", signature_scheme="hmac-sha256",
                   username="bench")


REQUEST = {"code": "result = engine.apply(task_id=1234, args=[1, 2, 3])", "silent": False,
           "store_history": True, "allow_stdin": False, "user_expressions": {}}
REPLY = {"status": "ok", "execution_count": 1, "user_expressions": {}}


def open_socket(ctx, ep, bind, hwm):
    import zmq
    s = ctx.socket(zmq.PAIR)
    s.linger = 0
    s.sndhwm = s.rcvhwm = hwm
    (s.bind if bind else s.connect)(ep)
    return s


def peer_main(role, ep, n, hwm, cpu, result, ctx=None):
    """The far end, in a thread (inproc: shares `ctx`) or a spawned process (own context,
    so Python's GIL is not shared with the measuring end, as separate programs would run).
    role "echo": answers n requests; role "drain": receives one warm-up message, answers
    "ready", receives until a message without buffers, then reports [count, end time] into
    `result` (perf_counter is CLOCK_MONOTONIC: comparable across processes)."""
    import zmq
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    own = ctx is None
    ctx = ctx or zmq.Context()
    sock = open_socket(ctx, ep, True, hwm)
    s = make_session()
    if role == "echo":
        for _ in range(n):
            _, req = s.recv(sock, mode=0, copy=False)
            s.send(sock, "execute_reply", content=REPLY, parent=req)
    else:
        s.recv(sock, mode=0, copy=False)  # the sender's warm-up message
        sock.send(b"ready")
        count = 0
        while s.recv(sock, mode=0, copy=False)[1]["buffers"]:
            count += 1
        result[:] = [count, time.perf_counter()]
    sock.close()
    if own:
        ctx.term()


def start_peer(transport, ep, role, n, hwm, cpu, ctx):
    """Starts peer_main; returns (join(), result list)."""
    import multiprocessing
    if transport == "inproc":
        result = []
        t = threading.Thread(target=peer_main, args=(role, ep, n, hwm, cpu, result, ctx))
        t.start()
        time.sleep(0.05)  # inproc: bind before connect
        return t.join, result
    mp = multiprocessing.get_context("spawn")
    result = mp.Manager().list()
    proc = mp.Process(target=peer_main, args=(role, ep, n, hwm, cpu, result))
    proc.start()
    return proc.join, result


def py_latency(transport, quick, buffer_bytes, cpu):
    """Ping-pong of a small signed request (and a reply), median and p99 in microseconds."""
    import zmq
    ctx = zmq.Context()
    ep = free_endpoint(transport, "lat-%d" % buffer_bytes)
    n, warm = (100, 20) if quick else (5000, 500)
    join, _ = start_peer(transport, ep, "echo", n + warm, 1000, cpu, ctx)
    client = open_socket(ctx, ep, False, 1000)
    s = make_session()
    bufs = [bytes(buffer_bytes)] if buffer_bytes else None
    samples = []
    for i in range(n + warm):
        t0 = time.perf_counter()
        s.send(client, "execute_request", content=REQUEST, buffers=bufs)
        s.recv(client, mode=0, copy=False)
        if i >= warm:
            samples.append((time.perf_counter() - t0) * 1e6)
    join()
    client.close()
    ctx.term()
    samples.sort()
    med, p99 = samples[len(samples) // 2], samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return {"bench": "latency", "transport": transport,
            "mode": "request+buffer" if buffer_bytes else "request", "impl": "jupyter_client",
            "packer": "json",
            "bytes": buffer_bytes, "msgs_per_s": 1e6 / med, "median_us": med, "p99_us": p99,
            "messages": n}


def py_throughput(transport, size, quick):
    """One-way stream of messages with one buffer of `size`; the fastest of the runs."""
    import zmq
    hwm = max(2, min(1000, (64 << 20) // size))
    payload = memoryview(bytearray(size))
    budget, duration, min_n, max_n = ((4 << 20), 0.005, 2, 500) if quick else \
        ((1 << 30), 0.4, 4, 200_000)
    max_n = max(min_n, min(max_n, budget // size))
    s = make_session()
    best = 0.0
    for run in range(1 if quick else 2):
        ctx = zmq.Context()
        ep = free_endpoint(transport, "tp-%d-%d" % (size, run))
        join, result = start_peer(transport, ep, "drain", 0, hwm, None, ctx)
        sender = open_socket(ctx, ep, False, hwm)
        s.send(sender, "warm", content={}, buffers=[b"x"])  # connected and ready: then time
        sender.recv()
        t0 = time.perf_counter()
        sent = 0
        while sent < max_n and (sent < min_n or time.perf_counter() - t0 < duration):
            s.send(sender, "data", content=REQUEST, buffers=[payload])
            sent += 1
        s.send(sender, "end", content={})
        join()
        count, end = result[0], result[1]
        best = max(best, count / (end - t0))
        sender.close()
        ctx.term()
    return {"bench": "throughput", "transport": transport, "mode": "threshold",
            "impl": "jupyter_client", "packer": "json", "bytes": size, "msgs_per_s": best,
            "gb_per_s": best * size / 1e9, "messages": max_n}


def py_sweep(benches, quick, pin, cpu, transports, max_bytes):
    rows = {b: [] for b in benches}
    if "latency" in benches:
        if pin:
            os.sched_setaffinity(0, {cpu})  # before any context: pyzmq's I/O thread inherits
        for t in transports:
            for buffer_bytes in (0, 4096):
                print("jupyter_client latency: %s %d" % (t, buffer_bytes), file=sys.stderr)
                r = py_latency(t, quick, buffer_bytes, cpu if pin else None)
                r["pinned"] = pin
                rows["latency"].append(r)
        if pin:
            os.sched_setaffinity(0, range(os.cpu_count()))
    if "throughput" in benches:
        top = max_bytes or ((64 << 10) if quick else (256 << 20))
        for t in transports:
            size = 64
            while size <= top:
                print("jupyter_client throughput: %s %d" % (t, size), file=sys.stderr, flush=True)
                r = py_throughput(t, size, quick)
                r["pinned"] = False
                rows["throughput"].append(r)
                size *= 4 if quick else 2
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default="build", help="meson build directory (default: build)")
    ap.add_argument("--out", default="bench-results", help="CSV directory")
    ap.add_argument("--quick", action="store_true", help="smoke-sized sweep (seconds)")
    ap.add_argument("--only", default=",".join(BENCHES), help="subset of " + ",".join(BENCHES))
    ap.add_argument("--no-python", action="store_true", help="skip the jupyter_client sweep")
    ap.add_argument("--msgpack-only", action="store_true",
                    help="run latency and codec with the msgpack packer only")
    ap.add_argument("--cpu", type=int, default=0, help="CPU the latency runs are pinned to")
    ap.add_argument("--transports", default=",".join(TRANSPORTS))
    ap.add_argument("--max-bytes", type=int, default=0, help="largest throughput size")
    a = ap.parse_args()
    benches = [b for b in a.only.split(",") if b]
    transports = a.transports.split(",")
    os.makedirs(a.out, exist_ok=True)
    common = ["--transports", a.transports, "--cpu", str(a.cpu)]
    started = time.time()
    rows = {}
    for b in benches:
        extra = common + (["--max-bytes", str(a.max_bytes)] if a.max_bytes and b != "crossover" else [])
        rows[b] = run_cpp(a.build, b, a.quick, extra)
        if b in PER_PACKER and not a.msgpack_only:
            rows[b] += run_cpp(a.build, b, a.quick, extra + ["--packer", "json"])
    if not a.no_python:
        for b, extra_rows in py_sweep([b for b in benches if b in ("latency", "throughput")],
                                      a.quick, True, a.cpu, transports, a.max_bytes).items():
            rows[b] += extra_rows
    for b, r in rows.items():
        path = os.path.join(a.out, b + ".csv")
        write_csv(path, r)
        print("wrote %s (%d rows)" % (path, len(r)), file=sys.stderr)
    print("sweep took %.0f s" % (time.time() - started), file=sys.stderr)


if __name__ == "__main__":
    main()
