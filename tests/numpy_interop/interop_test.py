"""numpy <-> C++ through placeholders, using only docs/PROTOCOL.md's rules.

usage: interop_test.py HELPER SOURCE_ROOT

1. The C++ helper sends reference arrays as placeholders; numpy rebuilds them
   (python/zsession_placeholders.py) and compares with the same arrays built here.
2. Python sends numpy arrays as placeholders (one lz4-compressed, one big-endian); the helper
   compares them with its references and replies ok.
3. The golden vector tests/vectors/arrays.frames is verified by jupyter_client and rebuilt.
Messages are signed and checked by jupyter_client.session.Session with msgpack packers.
"""

import os
import struct
import subprocess
import sys

import numpy as np
import zmq
from jupyter_client.session import Session

HELPER, ROOT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(ROOT, "python"))
import zsession_placeholders as zp  # noqa: E402

KEY = b"numpy-interop-key"


def references():
    """The same arrays as references() in interop_helper.cpp."""
    sparse = np.zeros(100_000)
    sparse[777] = 7.0
    return {
        "f8_c": np.arange(12, dtype="<f8").reshape(3, 4),
        "i4_f": np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)),
        "u1": np.arange(256, dtype=np.uint8),
        "b1": np.array([True, False, True, True]),
        "c16": np.array([1 + 2j, 3 - 4j], dtype="<c16"),
        "f4_3d": np.arange(24, dtype="<f4").reshape(2, 3, 4),
        "i2": np.arange(-3, 4, dtype="<i2"),
        "i8_empty": np.zeros((0, 3), dtype="<i8"),
        "f8_lz4": sparse,
    }


def session():
    return Session(key=KEY, packer="msgpack.packb", unpacker="msgpack.unpackb")


def recv(sess, sock):
    if not sock.poll(30_000):
        raise SystemExit("timed out waiting for the helper")
    _, msg = sess.recv(sock, mode=0, content=True, copy=False)
    return msg


def check_cpp_arrays(msg):
    got = zp.resolve(msg["content"], msg["buffers"])["arrays"]
    for name, want in references().items():
        a = got[name]
        assert a.dtype == want.dtype and a.shape == want.shape, (name, a.dtype, a.shape)
        assert np.array_equal(a, want), name
    assert got["i4_f"].flags.f_contiguous and not got["i4_f"].flags.c_contiguous
    assert np.array_equal(got["vector_u2"], np.array([1, 2, 65535], dtype="<u2"))
    assert got["text"] == "héllo ✓"
    assert bytes(got["raw"]) == b"\x00\x01\x02"
    # Zero-copy on the Python side too: the array's memory is the received frame.
    assert not got["f8_c"].flags.owndata
    ph = msg["content"]["arrays"]["f8_lz4"]
    assert ph["compression"] == ["lz4"] and ph["sizes"] == [800_000]
    print(f"python: rebuilt {len(got)} values sent by C++")


def numpy_message():
    buffers = []
    arrays = {}
    for name, a in references().items():
        arrays[name] = zp.offload(a, buffers, compression="lz4" if name == "f8_lz4" else "none")
    arrays["f8_big_endian"] = zp.offload(np.arange(5, dtype=">f8"), buffers)
    return {"arrays": arrays}, buffers


def check_golden():
    data = open(os.path.join(ROOT, "tests", "vectors", "arrays.frames"), "rb").read()
    frames, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<Q", data, at)
        frames.append(data[at + 8:at + 8 + n])
        at += 8 + n
    sess = Session(key=b"golden-key-0123456789", packer="msgpack.packb",
                   unpacker="msgpack.unpackb")
    idents, rest = sess.feed_identities(frames, copy=True)
    msg = sess.deserialize(rest, content=True, copy=True)  # checks the HMAC
    assert msg["header"]["msg_id"] == "00000000-0000-4000-8000-000000000001"
    c = zp.resolve(msg["content"], msg["buffers"])
    assert np.array_equal(c["matrix"], np.arange(0.5, 6, 1.0).reshape(2, 3))
    assert np.array_equal(c["fortran"], np.array([[1, 3], [2, 4]], dtype="<i4"))
    assert c["text"] == "zsession ✓" and bytes(c["raw"]) == b"\x00\x01\x02\xff"
    assert c["flags"].tolist() == [True, False, True]
    assert bytes(c["packed"]) == b"z" * 1000 and c["small"] == [1, 2, 3]
    print("python: golden vector arrays.frames verified and rebuilt")


def check_errors():
    buffers = []
    ph = zp.offload(np.arange(4.0), buffers)
    bad = [dict(ph, first=1), dict(ph, sizes=[31]), dict(ph, handler="nope"),
           dict(ph, header=dict(ph["header"], shape=[5])), dict(ph, header=dict(ph["header"], dtype="<U8"))]
    for b in bad:
        try:
            zp.Resolver(buffers).resolve(b)
        except zp.PlaceholderError:
            continue
        raise AssertionError(f"accepted {b}")
    r = zp.Resolver(buffers)
    r.resolve(ph)
    try:
        r.resolve(ph)
        raise AssertionError("claimed twice")
    except zp.PlaceholderError:
        pass


def main():
    check_golden()
    check_errors()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    helper = subprocess.Popen([HELPER, f"tcp://127.0.0.1:{port}", KEY.decode()])
    try:
        sess = session()
        check_cpp_arrays(recv(sess, sock))
        content, buffers = numpy_message()
        sess.send(sock, "numpy_arrays", content, buffers=buffers)
        reply = recv(sess, sock)["content"]
        assert reply["ok"], reply["failures"]
        print("python: C++ read every numpy array")
        assert helper.wait(timeout=30) == 0
    finally:
        if helper.poll() is None:
            helper.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
