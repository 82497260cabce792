#!/usr/bin/python3
"""The Python side of bench/types_bench.cpp, on the same machine: numpy arrays and pandas
DataFrames sent over pyzmq tcp (127.0.0.1) by pickle (in-band), pickle protocol 5 with
out-of-band buffers (zero-copy), numpy.save, and zsession's placeholders
(python/zsession_tables.py). One message = serialize + send + receive + deserialize.

    /usr/bin/python3 scripts/types_bench_py.py [--quick] [--max-bytes N] > bench-results/types_py.jsonl

Output: JSON lines with the fields of types_bench ("path" names the Python method).
"""
import argparse
import io
import json
import os
import pickle
import statistics
import sys
import time

import numpy as np
import pandas as pd
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import zsession_placeholders as zp  # noqa: E402
import zsession_tables as zt  # noqa: E402


def measure(once, nbytes):
    times, start = [], time.perf_counter()
    while len(times) < 200:
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
        if len(times) >= (1 if nbytes > 256 << 20 else 3) and time.perf_counter() - start > 0.3:
            break
    return statistics.median(times), len(times)


def emit(kind, path, nbytes, seconds, runs):
    print(json.dumps({"bench": "types_py", "kind": kind, "path": path, "codec": "none",
                      "data": "noise", "bytes": nbytes, "wire_bytes": 0, "seconds": seconds,
                      "gb_per_s": nbytes / seconds / 1e9, "runs": runs}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--max-bytes", type=int, default=256 << 20)
    args = ap.parse_args()
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.linger = b.linger = 0
    port = a.bind_to_random_port("tcp://127.0.0.1")
    b.connect(f"tcp://127.0.0.1:{port}")
    sizes = [1024, 64 << 10] if args.quick else []
    s = 1024
    while not args.quick and s <= args.max_bytes:
        sizes.append(s)
        s *= 4
    rng = np.random.default_rng(42)
    for nbytes in sizes:
        arr = rng.random(nbytes // 8)

        def pickle_inband():
            a.send(pickle.dumps(arr, protocol=4), copy=False)
            pickle.loads(b.recv(copy=False).buffer)

        def pickle_oob():
            bufs = []
            head = pickle.dumps(arr, protocol=5, buffer_callback=bufs.append)
            a.send_multipart([head] + [x.raw() for x in bufs], copy=False)
            frames = b.recv_multipart(copy=False)
            pickle.loads(frames[0].buffer, buffers=[f.buffer for f in frames[1:]])

        def numpy_save():
            f = io.BytesIO()
            np.save(f, arr)
            a.send(f.getbuffer(), copy=False)
            np.load(io.BytesIO(b.recv(copy=False).buffer))

        def placeholder():
            bufs = []
            ph = zp.offload(arr, bufs)
            a.send_multipart([json.dumps(ph).encode()] + bufs, copy=False)
            frames = b.recv_multipart(copy=False)
            zp.resolve(json.loads(bytes(frames[0].buffer)), [f.buffer for f in frames[1:]])

        for name, fn in [("pickle", pickle_inband), ("pickle5_oob", pickle_oob),
                         ("numpy_save", numpy_save), ("zsession_placeholder", placeholder)]:
            t, runs = measure(fn, nbytes)
            emit("array", name, nbytes, t, runs)

        rows = max(nbytes // 28, 1)
        df = pd.DataFrame({"x": rng.random(rows), "i": np.arange(rows, dtype=np.int64),
                           "s": [f"s{r % 10_000_000}".ljust(8, "_") for r in range(rows)]})

        def df_pickle():
            a.send(pickle.dumps(df, protocol=5), copy=False)
            pickle.loads(b.recv(copy=False).buffer)

        def df_placeholder():
            bufs = []
            ph = zt.offload_table(df, bufs)
            a.send_multipart([json.dumps(ph).encode()] + bufs, copy=False)
            frames = b.recv_multipart(copy=False)
            zp.resolve(json.loads(bytes(frames[0].buffer)), [f.buffer for f in frames[1:]],
                       decoders=zt.DECODERS)

        for name, fn in [("pickle", df_pickle), ("zsession_table", df_placeholder)]:
            t, runs = measure(fn, nbytes)
            emit("table", name, nbytes, t, runs)
        print(f"types_bench_py: {nbytes} bytes done", file=sys.stderr)
    a.close()
    b.close()
    ctx.term()


if __name__ == "__main__":
    main()
