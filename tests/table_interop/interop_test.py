"""pandas/numpy <-> C++ tables and DLPack tensors through placeholders.

usage: interop_test.py HELPER SOURCE_ROOT

1. The C++ helper sends a table of every column kind and a tensor; pandas rebuilds the
   DataFrame (python/zsession_tables.py), numeric columns as views of the frames.
2. Python sends a DataFrame (float, nullable Int64, strings with a missing value,
   datetime64[ns], bool) and a tensor read through numpy's __dlpack__; the helper checks them.
3. Hostile tables are refused by the Python reader; the golden vector tables.frames decodes.
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import zmq
from jupyter_client.session import Session

HELPER, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(ROOT, "python"))
import zsession_placeholders as zp  # noqa: E402
import zsession_tables as zt  # noqa: E402

KEY = b"table-interop-key"


def cpp_reference():
    """The table interop_helper.cpp's cpp_table() builds."""
    return pd.DataFrame({
        "x": np.array([0.5, 1.5, 2.5, 3.5, 4.5]),
        "n": pd.array([10, None, 30, 40, 50], dtype="Int64"),
        "flag": np.array([True, False, True, False, True]),
        "when": np.array([0, 10**9, 86_400 * 10**9, -(10**9), 1_700_000_000 * 10**9],
                         dtype="datetime64[ns]"),
        "name": np.array(["alpha", "", "héllo", None, "✓"], dtype=object),
    })


def python_reference():
    """The DataFrame interop_helper.cpp's check_python() expects."""
    n = 1000
    strings = np.array([f"row {i}" for i in range(n)], dtype=object)
    strings[1], strings[2] = "été", None
    return pd.DataFrame({
        "a": np.arange(n) * 0.25,
        "b": pd.array([None if i == 3 else -i for i in range(n)], dtype="Int64"),
        "s": strings,
        "t": np.arange(n).astype("datetime64[s]").astype("datetime64[ns]"),
        "ok": np.arange(n) % 2 == 1,
    })


def recv(sess, sock):
    if not sock.poll(30_000):
        raise SystemExit("timed out waiting for the helper")
    _, msg = sess.recv(sock, mode=0, content=True, copy=False)
    return msg


def check_cpp_table(msg):
    got = zp.resolve(msg["content"], msg["buffers"], decoders=zt.DECODERS)
    df = got["df"]
    pd.testing.assert_frame_equal(df, cpp_reference())
    # Zero-copy: the float column's memory is the received frame.
    frame = np.frombuffer(msg["buffers"][0], np.uint8)
    assert np.shares_memory(df["x"].to_numpy(), frame), "x was copied"
    tensor = got["tensor"]
    assert tensor.dtype == np.float32 and tensor.shape == (2, 3)
    assert np.array_equal(tensor, np.arange(6, dtype=np.float32).reshape(2, 3))
    # numpy's own DLPack import of a writable copy (numpy 1.24 refuses to export the
    # read-only frame view: DLPack cannot say read-only).
    assert np.array_equal(np.from_dlpack(tensor.copy()), tensor)
    print("python: DataFrame and tensor sent by C++ rebuilt; x is a view of its frame")


def python_message():
    df = python_reference()
    buffers = []
    content = {"df": zt.offload_table(df, buffers)}
    # Zero-copy on send: the float column's buffer is the DataFrame's own memory.
    assert np.shares_memory(np.asarray(buffers[0]), df["a"].to_numpy()), "a was copied"
    source = np.arange(12, dtype=np.float64).reshape(3, 4)
    content["tensor"] = zt.offload_tensor(source, buffers)
    assert np.shares_memory(np.asarray(buffers[-1]), source), "tensor was copied"
    return content, buffers


def check_python_round_trip():
    """The Python writer and reader agree, and the reader refuses hostile tables."""
    df = python_reference()
    buffers = []
    ph = zt.offload_table(df, buffers)
    back = zp.resolve({"df": ph}, buffers, decoders=zt.DECODERS)["df"]
    pd.testing.assert_frame_equal(back, df)
    offs = np.array([0, 1, 9], dtype="<i4")
    bad_tables = [
        ({"rows": 2, "columns": [{"name": "s", "dtype": "utf8", "validity": False}]}, [offs, b"abc"]),
        ({"rows": 2, "columns": [{"name": "s", "dtype": "utf8", "validity": False}]},
         [np.array([0, 2, 1], "<i4"), b"abc"]),
        ({"rows": 1, "columns": [{"name": "s", "dtype": "utf8", "validity": False}]},
         [np.array([0, 2], "<i4"), b"\xc3\x28"]),
        ({"rows": 9, "columns": [{"name": "x", "dtype": "|u1", "validity": True}]}, [b"a" * 9, b"\xff"]),
        ({"rows": 2, "columns": [{"name": "x", "dtype": "<U8", "validity": False}]}, [b"a" * 16]),
        ({"rows": 2, "columns": [{"name": "x", "dtype": "<M8[10s]", "validity": False}]}, [b"a" * 16]),
        ({"rows": 3, "columns": [{"name": "x", "dtype": "<f8", "validity": False}]}, [b"a" * 16]),
    ]
    for header, bufs in bad_tables:
        try:
            zt.decode_table(header, bufs)
        except zp.PlaceholderError:
            continue
        raise AssertionError(f"accepted {header}")
    print("python: DataFrame round trip and hostile tables refused")


def check_golden():
    path = os.path.join(ROOT, "tests", "vectors", "tables.frames")
    with open(path, "rb") as f:
        data = f.read()
    frames, at = [], 0
    while at < len(data):
        n = int.from_bytes(data[at:at + 8], "little")
        frames.append(data[at + 8:at + 8 + n])
        at += 8 + n
    sess = Session(key=b"golden-key-0123456789", packer="msgpack.packb", unpacker="msgpack.unpackb")
    rest = frames[frames.index(b"<IDS|MSG>") + 1:]
    msg = sess.deserialize(rest, content=True, copy=True)
    got = zp.resolve(msg["content"], msg["buffers"], decoders=zt.DECODERS)
    df = got["table"]
    assert list(df.columns) == ["price", "qty", "ok", "when", "name"], list(df.columns)
    assert df["price"].tolist() == [1.25, 2.5, 3.75]
    assert df["qty"].isna().tolist() == [False, True, False] and int(df["qty"][2]) == 3
    assert df["name"].tolist() == ["a", None, "ü"]
    assert str(df["when"].dtype) == "datetime64[ns]"
    assert np.array_equal(got["tensor"], np.array([[1, 2], [3, 4]], dtype="<i4"))
    print("python: golden vector tables.frames verified and rebuilt")


def main():
    check_python_round_trip()
    check_golden()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    helper = subprocess.Popen([HELPER, f"tcp://127.0.0.1:{port}", KEY.decode()])
    try:
        sess = Session(key=KEY, packer="msgpack.packb", unpacker="msgpack.unpackb")
        check_cpp_table(recv(sess, sock))
        content, buffers = python_message()
        sess.send(sock, "pandas_table", content, buffers=buffers)
        reply = recv(sess, sock)["content"]
        assert reply["ok"], reply["failures"]
        print("python: C++ read the DataFrame and the DLPack tensor")
        assert helper.wait(timeout=30) == 0
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
