"""jupyter_client <-> zsession interop, both ways (the Python side of interop_peer.cpp).

    interop_test.py PEER_EXECUTABLE json|msgpack

A jupyter_client.session.Session with the same key and packer as the C++ peer sends it a
request (checked there, then echoed back), a wrongly keyed, a tampered and a replayed message
(each must be rejected there with the right error); then receives the peer's own message,
checks every part, and must reject the peer's wrongly keyed, tampered and replayed ones.
"""
import datetime
import math
import subprocess
import sys
import unittest

import msgpack
import zmq
from jupyter_client.session import Session

KEY = b"interop-secret-key"
TIMEOUT_MS = 20000


def msgpack_packer(obj):
    # The header's date is a tz-aware datetime: written as a msgpack timestamp extension,
    # which zsession reads back as its ISO 8601 string.
    return msgpack.packb(obj, datetime=True)


def msgpack_unpacker(data):
    return msgpack.unpackb(data, raw=False)


def make_session(packer, key=KEY):
    if packer == "json":
        return Session(key=key, packer="json", username="python")
    # Session takes import names for its packer and unpacker; this script runs as __main__.
    return Session(
        key=key,
        packer="__main__.msgpack_packer",
        unpacker="__main__.msgpack_unpacker",
        username="python",
    )


def pattern(n):
    return bytes(i % 251 for i in range(n))


class Interop(unittest.TestCase):
    peer = None
    packer = None

    def setUp(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PAIR)
        self.sock.linger = 0
        self.sock.rcvtimeo = TIMEOUT_MS
        self.sock.sndtimeo = TIMEOUT_MS
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.proc = subprocess.Popen(
            [self.peer, f"tcp://127.0.0.1:{port}", KEY.decode(), self.packer]
        )
        self.session = make_session(self.packer)

    def tearDown(self):
        try:
            self.assertEqual(self.proc.wait(timeout=30), 0, "the C++ peer reported a failure")
        finally:
            self.sock.close()
            self.ctx.term()

    def recv(self, session=None):
        frames = self.sock.recv_multipart()
        idents, rest = (session or self.session).feed_identities(frames)
        return (session or self.session).deserialize(rest)

    def recv_rejected(self, reason):
        frames = self.sock.recv_multipart()
        _, rest = self.session.feed_identities(frames)
        with self.assertRaisesRegex(ValueError, reason):
            self.session.deserialize(rest)

    def request_content(self):
        content = {
            "text": "h\u00e9llo \u2603 \U0001F600",
            "number": -42,
            "real": 0.25,
            "flag": True,
            "words": ["a", "b"],
            "nested": {"deep": [1, [2, {"x": None}]], "big": 2**64 - 1},
        }
        if self.packer == "msgpack":
            content["blob"] = b"\x00\xffraw"  # msgpack BIN survives the echo as bytes
        return content

    def test_both_ways(self):
        hello = self.recv()
        self.assertEqual(hello["header"]["msg_type"], "hello")
        self.assertEqual(hello["header"]["username"], "cpp")
        self.assertIsInstance(hello["header"]["date"], datetime.datetime)

        # Python -> C++: a full request, which the peer checks and echoes.
        parent = self.session.msg("python_parent")["header"]
        content = self.request_content()
        metadata = {"origin": "python", "tags": [1, 2.5, None]}
        buffers = [b"small-buffer", pattern(100_000)]
        sent = self.session.send(
            self.sock, "interop_request", content=content, parent=parent,
            metadata=metadata, buffers=buffers,
        )
        echo = self.recv()
        self.assertEqual(echo["header"]["msg_type"], "interop_echo")
        self.assertEqual(echo["parent_header"], sent["header"])
        self.assertEqual(echo["metadata"], metadata)
        self.assertEqual(echo["content"], content)
        self.assertEqual([bytes(b) for b in echo["buffers"]], buffers)

        # Python -> C++: messages the peer must reject.
        make_session(self.packer, key=b"wrong-key").send(self.sock, "interop_wrong_key")
        self.assertEqual(self.recv()["content"], {"case": "wrong_key", "error": "signature"})
        frames = self.session.serialize(self.session.msg("interop_tampered", content={"x": 1}))
        frames[-1] = self.session.pack({"x": 2})
        self.sock.send_multipart(frames)
        self.assertEqual(self.recv()["content"], {"case": "tampered", "error": "signature"})
        self.sock.send_multipart(self.session.serialize(sent) + buffers)
        # serialize(sent) re-signs the same bytes: the same signature, a replay.
        self.assertEqual(self.recv()["content"], {"case": "replayed", "error": "replay"})

        # C++ -> Python: the peer's own message.
        mine = self.recv()
        self.assertEqual(mine["header"]["msg_type"], "interop_from_cpp")
        self.assertEqual(mine["header"]["version"], "5.3")
        self.assertEqual(mine["header"]["username"], "cpp")
        self.assertEqual(mine["header"]["session"], hello["header"]["session"])
        self.assertIsInstance(mine["header"]["date"], datetime.datetime)
        self.assertEqual(mine["parent_header"], sent["header"])
        self.assertEqual(mine["metadata"], {"origin": "c++"})
        c = dict(mine["content"])
        not_finite = c.pop("not_finite")
        self.assertEqual(c, {
            "text": "C++ says h\u00e9llo \u2603", "number": -7, "real": 1.5, "flag": False,
            "words": ["x", "y"],
        })
        if self.packer == "json":
            self.assertEqual(not_finite, "nan")  # what jupyter_client's json_clean writes
        else:
            self.assertTrue(math.isnan(not_finite))
        self.assertEqual([bytes(b) for b in mine["buffers"]], [b"tiny", pattern(200_000)])

        # C++ -> Python: messages jupyter_client must reject.
        self.recv_rejected("Invalid Signature")  # wrong key
        self.recv_rejected("Invalid Signature")  # tampered content
        self.recv_rejected("Duplicate Signature")  # replayed verbatim

        self.session.send(self.sock, "done")


if __name__ == "__main__":
    Interop.peer, Interop.packer = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
