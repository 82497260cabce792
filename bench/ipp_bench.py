"""ipyparallel through its real controller: a C++ engine (zcalc-ipengine, zsession) against
Debian's Python ipengine on the same controller in one run, and numpy arrays through a comm to
the C++ engine.

    /usr/bin/python3 bench/ipp_bench.py build/examples/zcalc-ipengine [--quick] [--csv FILE]

1. Executes per second through the controller's mux (direct view), per engine:
   sequential (one request in flight) and pipelined (32 in flight). The code is `x = 1`,
   valid in both languages, so the figure is the engine's message handling plus the
   controller, not the language. Sent through the client's mux ZMQStream (as
   ipp_cluster.direct_execute): DirectView.execute sends on the raw socket, which leaves
   replies unread until the next IO event and made pipelining slower than sequential.
   raw-pipelined: the same requests from a bare jupyter_client Session on a DEALER to the
   mux, 32 in flight, no ipyparallel.Client (whose own per-request cost caps "pipelined").
2. Arrays: float64 arrays of 1 KiB .. 256 MiB sent as a raw buffer in a comm_msg to the C++
   engine through the controller (mux in, iopub out). `sum` sends the array and gets 8 bytes
   back; `echo` gets the array back (sent from the received frame, no copy in the engine).
   GB/s = array bytes / time (echo: bytes one way, so a round trip moves twice that).
The controller runs with --nodb (with its default in-memory DB it keeps every buffer).
"""
import argparse
import csv
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                                "ipengine"))
from ipp_cluster import Cluster, direct_execute  # noqa: E402

import ipyparallel as ipp  # noqa: E402


def sequential(c, eid, n):
    t0 = time.perf_counter()
    for _ in range(n):
        direct_execute(c, eid, "x = 1").get(timeout=60)
    return n / (time.perf_counter() - t0)


def pipelined(c, eid, n, window=32):
    t0 = time.perf_counter()
    flight = []
    for _ in range(n):
        if len(flight) >= window:
            flight.pop(0).get(timeout=60)
        flight.append(direct_execute(c, eid, "x = 1"))
    for ar in flight:
        ar.get(timeout=60)
    return n / (time.perf_counter() - t0)


def raw_pipelined(cl, c, eid, n, window=32):
    """execute_request/reply straight on a DEALER to the controller's mux (jupyter_client
    Session, no ipyparallel.Client): the engine plus the controller, without the Python
    client's own per-request cost."""
    cc = cl.comm_client()
    try:
        uuid = c._engines[eid].encode()
        sent = received = 0
        t0 = time.perf_counter()
        while received < n:
            while sent < n and sent - received < window:
                msg = cc.session.msg("execute_request", {"code": "x = 1", "silent": True})
                cc.session.send(cc.mux, msg, ident=uuid)
                sent += 1
            if not cc.mux.poll(60000):
                raise TimeoutError("no execute_reply")
            idents, m = cc.session.feed_identities(cc.mux.recv_multipart())
            if cc.session.deserialize(m)["header"]["msg_type"] == "execute_reply":
                received += 1
        return n / (time.perf_counter() - t0)
    finally:
        cc.close()


def arrays(cl, c, eid, sizes, budget_bytes):
    cc = cl.comm_client()
    rows = []
    try:
        uuid = c._engines[eid]
        comm_id, _ = cc.open(uuid, "zcalc.arrays")
        cc.call(uuid, comm_id, {"op": "sum", "dtype": "<f8", "shape": [1]},
                [memoryview(np.ones(1))])  # warm up
        for size in sizes:
            x = np.random.default_rng(size).random(size // 8)
            reps = max(2, min(200, budget_bytes // size))
            for op in ("sum", "echo"):
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    _, d, bufs = cc.call(uuid, comm_id, {"op": op, "dtype": "<f8",
                                                         "shape": [x.size]}, [memoryview(x)],
                                         timeout=120)
                    times.append(time.perf_counter() - t0)
                    if op == "echo" and len(bufs[0]) != x.nbytes:
                        raise RuntimeError("echo returned %d bytes" % len(bufs[0]))
                    del bufs
                t = statistics.median(times)
                rows.append({"bench": "comm_" + op, "bytes": size, "reps": reps,
                             "median_ms": round(t * 1e3, 3),
                             "GB_per_s": round(size / t / 1e9, 3)})
                print("  %-5s %10s  median %9.3f ms  %7.3f GB/s  (%d reps)" %
                      (op, human(size), t * 1e3, size / t / 1e9, reps), flush=True)
    finally:
        cc.close()
    return rows


def human(n):
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("--quick", action="store_true", help="a few seconds: the smoke test")
    ap.add_argument("--csv")
    ap.add_argument("--only", choices=["executes", "arrays"])
    args = ap.parse_args()
    n_seq, n_pipe = (50, 200) if args.quick else (500, 2000)
    sizes = [1 << k for k in range(10, 29, 2)]  # 1 KiB .. 256 MiB
    if args.quick:
        sizes = [1 << 10, 1 << 20]
    rows = []
    with Cluster(os.path.abspath(args.engine)) as cl:
        c = None
        try:
            cl.start_controller()
            cl.start_cpp_engine("cpp")
            cl.start_py_engine("py")
            cpp = cl.cpp_engine_id("cpp")
            c = cl.client()
            c.wait_for_engines(2, timeout=60)
            py = next(e for e in c.ids if e != cpp)
            for eid in (cpp, py):  # warm up
                sequential(c, eid, 20)
            print("executes/s through ipcontroller %s (x = 1, direct):" % ipp.__version__)
            modes = (("sequential", sequential, n_seq), ("pipelined", pipelined, n_pipe),
                     ("raw-pipelined", lambda c, e, n: raw_pipelined(cl, c, e, n), n_pipe))
            for mode, f, n in modes if args.only != "arrays" else ():
                for name, eid in (("C++ zcalc-ipengine", cpp), ("Python ipengine", py)):
                    rate = f(c, eid, n)
                    rows.append({"bench": "execute_" + mode, "engine": name, "n": n,
                                 "per_s": round(rate, 1)})
                    print("  %-13s %-20s %8.0f /s  (%d executes)" % (mode, name, rate, n),
                          flush=True)
            if args.only != "executes":
                print("float64 arrays through a comm to the C++ engine (via the controller):")
                rows += arrays(cl, c, cpp, sizes, (64 << 20) if args.quick else (256 << 20))
        finally:
            if c is not None:
                c.close()
    if args.csv:
        keys = sorted({k for r in rows for k in r})
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
